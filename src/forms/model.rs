//! The engine's shared vocabulary: the parsed shape of a supported Questionnaire (what the rest of the app reads
//! instead of raw JSON), the findings about a response, the input limits, and the predicates several stages share
//! (does an answer fit an item, match an option, name a verbal or telephone order).
//!
//! This is the bottom layer of `forms/`: it uses no other file of the module, so the loader, the validator, the rules
//! and extraction can all lean on it without leaning on each other. Every `Form` is produced by `load.rs` after the
//! source passed every check, so the invariants below hold for any `Form` a caller can get hold of (there is no
//! public constructor).

use std::collections::HashMap;

use serde::Serialize;

/// Extension marking the one dateTime item that holds the clinical time (when it happened, not when it was typed).
/// `valueBoolean: false` on an item keeps it from being taken for the clinical time by the standard signals; on the
/// questionnaire it says that no item holds it, so the app always asks (see [`ClinicalTime`]).
pub const EXT_CLINICAL_TIME: &str = "http://downtimekit.example.org/fhir/StructureDefinition/clinical-time";
/// Extension (valueCode, repeatable) declaring a clinical rule on an item; see [`ClinicalRule`].
pub const EXT_CLINICAL_RULE: &str = "http://downtimekit.example.org/fhir/StructureDefinition/clinical-rule";
/// Extension (valueUri) giving the `Identifier.system` for an item extracted to an `identifier` element.
pub const EXT_IDENTIFIER_SYSTEM: &str = "http://downtimekit.example.org/fhir/StructureDefinition/identifier-system";
/// Core R4 extensions of the supported subset.
pub const EXT_MIN_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/minValue";
pub const EXT_MAX_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/maxValue";
pub const EXT_UNIT: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit";
pub const EXT_UNIT_OPTION: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption";
/// SDC extraction extensions.
pub const EXT_OBSERVATION_EXTRACT: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract";
pub const EXT_OBSERVATION_CATEGORY: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observation-extract-category";
pub const EXT_EXTRACTION_CONTEXT: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemExtractionContext";
/// An answer's score (`ordinalValue`, and its older name `itemWeight`), on an answerOption, its valueCoding or a
/// ValueSet concept; read into [`AnswerOption::weight`].
pub const EXT_ORDINAL_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/ordinalValue";
pub const EXT_ITEM_WEIGHT: &str = "http://hl7.org/fhir/StructureDefinition/itemWeight";
/// SDC FHIRPath extensions the engine evaluates (`Item::expressions`, docs/forms-engine.md "FHIRPath").
pub const EXT_VARIABLE: &str = "http://hl7.org/fhir/StructureDefinition/variable";
pub const EXT_ENABLE_WHEN_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression";
pub const EXT_CALCULATED_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
pub const EXT_INITIAL_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";
pub const EXT_ANSWER_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression";
/// UCUM, the only unit system a dose may use.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// Largest form or response accepted: the standard forms are a few KiB; a larger file is a mistake or an attack.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Deepest JSON nesting accepted; checked by a byte scan before serde recurses, so deep input cannot overflow the stack.
pub const MAX_DEPTH: usize = 64;

/// The version given to a form whose file has none: the first 12 hex digits of the file's SHA-256, so a changed file
/// is a new version and an entry keeps naming the exact form it was charted on.
pub const DERIVED_VERSION_PREFIX: &str = "sha256-";

/// The url given to a form whose file has none: its `id`, else its `name`, else the file's name.
pub const DERIVED_URL_PREFIX: &str = "urn:dtk:form:";

/// A loaded, checked Questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub url: String,
    pub version: String,
    pub name: Option<String>,
    pub title: String,
    pub status: String,
    /// Resource type named by a questionnaire-level `itemExtractionContext`, if any.
    pub extraction_context: Option<String>,
    pub(crate) items: Vec<Item>,
    /// linkId → index path into `items` (then `Item::items`), built once at load.
    pub(crate) index: HashMap<String, Vec<usize>>,
    /// Where the clinical time comes from: one item, or the nurse when no item holds it.
    pub(crate) clinical_time: ClinicalTime,
    /// The file gave no version, so `version` is derived from its content.
    pub(crate) version_derived: bool,
    /// The questionnaire's own `variable`s (its other SDC expressions are refused at load).
    pub(crate) expressions: Expressions,
    /// The original JSON, kept so the UI and the printer can read rendering hints we do not model.
    pub source: serde_json::Value,
}

impl Form {
    /// `url|version`, the key QuestionnaireResponse.questionnaire must carry.
    pub fn canonical(&self) -> String {
        format!("{}|{}", self.url, self.version)
    }

    /// The file gave no version: `version` is its content hash ([`DERIVED_VERSION_PREFIX`]).
    pub fn version_is_derived(&self) -> bool {
        self.version_derived
    }

    /// Top-level items in form order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Any item, however deeply nested, by linkId.
    pub fn item(&self, link_id: &str) -> Option<&Item> {
        let path = self.index.get(link_id)?;
        let (first, rest) = path.split_first()?;
        let mut item = self.items.get(*first)?;
        for i in rest {
            item = item.items.get(*i)?;
        }
        Some(item)
    }

    /// Where the clinical time (when the dose was given, the vitals taken …) comes from.
    pub fn clinical_time(&self) -> &ClinicalTime {
        &self.clinical_time
    }

    /// The item holding the clinical time, if one does.
    pub fn clinical_time_item(&self) -> Option<&str> {
        match &self.clinical_time {
            ClinicalTime::Item { link_id, .. } => Some(link_id),
            ClinicalTime::Asked => None,
        }
    }

    /// No item holds the clinical time: the entry carries it, given by the nurse above the form
    /// ([`ASKED_CLINICAL_TIME_LABEL`]) or with `dtk entry add --clinical-time`.
    pub fn asks_clinical_time(&self) -> bool {
        self.clinical_time == ClinicalTime::Asked
    }

    /// Every item in document order (depth first), with its depth-first parent chain hidden.
    pub fn all_items(&self) -> Vec<&Item> {
        fn walk<'a>(items: &'a [Item], out: &mut Vec<&'a Item>) {
            for i in items {
                out.push(i);
                walk(&i.items, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut out);
        out
    }

    /// Whether definition-based extraction can produce a resource of type `ty` (an `itemExtractionContext` on the
    /// questionnaire or a group names it). Lets the exporter skip extraction for forms that never register a patient.
    pub fn may_extract(&self, ty: &str) -> bool {
        self.extraction_context.as_deref() == Some(ty)
            || self.all_items().iter().any(|i| i.extraction_context.as_deref() == Some(ty))
    }
}

/// What the app and the printed form ask when no item of a form holds the clinical time.
pub const ASKED_CLINICAL_TIME_LABEL: &str = "When did this happen?";

/// Where a form's clinical time comes from, found at load in this order (ARCHITECTURE.md "Forms: the clinical
/// time"): an item marked with [`EXT_CLINICAL_TIME`]; else an item whose `definition` names the resource's
/// effective or occurrence time; else the one required top-level dateTime item; else nobody's, and it is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum ClinicalTime {
    /// An item of the form holds it; every valid response answers it.
    #[serde(rename_all = "camelCase")]
    Item { link_id: String, found_by: FoundBy },
    /// No item holds it: the entry carries it outside the response, given by the nurse.
    Asked,
}

/// Which signal found the clinical-time item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// Marked with the clinical-time extension (the explicit override).
    Extension,
    /// Its `definition` names an effective/occurrence element (`definition::clinical_time_element`).
    Definition,
    /// The one required, unconditional, non-repeating dateTime item at the top level of the form.
    TopLevelItem,
}

impl std::fmt::Display for ClinicalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClinicalTime::Item { link_id, found_by } => {
                let by = match found_by {
                    FoundBy::Extension => "marked with the clinical-time extension",
                    FoundBy::Definition => "its definition names the effective time",
                    FoundBy::TopLevelItem => "the one required top-level dateTime item",
                };
                write!(f, "clinical time from item '{link_id}' ({by})")
            }
            ClinicalTime::Asked => {
                write!(f, "no item holds the clinical time: it is asked (\"{ASKED_CLINICAL_TIME_LABEL}\")")
            }
        }
    }
}

/// The supported item types (docs/design.md "Forms"). Anything else is refused at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemType {
    Group,
    Display,
    Boolean,
    Decimal,
    Integer,
    Date,
    DateTime,
    Time,
    String,
    Text,
    Choice,
    OpenChoice,
    Quantity,
}

impl ItemType {
    /// Parses the FHIR code; `None` for codes outside the subset.
    pub fn from_code(code: &str) -> Option<ItemType> {
        Some(match code {
            "group" => ItemType::Group,
            "display" => ItemType::Display,
            "boolean" => ItemType::Boolean,
            "decimal" => ItemType::Decimal,
            "integer" => ItemType::Integer,
            "date" => ItemType::Date,
            "dateTime" => ItemType::DateTime,
            "time" => ItemType::Time,
            "string" => ItemType::String,
            "text" => ItemType::Text,
            "choice" => ItemType::Choice,
            "open-choice" => ItemType::OpenChoice,
            "quantity" => ItemType::Quantity,
            _ => return None,
        })
    }

    /// The FHIR code, for messages.
    pub fn code(self) -> &'static str {
        match self {
            ItemType::Group => "group",
            ItemType::Display => "display",
            ItemType::Boolean => "boolean",
            ItemType::Decimal => "decimal",
            ItemType::Integer => "integer",
            ItemType::Date => "date",
            ItemType::DateTime => "dateTime",
            ItemType::Time => "time",
            ItemType::String => "string",
            ItemType::Text => "text",
            ItemType::Choice => "choice",
            ItemType::OpenChoice => "open-choice",
            ItemType::Quantity => "quantity",
        }
    }

    /// Items that carry answers (everything but group and display).
    pub fn is_question(self) -> bool {
        !matches!(self, ItemType::Group | ItemType::Display)
    }
}

/// `enableBehavior`: how several `enableWhen` conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnableBehavior {
    #[default]
    All,
    Any,
}

/// `enableWhen.operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Operator {
    Exists,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Operator {
    pub fn from_code(code: &str) -> Option<Operator> {
        Some(match code {
            "exists" => Operator::Exists,
            "=" => Operator::Eq,
            "!=" => Operator::Ne,
            ">" => Operator::Gt,
            "<" => Operator::Lt,
            ">=" => Operator::Ge,
            "<=" => Operator::Le,
            _ => return None,
        })
    }
}

/// One `enableWhen` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct EnableWhen {
    pub question: String,
    pub operator: Operator,
    pub answer: AnswerValue,
}

/// A FHIR Coding (only the parts the engine uses).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    /// Two codings denote the same concept when their codes match and, where both name a system, the systems match.
    /// A coding with no code matches on display alone (open-choice lists sometimes only have text).
    pub fn same_concept(&self, other: &Coding) -> bool {
        match (&self.code, &other.code) {
            (Some(a), Some(b)) => {
                a == b
                    && match (&self.system, &other.system) {
                        (Some(x), Some(y)) => x == y,
                        _ => true,
                    }
            }
            (None, None) => self.display.is_some() && self.display == other.display,
            _ => false,
        }
    }

    /// What a person reads: the display, else the code.
    pub fn label(&self) -> &str {
        self.display.as_deref().or(self.code.as_deref()).unwrap_or("")
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        if let Some(s) = &self.system {
            m.insert("system".into(), s.clone().into());
        }
        if let Some(s) = &self.code {
            m.insert("code".into(), s.clone().into());
        }
        if let Some(s) = &self.display {
            m.insert("display".into(), s.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

/// A FHIR Quantity answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A typed answer (or enableWhen/initial/answerOption value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AnswerValue {
    Boolean(bool),
    Decimal(f64),
    Integer(i64),
    Date(String),
    DateTime(String),
    Time(String),
    String(String),
    Coding(Coding),
    Quantity(Quantity),
}

impl AnswerValue {
    /// The `[x]` suffix FHIR uses for this type ("Boolean" in valueBoolean/answerBoolean).
    pub fn suffix(&self) -> &'static str {
        match self {
            AnswerValue::Boolean(_) => "Boolean",
            AnswerValue::Decimal(_) => "Decimal",
            AnswerValue::Integer(_) => "Integer",
            AnswerValue::Date(_) => "Date",
            AnswerValue::DateTime(_) => "DateTime",
            AnswerValue::Time(_) => "Time",
            AnswerValue::String(_) => "String",
            AnswerValue::Coding(_) => "Coding",
            AnswerValue::Quantity(_) => "Quantity",
        }
    }

    /// The answer as plain text, for notes and free-text rules.
    pub fn as_text(&self) -> String {
        match self {
            AnswerValue::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
            AnswerValue::Decimal(d) => format_number(*d),
            AnswerValue::Integer(i) => i.to_string(),
            AnswerValue::Date(s) | AnswerValue::DateTime(s) | AnswerValue::Time(s) | AnswerValue::String(s) => {
                s.clone()
            }
            AnswerValue::Coding(c) => c.label().to_string(),
            AnswerValue::Quantity(q) => {
                let unit = q.unit.as_deref().or(q.code.as_deref()).unwrap_or("");
                format!("{} {}", format_number(q.value), unit).trim().to_string()
            }
        }
    }
}

/// Numbers print without trailing zeros ("5", never "5.0"): a trailing zero is a Joint Commission "do not use".
pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One entry of `answerOption`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerOption {
    pub value: AnswerValue,
    pub initial_selected: bool,
    /// The option's score (`ordinalValue`/`itemWeight`), for score totals.
    pub weight: Option<f64>,
}

/// Does a value of this type fit an item of this kind? For choice items the answerOption type decides.
/// The loader asks it of initial and enableWhen values, the validator of every answer.
pub(crate) fn answer_matches_kind(v: &AnswerValue, kind: ItemType, options: &[AnswerOption]) -> bool {
    match kind {
        ItemType::Group | ItemType::Display => false,
        ItemType::Boolean => matches!(v, AnswerValue::Boolean(_)),
        ItemType::Decimal => matches!(v, AnswerValue::Decimal(_) | AnswerValue::Integer(_)),
        ItemType::Integer => matches!(v, AnswerValue::Integer(_)),
        ItemType::Date => matches!(v, AnswerValue::Date(_)),
        ItemType::DateTime => matches!(v, AnswerValue::DateTime(_)),
        ItemType::Time => matches!(v, AnswerValue::Time(_)),
        ItemType::String | ItemType::Text => matches!(v, AnswerValue::String(_)),
        ItemType::Quantity => matches!(v, AnswerValue::Quantity(_)),
        ItemType::Choice => match options.first() {
            Some(o) => o.value.suffix() == v.suffix(),
            None => matches!(v, AnswerValue::Coding(_)),
        },
        ItemType::OpenChoice => {
            matches!(v, AnswerValue::String(_))
                || match options.first() {
                    Some(o) => o.value.suffix() == v.suffix(),
                    None => matches!(v, AnswerValue::Coding(_)),
                }
        }
    }
}

/// Is `v` the same answer as option `o`? Codings compare as concepts, other values exactly.
pub(crate) fn option_matches(o: &AnswerValue, v: &AnswerValue) -> bool {
    match (o, v) {
        (AnswerValue::Coding(a), AnswerValue::Coding(b)) => a.same_concept(b),
        _ => o == v,
    }
}

/// A clinical rule an item declares with the clinical-rule extension; the rules live in `rules.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClinicalRule {
    /// A quantity item with a UCUM unit list; the answer must be a positive number with a listed unit.
    Dose,
    /// Free text must not contain the Joint Commission "do not use" abbreviations.
    NoUnsafeAbbreviations,
    /// On the order-mode choice: verbal/telephone orders need the prescriber and read-back items.
    VerbalOrderReadback,
    /// Marks the prescriber's name (string) for `verbal-order-readback`.
    Prescriber,
    /// Marks the read-back confirmation (boolean) for `verbal-order-readback`.
    ReadBack,
    /// Marks the medication item whose answer feeds allergy and duplicate checks.
    Medication,
}

impl ClinicalRule {
    pub fn from_code(code: &str) -> Option<ClinicalRule> {
        Some(match code {
            "dose" => ClinicalRule::Dose,
            "no-unsafe-abbreviations" => ClinicalRule::NoUnsafeAbbreviations,
            "verbal-order-readback" => ClinicalRule::VerbalOrderReadback,
            "prescriber" => ClinicalRule::Prescriber,
            "read-back" => ClinicalRule::ReadBack,
            "medication" => ClinicalRule::Medication,
            _ => return None,
        })
    }
}

/// Code system of the order-mode answers (`written`, `verbal`, `telephone`) the read-back rule recognises.
pub const ORDER_MODE_SYSTEM: &str = "http://downtimekit.example.org/fhir/CodeSystem/order-mode";

/// Is this order-mode coding one that needs a read-back? The loader asks it of the order-mode item's options (the
/// rule must be able to fire), the rules of the answer.
pub fn is_verbal_or_telephone(c: &Coding) -> bool {
    c.system.as_deref().is_none_or(|s| s == ORDER_MODE_SYSTEM)
        && matches!(c.code.as_deref(), Some("verbal" | "telephone"))
}

/// One Questionnaire item of the supported subset.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub link_id: String,
    pub text: Option<String>,
    pub prefix: Option<String>,
    pub kind: ItemType,
    pub required: bool,
    pub repeats: bool,
    pub read_only: bool,
    pub max_length: Option<u32>,
    pub enable_when: Vec<EnableWhen>,
    pub enable_behavior: EnableBehavior,
    pub answer_options: Vec<AnswerOption>,
    pub initial: Vec<AnswerValue>,
    /// `minValue` / `maxValue` extensions; for quantity items they bound the quantity's value.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `questionnaire-unit` (decimal/integer) or `questionnaire-unitOption` (quantity) codings.
    pub units: Vec<Coding>,
    pub code: Vec<Coding>,
    /// `item.definition` (definition-based extraction), as written.
    pub definition: Option<String>,
    /// Resource type named by an `itemExtractionContext` on this item (groups only).
    pub extraction_context: Option<String>,
    /// Effective `observationExtract` (inherited from the questionnaire or an enclosing group).
    pub observation_extract: bool,
    /// Effective observation category (inherited like `observation_extract`).
    pub observation_category: Vec<Coding>,
    /// SDC `observationExtract` with the code `component`: each answer is a component of one Observation whose code is
    /// the enclosing group's `code` (the questionnaire's `code` for a top-level item), not an Observation of its own.
    pub observation_component: bool,
    pub rules: Vec<ClinicalRule>,
    /// Marked with the clinical-time extension (`valueBoolean: true`); see [`Form::clinical_time`] for the item that
    /// holds it, whichever signal found it.
    pub clinical_time: bool,
    pub identifier_system: Option<String>,
    /// The SDC FHIRPath expressions of the item, each inside the subset (`fhirpath.rs`), checked at load.
    pub expressions: Expressions,
    pub items: Vec<Item>,
}

/// One named FHIRPath expression: a `variable` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub expression: String,
}

/// The SDC expressions of an item or the questionnaire (docs/forms-engine.md "FHIRPath"), as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expressions {
    /// `variable`s in order: each is in scope for the later ones, the item's other expressions and its descendants.
    pub variables: Vec<Variable>,
    /// `sdc-questionnaire-enableWhenExpression`: the item is enabled when it is true.
    pub enable_when: Option<String>,
    /// `sdc-questionnaire-calculatedExpression`: the core computes the answer and fills it in or checks it.
    pub calculated: Option<String>,
    /// `sdc-questionnaire-initialExpression`: evaluated by the screen (with `%patient`); the core only checks it.
    pub initial: Option<String>,
    /// `sdc-questionnaire-answerExpression` on a choice item with listed options: which of them may be chosen.
    pub answer: Option<String>,
}

impl Expressions {
    pub fn is_empty(&self) -> bool {
        self == &Expressions::default()
    }
}

impl Item {
    pub fn has_rule(&self, rule: ClinicalRule) -> bool {
        self.rules.contains(&rule)
    }
}

/// How bad a finding is: errors block signing, warnings are shown but allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem with a response. The message names the rule broken, never the value typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub link_id: Option<String>,
    pub severity: Severity,
    pub message: String,
}
