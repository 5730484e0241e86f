//! The side-by-side view of two entries (a proposed duplicate pair, or any two): each as a card with its answers
//! by linkId, and the linkIds whose answers differ.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{load, State};
use crate::crypto::Keys;
use crate::entries::{self, PatientHeader, Status};
use crate::vault::VaultError;

/// One side of the side-by-side duplicate view.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub entry_id: String,
    pub workstation: String,
    pub origin: entries::Origin,
    pub author: String,
    pub form: String,
    pub status: Status,
    pub version: i64,
    pub state: State,
    pub recorded_at: String,
    pub clinical_time: Option<String>,
    pub patient: PatientHeader,
    pub medication: Option<String>,
    /// For an entry from paper: the page it came from (form, printed when, where, which episode).
    pub paper_page: Option<String>,
    /// (linkId, answer as text), in form order.
    pub answers: Vec<(String, String)>,
}

/// Two entries side by side, and the answers (by linkId) that differ.
#[derive(Debug, Clone, Serialize)]
pub struct SideBySide {
    pub left: Card,
    pub right: Card,
    pub differences: Vec<String>,
}

fn answer_text(v: &Value) -> String {
    let Some(obj) = v.as_object() else { return String::new() };
    for (k, val) in obj {
        if !k.starts_with("value") {
            continue;
        }
        return match val {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                if let Some(d) = o.get("display").and_then(Value::as_str) {
                    d.to_string()
                } else if let Some(n) = o.get("value") {
                    format!("{n} {}", o.get("unit").and_then(Value::as_str).unwrap_or("")).trim().to_string()
                } else {
                    o.get("code").and_then(Value::as_str).unwrap_or_default().to_string()
                }
            }
            other => other.to_string(),
        };
    }
    String::new()
}

fn flatten(items: &Value, out: &mut Vec<(String, String)>) {
    for it in items.as_array().into_iter().flatten() {
        let link = it.get("linkId").and_then(Value::as_str).unwrap_or_default();
        let answers: Vec<String> =
            it.get("answer").and_then(Value::as_array).into_iter().flatten().map(answer_text).collect();
        if !answers.is_empty() {
            out.push((link.to_string(), answers.join("; ")));
        }
        for a in it.get("answer").and_then(Value::as_array).into_iter().flatten() {
            if let Some(sub) = a.get("item") {
                flatten(sub, out);
            }
        }
        if let Some(sub) = it.get("item") {
            flatten(sub, out);
        }
    }
}

/// One entry as a card of the side-by-side view.
pub fn card(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<Option<Card>, VaultError> {
    let Some(d) = entries::detail(conn, keys, id)? else { return Ok(None) };
    let Some(row) = load(conn, id)? else { return Ok(None) };
    let Some(v) = d.versions.last() else { return Ok(None) };
    let mut answers = Vec::new();
    flatten(v.body.response.get("item").unwrap_or(&Value::Null), &mut answers);
    Ok(Some(Card {
        entry_id: id.to_string(),
        workstation: d.summary.workstation.clone(),
        origin: d.summary.origin,
        author: v.body.paper.as_ref().map(|p| p.author_name.clone()).unwrap_or_else(|| d.summary.author.clone()),
        form: d.summary.form.clone(),
        status: d.summary.status,
        version: v.version,
        state: row.state,
        recorded_at: v.recorded_at.clone(),
        clinical_time: v.body.clinical_time.clone(),
        patient: v.body.patient.clone(),
        medication: v.body.medication.clone(),
        paper_page: v.body.paper.as_ref().map(|p| crate::paper::page_label(p.qr.as_deref())),
        answers,
    }))
}

/// The side-by-side view of a proposed (or any) pair.
pub fn side_by_side(
    conn: &rusqlite::Connection,
    keys: &Keys,
    a: &str,
    b: &str,
) -> Result<Option<SideBySide>, VaultError> {
    let (Some(left), Some(right)) = (card(conn, keys, a)?, card(conn, keys, b)?) else { return Ok(None) };
    let mut differences = Vec::new();
    let l: BTreeMap<&str, &str> = left.answers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r: BTreeMap<&str, &str> = right.answers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for k in l.keys().chain(r.keys()) {
        if l.get(k) != r.get(k) && !differences.iter().any(|d: &String| d == k) {
            differences.push((*k).to_string());
        }
    }
    Ok(Some(SideBySide { left, right, differences }))
}
