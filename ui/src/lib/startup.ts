// The start-up benchmark's probe (scripts/bench-start.sh): the first screen a user sees (sign-in, or set-up on a new
// workstation) reports once, two animation frames after it mounted (the first frame lays it out, the second has
// painted it), so the benchmark measures launch to a screen the nurse can use. Without the benchmark the backend
// ignores the call.
import type { Backend } from './backend';

let reported = false;

export function reportFirstPaint(backend: Backend): void {
  if (reported) return;
  reported = true;
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      backend.startupPainted().catch(() => {
        // A probe that fails changes nothing for the user.
      });
    }),
  );
}
