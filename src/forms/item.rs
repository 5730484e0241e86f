//! Reading the item tree of a Questionnaire: each item's identity, elements, extensions and children, checked against
//! the supported subset, and what items inherit from the questionnaire and the groups around them. What an item
//! declares about its answers (options, initial values, enableWhen) is read by `item_answers.rs`.
//!
//! One function per concern of an item, called in the order the problems have always been reported. Facts that need
//! the whole form (the items that may hold the clinical time, definitions) are gathered in [`Pending`] for
//! `clinical_time.rs` and `form_checks.rs`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::definition::{clinical_time_element, SUPPORTED_CONTEXTS};
use super::item_answers::{answer_options, check_rules, enable_when, initial};
use super::model::*;
use super::problem::{short, Loader};
use super::value::{coding, typed_value};
use super::value_set::ValueSetSources;

const ITEM_KEYS: &[&str] = &[
    "id",
    "extension",
    "modifierExtension",
    "linkId",
    "definition",
    "code",
    "prefix",
    "text",
    "type",
    "enableWhen",
    "enableBehavior",
    "required",
    "repeats",
    "readOnly",
    "maxLength",
    "answerValueSet",
    "answerOption",
    "initial",
    "item",
];

/// What an item inherits from the questionnaire and its enclosing groups.
#[derive(Clone, Default)]
pub(crate) struct Inherited {
    observation_extract: bool,
    /// `observationExtract` is the code `component` (an item's own; never passed to children).
    observation_component: bool,
    observation_category: Vec<Coding>,
    context: Option<ContextRef>,
    in_repeating_group: bool,
    /// The nearest enclosing group that may be absent from a valid response (not required, or with enableWhen).
    optional_group: Option<String>,
    /// Inside a group (not a top-level item of the questionnaire).
    nested: bool,
}

/// (resource type, linkId of the context group, or None for the questionnaire).
pub(crate) type ContextRef = (String, Option<String>);

impl Inherited {
    /// Applies the SDC extraction extensions of the questionnaire (`link` None) or of an item, which its children
    /// inherit. Returns the resource type of an `itemExtractionContext` the element itself names.
    pub(crate) fn apply_extraction_extensions(
        &mut self,
        loader: &mut Loader,
        exts: &[(String, &Map<String, Value>)],
        link: Option<&str>,
    ) -> Option<String> {
        let mut own_context = None;
        for (url, m) in exts {
            match url.as_str() {
                EXT_OBSERVATION_EXTRACT => self.observation_extract(loader, m, link),
                EXT_OBSERVATION_CATEGORY => {
                    let codings = m
                        .get("valueCodeableConcept")
                        .and_then(|c| c.get("coding"))
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(coding).collect::<Vec<_>>())
                        .unwrap_or_default();
                    if codings.is_empty() {
                        loader.problem(link, "observation-extract-category needs valueCodeableConcept with a coding");
                    } else {
                        self.observation_category = codings;
                    }
                }
                EXT_EXTRACTION_CONTEXT => {
                    let ty = if let Some(c) = m.get("valueCode").and_then(Value::as_str) {
                        Some(c.to_string())
                    } else if let Some(c) = m.get("valueCanonical").and_then(Value::as_str) {
                        c.strip_prefix("http://hl7.org/fhir/StructureDefinition/").map(str::to_string)
                    } else {
                        None
                    };
                    match ty {
                        Some(t) if SUPPORTED_CONTEXTS.contains(&t.as_str()) => {
                            own_context = Some(t.clone());
                            self.context = Some((t, link.map(str::to_string)));
                        }
                        Some(t) => {
                            let t = short(&t);
                            loader.problem(link, format!("itemExtractionContext '{t}' is not supported (supported: {})", SUPPORTED_CONTEXTS.join(", ")))
                        }
                        None => loader.problem(link, "itemExtractionContext needs valueCode (a resource type); FHIRPath expressions are not supported"),
                    }
                }
                _ => {}
            }
        }
        own_context
    }

    /// `observationExtract`: a boolean, or (SDC 4.0) a code relating the item's Observation to its parent's.
    /// `independent` is the boolean `true`; `component` makes each answer a component of the parent Observation;
    /// `member` and `derived` need references between extracted resources, which extraction does not write.
    fn observation_extract(&mut self, loader: &mut Loader, m: &Map<String, Value>, link: Option<&str>) {
        let code = m.get("valueCode").and_then(Value::as_str);
        match (m.get("valueBoolean").and_then(Value::as_bool), code) {
            (Some(b), _) => self.observation_extract = b,
            (None, Some("independent")) => self.observation_extract = true,
            (None, Some("component")) if link.is_some() => {
                self.observation_extract = false;
                self.observation_component = true;
            }
            (None, Some("component")) => {
                loader.problem(link, "observationExtract 'component' is only supported on question items")
            }
            (None, Some(c)) => {
                let c = short(c);
                loader.problem(
                    link,
                    format!("observationExtract '{c}' is not supported (supported: true, false, 'independent', 'component')"),
                )
            }
            (None, None) => loader.problem(link, "observationExtract needs valueBoolean or valueCode"),
        }
    }
}

/// Facts gathered while reading items that need the whole form to check.
#[derive(Default)]
pub(crate) struct Pending {
    /// (item linkId, its extraction context) for items with a definition.
    pub(crate) definitions: Vec<(String, Option<ContextRef>)>,
    /// Every dateTime item and every item marked with the clinical-time extension, in form order.
    pub(crate) time_candidates: Vec<TimeCandidate>,
    /// (item linkId, its `answerValueSet` expanded as `answerOption` JSON), for the form's source.
    pub(crate) expanded: Vec<(String, Vec<Value>)>,
}

/// An item that may hold the clinical time: what it says about it, and what would stop it holding it.
pub(crate) struct TimeCandidate {
    pub(crate) link_id: String,
    /// The clinical-time extension's `valueBoolean`, if the item has it.
    pub(crate) marked: Option<bool>,
    /// `Type.element` when its definition names an effective or occurrence element (a dateTime item only).
    pub(crate) by_definition: Option<String>,
    /// A top-level item of the questionnaire.
    pub(crate) top_level: bool,
    /// Why it cannot hold the clinical time; empty when it can.
    pub(crate) unfit: Vec<&'static str>,
    /// The enclosing group a response may leave out, if any (reported with its name).
    pub(crate) optional_group: Option<String>,
}

/// The plain elements of an item (everything but extensions, answers and children).
struct Elements {
    text: Option<String>,
    prefix: Option<String>,
    definition: Option<String>,
    required: bool,
    repeats: bool,
    read_only: bool,
    max_length: Option<u32>,
    code: Vec<Coding>,
}

/// What an item's own extensions say (the extraction ones are applied to [`Inherited`]).
#[derive(Default)]
struct ItemExtensions {
    units: Vec<Coding>,
    min: Option<f64>,
    max: Option<f64>,
    rules: Vec<ClinicalRule>,
    clinical_time: Option<bool>,
    identifier_system: Option<String>,
}

/// Reads items depth first, reporting through the [`Loader`], and remembers the linkIds seen so far.
struct ItemReader<'l> {
    loader: &'l mut Loader,
    sources: &'l ValueSetSources<'l>,
    pending: Pending,
    seen: HashSet<String>,
}

/// Reads the questionnaire's `item` array: the items, and what the whole-form checks still need.
pub(crate) fn read_items<'l>(
    loader: &'l mut Loader,
    arr: &[Value],
    inherited: &Inherited,
    sources: &'l ValueSetSources<'l>,
) -> (Vec<Item>, Pending) {
    let mut reader = ItemReader { loader, sources, pending: Pending::default(), seen: HashSet::new() };
    let items = reader.items(arr, inherited);
    (items, reader.pending)
}

impl ItemReader<'_> {
    fn problem(&mut self, link: Option<&str>, reason: impl Into<String>) {
        self.loader.problem(link, reason);
    }

    /// Reads an `item` array; items too broken to read (no linkId, no supported type) are left out.
    fn items(&mut self, arr: &[Value], inherited: &Inherited) -> Vec<Item> {
        arr.iter().filter_map(|v| self.item(v, inherited)).collect()
    }

    fn item(&mut self, v: &Value, inherited: &Inherited) -> Option<Item> {
        let (obj, link_id, kind) = self.identity(v)?;
        let link = Some(link_id.as_str());
        let el = self.elements(obj, kind, link);

        // Extensions: extraction (inherited by children), units, limits, rules, clinical time.
        let exts = self.loader.extensions(obj, link);
        let expressions = self.loader.expressions(&exts, link);
        let mut mine = inherited.clone();
        let own_context = mine.apply_extraction_extensions(self.loader, &exts, link);
        self.check_extraction(&exts, own_context.is_some(), kind, &el.code, link);
        let ext = self.item_extensions(&exts, kind, link);

        let (answer_options, expanded) = answer_options(self.loader, obj, kind, self.sources, link);
        if let Some(json) = expanded {
            self.pending.expanded.push((link_id.clone(), json));
        }
        let initial = initial(self.loader, obj, kind, el.repeats, &answer_options, link);
        let enable_when = enable_when(self.loader, obj, link);
        let enable_behavior = self.enable_behavior(obj, enable_when.len(), link);
        if ext.clinical_time == Some(true) || kind == ItemType::DateTime {
            self.pending.time_candidates.push(TimeCandidate {
                link_id: link_id.clone(),
                marked: ext.clinical_time,
                by_definition: el
                    .definition
                    .as_deref()
                    .and_then(clinical_time_element)
                    .filter(|_| kind == ItemType::DateTime)
                    .map(str::to_string),
                top_level: !inherited.nested,
                unfit: clinical_time_unfit(kind, &el, &enable_when, inherited),
                optional_group: inherited.optional_group.clone(),
            });
        }
        if el.definition.is_some() {
            self.pending.definitions.push((link_id.clone(), inherited.context.clone()));
        }

        let child_inherited = Inherited {
            in_repeating_group: inherited.in_repeating_group || (kind == ItemType::Group && el.repeats),
            nested: true,
            observation_component: false,
            optional_group: inherited
                .optional_group
                .clone()
                .or_else(|| (!el.required || !enable_when.is_empty()).then(|| link_id.clone())),
            ..mine.clone()
        };
        let children = self.children(obj, kind, &child_inherited, link);

        Some(Item {
            link_id,
            text: el.text,
            prefix: el.prefix,
            kind,
            required: el.required,
            repeats: el.repeats,
            read_only: el.read_only,
            max_length: el.max_length,
            enable_when,
            enable_behavior,
            answer_options,
            initial,
            min: ext.min,
            max: ext.max,
            units: ext.units,
            code: el.code,
            definition: el.definition,
            extraction_context: own_context,
            observation_extract: mine.observation_extract && kind.is_question(),
            observation_category: mine.observation_category,
            observation_component: mine.observation_component && kind.is_question(),
            rules: ext.rules,
            clinical_time: ext.clinical_time == Some(true),
            identifier_system: ext.identifier_system,
            expressions,
            items: children,
        })
    }

    /// The object, its linkId (each once per form) and its type; elements outside the subset are problems. `None`
    /// when the item cannot be read at all.
    fn identity<'v>(&mut self, v: &'v Value) -> Option<(&'v Map<String, Value>, String, ItemType)> {
        let Some(obj) = v.as_object() else {
            self.problem(None, "item must be an object");
            return None;
        };
        let link_id = match obj.get("linkId") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => {
                self.problem(None, "item without linkId");
                return None;
            }
        };
        let link = Some(link_id.as_str());
        if !self.seen.insert(link_id.clone()) {
            self.problem(link, "duplicate linkId");
        }
        self.loader.unknown_elements(obj, ITEM_KEYS, "item", link);
        if obj.contains_key("modifierExtension") {
            self.problem(link, "modifierExtension is not supported");
        }
        let kind = match obj.get("type").and_then(Value::as_str) {
            Some(t) => match ItemType::from_code(t) {
                Some(k) => k,
                None => {
                    let t = short(t);
                    self.problem(link, format!("unsupported item type '{t}'"));
                    return None;
                }
            },
            None => {
                self.problem(link, "missing type");
                return None;
            }
        };
        Some((obj, link_id, kind))
    }

    fn elements(&mut self, obj: &Map<String, Value>, kind: ItemType, link: Option<&str>) -> Elements {
        let text = self.loader.opt_string(obj, "text", link);
        let prefix = self.loader.opt_string(obj, "prefix", link);
        let definition = self.loader.opt_string(obj, "definition", link);
        let required = self.loader.opt_bool(obj, "required", link);
        let repeats = self.loader.opt_bool(obj, "repeats", link);
        let read_only = self.loader.opt_bool(obj, "readOnly", link);
        let max_length = match obj.get("maxLength") {
            None => None,
            Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0) {
                Some(n) => Some(n),
                None => {
                    self.problem(link, "maxLength must be a positive integer");
                    None
                }
            },
        };
        if max_length.is_some() && !matches!(kind, ItemType::String | ItemType::Text | ItemType::OpenChoice) {
            self.problem(link, "maxLength is only allowed on string, text and open-choice items");
        }
        let code = match obj.get("code") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                let c: Vec<Coding> = a.iter().filter_map(coding).collect();
                if c.len() != a.len() {
                    self.problem(link, "code must be a list of Codings");
                }
                c
            }
            Some(_) => {
                self.problem(link, "code must be a list of Codings");
                Vec::new()
            }
        };
        if kind == ItemType::Display && (required || repeats) {
            self.problem(link, "display items cannot be required or repeat");
        }
        Elements { text, prefix, definition, required, repeats, read_only, max_length, code }
    }

    /// Where the item's own extraction extensions may appear.
    fn check_extraction(
        &mut self,
        exts: &[(String, &Map<String, Value>)],
        own_context: bool,
        kind: ItemType,
        code: &[Coding],
        link: Option<&str>,
    ) {
        if own_context && kind != ItemType::Group {
            self.problem(link, "itemExtractionContext is only supported on groups and the questionnaire");
        }
        let explicit_obs = exts.iter().filter(|(u, _)| u == EXT_OBSERVATION_EXTRACT).any(|(_, m)| {
            m.get("valueBoolean").and_then(Value::as_bool) == Some(true)
                || matches!(m.get("valueCode").and_then(Value::as_str), Some("independent" | "component"))
        });
        if explicit_obs && kind.is_question() && code.is_empty() {
            self.problem(link, "observationExtract needs an item code");
        }
        let component = exts.iter().any(|(u, m)| {
            u == EXT_OBSERVATION_EXTRACT && m.get("valueCode").and_then(Value::as_str) == Some("component")
        });
        if component && !kind.is_question() {
            self.problem(link, "observationExtract 'component' is only supported on question items");
        }
    }

    /// Units, limits, clinical rules, the clinical-time mark and the identifier system.
    fn item_extensions(
        &mut self,
        exts: &[(String, &Map<String, Value>)],
        kind: ItemType,
        link: Option<&str>,
    ) -> ItemExtensions {
        let mut x = ItemExtensions::default();
        for (url, m) in exts {
            match url.as_str() {
                EXT_UNIT | EXT_UNIT_OPTION => {
                    let allowed = if url == EXT_UNIT {
                        matches!(kind, ItemType::Decimal | ItemType::Integer)
                    } else {
                        kind == ItemType::Quantity
                    };
                    let which = if url == EXT_UNIT { "questionnaire-unit is only allowed on decimal and integer items" } else { "questionnaire-unitOption is only allowed on quantity items" };
                    if !allowed {
                        self.problem(link, which);
                    }
                    match m.get("valueCoding").and_then(coding) {
                        Some(c) if c.code.is_some() => x.units.push(c),
                        _ => self.problem(link, "unit extension needs valueCoding with a code"),
                    }
                }
                EXT_MIN_VALUE | EXT_MAX_VALUE => {
                    let which = if url == EXT_MIN_VALUE { "minValue" } else { "maxValue" };
                    let n = match typed_value(m, "value") {
                        Ok(AnswerValue::Integer(i)) => Some(i as f64),
                        Ok(AnswerValue::Decimal(d)) => Some(d),
                        _ => None,
                    };
                    if !matches!(kind, ItemType::Integer | ItemType::Decimal | ItemType::Quantity) {
                        self.problem(link, format!("{which} is only supported on integer, decimal and quantity items"));
                    } else if n.is_none() {
                        self.problem(link, format!("{which} needs valueInteger or valueDecimal"));
                    } else if kind == ItemType::Integer && m.contains_key("valueDecimal") {
                        self.problem(link, format!("{which} of an integer item must be valueInteger"));
                    }
                    if url == EXT_MIN_VALUE { x.min = n } else { x.max = n }
                }
                EXT_CLINICAL_RULE => match m.get("valueCode").and_then(Value::as_str).and_then(ClinicalRule::from_code) {
                    Some(r) => x.rules.push(r),
                    None => self.problem(link, "clinical-rule needs valueCode: dose, no-unsafe-abbreviations, verbal-order-readback, prescriber, read-back or medication"),
                },
                EXT_CLINICAL_TIME => match m.get("valueBoolean").and_then(Value::as_bool) {
                    Some(b) => x.clinical_time = Some(b),
                    None => self.problem(link, "clinical-time needs valueBoolean"),
                },
                EXT_IDENTIFIER_SYSTEM => match m.get("valueUri").and_then(Value::as_str) {
                    Some(s) => x.identifier_system = Some(s.to_string()),
                    None => self.problem(link, "identifier-system needs valueUri"),
                },
                _ => {}
            }
        }
        if (kind == ItemType::Decimal || kind == ItemType::Integer) && x.units.len() > 1 {
            self.problem(link, "a decimal or integer item has at most one questionnaire-unit");
        }
        if let (Some(a), Some(b)) = (x.min, x.max) {
            if a > b {
                self.problem(link, "minValue is greater than maxValue");
            }
        }
        check_rules(self.loader, &x.rules, kind, &x.units, link);
        x
    }

    fn enable_behavior(&mut self, obj: &Map<String, Value>, conditions: usize, link: Option<&str>) -> EnableBehavior {
        let behavior = match obj.get("enableBehavior").map(|v| v.as_str()) {
            None => EnableBehavior::All,
            Some(Some("all")) => EnableBehavior::All,
            Some(Some("any")) => EnableBehavior::Any,
            Some(_) => {
                self.problem(link, "enableBehavior must be 'all' or 'any'");
                EnableBehavior::All
            }
        };
        if conditions > 1 && !obj.contains_key("enableBehavior") {
            self.problem(link, "enableBehavior is required when there is more than one enableWhen");
        }
        behavior
    }

    /// Child items, read with what this item passes down; only groups may have them, and a group must.
    fn children(
        &mut self,
        obj: &Map<String, Value>,
        kind: ItemType,
        child_inherited: &Inherited,
        link: Option<&str>,
    ) -> Vec<Item> {
        let children = match obj.get("item") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                if kind != ItemType::Group && !a.is_empty() {
                    self.problem(link, "child items are only supported under groups");
                }
                self.items(a, child_inherited)
            }
            Some(_) => {
                self.problem(link, "item must be an array");
                Vec::new()
            }
        };
        if kind == ItemType::Group && children.is_empty() && obj.get("item").is_none() {
            self.problem(link, "group has no items");
        }
        children
    }
}

/// Why an item cannot hold the clinical time (empty when it can). Every valid response must carry the clinical
/// time: it places the entry in time, in duplicate checks and in the export. So the item and every group around it
/// are required and unconditional. A group a response may leave out is in [`TimeCandidate::optional_group`].
fn clinical_time_unfit(
    kind: ItemType,
    el: &Elements,
    enable_when: &[EnableWhen],
    inherited: &Inherited,
) -> Vec<&'static str> {
    let mut unfit = Vec::new();
    if kind != ItemType::DateTime {
        unfit.push("the clinical-time item must be a dateTime item");
    }
    if el.repeats || inherited.in_repeating_group {
        unfit.push("the clinical-time item must not repeat or sit in a repeating group");
    }
    if !el.required {
        unfit.push("the clinical-time item must be required");
    }
    if !enable_when.is_empty() {
        unfit.push("the clinical-time item must not have enableWhen");
    }
    unfit
}
