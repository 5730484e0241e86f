//! Extraction: turning a valid QuestionnaireResponse into FHIR R4 resources (SDC observation-based and
//! definition-based), and the key facts other modules need (clinical time, MRN, medication).
//!
//! Pure functions: the entry id, references and recorded time come in through [`ExtractContext`]; identifiers are
//! UUID v5 of (entry id, resource type, item path), so extracting the same entry twice gives byte-identical output.

use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::definition::{element_spec, parse_definition, required_elements, Conv};
use super::model::*;
use super::text;
use super::validate::{validate_response, Checked};
use super::value::{coding, collect_answers, is_date_time, is_instant, typed_value};

/// Namespace of the deterministic identifiers (a fixed random UUID; changing it changes every exported identifier).
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x7c3e_9f4a_2d61_4b8e_a5c0_9e17_3b2f_d804);

/// What the caller supplies: who, when, and the entry's identity. References are FHIR Reference objects.
#[derive(Debug, Clone)]
pub struct ExtractContext<'a> {
    /// The entry's UUID; every identifier is derived from it.
    pub entry_id: &'a str,
    /// The patient, e.g. `{"reference":"Patient?identifier=sys|val"}` or `{"reference":"urn:uuid:…"}`.
    pub subject: Value,
    pub encounter: Option<Value>,
    /// The nurse who charted it (performer, author, recorder).
    pub author: Option<Value>,
    /// When it was typed: a FHIR instant (used for Observation.issued and DocumentReference.date).
    pub recorded: &'a str,
    /// The entry's clinical time, for a form that asks for it ([`Form::asks_clinical_time`]): no item of the
    /// response holds it. Not read for a form whose item holds it.
    pub clinical_time: Option<&'a str>,
}

/// Why extraction could not run. None of these quote answer values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The response has validation errors; extraction only runs on valid responses.
    #[error("the response has {errors} validation error(s); fix them before extraction")]
    Invalid { errors: usize },
    /// The clinical-time item has no answer (possible only if it is disabled by an enableWhen).
    #[error("the clinical-time item '{0}' has no answer")]
    MissingClinicalTime(String),
    /// The form asks for the clinical time and the caller gave none (or not a FHIR dateTime).
    #[error("the form asks for the clinical time and the entry has none")]
    NoAskedClinicalTime,
    /// The caller's context is unusable.
    #[error("bad extraction context: {0}")]
    BadContext(&'static str),
    /// A resource could not get an element R4 requires (its item was disabled).
    #[error("{resource} extracted from '{context}' has no {element}")]
    MissingElement { resource: String, context: String, element: &'static str },
}

/// Key facts for duplicate detection, allergy checks and the time model.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    /// FHIR dateTime answered in the clinical-time item; `None` for a form that asks for it (the entry carries it).
    pub clinical_time: Option<String>,
    /// (system, value) of `response.subject.identifier`.
    pub subject_mrn: Option<(String, String)>,
    /// The medication-rule item's answer: lower case, NFC, single spaces (display for codings).
    pub medication: Option<String>,
    /// "system|code" of every answered item's `code` and every coded answer, in form order, each once.
    pub codes: Vec<String>,
}

/// Reads the key facts; tolerant of invalid responses (missing facts are `None`).
pub fn facts(form: &Form, response: &Value) -> Facts {
    facts_of_normalised(form, &text::normalise(form, response).0)
}

/// The facts of a response [`validate_response`] checked: its response is normalised already, and a save reads
/// them right after validating (normalising twice was a fifth of a save's work; issue 19).
pub fn facts_of_checked(form: &Form, checked: &Checked) -> Facts {
    facts_of_normalised(form, &checked.response)
}

fn facts_of_normalised(form: &Form, normalised: &Value) -> Facts {
    let answers = collect_answers(normalised);
    let clinical_time = form.clinical_time_item().and_then(|item| answers.get(item)).and_then(|a| {
        a.iter().find_map(|v| match v {
            AnswerValue::DateTime(s) => Some(s.clone()),
            _ => None,
        })
    });
    let subject_mrn = normalised.get("subject").and_then(|s| s.get("identifier")).and_then(|i| {
        let sys = i.get("system")?.as_str()?;
        let val = i.get("value")?.as_str()?;
        Some((sys.to_string(), val.to_string()))
    });
    let mut medication = None;
    let mut codes: Vec<String> = Vec::new();
    let mut add = |c: &Coding| {
        if let (Some(s), Some(c)) = (&c.system, &c.code) {
            let k = format!("{s}|{c}");
            if !codes.contains(&k) {
                codes.push(k);
            }
        }
    };
    for item in form.all_items() {
        let Some(list) = answers.get(&item.link_id) else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        item.code.iter().for_each(&mut add);
        for a in list {
            if let AnswerValue::Coding(c) = a {
                add(c);
            }
        }
        if medication.is_none() && item.has_rule(ClinicalRule::Medication) {
            medication =
                list.first().map(|a| a.as_text().split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase());
        }
    }
    Facts { clinical_time, subject_mrn, medication, codes }
}

/// Extracts FHIR R4 resources from a valid response: definition-based resources first (in form order), then
/// one Observation per answer of each observation-extract item. Resources have no `id`; the exporter adds fullUrls.
pub fn extract(form: &Form, response: &Value, ctx: &ExtractContext) -> Result<Vec<Value>, ExtractError> {
    check_context(ctx)?;
    let checked = validate_response(form, response);
    if !checked.is_valid() {
        let errors = checked.findings.iter().filter(|f| f.severity == Severity::Error).count();
        return Err(ExtractError::Invalid { errors });
    }
    extract_valid(form, &checked.response, ctx)
}

fn check_context(ctx: &ExtractContext) -> Result<(), ExtractError> {
    if ctx.entry_id.trim().is_empty() {
        return Err(ExtractError::BadContext("entry_id is empty"));
    }
    if !is_instant(ctx.recorded) {
        return Err(ExtractError::BadContext("recorded must be a FHIR instant (YYYY-MM-DDThh:mm:ss with a time zone)"));
    }
    for (r, what) in [
        (Some(&ctx.subject), "subject must be a FHIR Reference object"),
        (ctx.encounter.as_ref(), "encounter must be a FHIR Reference object"),
        (ctx.author.as_ref(), "author must be a FHIR Reference object"),
    ] {
        if r.is_some_and(|v| !v.is_object()) {
            return Err(ExtractError::BadContext(what));
        }
    }
    Ok(())
}

/// [`extract`] of a response that was validated when it was signed and is stored as validation normalised it (the
/// FHIR export, where validating every stored response again was most of the time per entry). The caller's context
/// is still checked; the response is not, so only pass what [`validate_response`] accepted.
pub fn extract_signed(form: &Form, response: &Value, ctx: &ExtractContext) -> Result<Vec<Value>, ExtractError> {
    check_context(ctx)?;
    extract_valid(form, response, ctx)
}

fn extract_valid(form: &Form, r: &Value, ctx: &ExtractContext) -> Result<Vec<Value>, ExtractError> {
    let clinical = match form.clinical_time_item() {
        Some(item) => collect_answers(r)
            .get(item)
            .and_then(|a| {
                a.iter().find_map(|v| match v {
                    AnswerValue::DateTime(s) => Some(s.clone()),
                    _ => None,
                })
            })
            .ok_or_else(|| ExtractError::MissingClinicalTime(item.to_string()))?,
        None => ctx
            .clinical_time
            .filter(|t| is_date_time(t))
            .map(str::to_string)
            .ok_or(ExtractError::NoAskedClinicalTime)?,
    };
    let x = Extractor { form, ctx, clinical };
    let empty = Vec::new();
    let top = r.get("item").and_then(Value::as_array).unwrap_or(&empty);
    let root_code: Vec<Coding> = form
        .source
        .get("code")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(coding).collect())
        .unwrap_or_default();

    let mut out = Vec::new();
    if let Some(ty) = &form.extraction_context {
        let mut fields = Vec::new();
        x.fields(form.items(), top, &mut fields);
        out.push(x.resource(ty, "", &root_code, "questionnaire", &fields)?);
    }
    x.contexts(form.items(), top, "", &mut out)?;
    let root = Parent { code: &root_code, text: Some(form.title.as_str()) };
    x.observations(form.items(), top, "", root, &mut out);
    Ok(out)
}

/// The group (or the questionnaire) around items: its code and text name the Observation its `component` items
/// are components of.
#[derive(Clone, Copy)]
struct Parent<'a> {
    code: &'a [Coding],
    text: Option<&'a str>,
}

struct Extractor<'a> {
    form: &'a Form,
    ctx: &'a ExtractContext<'a>,
    clinical: String,
}

/// Response items grouped by the form item they answer, with their `linkId[n]` path segment.
fn instances<'r>(
    form_items: &'r [Item],
    resp: &'r [Value],
    base: &str,
) -> Vec<(&'r Item, &'r Map<String, Value>, String)> {
    let mut out = Vec::new();
    for item in form_items {
        let mut n = 0;
        for o in resp.iter().filter_map(Value::as_object) {
            if o.get("linkId").and_then(Value::as_str) == Some(item.link_id.as_str()) {
                let path = if base.is_empty() {
                    format!("{}[{n}]", item.link_id)
                } else {
                    format!("{base}/{}[{n}]", item.link_id)
                };
                out.push((item, o, path));
                n += 1;
            }
        }
    }
    out
}

fn answers_of(o: &Map<String, Value>) -> Vec<AnswerValue> {
    o.get("answer")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_object().and_then(|m| typed_value(m, "value").ok())).collect())
        .unwrap_or_default()
}

fn children(o: &Map<String, Value>) -> &[Value] {
    o.get("item").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

impl<'a> Extractor<'a> {
    /// Items with a definition below one context instance, not crossing into nested contexts.
    fn fields<'r>(&self, form_items: &'r [Item], resp: &'r [Value], out: &mut Vec<(&'r Item, Vec<AnswerValue>)>) {
        for (item, o, _) in instances(form_items, resp, "") {
            if item.extraction_context.is_some() {
                continue;
            }
            if item.kind == ItemType::Group {
                self.fields(&item.items, children(o), out);
            } else if item.definition.is_some() {
                let a = answers_of(o);
                if !a.is_empty() {
                    out.push((item, a));
                }
            }
        }
    }

    fn contexts(
        &self,
        form_items: &[Item],
        resp: &[Value],
        base: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), ExtractError> {
        for (item, o, path) in instances(form_items, resp, base) {
            if item.kind != ItemType::Group {
                continue;
            }
            if let Some(ty) = &item.extraction_context {
                let mut fields = Vec::new();
                self.fields(&item.items, children(o), &mut fields);
                if !fields.is_empty() {
                    out.push(self.resource(ty, &path, &item.code, &item.link_id, &fields)?);
                }
            }
            self.contexts(&item.items, children(o), &path, out)?;
        }
        Ok(())
    }

    fn identifier(&self, resource_type: &str, path: &str) -> Value {
        let name = format!("{}|{}|{}", self.ctx.entry_id, resource_type, path);
        let id = Uuid::new_v5(&ID_NAMESPACE, name.as_bytes());
        json!({"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")})
    }

    fn resource(
        &self,
        ty: &str,
        path: &str,
        context_code: &[Coding],
        context_label: &str,
        fields: &[(&Item, Vec<AnswerValue>)],
    ) -> Result<Value, ExtractError> {
        let mut m = Map::new();
        m.insert("resourceType".into(), ty.into());
        m.insert("identifier".into(), one(self.identifier(ty, path)));
        for (item, answers) in fields {
            let Some((_, p)) = item.definition.as_deref().and_then(parse_definition) else {
                continue;
            };
            let Some(spec) = element_spec(ty, p) else {
                continue;
            };
            for a in answers {
                if let Some(v) = convert(spec.conv, item, a) {
                    spec.write(&mut m, v);
                }
            }
        }
        let ctx = self.ctx;
        let mut default = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                if !m.contains_key(k) {
                    m.insert(k.to_string(), v);
                }
            }
        };
        let clinical = Some(Value::from(self.clinical.clone()));
        match ty {
            "MedicationAdministration" => {
                default("status", Some("completed".into()));
                default("effectiveDateTime", clinical);
                default("subject", Some(ctx.subject.clone()));
                default("context", ctx.encounter.clone());
                default("performer", ctx.author.clone().map(|a| one(object([("actor", a)]))));
            }
            "MedicationRequest" => {
                default("status", Some("active".into()));
                default("intent", Some("order".into()));
                default("subject", Some(ctx.subject.clone()));
                default("encounter", ctx.encounter.clone());
                default("authoredOn", clinical);
                default("recorder", ctx.author.clone());
            }
            "DocumentReference" => {
                default("status", Some("current".into()));
                if !context_code.is_empty() {
                    default("type", Some(object([("coding", codings(context_code))])));
                }
                default("subject", Some(ctx.subject.clone()));
                default("date", Some(ctx.recorded.into()));
                default("author", ctx.author.clone().map(one));
                let mut c = m.remove("context").and_then(|v| v.as_object().cloned()).unwrap_or_default();
                if let Some(e) = &ctx.encounter {
                    c.insert("encounter".into(), one(e.clone()));
                }
                if !c.contains_key("period") {
                    c.insert("period".into(), json!({"start": self.clinical}));
                }
                m.insert("context".into(), Value::Object(c));
            }
            "Encounter" => {
                default("status", Some("in-progress".into()));
                default(
                    "class",
                    Some(
                        json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"}),
                    ),
                );
                default("subject", Some(ctx.subject.clone()));
                if !m.contains_key("period") {
                    m.insert("period".into(), json!({"start": self.clinical}));
                }
            }
            _ => {}
        }
        for need in required_elements(ty, &[]) {
            let present = match need {
                "content.attachment" => m.contains_key("content"),
                other => m.contains_key(other),
            };
            if !present {
                return Err(ExtractError::MissingElement {
                    resource: ty.to_string(),
                    context: context_label.to_string(),
                    element: need,
                });
            }
        }
        Ok(Value::Object(m))
    }

    /// One Observation per answer of each observation-extract item, and one per group instance (or questionnaire)
    /// holding the answers of its `component` items as components.
    fn observations(&self, form_items: &[Item], resp: &[Value], base: &str, parent: Parent, out: &mut Vec<Value>) {
        let mut components = Vec::new();
        let mut category: &[Coding] = &[];
        for (item, o, path) in instances(form_items, resp, base) {
            if item.kind == ItemType::Group {
                let group = Parent { code: &item.code, text: item.text.as_deref() };
                self.observations(&item.items, children(o), &path, group, out);
                continue;
            }
            if item.code.is_empty() || !(item.observation_extract || item.observation_component) {
                continue;
            }
            for (n, a) in answers_of(o).iter().enumerate() {
                let Some((key, value)) = observation_value(item, a) else {
                    continue;
                };
                if item.observation_component {
                    if components.is_empty() {
                        category = &item.observation_category;
                    }
                    let mut c = Map::new();
                    c.insert("code".into(), concept(&item.code, item.text.as_deref()));
                    c.insert(key.into(), value);
                    components.push(Value::Object(c));
                    continue;
                }
                let mut m = self.observation(
                    &format!("{path}/{n}"),
                    &item.observation_category,
                    &item.code,
                    item.text.as_deref(),
                );
                m.insert(key.into(), value);
                out.push(Value::Object(m));
            }
        }
        if !components.is_empty() && !parent.code.is_empty() {
            let path = if base.is_empty() { "components".to_string() } else { format!("{base}/components") };
            let mut m = self.observation(&path, category, parent.code, parent.text);
            m.insert("component".into(), Value::Array(components));
            out.push(Value::Object(m));
        }
        let _ = self.form;
    }

    /// An Observation's elements other than its value: identity, status, category, code, subject, time and performer.
    fn observation(&self, path: &str, category: &[Coding], code: &[Coding], text: Option<&str>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("resourceType".into(), "Observation".into());
        m.insert("identifier".into(), one(self.identifier("Observation", path)));
        m.insert("status".into(), "final".into());
        if !category.is_empty() {
            m.insert("category".into(), one(object([("coding", codings(category))])));
        }
        m.insert("code".into(), concept(code, text));
        m.insert("subject".into(), self.ctx.subject.clone());
        if let Some(e) = &self.ctx.encounter {
            m.insert("encounter".into(), e.clone());
        }
        m.insert("effectiveDateTime".into(), self.clinical.clone().into());
        m.insert("issued".into(), self.ctx.recorded.into());
        if let Some(a) = &self.ctx.author {
            m.insert("performer".into(), one(a.clone()));
        }
        m
    }
}

/// A CodeableConcept of an item's (or group's) codes, with its text.
fn concept(code: &[Coding], text: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("coding".into(), codings(code));
    if let Some(t) = text {
        m.insert("text".into(), t.into());
    }
    Value::Object(m)
}

/// The JSON of codings, built directly (`json!` would serialise an already built `Value` again to copy it).
fn codings(code: &[Coding]) -> Value {
    Value::Array(code.iter().map(Coding::to_json).collect())
}

/// A one-element JSON array.
fn one(v: Value) -> Value {
    Value::Array(vec![v])
}

/// A JSON object of the pairs given, in order.
fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A number as JSON, integral values without a fraction (FHIR allows either; this avoids "5.0").
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
    }
}

fn quantity_json(value: f64, unit: Option<&Coding>, q: Option<&Quantity>) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), number(value));
    if let Some(q) = q {
        if let Some(u) = q.unit.as_ref().or(q.code.as_ref()) {
            m.insert("unit".into(), u.clone().into());
        }
        if let Some(s) = &q.system {
            m.insert("system".into(), s.clone().into());
        }
        if let Some(c) = &q.code {
            m.insert("code".into(), c.clone().into());
        }
    } else if let Some(u) = unit {
        m.insert("unit".into(), u.label().to_string().into());
        if let Some(s) = &u.system {
            m.insert("system".into(), s.clone().into());
        }
        if let Some(c) = &u.code {
            m.insert("code".into(), c.clone().into());
        }
    }
    Value::Object(m)
}

/// Quantity answers keep the unit the form lists (display and system) even if the client sent only the code.
fn quantity_from_answer(item: &Item, q: &Quantity) -> Value {
    let listed = item.units.iter().find(|u| u.code.is_some() && u.code == q.code);
    match listed {
        Some(u) => quantity_json(q.value, Some(u), None),
        None => quantity_json(q.value, None, Some(q)),
    }
}

fn codeable(a: &AnswerValue) -> Option<Value> {
    match a {
        AnswerValue::Coding(c) => {
            let mut m = Map::new();
            m.insert("coding".into(), one(c.to_json()));
            if let Some(d) = &c.display {
                m.insert("text".into(), d.clone().into());
            }
            Some(Value::Object(m))
        }
        AnswerValue::String(s) => Some(json!({"text": s})),
        _ => None,
    }
}

fn convert(conv: Conv, item: &Item, a: &AnswerValue) -> Option<Value> {
    use data_encoding::BASE64;
    Some(match conv {
        Conv::Code => match a {
            AnswerValue::Coding(c) => c.code.clone()?.into(),
            _ => return None,
        },
        Conv::Coding => match a {
            AnswerValue::Coding(c) => c.to_json(),
            _ => return None,
        },
        Conv::CodeableConcept => codeable(a)?,
        Conv::Quantity => match a {
            AnswerValue::Quantity(q) => quantity_from_answer(item, q),
            AnswerValue::Integer(i) => quantity_json(*i as f64, item.units.first(), None),
            AnswerValue::Decimal(d) => quantity_json(*d, item.units.first(), None),
            _ => return None,
        },
        Conv::DateTime | Conv::Date => match a {
            AnswerValue::DateTime(s) | AnswerValue::Date(s) => s.clone().into(),
            _ => return None,
        },
        Conv::Str => a.as_text().into(),
        Conv::RefDisplay => json!({"display": a.as_text()}),
        Conv::Annotation => {
            let t = match &item.text {
                Some(label) => format!("{}: {}", label.trim_end_matches(['?', ':']), a.as_text()),
                None => a.as_text(),
            };
            json!({"text": t})
        }
        Conv::Attachment => {
            let mut att =
                json!({"contentType": "text/plain; charset=utf-8", "data": BASE64.encode(a.as_text().as_bytes())});
            if let Some(t) = &item.text {
                att["title"] = t.clone().into();
            }
            att
        }
        Conv::Identifier => {
            let mut id = Map::new();
            if !item.code.is_empty() {
                id.insert("type".into(), object([("coding", codings(&item.code))]));
            }
            if let Some(s) = &item.identifier_system {
                id.insert("system".into(), s.clone().into());
            }
            id.insert("value".into(), a.as_text().into());
            Value::Object(id)
        }
    })
}

/// Observation.value[x] for an answer (R4 has no valueDecimal: decimals become Quantities).
fn observation_value(item: &Item, a: &AnswerValue) -> Option<(&'static str, Value)> {
    Some(match a {
        AnswerValue::Boolean(b) => ("valueBoolean", (*b).into()),
        AnswerValue::Integer(i) if item.units.is_empty() => ("valueInteger", (*i).into()),
        AnswerValue::Integer(i) => ("valueQuantity", quantity_json(*i as f64, item.units.first(), None)),
        AnswerValue::Decimal(d) => ("valueQuantity", quantity_json(*d, item.units.first(), None)),
        AnswerValue::Quantity(q) => ("valueQuantity", quantity_from_answer(item, q)),
        AnswerValue::Date(s) | AnswerValue::DateTime(s) => ("valueDateTime", s.clone().into()),
        AnswerValue::Time(s) => ("valueTime", s.clone().into()),
        AnswerValue::String(s) => ("valueString", s.clone().into()),
        AnswerValue::Coding(_) => ("valueCodeableConcept", codeable(a)?),
    })
}
