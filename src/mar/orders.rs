//! The MAR's two sources of orders and doses, as plain values: the census snapshot (active and on-hold
//! MedicationRequests with their timing, and the MedicationAdministrations given before the outage) and the
//! downtime's signed entries (medication-order and medication-administration responses).

use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::timing::Timing;
use super::zone::LocalZone;
use crate::census::PatientRecord;
use crate::clock::parse_stamp;

/// Where an order comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderSource {
    /// A MedicationRequest of the census snapshot.
    Census,
    /// A medication-order entry charted during the downtime.
    Downtime,
}

/// A medication order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: String,
    pub source: OrderSource,
    pub medication: String,
    /// "system|code" of the medication, when coded.
    pub code: Option<String>,
    pub dose: Option<String>,
    pub route: Option<String>,
    /// The order's own words (dosage text, instructions): what "see order" points to.
    pub text: Option<String>,
    pub timing: Timing,
    pub prn: bool,
    pub on_hold: bool,
    /// From when it runs (bounds start, authored, the downtime order's time).
    pub start: Option<OffsetDateTime>,
    /// Until when (bounds end, start + duration); exclusive.
    pub stop: Option<OffsetDateTime>,
    /// A downtime order that discontinues the medication's earlier orders at its time.
    pub discontinue: bool,
}

/// A dose given or charted as not given.
#[derive(Debug, Clone, PartialEq)]
pub struct Dose {
    pub at: OffsetDateTime,
    pub given: bool,
    pub reason: Option<String>,
    pub prn: bool,
    pub medication: String,
    pub code: Option<String>,
    /// The medication-administration entry; `None` for a dose from the census snapshot.
    pub entry_id: Option<String>,
    /// The census administration's `request` reference.
    pub order_ref: Option<String>,
}

/// The frequency answer that discontinues a medication (forms/medication-order.json).
pub const DISCONTINUE: &str = "discontinue";

/// A FHIR dateTime as an instant: full times with their offset, a bare date as the start of that day where the
/// unit is.
pub fn fhir_instant(text: &str, zone: &LocalZone) -> Option<OffsetDateTime> {
    if let Some(t) = parse_stamp(text) {
        return Some(t);
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    zone.at(date, time::Time::MIDNIGHT)
}

/// The end of a FHIR bounds: a bare date runs to the end of that day.
fn fhir_end(text: &str, zone: &LocalZone) -> Option<OffsetDateTime> {
    if text.len() == 10 {
        return fhir_instant(text, zone).and_then(|t| t.checked_add(Duration::days(1)));
    }
    fhir_instant(text, zone)
}

/// The orders of the census snapshot.
pub fn census_orders(record: &PatientRecord, zone: &LocalZone) -> Vec<Order> {
    record
        .medications
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let timing = m.timing.clone().unwrap_or_default();
            let start = timing.bounds_start.as_deref().or(m.authored_on.as_deref()).and_then(|s| fhir_instant(s, zone));
            let stop = timing
                .bounds_end
                .as_deref()
                .and_then(|s| fhir_end(s, zone))
                .or_else(|| start?.checked_add(Duration::minutes(timing.bounds_minutes?)));
            Order {
                id: format!("census:{}", m.id.clone().unwrap_or_else(|| (i + 1).to_string())),
                source: OrderSource::Census,
                medication: m.name.clone(),
                code: m.code.clone(),
                dose: m.dose.clone(),
                route: m.route.clone(),
                text: m.dosage.clone(),
                prn: m.prn,
                on_hold: m.status.as_deref() == Some("on-hold"),
                start,
                stop,
                discontinue: false,
                timing,
            }
        })
        .collect()
}

/// The doses the census snapshot says were given (or not) before the outage.
pub fn census_doses(record: &PatientRecord) -> Vec<Dose> {
    record
        .administrations
        .iter()
        .filter_map(|a| {
            let given = match a.status.as_str() {
                "completed" => true,
                "not-done" => false,
                _ => return None,
            };
            Some(Dose {
                at: parse_stamp(&a.at)?,
                given,
                reason: a.reason.clone(),
                prn: false,
                medication: a.medication.clone(),
                code: a.code.clone(),
                entry_id: None,
                order_ref: a.request.clone(),
            })
        })
        .collect()
}

/// The first answer of `link_id`, wherever it is in the response.
fn answer<'a>(response: &'a Value, link_id: &str) -> Option<&'a Value> {
    fn find<'a>(items: &'a Value, link_id: &str) -> Option<&'a Value> {
        items.as_array()?.iter().find_map(|i| {
            if i.get("linkId").and_then(Value::as_str) == Some(link_id) {
                i.get("answer").and_then(Value::as_array).and_then(|a| a.first())
            } else {
                i.get("item").and_then(|sub| find(sub, link_id))
            }
        })
    }
    find(response.get("item")?, link_id)
}

fn str_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// An answer as a nurse reads it: a coding's display (else code), a string, a quantity with its unit.
fn answer_text(a: &Value) -> Option<String> {
    if let Some(c) = a.get("valueCoding") {
        return str_of(c.get("display")).or_else(|| str_of(c.get("code")));
    }
    if let Some(q) = a.get("valueQuantity") {
        let value = q.get("value").and_then(Value::as_f64)?;
        let unit = str_of(q.get("unit")).or_else(|| str_of(q.get("code"))).unwrap_or_default();
        return Some(format!("{value} {unit}").trim().to_string());
    }
    str_of(a.get("valueString"))
}

fn answer_code(a: &Value) -> Option<String> {
    let c = a.get("valueCoding")?;
    Some(format!("{}|{}", str_of(c.get("system")).unwrap_or_default(), str_of(c.get("code"))?))
}

fn answer_bool(response: &Value, link_id: &str) -> bool {
    answer(response, link_id).and_then(|a| a.get("valueBoolean")).and_then(Value::as_bool).unwrap_or(false)
}

fn answer_time(response: &Value, link_id: &str, zone: &LocalZone) -> Option<OffsetDateTime> {
    answer(response, link_id)
        .and_then(|a| a.get("valueDateTime"))
        .and_then(Value::as_str)
        .and_then(|s| fhir_instant(s, zone))
}

/// A signed medication-order entry as an order. `None` when it names no medication or no time.
pub fn downtime_order(entry_id: &str, response: &Value, zone: &LocalZone) -> Option<Order> {
    let medication = answer(response, "medication")?;
    let start = answer_time(response, "order-time", zone)?;
    let frequency = answer(response, "frequency");
    let coded = frequency.and_then(|a| a.get("valueCoding")).and_then(|c| str_of(c.get("code")));
    let written = frequency.and_then(answer_text);
    let mut discontinue = false;
    let timing = match coded.as_deref().or(written.as_deref().map(str::trim)) {
        Some("once") => Timing { event: vec![crate::clock::stamp(start)], ..Timing::default() },
        Some("daily") => Timing::daily(1),
        Some("twice-daily") => Timing::daily(2),
        Some("three-times-daily") => Timing::daily(3),
        Some("four-times-daily") => Timing::daily(4),
        Some("every-4-hours") => Timing::every_hours(4),
        Some("every-6-hours") => Timing::every_hours(6),
        Some("every-8-hours") => Timing::every_hours(8),
        Some("at-bedtime") => Timing { when: vec!["HS".into()], ..Timing::default() },
        Some(other) if other.eq_ignore_ascii_case(DISCONTINUE) || other.eq_ignore_ascii_case("stop") => {
            discontinue = true;
            Timing::default()
        }
        // Written in words: scheduled only when it is a standard abbreviation, else "see order".
        Some(other) => Timing { code: Some(other.to_string()), ..Timing::default() },
        None => Timing::default(),
    };
    let duration = answer(response, "duration").and_then(|a| a.get("valueQuantity")).and_then(|q| {
        let value = q.get("value").and_then(Value::as_f64)?;
        let per = match str_of(q.get("code")).as_deref() {
            Some("h") => 60.0,
            Some("d") => 1440.0,
            Some("wk") => 10080.0,
            _ => return None,
        };
        let minutes = value * per;
        (minutes.is_finite() && minutes > 0.0 && minutes <= 366.0 * 1440.0).then(|| Duration::minutes(minutes as i64))
    });
    let text = [written, str_of(answer(response, "instructions").and_then(|a| a.get("valueString")))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    Some(Order {
        id: entry_id.to_string(),
        source: OrderSource::Downtime,
        medication: answer_text(medication)?,
        code: answer_code(medication),
        dose: answer(response, "dose").and_then(answer_text),
        route: answer(response, "route").and_then(answer_text),
        text: (!text.is_empty()).then_some(text),
        timing,
        prn: answer_bool(response, "prn"),
        on_hold: false,
        start: Some(start),
        stop: duration.and_then(|d| start.checked_add(d)),
        discontinue,
    })
}

/// A signed medication-administration entry as a dose. `None` when it names no medication or no time.
pub fn charted_dose(entry_id: &str, response: &Value, zone: &LocalZone) -> Option<Dose> {
    let medication = answer(response, "medication")?;
    let outcome = answer(response, "outcome").and_then(|a| a.get("valueCoding")).and_then(|c| str_of(c.get("code")));
    let given = outcome.as_deref() != Some("not-done");
    Some(Dose {
        at: answer_time(response, "time-given", zone)?,
        given,
        reason: if given { None } else { answer(response, "not-given-reason").and_then(answer_text) },
        prn: answer_bool(response, "prn"),
        medication: answer_text(medication)?,
        code: answer_code(medication),
        entry_id: Some(entry_id.to_string()),
        order_ref: None,
    })
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether a dose's medication is an order's: the same code, or the same name, or one name starting with the other
/// at a word ("acetaminophen" charted against "Acetaminophen 325 MG Oral Tablet").
pub fn same_medication(order: &Order, dose: &Dose) -> bool {
    if let (Some(a), Some(b)) = (&order.code, &dose.code) {
        if a == b {
            return true;
        }
    }
    let (a, b) = (words(&order.medication), words(&dose.medication));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let starts = |long: &str, short: &str| long == short || long.starts_with(&format!("{short} "));
    starts(&a, &b) || starts(&b, &a)
}

/// Whether a discontinuing order stops `order` (same medication by the same rule).
pub fn same_drug(order: &Order, other: &Order) -> bool {
    let as_dose = Dose {
        at: OffsetDateTime::UNIX_EPOCH,
        given: true,
        reason: None,
        prn: false,
        medication: other.medication.clone(),
        code: other.code.clone(),
        entry_id: None,
        order_ref: None,
    };
    same_medication(order, &as_dose)
}

/// Whether a census administration's `request` names this order (`MedicationRequest/<id>` or a `urn:uuid:<id>`).
pub fn refers_to(reference: &str, order: &Order) -> bool {
    let Some(id) = order.id.strip_prefix("census:") else { return false };
    reference.strip_suffix(id).is_some_and(|head| head.ends_with('/') || head.ends_with(':'))
}
