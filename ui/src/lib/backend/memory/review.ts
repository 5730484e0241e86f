// The review of an episode in the in-memory double (issue 21 item 6): what the core's `review::Review` keeps (the
// clinical impact trimmed, follow-up actions trimmed with empty lines dropped) and how it refuses the rest, in its
// words (tests/contract/review.json holds both to the same steps). A refusal never repeats what was typed.
import { BackendError } from '../index';

/** The core's limits (`review::MAX_IMPACT_CHARS`, `MAX_FOLLOW_UPS`, `MAX_FOLLOW_UP_CHARS`). */
export const MAX_IMPACT_CHARS = 4000;
export const MAX_FOLLOW_UPS = 30;
export const MAX_FOLLOW_UP_CHARS = 300;

// eslint-disable-next-line no-control-regex
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const refused = (text: string, lines: boolean) => CONTROL_OR_BIDI.test(lines ? text.replace(/[\n\r\t]/g, '') : text);
const chars = (s: string) => [...s].length;

/** The review as the core keeps it, or a refusal (`invalid_input`) naming what is wrong. */
export function checkedReview(impact: string, followUps: string[]): { impact: string; followUps: string[] } {
  const kept = { impact: impact.trim(), followUps: followUps.map((f) => f.trim()).filter((f) => f !== '') };
  const no = (message: string) => new BackendError('invalid_input', message);
  if (kept.impact === '' && kept.followUps.length === 0) {
    throw no('the review is empty: write the clinical impact or at least one follow-up action');
  }
  if (chars(kept.impact) > MAX_IMPACT_CHARS) throw no(`the clinical impact is over ${MAX_IMPACT_CHARS} characters`);
  if (refused(kept.impact, true)) throw no('the clinical impact holds control or text-direction characters');
  if (kept.followUps.length > MAX_FOLLOW_UPS) throw no(`a review keeps at most ${MAX_FOLLOW_UPS} follow-up actions`);
  kept.followUps.forEach((f, i) => {
    const n = i + 1;
    if (chars(f) > MAX_FOLLOW_UP_CHARS) throw no(`follow-up action ${n} is over ${MAX_FOLLOW_UP_CHARS} characters`);
    if (/[\n\r]/.test(f)) throw no(`follow-up action ${n} is more than one line`);
    if (refused(f, false)) throw no(`follow-up action ${n} holds control or text-direction characters`);
  });
  return kept;
}
