//! Entries the EHR refused: the poster records each refusal (the server's reason, sealed) and each later success on
//! the worklist, and the analyst takes one of the ways out, each an audited decision: repost (back to accepted, so
//! the next export batch takes it), entered by hand in the EHR (who, when, where), or reject (in `decide.rs`).
//! Until one of them, a refused entry is open: it never reached the EHR.

use super::decide::{open_proposal, reason_text, require_row, set_state};
use super::{action, load, open_body, seal_body, HandEntry, ReconcileError, State, FORMAT};
use crate::clock::stamp;
use crate::vault::{Tx, VaultError};

/// The longest server text kept as a refusal's reason (an OperationOutcome can be long; the start says why).
const MAX_REFUSAL: usize = 2000;

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_REFUSAL) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Whether the worklist row still waits on `batch_id` (exported or refused in it): an entry the analyst has taken
/// another way since (reposted in a later batch, entered by hand, rejected) is not the batch's to send any more.
fn waits_on(state: State, batch: Option<&str>, batch_id: &str) -> bool {
    matches!(state, State::Exported | State::Refused) && batch == Some(batch_id)
}

fn batch_of(tx: &Tx<'_>, id: &str) -> Result<Option<String>, VaultError> {
    Ok(tx.sql().query_row("SELECT batch_id FROM recon WHERE entry_id = ?1", [id], |r| r.get(0))?)
}

/// Records that the EHR refused entry `id` of `batch_id` with `reason` (its OperationOutcome text). `never_held`
/// says the entry was sent as a first create: the server holds nothing of it, so a repost creates it again rather
/// than updating. One audit row per entry. A row that no longer waits on this batch is left as it is.
pub(crate) fn record_refused(
    tx: &mut Tx<'_>,
    id: &str,
    batch_id: &str,
    reason: &str,
    never_held: bool,
) -> Result<(), VaultError> {
    let Some(row) = load(tx.sql(), id)? else { return Ok(()) };
    if !waits_on(row.state, batch_of(tx, id)?.as_deref(), batch_id) {
        return Ok(());
    }
    let mut body = open_body(tx.keys(), id, row.fv, &row.body)?;
    let reason = clip(reason.trim());
    body.reason = Some(reason.clone());
    if never_held {
        body.exported_version = None;
    }
    let sealed = seal_body(tx, id, &body);
    let (now, actor) = (stamp(tx.at()), tx.actor().to_string());
    tx.update(
        "recon",
        &[&id],
        None,
        &[
            ("state", &State::Refused.as_str()),
            ("updated_at", &now),
            ("updated_by", &actor),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    tx.audit(
        action::REFUSED,
        &format!("entries:{id}"),
        &serde_json::json!({ "from": row.state.as_str(), "batch": batch_id, "reason": reason }),
    )?;
    Ok(())
}

/// Records that entry `id` of `batch_id` (its `version`) reached the EHR. A row that no longer waits on this batch
/// is left as it is.
pub(crate) fn record_posted(tx: &mut Tx<'_>, id: &str, batch_id: &str, version: i64) -> Result<(), VaultError> {
    let Some(row) = load(tx.sql(), id)? else { return Ok(()) };
    if !waits_on(row.state, batch_of(tx, id)?.as_deref(), batch_id) {
        return Ok(());
    }
    let (now, actor) = (stamp(tx.at()), tx.actor().to_string());
    if row.state == State::Exported {
        // The common case: nothing sealed changes, so a post of 500 entries re-seals nothing.
        tx.update(
            "recon",
            &[&id],
            None,
            &[("state", &State::Posted.as_str()), ("updated_at", &now), ("updated_by", &actor)],
        )?;
        return Ok(());
    }
    // Refused by an earlier post of the same batch, accepted by this one: the refusal is history (audited).
    let mut body = open_body(tx.keys(), id, row.fv, &row.body)?;
    body.reason = None;
    body.exported_version = Some(version);
    let sealed = seal_body(tx, id, &body);
    tx.update(
        "recon",
        &[&id],
        None,
        &[
            ("state", &State::Posted.as_str()),
            ("updated_at", &now),
            ("updated_by", &actor),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    Ok(())
}

fn require_refused(tx: &Tx<'_>, id: &str, what: &'static str) -> Result<(super::Row, super::RowBody), ReconcileError> {
    let (row, body) = require_row(tx, id)?;
    if row.state != State::Refused {
        return Err(ReconcileError::WrongState { id: id.into(), state: row.state.as_str(), what });
    }
    Ok((row, body))
}

/// Sends refused entries again: each goes back to accepted, so the next export batch takes it (re-frozen with
/// what the worklist holds now). `note` says what was fixed. The server holds nothing of a refused first create,
/// and a create carries `ifNoneExist` on the entry's deterministic identifier, so a repost never adds a second copy.
pub fn repost(tx: &mut Tx<'_>, ids: &[String], note: Option<&str>) -> Result<usize, ReconcileError> {
    let note = note.map(reason_text).transpose()?;
    for id in ids {
        let (_, mut body) = require_refused(tx, id, "only entries the EHR refused can be reposted")?;
        if let Some(other) = open_proposal(tx.sql(), id)? {
            return Err(ReconcileError::OpenDuplicate { id: id.clone(), other });
        }
        let refusal = body.reason.take();
        body.accepted_by = Some(tx.actor().to_string());
        set_state(tx, id, State::Accepted, &body, None)?;
        tx.audit(
            action::REPOSTED,
            &format!("entries:{id}"),
            &serde_json::json!({ "from": State::Refused.as_str(), "refusal": refusal, "note": note }),
        )?;
    }
    Ok(ids.len())
}

fn plain(field: &str, value: &str, max: usize) -> Result<String, ReconcileError> {
    let v = value.trim();
    if v.is_empty()
        || v.chars().count() > max
        || v.chars().any(|c| crate::forms::is_control(c) || crate::forms::is_bidi_control(c))
    {
        return Err(ReconcileError::Invalid(format!(
            "{field} must be plain text of 1 to {max} characters (no control or text-direction characters)"
        )));
    }
    Ok(v.to_string())
}

/// Records that a refused entry was typed in by hand in the EHR: by whom, when (RFC 3339, not in the future) and
/// where. The entry is closed; the server's refusal stays in the row for the report.
pub fn entered_by_hand(tx: &mut Tx<'_>, id: &str, by: &str, at: &str, place: &str) -> Result<(), ReconcileError> {
    let by = plain("who entered it", by, 200)?;
    let place = plain("where it was entered", place, 500)?;
    let when = crate::entries::parse_fhir_time(at.trim()).ok_or_else(|| {
        ReconcileError::Invalid("when it was entered must be a time with seconds and offset (RFC 3339)".into())
    })?;
    if when > tx.at() + time::Duration::minutes(10) {
        return Err(ReconcileError::Invalid("when it was entered is in the future".into()));
    }
    let (_, mut body) = require_refused(tx, id, "only entries the EHR refused can be recorded as entered by hand")?;
    let hand = HandEntry { by, at: at.trim().to_string(), place };
    body.hand_entry = Some(hand.clone());
    set_state(tx, id, State::EnteredByHand, &body, None)?;
    tx.audit(
        action::ENTERED_BY_HAND,
        &format!("entries:{id}"),
        &serde_json::json!({
            "from": State::Refused.as_str(), "by": hand.by, "at": hand.at, "where": hand.place, "refusal": body.reason,
        }),
    )?;
    Ok(())
}
