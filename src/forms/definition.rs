//! Definition-based extraction targets: which `item.definition` elements of which resource types the engine fills,
//! which item kinds may fill each (`Conv`), and how a value is written at an element path.
//!
//! One table read by two stages: the loader refuses a definition that is not listed here, and extraction fills
//! exactly what is listed, so a form that loads can always be extracted.

use serde_json::{Map, Value};

use super::model::{AnswerValue, Item, ItemType};

/// Resource types a group or the questionnaire may name in `itemExtractionContext`.
pub const SUPPORTED_CONTEXTS: &[&str] =
    &["MedicationAdministration", "MedicationRequest", "DocumentReference", "Patient", "Encounter"];

/// How an answer becomes a FHIR element value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conv {
    Code,
    CodeableConcept,
    Coding,
    Quantity,
    DateTime,
    Date,
    Str,
    RefDisplay,
    Annotation,
    Attachment,
    Identifier,
}

impl Conv {
    /// Can an item of this kind fill an element of this type?
    pub(crate) fn accepts(self, item: &Item) -> bool {
        use ItemType as T;
        let coded_choice = item.answer_options.first().is_some_and(|o| matches!(o.value, AnswerValue::Coding(_)));
        match self {
            Conv::Code | Conv::Coding => item.kind == T::Choice && coded_choice,
            Conv::CodeableConcept => matches!(item.kind, T::Choice | T::OpenChoice | T::String),
            Conv::Quantity => {
                item.kind == T::Quantity || (matches!(item.kind, T::Decimal | T::Integer) && item.units.len() == 1)
            }
            Conv::DateTime => matches!(item.kind, T::DateTime | T::Date),
            Conv::Date => item.kind == T::Date,
            Conv::Str | Conv::RefDisplay => {
                matches!(item.kind, T::String | T::Text | T::Choice | T::OpenChoice)
            }
            Conv::Annotation => item.kind.is_question(),
            Conv::Attachment => matches!(item.kind, T::Text | T::String),
            Conv::Identifier => item.kind == T::String,
        }
    }
}

/// One supported `item.definition` target.
#[derive(Debug)]
pub(crate) struct ElementSpec {
    /// Element path below the resource type, e.g. `dosage.dose`.
    pub path: &'static str,
    /// Indexes of path segments that are arrays in R4 (the first element is filled unless it is `push_at`).
    arrays: &'static [usize],
    /// Index of the array segment that gets a new element per answer (lists: note, reasonCode, content …).
    push_at: Option<usize>,
    pub conv: Conv,
}

impl ElementSpec {
    pub(crate) fn is_list(&self) -> bool {
        self.push_at.is_some()
    }

    /// Writes `v` at this element's path below the resource object `obj`.
    pub(crate) fn write(&self, obj: &mut Map<String, Value>, v: Value) {
        put(obj, self, &self.path.split('.').collect::<Vec<_>>(), 0, v);
    }
}

const fn one(path: &'static str, arrays: &'static [usize], conv: Conv) -> ElementSpec {
    ElementSpec { path, arrays, push_at: None, conv }
}
const fn list(path: &'static str, arrays: &'static [usize], push_at: usize, conv: Conv) -> ElementSpec {
    ElementSpec { path, arrays, push_at: Some(push_at), conv }
}

const MEDICATION_ADMINISTRATION: &[ElementSpec] = &[
    one("status", &[], Conv::Code),
    list("statusReason", &[], 0, Conv::CodeableConcept),
    one("medicationCodeableConcept", &[], Conv::CodeableConcept),
    one("effectiveDateTime", &[], Conv::DateTime),
    one("dosage.dose", &[], Conv::Quantity),
    one("dosage.route", &[], Conv::CodeableConcept),
    one("dosage.site", &[], Conv::CodeableConcept),
    one("dosage.text", &[], Conv::Str),
    list("reasonCode", &[], 0, Conv::CodeableConcept),
    list("note", &[], 0, Conv::Annotation),
];
const MEDICATION_REQUEST: &[ElementSpec] = &[
    one("status", &[], Conv::Code),
    one("intent", &[], Conv::Code),
    one("medicationCodeableConcept", &[], Conv::CodeableConcept),
    one("authoredOn", &[], Conv::DateTime),
    one("requester", &[], Conv::RefDisplay),
    list("reasonCode", &[], 0, Conv::CodeableConcept),
    list("note", &[], 0, Conv::Annotation),
    one("dosageInstruction.text", &[0], Conv::Str),
    one("dosageInstruction.patientInstruction", &[0], Conv::Str),
    one("dosageInstruction.route", &[0], Conv::CodeableConcept),
    one("dosageInstruction.timing.code", &[0], Conv::CodeableConcept),
    one("dosageInstruction.timing.repeat.boundsDuration", &[0], Conv::Quantity),
    one("dosageInstruction.asNeededCodeableConcept", &[0], Conv::CodeableConcept),
    one("dosageInstruction.doseAndRate.doseQuantity", &[0, 1], Conv::Quantity),
];
const DOCUMENT_REFERENCE: &[ElementSpec] = &[
    one("status", &[], Conv::Code),
    one("type", &[], Conv::CodeableConcept),
    list("category", &[], 0, Conv::CodeableConcept),
    one("description", &[], Conv::Str),
    list("content.attachment", &[0], 0, Conv::Attachment),
    one("context.period.start", &[], Conv::DateTime),
];
const PATIENT: &[ElementSpec] = &[
    list("identifier", &[], 0, Conv::Identifier),
    one("name.family", &[0], Conv::Str),
    list("name.given", &[0], 1, Conv::Str),
    one("birthDate", &[], Conv::Date),
    one("gender", &[], Conv::Code),
];
const ENCOUNTER: &[ElementSpec] = &[
    one("status", &[], Conv::Code),
    one("class", &[], Conv::Coding),
    list("type", &[], 0, Conv::CodeableConcept),
    one("period.start", &[], Conv::DateTime),
    list("location.location", &[0], 0, Conv::RefDisplay),
    list("reasonCode", &[], 0, Conv::CodeableConcept),
];

fn specs(resource_type: &str) -> &'static [ElementSpec] {
    match resource_type {
        "MedicationAdministration" => MEDICATION_ADMINISTRATION,
        "MedicationRequest" => MEDICATION_REQUEST,
        "DocumentReference" => DOCUMENT_REFERENCE,
        "Patient" => PATIENT,
        "Encounter" => ENCOUNTER,
        _ => &[],
    }
}

/// The supported target for `Type.path`, if any.
pub(crate) fn element_spec(resource_type: &str, path: &str) -> Option<&'static ElementSpec> {
    specs(resource_type).iter().find(|s| s.path == path)
}

/// Elements a context must fill from a required item, because R4 requires them and there is no sensible default.
pub(crate) fn required_elements(resource_type: &str, used: &[(&str, bool)]) -> Vec<&'static str> {
    match resource_type {
        "MedicationAdministration" => {
            let mut v = vec!["medicationCodeableConcept"];
            // mad-1: a dosage needs a dose (or a rate, which the subset does not offer).
            if used.iter().any(|(p, _)| p.starts_with("dosage.")) {
                v.push("dosage.dose");
            }
            v
        }
        "MedicationRequest" => vec!["medicationCodeableConcept"],
        "DocumentReference" => vec!["content.attachment"],
        _ => vec![],
    }
}

/// The elements whose value is when the event a resource records happened: an item defined by one of them holds
/// the clinical time (ARCHITECTURE.md "Forms: the clinical time"). `effective[x]` (Observation,
/// MedicationAdministration, DiagnosticReport …), `occurrence[x]` (Immunization, ServiceRequest …), `performed[x]`
/// (Procedure), `authoredOn` (MedicationRequest, ServiceRequest) and `authored` (QuestionnaireResponse), each as the
/// choice element or its dateTime form. Elements of other types (`effectivePeriod`, `performedString` …) cannot be
/// one dateTime answer, so they are not on the list.
const CLINICAL_TIME_ELEMENTS: &[&str] = &[
    "effective[x]",
    "effectiveDateTime",
    "occurrence[x]",
    "occurrenceDateTime",
    "performed[x]",
    "performedDateTime",
    "authoredOn",
    "authored",
];

/// `Type.element` when `def` defines an item as a resource's effective or occurrence time (one of
/// [`CLINICAL_TIME_ELEMENTS`] directly below the resource), whatever the StructureDefinition before the `#` is (the
/// base resource or a profile of it).
pub(crate) fn clinical_time_element(def: &str) -> Option<&str> {
    let (_, element) = def.split_once('#')?;
    let (ty, path) = element.split_once('.')?;
    let is_type =
        ty.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && ty.chars().all(|c| c.is_ascii_alphanumeric());
    (is_type && CLINICAL_TIME_ELEMENTS.contains(&path)).then_some(element)
}

/// Splits an `item.definition` into (resource type, element path without the type).
pub(crate) fn parse_definition(def: &str) -> Option<(&str, &str)> {
    let rest = def.strip_prefix("http://hl7.org/fhir/StructureDefinition/")?;
    let (ty, element) = rest.split_once('#')?;
    let path = element.strip_prefix(ty)?.strip_prefix('.')?;
    Some((ty, path))
}

/// Writes `v` at `segs` below `obj`, creating objects and arrays as the spec says.
/// `at` is the index of `segs[0]` in the full path (array and push positions are indexes, as names repeat:
/// `Encounter.location.location`).
fn put(obj: &mut Map<String, Value>, spec: &ElementSpec, segs: &[&str], at: usize, v: Value) {
    let Some((head, rest)) = segs.split_first() else {
        return;
    };
    let pushes = spec.push_at == Some(at);
    let is_array = spec.arrays.contains(&at) || pushes;
    let slot = obj.entry(head.to_string()).or_insert_with(|| {
        if is_array {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    });
    if rest.is_empty() {
        match slot {
            Value::Array(a) if is_array => a.push(v),
            _ => *slot = v,
        }
        return;
    }
    let target = if is_array {
        let Value::Array(a) = slot else { return };
        if pushes || a.is_empty() {
            a.push(Value::Object(Map::new()));
        }
        if pushes {
            a.last_mut()
        } else {
            a.first_mut()
        }
    } else {
        Some(slot)
    };
    if let Some(Value::Object(child)) = target {
        put(child, spec, rest, at + 1, v);
    }
}
