//! Posting to a FHIR server over HTTP: a batch split into transactions, a bounded number in flight, each one's
//! transaction-response mapped back to the worklist entries (one outcome per entry) and recorded as soon as the
//! server answers. Built in short reads, recorded in short writes: nothing here holds the vault while waiting on the
//! network.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::batch;
use super::bundle::{write_bundle, Part};
use super::http::Client;
use super::{FhirError, PostOutcome};
use crate::crypto::Keys;
use crate::forms::Catalog;
use crate::vault::Vault;

/// What one post of a batch did.
#[derive(Debug, Clone, Serialize)]
pub struct PostReport {
    pub batch_id: String,
    /// The server's name in the site's allowlist.
    pub server: String,
    /// Entries posted now, with the location of their QuestionnaireResponse on the server.
    pub posted: Vec<(String, String)>,
    /// Entries the server refused now, with its OperationOutcome text.
    pub failed: Vec<(String, String)>,
    /// Entries posted by an earlier attempt and not sent again.
    pub already_posted: usize,
    /// Entries not posted from this batch that the analyst has since taken another way (reposted in a later batch,
    /// entered by hand in the EHR, rejected): not sent again from this batch.
    pub taken_another_way: usize,
    /// Transactions answered and recorded now (each of at most the bound's entries).
    pub transactions: usize,
}

/// The default bound on entries per posted transaction: a few hundred entries (a few thousand resources) is what
/// EHR FHIR servers accept in one transaction, and a refused transaction then fails only its own entries.
pub const POST_ENTRIES_PER_TRANSACTION: usize = 500;
/// The default bound on transactions in flight at once: enough to keep a server's workers busy while one
/// transaction is built or recorded, few enough not to look like a flood to an EHR just back from an outage.
pub const POSTS_IN_FLIGHT: usize = 4;

/// What a post of a batch will send, read in one short look at the vault: the parts of registrations (sent, and
/// answered, first: the other entries refer to their patients by MRN) and the parts of every other entry.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub batch_id: String,
    pub registering: Vec<Part>,
    pub others: Vec<Part>,
    /// Entries to send now.
    pub entries: usize,
    pub already_posted: usize,
    pub taken_another_way: usize,
}

/// Plans the post of a batch: everything not yet posted that still waits on it (the whole batch the first time, only
/// what was not answered or was refused on a retry, never an entry taken another way since), in parts of at most
/// `per_transaction` entries (1 to 10,000), registrations in parts of their own. An entry is never split.
pub fn plan(
    conn: &rusqlite::Connection,
    keys: &Keys,
    batch_id: &str,
    per_transaction: usize,
) -> Result<Plan, FhirError> {
    let per_transaction = per_transaction.clamp(1, 10_000);
    let states = batch::post_states(conn, batch_id)?;
    if states.is_empty() {
        return Err(FhirError::NoBatch(batch_id.to_string()));
    }
    let registers = batch::registering(conn, keys, batch_id)?;
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for s in states.iter().filter(|s| !s.posted && s.waiting) {
        let to = if registers.contains(&s.entry_id) { &mut first } else { &mut rest };
        to.push((s.entry_id.clone(), s.position));
    }
    let parts = |v: &[(String, i64)]| v.chunks(per_transaction).map(Part::of).collect::<Vec<_>>();
    Ok(Plan {
        batch_id: batch_id.into(),
        registering: parts(&first),
        others: parts(&rest),
        entries: first.len() + rest.len(),
        already_posted: states.iter().filter(|s| s.posted).count(),
        taken_another_way: states.iter().filter(|s| !s.posted && !s.waiting).count(),
    })
}

/// One transaction ready to send: the Bundle's bytes and, per bundle entry, the worklist entry it belongs to.
pub struct Transaction {
    pub bytes: Vec<u8>,
    pub tags: Vec<Option<String>>,
    /// Worklist entries in it.
    pub entries: usize,
}

/// Builds the transaction of one part (a short read of the vault).
pub fn build(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    batch_id: &str,
    part: &Part,
) -> Result<Transaction, FhirError> {
    let mut bytes = Vec::new();
    let tags = write_bundle(conn, keys, catalog, batch_id, Some(part), &mut bytes)?;
    Ok(Transaction { bytes, tags, entries: part.ids.len() })
}

/// Records one transaction's answer per entry (a short write): posted with its location, or refused with the
/// server's text (open on the worklist until the analyst decides).
pub fn record(
    vault: &mut Vault,
    keys: &Keys,
    actor: &str,
    at: time::OffsetDateTime,
    batch_id: &str,
    server: &str,
    outcome: &PostOutcome,
) -> Result<(), FhirError> {
    let _recorded = vault.write(keys, actor, at, |tx| batch::record_post(tx, keys, batch_id, server, outcome))?;
    Ok(())
}

/// Where a post builds its transactions and records their answers. Each call is short and may take the workstation's
/// lock for its own length; [`run`] holds nothing while a transaction is on the network.
pub trait PostStore {
    type Error: From<FhirError>;
    fn build(&mut self, part: &Part) -> Result<Transaction, Self::Error>;
    fn record(&mut self, outcome: &PostOutcome) -> Result<(), Self::Error>;
}

/// How far a post has come: entries sent (in flight or answered), accepted, refused, and not yet answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub sent: usize,
    pub accepted: usize,
    pub refused: usize,
    pub remaining: usize,
}

/// A post that stopped before the end: why, and what was answered and recorded before (kept: posting again sends
/// only the rest).
pub struct Stopped<E> {
    pub error: E,
    pub report: PostReport,
}

/// Runs a planned post: registrations first, every one answered and recorded before any other entry is sent, then
/// the rest; at most `in_flight` transactions on the network at once (each on a thread of its own: the client is
/// blocking and nothing else here needs an async runtime); each answer recorded as it comes, so an interrupted post
/// keeps what was answered. After an error nothing new is sent, but what is in flight is still awaited and recorded.
pub fn run<S: PostStore>(
    store: &mut S,
    plan: Plan,
    client: &Client,
    in_flight: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<PostReport, Stopped<S::Error>> {
    let in_flight = in_flight.clamp(1, 32);
    let mut report = PostReport {
        batch_id: plan.batch_id.clone(),
        server: client.name().to_string(),
        posted: vec![],
        failed: vec![],
        already_posted: plan.already_posted,
        taken_another_way: plan.taken_another_way,
        transactions: 0,
    };
    // A server that keeps its audit trail to itself (helios-hfs) refuses a whole transaction holding the batch's
    // AuditEvent: its CapabilityStatement, read once, says so, and the transactions then go without it.
    let without_audit_event = plan.entries > 0 && super::capability::refuses_audit_event(client);
    let mut now = Progress { remaining: plan.entries, ..Progress::default() };
    progress(now);
    let mut stop: Option<S::Error> = None;
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Result<PostOutcome, FhirError>>();
        for phase in [plan.registering, plan.others] {
            let mut parts = phase.into_iter();
            let mut flying = 0;
            loop {
                while flying < in_flight && stop.is_none() {
                    let Some(mut part) = parts.next() else { break };
                    part.without_audit_event = without_audit_event;
                    match store.build(&part) {
                        Ok(t) => {
                            let done = done_tx.clone();
                            now.sent += t.entries;
                            scope.spawn(move || done.send(send(client, &t)));
                            flying += 1;
                        }
                        Err(e) => stop = Some(e),
                    }
                }
                progress(now);
                if flying == 0 {
                    break;
                }
                let Ok(answer) = done_rx.recv() else { break };
                flying -= 1;
                match answer.map_err(S::Error::from).and_then(|o| store.record(&o).map(|()| o)) {
                    Ok(o) => {
                        report.transactions += 1;
                        now.accepted += o.posted.len();
                        now.refused += o.failed.len();
                        now.remaining = now.remaining.saturating_sub(o.posted.len() + o.failed.len());
                        report.posted.extend(o.posted);
                        report.failed.extend(o.failed);
                    }
                    Err(e) => {
                        stop.get_or_insert(e);
                    }
                }
            }
            if stop.is_some() {
                break;
            }
        }
    });
    progress(now);
    match stop {
        Some(error) => Err(Stopped { error, report }),
        None => Ok(report),
    }
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

/// Sends one transaction and maps the transaction-response back to worklist entries (by position). A transaction
/// the server refuses as a whole fails every entry with its OperationOutcome text; credentials refused, a server
/// unavailable through every retry or unreachable is an error, and nothing is recorded for it.
pub fn send(client: &Client, t: &Transaction) -> Result<PostOutcome, FhirError> {
    let resp = client.post("", &t.bytes)?;
    let tags = &t.tags;
    let mut out = PostOutcome::default();
    let ids: Vec<String> = {
        let mut seen = HashSet::new();
        tags.iter().flatten().filter(|t| seen.insert((*t).clone())).cloned().collect()
    };
    if !(200..300).contains(&resp.status) {
        let text = serde_json::from_slice::<Value>(&resp.body)
            .map(|v| outcome_text(&v))
            .unwrap_or_else(|_| "no OperationOutcome in the answer".into());
        let text = format!("HTTP {}: {text}", resp.status);
        out.failed = ids.into_iter().map(|id| (id, text.clone())).collect();
        return Ok(out);
    }
    let body: Value = serde_json::from_slice(&resp.body).map_err(|e| FhirError::BadResponse(e.to_string()))?;
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
