// Words the HIM desk shows for the core's states and identifiers.
import type { ReconState } from '../../backend/him';

export const STATE_LABELS: Record<ReconState, string> = {
  pending: 'Pending match',
  matched: 'Matched',
  accepted: 'Accepted',
  duplicate: 'Duplicate',
  rejected: 'Rejected',
  'needs-correction': 'Needs correction',
  exported: 'Exported',
  posted: 'Posted',
  refused: 'Refused by the EHR',
  'entered-by-hand': 'Entered by hand in the EHR',
};

export const STATES = Object.keys(STATE_LABELS) as ReconState[];

/** A form's canonical `url|version` as its short name (`medication-administration`). */
export function formName(canonical: string): string {
  const url = canonical.split('|')[0] ?? canonical;
  return url.slice(url.lastIndexOf('/') + 1);
}

/** An ISO time as `2026-11-21 09:15`, the way the worklist lines up. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').slice(0, 16);
}
