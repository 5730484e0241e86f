// The form renderer's model: a FHIR R4 Questionnaire of the supported subset (docs/forms-engine.md), the answers a
// nurse types (kept as raw input until saved), enableWhen, and the conversion to and from a QuestionnaireResponse.
//
// This is presentation logic only. The core validates every response again before anything is stored; the checks
// here (a number that is not a number) exist so the nurse sees them beside the field before asking the core.

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}

export interface Extension {
  url: string;
  valueCoding?: Coding;
  valueCodeableConcept?: { coding?: Coding[]; text?: string };
  valueInteger?: number;
  valueDecimal?: number;
  valueCode?: string;
  valueString?: string;
  valueBoolean?: boolean;
}

export interface AnswerOption {
  valueCoding?: Coding;
  valueString?: string;
  valueInteger?: number;
  initialSelected?: boolean;
}

export interface EnableWhen {
  question: string;
  operator: 'exists' | '=' | '!=' | '>' | '<' | '>=' | '<=';
  answerBoolean?: boolean;
  answerCoding?: Coding;
  answerString?: string;
  answerInteger?: number;
  answerDecimal?: number;
  answerDate?: string;
  answerDateTime?: string;
  answerTime?: string;
}

export type ItemType =
  | 'group'
  | 'display'
  | 'boolean'
  | 'decimal'
  | 'integer'
  | 'date'
  | 'dateTime'
  | 'time'
  | 'string'
  | 'text'
  | 'choice'
  | 'open-choice'
  | 'quantity';

export interface QItem {
  linkId: string;
  /** `item.prefix`: the number or letter printed before the text ("1.", "a)"). */
  prefix?: string;
  text?: string;
  type: ItemType;
  required?: boolean;
  repeats?: boolean;
  readOnly?: boolean;
  maxLength?: number;
  enableWhen?: EnableWhen[];
  enableBehavior?: 'all' | 'any';
  answerOption?: AnswerOption[];
  initial?: Record<string, unknown>[];
  /** `item.definition`: the element it fills, as `…StructureDefinition/Type#Type.element`. */
  definition?: string;
  extension?: Extension[];
  item?: QItem[];
}

export interface Questionnaire {
  resourceType: 'Questionnaire';
  url: string;
  version?: string;
  title?: string;
  extension?: Extension[];
  item?: QItem[];
}

/** A quantity as typed: the number's text and the chosen unit's code. */
export interface RawQuantity {
  value: string;
  unit: string;
}

/** One answer as the nurse entered it: text for typed values, a code for choices, a flag for yes/no. */
export type Raw = string | boolean | RawQuantity | null;

export interface QuestionState {
  kind: 'question';
  values: Raw[];
}

export interface GroupState {
  kind: 'group';
  instances: Answers[];
}

/** The answers of one group instance (or the whole form), by linkId. */
export type Answers = Record<string, QuestionState | GroupState>;

/** A QuestionnaireResponse item as the core receives it. */
export interface RItem {
  linkId: string;
  text?: string;
  answer?: Record<string, unknown>[];
  item?: RItem[];
}

export interface PatientRef {
  mrn: string;
  mrnSystem: string;
  name: string;
}

const UNIT = 'http://hl7.org/fhir/StructureDefinition/questionnaire-unit';
const UNIT_OPTION = 'http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption';
const MIN = 'http://hl7.org/fhir/StructureDefinition/minValue';
const MAX = 'http://hl7.org/fhir/StructureDefinition/maxValue';
const ITEM_CONTROL = 'http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl';
const HIDDEN = 'http://hl7.org/fhir/StructureDefinition/questionnaire-hidden';
const ENTRY_FORMAT = 'http://hl7.org/fhir/StructureDefinition/entryFormat';
const SLIDER_STEP = 'http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue';

/** The item's text as the nurse reads it: its `prefix` ("1.", "a)") before the text; the linkId when it has none. */
export function labelOf(item: QItem): string {
  const text = item.text ?? item.linkId;
  return item.prefix ? `${item.prefix} ${text}` : text;
}

/** `questionnaire-hidden`: the item is not shown (its initial or calculated value still goes into the response). */
export function isHidden(item: QItem): boolean {
  return (item.extension ?? []).some((e) => e.url === HIDDEN && e.valueBoolean === true);
}

/** `entryFormat`: the hint a form gives for what to type ("nnn.n", "YYYY-MM-DD"), shown as the field's placeholder. */
export function entryFormatOf(item: QItem): string | undefined {
  return (item.extension ?? []).find((e) => e.url === ENTRY_FORMAT)?.valueString;
}

/** `questionnaire-sliderStepValue`: the step of a slider (1 when the form gives none). */
export function sliderStepOf(item: QItem): number {
  const e = (item.extension ?? []).find((x) => x.url === SLIDER_STEP);
  return e?.valueInteger ?? e?.valueDecimal ?? 1;
}

/**
 * How a field is drawn, from `questionnaire-itemControl` where the form names a control that fits the item's type.
 * Choices default to large radio targets; a control that does not fit the type (a slider on a text item) is ignored.
 * `check-box` on a choice that repeats is one box per option (several may be chosen); `autocomplete` and `lookup`
 * are a plain searchable list of the form's own options (there is no terminology server).
 */
export type Control = 'default' | 'drop-down' | 'check-box' | 'slider' | 'spinner' | 'autocomplete';

export function controlOf(item: QItem): Control {
  const code = (item.extension ?? [])
    .find((e) => e.url === ITEM_CONTROL)
    ?.valueCodeableConcept?.coding?.find((c) => c.code)?.code;
  const choice = item.type === 'choice' || item.type === 'open-choice';
  const number = item.type === 'integer' || item.type === 'decimal';
  switch (code) {
    case 'drop-down':
      return choice ? 'drop-down' : 'default';
    case 'check-box':
      return item.type === 'choice' && item.repeats ? 'check-box' : 'default';
    case 'autocomplete':
    case 'lookup':
      return choice ? 'autocomplete' : 'default';
    case 'slider':
      return number && limitsOf(item).min !== null && limitsOf(item).max !== null ? 'slider' : 'default';
    case 'spinner':
      return number ? 'spinner' : 'default';
    default:
      return 'default';
  }
}

export function canonicalOf(q: Questionnaire): string {
  return q.version ? `${q.url}|${q.version}` : q.url;
}

/** The units a quantity (or a number with a fixed unit) offers. */
export function unitsOf(item: QItem): Coding[] {
  const out: Coding[] = [];
  for (const e of item.extension ?? []) {
    if ((e.url === UNIT || e.url === UNIT_OPTION) && e.valueCoding) out.push(e.valueCoding);
  }
  return out;
}

export function limitsOf(item: QItem): { min: number | null; max: number | null } {
  let min: number | null = null;
  let max: number | null = null;
  for (const e of item.extension ?? []) {
    const v = e.valueInteger ?? e.valueDecimal ?? null;
    if (e.url === MIN) min = v;
    if (e.url === MAX) max = v;
  }
  return { min, max };
}

function sameCode(a: unknown, b: unknown): boolean {
  const x = (a ?? {}) as { system?: string; code?: string };
  const y = (b ?? {}) as { system?: string; code?: string };
  return x.code === y.code && (x.system ?? null) === (y.system ?? null);
}

/** Whether an answer (`{valueCoding: …}`, `{valueString: …}`, …) is one of the answers an answerExpression allows. */
export function isAllowed(answer: Record<string, unknown>, allowed: Record<string, unknown>[]): boolean {
  return allowed.some((a) => {
    if ('valueCoding' in a || 'valueCoding' in answer) return sameCode(a.valueCoding, answer.valueCoding);
    const [ka] = Object.keys(a);
    const [kb] = Object.keys(answer);
    return ka !== undefined && ka === kb && JSON.stringify(a[ka]) === JSON.stringify(answer[kb]);
  });
}

/** An answer option as the answer it gives (`{valueCoding: …}`, `{valueString: …}`, `{valueInteger: …}`). */
export function optionAnswer(option: AnswerOption): Record<string, unknown> {
  if (option.valueCoding !== undefined) return { valueCoding: option.valueCoding };
  if (option.valueString !== undefined) return { valueString: option.valueString };
  return { valueInteger: option.valueInteger };
}

/** The code an answer option is selected by (its coding's code, or its literal value). */
export function optionKey(option: AnswerOption): string {
  if (option.valueCoding) return option.valueCoding.code ?? option.valueCoding.display ?? '';
  if (option.valueString !== undefined) return option.valueString;
  return String(option.valueInteger ?? '');
}

export function optionLabel(option: AnswerOption): string {
  if (option.valueCoding) return option.valueCoding.display ?? option.valueCoding.code ?? '';
  if (option.valueString !== undefined) return option.valueString;
  return String(option.valueInteger ?? '');
}

function emptyRaw(item: QItem): Raw {
  if (item.type === 'boolean') return null;
  if (item.type === 'quantity') return { value: '', unit: unitsOf(item)[0]?.code ?? '' };
  return '';
}

function initialRaw(item: QItem): Raw[] {
  const first = item.initial?.[0];
  if (first) {
    const raw = rawFromAnswer(item, first);
    if (raw !== null) return [raw];
  }
  const selected = item.answerOption?.find((o) => o.initialSelected);
  if (selected) return [optionKey(selected)];
  return [emptyRaw(item)];
}

/** A fresh, empty group instance (with `initial` values) for these items. */
export function emptyAnswers(items: QItem[] | undefined): Answers {
  const out: Answers = {};
  for (const item of items ?? []) {
    if (item.type === 'display') continue;
    if (item.type === 'group') out[item.linkId] = { kind: 'group', instances: [emptyAnswers(item.item)] };
    else out[item.linkId] = { kind: 'question', values: initialRaw(item) };
  }
  return out;
}

export function newRaw(item: QItem): Raw {
  return emptyRaw(item);
}

function isBlank(raw: Raw): boolean {
  if (raw === null) return true;
  if (typeof raw === 'boolean') return false;
  if (typeof raw === 'string') return raw.trim() === '';
  return raw.value.trim() === '';
}

/** Local "YYYY-MM-DDTHH:MM" (what a datetime-local input holds) → FHIR dateTime with the offset. */
export function toFhirDateTime(local: string): string | null {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([.]\d+)?(Z|[+-]\d{2}:\d{2})$/.test(local)) return local;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  if (Number.isNaN(d.getTime())) return null;
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${pad(Number(m[6] ?? 0))}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

/** FHIR dateTime → what a datetime-local input shows (local time, minutes). */
export function toLocalInput(fhir: string): string {
  const d = new Date(fhir);
  if (Number.isNaN(d.getTime())) return fhir;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Now, as a datetime-local input value. */
/** What is wrong with the "When did this happen?" field's value (a datetime-local value), or null: the core checks it
 *  again. */
export function clinicalTimeProblem(local: string): string | null {
  if (local.trim() === '') return 'When did this happen? is required: enter the date and the time.';
  return toFhirDateTime(local) === null ? 'When did this happen? needs a date and a time.' : null;
}

/** The core's findings about the asked clinical time have no linkId (no item holds it): they go beside its field. */
export function isClinicalTimeFinding(f: { linkId: string | null; message: string }): boolean {
  return f.linkId === null && f.message.startsWith('When did this happen?');
}

export function nowLocalInput(now: Date = new Date()): string {
  return toLocalInput(now.toISOString());
}

/**
 * One raw value as a FHIR answer, or a problem to show beside the field. Blank values give neither (they are left
 * out of the response; `required` is then the core's finding).
 */
export function answerOf(item: QItem, raw: Raw): { answer?: Record<string, unknown>; problem?: string } {
  if (isBlank(raw)) return {};
  switch (item.type) {
    case 'boolean':
      return { answer: { valueBoolean: raw === true } };
    case 'integer': {
      const text = String(raw).trim();
      if (!/^[+-]?\d+$/.test(text)) return { problem: 'Enter a whole number.' };
      return { answer: { valueInteger: Number(text) } };
    }
    case 'decimal': {
      const text = String(raw).trim().replace(',', '.');
      if (!/^[+-]?\d+(\.\d+)?$/.test(text)) return { problem: 'Enter a number, for example 37.5.' };
      return { answer: { valueDecimal: Number(text) } };
    }
    case 'quantity': {
      const q = raw as RawQuantity;
      const text = q.value.trim().replace(',', '.');
      if (!/^[+-]?\d+(\.\d+)?$/.test(text)) return { problem: 'Enter an amount, for example 500.' };
      const unit = unitsOf(item).find((u) => u.code === q.unit);
      if (!unit) return { problem: 'Choose a unit.' };
      return {
        answer: {
          valueQuantity: { value: Number(text), unit: unit.display ?? unit.code, system: unit.system, code: unit.code },
        },
      };
    }
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(String(raw))
        ? { answer: { valueDate: String(raw) } }
        : { problem: 'Enter a date.' };
    case 'dateTime': {
      const fhir = toFhirDateTime(String(raw));
      return fhir ? { answer: { valueDateTime: fhir } } : { problem: 'Enter a date and time.' };
    }
    case 'time': {
      const text = String(raw);
      if (!/^\d{2}:\d{2}(:\d{2})?$/.test(text)) return { problem: 'Enter a time.' };
      return { answer: { valueTime: text.length === 5 ? `${text}:00` : text } };
    }
    case 'choice':
    case 'open-choice': {
      const option = item.answerOption?.find((o) => optionKey(o) === raw);
      if (option?.valueCoding) return { answer: { valueCoding: { ...option.valueCoding } } };
      if (option?.valueString !== undefined) return { answer: { valueString: option.valueString } };
      if (option?.valueInteger !== undefined) return { answer: { valueInteger: option.valueInteger } };
      if (item.type === 'open-choice') return { answer: { valueString: String(raw).trim() } };
      return { problem: 'Choose one of the options.' };
    }
    default:
      return { answer: { valueString: String(raw) } };
  }
}

/** A FHIR answer back as raw input (to edit an amendment, or restore a draft). */
export function rawFromAnswer(item: QItem, answer: Record<string, unknown>): Raw {
  if ('valueBoolean' in answer) return answer.valueBoolean === true;
  if ('valueInteger' in answer) {
    const match = item.answerOption?.find((o) => o.valueInteger === answer.valueInteger);
    return match ? optionKey(match) : String(answer.valueInteger);
  }
  if ('valueDecimal' in answer) return String(answer.valueDecimal);
  if ('valueQuantity' in answer) {
    const q = answer.valueQuantity as { value?: number; code?: string };
    return { value: q.value === undefined ? '' : String(q.value), unit: q.code ?? unitsOf(item)[0]?.code ?? '' };
  }
  if ('valueCoding' in answer) {
    const c = answer.valueCoding as Coding;
    return c.code ?? c.display ?? '';
  }
  if ('valueDateTime' in answer) return toLocalInput(String(answer.valueDateTime));
  if ('valueDate' in answer) return String(answer.valueDate);
  if ('valueTime' in answer) return String(answer.valueTime).slice(0, 5);
  if ('valueString' in answer) return String(answer.valueString);
  return null;
}

/** Where enableWhen looks for the answers of its question: this group instance first, then outwards. */
export type Scope = Answers[];

/** The item with this linkId, anywhere in the form. */
export function findQuestion(items: QItem[] | undefined, linkId: string): QItem | undefined {
  for (const item of items ?? []) {
    if (item.linkId === linkId) return item;
    const inner = findQuestion(item.item, linkId);
    if (inner) return inner;
  }
  return undefined;
}

function findValues(answers: Answers, linkId: string): Raw[] | undefined {
  const here = answers[linkId];
  if (here?.kind === 'question') return here.values;
  for (const state of Object.values(answers)) {
    if (state.kind === 'group') {
      for (const instance of state.instances) {
        const found = findValues(instance, linkId);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function compare(op: EnableWhen['operator'], a: unknown, b: unknown): boolean {
  if (op === '=') return a === b;
  if (op === '!=') return a !== b;
  if (typeof a !== typeof b || a === undefined || a === null) return false;
  const x = a as number | string;
  const y = b as number | string;
  if (op === '>') return x > y;
  if (op === '<') return x < y;
  if (op === '>=') return x >= y;
  return x <= y;
}

function comparable(answer: Record<string, unknown>): unknown {
  if ('valueCoding' in answer) return (answer.valueCoding as Coding).code;
  if ('valueQuantity' in answer) return (answer.valueQuantity as { value?: number }).value;
  const key = Object.keys(answer)[0];
  return key ? answer[key] : undefined;
}

function expected(condition: EnableWhen): unknown {
  if (condition.answerCoding) return condition.answerCoding.code;
  for (const key of [
    'answerBoolean',
    'answerString',
    'answerInteger',
    'answerDecimal',
    'answerDate',
    'answerDateTime',
    'answerTime',
  ] as const) {
    if (condition[key] !== undefined) return condition[key];
  }
  return undefined;
}

/**
 * Whether an item shows, given the answers so far (enableWhen, live). `off` holds the items the form's
 * `enableWhenExpression`s turned off (forms/expressions.ts).
 */
export function isEnabled(form: Questionnaire, item: QItem, scope: Scope, off?: ReadonlySet<string>): boolean {
  if (off?.has(item.linkId)) return false;
  const conditions = item.enableWhen ?? [];
  if (conditions.length === 0) return true;
  const results = conditions.map((condition) => {
    const question = findQuestion(form.item, condition.question);
    let values: Raw[] | undefined;
    for (const answers of scope) {
      values = findValues(answers, condition.question);
      if (values) break;
    }
    const answers = question
      ? (values ?? []).map((raw) => answerOf(question, raw).answer).filter((a): a is Record<string, unknown> => !!a)
      : [];
    if (condition.operator === 'exists') return (answers.length > 0) === (condition.answerBoolean !== false);
    const want = expected(condition);
    if (condition.operator === '!=') return answers.length === 0 || answers.every((a) => comparable(a) !== want);
    return answers.some((a) => compare(condition.operator, comparable(a), want));
  });
  return item.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
}

/** Problems found while converting (a number that is not a number), by linkId. */
export type LocalProblems = Record<string, string>;

function itemsOf(
  form: Questionnaire,
  items: QItem[] | undefined,
  answers: Answers,
  scope: Scope,
  problems: LocalProblems,
  off: ReadonlySet<string> | undefined,
): RItem[] {
  const out: RItem[] = [];
  for (const item of items ?? []) {
    if (item.type === 'display' || !isEnabled(form, item, [answers, ...scope], off)) continue;
    const state = answers[item.linkId];
    if (!state) continue;
    if (state.kind === 'group') {
      for (const instance of state.instances) {
        const inner = itemsOf(form, item.item, instance, [answers, ...scope], problems, off);
        if (inner.length > 0) out.push({ linkId: item.linkId, ...(item.text ? { text: item.text } : {}), item: inner });
      }
    } else {
      const answer: Record<string, unknown>[] = [];
      for (const raw of state.values) {
        const converted = answerOf(item, raw);
        if (converted.problem) problems[item.linkId] = converted.problem;
        if (converted.answer) answer.push(converted.answer);
      }
      if (answer.length > 0) out.push({ linkId: item.linkId, ...(item.text ? { text: item.text } : {}), answer });
    }
  }
  return out;
}

/**
 * The QuestionnaireResponse for these answers (disabled and blank items left out; `off` as for `isEnabled`), and the
 * local problems.
 */
export function toResponse(
  form: Questionnaire,
  answers: Answers,
  patient: PatientRef,
  entryId: string | null,
  off?: ReadonlySet<string>,
): { response: Record<string, unknown>; problems: LocalProblems } {
  const problems: LocalProblems = {};
  const item = itemsOf(form, form.item, answers, [], problems, off);
  const response: Record<string, unknown> = {
    resourceType: 'QuestionnaireResponse',
    ...(entryId ? { id: entryId } : {}),
    questionnaire: canonicalOf(form),
    status: 'completed',
    subject: { identifier: { system: patient.mrnSystem, value: patient.mrn }, display: patient.name },
    item,
  };
  return { response, problems };
}

function answersFrom(items: QItem[] | undefined, ritems: RItem[]): Answers {
  const out = emptyAnswers(items);
  for (const item of items ?? []) {
    const matches = ritems.filter((r) => r.linkId === item.linkId);
    if (matches.length === 0) continue;
    if (item.type === 'group') {
      out[item.linkId] = { kind: 'group', instances: matches.map((m) => answersFrom(item.item, m.item ?? [])) };
    } else if (item.type !== 'display') {
      const values = (matches[0]?.answer ?? []).map((a) => rawFromAnswer(item, a)).filter((r) => r !== null);
      out[item.linkId] = { kind: 'question', values: values.length > 0 ? values : [emptyRaw(item)] };
    }
  }
  return out;
}

/** The answers of a saved response, to edit them (amend). */
export function fromResponse(form: Questionnaire, response: unknown): Answers {
  const items = (response as { item?: RItem[] } | null)?.item ?? [];
  return answersFrom(form.item, Array.isArray(items) ? items : []);
}

/** Whether two answer sets differ (the unsaved-changes guard compares against the last saved copy). */
export function sameAnswers(a: Answers, b: Answers): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A deep copy without Svelte's proxies (for drafts and the unsaved-changes baseline). */
export function snapshot(answers: Answers): Answers {
  return JSON.parse(JSON.stringify(answers)) as Answers;
}

/** The title to show for a form. */
export function titleOf(form: Questionnaire): string {
  return form.title ?? form.url;
}

/** The core's wording (src/forms/validate.rs, text.rs), so a finding reads the same from either side. */
export const MSG_REQUIRED = 'required';
/** The core's words for an answer an answerExpression does not allow (src/forms/validate.rs MSG_NOT_ALLOWED). */
export const MSG_NOT_ALLOWED = 'not one of the answers its answerExpression allows';
export const MSG_CONTROL = 'contains a control character';
export const MSG_BIDI = 'contains a bidirectional override character';

function formatNumber(n: number): string {
  return String(n);
}

/** A character the core refuses in an answer (src/forms/text.rs): C0/C1 controls (newline and tab only in text). */
function textProblem(text: string, multiline: boolean): string | null {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const control = c <= 0x1f || (c >= 0x7f && c <= 0x9f);
    if (control && !(multiline && (ch === '\n' || ch === '\t'))) return MSG_CONTROL;
  }
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) return MSG_BIDI;
  }
  return null;
}

function valueProblems(item: QItem, raw: Raw): string[] {
  if (isBlank(raw)) return [];
  const out: string[] = [];
  const text = typeof raw === 'string' ? raw : typeof raw === 'object' && raw ? raw.value : '';
  const problem = textProblem(text, item.type === 'text');
  if (problem) out.push(problem);
  if (item.maxLength !== undefined && (item.type === 'string' || item.type === 'text') && [...text.normalize('NFC')].length > item.maxLength) {
    out.push(`longer than the maximum of ${item.maxLength} characters`);
  }
  const converted = answerOf(item, raw).answer;
  const n = converted?.valueInteger ?? converted?.valueDecimal ?? (converted?.valueQuantity as { value?: number } | undefined)?.value;
  if (typeof n === 'number' && item.type !== 'choice' && item.type !== 'open-choice') {
    const { min, max } = limitsOf(item);
    if (min !== null && n < min) out.push(`below the minimum of ${formatNumber(min)}`);
    if (max !== null && n > max) out.push(`above the maximum of ${formatNumber(max)}`);
  }
  return out;
}

function hasContent(state: QuestionState | GroupState | undefined, item: QItem): boolean {
  if (!state) return false;
  if (state.kind === 'question') return state.values.some((raw) => !isBlank(raw) && answerOf(item, raw).answer !== undefined);
  return state.instances.some((instance) => (item.item ?? []).some((child) => hasContent(instance[child.linkId], child)));
}

/**
 * The findings the screen can tell before asking the core, by linkId, in the core's words: a required item left
 * empty, a number outside its limits, text over its maximum length or holding a character the core refuses. The
 * same cases (tests/contract/forms.json) run against the core's `validate_response` and this function, so the two
 * agree on everything the screen checks; the core checks the rest when the entry is saved.
 */
export function screenFindings(
  form: Questionnaire,
  answers: Answers,
  off?: ReadonlySet<string>,
  allowed?: ReadonlyMap<string, Record<string, unknown>[]>,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (linkId: string, message: string) => {
    const list = (out[linkId] ??= []);
    if (!list.includes(message)) list.push(message);
  };
  const level = (items: QItem[] | undefined, here: Answers, scope: Scope) => {
    for (const item of items ?? []) {
      if (item.type === 'display' || !isEnabled(form, item, [here, ...scope], off)) continue;
      const state = here[item.linkId];
      if (item.required && !hasContent(state, item)) add(item.linkId, MSG_REQUIRED);
      if (state?.kind === 'group') {
        // As the core: the items of a group instance are checked when the instance holds an answer (an empty
        // instance is left out of the response).
        for (const instance of state.instances) {
          if (hasContent({ kind: 'group', instances: [instance] }, item)) level(item.item, instance, [here, ...scope]);
        }
      } else if (state) {
        for (const raw of state.values) for (const message of valueProblems(item, raw)) add(item.linkId, message);
        const only = allowed?.get(item.linkId);
        if (only) {
          // An option its answerExpression leaves out (free text of an open choice is not filtered, as in the core).
          for (const raw of state.values) {
            const option = (item.answerOption ?? []).find((o) => optionKey(o) === raw);
            if (option && !isAllowed(optionAnswer(option), only)) add(item.linkId, MSG_NOT_ALLOWED);
          }
        }
      }
    }
  };
  level(form.item, answers, []);
  return out;
}
