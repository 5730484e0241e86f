//! Read-back (issue 15 item 4): after a post, every resource of the batch's posted entries is searched for on the
//! server the batch was posted to, by the deterministic identifier the export gave it (the `ifNoneExist` or
//! conditional-update criterion, or the id of a resource `PUT` to a deterministic id), several identifiers per
//! search, page after page, a bounded number of entries at a time. Each entry's result (every resource there exactly
//! once, some missing, one there more than once) is recorded in the vault.
//!
//! The HTTP GET is behind [`FhirRead`]: the site's client for the server the batch was posted to (allowlist, CA
//! bundle, credentials, retries: `http::Client`) in the product, the plain [`UreqRead`] or a double in tests. The
//! steps that touch the vault are behind [`ReadbackStore`], each short, so nothing holds the workstation while a
//! search waits on the network.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::batch::{self, batch_meta, each_entry, Pass};
use super::bundle::{audit_event, entry_values, Part};
use super::verified::{self, EntryReadback, ReadState, ResourceProblem};
use super::{BatchMeta, FhirError, URN_SYSTEM};
use crate::clock::stamp;
use crate::crypto::Keys;
use crate::forms::Catalog;
use crate::vault::{Tx, Vault};

/// Reads from a FHIR server: one GET of a search URL (or a `next` link the server gave), its JSON body returned.
pub trait FhirRead {
    fn get(&self, url: &str) -> Result<Value, FhirError>;
}

/// The plain client: `ureq` with rustls and the bundled web roots, a timeout per request, no credentials.
pub struct UreqRead {
    agent: ureq::Agent,
}

impl Default for UreqRead {
    fn default() -> Self {
        UreqRead { agent: ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(120)).build() }
    }
}

impl FhirRead for UreqRead {
    fn get(&self, url: &str) -> Result<Value, FhirError> {
        match self.agent.get(url).set("Accept", "application/fhir+json").call() {
            Ok(r) => r.into_json().map_err(|e| FhirError::ReadBack(format!("the answer is not JSON: {e}"))),
            Err(ureq::Error::Status(code, _)) => Err(FhirError::ReadBack(format!("the server answered HTTP {code}"))),
            Err(e) => Err(FhirError::Unreachable(e.to_string())),
        }
    }
}

/// Entries read back per round: their resources are searched for, then their results recorded, before the next
/// round is read from the vault (memory holds one round, whatever the size of the batch).
pub const ENTRIES_PER_ROUND: usize = 100;

/// The longest search URL sent: servers and proxies commonly accept 2,048 characters; identifiers are cut into as
/// many searches as that needs.
const MAX_URL: usize = 2000;

/// How a resource is found: by its identifier (system, value) or by its id (a `PUT` to a deterministic id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum By {
    Identifier(String, String),
    Id(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Wanted {
    resource_type: String,
    by: By,
}

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

/// Percent-encodes a search value for a query string (everything but unreserved characters and `:`), after FHIR's
/// own escaping of `\`, `,`, `$` and `|` inside a value.
fn search_value(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '$' | '|') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    encode(&escaped)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The search values of a group, as `system|value` (identifiers) or the id.
fn criterion(by: &By) -> String {
    match by {
        By::Identifier(system, value) => format!("{}%7C{}", search_value(system), search_value(value)),
        By::Id(id) => search_value(id),
    }
}

/// Counts, for every wanted resource, how many resources on the server carry its identifier (or id).
struct Search<'a> {
    reader: &'a dyn FhirRead,
    base: &'a str,
    found: HashMap<Wanted, usize>,
    per_type: BTreeMap<String, usize>,
}

impl Search<'_> {
    /// Searches for every resource of `wanted`, several per request, grouped by type and by how they are found.
    fn run(&mut self, wanted: &HashSet<Wanted>) -> Result<(), FhirError> {
        let mut groups: BTreeMap<(&str, bool), Vec<&Wanted>> = BTreeMap::new();
        for w in wanted {
            groups.entry((w.resource_type.as_str(), matches!(w.by, By::Id(_)))).or_default().push(w);
        }
        for ((resource_type, by_id), mut list) in groups {
            list.sort();
            let head = format!("{}/{resource_type}?{}=", self.base, if by_id { "_id" } else { "identifier" });
            let mut values: Vec<String> = Vec::new();
            let mut length = head.len();
            for w in list {
                let value = criterion(&w.by);
                if !values.is_empty() && length + value.len() + 1 + 12 > MAX_URL {
                    self.pages(&head, &values, resource_type, wanted)?;
                    values.clear();
                    length = head.len();
                }
                length += value.len() + 1;
                values.push(value);
            }
            if !values.is_empty() {
                self.pages(&head, &values, resource_type, wanted)?;
            }
        }
        Ok(())
    }

    /// One search, followed page by page through the server's `next` links (each must stay on the same server).
    fn pages(
        &mut self,
        head: &str,
        values: &[String],
        resource_type: &str,
        wanted: &HashSet<Wanted>,
    ) -> Result<(), FhirError> {
        // Twice the identifiers asked for, so a copy on the server comes back in the same page.
        let mut url = format!("{head}{}&_count={}", values.join(","), values.len() * 2);
        let mut pages = 0;
        loop {
            let page = self.reader.get(&url)?;
            if page.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(FhirError::ReadBack("the answer to a search is not a Bundle".into()));
            }
            for entry in page.get("entry").and_then(Value::as_array).into_iter().flatten() {
                let mode = entry.pointer("/search/mode").and_then(Value::as_str).unwrap_or("match");
                let Some(resource) = entry.get("resource").filter(|_| mode == "match") else { continue };
                if resource.get("resourceType").and_then(Value::as_str) != Some(resource_type) {
                    continue;
                }
                self.count(resource, resource_type, wanted);
            }
            let next = page
                .get("link")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("url"))
                .and_then(Value::as_str);
            let Some(next) = next else { return Ok(()) };
            // A next link to another server would send the search (and, with credentials, the token) elsewhere.
            if !next.starts_with(&format!("{}/", self.base)) && !next.starts_with(&format!("{}?", self.base)) {
                return Err(FhirError::ReadBack("the server's next page is on another server".into()));
            }
            pages += 1;
            if pages > values.len() + 100 {
                return Err(FhirError::ReadBack("the server keeps giving next pages".into()));
            }
            url = next.to_string();
        }
    }

    fn count(&mut self, resource: &Value, resource_type: &str, wanted: &HashSet<Wanted>) {
        let mut keys: Vec<Wanted> = Vec::new();
        if let Some(id) = resource.get("id").and_then(Value::as_str) {
            keys.push(Wanted { resource_type: resource_type.to_string(), by: By::Id(id.to_string()) });
        }
        let identifiers = match resource.get("identifier") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => vec![],
        };
        for i in identifiers {
            if let (Some(s), Some(v)) =
                (i.get("system").and_then(Value::as_str), i.get("value").and_then(Value::as_str))
            {
                keys.push(Wanted { resource_type: resource_type.to_string(), by: By::Identifier(s.into(), v.into()) });
            }
        }
        let mut matched = false;
        for k in keys {
            if wanted.contains(&k) {
                *self.found.entry(k).or_default() += 1;
                matched = true;
            }
        }
        if matched {
            *self.per_type.entry(resource_type.to_string()).or_default() += 1;
        }
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
    reader: &dyn FhirRead,
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
    let mut search = Search { reader, base: &base, found: HashMap::new(), per_type: BTreeMap::new() };
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
pub fn read_back(mut r: ReadBack<'_>, batch_id: &str, reader: &dyn FhirRead) -> Result<Readback, FhirError> {
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

    #[test]
    fn search_values_escape_fhir_separators_and_percent_encode() {
        assert_eq!(
            criterion(&By::Identifier("http://h.org/mrn".into(), "A,1|x".into())),
            "http:%2F%2Fh.org%2Fmrn%7CA%5C%2C1%5C%7Cx"
        );
        assert_eq!(criterion(&By::Id("ab-1".into())), "ab-1");
    }

    /// A server that answers from a fixed list, a page of `size` at a time with `next` links.
    struct Paged {
        resources: Vec<Value>,
        size: usize,
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl FhirRead for Paged {
        fn get(&self, url: &str) -> Result<Value, FhirError> {
            self.asked.borrow_mut().push(url.to_string());
            let offset: usize = url.split("&_offset=").nth(1).and_then(|o| o.parse().ok()).unwrap_or(0);
            // The resources whose identifier the search names.
            let matching: Vec<&Value> = self
                .resources
                .iter()
                .filter(|r| r.pointer("/identifier/0/value").and_then(Value::as_str).is_some_and(|v| url.contains(v)))
                .collect();
            let page: Vec<Value> =
                matching.iter().skip(offset).take(self.size).map(|r| json!({ "resource": r })).collect();
            let mut b = json!({ "resourceType": "Bundle", "type": "searchset", "entry": page });
            if offset + self.size < matching.len() {
                let first = url.split("&_offset=").next().unwrap_or(url);
                b["link"] = json!([{ "relation": "next", "url": format!("{first}&_offset={}", offset + self.size) }]);
            }
            Ok(b)
        }
    }

    #[test]
    fn pages_are_followed_urls_stay_bounded_and_copies_are_counted() {
        let wanted: HashSet<Wanted> = (0..300)
            .map(|i| Wanted {
                resource_type: "Observation".into(),
                by: By::Identifier(URN_SYSTEM.into(), format!("urn:uuid:{i:036}")),
            })
            .collect();
        let mut resources: Vec<Value> = (0..300)
            .filter(|i| i % 7 != 0)
            .map(|i| json!({ "resourceType": "Observation", "identifier": [{ "system": URN_SYSTEM, "value": format!("urn:uuid:{i:036}") }] }))
            .collect();
        resources.push(resources[0].clone());
        let server = Paged { resources, size: 10, asked: Default::default() };
        let mut s = Search { reader: &server, base: "http://ehr", found: HashMap::new(), per_type: BTreeMap::new() };
        s.run(&wanted).expect("search");
        let asked = server.asked.borrow();
        assert!(asked.iter().all(|u| u.len() <= MAX_URL + 20), "every URL is bounded");
        assert!(asked.iter().any(|u| u.contains("_offset=")), "next links are followed");
        let count = |i: usize| {
            s.found
                .get(&Wanted {
                    resource_type: "Observation".into(),
                    by: By::Identifier(URN_SYSTEM.into(), format!("urn:uuid:{i:036}")),
                })
                .copied()
                .unwrap_or(0)
        };
        assert_eq!((count(0), count(1), count(7)), (0, 2, 0));
        assert_eq!(s.per_type["Observation"], 300 - 43 + 1);
    }

    #[test]
    fn fail_a_next_link_to_another_server() {
        struct Elsewhere;
        impl FhirRead for Elsewhere {
            fn get(&self, _: &str) -> Result<Value, FhirError> {
                Ok(
                    json!({ "resourceType": "Bundle", "link": [{ "relation": "next", "url": "http://evil/Observation" }] }),
                )
            }
        }
        let wanted = HashSet::from([Wanted { resource_type: "Observation".into(), by: By::Id("a".into()) }]);
        let mut s = Search { reader: &Elsewhere, base: "http://ehr", found: HashMap::new(), per_type: BTreeMap::new() };
        let e = s.run(&wanted).expect_err("refused");
        assert!(e.to_string().contains("another server"), "{e}");
    }
}
