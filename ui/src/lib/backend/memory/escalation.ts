// The escalation ladder in the in-memory double (issue 21 item 1): the site file's shape, the demo unit's file, and
// a port of the core's `escalation::ladder_state` (who to call now, the next escalation due, overdue), held to the
// core by tests/contract/escalation.json (ui/src/lib/backend/escalation-contract.test.ts and tests/it/escalation.rs).
import type * as C from '../charge';

/** The site's escalation file, as written (the core's `escalation::Escalation`). */
export interface EscalationFile {
  id: string;
  version: string;
  title: string;
  contacts: { id: string; name: string; team?: string; notes?: string; phones: { label: string; number: string }[] }[];
  ladder: {
    name?: string;
    contacts: string[];
    after_minutes?: number;
    severities?: C.Severity[];
    systems?: string[];
  }[];
}

/** The demo unit's ladder, shortened (the core ships assets/demo/escalation-demo.json); synthetic numbers only. */
export const DEMO_ESCALATION: EscalationFile = {
  id: 'demo-escalation',
  version: '1.0.0',
  title: '5 East downtime escalation (demo, synthetic numbers)',
  contacts: [
    {
      id: 'help-desk',
      name: 'IT help desk',
      team: 'IT service desk',
      phones: [
        { label: '24/7 line', number: '555-0100' },
        { label: 'backup line', number: '555-0101' },
      ],
    },
    { id: 'pharmacy', name: 'Inpatient pharmacy', phones: [{ label: 'main line', number: '555-0130' }] },
    { id: 'lab', name: 'Core laboratory', phones: [{ label: 'results line', number: '555-0140' }] },
    {
      id: 'clinical-it-lead',
      name: 'Clinical IT lead on call',
      phones: [
        { label: 'mobile', number: '555-0110' },
        { label: 'pager', number: '555-0111' },
      ],
    },
    { id: 'nursing-informatics', name: 'Nursing informatics', phones: [{ label: 'office', number: '555-0120' }] },
    { id: 'ehr-vendor', name: 'EHR vendor support', phones: [{ label: 'priority support', number: '555-0150' }] },
  ],
  ladder: [
    { name: 'First call', contacts: ['help-desk'], after_minutes: 15 },
    { name: 'Pharmacy', contacts: ['pharmacy'], after_minutes: 20, systems: ['pharmacy', 'MAR'] },
    { name: 'Lab', contacts: ['lab'], after_minutes: 20, systems: ['lab results'] },
    {
      name: 'Clinical IT and nursing informatics',
      contacts: ['clinical-it-lead', 'nursing-informatics'],
      after_minutes: 20,
      severities: ['P1', 'P2'],
    },
    { name: 'EHR vendor', contacts: ['ehr-vendor'], after_minutes: 30, severities: ['P1'] },
  ],
};

type Level = EscalationFile['ladder'][number];

/** The core's `Level::applies` (the checklist's meaning: no severity declared yet, every severity's levels). */
function applies(level: Level, severity: C.Severity | null, affected: string[]): boolean {
  const severityOk = !level.severities?.length || severity === null || level.severities.includes(severity);
  const systemsOk =
    !level.systems?.length ||
    level.systems.some((want) => affected.some((a) => a.trim().toLowerCase() === want.toLowerCase()));
  return severityOk && systemsOk;
}

/** The core's `Level::applies_to`. */
function appliesTo(level: Level): string | null {
  const parts: string[] = [];
  if (level.severities?.length) parts.push(level.severities.join(', '));
  if (level.systems?.length) parts.push(`when ${level.systems.join(' or ')} is affected`);
  return parts.length ? parts.join(' · ') : null;
}

function contact(file: EscalationFile, id: string): C.EscalationContact | null {
  const c = file.contacts.find((x) => x.id === id);
  return c ? { id: c.id, name: c.name, team: c.team ?? null, notes: c.notes ?? null, phones: c.phones } : null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What the ladder's state is computed from (times in ms), as the core's `escalation::LadderFacts`. */
export interface LadderFacts {
  declaredAt: number;
  declaredSeverity: C.Severity | null;
  changes: [number, C.Severity][];
  affected: string[];
  calls: C.ContactCall[];
  now: number;
}

export type Ladder = Pick<
  C.EscalationStatus,
  'levels' | 'current' | 'nextEscalationDue' | 'callNow' | 'overdue' | 'acknowledged'
>;

/** The file's levels with no episode open: every one waiting, none called. */
export function fileLevels(file: EscalationFile): C.EscalationLevel[] {
  return file.ladder.map((level, i) => ({
    number: i + 1,
    title: level.name ?? `Level ${i + 1}`,
    appliesTo: appliesTo(level),
    afterMinutes: level.after_minutes ?? null,
    status: 'waiting',
    reachedAt: null,
    escalatesAt: null,
    contacts: level.contacts.flatMap((id) => contact(file, id) ?? []),
    calls: [],
  }));
}

/** The core's `escalation::ladder_state`: see its comment for how the ladder runs. */
export function ladderState(file: EscalationFile, f: LadderFacts): Ladder {
  const history: [number, C.Severity | null][] = [[f.declaredAt, f.declaredSeverity], ...f.changes];
  const severity = history[history.length - 1]?.[1] ?? null;
  const applying = file.ladder.flatMap((l, i) => (applies(l, severity, f.affected) ? [i] : []));
  const out: Ladder = { levels: [], current: null, nextEscalationDue: null, callNow: false, overdue: false, acknowledged: null };
  let previousDue: number | null = null;
  let stopped = false;
  file.ladder.forEach((level, i) => {
    const state: C.EscalationLevel = { ...fileLevels(file)[i]!, status: 'notForThisOutage' };
    const pos = applying.indexOf(i);
    if (pos < 0) {
      out.levels.push(state);
      return;
    }
    const since = history.find(([, s]) => applies(level, s, f.affected))?.[0] ?? f.declaredAt;
    state.calls = f.calls.filter((c) => level.contacts.includes(c.contact) && Date.parse(c.at) >= since);
    if (stopped) {
      out.levels.push({ ...state, status: 'waiting' });
      return;
    }
    const reached = previousDue === null ? since : Math.max(previousDue, since);
    state.reachedAt = iso(reached);
    const ack = state.calls.find((c) => c.acknowledged);
    if (ack) {
      out.levels.push({ ...state, status: 'acknowledged' });
      out.acknowledged = ack;
      stopped = true;
      return;
    }
    const times = state.calls.map((c) => Date.parse(c.at));
    const firstCall = times.length ? Math.min(...times) : null;
    const due = level.after_minutes === undefined ? null : (firstCall ?? reached) + level.after_minutes * 60_000;
    state.escalatesAt = due === null ? null : iso(due);
    const last = pos + 1 === applying.length;
    if (due !== null && due <= f.now && !last) {
      out.levels.push({ ...state, status: 'noAnswer' });
      previousDue = due;
      return;
    }
    out.levels.push({ ...state, status: 'current' });
    out.current = i + 1;
    out.nextEscalationDue = last ? null : state.escalatesAt;
    out.callNow = firstCall === null;
    const escalated = previousDue !== null && previousDue >= since;
    out.overdue = (escalated && firstCall === null) || (last && due !== null && due <= f.now);
    stopped = true;
  });
  return out;
}
