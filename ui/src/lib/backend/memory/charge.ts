// The charge nurse's part of the in-memory test double: one episode with its events, a short checklist, a census of
// synthetic patients for the print centre, and a fake printer. Time comes from `now`, so tests can make steps and
// status updates overdue. Roles are checked like the core does (charge nurses manage the episode and print for the
// unit; nurses may only read the status).
import { BackendError } from '../index';
import type * as C from '../charge';
import type { Role } from '../generated/Role';
import type { EpisodeInfo } from '../generated/EpisodeInfo';
import { checkedReview } from './review';
import { DEMO_ESCALATION, fileLevels, ladderState, type EscalationFile } from './escalation';

export interface ChargeSeed {
  /** Synthetic patients for the print centre. */
  patients?: C.PatientChoice[];
  forms?: C.FormChoice[];
  /** Whether CUPS (`lp`) is "installed". */
  cups?: boolean;
  /** An episode already open when the double starts. */
  episode?: C.DeclareEpisodeRequest & { minutesAgo?: number };
  entries?: Record<string, C.EntryChoice[]>;
  /** Decisions already recorded with the seeded episode (oldest first), and the role holders named. */
  decisions?: { minutesAgo: number; text: string; by?: string }[];
  roles?: Partial<Record<C.IncidentRole, string>>;
  /** Entries of the episode still unsigned (what a handoff file would leave behind). */
  unsigned?: C.UnsignedEntry[];
  /** The site's escalation file (default: the demo unit's); null: none configured; a string list: its problems. */
  escalation?: EscalationFile | null | string[];
  /** Calls already recorded with the seeded episode. */
  calls?: { minutesAgo: number; contact: string; acknowledged?: boolean }[];
  now?: () => Date;
}

const MEANINGS: Record<C.Severity, string> = {
  P1: 'clinicians cannot reach information needed for care now; no workaround',
  P2: 'workflow disrupted; a workaround is available',
  P3: 'degraded; no direct patient impact',
  P4: 'minor',
};

const AFFECTED = ['EHR', 'lab results', 'pharmacy', 'ADT', 'radiology', 'orders', 'MAR', 'barcode medication administration', 'network', 'phones'];

interface Step {
  id: string;
  phase: string;
  role: Role;
  text: string;
  dueMinutes: number | null;
  /** The severities and affected systems the step is for (empty: every one), as the core's `Step`. */
  severities?: C.Severity[];
  systems?: string[];
}

const STEPS: Step[] = [
  { id: 'confirm-scope', phase: 'declare', role: 'charge', text: 'Confirm the scope of the outage with the IT help desk.', dueMinutes: 15 },
  {
    id: 'print-census-mar',
    phase: 'declare',
    role: 'charge',
    text: 'Print the unit census sheet and the downtime MAR.',
    dueMinutes: 30,
    systems: ['EHR', 'MAR', 'ADT', 'network'],
  },
  {
    id: 'lab-phone-all-results',
    phase: 'during',
    role: 'charge',
    text: 'Agree with the lab that every result is phoned to the unit and read back.',
    dueMinutes: 60,
    systems: ['lab results'],
  },
  { id: 'switch-to-downtime-forms', phase: 'declare', role: 'nurse', text: 'Tell every nurse to chart on downtime forms.', dueMinutes: 30 },
  { id: 'post-next-update', phase: 'during', role: 'charge', text: 'Post the next status update to nursing leadership.', dueMinutes: null },
  { id: 'handoff-to-him', phase: 'recovery', role: 'charge', text: 'Export the handoff file and take it to HIM.', dueMinutes: null },
];

export const DEMO_PATIENTS: C.PatientChoice[] = [
  { mrn: 'DEV2001', name: 'GARCIA, Elena', birthDate: '1950-03-14', location: '5E-501' },
  { mrn: 'DEV2002', name: 'MÜLLER-ØSTER, Łukasz', birthDate: '1962-11-02', location: '5E-502' },
  { mrn: 'DEV3002', name: 'KIM, 민준', birthDate: '1988-07-21', location: '5E-503' },
];

export const DEMO_FORMS: C.FormChoice[] = [
  { id: 'http://downtimekit.example.org/fhir/Questionnaire/medication-administration|1.0.0', title: 'Medication administration' },
  { id: 'http://downtimekit.example.org/fhir/Questionnaire/nursing-note|1.0.0', title: 'Nursing note' },
  { id: 'http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0', title: 'Vital signs' },
];

/** The built-in response targets (minutes), as the core's `site::default_response_targets`. */
const TARGETS: Record<C.Severity, { declare: number; update: number; firstEntry: number }> = {
  P1: { declare: 15, update: 30, firstEntry: 15 },
  P2: { declare: 30, update: 60, firstEntry: 30 },
  P3: { declare: 60, update: 120, firstEntry: 60 },
  P4: { declare: 120, update: 240, firstEntry: 120 },
};

/** Whether a step is for this outage: the core's `Step::applies` (no severity declared: every severity's steps). */
function applies(step: Step, severity: C.Severity | null, affected: string[]): boolean {
  const severityOk = !step.severities?.length || severity === null || step.severities.includes(severity);
  const systemsOk =
    !step.systems?.length ||
    step.systems.some((want) => affected.some((a) => a.trim().toLowerCase() === want.toLowerCase()));
  return severityOk && systemsOk;
}

/** The core's `Step::applies_to`: "P1, P2 · when EHR or MAR is affected", or null for every outage. */
function appliesTo(step: Step): string | null {
  const parts: string[] = [];
  if (step.severities?.length) parts.push(step.severities.join(', '));
  if (step.systems?.length) parts.push(`when ${step.systems.join(' or ')} is affected`);
  return parts.length ? parts.join(' · ') : null;
}

type Recorded = { at: string; actor: string } & (
  | { kind: 'severity'; severity: C.Severity; note: string | null }
  | { kind: 'done'; step: string }
  | { kind: 'undone'; step: string; reason: string }
  | { kind: 'update'; text: string; next: string | null }
  | { kind: 'decision'; text: string }
  | { kind: 'role'; role: C.IncidentRole; name: string }
  | { kind: 'contact'; contact: string; name: string; acknowledged: boolean }
);

/** The core's limit (`procedures::MAX_DECISION_CHARS`, `MAX_ROLE_NAME_CHARS`). */
const MAX_DECISION_CHARS = 500;
const MAX_ROLE_NAME_CHARS = 100;
const ROLE_TITLES: Record<C.IncidentRole, string> = { commander: 'Incident commander', liaison: 'Clinical liaison' };
/** What the core's `procedures::event_problem` refuses in a decision or a name: control characters (a tab aside) and
 * text-direction overrides, which would make the handoff file's text read differently from what was typed. */
const UNKEEPABLE = 'oversized, or holds control or text-direction characters';
// eslint-disable-next-line no-control-regex
const unkeepable = (t: string) => /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(t);

const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const hhmm = (s: string) => `${s.slice(11, 16)} UTC`;

/** What the response targets are measured on (times in ms), as the core's `targets::TargetFacts`. */
export interface TargetFacts {
  declaredAt: number;
  declaredSeverity: C.Severity | null;
  beganAt: number | null;
  /** Severity changes after the declaration, oldest first. */
  changes: [number, C.Severity][];
  /** When each status update was kept. */
  updates: number[];
  firstEntryAt: number | null;
  /** Now, or the episode's end. */
  until: number;
}

/**
 * The core's `targets::response_targets` with the built-in targets: time to declare, time to the first electronic
 * entry, and every interval between status updates (sooner after an escalation). tests/contract/targets.json holds
 * the two to the same cases.
 */
export function responseTargets(f: TargetFacts): C.ResponseTargetCheck[] {
  const history: [number, C.Severity][] = [
    ...(f.declaredSeverity ? [[f.declaredAt, f.declaredSeverity] as [number, C.Severity]] : []),
    ...f.changes,
  ];
  const at = (t: number) => history.filter(([when]) => when <= t).pop()?.[1] ?? null;
  const minutes = (from: number, to: number) => Math.trunc((to - from) / 60_000);
  const check = (
    kind: string,
    label: string,
    severity: C.Severity,
    target: number,
    due: number | null,
    done: number | null,
    took: number | null,
  ): C.ResponseTargetCheck => {
    const missed = due !== null && (done === null ? f.until > due : done > due);
    const result =
      due === null
        ? 'not measured: the declaration does not say when the outage began'
        : missed
          ? 'MISSED'
          : done !== null
            ? 'met'
            : 'open';
    return {
      kind,
      label,
      severity,
      targetMinutes: target,
      dueAt: due === null ? null : stamp(new Date(due)),
      doneAt: done === null ? null : stamp(new Date(done)),
      minutes: took,
      missed,
      result,
    };
  };
  const out: C.ResponseTargetCheck[] = [];
  if (f.declaredSeverity) {
    const t = TARGETS[f.declaredSeverity];
    const began = f.beganAt;
    const declareDue = began === null ? null : began + t.declare * 60_000;
    const declareTook = began === null ? null : minutes(began, f.declaredAt);
    out.push(check('declare', 'Declared', f.declaredSeverity, t.declare, declareDue, f.declaredAt, declareTook));
    const first = f.firstEntryAt;
    const firstDue = f.declaredAt + t.firstEntry * 60_000;
    const firstTook = minutes(f.declaredAt, first ?? f.until);
    out.push(check('first_entry', 'First electronic entry', f.declaredSeverity, t.firstEntry, firstDue, first, firstTook));
  }
  const updates = [...f.updates].sort((a, b) => a - b);
  let from = f.declaredAt;
  for (let n = 1; n <= updates.length + 1; n++) {
    const done = updates[n - 1] ?? null;
    const end = done ?? f.until;
    let best: [number, C.Severity, number] | null = null;
    for (const start of [from, ...history.map(([when]) => when).filter((w) => w > from && w <= end)]) {
      const sev = at(start);
      if (!sev) continue;
      const due = start + TARGETS[sev].update * 60_000;
      if (!best || due < best[0]) best = [due, sev, TARGETS[sev].update];
    }
    if (best) out.push(check('update', `Status update ${n}`, best[1], best[2], best[0], done, minutes(from, end)));
    if (done !== null) from = done;
  }
  return out;
}

export class MemoryCharge implements C.ChargeApi {
  private episode: C.EpisodeSummary | null = null;
  private nextDue: string | null = null;
  /** When the outage began (ms), as the declaration said. */
  private beganAt: number | null = null;
  /**
   * The episode's first electronic entry (ms). The double's charge desk does not see the nurse's saves, so a test
   * or gallery entry sets it; the core reads the vault.
   */
  firstEntryAt: number | null = null;
  private events: Recorded[] = [];
  /** Every episode declared here, newest first, and the reviews written of them (the core keeps both in the vault). */
  private readonly history: C.EpisodeSummary[] = [];
  private readonly reviews = new Map<string, C.WrittenReview>();
  /** Whether a drill was ever declared here (the drill report needs one). */
  private drillSeen = false;
  private readonly patients: C.PatientChoice[];
  private readonly forms: C.FormChoice[];
  private readonly entries: Record<string, C.EntryChoice[]>;
  cups: boolean;
  now: () => Date;
  /** Every print, open and lp call, so tests can assert what the screens asked for. */
  readonly printed: C.PrintRequest[] = [];
  readonly opened: string[] = [];
  readonly sentToPrinter: string[] = [];
  /** Every handoff export that went through, so tests can assert the confirmation was sent. */
  readonly handoffs: C.HandoffExportRequest[] = [];
  unsigned: C.UnsignedEntry[];
  /** The site's escalation file, none, or why it was not used. */
  escalation: EscalationFile | null | string[];

  constructor(
    private readonly who: () => { username: string; role: Role } | null,
    seed: ChargeSeed = {},
    /** Told whenever the episode opens, ends or changes severity, so the banner's status agrees with the desk. */
    private readonly onEpisode: (info: EpisodeInfo | null) => void = () => {},
  ) {
    this.patients = seed.patients ?? DEMO_PATIENTS;
    this.forms = seed.forms ?? DEMO_FORMS;
    this.entries = seed.entries ?? {};
    this.unsigned = seed.unsigned ?? [];
    this.cups = seed.cups ?? true;
    this.now = seed.now ?? (() => new Date());
    this.escalation = seed.escalation === undefined ? DEMO_ESCALATION : seed.escalation;
    if (seed.episode) {
      const { minutesAgo = 0, ...request } = seed.episode;
      const declared = new Date(this.now().getTime() - minutesAgo * 60_000);
      this.open(request, declared, 'demo.charge');
      const at = (ago: number) => stamp(new Date(this.now().getTime() - ago * 60_000));
      for (const [role, name] of Object.entries(seed.roles ?? {}) as [C.IncidentRole, string][]) {
        this.events.push({ kind: 'role', role, name, at: stamp(declared), actor: 'demo.charge' });
      }
      for (const d of seed.decisions ?? []) {
        this.events.push({ kind: 'decision', text: d.text, at: at(d.minutesAgo), actor: d.by ?? 'demo.charge' });
      }
      const file = Array.isArray(this.escalation) ? null : this.escalation;
      for (const c of seed.calls ?? []) {
        const name = file?.contacts.find((x) => x.id === c.contact)?.name ?? c.contact;
        const acknowledged = c.acknowledged ?? false;
        this.events.push({ kind: 'contact', contact: c.contact, name, acknowledged, at: at(c.minutesAgo), actor: 'demo.charge' });
      }
      this.tell();
    }
  }

  /** The open episode's id and when it was declared (ms), for the scenario double (memory/scenario.ts). */
  openedEpisode(): { id: string; startedAt: number } | null {
    return this.episode && { id: this.episode.id, startedAt: Date.parse(this.episode.startedAt) };
  }

  private user(manage: boolean): string {
    const who = this.who();
    if (!who) throw new BackendError('not_signed_in', 'Sign in first.');
    if (manage && who.role !== 'charge') throw new BackendError('forbidden', 'Only a charge nurse may do this.');
    return who.username;
  }

  private openEpisode(): C.EpisodeSummary {
    if (!this.episode) throw new BackendError('no_episode', 'No downtime episode is open on this workstation.');
    return this.episode;
  }

  private open(request: C.DeclareEpisodeRequest, at: Date, actor: string) {
    this.episode = {
      id: `ep-${at.getTime()}`,
      unit: '5 East',
      drill: request.drill,
      startedAt: stamp(at),
      startedBy: actor,
      endedAt: null,
      endedBy: null,
      declaredSeverity: request.severity,
      affected: request.affected,
      impact: request.impact,
      reason: request.reason,
    };
    this.nextDue = request.nextUpdateMinutes === null ? null : stamp(new Date(at.getTime() + request.nextUpdateMinutes * 60_000));
    this.beganAt =
      request.beganMinutesAgo === null ? null : Date.parse(this.episode.startedAt) - request.beganMinutesAgo * 60_000;
    this.events = [];
    this.history.unshift(this.episode);
    this.drillSeen ||= request.drill;
    this.tell();
  }

  private tell() {
    const e = this.episode;
    this.onEpisode(
      e && {
        id: e.id,
        kind: e.drill ? 'drill' : 'real',
        startedAt: e.startedAt,
        startedBy: e.startedBy,
        severity: this.severity(),
        reason: e.reason,
        commander: this.holder('commander')?.name ?? null,
        liaison: this.holder('liaison')?.name ?? null,
      },
    );
  }

  /** The latest assignment of `role`, as the core folds them. */
  private holder(role: C.IncidentRole): C.RoleHolder | null {
    let found: C.RoleHolder | null = null;
    for (const e of this.events) if (e.kind === 'role' && e.role === role) found = { name: e.name, at: e.at, by: e.actor };
    return found;
  }

  /** The decisions, oldest first. */
  private decisions(): C.Decision[] {
    return this.events.flatMap((e) => (e.kind === 'decision' ? [{ at: e.at, by: e.actor, text: e.text }] : []));
  }

  private record(event: Recorded extends infer R ? (R extends Recorded ? Omit<R, 'at' | 'actor'> : never) : never) {
    const actor = this.user(true);
    this.openEpisode();
    this.events.push({ ...event, at: stamp(this.now()), actor } as Recorded);
  }

  /** The severity over time: the declaration's, then each change (the core's `checklist_state` history). */
  private severityHistory(): [number, C.Severity | null][] {
    const episode = this.openEpisode();
    const out: [number, C.Severity | null][] = [[Date.parse(episode.startedAt), episode.declaredSeverity]];
    for (const e of this.events) if (e.kind === 'severity') out.push([Date.parse(e.at), e.severity]);
    return out;
  }

  private steps(): C.ChecklistStep[] {
    const episode = this.openEpisode();
    const history = this.severityHistory();
    const current = this.severity();
    return STEPS.map((s) => {
      let done: Recorded | null = null;
      for (const e of this.events) {
        if (e.kind === 'done' && e.step === s.id) done = e;
        if (e.kind === 'undone' && e.step === s.id) done = null;
      }
      const on = applies(s, current, episode.affected);
      const since = history.find(([, sev]) => applies(s, sev, episode.affected))?.[0] ?? null;
      const due = !on || s.dueMinutes === null || since === null ? null : new Date(since + s.dueMinutes * 60_000);
      return {
        id: s.id,
        phase: s.phase,
        role: s.role,
        text: s.text,
        dueAt: due ? stamp(due) : null,
        doneAt: done?.at ?? null,
        doneBy: done?.actor ?? null,
        overdue: done === null && due !== null && due < this.now(),
        applies: on,
        appliesTo: appliesTo(s),
      };
    });
  }

  /** The response targets on the open episode now (`responseTargets`, with the built-in targets). */
  private targets(): C.ResponseTargetCheck[] {
    const episode = this.openEpisode();
    return responseTargets({
      declaredAt: Date.parse(episode.startedAt),
      declaredSeverity: episode.declaredSeverity,
      beganAt: this.beganAt,
      changes: this.severityHistory().slice(1) as [number, C.Severity][],
      updates: this.events.filter((e) => e.kind === 'update').map((e) => Date.parse(e.at)),
      firstEntryAt: this.firstEntryAt,
      until: this.now().getTime(),
    });
  }


  private severity(): C.Severity | null {
    const changes = this.events.filter((e) => e.kind === 'severity');
    const last = changes[changes.length - 1];
    return last && last.kind === 'severity' ? last.severity : (this.episode?.declaredSeverity ?? null);
  }

  private snapshot(): C.EpisodeStatus | null {
    if (!this.episode) return null;
    const steps = this.steps();
    const targets = this.targets();
    const updateOverdue = this.nextDue !== null && Date.parse(this.nextDue) < this.now().getTime();
    const severity = this.severity();
    return {
      episode: this.episode,
      drill: this.episode.drill,
      severity,
      severityMeaning: severity ? MEANINGS[severity] : null,
      nextUpdateDue: this.nextDue,
      updateOverdue,
      overdueCount: steps.filter((s) => s.overdue).length + (updateOverdue ? 1 : 0),
      checklistTitle: 'Unit downtime procedure',
      checklistProblems: [],
      steps,
      updates: this.events.flatMap((e) =>
        e.kind === 'update' ? [{ at: e.at, actor: e.actor, text: e.text, nextUpdateDue: e.next }] : [],
      ),
      commander: this.holder('commander'),
      liaison: this.holder('liaison'),
      decisions: this.decisions().reverse(),
      targets,
      missedTargets: targets.filter((t) => t.missed).length,
    };
  }

  async episodeStatus() {
    this.user(false);
    return this.snapshot();
  }

  async episodeOptions(): Promise<C.EpisodeOptions> {
    return {
      severities: (Object.keys(MEANINGS) as C.Severity[]).map((code) => ({ code, meaning: MEANINGS[code] })),
      affected: AFFECTED,
    };
  }

  async declareEpisode(request: C.DeclareEpisodeRequest) {
    const actor = this.user(true);
    if (this.episode) throw new BackendError('conflict', 'A downtime episode is already open on this workstation.');
    this.open(request, this.now(), actor);
    return this.snapshot();
  }

  async changeSeverity(severity: C.Severity, note: string | null) {
    this.record({ kind: 'severity', severity, note });
    this.tell();
    return this.snapshot();
  }

  async endEpisode() {
    const actor = this.user(true);
    const episode = { ...this.openEpisode(), endedAt: stamp(this.now()), endedBy: actor };
    this.history.splice(this.history.indexOf(this.openEpisode()), 1, episode);
    this.episode = null;
    this.tell();
    return episode;
  }

  async tickStep(step: string, _note: string | null) {
    if (!STEPS.some((s) => s.id === step)) throw new BackendError('not_found', `The checklist has no step '${step}'.`);
    this.record({ kind: 'done', step });
    return this.snapshot();
  }

  async untickStep(step: string, reason: string) {
    if (reason.trim() === '') throw new BackendError('invalid_input', 'A reason is required to take back a tick.');
    this.record({ kind: 'undone', step, reason: reason.trim() });
    return this.snapshot();
  }

  async draftStatusUpdate() {
    this.user(true);
    const status = this.snapshot();
    if (!status) throw new BackendError('no_episode', 'No downtime episode is open on this workstation.');
    const severity = status.severity ? `${status.severity} (${MEANINGS[status.severity]})` : 'not set';
    const affected = status.episode.affected.length ? status.episode.affected.join(', ') : 'not recorded';
    const done = status.steps.filter((s) => s.doneAt).length;
    const decisions = this.decisions();
    const calls = this.events.flatMap((e) => (e.kind === 'contact' ? [e] : []));
    return [
      ...(status.drill ? ['DRILL - PRACTICE EPISODE, NOT A REAL OUTAGE', ''] : []),
      `Downtime status update - 5 East - ${hhmm(stamp(this.now()))}`,
      `Severity: ${severity}`,
      `Affected systems and workflows: ${affected}`,
      ...(status.episode.impact ? [`Clinical impact: ${status.episode.impact}`] : []),
      `${ROLE_TITLES.commander}: ${status.commander?.name ?? 'not named'}; ${ROLE_TITLES.liaison}: ${status.liaison?.name ?? 'not named'}`,
      `What staff are doing now: charting on downtime forms; checklist ${done} of ${status.steps.length} steps done.`,
      ...(decisions.length ? ['Decisions:', ...decisions.map((d) => `  - ${hhmm(d.at)} ${d.text} (${d.by})`)] : []),
      ...(calls.length
        ? ['Escalation:', ...calls.map((c) => `  - ${hhmm(c.at)} ${c.name} ${c.acknowledged ? 'acknowledged' : 'called'} (${c.actor})`)]
        : []),
      `Next update: ${status.nextUpdateDue ? hhmm(status.nextUpdateDue) : 'not set'}`,
      '',
    ].join('\n');
  }

  async saveStatusUpdate(text: string, nextUpdateMinutes: number | null) {
    if (text.trim() === '') throw new BackendError('invalid_input', 'The status update is empty.');
    const next = nextUpdateMinutes === null ? null : stamp(new Date(this.now().getTime() + nextUpdateMinutes * 60_000));
    this.record({ kind: 'update', text, next });
    this.nextDue = next;
    return this.snapshot();
  }

  /** Refuses what the core refuses, in its words; the message never repeats the text. */
  async recordDecision(text: string) {
    this.user(true);
    const kept = text.trim();
    const length = [...kept].length;
    if (kept === '') throw new BackendError('invalid_input', 'the decision is empty: say what was decided');
    if (length > MAX_DECISION_CHARS) {
      throw new BackendError(
        'invalid_input',
        `the decision is ${length} characters long; keep it to ${MAX_DECISION_CHARS} (a line or two) and record more as another decision`,
      );
    }
    if (/[\r\n]/.test(kept)) {
      throw new BackendError('invalid_input', 'the decision must be one line; record each decision on its own');
    }
    if (unkeepable(kept)) throw new BackendError('invalid_input', `the decision is ${UNKEEPABLE}`);
    this.record({ kind: 'decision', text: kept });
    return this.snapshot();
  }

  async assignRole(role: C.IncidentRole, name: string) {
    this.user(true);
    const kept = name.trim();
    if (kept === '') throw new BackendError('invalid_input', `name the ${ROLE_TITLES[role].toLowerCase()}`);
    if ([...kept].length > MAX_ROLE_NAME_CHARS || /[\r\n]/.test(kept)) {
      throw new BackendError('invalid_input', `the name must be one line of at most ${MAX_ROLE_NAME_CHARS} characters`);
    }
    if (unkeepable(kept)) throw new BackendError('invalid_input', `the name is ${UNKEEPABLE}`);
    this.record({ kind: 'role', role, name: kept });
    this.tell();
    return this.snapshot();
  }

  async episodeReviews(): Promise<C.EpisodeReview[]> {
    this.user(true);
    return this.history.map((episode) => ({ episode, drill: episode.drill, review: this.reviews.get(episode.id) ?? null }));
  }

  async saveReview(request: C.ReviewRequest): Promise<C.EpisodeReview> {
    const actor = this.user(true);
    const episode = this.history.find((e) => e.id === request.episodeId);
    if (!episode) throw new BackendError('not_found', `no episode ${request.episodeId} on this workstation`);
    const kept = checkedReview(request.impact, request.followUps);
    const versions = (this.reviews.get(episode.id)?.versions ?? 0) + 1;
    const review = { ...kept, at: stamp(this.now()), by: actor, versions };
    this.reviews.set(episode.id, review);
    return { episode, drill: episode.drill, review };
  }

  async episodeTimeline(): Promise<C.EpisodeTimeline> {
    this.user(true);
    const episode = this.openEpisode();
    const steps = this.steps();
    return {
      declaredAt: episode.startedAt,
      endedAt: null,
      drill: episode.drill,
      escalations: this.events.flatMap((e) => (e.kind === 'severity' ? [{ at: e.at, severity: e.severity }] : [])),
      firstEntryAt: null,
      minutesToFirstEntry: null,
      entries: 0,
      entriesPerHour: 0,
      entriesPerUser: [],
      formsPrinted: this.printed.length,
      steps,
      missed: steps.filter((s) => !s.doneAt).map((s) => s.id),
      minutesToRecovery: null,
      statusUpdates: this.events.filter((e) => e.kind === 'update').length,
      roles: this.events.flatMap((e) => (e.kind === 'role' ? [{ role: e.role, name: e.name, at: e.at, by: e.actor }] : [])),
      decisions: this.decisions(),
      contacts: this.events.flatMap((e) =>
        e.kind === 'contact' ? [{ at: e.at, by: e.actor, contact: e.contact, name: e.name, acknowledged: e.acknowledged }] : [],
      ),
    };
  }

  async printCentreInfo(): Promise<C.PrintCentreInfo> {
    this.user(true);
    return {
      forms: this.forms,
      patients: this.patients,
      folder: '/home/charge/Documents/Downtime Kit',
      printer: { cups: this.cups, defaultPrinter: this.cups ? 'ward-5e' : null },
      drill: this.episode?.drill ?? false,
    };
  }

  async printableEntries(mrn: string) {
    this.user(false);
    return this.entries[mrn] ?? [];
  }

  async printDocument(request: C.PrintRequest, onProgress: (p: C.PrintProgress) => void): Promise<C.SavedPdf[]> {
    // A nurse prints a handover sheet from the patient's chart; everything else here is the charge nurse's.
    this.user(request.job.kind !== 'handover');
    this.printed.push(request);
    const job = request.job;
    const file = (name: string, pages: number): C.SavedPdf => ({
      path: `${request.folder}/${name}-${this.printed.length}.pdf`,
      pages,
    });
    switch (job.kind) {
      case 'blankUnit':
      case 'mar': {
        const total = this.patients.length;
        for (let done = 1; done <= total; done++) onProgress({ done, total });
        return [file(job.kind === 'mar' ? 'downtime-mar' : 'blank-unit', total * 2)];
      }
      case 'blankPatient':
        if (!this.patients.some((p) => p.mrn === job.mrn)) throw new BackendError('not_found', 'No such patient.');
        return [file('blank-patient', 2)];
      case 'blankUnlabelled':
        return [file('blank', 2)];
      case 'census':
        return [file('census-sheet', 1)];
      case 'statusUpdate':
        if (!this.episode || !this.events.some((e) => e.kind === 'update')) {
          throw new BackendError('not_found', 'No status update has been kept for this episode yet.');
        }
        return [file('status-update', 1)];
      case 'drillReport':
        if (!this.drillSeen) throw new BackendError('not_found', 'There is no drill episode on this workstation.');
        return [file('drill-report', 2)];
      case 'review':
        if (!this.history.some((e) => e.id === job.episode)) {
          throw new BackendError('not_found', `no episode ${job.episode} on this workstation`);
        }
        return [file('episode-review', 3)];
      case 'handover':
        // The print centre's patients are not the nurse's census here: the core checks the MRN.
        return [file('handover', 2)];
      case 'contactSheet':
        // The escalation ladder on one page (the double has the demo unit's file).
        return [file('contact-sheet', 1)];
      case 'entries':
        return job.ids.map((id, i) => {
          onProgress({ done: i + 1, total: job.ids.length });
          return file(`entry-${id}`, 1);
        });
    }
  }

  async openPdf(path: string) {
    this.user(false);
    this.opened.push(path);
  }

  async printPdf(path: string) {
    this.user(false);
    if (!this.cups) {
      throw new BackendError('unavailable', 'This workstation has no printing system (CUPS `lp` was not found).');
    }
    this.sentToPrinter.push(path);
    return 'request id is ward-5e-1 (1 file(s))';
  }

  async addEmergencyUser(request: C.EmergencyUserRequest): Promise<C.EmergencyUserCreated> {
    this.user(true);
    if (request.reason.trim() === '') throw new BackendError('invalid_input', 'An emergency account needs a reason.');
    if (request.hours < 1 || request.hours > 24) {
      throw new BackendError('invalid_input', 'An emergency account lasts 1 to 24 hours.');
    }
    return {
      username: request.username.trim(),
      displayName: request.displayName.trim(),
      expiresAt: stamp(new Date(this.now().getTime() + request.hours * 3_600_000)),
      password: 'k7mq2vxp9rtw',
    };
  }

  private unsignedByAuthor(): C.UserCount[] {
    const counts = new Map<string, number>();
    for (const e of this.unsigned) counts.set(e.author, (counts.get(e.author) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([user, count]) => ({ user, count }));
  }

  async handoffInfo(): Promise<C.HandoffInfo> {
    this.user(true);
    return {
      folder: '/home/nurse/Documents/Downtime Kit',
      unsignedTotal: this.unsigned.length,
      unsignedByAuthor: this.unsignedByAuthor(),
      unsigned: [...this.unsigned],
    };
  }

  /** Refuses like the core while entries are unsigned and the request does not confirm leaving them behind. */
  async exportHandoff(request: C.HandoffExportRequest): Promise<C.HandoffExported> {
    this.user(true);
    const left = this.unsignedByAuthor();
    if (left.length > 0 && !request.includeUnsigned) {
      const named = left.map((c) => `${c.user} ${c.count}`).join(', ');
      throw new BackendError(
        'unsigned_entries',
        `${this.unsigned.length} entries of this episode are still unsigned (${named}); drafts never leave this workstation: have their authors sign them first, or confirm the export without them`,
      );
    }
    this.handoffs.push(request);
    return {
      path: `${request.folder}/handoff-${stamp(this.now()).slice(0, 10)}.dtkh`,
      sequence: this.handoffs.length,
      entries: 12,
      sha256: 'c86e8501bfe0817d789b9e86177d0d4ededfe5208d88e714279a8112d8085b2d',
      signerFingerprint: '6ed0-279d-6eb7-e267-d337',
      unsignedLeft: left,
    };
  }
  async escalationStatus(): Promise<C.EscalationStatus> {
    this.user(false);
    const configured = this.escalation;
    const base = {
      file: configured === null ? null : '/etc/downtime-kit/escalation.json',
      title: null as string | null,
      problems: Array.isArray(configured) ? configured : [],
      episodeOpen: false,
      levels: [] as C.EscalationLevel[],
      current: null,
      nextEscalationDue: null,
      callNow: false,
      overdue: false,
      acknowledged: null,
    };
    if (configured === null || Array.isArray(configured)) return base;
    base.title = configured.title;
    if (!this.episode) return { ...base, levels: fileLevels(configured) };
    const calls: C.ContactCall[] = this.events.flatMap((e) =>
      e.kind === 'contact'
        ? [{ at: e.at, by: e.actor, contact: e.contact, name: e.name, acknowledged: e.acknowledged }]
        : [],
    );
    const ladder = ladderState(configured, {
      declaredAt: Date.parse(this.episode.startedAt),
      declaredSeverity: this.episode.declaredSeverity,
      changes: this.events.flatMap((e) => (e.kind === 'severity' ? [[Date.parse(e.at), e.severity] as [number, C.Severity]] : [])),
      affected: this.episode.affected,
      calls,
      now: this.now().getTime(),
    });
    return { ...base, episodeOpen: true, ...ladder };
  }

  async recordContact(contact: string, acknowledged: boolean): Promise<C.EscalationStatus> {
    this.user(true);
    const file = this.escalation;
    if (file === null || Array.isArray(file)) {
      const why =
        file === null
          ? 'no escalation file is configured (escalation_file in site.json)'
          : "the site's escalation file has problems (dtk episode contacts lists them)";
      throw new BackendError('not_found', `cannot record a call: ${why}`);
    }
    const id = contact.trim();
    const found = file.contacts.find((c) => c.id === id);
    if (!found) {
      throw new BackendError(
        'not_found',
        `the escalation file has no contact '${[...id].slice(0, 64).join('')}'; its contacts are: ${file.contacts.map((c) => c.id).join(', ')}`,
      );
    }
    this.record({ kind: 'contact', contact: found.id, name: found.name, acknowledged });
    return this.escalationStatus();
  }
}
