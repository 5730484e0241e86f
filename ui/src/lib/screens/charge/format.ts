// Times and small words shared by the charge nurse's screens. The core stamps times in UTC; the screens show them
// the way the status-update draft does ("10:42 UTC"), so what is on screen and on paper agree.
import type { Severity } from '../../backend/charge';

/** "2026-11-21T10:42:07Z" → "10:42 UTC"; anything else is shown as it is. */
export function clock(stamp: string | null | undefined): string {
  if (!stamp) return '—';
  const m = /^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2})/.exec(stamp);
  return m ? `${m[1]} UTC` : stamp;
}

/** The next-update intervals offered (minutes). */
export const UPDATE_INTERVALS = [15, 30, 60, 120, 240];

export function intervalLabel(minutes: number): string {
  return minutes < 60 ? `${minutes} minutes` : minutes === 60 ? '1 hour' : `${minutes / 60} hours`;
}

export function severityLabel(severity: Severity | null): string {
  return severity ?? 'not set';
}
