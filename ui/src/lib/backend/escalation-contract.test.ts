// tests/contract/escalation.json on the in-memory double: its port of the core's escalation ladder (`ladderState`)
// must give every case the state the core gives (tests/it/escalation.rs runs the same file through
// `escalation::ladder_state`). Times compare by instant.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ladderState, type EscalationFile } from './memory/escalation';
import type { Severity } from './generated/Severity';

interface Case {
  name: string;
  declared_at: string;
  declared_severity: Severity | null;
  changes: [string, Severity][];
  affected: string[];
  calls: { at: string; contact: string; acknowledged: boolean }[];
  now: string;
  expected: {
    statuses: string[];
    current: number | null;
    next_escalation_due: string | null;
    call_now: boolean;
    overdue: boolean;
    acknowledged: string | null;
  };
}

const doc = JSON.parse(readFileSync(resolve(__dirname, '../../../../tests/contract/escalation.json'), 'utf8')) as {
  file: EscalationFile;
  cases: Case[];
};
// The wire's camelCase status names, from the contract's (the core's serde) snake_case.
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe('the escalation ladder contract on the in-memory double', () => {
  it('holds the cases', () => expect(doc.cases.length).toBeGreaterThanOrEqual(7));
  for (const c of doc.cases) {
    it(c.name, () => {
      const s = ladderState(doc.file, {
        declaredAt: Date.parse(c.declared_at),
        declaredSeverity: c.declared_severity,
        changes: c.changes.map(([at, sev]) => [Date.parse(at), sev]),
        affected: c.affected,
        calls: c.calls.map((k) => ({ ...k, by: 'kcharge', name: k.contact })),
        now: Date.parse(c.now),
      });
      expect(s.levels.map((l) => l.status)).toEqual(c.expected.statuses.map(camel));
      expect(s.current).toBe(c.expected.current);
      const due = s.nextEscalationDue === null ? null : Date.parse(s.nextEscalationDue);
      expect(due).toBe(c.expected.next_escalation_due === null ? null : Date.parse(c.expected.next_escalation_due));
      expect(s.callNow).toBe(c.expected.call_now);
      expect(s.overdue).toBe(c.expected.overdue);
      expect(s.acknowledged?.contact ?? null).toBe(c.expected.acknowledged);
    });
  }
});
