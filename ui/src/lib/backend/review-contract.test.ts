// The review contract held by the in-memory backend: every step of tests/contract/review.json (which reviews of an
// episode the charge desk keeps, and how it refuses the others) runs against MemoryBackend, step for step as
// src-tauri/tests/review.rs runs it through the real Tauri commands. A step failing here and passing there means the
// double drifted from the core (memory/review.ts is the port to fix).
import { describe, expect, it } from 'vitest';
import review from '../../../../tests/contract/review.json';
import { BackendError, type EpisodeReview } from './index';
import { MemoryBackend } from './memory';

/** A text as typed: plain, or one string written `times` times. */
type Text = string | { repeat: string; times: number };

interface Step {
  as?: string;
  episode?: string;
  impact: Text;
  followUps: Text[];
  kept?: { impact: Text; followUps: Text[]; versions: number };
  refused?: { code: string; message?: string };
}

interface Contract {
  about: string[];
  steps: Step[];
  then: { impact: string; followUps: string[]; versions: number; by: string };
}

const contract = review as unknown as Contract;
const text = (t: Text) => (typeof t === 'string' ? t : t.repeat.repeat(t.times));

async function run(backend: MemoryBackend, episode: string, n: string, step: Step) {
  await backend.signIn({ username: step.as ?? 'kcharge', password: 'pw' });
  const request = { episodeId: step.episode ?? episode, impact: text(step.impact), followUps: step.followUps.map(text) };
  let outcome: EpisodeReview | BackendError;
  try {
    outcome = await backend.saveReview(request);
  } catch (error) {
    if (!(error instanceof BackendError)) throw error;
    outcome = error;
  }
  if (step.kept !== undefined) {
    expect(outcome, `${n}: kept`).not.toBeInstanceOf(BackendError);
    const kept = (outcome as EpisodeReview).review;
    expect(kept?.impact, `${n}: the impact as stored`).toBe(text(step.kept.impact));
    expect(kept?.followUps, `${n}: the actions as stored`).toEqual(step.kept.followUps.map(text));
    expect(kept?.versions, `${n}: the version`).toBe(step.kept.versions);
  } else {
    expect(outcome, `${n}: refused`).toBeInstanceOf(BackendError);
    const error = outcome as BackendError;
    expect(error.code, `${n}: refused with (${error.message})`).toBe(step.refused?.code);
    if (step.refused?.message !== undefined) expect(error.message, `${n}: the refusal's words`).toBe(step.refused.message);
    for (const typed of [request.impact, ...request.followUps].map((t) => t.trim())) {
      if (typed.length >= 8) expect(error.message, `${n}: the refusal repeats the text`).not.toContain(typed);
    }
  }
}

describe('the review contract (tests/contract/review.json)', () => {
  it('holds for the in-memory backend, step for step', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: {
        kcharge: { displayName: 'kcharge', password: 'pw', role: 'charge' },
        dnurse: { displayName: 'dnurse', password: 'pw', role: 'nurse' },
      },
    });
    await backend.signIn({ username: 'kcharge', password: 'pw' });
    await backend.declareEpisode({
      drill: false,
      severity: null,
      affected: [],
      impact: null,
      reason: 'Review contract',
      nextUpdateMinutes: 30,
      beganMinutesAgo: null,
    });
    const ended = await backend.endEpisode();
    for (const [i, step] of contract.steps.entries()) await run(backend, ended.id, `steps[${i}]`, step);

    await backend.signIn({ username: 'kcharge', password: 'pw' });
    const [listed] = await backend.episodeReviews();
    expect(listed?.episode.endedAt, 'the ended episode is listed').not.toBeNull();
    expect(listed?.review).toMatchObject(contract.then);
  });
});
