// The MAR tab's presentation logic: a due row's words (never colour alone), and the medication-administration form's
// answers pre-filled from an order. The time given is left for the nurse to enter: a dose is charted at the time it
// was given, which is not silently the time it was due.
import type { MarDue, MarOrder } from '../../backend';
import { dateTime } from '../../frame';
import { emptyAnswers, optionKey, optionLabel, unitsOf, type Answers, type Questionnaire, type QItem, type Raw } from '../../forms/questionnaire';

/** The short name of the form a MAR row opens (forms/medication-administration.json). */
export const DOSE_FORM = 'medication-administration';

/** What the form screen says above the form: which dose of which order this is for. */
export interface DoseContext {
  medication: string;
  /** The due time (absent for an as-needed dose). */
  dueAt: string | null;
  status: MarDue['status'];
}

const words = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);

/** Whether `short`'s words start `long`'s ("Oral" and "Oral route", "metoprolol" and "Metoprolol Tartrate 25 MG"). */
function startsWithWords(long: string, short: string): boolean {
  const [a, b] = [words(long), words(short)];
  return b.length > 0 && b.every((w, i) => a[i] === w);
}

function question(items: QItem[] | undefined, linkId: string): QItem | undefined {
  return items?.find((i) => i.linkId === linkId);
}

function set(answers: Answers, linkId: string, value: Raw) {
  const state = answers[linkId];
  if (state?.kind === 'question') state.values = [value];
}

/** The form's answers for a dose of `order`: medication, dose and route from the order, as needed when it is. */
export function prefill(form: Questionnaire, order: MarOrder): Answers {
  const answers = emptyAnswers(form.item);
  const medication = question(form.item, 'medication');
  const option = medication?.answerOption?.find(
    (o) => startsWithWords(order.medication, optionLabel(o)) || startsWithWords(optionLabel(o), order.medication),
  );
  // The order's own name when the form's list has no such medication: the core matches doses by name or code.
  set(answers, 'medication', option ? optionKey(option) : order.medication);
  const dose = question(form.item, 'dose');
  const m = /^\s*([0-9]+(?:[.,][0-9]+)?)\s*(\S+)?/.exec(order.dose ?? '');
  if (dose && m) {
    const unit = unitsOf(dose).find((u) => u.code === m[2] || u.display === m[2]);
    set(answers, 'dose', { value: m[1] ?? '', unit: unit?.code ?? unitsOf(dose)[0]?.code ?? '' });
  }
  const route = question(form.item, 'route')?.answerOption?.find((o) => order.route && startsWithWords(optionLabel(o), order.route));
  if (route) set(answers, 'route', optionKey(route));
  if (order.kind === 'prn' && question(form.item, 'prn')) set(answers, 'prn', true);
  return answers;
}

/** A due row's status in words, for the status cell (with its icon) and the chart button's name. */
export function statusWords(d: MarDue): string {
  switch (d.status) {
    case 'overdue':
      return 'OVERDUE';
    case 'due':
      return 'DUE NOW';
    case 'given':
      return 'Given';
    case 'not-given':
      return 'Not given';
    case 'scheduled':
      return 'Scheduled';
    case 'prn':
      return 'As needed';
  }
}

/** What the form screen says about the dose it is charting. */
export function contextText(c: DoseContext): string {
  const when = c.dueAt ? ` due ${dateTime(c.dueAt)}` : ' (as needed)';
  const state = c.status === 'overdue' ? ' — OVERDUE' : c.status === 'due' ? ' — due now' : '';
  return `Charting the ${c.medication} dose${when}${state}. Check the medication, dose and route against the order, then enter the time you gave it (Now fills in the current time).`;
}
