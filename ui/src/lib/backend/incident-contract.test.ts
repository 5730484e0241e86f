// The incident contract held by the in-memory backend: every step of tests/contract/incident.json (which decisions
// and role names the charge desk keeps, and how it refuses the others) runs against MemoryBackend, step for step as
// src-tauri/tests/incident.rs runs it through the real Tauri commands. A step failing here and passing there means
// the double drifted from the core (memory/charge.ts is the port to fix).
import { describe, expect, it } from 'vitest';
import incident from '../../../../tests/contract/incident.json';
import { BackendError, type EpisodeStatus, type IncidentRole } from './index';
import { MemoryBackend } from './memory';

/** A text as typed: plain, or one string written `times` times. */
type Text = string | { repeat: string; times: number };

interface Step {
  as?: string;
  decision?: Text;
  assign?: { role: IncidentRole; name: Text };
  kept?: Text;
  refused?: { code: string; message?: string };
}

interface Contract {
  about: string[];
  beforeDeclaring: Step[];
  steps: Step[];
  then: { decisions: Text[]; commander: string; liaison: string; assignments: string[] };
}

const contract = incident as unknown as Contract;
const text = (t: Text) => (typeof t === 'string' ? t : t.repeat.repeat(t.times));

async function run(backend: MemoryBackend, n: string, step: Step) {
  await backend.signIn({ username: step.as ?? 'kcharge', password: 'pw' });
  const typed = step.decision !== undefined ? text(step.decision) : text(step.assign?.name ?? '');
  let outcome: EpisodeStatus | null | BackendError;
  try {
    outcome = step.assign
      ? await backend.assignRole(step.assign.role, typed)
      : await backend.recordDecision(typed);
  } catch (error) {
    if (!(error instanceof BackendError)) throw error;
    outcome = error;
  }
  if (step.kept !== undefined) {
    expect(outcome, `${n}: kept`).not.toBeInstanceOf(BackendError);
    const status = outcome as EpisodeStatus | null;
    const stored = !step.assign
      ? status?.decisions[0]?.text
      : step.assign.role === 'commander'
        ? status?.commander?.name
        : status?.liaison?.name;
    expect(stored, `${n}: stored as`).toBe(text(step.kept));
  } else {
    expect(outcome, `${n}: refused`).toBeInstanceOf(BackendError);
    const error = outcome as BackendError;
    expect(error.code, `${n}: refused with (${error.message})`).toBe(step.refused?.code);
    if (step.refused?.message !== undefined) expect(error.message, `${n}: the refusal's words`).toBe(step.refused.message);
    const trimmed = typed.trim();
    if (trimmed.length >= 4) expect(error.message, `${n}: the refusal repeats the text`).not.toContain(trimmed);
  }
}

describe('the incident contract (tests/contract/incident.json)', () => {
  it('holds for the in-memory backend, step for step', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: {
        kcharge: { displayName: 'kcharge', password: 'pw', role: 'charge' },
        dnurse: { displayName: 'dnurse', password: 'pw', role: 'nurse' },
      },
    });
    for (const [i, step] of contract.beforeDeclaring.entries()) await run(backend, `beforeDeclaring[${i}]`, step);
    await backend.signIn({ username: 'kcharge', password: 'pw' });
    await backend.declareEpisode({
      drill: false,
      severity: null,
      affected: [],
      impact: null,
      reason: 'Incident contract',
      nextUpdateMinutes: 30,
      beganMinutesAgo: null,
    });
    for (const [i, step] of contract.steps.entries()) await run(backend, `steps[${i}]`, step);

    await backend.signIn({ username: 'kcharge', password: 'pw' });
    const status = await backend.episodeStatus();
    expect(status?.decisions.map((d) => d.text), 'newest first').toEqual(contract.then.decisions.map(text));
    expect((await backend.episodeTimeline()).roles.map((r) => `${r.role} ${r.name}`)).toEqual(contract.then.assignments);
    const banner = (await backend.downtimeStatus()).episode;
    expect(banner?.commander).toBe(contract.then.commander);
    expect(banner?.liaison).toBe(contract.then.liaison);
  });
});
