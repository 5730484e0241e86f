//! Read-back (issue 15 item 4): after a post, every resource of the batch's posted entries is searched for on the
//! server the batch was posted to, by the deterministic identifier the export gave it (the `ifNoneExist` or
//! conditional-update criterion, or the id of a resource `PUT` to a deterministic id): one identifier per search (a
//! server answers that from its index, whatever else it holds), ids several per search, a few searches in flight at
//! once, page after page, a bounded number of entries at a time. Each entry's result (every resource there exactly
//! once, some missing, one there more than once) is recorded in the vault.
//!
//! The searches are in `search.rs`; their HTTP GET is behind [`FhirRead`]: the site's client for the server the batch
//! was posted to (allowlist, CA bundle, credentials, retries: `http::Client`) in the product, the plain `UreqRead` or
//! a double in tests. The
//! steps that touch the vault are behind [`ReadbackStore`], each short, so nothing holds the workstation while a
//! search waits on the network.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::batch::{self, batch_meta, each_entry, Pass};
use super::bundle::{audit_event, entry_values, Part};
use super::search::{By, FhirRead, Search, Wanted};
use super::verified::{self, EntryReadback, ReadState, ResourceProblem};
use super::{BatchMeta, FhirError, URN_SYSTEM};
use crate::clock::stamp;
use crate::crypto::Keys;
use crate::forms::Catalog;
use crate::vault::{Tx, Vault};

/// Entries read back per round: their resources are searched for, then their results recorded, before the next
/// round is read from the vault (memory holds one round, whatever the size of the batch).
pub const ENTRIES_PER_ROUND: usize = 100;

impl Wanted {
    /// The resource's name in a report: its type and identifier, never patient data (a Patient's identifier is its
    /// MRN, so it is left out).
    fn problem(&self, found: usize) -> ResourceProblem {
        let identifier = match &self.by {
            By::Identifier(system, value) if system == URN_SYSTEM => Some(value.clone()),
            By::Identifier(..) => None,
            By::Id(id) => Some(format!("{}/{id}", self.resource_type)),
        };
        ResourceProblem { resource_type: self.resource_type.clone(), identifier, found }
    }
}

/// `system|value` of a search criterion `identifier=system|value`.
fn identifier_criterion(criterion: &str) -> Option<By> {
    let (system, value) = criterion.strip_prefix("identifier=")?.split_once('|')?;
    Some(By::Identifier(system.to_string(), value.to_string()))
}

/// What a bundle entry is found by on the server: the criterion its request used to make it exactly once.
fn wanted(item: &Value) -> Option<Wanted> {
    let resource = item.get("resource")?;
    let resource_type = resource.get("resourceType")?.as_str()?.to_string();
    let request = item.get("request");
    let by = request
        .and_then(|r| r.get("ifNoneExist"))
        .and_then(Value::as_str)
        .and_then(identifier_criterion)
        .or_else(|| {
            let url = request?.get("url")?.as_str()?;
            match url.split_once('?') {
                Some((_, query)) => identifier_criterion(query),
                None => url.split_once('/').map(|(_, id)| By::Id(id.to_string())),
            }
        })
        .or_else(|| resource.get("id").and_then(Value::as_str).map(|id| By::Id(id.to_string())))?;
    Some(Wanted { resource_type, by })
}

/// What a read-back of a batch found on its server.
#[derive(Debug, Clone, Serialize)]
pub struct Readback {
    pub batch_id: String,
    /// The base URL the batch was posted to (as recorded at post time).
    pub server: String,
    pub checked_at: String,
    /// Entries of the batch posted to the server: every one is read back.
    pub entries: usize,
    /// Entries whose every resource is on the server exactly once.
    pub verified: usize,
    /// Resources of the posted entries found on the server (the batch's AuditEvent included).
    pub resources: usize,
    /// Resources searched for (the batch's AuditEvent included).
    pub resources_expected: usize,
    /// Resources the searches found, per type, copies included: the same figure before and after a second post
    /// proves that it created nothing.
    pub found_per_type: BTreeMap<String, usize>,
    /// How many times the batch's AuditEvent is on the server (1 when all is well).
    pub audit_event: usize,
    /// False when the server's CapabilityStatement takes no AuditEvent from a client (helios-hfs): the post left it
    /// out (`capability.rs`), so it is not looked for.
    pub audit_event_expected: bool,
    /// Entries of the batch not posted (refused, or not sent): not read back.
    pub not_posted: usize,
    /// Every entry that is not present, with what is wrong.
    pub problems: Vec<EntryReadback>,
}

impl Readback {
    /// Every posted entry and the batch's AuditEvent are on the server, each resource exactly once.
    pub fn all_present(&self) -> bool {
        self.problems.is_empty()
            && self.verified == self.entries
            && (!self.audit_event_expected || self.audit_event == 1)
    }
}

/// Where a batch is read back from: the vault it is recorded in, who reads it back, with which forms, when.
pub struct ReadBack<'a> {
    pub vault: &'a mut Vault,
    pub keys: &'a Keys,
    pub actor: &'a str,
    pub catalog: &'a Catalog,
    pub at: OffsetDateTime,
}

/// The server a batch was posted to, as the post recorded it.
pub fn posted_server(conn: &rusqlite::Connection, keys: &Keys, batch_id: &str) -> Result<Option<String>, FhirError> {
    let detail = crate::audit::newest_detail(conn, keys, "fhir.posted", &format!("export_batches:{batch_id}"))?;
    Ok(detail.and_then(|d| d.get("server").and_then(Value::as_str).map(str::to_string)))
}

/// What a read-back reads first (a short read): the batch, the server it was posted to, its posted entries in
/// position order, and which of them registered a patient.
pub struct ReadbackPlan {
    pub batch_id: String,
    /// The base URL the batch was posted to, without a trailing slash.
    pub server: String,
    pub posted: Vec<(String, i64)>,
    pub not_posted: usize,
    checked_at: String,
    meta: BatchMeta,
    registers: HashSet<String>,
}

impl ReadbackPlan {
    /// Reads the plan of a read-back of `batch_id` at `at`; a batch never posted is refused.
    pub fn read(
        conn: &rusqlite::Connection,
        keys: &Keys,
        batch_id: &str,
        at: OffsetDateTime,
    ) -> Result<ReadbackPlan, FhirError> {
        let meta = batch_meta(conn, keys, batch_id)?;
        let server = posted_server(conn, keys, batch_id)?.ok_or_else(|| FhirError::NotPosted(batch_id.to_string()))?;
        let states = batch::post_states(conn, batch_id)?;
        let posted: Vec<(String, i64)> =
            states.iter().filter(|s| s.posted).map(|s| (s.entry_id.clone(), s.position)).collect();
        Ok(ReadbackPlan {
            batch_id: batch_id.to_string(),
            server: server.trim_end_matches('/').to_string(),
            not_posted: states.len() - posted.len(),
            posted,
            checked_at: stamp(at),
            meta,
            registers: batch::registering(conn, keys, batch_id)?,
        })
    }
}

/// The resources each entry of one round should have on the server, by entry.
pub struct RoundWanted(Vec<(String, Vec<Wanted>)>);

/// What one round of entries should have on the server (a short read: the entries' resources built as the export
/// built them).
pub fn round_wanted(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    plan: &ReadbackPlan,
    round: &[(String, i64)],
) -> Result<RoundWanted, FhirError> {
    let part = Part::of(round);
    let mut per_entry: Vec<(String, Vec<Wanted>)> = Vec::with_capacity(round.len());
    let wanted_in = |id: &str| part.ids.contains(id);
    let registering = |id: &str| plan.registers.contains(id);
    let (batch_id, format) = (plan.batch_id.as_str(), plan.meta.bundle_format);
    each_entry(conn, keys, batch_id, part.positions, &wanted_in, Pass::All, &mut |raw| {
        let (entry_id, items) = entry_values(catalog, keys, batch_id, format, raw, &registering)?;
        let mut list: Vec<Wanted> = items.iter().filter_map(wanted).collect();
        list.sort();
        list.dedup();
        per_entry.push((entry_id, list));
        Ok(())
    })?;
    Ok(RoundWanted(per_entry))
}

/// Records one round's per-entry results (a short write), replacing an earlier read-back's.
pub fn record_round(tx: &mut Tx<'_>, batch_id: &str, rows: &[EntryReadback]) -> Result<(), FhirError> {
    verified::record(tx, batch_id, rows)
}

/// Audits a finished read-back: one `fhir.verified` row with the counts (a short write).
pub fn audit_readback(tx: &mut Tx<'_>, r: &Readback) -> Result<(), FhirError> {
    let detail = serde_json::json!({
        "server": r.server,
        "entries": r.entries,
        "verified": r.verified,
        "resources": r.resources,
        "found_per_type": r.found_per_type,
        "audit_event": r.audit_event,
    });
    let _row = tx.audit("fhir.verified", &format!("export_batches:{}", r.batch_id), &detail)?;
    Ok(())
}

/// The steps of a read-back that touch the vault, each short, so that the caller holds its workstation only while
/// one runs and never while a search is on the network (the desktop shell takes its lock per step).
pub trait ReadbackStore {
    type Error: From<FhirError>;
    fn round(&mut self, plan: &ReadbackPlan, round: &[(String, i64)]) -> Result<RoundWanted, Self::Error>;
    fn record(&mut self, batch_id: &str, rows: &[EntryReadback]) -> Result<(), Self::Error>;
    fn finish(&mut self, r: &Readback) -> Result<(), Self::Error>;
}

/// Reads a posted batch back from the server it was posted to: every resource of every posted entry, and the
/// batch's AuditEvent, searched for by its deterministic identifier through `reader`; each entry's result recorded
/// through `store` (replacing an earlier read-back's), a round of [`ENTRIES_PER_ROUND`] entries at a time, and one
/// `fhir.verified` audit row with the counts.
pub fn run_readback<S: ReadbackStore>(
    store: &mut S,
    plan: ReadbackPlan,
    reader: &(dyn FhirRead + Sync),
) -> Result<Readback, S::Error> {
    let base = plan.server.clone();
    let mut out = Readback {
        batch_id: plan.batch_id.clone(),
        server: plan.server.clone(),
        checked_at: plan.checked_at.clone(),
        entries: plan.posted.len(),
        verified: 0,
        resources: 0,
        resources_expected: 0,
        found_per_type: BTreeMap::new(),
        audit_event: 0,
        audit_event_expected: true,
        not_posted: plan.not_posted,
        problems: vec![],
    };
    // The batch's AuditEvent is the same resource in every transaction of the post: read once.
    // A server that keeps its audit trail to itself was posted the transactions without it: not looked for.
    let metadata = reader.get(&format!("{base}/metadata")).ok();
    out.audit_event_expected = metadata.is_none_or(|c| super::capability::accepts_audit_event(&c));
    let audit = if out.audit_event_expected { wanted(&audit_event(&plan.meta, plan.meta.entries)) } else { None };
    let mut search = Search::new(reader, &base);
    if let Some(a) = &audit {
        search.run(&HashSet::from([a.clone()]))?;
        out.audit_event = search.found.get(a).copied().unwrap_or(0);
        out.resources_expected += 1;
        out.resources += usize::from(out.audit_event > 0);
    }
    for round in plan.posted.chunks(ENTRIES_PER_ROUND) {
        let RoundWanted(per_entry) = store.round(&plan, round)?;
        let all: HashSet<Wanted> = per_entry.iter().flat_map(|(_, l)| l.iter().cloned()).collect();
        search.found.clear();
        search.run(&all)?;
        let mut rows = Vec::with_capacity(per_entry.len());
        for (entry_id, list) in per_entry {
            let counts: Vec<usize> = list.iter().map(|w| search.found.get(w).copied().unwrap_or(0)).collect();
            let problems: Vec<ResourceProblem> =
                list.iter().zip(&counts).filter(|(_, n)| **n != 1).map(|(w, n)| w.problem(*n)).collect();
            let state = if counts.contains(&0) {
                ReadState::Missing
            } else if problems.is_empty() {
                ReadState::Present
            } else {
                ReadState::Duplicated
            };
            out.resources_expected += list.len();
            out.resources += counts.iter().filter(|n| **n > 0).count();
            rows.push(EntryReadback { entry_id, state, resources: list.len(), problems });
        }
        out.verified += rows.iter().filter(|e| e.state == ReadState::Present).count();
        store.record(&plan.batch_id, &rows)?;
        out.problems.extend(rows.into_iter().filter(|e| e.state != ReadState::Present));
    }
    out.found_per_type = search.per_type;
    store.finish(&out)?;
    Ok(out)
}

/// A read-back whose steps all run on one vault held throughout (the CLI, tests).
pub fn read_back(mut r: ReadBack<'_>, batch_id: &str, reader: &(dyn FhirRead + Sync)) -> Result<Readback, FhirError> {
    let plan = ReadbackPlan::read(r.vault.conn(), r.keys, batch_id, r.at)?;
    run_readback(&mut r, plan, reader)
}

impl ReadbackStore for ReadBack<'_> {
    type Error = FhirError;

    fn round(&mut self, plan: &ReadbackPlan, round: &[(String, i64)]) -> Result<RoundWanted, FhirError> {
        round_wanted(self.vault.conn(), self.keys, self.catalog, plan, round)
    }

    fn record(&mut self, batch_id: &str, rows: &[EntryReadback]) -> Result<(), FhirError> {
        let _done = self.vault.write(self.keys, self.actor, self.at, |tx| record_round(tx, batch_id, rows))?;
        Ok(())
    }

    fn finish(&mut self, r: &Readback) -> Result<(), FhirError> {
        let _done = self.vault.write(self.keys, self.actor, self.at, |tx| audit_readback(tx, r))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_of_request_is_found_by_the_criterion_that_made_it_once() {
        let create = json!({ "resource": { "resourceType": "QuestionnaireResponse" },
            "request": { "method": "POST", "url": "QuestionnaireResponse", "ifNoneExist": "identifier=urn:ietf:rfc:3986|urn:uuid:1" } });
        let update = json!({ "resource": { "resourceType": "Observation" },
            "request": { "method": "PUT", "url": "Observation?identifier=urn:ietf:rfc:3986|urn:uuid:2" } });
        let put = json!({ "resource": { "resourceType": "Provenance", "id": "p1" },
            "request": { "method": "PUT", "url": "Provenance/p1" } });
        let by = |v: &Value| wanted(v).map(|w| (w.resource_type, w.by));
        assert_eq!(
            by(&create),
            Some(("QuestionnaireResponse".into(), By::Identifier(URN_SYSTEM.into(), "urn:uuid:1".into())))
        );
        assert_eq!(by(&update), Some(("Observation".into(), By::Identifier(URN_SYSTEM.into(), "urn:uuid:2".into()))));
        assert_eq!(by(&put), Some(("Provenance".into(), By::Id("p1".into()))));
    }
}
