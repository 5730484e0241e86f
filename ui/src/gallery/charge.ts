// The charge nurse's screens for the gallery: the desk on each section (with an open real episode, a drill, overdue
// steps, incident roles and decisions, no CUPS, unsigned entries before the handoff), the banner naming the incident
// roles, the review of an ended downtime, and the banner's overdue notice, each with its own seeded MemoryBackend.
import { mount, tick } from 'svelte';
import type { GalleryEntry } from './types';
import { MemoryBackend } from '../lib/backend/memory';
import type { ChargeSeed } from '../lib/backend/memory/charge';
import type { SessionInfo } from '../lib/backend';
import { DEMO_SHARE, type UnitSeed } from '../lib/backend/memory/unit';
import ChargeDesk from '../lib/screens/charge/ChargeDesk.svelte';
import OverdueNotice from '../lib/screens/charge/OverdueNotice.svelte';
import Banner from '../lib/Banner.svelte';
import UnitShareNotice from '../lib/UnitShareNotice.svelte';

const session: SessionInfo = { username: 'demo.charge', displayName: 'Demo Charge Nurse', role: 'charge', mustChangePassword: false };

const episode = {
  drill: false,
  severity: 'P2' as const,
  affected: ['EHR', 'lab results', 'pharmacy'],
  impact: 'Results by phone only; pharmacy verifies orders on paper.',
  reason: 'Planned upgrade overran',
  nextUpdateMinutes: 30,
  beganMinutesAgo: null,
  minutesAgo: 40,
};

/** The same episode run like an incident: a commander named at declaration, two decisions since. */
const incident: ChargeSeed = {
  episode,
  roles: { commander: 'Dana Ruiz' },
  decisions: [
    { minutesAgo: 32, text: 'Switched to the paper MAR for the whole unit' },
    { minutesAgo: 12, text: 'Pharmacy verifying new orders by phone until the interface is back' },
  ],
};

function backend(charge: ChargeSeed, role: 'charge' | 'nurse' = 'charge') {
  return new MemoryBackend({
    unit: '5 East',
    users: { 'demo.charge': { displayName: 'Demo Charge Nurse', password: 'demo-password', role } },
    signedIn: 'demo.charge',
    charge,
  });
}

const SHARE = DEMO_SHARE;

function unitBackend(unitShare: UnitSeed) {
  const b = new MemoryBackend({
    unit: '5 East',
    users: { 'demo.charge': { displayName: 'Demo Charge Nurse', password: 'demo-password', role: 'charge' } },
    signedIn: 'demo.charge',
    demo: true,
    charge: { episode },
    unitShare,
  });
  return b;
}

/** Waits until `selector` shows in `target` (the screens load their data after mounting). */
export async function until(target: HTMLElement, selector: string) {
  for (let i = 0; i < 100; i++) {
    await tick();
    if (target.querySelector(selector)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gallery: ${selector} never appeared`);
}

/** Mounts the desk and opens one section by its button. */
function desk(name: string, title: string, charge: ChargeSeed, section: string, ready: string): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      mount(ChargeDesk, { target, props: { backend: backend(charge), session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((b) => b.textContent?.trim() === section);
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, ready);
    },
  };
}

export const entries: GalleryEntry[] = [
  desk('charge-declare', 'Charge nurse: declare a downtime', {}, 'Episode', 'input[name="severity"]'),
  desk('charge-episode', 'Charge nurse: open episode, change severity, end', { episode }, 'Episode', '[data-testid="episode-current"]'),
  desk('charge-checklist', 'Charge nurse: checklist with overdue steps', { episode }, 'Checklist', '[data-testid="step-confirm-scope"]'),
  desk(
    'charge-checklist-ehr-only',
    'Charge nurse: checklist of an EHR-only outage (the lab step is not for it)',
    { episode: { ...episode, affected: ['EHR'] } },
    'Checklist',
    '[data-testid="step-lab-phone-all-results"]',
  ),
  desk(
    'charge-targets',
    'Charge nurse: response targets, declared late',
    { episode: { ...episode, beganMinutesAgo: 45 } },
    'Episode',
    '[data-testid="response-targets"]',
  ),
  desk('charge-updates', 'Charge nurse: status updates and timeline', incident, 'Status updates', '[data-testid="timeline"] li'),
  desk('charge-roles', 'Charge nurse: incident commander and clinical liaison', incident, 'Incident roles', '[data-testid="role-commander"]'),
  desk('charge-decisions', 'Charge nurse: the decision log', incident, 'Decisions', '[data-testid="decision-list"]'),
  desk(
    'charge-escalation',
    'Charge nurse: escalation ladder, a level unanswered and the next one OVERDUE',
    { episode: { ...episode, minutesAgo: 40 }, calls: [{ minutesAgo: 38, contact: 'help-desk' }] },
    'Escalation',
    '[data-testid="escalation-now"]',
  ),
  desk('charge-escalation-none', 'Charge nurse: no escalation file configured', { episode, escalation: null }, 'Escalation', '[data-testid="escalation-none"]'),
  desk('charge-print', 'Charge nurse: print centre (drill)', { episode: { ...episode, drill: true } }, 'Print centre', '#print-folder'),
  desk('charge-print-no-cups', 'Charge nurse: print centre without CUPS', { cups: false }, 'Print centre', '[data-testid="no-printer"]'),
  desk('charge-emergency', 'Charge nurse: emergency user', {}, 'Emergency user', '#em-username'),
  desk(
    'charge-handoff',
    'Charge nurse: handoff with unsigned entries listed',
    {
      episode,
      unsigned: [
        { id: 'e1', author: 'demo.nurse', formTitle: 'Nursing note', createdAt: '2026-11-21T08:10:00Z', ageMinutes: 185 },
        { id: 'e2', author: 'demo.charge', formTitle: 'Vital signs', createdAt: '2026-11-21T11:02:00Z', ageMinutes: 3 },
      ],
    },
    'Handoff',
    '[data-testid="unsigned-list"]',
  ),
  {
    name: 'charge-banner-roles',
    title: 'Banner: incident commander and clinical liaison (any role)',
    async mount(target) {
      const b = backend({ ...incident, roles: { commander: 'Dana Ruiz', liaison: 'Sam Okafor' } }, 'nurse');
      const status = await b.downtimeStatus();
      const nurse: SessionInfo = { username: 'demo.charge', displayName: 'Demo Nurse', role: 'nurse', mustChangePassword: false };
      mount(Banner, { target, props: { unit: '5 East', session: nurse, status, backend: b } });
      await until(target, '[data-testid="banner-roles"]');
    },
  },
  {
    name: 'charge-unit-overview',
    title: 'Charge nurse: the unit overview, doses from two workstations, unsigned elsewhere',
    async mount(target) {
      const b = unitBackend({
        share: SHARE,
        peerEntries: [
          { mrn: 'DEV2003', form: 'medication-administration', at: '2026-12-07T10:30:00Z', author: 'demo.nurse', medication: 'metoprolol tartrate 25 mg oral tablet', workstation: '4a0bcb32' },
          { mrn: 'DEV2003', form: 'vital-signs', at: '2026-12-07T10:35:00Z', author: 'demo.nurse', workstation: '4a0bcb32' },
          { mrn: 'DEV2004', form: 'medication-administration', at: '2026-12-07T09:05:00Z', author: 'j.nurse', medication: 'paracetamol 500 mg oral tablet', workstation: '9c1d2e3f' },
        ],
        unsignedElsewhere: [{ label: '9c1d2e3f', author: 'j.nurse', entries: 2 }],
      });
      mount(ChargeDesk, { target, props: { backend: b, session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((x) => x.textContent?.trim() === 'Unit overview');
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, '[data-testid="unit-patient"]');
    },
  },
  {
    name: 'banner-unit-share',
    title: 'Banner: the unit share, one peer not heard from (any role)',
    async mount(target) {
      mount(UnitShareNotice, { target, props: { backend: unitBackend({ share: SHARE }) } });
      await until(target, '[data-testid="unit-share"]');
    },
  },
  {
    name: 'banner-unit-share-unreachable',
    title: 'Banner: the unit share unreachable (any role)',
    async mount(target) {
      const down = { ...SHARE, reachable: false, message: 'unit share unreachable: /mnt/unit/5-east', peers: [] };
      mount(UnitShareNotice, { target, props: { backend: unitBackend({ share: down }) } });
      await until(target, '[data-testid="unit-share"]');
    },
  },
  {
    name: 'charge-review',
    title: 'Charge nurse: the review of an ended downtime',
    async mount(target) {
      const b = backend(incident);
      const ended = await b.endEpisode();
      await b.saveReview({
        episodeId: ended.id,
        impact:
          'Two scheduled doses were given 40 minutes late while the paper MAR was found.\nNo harm reached a patient. Lab results came by phone and every one was read back.',
        followUps: ['Restock paper MAR packs on 5 East - unit educator, by Friday', 'Run a night-shift drill within a month - nurse manager'],
      });
      mount(ChargeDesk, { target, props: { backend: b, session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((x) => x.textContent?.trim() === 'Review');
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, '[data-testid="review-written"]');
    },
  },
  {
    name: 'charge-overdue-notice',
    title: 'Banner: overdue notice (any role)',
    async mount(target) {
      mount(OverdueNotice, { target, props: { backend: backend({ episode }, 'nurse') } });
      await until(target, '[data-testid="overdue-notice"]');
    },
  },
  scenarioDesk('charge-scenario-choose', 'Charge nurse: start a drill from a scenario', {}, undefined, 'input[name="scenario"]'),
  scenarioDesk(
    'charge-scenario',
    'Charge nurse: a drill scenario 27 minutes in (injects newest first, the score so far)',
    {
      episode: {
        drill: true,
        severity: 'P2',
        affected: ['EHR', 'ADT'],
        impact: 'Drill: charting, orders and admissions move to downtime forms.',
        reason: 'DRILL: EHR unavailable during a mass casualty event',
        nextUpdateMinutes: null,
        beganMinutesAgo: null,
        minutesAgo: 27,
      },
      roles: { commander: 'Dana Ruiz' },
    },
    { file: 'ehr-down-mass-casualty.json', seen: [1] },
    '[data-testid="inject-list"]',
  ),
];

/** The desk on its "Drill scenario" section, with a drill the charge seed opened running `running` (if given). */
function scenarioDesk(
  name: string,
  title: string,
  charge: ChargeSeed,
  running: { file: string; seen?: number[] } | undefined,
  ready: string,
): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      const b = new MemoryBackend({
        unit: '5 East',
        users: { 'demo.charge': { displayName: 'Demo Charge Nurse', password: 'demo-password', role: 'charge' } },
        signedIn: 'demo.charge',
        charge,
        scenario: running ? { running } : {},
      });
      mount(ChargeDesk, { target, props: { backend: b, session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((x) => x.textContent?.trim() === 'Drill scenario');
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, ready);
    },
  };
}
