// The MAR contract held by the in-memory backend: every case of tests/contract/mar.json (the demo unit's overdue
// interval dose, an as-needed order's last dose and interval, "see order", and a dose charted now turning its row to
// given) runs against MemoryBackend as src-tauri/tests/mar.rs runs it through the real Tauri commands. A case failing
// here and passing there means the double (memory/mar.ts) drifted from the core's schedule.
import { describe, expect, it } from 'vitest';
import contract from '../../../../tests/contract/mar.json';
import { MemoryBackend } from './memory';
import { chartOralDose } from '../screens/nurse/marFixture';

interface Due {
  minutesAfterOutage?: number;
  minutesAfterCharting?: number;
  status: string;
  givenBy?: string;
}

interface Case {
  name: string;
  patient: string;
  medication: string;
  kind: string;
  chartNow?: boolean;
  firstDue?: Due;
  secondDue?: Due;
  prn?: { lastDoseMinutesBeforeOutage: number; minIntervalMinutes: number };
}

const minutes = (from: string, to: string) => Math.floor((Date.parse(to) - Date.parse(from)) / 60_000);

describe('MAR contract (tests/contract/mar.json)', () => {
  for (const c of contract.cases as Case[]) {
    it(c.name, async () => {
      const backend = new MemoryBackend({ unit: '5 East', users: {}, demo: true, signedInAs: 'demo.nurse' });
      let charted: string | null = null;
      if (c.chartNow) {
        charted = new Date().toISOString();
        await chartOralDose(backend, c.patient, c.medication, 25, charted);
      }
      const view = await backend.patientMar(c.patient);
      const order = view.orders.find((o) => o.medication === c.medication);
      expect(order?.kind).toBe(c.kind);
      [c.firstDue, c.secondDue].forEach((expected, i) => {
        if (!expected) return;
        const row = order?.due[i];
        expect(row?.status).toBe(expected.status);
        if (expected.minutesAfterOutage !== undefined) expect(minutes(view.from, row?.at ?? '')).toBe(expected.minutesAfterOutage);
        if (expected.minutesAfterCharting !== undefined && charted) expect(minutes(charted, row?.at ?? '')).toBe(expected.minutesAfterCharting);
        expect(row?.givenBy ?? undefined).toBe(expected.givenBy);
      });
      if (c.prn) {
        expect(minutes(order?.prn?.lastDoseAt ?? '', view.from)).toBe(c.prn.lastDoseMinutesBeforeOutage);
        expect(order?.prn?.minIntervalMinutes).toBe(c.prn.minIntervalMinutes);
      }
    });
  }
});
