//! The shift handover sheet of one patient (issue 16 item 5): what the nurse handing over tells the one taking over —
//! the last vitals, the doses given since the last handover and those due in the next 12 hours (from the MAR
//! schedule), the notes since the last handover, and the entries still unsigned. Values only: the façade
//! (`api/handover.rs`) gathers them, the printer (`print/handover.rs`), the command line and the screen show them.
//! What "the last handover" is: ARCHITECTURE.md, "Shift handover".

use serde::Serialize;

use crate::census::Allergy;

/// How far ahead the sheet lists the doses due.
pub const DUE_AHEAD_HOURS: i64 = 12;

/// A recorded handover: when, and who handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedOver {
    pub at: String,
    /// The display name and username of the nurse who handed over.
    pub by: String,
}

/// One answer of an entry, as a nurse reads it: the question's text and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub label: String,
    pub value: String,
}

/// The newest signed vital-signs entry of the episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vitals {
    pub entry_id: String,
    /// When they were taken (the entry's clinical time), else when charted.
    pub at: String,
    pub author: String,
    pub values: Vec<Answer>,
}

/// A dose given (or charted as not given) since the last handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoseGiven {
    pub medication: String,
    pub at: String,
    pub given: bool,
    pub reason: Option<String>,
    /// Absent for a dose the census recorded before the outage.
    pub entry_id: Option<String>,
}

/// A dose due (or overdue) in the next 12 hours, an as-needed order, or an order the nurse must read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoseDue {
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    /// The due time; for `prn`, when the next dose may be given (absent: now); absent for `see-order`.
    pub at: Option<String>,
    /// `overdue`, `due`, `scheduled`, `prn` or `see-order`.
    pub status: String,
    /// The order's timing in words (the order's own words for `see-order`).
    pub timing: String,
    /// For `prn`: when the last dose was given.
    pub last_dose_at: Option<String>,
}

/// A signed entry charted since the last handover (other than vitals and medication doses, listed above it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub entry_id: String,
    pub form: String,
    pub at: String,
    pub author: String,
    /// The entry's answers in words, text answers in full.
    pub text: String,
}

/// An entry of this patient not signed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsigned {
    pub entry_id: String,
    pub form: String,
    pub author: String,
    pub saved_at: String,
}

/// The handover sheet of one patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handover {
    pub mrn: String,
    pub mrn_system: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub location: Option<String>,
    pub allergies: Vec<Allergy>,
    pub episode_id: String,
    pub drill: bool,
    pub now: String,
    /// The last recorded handover of this patient in the episode, if any.
    pub last_handover: Option<HandedOver>,
    /// What "since the last handover" counts from: the last handover, else the episode's start.
    pub since: String,
    /// The end of the "next 12 hours".
    pub due_until: String,
    pub vitals: Option<Vitals>,
    pub given: Vec<DoseGiven>,
    pub due: Vec<DoseDue>,
    pub notes: Vec<Note>,
    pub unsigned: Vec<Unsigned>,
}
