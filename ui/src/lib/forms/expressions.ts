// The SDC expressions of a form on the screen, evaluated live with fhirpath.js (HL7's reference FHIRPath engine):
// `variable`, `enableWhenExpression`, `calculatedExpression`, `initialExpression`, and `answerExpression` where it
// filters the item's listed options (the core loads it nowhere else).
//
// The core evaluates the same expressions with its own FHIRPath subset when the entry is saved, fills in a calculated
// answer the response lacks and refuses one that differs (docs/forms-engine.md); the core only loads forms whose
// expressions are inside that subset, and tests/contract/fhirpath.json holds the two engines to the same results.
//
// How an expression is evaluated (the same rules as the core):
// - `%resource` is the evaluation response: every non-display item of the form, one per group instance, in form
//   order, with the answers of the items that are enabled and answered (an item with no answer has no `answer`).
// - An item's expression runs on that item's element of the evaluation response (`%context`, the focus); a
//   questionnaire-level expression on the response itself.
// - `variable`s are evaluated in order, questionnaire-level ones first, an item's ones before its expressions; they
//   are in scope for that item and the items inside it.
// - `%questionnaire` is the form, `%patient` the patient the form is filled for, `%user` the signed-in nurse.
// - Results key on linkId (first instance): a form with an expression inside a repeating group is evaluated on the
//   group's first instance.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import {
  answerOf,
  isAllowed,
  optionAnswer,
  type AnswerOption,
  rawFromAnswer,
  type Answers,
  type Extension,
  type GroupState,
  type QItem,
  type Questionnaire,
  type Raw,
} from './questionnaire';

const SDC = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/';
const VARIABLE = 'http://hl7.org/fhir/StructureDefinition/variable';
const CALCULATED = `${SDC}sdc-questionnaire-calculatedExpression`;
const ENABLE_WHEN = `${SDC}sdc-questionnaire-enableWhenExpression`;
const INITIAL = `${SDC}sdc-questionnaire-initialExpression`;
const ANSWER = `${SDC}sdc-questionnaire-answerExpression`;

interface ExpressionValue {
  name?: string;
  language?: string;
  expression?: string;
}

type Ext = Extension & { valueExpression?: ExpressionValue };

/** Who and what the expressions may name besides the response: `%patient` and `%user`, as FHIR resources. */
export interface ExpressionContext {
  patient?: Record<string, unknown> | null;
  user?: Record<string, unknown> | null;
}

/** What the expressions decide for the current answers. */
export interface Derived {
  /** Items an `enableWhenExpression` turned off, by linkId. */
  disabled: Set<string>;
  /** The answers `calculatedExpression` gives, by linkId (an empty list clears the item). */
  calculated: Map<string, Record<string, unknown>[]>;
  /**
   * The answers an `answerExpression` allows, by linkId (as answer JSON: `valueCoding`, `valueString`, …); an item
   * that is not here may take any of its options.
   */
  allowed: Map<string, Record<string, unknown>[]>;
}

export const NOTHING_DERIVED: Derived = { disabled: new Set(), calculated: new Map(), allowed: new Map() };

/** The options to offer for an item: all its listed ones, or those its answerExpression allows now. */
export function offeredOptions(item: QItem, derived: Derived): AnswerOption[] {
  const options = item.answerOption ?? [];
  const allowed = derived.allowed.get(item.linkId);
  if (!allowed) return options;
  return options.filter((o) => isAllowed(optionAnswer(o), allowed));
}

function expressions(item: { extension?: Extension[] }, url: string): ExpressionValue[] {
  return ((item.extension ?? []) as Ext[]).filter((e) => e.url === url && e.valueExpression).map((e) => e.valueExpression!);
}

/** Whether the form uses any expression the screen must evaluate (most forms do not: nothing runs for them). */
export function usesExpressions(form: Questionnaire): boolean {
  const urls = [VARIABLE, CALCULATED, ENABLE_WHEN, INITIAL, ANSWER];
  const has = (x: { extension?: Extension[]; item?: QItem[] }): boolean =>
    (x.extension ?? []).some((e) => urls.includes(e.url)) || (x.item ?? []).some(has);
  return has(form);
}

/** Whether an item's answer is computed by the form (shown read-only: the core refuses a different one). */
export function isCalculated(item: QItem): boolean {
  return expressions(item, CALCULATED).length > 0;
}

/** A response element for evaluation: the item, and its answers when it is enabled and answered. */
interface EvalItem {
  linkId: string;
  text?: string;
  answer?: Record<string, unknown>[];
  item?: EvalItem[];
}

function evalItems(items: QItem[] | undefined, answers: Answers, derived: Derived): EvalItem[] {
  const out: EvalItem[] = [];
  for (const item of items ?? []) {
    if (item.type === 'display') continue;
    const state = answers[item.linkId];
    const off = derived.disabled.has(item.linkId);
    const base: EvalItem = { linkId: item.linkId, ...(item.text ? { text: item.text } : {}) };
    if (state?.kind === 'group') {
      for (const instance of state.instances) out.push({ ...base, item: evalItems(item.item, off ? {} : instance, derived) });
    } else {
      const calculated = derived.calculated.get(item.linkId);
      const given = off || !state ? [] : state.values.map((raw) => answerOf(item, raw).answer).filter((a) => !!a);
      const answer = calculated && !off ? calculated : given;
      out.push(answer.length > 0 ? { ...base, answer: answer as Record<string, unknown>[] } : base);
    }
  }
  return out;
}

/**
 * SDC's `answers()` (every answer in the response, nested ones included), which fhirpath.js 5.2.2 does not have; the
 * answers keep their place in the response, so `ordinal()` after it finds each answer's item.
 */
const SDC_FUNCTIONS = {
  answers: {
    fn: (inputs: unknown[]) =>
      inputs.flatMap((node) =>
        fhirpath.evaluate(node, 'descendants().where(answer.exists()).answer', {}, r4, { resolveInternalTypes: false }),
      ),
    arity: { 0: [] },
  },
};

/** Evaluates one expression with fhirpath.js, as the screen and the contract test (fhirpath.test.ts) do. */
export function evaluateFhirPath(
  focus: unknown,
  path: string | { base: string; expression: string },
  env: Record<string, unknown>,
  resolve = true,
): unknown[] {
  const result = fhirpath.evaluate(focus, path, env, r4, {
    resolveInternalTypes: resolve,
    userInvocationTable: SDC_FUNCTIONS,
  });
  return Array.isArray(result) ? result : [];
}

function evaluate(
  focus: unknown,
  base: string,
  expression: string,
  env: Record<string, unknown>,
  resolve = true,
): unknown[] | null {
  try {
    // A variable keeps fhirpath.js's typed nodes (`%height.answer.value` needs to know it is a decimal); a result
    // the screen uses is resolved to plain values.
    return evaluateFhirPath(focus, { base, expression }, env, resolve);
  } catch {
    // The core refused at load every form whose expressions it cannot evaluate; an error here is a value the
    // expression cannot use yet (a half-typed number): the item is left as it is.
    return null;
  }
}

function withVariables(
  owner: { extension?: Extension[] },
  focus: unknown,
  base: string,
  env: Record<string, unknown>,
): Record<string, unknown> {
  const scoped = { ...env };
  for (const v of expressions(owner, VARIABLE)) {
    if (!v.name || !v.expression) continue;
    scoped[v.name] = evaluate(focus, base, v.expression, scoped, false) ?? [];
  }
  return scoped;
}

/** A calculated result as answers of the item's type (values of another type are left out). */
function asAnswers(item: QItem, values: unknown[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const v of values) {
    if (item.type === 'decimal' && typeof v === 'number') out.push({ valueDecimal: v });
    else if (item.type === 'integer' && typeof v === 'number' && Number.isInteger(v)) out.push({ valueInteger: v });
    else if (item.type === 'boolean' && typeof v === 'boolean') out.push({ valueBoolean: v });
    else if ((item.type === 'string' || item.type === 'text') && (typeof v === 'string' || typeof v === 'number'))
      out.push({ valueString: String(v) });
    else if (item.type === 'date' && typeof v === 'string') out.push({ valueDate: v });
    else if (item.type === 'dateTime' && typeof v === 'string') out.push({ valueDateTime: v });
    else if ((item.type === 'choice' || item.type === 'open-choice') && v && typeof v === 'object' && 'code' in v)
      out.push({ valueCoding: v });
    else if ((item.type === 'choice' || item.type === 'open-choice') && typeof v === 'string') out.push({ valueString: v });
    else if (item.type === 'quantity' && v && typeof v === 'object' && 'value' in v) out.push({ valueQuantity: v });
  }
  return out;
}

/** One evaluation step: an item, its element of the evaluation response, and the variables in scope for it. */
type Visit = (item: QItem, element: EvalItem, run: (expression: string) => unknown[] | null) => void;

/**
 * Visits every non-display item of the form with its element and its variables (questionnaire-level first, then each
 * item's own before its expressions and its children's), the order the evaluation rules at the top of this file give.
 */
function visitItems(form: Questionnaire, resource: Record<string, unknown>, env: Record<string, unknown>, visit: Visit) {
  const base = 'QuestionnaireResponse.item';
  const walk = (items: QItem[] | undefined, elements: EvalItem[], scope: Record<string, unknown>) => {
    for (const item of items ?? []) {
      if (item.type === 'display') continue;
      const element = elements.find((e) => e.linkId === item.linkId) ?? { linkId: item.linkId };
      const scoped = withVariables(item, element, base, { ...scope, context: element });
      visit(item, element, (expression) => evaluate(element, base, expression, scoped));
      walk(item.item, element.item ?? [], scoped);
    }
  };
  const scoped = withVariables(form, resource, 'QuestionnaireResponse', { ...env, context: resource });
  walk(form.item, (resource.item as EvalItem[]) ?? [], scoped);
}

function sameDerived(a: Derived, b: Derived): boolean {
  return (
    JSON.stringify([...a.disabled].sort()) === JSON.stringify([...b.disabled].sort()) &&
    JSON.stringify([...a.calculated].sort()) === JSON.stringify([...b.calculated].sort()) &&
    JSON.stringify([...a.allowed].sort()) === JSON.stringify([...b.allowed].sort())
  );
}

/** The evaluation response for these answers (see the top of this file). */
export function evaluationResponse(form: Questionnaire, answers: Answers, derived: Derived): Record<string, unknown> {
  return { resourceType: 'QuestionnaireResponse', status: 'in-progress', item: evalItems(form.item, answers, derived) };
}

/**
 * What the form's expressions decide for these answers. A calculated value can feed another expression and an item
 * turned off drops its answers, so evaluation repeats until nothing changes (at most four passes: a form whose
 * expressions still change after that keeps the fourth pass's result).
 */
export function derive(form: Questionnaire, answers: Answers, context: ExpressionContext): Derived {
  if (!usesExpressions(form)) return NOTHING_DERIVED;
  let derived = NOTHING_DERIVED;
  for (let pass = 0; pass < 4; pass++) {
    const resource = evaluationResponse(form, answers, derived);
    const next: Derived = { disabled: new Set(), calculated: new Map(), allowed: new Map() };
    visitItems(form, resource, environment(form, resource, context), (item, _element, run) => {
      for (const e of expressions(item, ENABLE_WHEN)) {
        const result = e.expression ? run(e.expression) : null;
        if (result && !(result.length === 1 && result[0] === true)) next.disabled.add(item.linkId);
      }
      for (const e of expressions(item, CALCULATED)) {
        const result = e.expression ? run(e.expression) : null;
        if (result) next.calculated.set(item.linkId, asAnswers(item, result));
      }
      for (const e of expressions(item, ANSWER)) {
        const result = e.expression ? run(e.expression) : null;
        // An expression that cannot be evaluated yet (a half-typed answer it reads) filters nothing; the core
        // checks the saved answer.
        if (result) next.allowed.set(item.linkId, asAnswers(item, result));
      }
    });
    if (sameDerived(next, derived)) return next;
    derived = next;
  }
  return derived;
}

function environment(
  form: Questionnaire,
  resource: Record<string, unknown>,
  context: ExpressionContext,
): Record<string, unknown> {
  return { resource, questionnaire: form, patient: context.patient ?? null, user: context.user ?? null };
}

/** The answers `initialExpression` gives a new form (for example the patient's name from `%patient`), by linkId. */
export function initialValues(form: Questionnaire, context: ExpressionContext): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  if (!usesExpressions(form)) return out;
  const resource = evaluationResponse(form, {}, NOTHING_DERIVED);
  visitItems(form, resource, environment(form, resource, context), (item, _element, run) => {
    for (const e of expressions(item, INITIAL)) {
      const result = e.expression ? run(e.expression) : null;
      const values = result ? asAnswers(item, result) : [];
      if (values.length > 0) out.set(item.linkId, item.repeats ? values : values.slice(0, 1));
    }
  });
  return out;
}

function questionState(answers: Answers, linkId: string): { values: Raw[] } | undefined {
  const here = answers[linkId];
  if (here?.kind === 'question') return here;
  for (const state of Object.values(answers)) {
    if (state.kind !== 'group') continue;
    const found = questionState((state as GroupState).instances[0] ?? {}, linkId);
    if (found) return found;
  }
  return undefined;
}

function findItem(items: QItem[] | undefined, linkId: string): QItem | undefined {
  for (const item of items ?? []) {
    if (item.linkId === linkId) return item;
    const inner = findItem(item.item, linkId);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * Writes answers given by linkId (calculated or initial values) into the answer state as the fields show them.
 * Returns whether anything changed, so that a live update does not loop on its own writes.
 */
export function applyValues(form: Questionnaire, answers: Answers, values: Map<string, Record<string, unknown>[]>): boolean {
  let changed = false;
  for (const [linkId, given] of values) {
    const item = findItem(form.item, linkId);
    const state = questionState(answers, linkId);
    if (!item || !state) continue;
    const raws = given.map((a) => rawFromAnswer(item, a)).filter((r) => r !== null);
    const next = raws.length > 0 ? raws : [typeof state.values[0] === 'boolean' ? null : ''];
    if (JSON.stringify(next) !== JSON.stringify(state.values)) {
      state.values = next;
      changed = true;
    }
  }
  return changed;
}

/** The patient as a FHIR Patient for `%patient` (what the registration holds; nothing else is known offline). */
export function patientResource(p: {
  name: string;
  mrn: string;
  mrnSystem: string;
  birthDate: string | null;
  gender: string | null;
}): Record<string, unknown> {
  const [family, given] = p.name.split(',').map((s) => s.trim());
  return {
    resourceType: 'Patient',
    identifier: [{ system: p.mrnSystem, value: p.mrn }],
    name: [{ ...(family ? { family } : {}), ...(given ? { given: given.split(/\s+/) } : {}), text: p.name }],
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    ...(p.gender ? { gender: p.gender } : {}),
  };
}

/** The signed-in nurse as a FHIR Practitioner for `%user`. */
export function userResource(u: { username: string; displayName: string }): Record<string, unknown> {
  const words = u.displayName.trim().split(/\s+/).filter(Boolean);
  const family = words.length > 1 ? words[words.length - 1] : undefined;
  const given = words.length > 1 ? words.slice(0, -1) : words;
  return {
    resourceType: 'Practitioner',
    identifier: [{ system: 'urn:dtk:user', value: u.username }],
    name: [{ ...(family ? { family } : {}), given, text: u.displayName }],
  };
}
