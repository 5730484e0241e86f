// The drill scenario contract held by the in-memory backend: every step of tests/contract/scenario.json (starting a
// drill from an offered scenario, marking its injects seen, the score) runs against MemoryBackend, step for step as
// src-tauri/tests/scenario.rs runs it through the real Tauri commands. A step failing here and passing there means
// the double drifted from the core (memory/scenario.ts is the port to fix).
import { describe, expect, it } from 'vitest';
import contractFile from '../../../../tests/contract/scenario.json';
import { BackendError, type DrillScenario, type ScenarioOutcome } from './index';
import { MemoryBackend } from './memory';
import type { ScenarioFile } from './memory/scenario';

interface Step {
  as?: string;
  start?: string;
  ack?: number;
  started?: { title: string; arrived: number[]; nextInMinutes: number; met: number; total: number };
  seen?: string;
  refused?: { code: string; message?: string; startsWith?: string };
}

interface Contract {
  about: string[];
  file: string;
  scenario: ScenarioFile;
  offered: string[];
  beforeStarting: Step[];
  steps: Step[];
  then: { arrived: { number: number; seenBy: string | null }[]; outcomes: ScenarioOutcome[]; met: number; total: number };
}

const contract = contractFile as unknown as Contract;

async function run(backend: MemoryBackend, n: string, step: Step) {
  await backend.signIn({ username: step.as ?? 'kcharge', password: 'pw' });
  let outcome: DrillScenario | null | BackendError;
  try {
    if (step.start !== undefined) {
      await backend.startScenarioDrill(step.start, null);
      outcome = await backend.drillScenario();
    } else {
      outcome = await backend.acknowledgeInject(step.ack ?? 0);
    }
  } catch (error) {
    if (!(error instanceof BackendError)) throw error;
    outcome = error;
  }
  if (step.refused) {
    expect(outcome, `${n}: refused`).toBeInstanceOf(BackendError);
    const error = outcome as BackendError;
    expect(error.code, `${n}: refused with (${error.message})`).toBe(step.refused.code);
    if (step.refused.message !== undefined) expect(error.message, `${n}: the refusal's words`).toBe(step.refused.message);
    if (step.refused.startsWith !== undefined) expect(error.message.startsWith(step.refused.startsWith), `${n}: ${error.message}`).toBe(true);
    return;
  }
  expect(outcome, `${n}: allowed`).not.toBeInstanceOf(BackendError);
  const s = outcome as DrillScenario | null;
  expect(s, `${n}: a drill scenario after the step`).not.toBeNull();
  if (!s) return;
  if (step.started) {
    expect(s.title).toBe(step.started.title);
    expect(s.injects.map((i) => i.number), `${n}: arrived`).toEqual(step.started.arrived);
    const first = s.injects[s.injects.length - 1];
    expect((Date.parse(s.nextInjectAt ?? '') - Date.parse(first?.at ?? '')) / 60_000, `${n}: next inject`).toBe(step.started.nextInMinutes);
    expect([s.met, s.total], `${n}: score`).toEqual([step.started.met, step.started.total]);
  }
  if (step.seen) {
    const inject = s.injects.find((i) => i.number === step.ack);
    expect(inject?.seenBy, `${n}: seen by`).toBe(step.seen);
    expect(inject?.seenAt, `${n}: seen at`).not.toBeNull();
  }
}

describe('the drill scenario contract (tests/contract/scenario.json)', () => {
  it('holds for the in-memory backend, step for step', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: {
        kcharge: { displayName: 'kcharge', password: 'pw', role: 'charge' },
        dnurse: { displayName: 'dnurse', password: 'pw', role: 'nurse' },
      },
      scenario: { files: { [contract.file]: contract.scenario } },
    });
    await backend.signIn({ username: 'kcharge', password: 'pw' });
    const options = await backend.drillScenarios();
    expect(options.scenarios.map((c) => c.file)).toEqual(contract.offered);
    expect(options.scenarios.map((c) => c.builtIn)).toEqual([false, true]);

    for (const [i, step] of contract.beforeStarting.entries()) await run(backend, `beforeStarting[${i}]`, step);
    for (const [i, step] of contract.steps.entries()) await run(backend, `steps[${i}]`, step);

    await backend.signIn({ username: 'dnurse', password: 'pw' });
    const s = await backend.drillScenario();
    expect(s?.injects.map((i) => ({ number: i.number, seenBy: i.seenBy }))).toEqual(contract.then.arrived);
    expect(s?.expectations.map((e) => e.outcome)).toEqual(contract.then.outcomes);
    expect([s?.met, s?.total]).toEqual([contract.then.met, contract.then.total]);
    expect(JSON.stringify(s)).not.toContain('potassium');
  });
});
