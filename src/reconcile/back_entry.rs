//! Paper back-entry: a paper form filled during the downtime, typed in by an HIM analyst, checked against what its
//! QR code says (form, patient, episode), saved as an entry of paper origin (the nurse named on the paper is its
//! author, the analyst its enterer) and put on the worklist with its duplicate proposals, audited with the QR text.

use serde_json::Value;

use super::{action, propose_duplicates, track, ReconcileError, Tracked};
use crate::crypto::Keys;
use crate::entries::{self, EntryError, NewEntry, Origin, PaperSource, PatientHeader, Saved, VersionBody};
use crate::episodes::{self, Kind};
use crate::paper::Payload;
use crate::patients::Patient;
use crate::vault::{Tx, VaultError};

/// Why a paper form cannot be back-entered. None quotes patient data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackEntryError {
    #[error("the author named on the paper form is required (plain text)")]
    NoAuthor,
    #[error("the response is for another form than the one printed on the paper (its QR code)")]
    OtherForm,
    #[error("the response's patient differs from the patient printed on the paper form (its QR code)")]
    OtherPatient,
    #[error("the paper form's QR code names no downtime episode")]
    NoEpisode,
    #[error("the paper form's episode is not on this station: import a handoff file of that episode first")]
    UnknownEpisode,
    #[error("this paper form was printed in a DRILL episode; drill entries are never reconciled or exported")]
    Drill,
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Checks what the analyst typed against the paper's QR code `payload`: the author named on the paper (plain text),
/// the form and the patient. Returns the trimmed author name and the episode the QR code names.
pub fn check<'a>(
    payload: &Payload,
    response: &Value,
    author_name: &'a str,
) -> Result<(&'a str, String), BackEntryError> {
    let author = author_name.trim();
    if author.is_empty()
        || author.len() > 200
        || author.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c))
    {
        return Err(BackEntryError::NoAuthor);
    }
    let canonical = response.get("questionnaire").and_then(Value::as_str).unwrap_or("");
    if canonical != payload.form {
        return Err(BackEntryError::OtherForm);
    }
    let subject_mrn = response.pointer("/subject/identifier/value").and_then(Value::as_str);
    if payload.mrn.is_some() && payload.mrn.as_deref() != subject_mrn {
        return Err(BackEntryError::OtherPatient);
    }
    let episode = payload.episode.clone().ok_or(BackEntryError::NoEpisode)?;
    Ok((author, episode))
}

/// Checks that the paper's episode is on this station and is a real one (drill entries are never reconciled).
pub fn check_episode(conn: &rusqlite::Connection, keys: &Keys, episode_id: &str) -> Result<(), BackEntryError> {
    let episode = episodes::get(conn, keys, episode_id)?.ok_or(BackEntryError::UnknownEpisode)?;
    if episode.kind == Kind::Drill {
        return Err(BackEntryError::Drill);
    }
    Ok(())
}

/// A checked paper form, ready to save.
pub struct PaperEntry<'a> {
    pub id: &'a str,
    pub form: &'a str,
    pub episode_id: &'a str,
    pub workstation: &'a str,
    pub patient: &'a Patient,
    pub body: VersionBody,
    /// The nurse named on the paper.
    pub author_name: &'a str,
    pub payload: &'a Payload,
    pub temp_mrn_system: &'a str,
    pub duplicate_window_minutes: i64,
}

/// Saves a paper form as a signed entry of paper origin, puts it on the worklist, proposes its duplicates and
/// audits the back-entry with the QR text.
pub fn enter(tx: &mut Tx<'_>, p: PaperEntry<'_>) -> Result<Saved, BackEntryError> {
    let qr = p.payload.to_text();
    let mut body = p.body;
    body.paper = Some(PaperSource { author_name: p.author_name.to_string(), qr: Some(qr.clone()) });
    let header = PatientHeader::from(p.patient);
    let new = NewEntry {
        form: p.form,
        episode_id: p.episode_id,
        workstation: p.workstation,
        patient: p.patient,
        body: body.clone(),
        sign: true,
        origin: Origin::Paper,
        author: None,
    };
    let saved = entries::create(tx, p.id, new)?;
    let tracked = Tracked {
        entry_id: p.id,
        workstation: p.workstation,
        form: p.form,
        patient: &header,
        body: &body,
        temp_mrn_system: p.temp_mrn_system,
    };
    track(tx, &tracked, true)?;
    propose_duplicates(tx, &[p.id.to_string()], p.duplicate_window_minutes)?;
    tx.audit(action::PAPER_ENTERED, &format!("entries:{}", p.id), &serde_json::json!({ "qr": qr }))?;
    Ok(saved)
}
