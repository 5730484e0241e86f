// Where a form's clinical time comes from, as the core finds it when it loads the form (src/forms/clinical_time.rs):
// the item marked with our clinical-time extension, else a dateTime item whose definition names the resource's
// effective or occurrence time, else the one required, unconditional, non-repeating top-level dateTime item, else
// no item at all, and the form asks "When did this happen?". The memory double needs it to say which forms ask and
// to read an entry's time; it refuses no form (the core does, naming the item).
import type { Extension, QItem, Questionnaire } from '../../forms/questionnaire';

const CLINICAL_TIME = 'http://downtimekit.example.org/fhir/StructureDefinition/clinical-time';
/** The elements of `definition.rs` CLINICAL_TIME_ELEMENTS. */
const ELEMENTS = [
  'effective[x]',
  'effectiveDateTime',
  'occurrence[x]',
  'occurrenceDateTime',
  'performed[x]',
  'performedDateTime',
  'authoredOn',
  'authored',
];

function mark(element: { extension?: Extension[] }): boolean | undefined {
  return element.extension?.find((e) => e.url === CLINICAL_TIME)?.valueBoolean;
}

function allItems(items: QItem[] | undefined): QItem[] {
  return (items ?? []).flatMap((item) => [item, ...allItems(item.item)]);
}

/** `Type.element` after the `#` names an effective or occurrence element directly below the resource. */
function namesEffectiveTime(definition: string | undefined): boolean {
  const element = definition?.split('#')[1] ?? '';
  const [type, path] = element.split(/\.(.*)/s);
  return /^[A-Z][A-Za-z0-9]*$/.test(type ?? '') && ELEMENTS.includes(path ?? '');
}

/** The linkId of the item holding the clinical time, or null when the form asks for it. */
export function clinicalTimeItem(form: Questionnaire): string | null {
  const items = allItems(form.item);
  const marked = items.find((i) => mark(i) === true);
  if (marked) return marked.linkId;
  if (mark(form) === false) return null;
  const unmarked = (i: QItem) => i.type === 'dateTime' && mark(i) === undefined;
  const defined = items.find((i) => unmarked(i) && namesEffectiveTime(i.definition));
  if (defined) return defined.linkId;
  const top = (form.item ?? []).filter(
    (i) => unmarked(i) && i.required === true && !i.repeats && (i.enableWhen ?? []).length === 0,
  );
  return top.length === 1 ? (top[0]?.linkId ?? null) : null;
}

/** No item holds the clinical time: the form screen asks for it and the entry carries it. */
export function asksClinicalTime(form: Questionnaire): boolean {
  return clinicalTimeItem(form) === null;
}
