//! Posting to a FHIR server over HTTP: a batch split into transactions, each one's transaction-response mapped back
//! to the worklist entries (one outcome per entry) and recorded as soon as the server answers.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::batch;
use super::bundle::{write_bundle, Part};
use super::{FhirError, PostOutcome};
use crate::clock::Clock;
use crate::crypto::Keys;
use crate::forms::Catalog;
use crate::vault::Vault;

/// What one post of a batch did.
#[derive(Debug, Clone, Serialize)]
pub struct PostReport {
    pub batch_id: String,
    /// Entries posted now, with the location of their QuestionnaireResponse on the server.
    pub posted: Vec<(String, String)>,
    /// Entries the server refused now, with its OperationOutcome text.
    pub failed: Vec<(String, String)>,
    /// Entries posted by an earlier attempt and not sent again.
    pub already_posted: usize,
    /// Entries not posted from this batch that the analyst has since taken another way (reposted in a later batch,
    /// entered by hand in the EHR, rejected): not sent again from this batch.
    pub taken_another_way: usize,
    /// Transactions sent now (each of at most the bound's entries).
    pub transactions: usize,
}

/// The default bound on entries per posted transaction: a few hundred entries (a few thousand resources) is what
/// EHR FHIR servers accept in one transaction, and a refused transaction then fails only its own entries.
pub const POST_ENTRIES_PER_TRANSACTION: usize = 500;

/// Where a batch is posted from: the vault it is recorded in, who posts it, with which forms.
pub struct Poster<'a> {
    pub vault: &'a mut Vault,
    pub keys: &'a Keys,
    pub actor: &'a str,
    pub catalog: &'a Catalog,
    pub clock: &'a dyn Clock,
}

/// Posts a batch to a FHIR server: everything not yet posted (the whole batch the first time, only what failed on a
/// retry, and never an entry the analyst has taken another way since), in transactions of at most `per_transaction` entries (1 to 10,000), recording per entry the server's
/// location or its OperationOutcome text. An entry's resources always travel in the same transaction. Each
/// transaction's outcome is recorded as soon as the server answers, so an interrupted post keeps what was done and a
/// retry sends only the rest.
pub fn post_batch(
    p: Poster<'_>,
    batch_id: &str,
    base_url: &str,
    per_transaction: usize,
) -> Result<PostReport, FhirError> {
    let per_transaction = per_transaction.clamp(1, 10_000);
    let states = batch::post_states(p.vault.conn(), batch_id)?;
    if states.is_empty() {
        return Err(FhirError::NoBatch(batch_id.to_string()));
    }
    let mut todo: Vec<(String, i64)> =
        states.iter().filter(|s| !s.posted && s.waiting).map(|s| (s.entry_id.clone(), s.position)).collect();
    // Entries that register a patient go first: the transactions after theirs refer to that patient by its MRN,
    // which resolves only once the Patient exists on the server.
    let registers = batch::registering(p.vault.conn(), p.keys, batch_id)?;
    todo.sort_by_key(|(id, pos)| (!registers.contains(id), *pos));
    let mut report = PostReport {
        batch_id: batch_id.into(),
        posted: vec![],
        failed: vec![],
        already_posted: states.iter().filter(|s| s.posted).count(),
        taken_another_way: states.iter().filter(|s| !s.posted && !s.waiting).count(),
        transactions: 0,
    };
    drop(states);
    // A server that keeps its audit trail to itself refuses a whole transaction holding the batch's AuditEvent.
    let without_audit_event = !todo.is_empty()
        && super::capability::fetch(base_url).is_some_and(|c| !super::capability::accepts_audit_event(&c));
    for chunk in todo.chunks(per_transaction) {
        let mut part = Part::of(chunk);
        part.without_audit_event = without_audit_event;
        let mut bytes = Vec::new();
        let tags = write_bundle(p.vault.conn(), p.keys, p.catalog, batch_id, Some(&part), &mut bytes)?;
        let outcome = match post(base_url, &bytes, &tags) {
            Ok(o) => o,
            Err(e) if report.transactions > 0 => {
                return Err(FhirError::PartlyPosted {
                    first: Box::new(e),
                    transactions: report.transactions,
                    posted: report.posted.len(),
                    failed: report.failed.len(),
                });
            }
            Err(e) => return Err(e),
        };
        drop(bytes);
        let _recorded = p
            .vault
            .write(p.keys, p.actor, p.clock.now(), |tx| batch::record_post(tx, p.keys, batch_id, base_url, &outcome))?;
        report.transactions += 1;
        report.posted.extend(outcome.posted);
        report.failed.extend(outcome.failed);
    }
    Ok(report)
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
