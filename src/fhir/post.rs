//! Posting a transaction Bundle to a FHIR server over HTTP and mapping its transaction-response back to the
//! worklist entries, one outcome per entry.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::FhirError;

/// The outcome of one post, per worklist entry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PostOutcome {
    pub posted: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

fn outcome_text(v: &Value) -> String {
    let issues = v.get("issue").and_then(Value::as_array).cloned().unwrap_or_default();
    let texts: Vec<String> = issues
        .iter()
        .filter_map(|i| {
            i.pointer("/details/text").or_else(|| i.get("diagnostics")).and_then(Value::as_str).map(str::to_string)
        })
        .collect();
    if texts.is_empty() {
        "the server refused it without an explanation".into()
    } else {
        texts.join("; ")
    }
}

/// Posts a transaction Bundle and maps the transaction-response back to worklist entries (by position). A refused
/// transaction fails every entry with the server's OperationOutcome text.
pub fn post(base_url: &str, bundle: &[u8], tags: &[Option<String>]) -> Result<PostOutcome, FhirError> {
    let url = base_url.trim_end_matches('/').to_string() + "/";
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(600)).build();
    let resp = agent
        .post(&url)
        .set("Content-Type", "application/fhir+json")
        .set("Accept", "application/fhir+json")
        .send_bytes(bundle);
    let mut out = PostOutcome::default();
    let ids: Vec<String> = {
        let mut seen = HashSet::new();
        tags.iter().flatten().filter(|t| seen.insert((*t).clone())).cloned().collect()
    };
    let body: Value = match resp {
        Ok(r) => r.into_json().map_err(|e| FhirError::BadResponse(e.to_string()))?,
        Err(ureq::Error::Status(code, r)) => {
            let text = r
                .into_json::<Value>()
                .map(|v| outcome_text(&v))
                .unwrap_or_else(|_| "no OperationOutcome in the answer".into());
            let text = format!("HTTP {code}: {text}");
            out.failed = ids.into_iter().map(|id| (id, text.clone())).collect();
            return Ok(out);
        }
        Err(e) => return Err(FhirError::Unreachable(e.to_string())),
    };
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .filter(|_| body.get("type") == Some(&json!("transaction-response")))
        .ok_or_else(|| FhirError::BadResponse("no transaction-response entries".into()))?;
    if entries.len() != tags.len() {
        return Err(FhirError::BadResponse(format!("{} answers for {} requests", entries.len(), tags.len())));
    }
    let mut failures: HashMap<String, String> = HashMap::new();
    let mut locations: HashMap<String, String> = HashMap::new();
    for (answer, tag) in entries.iter().zip(tags) {
        let Some(id) = tag else { continue };
        let status = answer.pointer("/response/status").and_then(Value::as_str).unwrap_or("");
        let ok = status
            .split_whitespace()
            .next()
            .and_then(|c| c.parse::<u16>().ok())
            .is_some_and(|c| (200..300).contains(&c));
        if ok {
            if let Some(loc) = answer.pointer("/response/location").and_then(Value::as_str) {
                if loc.starts_with("QuestionnaireResponse/") || !locations.contains_key(id) {
                    locations.insert(id.clone(), loc.to_string());
                }
            }
        } else {
            let text =
                answer.pointer("/response/outcome").map(outcome_text).unwrap_or_else(|| format!("status {status}"));
            failures.entry(id.clone()).or_insert(text);
        }
    }
    for id in ids {
        match failures.remove(&id) {
            Some(text) => out.failed.push((id, text)),
            None => out.posted.push((id.clone(), locations.remove(&id).unwrap_or_default())),
        }
    }
    Ok(out)
}
