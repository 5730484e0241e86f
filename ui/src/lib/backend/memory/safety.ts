// The core's safety rules, ported for the in-memory double: allergy matching and the duplicate check
// (src/entries/mod.rs: normalise_medication, possible_duplicates; src/entries/safety.rs: CROSS_SENSITIVITY,
// allergy_matches) and the warnings and refusals built on them (src/entries/safety.rs: warnings, gate).
//
// A port, not a reinterpretation: tests/contract/safety.json holds this file and the real backend to the same cases
// (contract.test.ts here, src-tauri/tests/contract.rs there). When a rule changes in the core, the contract changes
// with it, and the contract test then says what to change here.
import { BackendError } from '../index';
import type { Allergy } from '../generated/Allergy';
import type { EntrySummary } from '../generated/EntrySummary';
import type { SafetyWarning } from '../generated/SafetyWarning';

/** Lower case, letters and digits only, single spaces (Rust's `char::is_alphanumeric` is Alphabetic or N*). */
export function normaliseMedication(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{Alphabetic}\p{N}]/gu, ' ')
    .split(' ')
    .filter(Boolean)
    .join(' ');
}

/**
 * Known cross-sensitivities: an allergy to the key also applies to these medication words. The core's table, entry
 * for entry; it supplements, and never replaces, the pharmacist's check.
 */
const CROSS_SENSITIVITY: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['penicillin', ['amoxicillin', 'ampicillin', 'piperacillin', 'nafcillin', 'oxacillin', 'dicloxacillin', 'penicillin']],
  ['sulfa', ['sulfamethoxazole', 'sulfasalazine', 'sulfadiazine']],
  ['nsaid', ['ibuprofen', 'naproxen', 'ketorolac', 'diclofenac', 'indomethacin', 'celecoxib']],
  ['aspirin', ['aspirin', 'acetylsalicylic']],
  ['codeine', ['codeine']],
  ['morphine', ['morphine']],
  ['opioid', ['morphine', 'codeine', 'oxycodone', 'hydromorphone', 'fentanyl', 'tramadol']],
];

const utf8 = new TextEncoder();

/** The words that take part in matching: four or more bytes of UTF-8, as the core measures them (`str::len`). */
function words(normalised: string): string[] {
  return normalised.split(' ').filter((w) => utf8.encode(w).length >= 4);
}

/** The active allergies the medication matches: a shared word of four letters or more, or a known cross-sensitivity. */
export function allergyMatches(medication: string, allergies: readonly Allergy[]): Allergy[] {
  const med = words(normaliseMedication(medication));
  return allergies.filter((allergy) => {
    const sub = words(normaliseMedication(allergy.substance));
    const shared = sub.some((w) => med.includes(w));
    const cross = CROSS_SENSITIVITY.some(
      ([key, drugs]) => sub.some((w) => w.startsWith(key)) && drugs.some((d) => med.some((m) => m.startsWith(d))),
    );
    return shared || cross;
  });
}

export function allergyWarning(allergy: Allergy): SafetyWarning {
  const reaction = allergy.reaction === null ? '' : ` (reaction: ${allergy.reaction})`;
  return {
    kind: 'allergy',
    message: `ALLERGY: the patient has an active allergy to ${allergy.substance}${reaction}; giving this medication needs an override reason`,
    entryId: null,
  };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A FHIR dateTime with a time part (RFC 3339, as the core parses it), as milliseconds since 1970; else `null`. */
export function parseFhirTime(text: string | null): number | null {
  const m = text === null ? null : RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.parse would roll 30 February over into March; the core refuses it.
  const realDay = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  if (month < 1 || month > 12 || !realDay || hour > 23 || minute > 59 || second > 59) return null;
  const at = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}${(m[8] ?? '').toUpperCase()}`);
  return Number.isNaN(at) ? null : at;
}

/** What makes two entries possibly the same event (the core's `DuplicateQuery`). */
export interface DuplicateQuery {
  patientMrn: string;
  form: string;
  /** The medication as the form gave it; `null` when the form has none, and then every medication counts. */
  medication: string | null;
  clinicalTime: string | null;
  windowMinutes: number;
  /** The entry being checked itself. */
  exclude: string | null;
}

/**
 * Entries of the same patient and form (and medication, when the query has one) whose clinical time lies within the
 * window of the query's, in whole minutes: possible duplicates. Entered-in-error entries do not count; drafts do.
 */
export function possibleDuplicates(entries: Iterable<EntrySummary>, q: DuplicateQuery): EntrySummary[] {
  const when = parseFhirTime(q.clinicalTime);
  if (when === null) return [];
  const med = q.medication === null ? null : normaliseMedication(q.medication);
  const out: EntrySummary[] = [];
  for (const s of entries) {
    if (s.id === q.exclude || s.status === 'entered-in-error') continue;
    if (s.patientMrn !== q.patientMrn || s.form !== q.form) continue;
    if (med !== null && (s.medication === null || normaliseMedication(s.medication) !== med)) continue;
    const at = parseFhirTime(s.clinicalTime);
    // The core compares `whole_minutes()`, which truncates toward zero: 60 minutes 30 seconds is 60.
    if (at !== null && Math.abs(Math.trunc((at - when) / 60_000)) <= q.windowMinutes) out.push(s);
  }
  return out;
}

export function duplicateWarning(other: EntrySummary): SafetyWarning {
  const medication = other.medication === null ? '' : ` (${other.medication})`;
  return {
    kind: 'possible_duplicate',
    message: `POSSIBLE DUPLICATE: entry ${other.id} by ${other.author} for the same patient and form${medication} at ${other.clinicalTime ?? '?'}`,
    entryId: other.id,
  };
}

/** What the nurse answered to the warnings. */
export interface SafetyAnswers {
  allergyOverride: string | null;
  confirmNotDuplicate: boolean;
}

/** The entries that `warnings` name as possible duplicates (the core's `safety::duplicates_of`). */
export function duplicatesOf(warnings: readonly SafetyWarning[]): string[] {
  return warnings.filter((w) => w.kind === 'possible_duplicate' && w.entryId !== null).map((w) => w.entryId as string);
}

/**
 * Refuses unless every warning has its answer: an override reason for an allergy (to save at all); a confirmation
 * that it is not a duplicate (to sign).
 */
export function gate(warnings: readonly SafetyWarning[], answers: SafetyAnswers, signing: boolean): void {
  if (warnings.some((w) => w.kind === 'allergy') && !answers.allergyOverride?.trim()) {
    throw new BackendError('safety_check', 'an allergy matches this medication: give an override reason to save');
  }
  if (signing && warnings.some((w) => w.kind === 'possible_duplicate') && !answers.confirmNotDuplicate) {
    throw new BackendError(
      'safety_check',
      'this looks like a duplicate of another entry: confirm it is a different event to sign',
    );
  }
}
