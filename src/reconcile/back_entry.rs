//! Paper back-entry: a paper form filled during the downtime, typed in by an HIM analyst, checked against what its
//! QR code says (form, patient, episode), saved as an entry of paper origin (the nurse named on the paper is its
//! author, the analyst its enterer) and put on the worklist with its duplicate proposals, audited with the QR text.

use serde_json::Value;

use super::{action, propose_duplicates, track, ReconcileError, Tracked};
use crate::clock::{parse_stamp, stamp};
use crate::entries::{self, EntryError, NewEntry, Origin, PaperSource, PatientHeader, Saved, VersionBody};
use crate::episodes::{self, Episode, Kind};
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
    #[error(
        "the paper form's QR code names no downtime episode (printed before one was declared): assign the page to an \
         episode of its unit (--episode ID) or to a paper-only episode for the unit (--paper-episode UNIT)"
    )]
    NoEpisode,
    #[error(
        "the paper form's episode is not on this station (its workstation's handoff file never arrived): import that \
         file, or assign the page to an episode of its unit (--episode ID) or to a paper-only episode (--paper-episode UNIT)"
    )]
    UnknownEpisode,
    #[error("no episode with that id is on this station (dtk episode list shows them)")]
    NoSuchEpisode,
    #[error("the page's own episode is on this station: back-enter it there, not in another episode")]
    OtherEpisode,
    #[error("the page was printed for another unit than the episode it is assigned to")]
    OtherUnit,
    #[error("a paper-only episode needs its unit (plain text)")]
    NoUnit,
    #[error("the paper-only episode's period must be two RFC 3339 times, the start not after the end")]
    BadPeriod,
    #[error("this paper form was printed in a DRILL episode; drill entries are never reconciled or exported")]
    Drill,
    #[error("the page's form is not loaded on this station, so its answers cannot be checked: load that form first")]
    UnknownForm,
    #[error("this page is a unit sheet or report, not a form with answers to back-enter")]
    NotAForm,
    #[error("a downtime MAR page is back-entered dose by dose: give the initialled doses read from the page")]
    MarNeedsDoses,
    #[error("doses are read from a downtime MAR page; this page is a form: give its typed response instead")]
    DosesNeedMar,
    #[error("the MAR page's QR code names no patient: write the patient's MRN on a blank form instead")]
    MarWithoutPatient,
    #[error("dose {number} read from the MAR page: {problem}")]
    Dose { number: usize, problem: String },
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Where the analyst puts a page: the episode its QR code names, or, for paper whose episode is missing (blank
/// forms printed before any episode, a workstation whose handoff file never arrived), one the analyst chooses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Assignment {
    /// The episode the page's QR code names.
    #[default]
    FromQr,
    /// An episode already on this station (imported, or paper only) of the page's unit.
    Episode(String),
    /// A new paper-only episode for `unit` over `period` (start, end; RFC 3339). Without a period it runs from when
    /// the page was printed (or now, when the code does not say) to now.
    PaperOnly { unit: String, period: Option<(String, String)> },
}

/// What a page's QR code says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// A Questionnaire, back-entered as one entry.
    Form,
    /// A downtime MAR page, back-entered as one medication-administration entry per initialled dose.
    Mar,
}

/// Refuses what is truly wrong with a page before anything is typed in: drill paper, unit sheets and reports, and
/// forms this station does not know (`known_form` says whether the catalogue holds the page's form).
pub fn page_kind(payload: &Payload, known_form: bool) -> Result<PageKind, BackEntryError> {
    if payload.drill {
        return Err(BackEntryError::Drill);
    }
    if payload.form == crate::paper::MAR_FORM {
        return Ok(PageKind::Mar);
    }
    if payload.form.starts_with(crate::paper::SHEET_BASE) {
        return Err(BackEntryError::NotAForm);
    }
    if !known_form {
        return Err(BackEntryError::UnknownForm);
    }
    Ok(PageKind::Form)
}

/// Checks the author named on the paper (plain text) and returns it trimmed.
pub fn check_author(author_name: &str) -> Result<&str, BackEntryError> {
    let author = author_name.trim();
    if author.is_empty()
        || author.len() > 200
        || author.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c))
    {
        return Err(BackEntryError::NoAuthor);
    }
    Ok(author)
}

/// Checks what the analyst typed against the paper's QR code `payload`: the form and the patient.
pub fn check_response(payload: &Payload, response: &Value) -> Result<(), BackEntryError> {
    let canonical = response.get("questionnaire").and_then(Value::as_str).unwrap_or("");
    if canonical != payload.form {
        return Err(BackEntryError::OtherForm);
    }
    let subject_mrn = response.pointer("/subject/identifier/value").and_then(Value::as_str);
    if payload.mrn.is_some() && payload.mrn.as_deref() != subject_mrn {
        return Err(BackEntryError::OtherPatient);
    }
    Ok(())
}

/// Refuses a page whose own episode is a drill on this station (codes printed before they carried `drill=1`).
pub fn refuse_drill(
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    payload: &Payload,
) -> Result<(), BackEntryError> {
    let Some(id) = &payload.episode else { return Ok(()) };
    match episodes::get(conn, keys, id)? {
        Some(e) if e.kind == Kind::Drill => Err(BackEntryError::Drill),
        _ => Ok(()),
    }
}

/// The episode a page's entries go into, and the paper-only episode created for it, if any. The page's own episode
/// wins when it is on this station (a page is never moved out of it); a chosen episode must be real and of the unit
/// the page was printed for (when its code says).
pub fn resolve_episode(
    tx: &mut Tx<'_>,
    payload: &Payload,
    assignment: &Assignment,
) -> Result<(String, Option<Episode>), BackEntryError> {
    let own = match &payload.episode {
        Some(id) => episodes::get(tx.sql(), tx.keys(), id)?,
        None => None,
    };
    if let Some(own) = &own {
        if own.kind == Kind::Drill {
            return Err(BackEntryError::Drill);
        }
        if !matches!(assignment, Assignment::FromQr) && *assignment != Assignment::Episode(own.id.clone()) {
            return Err(BackEntryError::OtherEpisode);
        }
        return Ok((own.id.clone(), None));
    }
    let same_unit = |unit: &str| match &payload.unit {
        Some(u) if u.trim() != unit.trim() => Err(BackEntryError::OtherUnit),
        _ => Ok(()),
    };
    match assignment {
        Assignment::FromQr => {
            Err(if payload.episode.is_some() { BackEntryError::UnknownEpisode } else { BackEntryError::NoEpisode })
        }
        Assignment::Episode(id) => {
            let episode = episodes::get(tx.sql(), tx.keys(), id)?.ok_or(BackEntryError::NoSuchEpisode)?;
            if episode.kind == Kind::Drill {
                return Err(BackEntryError::Drill);
            }
            same_unit(&episode.unit)?;
            Ok((episode.id, None))
        }
        Assignment::PaperOnly { unit, period } => {
            let unit = unit.trim();
            if unit.is_empty()
                || unit.len() > 120
                || unit.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c))
            {
                return Err(BackEntryError::NoUnit);
            }
            same_unit(unit)?;
            let now = stamp(tx.at());
            let (start, end) = match period {
                Some((s, e)) => (s.clone(), e.clone()),
                // From when the page was printed, unless the printing workstation's clock ran ahead of this one.
                None => match payload.printed_at.as_deref().and_then(parse_stamp) {
                    Some(printed) if printed <= tx.at() => (stamp(printed), now),
                    _ => (now.clone(), now),
                },
            };
            let (Some(s), Some(e)) = (parse_stamp(start.trim()), parse_stamp(end.trim())) else {
                return Err(BackEntryError::BadPeriod);
            };
            if s > e {
                return Err(BackEntryError::BadPeriod);
            }
            let created = episodes::paper_only(tx, unit, &stamp(s), &stamp(e))?;
            Ok((created.id.clone(), Some(created)))
        }
    }
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
    tx.audit(
        action::PAPER_ENTERED,
        &format!("entries:{}", p.id),
        &serde_json::json!({ "qr": qr, "episode": p.episode_id, "page": p.payload.page_label() }),
    )?;
    Ok(saved)
}
