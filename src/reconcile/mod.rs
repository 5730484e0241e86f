//! The HIM reconciliation worklist: every signed entry brought home from the workstations, each moving through
//! `pending → matched → accepted | duplicate-of(X) | rejected(reason) | needs-correction → exported(batch) → posted`,
//! or `exported → refused(the server's reason)`, which stays open until the analyst reposts it (back to accepted),
//! records that it was entered by hand in the EHR (who, when, where) or rejects it.
//! This file holds the states, the errors and the sealed row body; the jobs live beside it: `decide.rs` (tracking
//! arrivals, matching temporary MRNs, duplicate proposals and the analyst's decisions, each audited with who and
//! why), `worklist.rs` (the filtered, paged worklist, summary counts, the proposals list), `compare.rs` (the
//! side-by-side view of two entries), `refusal.rs` (what the EHR refused and the ways out), `report.rs` (the reconciliation report's data and its CSV; the PDF is
//! rendered by `print`), `back_entry.rs` (a paper page typed in by HIM, checked against its QR code and put into
//! its episode, one the analyst chooses or a paper-only one) and `mar.rs` (a downtime MAR page's doses as
//! medication-administration responses).
//!
//! Filters use keyed blind indexes and plain non-PHI columns only, so a worklist page stays fast at 160,000
//! entries; only the rows of the page are decrypted.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::crypto::{Keys, Place};
use crate::vault::{Tx, VaultError};

pub mod back_entry;
mod compare;
mod decide;
pub mod mar;
mod refusal;
mod report;
mod worklist;

pub use compare::{card, side_by_side, Card, SideBySide};
pub use decide::{
    accept, acceptable, dismiss, mark_duplicate, match_patient, needs_correction, propose_duplicates, reject, track,
    Tracked,
};
pub use refusal::{entered_by_hand, repost};
pub(crate) use refusal::{record_posted, record_refused};
pub use report::{report, BatchLine, Disposition, EpisodeLine, FileLine, PaperLine, Report};
pub use worklist::{list, proposals, summary, Filter, Page, Proposal, Summary, WorkItem};

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
    /// The EHR refused an entry of a posted batch (written by the poster, one row per entry).
    pub const REFUSED: &str = "reconcile.refused";
    pub const REPOSTED: &str = "reconcile.reposted";
    pub const ENTERED_BY_HAND: &str = "reconcile.entered_by_hand";
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
    /// The EHR refused it when its batch was posted: open until the analyst decides.
    Refused,
    /// Entered by hand in the EHR after a refusal (who, when, where in the row body): closed.
    EnteredByHand,
}

impl State {
    pub const ALL: [State; 10] = [
        State::Pending,
        State::Matched,
        State::Accepted,
        State::Duplicate,
        State::Rejected,
        State::NeedsCorrection,
        State::Exported,
        State::Posted,
        State::Refused,
        State::EnteredByHand,
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
            State::Refused => "refused",
            State::EnteredByHand => "entered-by-hand",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still needs the analyst (or an export): the report lists these as open. A refused entry never reached the
    /// EHR, so it is open until a decision (repost, entered by hand, reject) closes it.
    pub fn is_open(self) -> bool {
        matches!(self, State::Pending | State::Matched | State::NeedsCorrection | State::Accepted | State::Refused)
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
    /// The version the EHR may hold (exported and not refused), if any: a later amendment is sent as an update.
    pub exported_version: Option<i64>,
    /// Who entered it by hand in the EHR after a refusal, when and where.
    pub hand_entry: Option<HandEntry>,
}

/// An entry the EHR refused, typed in by hand there instead: the analyst records who did it, when and where, so
/// the report can point to the EHR's own record of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandEntry {
    pub by: String,
    /// When it was entered in the EHR (RFC 3339, as given).
    pub at: String,
    /// Where in the EHR (screen, note, order), in the analyst's words.
    pub place: String,
}

fn place(id: &str) -> Place<'_> {
    Place { table: "recon", row: id, column: "body", format: FORMAT }
}

/// A worklist row's body sealed for its place (the export seals the body it locks as exported with it too).
pub(crate) fn seal_body(tx: &mut Tx<'_>, id: &str, body: &RowBody) -> Vec<u8> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    tx.seal(&place(id), &plain)
}

pub(crate) fn open_body(keys: &Keys, id: &str, fv: i64, sealed: &[u8]) -> Result<RowBody, VaultError> {
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(id) };
    let plain =
        keys.open(&p, sealed).map_err(|_| VaultError::Integrity(format!("recon {id}: body fails authentication")))?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Integrity(format!("recon {id}: body is not a worklist row")))
}

/// A worklist row as stored: what every decision and view reads first.
struct Row {
    state: State,
    fv: i64,
    body: Vec<u8>,
}

/// The worklist row of an entry, if it is on the worklist.
fn load(conn: &rusqlite::Connection, id: &str) -> Result<Option<Row>, VaultError> {
    Ok(conn
        .query_row("SELECT state, fv, body FROM recon WHERE entry_id = ?1", [id], |r| {
            let s: String = r.get(0)?;
            Ok(Row { state: State::parse(&s).unwrap_or(State::Pending), fv: r.get(1)?, body: r.get(2)? })
        })
        .optional()?)
}
