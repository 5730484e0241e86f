//! The project's own reference checker for an exported Bundle (none of the validators checks references), and the
//! normaliser that makes an export comparable in snapshot tests and reviews.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};
use uuid::Uuid;

/// A problem found by [`check_bundle`].
pub type Problem = String;

/// The reference types each element may point to in what this project exports.
fn expected_types(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "subject" | "patient" => Some(&["Patient"]),
        "encounter" | "context" => Some(&["Encounter"]),
        _ => None,
    }
}

fn walk_refs(v: &Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("reference") {
                out.push((key.to_string(), r.clone()));
            }
            for (k, x) in o {
                if k != "reference" {
                    walk_refs(x, k, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk_refs(x, key, out)),
        _ => {}
    }
}

/// The project's own reference checker, because none of the validators checks references: every reference
/// resolves to an earlier entry of the bundle with the right type, or is a conditional reference by identifier;
/// every create has `ifNoneExist` (or is a `PUT` to a deterministic id or a conditional `PUT`); every
/// QuestionnaireResponse and every extracted resource is the target of a Provenance; one AuditEvent.
pub fn check_bundle(bundle: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    if bundle.get("resourceType") != Some(&json!("Bundle")) || bundle.get("type") != Some(&json!("transaction")) {
        problems.push("not a transaction Bundle".to_string());
        return problems;
    }
    let empty = Vec::new();
    let entries = bundle.get("entry").and_then(Value::as_array).unwrap_or(&empty);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut provenance_targets: BTreeSet<String> = BTreeSet::new();
    let mut needs_provenance: Vec<(usize, String)> = Vec::new();
    let mut audit_events = 0;
    for (i, entry) in entries.iter().enumerate() {
        let res = entry.get("resource").cloned().unwrap_or(Value::Null);
        let ty = res.get("resourceType").and_then(Value::as_str).unwrap_or("?").to_string();
        let method = entry.pointer("/request/method").and_then(Value::as_str).unwrap_or("");
        let url = entry.pointer("/request/url").and_then(Value::as_str).unwrap_or("");
        let at = format!("entry {i} ({ty})");
        let mut refs = Vec::new();
        walk_refs(&res, "", &mut refs);
        for (key, r) in refs {
            if let Some(target) = r.strip_prefix("urn:uuid:").map(|_| r.as_str()) {
                match seen.get(target) {
                    None => problems.push(format!("{at}: {key} refers to {target}, which no earlier entry defines")),
                    Some(t) => {
                        if let Some(allowed) = expected_types(&key) {
                            if !allowed.contains(&t.as_str()) {
                                problems.push(format!("{at}: {key} refers to a {t}, expected {}", allowed.join("|")));
                            }
                        }
                    }
                }
                if ty == "Provenance" && key == "target" {
                    provenance_targets.insert(target.to_string());
                }
            } else if let Some((rtype, query)) = r.split_once('?') {
                // One parameter only: a repeated or second key would let the server match on something else.
                if !query.starts_with("identifier=") || !query.contains('|') || query.contains('&') {
                    problems.push(format!("{at}: conditional reference in {key} is not by one system|identifier"));
                }
                if let Some(allowed) = expected_types(&key) {
                    if !allowed.contains(&rtype) {
                        problems.push(format!("{at}: {key} refers to a {rtype}, expected {}", allowed.join("|")));
                    }
                }
            } else {
                problems.push(format!("{at}: {key} is a literal reference ({r}); only bundle urns and conditional references are idempotent"));
            }
        }
        match (method, ty.as_str()) {
            ("POST", _) => {
                let ine = entry.pointer("/request/ifNoneExist").and_then(Value::as_str).unwrap_or("");
                if ine.is_empty() {
                    problems.push(format!("{at}: POST without ifNoneExist"));
                }
                let idents: Vec<Value> = match res.get("identifier") {
                    Some(Value::Array(a)) => a.clone(),
                    Some(o @ Value::Object(_)) => vec![o.clone()],
                    _ => Vec::new(),
                };
                let matches = idents.iter().any(|id| {
                    let s = id.get("system").and_then(Value::as_str).unwrap_or("");
                    let v = id.get("value").and_then(Value::as_str).unwrap_or("");
                    ine == format!("identifier={s}|{v}")
                });
                if !matches {
                    problems.push(format!("{at}: ifNoneExist does not name one of the resource's identifiers"));
                }
                if url != ty {
                    problems.push(format!("{at}: POST url {url} is not the resource type"));
                }
            }
            ("PUT", _) => {
                let deterministic = res.get("id").and_then(Value::as_str).is_some_and(|id| url == format!("{ty}/{id}"));
                let conditional = url.starts_with(&format!("{ty}?identifier="));
                if !deterministic && !conditional {
                    problems
                        .push(format!("{at}: PUT url {url} is neither {ty}/<resource id> nor a conditional update"));
                }
            }
            _ => problems.push(format!("{at}: method {method} is not POST or PUT")),
        }
        if let Some(full) = entry.get("fullUrl").and_then(Value::as_str) {
            if seen.insert(full.to_string(), ty.clone()).is_some() {
                problems.push(format!("{at}: fullUrl {full} appears twice"));
            }
            if !full.starts_with("urn:uuid:") {
                problems.push(format!("{at}: fullUrl is not a urn:uuid"));
            }
            if !matches!(ty.as_str(), "Patient" | "Provenance" | "AuditEvent") {
                needs_provenance.push((i, full.to_string()));
            }
        } else if method == "POST" {
            problems.push(format!("{at}: POST without a urn:uuid fullUrl"));
        }
        if ty == "AuditEvent" {
            audit_events += 1;
        }
    }
    for (i, full) in needs_provenance {
        if !provenance_targets.contains(&full) {
            problems.push(format!("entry {i}: no Provenance targets {full}"));
        }
    }
    if audit_events != 1 {
        problems.push(format!("the bundle has {audit_events} AuditEvent(s), expected 1"));
    }
    problems
}

/// Rewrites an export's JSON for snapshot tests and reviews: every urn:uuid and deterministic id becomes a stable
/// placeholder in order of first appearance, and instants become `<time>`.
pub fn normalise(value: &Value) -> Value {
    fn is_uuid(s: &str) -> bool {
        s.len() == 36 && Uuid::parse_str(s).is_ok()
    }
    fn go(v: &Value, names: &mut HashMap<String, String>) -> Value {
        match v {
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o {
                    let nv = match (k.as_str(), x) {
                        ("recorded" | "timestamp" | "issued" | "date", Value::String(_)) => json!("<time>"),
                        // The watermark's details are in workstation-id order, and ids are random run to run: named
                        // in the order of what they say without the ids, so the same batch normalises the same.
                        ("detail", Value::Array(a)) => {
                            let mut d = a.clone();
                            d.sort_by_cached_key(|x| {
                                let ty = x["type"].as_str().unwrap_or_default();
                                (ty.split(':').next().unwrap_or_default().to_string(), x["valueString"].to_string())
                            });
                            Value::Array(d.iter().map(|x| go(x, names)).collect())
                        }
                        (_, Value::String(s)) => {
                            let mut t = s.clone();
                            for part in s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')).filter(|p| is_uuid(p)) {
                                let n = names.len();
                                let name = names.entry(part.to_string()).or_insert_with(|| format!("<id{n}>")).clone();
                                t = t.replace(part, &name);
                            }
                            json!(t)
                        }
                        _ => go(x, names),
                    };
                    m.insert(k.clone(), nv);
                }
                Value::Object(m)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| go(x, names)).collect()),
            other => other.clone(),
        }
    }
    go(value, &mut HashMap::new())
}
