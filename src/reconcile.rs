//! The HIM reconciliation worklist: every signed entry brought home from the workstations, each moving through
//! `pending → matched → accepted | duplicate-of(X) | rejected(reason) | needs-correction → exported(batch) → posted`.
//! Matching of temporary MRNs, duplicate proposals with a side-by-side view, decisions (each audited with who and
//! why), summary counts and the reconciliation report's data (its CSV here; the PDF is rendered by `print`).
//!
//! Filters use keyed blind indexes and plain non-PHI columns only, so a worklist page stays fast at 160,000
//! entries; only the rows of the page are decrypted.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::entries::{self, PatientHeader, Status, VersionBody};
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

/// Actions this module writes to the audit log (one row per decision, per entry).
pub mod action {
    pub const MATCHED: &str = "reconcile.matched";
    pub const ACCEPTED: &str = "reconcile.accepted";
    pub const REJECTED: &str = "reconcile.rejected";
    pub const DUPLICATE: &str = "reconcile.duplicate";
    pub const DISMISSED: &str = "reconcile.duplicate_dismissed";
    pub const NEEDS_CORRECTION: &str = "reconcile.needs_correction";
    pub const PAPER_ENTERED: &str = "reconcile.paper_entered";
}

/// Where an entry is on the worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Pending,
    Matched,
    Accepted,
    Duplicate,
    Rejected,
    NeedsCorrection,
    Exported,
    Posted,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Pending,
        State::Matched,
        State::Accepted,
        State::Duplicate,
        State::Rejected,
        State::NeedsCorrection,
        State::Exported,
        State::Posted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Matched => "matched",
            State::Accepted => "accepted",
            State::Duplicate => "duplicate",
            State::Rejected => "rejected",
            State::NeedsCorrection => "needs-correction",
            State::Exported => "exported",
            State::Posted => "posted",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still needs the analyst (or an export): the report lists these as open.
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Matched | State::NeedsCorrection | State::Accepted)
    }

    /// Exported entries are locked: no decision changes them any more.
    pub fn is_locked(self) -> bool {
        matches!(self, State::Exported | State::Posted)
    }
}

/// Errors of the worklist. They name entries by id and states, never patients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// No such entry on the worklist.
    #[error("entry {0} is not on the reconciliation worklist")]
    NotFound(String),
    /// The decision does not apply in the entry's state.
    #[error("entry {id} is {state}: {what}")]
    WrongState { id: String, state: &'static str, what: &'static str },
    /// Exported entries cannot change.
    #[error("entry {0} was exported and is locked")]
    Locked(String),
    /// A proposed duplicate must be confirmed or dismissed first.
    #[error("entry {id} has a proposed duplicate ({other}); confirm it (reconcile duplicate) or dismiss it first")]
    OpenDuplicate { id: String, other: String },
    /// A reason is required and was empty.
    #[error("a reason is required")]
    NoReason,
    /// The input is not acceptable (names the field).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for ReconcileError {
    fn from(e: rusqlite::Error) -> Self {
        ReconcileError::Vault(e.into())
    }
}

/// The sealed part of a worklist row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RowBody {
    /// The real EHR MRN (system, value) a downtime registration was matched to.
    pub matched_mrn: Option<(String, String)>,
    /// Why it was rejected or needs correction.
    pub reason: Option<String>,
    /// Who accepted it (the verifier in the FHIR Provenance).
    pub accepted_by: Option<String>,
    /// The version exported last, if any (a later amendment is sent as an update).
    pub exported_version: Option<i64>,
}

fn place(id: &str) -> Place<'_> {
    Place { table: "recon", row: id, column: "body", format: FORMAT }
}

fn seal_body(tx: &mut Tx<'_>, id: &str, body: &RowBody) -> Vec<u8> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    tx.seal(&place(id), &plain)
}

pub(crate) fn open_body(keys: &Keys, id: &str, fv: i64, sealed: &[u8]) -> Result<RowBody, VaultError> {
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(id) };
    let plain =
        keys.open(&p, sealed).map_err(|_| VaultError::Integrity(format!("recon {id}: body fails authentication")))?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Integrity(format!("recon {id}: body is not a worklist row")))
}

/// The clinical time as sortable UTC text, for the duplicate window.
fn clinical_at(body: &VersionBody) -> Option<String> {
    body.clinical_time.as_deref().and_then(entries::parse_fhir_time).map(stamp)
}

fn match_token(keys: &Keys, body: &VersionBody) -> Option<Vec<u8>> {
    body.medication.as_deref().map(|m| keys.blind_index("med", &entries::normalise_medication(m)))
}

/// An entry arriving on the worklist (from a handoff file or a paper back-entry).
pub struct Tracked<'a> {
    pub entry_id: &'a str,
    pub workstation: &'a str,
    pub form: &'a str,
    pub patient: &'a PatientHeader,
    pub body: &'a VersionBody,
    pub temp_mrn_system: &'a str,
}

struct Row {
    state: State,
    fv: i64,
    body: Vec<u8>,
}

fn load(conn: &rusqlite::Connection, id: &str) -> Result<Option<Row>, VaultError> {
    Ok(conn
        .query_row("SELECT state, fv, body FROM recon WHERE entry_id = ?1", [id], |r| {
            let s: String = r.get(0)?;
            Ok(Row { state: State::parse(&s).unwrap_or(State::Pending), fv: r.get(1)?, body: r.get(2)? })
        })
        .optional()?)
}

/// Adds an entry to the worklist (`is_new`) or records that a newer version arrived. Census patients start matched;
/// downtime registrations start pending unless their temporary MRN was already matched. Returns true when the
/// entry is pending.
pub fn track(tx: &mut Tx<'_>, t: &Tracked<'_>, is_new: bool) -> Result<bool, VaultError> {
    let keys = tx.keys();
    let own_idx = crate::patients::mrn_token(keys, &t.patient.mrn_system, &t.patient.mrn);
    let match_idx = match_token(keys, t.body);
    let at = clinical_at(t.body);
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    if !is_new {
        let Some(row) = load(tx.sql(), t.entry_id)? else { return Ok(false) };
        let mut body = open_body(tx.keys(), t.entry_id, row.fv, &row.body)?;
        let state = match row.state {
            State::Exported | State::Posted => {
                body.reason =
                    Some("amended on the workstation after export: review and accept to send the amendment".into());
                State::NeedsCorrection
            }
            State::Accepted => State::Matched,
            other => other,
        };
        let sealed = seal_body(tx, t.entry_id, &body);
        tx.sql().execute(
            "UPDATE recon SET state = ?1, match_idx = ?2, clinical_at = ?3, updated_at = ?4, updated_by = ?5, fv = ?6, body = ?7 WHERE entry_id = ?8",
            params![state.as_str(), match_idx, at, now, actor, FORMAT, sealed, t.entry_id],
        )?;
        return Ok(state == State::Pending);
    }
    // Cached statements: a handoff import tracks hundreds of thousands of entries in one transaction.
    let registration: bool = tx
        .sql()
        .prepare_cached("SELECT source FROM patients WHERE mrn_idx = ?1")?
        .query_row([&own_idx], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|s| s == "registration")
        || t.patient.mrn_system.trim() == t.temp_mrn_system.trim();
    let mut body = RowBody::default();
    let (state, patient_idx) = if registration {
        match existing_match(tx.sql(), tx.keys(), &own_idx)? {
            Some((mrn, idx)) => {
                body.matched_mrn = Some(mrn);
                (State::Matched, idx)
            }
            None => (State::Pending, own_idx),
        }
    } else {
        (State::Matched, own_idx)
    };
    let sealed = seal_body(tx, t.entry_id, &body);
    tx.sql()
        .prepare_cached(
            "INSERT INTO recon (entry_id, state, patient_idx, form, match_idx, clinical_at, workstation, updated_at, updated_by, fv, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![t.entry_id, state.as_str(), patient_idx, t.form, match_idx, at, t.workstation, now, actor, FORMAT, sealed])?;
    Ok(state == State::Pending)
}

/// The real MRN an earlier decision matched this temporary MRN to, if any.
#[allow(clippy::type_complexity)]
fn existing_match(
    conn: &rusqlite::Connection,
    keys: &Keys,
    temp_idx: &[u8],
) -> Result<Option<((String, String), Vec<u8>)>, VaultError> {
    let row: Option<(String, i64, Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT r.entry_id, r.fv, r.body, r.patient_idx FROM recon r JOIN entries e ON e.id = r.entry_id
              WHERE e.patient_idx = ?1 AND r.patient_idx != e.patient_idx LIMIT 1",
            [temp_idx],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, fv, sealed, idx)) = row else { return Ok(None) };
    Ok(open_body(keys, &id, fv, &sealed)?.matched_mrn.map(|m| (m, idx)))
}

/// Proposes duplicates for the given entries: the same patient (after matching), form and medication, clinical
/// times within `window_minutes`, on another workstation or one on paper and one electronic. Entries already charted
/// twice on one workstation were flagged to the nurse at the time and are not proposed again. Returns how many new
/// proposals were made.
// Row tuples mirror the SELECT column lists right above them.
#[allow(clippy::type_complexity)]
pub fn propose_duplicates(tx: &mut Tx<'_>, ids: &[String], window_minutes: i64) -> Result<usize, VaultError> {
    let conn = tx.sql();
    let mut me = conn.prepare(
        "SELECT r.patient_idx, r.form, r.match_idx, r.clinical_at, r.workstation, e.origin FROM recon r
           JOIN entries e ON e.id = r.entry_id WHERE r.entry_id = ?1 AND e.status != 'entered-in-error'
            AND r.state NOT IN ('rejected', 'duplicate')",
    )?;
    let mut candidates = conn.prepare(
        "SELECT r.entry_id, r.workstation, e.origin FROM recon r JOIN entries e ON e.id = r.entry_id
          WHERE r.patient_idx = ?1 AND r.form = ?2 AND r.match_idx IS ?3 AND r.clinical_at BETWEEN ?4 AND ?5
            AND r.entry_id != ?6 AND e.status != 'entered-in-error' AND r.state NOT IN ('rejected', 'duplicate')",
    )?;
    let mut insert = conn
        .prepare("INSERT OR IGNORE INTO recon_duplicates (entry_id, other_id, status) VALUES (?1, ?2, 'proposed')")?;
    let window = time::Duration::minutes(window_minutes);
    let mut added = 0;
    for id in ids {
        let mine: Option<(Vec<u8>, String, Option<Vec<u8>>, Option<String>, String, String)> = me
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .optional()?;
        let Some((pidx, form, midx, Some(at), ws, origin)) = mine else { continue };
        let Some(t) = crate::clock::parse_stamp(&at) else { continue };
        let (from, to) = (stamp(t - window), stamp(t + window));
        let found: Vec<(String, String, String)> = candidates
            .query_map(params![pidx, form, midx, from, to, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (other, other_ws, other_origin) in found {
            if other_ws == ws && other_origin == origin {
                continue;
            }
            let (a, b) = if *id < other { (id.as_str(), other.as_str()) } else { (other.as_str(), id.as_str()) };
            added += insert.execute(params![a, b])?;
        }
    }
    Ok(added)
}

fn require_row(tx: &Tx<'_>, id: &str) -> Result<(Row, RowBody), ReconcileError> {
    let row = load(tx.sql(), id)?.ok_or_else(|| ReconcileError::NotFound(id.into()))?;
    if row.state.is_locked() {
        return Err(ReconcileError::Locked(id.into()));
    }
    let body = open_body(tx.keys(), id, row.fv, &row.body)?;
    Ok((row, body))
}

fn set_state(
    tx: &mut Tx<'_>,
    id: &str,
    state: State,
    body: &RowBody,
    duplicate_of: Option<&str>,
) -> Result<(), ReconcileError> {
    let sealed = seal_body(tx, id, body);
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    tx.sql().execute(
        "UPDATE recon SET state = ?1, duplicate_of = ?2, updated_at = ?3, updated_by = ?4, fv = ?5, body = ?6 WHERE entry_id = ?7",
        params![state.as_str(), duplicate_of, now, actor, FORMAT, sealed, id],
    )?;
    Ok(())
}

fn open_proposal(conn: &rusqlite::Connection, id: &str) -> Result<Option<String>, VaultError> {
    Ok(conn
        .query_row(
            "SELECT CASE WHEN entry_id = ?1 THEN other_id ELSE entry_id END FROM recon_duplicates
              WHERE (entry_id = ?1 OR other_id = ?1) AND status = 'proposed' LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

fn reason_text(reason: &str) -> Result<String, ReconcileError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(ReconcileError::NoReason);
    }
    if r.len() > 2000 || r.chars().any(|c| crate::forms::is_control(c) || crate::forms::is_bidi_control(c)) {
        return Err(ReconcileError::Invalid(
            "the reason must be plain text of up to 2000 characters (no control or text-direction characters)".into(),
        ));
    }
    Ok(r.to_string())
}

/// Matches the downtime registration of `entry_id`'s patient to a real EHR MRN: every entry of that patient that is
/// pending (or matched, to correct a match) follows. Returns the entries matched.
pub fn match_patient(
    tx: &mut Tx<'_>,
    entry_id: &str,
    system: &str,
    mrn: &str,
    window_minutes: i64,
) -> Result<Vec<String>, ReconcileError> {
    let mrn = mrn.trim();
    if mrn.is_empty() || mrn.len() > 64 || mrn.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c)) {
        return Err(ReconcileError::Invalid("the MRN must be 1–64 plain characters".into()));
    }
    let (row, _) = require_row(tx, entry_id)?;
    let temp_idx: Vec<u8> =
        tx.sql().query_row("SELECT patient_idx FROM entries WHERE id = ?1", [entry_id], |r| r.get(0))?;
    let is_registration: bool = tx
        .sql()
        .query_row("SELECT source FROM patients WHERE mrn_idx = ?1", [&temp_idx], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|s| s == "registration");
    if !is_registration && row.state != State::Pending {
        return Err(ReconcileError::WrongState {
            id: entry_id.into(),
            state: row.state.as_str(),
            what: "only downtime registrations (temporary MRNs) are matched by hand; census patients match by MRN",
        });
    }
    let real_idx = crate::patients::mrn_token(tx.keys(), system, mrn);
    let ids: Vec<String> = {
        let mut st = tx.sql().prepare(
            "SELECT r.entry_id FROM recon r JOIN entries e ON e.id = r.entry_id
              WHERE e.patient_idx = ?1 AND r.state IN ('pending', 'matched') ORDER BY r.entry_id",
        )?;
        let rows = st.query_map([&temp_idx], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        let (row, mut body) = require_row(tx, id)?;
        body.matched_mrn = Some((system.to_string(), mrn.to_string()));
        let sealed = seal_body(tx, id, &body);
        let now = stamp(tx.at());
        let actor = tx.actor().to_string();
        tx.sql().execute(
            "UPDATE recon SET state = 'matched', patient_idx = ?1, updated_at = ?2, updated_by = ?3, fv = ?4, body = ?5 WHERE entry_id = ?6",
            params![real_idx, now, actor, FORMAT, sealed, id],
        )?;
        tx.audit(
            action::MATCHED,
            &format!("entries:{id}"),
            &serde_json::json!({ "from": row.state.as_str(), "mrn_system": system, "mrn": mrn }),
        )?;
    }
    propose_duplicates(tx, &ids, window_minutes)?;
    Ok(ids)
}

/// Accepts entries: matched (or corrected) and with no open duplicate proposal.
pub fn accept(tx: &mut Tx<'_>, ids: &[String], bulk: bool) -> Result<usize, ReconcileError> {
    for id in ids {
        let (row, mut body) = require_row(tx, id)?;
        if !matches!(row.state, State::Matched | State::NeedsCorrection) {
            return Err(ReconcileError::WrongState {
                id: id.clone(),
                state: row.state.as_str(),
                what: "only matched entries (or corrected ones) can be accepted",
            });
        }
        if let Some(other) = open_proposal(tx.sql(), id)? {
            return Err(ReconcileError::OpenDuplicate { id: id.clone(), other });
        }
        body.accepted_by = Some(tx.actor().to_string());
        body.reason = None;
        set_state(tx, id, State::Accepted, &body, None)?;
        tx.audit(
            action::ACCEPTED,
            &format!("entries:{id}"),
            &serde_json::json!({ "from": row.state.as_str(), "bulk": bulk }),
        )?;
    }
    Ok(ids.len())
}

/// Every matched entry without an open duplicate proposal (the bulk accept of the worklist).
pub fn acceptable(conn: &rusqlite::Connection) -> Result<Vec<String>, VaultError> {
    let mut st = conn.prepare(
        "SELECT r.entry_id FROM recon r WHERE r.state = 'matched' AND NOT EXISTS (
            SELECT 1 FROM recon_duplicates d WHERE d.status = 'proposed' AND (d.entry_id = r.entry_id OR d.other_id = r.entry_id))
          ORDER BY r.entry_id",
    )?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rejects an entry with a reason (it will never be exported).
pub fn reject(tx: &mut Tx<'_>, id: &str, reason: &str) -> Result<(), ReconcileError> {
    let reason = reason_text(reason)?;
    let (row, mut body) = require_row(tx, id)?;
    if row.state == State::Duplicate {
        return Err(ReconcileError::WrongState {
            id: id.into(),
            state: row.state.as_str(),
            what: "it already has a disposition",
        });
    }
    body.reason = Some(reason.clone());
    set_state(tx, id, State::Rejected, &body, None)?;
    tx.audit(
        action::REJECTED,
        &format!("entries:{id}"),
        &serde_json::json!({ "from": row.state.as_str(), "reason": reason }),
    )?;
    Ok(())
}

/// Flags an entry as needing correction (for example, wrong dose documented), with a reason.
pub fn needs_correction(tx: &mut Tx<'_>, id: &str, reason: &str) -> Result<(), ReconcileError> {
    let reason = reason_text(reason)?;
    let (row, mut body) = require_row(tx, id)?;
    if matches!(row.state, State::Duplicate | State::Rejected) {
        return Err(ReconcileError::WrongState {
            id: id.into(),
            state: row.state.as_str(),
            what: "it already has a disposition",
        });
    }
    body.reason = Some(reason.clone());
    set_state(tx, id, State::NeedsCorrection, &body, None)?;
    tx.audit(
        action::NEEDS_CORRECTION,
        &format!("entries:{id}"),
        &serde_json::json!({ "from": row.state.as_str(), "reason": reason }),
    )?;
    Ok(())
}

/// Records that `id` is a duplicate of `of` (which stays and is exported); confirms a proposal if there was one.
pub fn mark_duplicate(tx: &mut Tx<'_>, id: &str, of: &str) -> Result<(), ReconcileError> {
    if id == of {
        return Err(ReconcileError::Invalid("an entry cannot be a duplicate of itself".into()));
    }
    let (row, body) = require_row(tx, id)?;
    let other = load(tx.sql(), of)?.ok_or_else(|| ReconcileError::NotFound(of.into()))?;
    if matches!(other.state, State::Duplicate | State::Rejected) {
        return Err(ReconcileError::WrongState {
            id: of.into(),
            state: other.state.as_str(),
            what: "the entry kept must not itself be a duplicate or rejected",
        });
    }
    if matches!(row.state, State::Rejected) {
        return Err(ReconcileError::WrongState {
            id: id.into(),
            state: row.state.as_str(),
            what: "it already has a disposition",
        });
    }
    let (a, b) = if id < of { (id, of) } else { (of, id) };
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    tx.sql().execute(
        "INSERT INTO recon_duplicates (entry_id, other_id, status, decided_by, decided_at) VALUES (?1, ?2, 'confirmed', ?3, ?4)
         ON CONFLICT (entry_id, other_id) DO UPDATE SET status = 'confirmed', decided_by = ?3, decided_at = ?4",
        params![a, b, actor, now],
    )?;
    set_state(tx, id, State::Duplicate, &body, Some(of))?;
    tx.audit(
        action::DUPLICATE,
        &format!("entries:{id}"),
        &serde_json::json!({ "from": row.state.as_str(), "of": of }),
    )?;
    Ok(())
}

/// Dismisses a proposed duplicate pair: they are different events.
pub fn dismiss(tx: &mut Tx<'_>, id: &str, other: &str, reason: &str) -> Result<(), ReconcileError> {
    let reason = reason_text(reason)?;
    let (a, b) = if id < other { (id, other) } else { (other, id) };
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    let n = tx.sql().execute(
        "UPDATE recon_duplicates SET status = 'dismissed', decided_by = ?3, decided_at = ?4
          WHERE entry_id = ?1 AND other_id = ?2 AND status = 'proposed'",
        params![a, b, actor, now],
    )?;
    if n == 0 {
        return Err(ReconcileError::Invalid(format!("there is no open duplicate proposal between {id} and {other}")));
    }
    for e in [a, b] {
        tx.audit(action::DISMISSED, &format!("entries:{e}"), &serde_json::json!({ "pair": [a, b], "reason": reason }))?;
    }
    Ok(())
}

/// What the worklist shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<State>,
    /// Blind-index tokens of the patient's MRN (under each MRN system); matches the original or the matched MRN.
    pub patient_idx: Vec<Vec<u8>>,
    pub form: Option<String>,
    pub workstation: Option<String>,
    pub episode: Option<String>,
    pub status: Option<Status>,
}

/// One worklist row.
#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub entry_id: String,
    pub state: State,
    pub duplicate_of: Option<String>,
    pub batch_id: Option<String>,
    pub reason: Option<String>,
    pub workstation: String,
    pub episode_id: String,
    pub origin: entries::Origin,
    pub form: String,
    pub status: Status,
    pub version: i64,
    pub author: String,
    pub patient: PatientHeader,
    /// The real MRN a downtime registration was matched to.
    pub matched_mrn: Option<String>,
    pub clinical_time: Option<String>,
    pub medication: Option<String>,
    /// Entries proposed as duplicates of this one, not yet decided.
    pub proposed_duplicates: Vec<String>,
    /// Who last changed the row (the importer, or the analyst who decided) and when: shown beside the decision.
    pub decided_by: String,
    pub decided_at: String,
}

/// A page of the worklist and how many rows match in all.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub total: i64,
    pub offset: usize,
    pub items: Vec<WorkItem>,
}

fn where_clause(f: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(s) = f.state {
        sql.push_str(" AND r.state = ?");
        args.push(V::Text(s.as_str().into()));
    }
    if !f.patient_idx.is_empty() {
        // Two indexed look-ups instead of an OR across the join, which scanned every row (issue 8).
        let marks = vec!["?"; f.patient_idx.len()].join(", ");
        sql.push_str(&format!(
            " AND r.entry_id IN (SELECT entry_id FROM recon WHERE patient_idx IN ({marks}) UNION SELECT id FROM entries WHERE patient_idx IN ({marks}))"
        ));
        for _ in 0..2 {
            args.extend(f.patient_idx.iter().map(|i| V::Blob(i.clone())));
        }
    }
    if let Some(form) = &f.form {
        // A form is named by its canonical url|version, or by the last part of its url.
        sql.push_str(" AND (r.form = ? OR r.form LIKE ?)");
        args.push(V::Text(form.clone()));
        args.push(V::Text(format!("%/{}|%", form.replace(['%', '_'], ""))));
    }
    if let Some(ws) = &f.workstation {
        sql.push_str(" AND r.workstation = ?");
        args.push(V::Text(ws.clone()));
    }
    if let Some(ep) = &f.episode {
        sql.push_str(" AND e.episode_id = ?");
        args.push(V::Text(ep.clone()));
    }
    if let Some(st) = f.status {
        sql.push_str(" AND e.status = ?");
        args.push(V::Text(st.as_str().into()));
    }
    (sql, args)
}

/// A page of the worklist, in a stable order (entry id). Only the page's rows are decrypted.
pub fn list(
    conn: &rusqlite::Connection,
    keys: &Keys,
    filter: &Filter,
    limit: usize,
    offset: usize,
) -> Result<Page, VaultError> {
    let (w, args) = where_clause(filter);
    // Every recon row has its entry, so without a filter on the entry the join changes no count: counting and
    // paging over recon's own indexes alone keeps a page fast at any depth of a 160,000-entry worklist (issue 8).
    let from = if filter.episode.is_none() && filter.status.is_none() {
        "recon r"
    } else {
        "recon r JOIN entries e ON e.id = r.entry_id"
    };
    let total: i64 =
        conn.query_row(&format!("SELECT count(*) FROM {from}{w}"), rusqlite::params_from_iter(args.iter()), |r| {
            r.get(0)
        })?;
    let sql = format!(
        "SELECT r.entry_id, r.state, r.duplicate_of, r.batch_id, r.workstation, r.fv, r.body, e.episode_id, e.origin,
                e.form, e.status, e.current_version, e.author, r.updated_by, r.updated_at
           FROM recon r JOIN entries e ON e.id = r.entry_id
          WHERE r.entry_id IN (SELECT r.entry_id FROM {from}{w} ORDER BY r.entry_id LIMIT {} OFFSET {})
          ORDER BY r.entry_id",
        limit.min(10_000),
        offset
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut items = Vec::new();
    let mut proposals = conn.prepare(
        "SELECT CASE WHEN entry_id = ?1 THEN other_id ELSE entry_id END FROM recon_duplicates
          WHERE (entry_id = ?1 OR other_id = ?1) AND status = 'proposed' ORDER BY 1",
    )?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let state: String = r.get(1)?;
        let fv: i64 = r.get(5)?;
        let sealed: Vec<u8> = r.get(6)?;
        let version: i64 = r.get(11)?;
        let status: String = r.get(10)?;
        let origin: String = r.get(8)?;
        let body = open_body(keys, &id, fv, &sealed)?;
        let v = entries::version_body(conn, keys, &id, version)?;
        let proposed: Vec<String> = proposals.query_map([&id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        items.push(WorkItem {
            state: State::parse(&state).unwrap_or(State::Pending),
            duplicate_of: r.get(2)?,
            batch_id: r.get(3)?,
            reason: body.reason,
            workstation: r.get(4)?,
            episode_id: r.get(7)?,
            origin: if origin == "paper" { entries::Origin::Paper } else { entries::Origin::Electronic },
            form: r.get(9)?,
            status: Status::parse(&status).unwrap_or(Status::Signed),
            version,
            author: v.paper.as_ref().map(|p| p.author_name.clone()).unwrap_or(r.get(12)?),
            patient: v.patient,
            matched_mrn: body.matched_mrn.map(|(_, m)| m),
            clinical_time: v.clinical_time,
            medication: v.medication,
            proposed_duplicates: proposed,
            decided_by: r.get(13)?,
            decided_at: r.get(14)?,
            entry_id: id,
        });
    }
    Ok(Page { total, offset, items })
}

/// Counts per state, and what is still open.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: i64,
    pub by_state: BTreeMap<String, i64>,
    /// Entries still without a final disposition (pending, matched, needs-correction, accepted but not exported).
    pub open: i64,
    pub open_duplicate_proposals: i64,
    pub conflicts: i64,
}

pub fn summary(conn: &rusqlite::Connection) -> Result<Summary, VaultError> {
    let mut s = Summary::default();
    for st in State::ALL {
        s.by_state.insert(st.as_str().into(), 0);
    }
    let mut q = conn.prepare("SELECT state, count(*) FROM recon GROUP BY state")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        s.total += n;
        if State::parse(&state).is_some_and(State::is_open) {
            s.open += n;
        }
        s.by_state.insert(state, n);
    }
    s.open_duplicate_proposals =
        conn.query_row("SELECT count(*) FROM recon_duplicates WHERE status = 'proposed'", [], |r| r.get(0))?;
    s.conflicts = conn.query_row("SELECT count(*) FROM handoff_conflicts", [], |r| r.get(0))?;
    Ok(s)
}

/// A duplicate proposal and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub entry_id: String,
    pub other_id: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// Duplicate proposals (all, or only the open ones).
pub fn proposals(conn: &rusqlite::Connection, open_only: bool) -> Result<Vec<Proposal>, VaultError> {
    let sql = format!(
        "SELECT entry_id, other_id, status, decided_by, decided_at FROM recon_duplicates{} ORDER BY entry_id, other_id",
        if open_only { " WHERE status = 'proposed'" } else { "" }
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        Ok(Proposal {
            entry_id: r.get(0)?,
            other_id: r.get(1)?,
            status: r.get(2)?,
            decided_by: r.get(3)?,
            decided_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

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

/// Every row of the reconciliation report that needs a reason printed (rejected, duplicate, needs-correction).
#[derive(Debug, Clone, Serialize)]
pub struct Disposition {
    pub entry_id: String,
    pub state: State,
    pub workstation: String,
    pub form: String,
    pub duplicate_of: Option<String>,
    pub reason: Option<String>,
    pub decided_by: String,
    pub decided_at: String,
}

/// One episode's timeline (issue 9, after-action review).
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeLine {
    pub id: String,
    pub unit: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub first_entry_at: Option<String>,
    pub entries: i64,
    pub workstations: i64,
    pub first_handoff_imported_at: Option<String>,
    pub last_export_at: Option<String>,
    /// The episode's timeline and metrics (filled in by the façade, which knows the checklist).
    pub timeline: Option<crate::procedures::Timeline>,
}

/// An export batch with its hash and posting outcome.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLine {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    pub entries: i64,
    pub sha256: String,
    pub posted: i64,
    pub failed: i64,
}

/// An imported handoff file.
#[derive(Debug, Clone, Serialize)]
pub struct FileLine {
    pub workstation: String,
    pub sequence: i64,
    pub sha256: String,
    pub signer: String,
    pub created_at: String,
    pub imported_at: String,
    pub imported_by: String,
}

/// Everything the reconciliation report shows; the CSV is written from it here and the PDF by `print`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub generated_by: String,
    pub unit: Option<String>,
    pub summary: Summary,
    pub episodes: Vec<EpisodeLine>,
    /// Counts per state for each workstation.
    pub per_workstation: BTreeMap<String, BTreeMap<String, i64>>,
    /// Counts per state for each form.
    pub per_form: BTreeMap<String, BTreeMap<String, i64>>,
    pub dispositions: Vec<Disposition>,
    pub batches: Vec<BatchLine>,
    pub files: Vec<FileLine>,
}

fn grouped(conn: &rusqlite::Connection, column: &str) -> Result<BTreeMap<String, BTreeMap<String, i64>>, VaultError> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut st = conn.prepare(&format!("SELECT {column}, state, count(*) FROM recon GROUP BY {column}, state"))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    for row in rows {
        let (k, s, n) = row?;
        out.entry(k).or_default().insert(s, n);
    }
    Ok(out)
}

/// Builds the report's data from the vault. `at` and `by` say when and by whom it was generated.
pub fn report(
    conn: &rusqlite::Connection,
    keys: &Keys,
    at: &str,
    by: &str,
    unit: Option<String>,
) -> Result<Report, VaultError> {
    let mut dispositions = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT entry_id, state, workstation, form, duplicate_of, fv, body, updated_by, updated_at FROM recon
              WHERE state IN ('rejected', 'duplicate', 'needs-correction') ORDER BY state, entry_id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let state: String = r.get(1)?;
            let body = open_body(keys, &id, r.get(5)?, &r.get::<_, Vec<u8>>(6)?)?;
            dispositions.push(Disposition {
                state: State::parse(&state).unwrap_or(State::Pending),
                workstation: r.get(2)?,
                form: r.get(3)?,
                duplicate_of: r.get(4)?,
                reason: body.reason,
                decided_by: r.get(7)?,
                decided_at: r.get(8)?,
                entry_id: id,
            });
        }
    }
    let episodes = {
        let mut st = conn.prepare(
            "SELECT p.id, p.unit, p.started_at, p.ended_at,
                    (SELECT min(created_at) FROM entries e WHERE e.episode_id = p.id),
                    (SELECT count(*) FROM entries e JOIN recon r ON r.entry_id = e.id WHERE e.episode_id = p.id),
                    (SELECT count(DISTINCT workstation) FROM entries e WHERE e.episode_id = p.id),
                    (SELECT min(imported_at) FROM handoff_files f WHERE f.episode_id = p.id),
                    (SELECT max(b.created_at) FROM export_batches b JOIN export_batch_entries be ON be.batch_id = b.id
                       JOIN entries e ON e.id = be.entry_id WHERE e.episode_id = p.id)
               FROM episodes p WHERE p.kind = 'real' ORDER BY p.started_at, p.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(EpisodeLine {
                id: r.get(0)?,
                unit: r.get(1)?,
                started_at: r.get(2)?,
                ended_at: r.get(3)?,
                first_entry_at: r.get(4)?,
                entries: r.get(5)?,
                workstations: r.get(6)?,
                first_handoff_imported_at: r.get(7)?,
                last_export_at: r.get(8)?,
                timeline: None,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()?.into_iter().filter(|e| e.entries > 0).collect()
    };
    let batches = {
        let mut st = conn.prepare(
            "SELECT b.id, b.created_at, b.created_by, b.entry_count, b.sha256,
                    (SELECT count(*) FROM export_batch_entries x WHERE x.batch_id = b.id AND x.post_state = 'posted'),
                    (SELECT count(*) FROM export_batch_entries x WHERE x.batch_id = b.id AND x.post_state = 'failed')
               FROM export_batches b ORDER BY b.created_at, b.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(BatchLine {
                id: r.get(0)?,
                created_at: r.get(1)?,
                created_by: r.get(2)?,
                entries: r.get(3)?,
                sha256: r.get(4)?,
                posted: r.get(5)?,
                failed: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let files = {
        let mut st = conn.prepare(
            "SELECT workstation, sequence, file_sha256, signer, created_at, imported_at, imported_by FROM handoff_files
              ORDER BY imported_at, workstation, sequence",
        )?;
        let rows = st.query_map([], |r| {
            let signer: String = r.get(3)?;
            Ok(FileLine {
                workstation: r.get(0)?,
                sequence: r.get(1)?,
                sha256: r.get(2)?,
                signer: data_encoding::HEXLOWER_PERMISSIVE
                    .decode(signer.as_bytes())
                    .map(|k| crate::handoff::fingerprint(&k))
                    .unwrap_or(signer),
                created_at: r.get(4)?,
                imported_at: r.get(5)?,
                imported_by: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    Ok(Report {
        generated_at: at.to_string(),
        generated_by: by.to_string(),
        unit,
        summary: summary(conn)?,
        episodes,
        per_workstation: grouped(conn, "workstation")?,
        per_form: grouped(conn, "form")?,
        dispositions,
        batches,
        files,
    })
}

fn csv_field(s: &str) -> String {
    // Cells that a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

impl Report {
    /// The report as CSV: one section per table, each introduced by a `section` row, so a spreadsheet opens it.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            out.push_str(&cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        };
        line(&["section", "reconciliation report"]);
        line(&["generated_at", &self.generated_at]);
        line(&["generated_by", &self.generated_by]);
        line(&["unit", self.unit.as_deref().unwrap_or("")]);
        line(&["section", "counts"]);
        line(&["state", "entries"]);
        for (s, n) in &self.summary.by_state {
            line(&[s, &n.to_string()]);
        }
        line(&["total", &self.summary.total.to_string()]);
        line(&["open", &self.summary.open.to_string()]);
        line(&["open_duplicate_proposals", &self.summary.open_duplicate_proposals.to_string()]);
        line(&["version_conflicts", &self.summary.conflicts.to_string()]);
        let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        for (title, key, map) in
            [("per workstation", "workstation", &self.per_workstation), ("per form", "form", &self.per_form)]
        {
            line(&["section", title]);
            let mut head = vec![key];
            head.extend(states.iter().copied());
            line(&head);
            for (k, counts) in map {
                let cells: Vec<String> = std::iter::once(k.clone())
                    .chain(states.iter().map(|s| counts.get(*s).copied().unwrap_or(0).to_string()))
                    .collect();
                line(&cells.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }
        line(&["section", "episodes"]);
        line(&[
            "episode",
            "unit",
            "started_at",
            "ended_at",
            "first_entry_at",
            "entries",
            "workstations",
            "first_handoff_imported_at",
            "last_export_at",
        ]);
        for e in &self.episodes {
            line(&[
                &e.id,
                &e.unit,
                &e.started_at,
                e.ended_at.as_deref().unwrap_or(""),
                e.first_entry_at.as_deref().unwrap_or(""),
                &e.entries.to_string(),
                &e.workstations.to_string(),
                e.first_handoff_imported_at.as_deref().unwrap_or(""),
                e.last_export_at.as_deref().unwrap_or(""),
            ]);
        }
        line(&["section", "episode timelines"]);
        line(&[
            "episode",
            "declared_at",
            "declared_severity",
            "severity_changes",
            "first_entry_at",
            "minutes_to_first_entry",
            "entries_per_hour",
            "ended_at",
            "minutes_to_recovery",
            "handoff_at",
            "minutes_recovery_to_handoff",
            "reconciled_at",
            "minutes_recovery_to_reconciled",
        ]);
        let opt = |m: Option<i64>| m.map(|m| m.to_string()).unwrap_or_default();
        for (e, t) in self.episodes.iter().filter_map(|e| Some((e, e.timeline.as_ref()?))) {
            let changes: Vec<String> = t.escalations.iter().map(|(at, s)| format!("{at} {}", s.code())).collect();
            line(&[
                &e.id,
                &t.declared_at,
                t.declared_severity.map(|s| s.code()).unwrap_or(""),
                &changes.join("; "),
                t.first_entry_at.as_deref().unwrap_or(""),
                &opt(t.minutes_to_first_entry),
                &t.entries_per_hour.map(|v| format!("{v:.1}")).unwrap_or_default(),
                t.ended_at.as_deref().unwrap_or(""),
                &opt(t.minutes_to_recovery),
                t.handoff_at.as_deref().unwrap_or(""),
                &opt(t.minutes_recovery_to_handoff),
                t.reconciled_at.as_deref().unwrap_or(""),
                &opt(t.minutes_recovery_to_reconciled),
            ]);
        }
        line(&["section", "dispositions"]);
        line(&["entry", "state", "workstation", "form", "duplicate_of", "reason", "decided_by", "decided_at"]);
        for d in &self.dispositions {
            line(&[
                &d.entry_id,
                d.state.as_str(),
                &d.workstation,
                &d.form,
                d.duplicate_of.as_deref().unwrap_or(""),
                d.reason.as_deref().unwrap_or(""),
                &d.decided_by,
                &d.decided_at,
            ]);
        }
        line(&["section", "export batches"]);
        line(&["batch", "created_at", "created_by", "entries", "sha256", "posted", "failed"]);
        for b in &self.batches {
            line(&[
                &b.id,
                &b.created_at,
                &b.created_by,
                &b.entries.to_string(),
                &b.sha256,
                &b.posted.to_string(),
                &b.failed.to_string(),
            ]);
        }
        line(&["section", "handoff files"]);
        line(&["workstation", "sequence", "sha256", "signer_fingerprint", "created_at", "imported_at", "imported_by"]);
        for f in &self.files {
            line(&[
                &f.workstation,
                &f.sequence.to_string(),
                &f.sha256,
                &f.signer,
                &f.created_at,
                &f.imported_at,
                &f.imported_by,
            ]);
        }
        out
    }
}
