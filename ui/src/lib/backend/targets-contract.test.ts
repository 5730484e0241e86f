// tests/contract/targets.json on the in-memory double: its port of the core's response targets (`responseTargets`)
// must measure every case as the core does (tests/it/procedures.rs runs the same file through
// `targets::response_targets`). Times compare by instant.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { responseTargets } from './memory/charge';
import type { Severity } from './generated/Severity';

interface Case {
  name: string;
  declared_at: string;
  declared_severity: Severity | null;
  began_at: string | null;
  changes: [string, Severity][];
  updates: string[];
  first_entry_at: string | null;
  until: string;
  expected: Record<string, unknown>[];
}

const doc = JSON.parse(readFileSync(resolve(__dirname, '../../../../tests/contract/targets.json'), 'utf8')) as {
  cases: Case[];
};
const ms = (t: string | null) => (t === null ? null : Date.parse(t));

describe('the response targets contract on the in-memory double', () => {
  it('holds the cases', () => expect(doc.cases.length).toBeGreaterThanOrEqual(5));
  for (const c of doc.cases) {
    it(c.name, () => {
      const got = responseTargets({
        declaredAt: Date.parse(c.declared_at),
        declaredSeverity: c.declared_severity,
        beganAt: ms(c.began_at),
        changes: c.changes.map(([at, s]) => [Date.parse(at), s]),
        updates: c.updates.map((u) => Date.parse(u)),
        firstEntryAt: ms(c.first_entry_at),
        until: Date.parse(c.until),
      }).map((t) => ({
        kind: t.kind,
        label: t.label,
        severity: t.severity,
        target_minutes: t.targetMinutes,
        due_at: ms(t.dueAt),
        done_at: ms(t.doneAt),
        minutes: t.minutes,
        missed: t.missed,
      }));
      const want = c.expected.map((e) => ({ ...e, due_at: ms(e.due_at as string | null), done_at: ms(e.done_at as string | null) }));
      expect(got).toEqual(want);
    });
  }
});
