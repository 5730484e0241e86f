//! Decisions on the worklist: tracking entries as they arrive, matching downtime registrations to real MRNs,
//! proposing duplicates, and the analyst's accept, reject, needs-correction and duplicate decisions, each one a state
//! change audited with who and why.

use rusqlite::{params, OptionalExtension};

use super::{action, load, open_body, seal_body, ReconcileError, Row, RowBody, State, FORMAT};
use crate::clock::stamp;
use crate::crypto::Keys;
use crate::entries::{self, PatientHeader, VersionBody};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

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
            State::Exported | State::Posted | State::Refused => {
                body.reason =
                    Some("amended on the workstation after export: review and accept to send the amendment".into());
                State::NeedsCorrection
            }
            State::EnteredByHand => {
                body.reason = Some(
                    "amended on the workstation after it was entered by hand in the EHR: correct the EHR by hand \
                     too, or decide otherwise"
                        .into(),
                );
                State::NeedsCorrection
            }
            State::Accepted => State::Matched,
            other => other,
        };
        let sealed = seal_body(tx, t.entry_id, &body);
        tx.update(
            "recon",
            &[&t.entry_id],
            None,
            &[
                ("state", &state.as_str()),
                ("match_idx", &match_idx),
                ("clinical_at", &at),
                ("updated_at", &now),
                ("updated_by", &actor),
                ("fv", &FORMAT),
                ("body", &sealed),
            ],
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
    let none: Option<String> = None;
    tx.insert(
        OnConflict::Abort,
        "recon",
        &[
            ("entry_id", &t.entry_id),
            ("state", &state.as_str()),
            ("patient_idx", &patient_idx),
            ("form", &t.form),
            ("match_idx", &match_idx),
            ("clinical_at", &at),
            ("workstation", &t.workstation),
            ("duplicate_of", &none),
            ("batch_id", &none),
            ("updated_at", &now),
            ("updated_by", &actor),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
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
            let undecided: Option<String> = None;
            added += tx.insert(
                OnConflict::Ignore,
                "recon_duplicates",
                &[
                    ("entry_id", &a),
                    ("other_id", &b),
                    ("status", &"proposed"),
                    ("decided_by", &undecided),
                    ("decided_at", &undecided),
                ],
            )?;
        }
    }
    Ok(added)
}

pub(super) fn require_row(tx: &Tx<'_>, id: &str) -> Result<(Row, RowBody), ReconcileError> {
    let row = load(tx.sql(), id)?.ok_or_else(|| ReconcileError::NotFound(id.into()))?;
    if row.state.is_locked() {
        return Err(ReconcileError::Locked(id.into()));
    }
    if row.state == State::EnteredByHand {
        return Err(ReconcileError::WrongState {
            id: id.into(),
            state: row.state.as_str(),
            what: "it was entered by hand in the EHR; that is its disposition",
        });
    }
    let body = open_body(tx.keys(), id, row.fv, &row.body)?;
    Ok((row, body))
}

pub(super) fn set_state(
    tx: &mut Tx<'_>,
    id: &str,
    state: State,
    body: &RowBody,
    duplicate_of: Option<&str>,
) -> Result<(), ReconcileError> {
    let sealed = seal_body(tx, id, body);
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    tx.update(
        "recon",
        &[&id],
        None,
        &[
            ("state", &state.as_str()),
            ("duplicate_of", &duplicate_of),
            ("updated_at", &now),
            ("updated_by", &actor),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    Ok(())
}

pub(super) fn open_proposal(conn: &rusqlite::Connection, id: &str) -> Result<Option<String>, VaultError> {
    Ok(conn
        .query_row(
            "SELECT CASE WHEN entry_id = ?1 THEN other_id ELSE entry_id END FROM recon_duplicates
              WHERE (entry_id = ?1 OR other_id = ?1) AND status = 'proposed' LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn reason_text(reason: &str) -> Result<String, ReconcileError> {
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
        tx.update(
            "recon",
            &[id],
            None,
            &[
                ("state", &State::Matched.as_str()),
                ("patient_idx", &real_idx),
                ("updated_at", &now),
                ("updated_by", &actor),
                ("fv", &FORMAT),
                ("body", &sealed),
            ],
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

/// Rejects an entry with a reason (it will never be exported); also a way out for an entry the EHR refused.
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
    // Every column is given, so replacing a proposed pair keeps nothing of it unchecked.
    tx.insert(
        OnConflict::Replace,
        "recon_duplicates",
        &[("entry_id", &a), ("other_id", &b), ("status", &"confirmed"), ("decided_by", &actor), ("decided_at", &now)],
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
    let n = tx.update(
        "recon_duplicates",
        &[&a, &b],
        Some(("status", &"proposed")),
        &[("status", &"dismissed"), ("decided_by", &actor), ("decided_at", &now)],
    )?;
    if n == 0 {
        return Err(ReconcileError::Invalid(format!("there is no open duplicate proposal between {id} and {other}")));
    }
    for e in [a, b] {
        tx.audit(action::DISMISSED, &format!("entries:{e}"), &serde_json::json!({ "pair": [a, b], "reason": reason }))?;
    }
    Ok(())
}
