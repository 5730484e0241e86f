//! The DTOs of the MAR (issue 16): a patient's orders with their due times and what became of each (the MAR tab),
//! and every patient's overdue doses (the charge nurse's unit view). Times are RFC 3339 with the unit's offset.
use super::{add, Allergy, Bindings};
use serde::Serialize;
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<DueStatus>(out);
    add::<MarOrderKind>(out);
    add::<MarDue>(out);
    add::<MarDose>(out);
    add::<MarPrn>(out);
    add::<MarOrder>(out);
    add::<MarView>(out);
    add::<OverdueDose>(out);
    add::<UnitOverdue>(out);
}

/// What became of one due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum DueStatus {
    Given,
    NotGiven,
    /// Within the window either side of its time: give it now.
    Due,
    /// The window after it has passed and nothing is charted.
    Overdue,
    /// Still to come.
    Scheduled,
    /// An as-needed order's one row.
    Prn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum MarOrderKind {
    Scheduled,
    Prn,
    /// The timing cannot be scheduled: the nurse reads the order's own words.
    SeeOrder,
    /// On hold in the EHR: nothing is due.
    OnHold,
}

/// One due time of an order (or an as-needed order's one row).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarDue {
    /// When it is due; for a PRN row, when the next dose may be given (absent: now).
    pub at: Option<String>,
    pub status: DueStatus,
    /// The medication-administration entry that covers it.
    pub entry_id: Option<String>,
    pub given_at: Option<String>,
    /// Who charted the covering entry (absent for a dose recorded in the EHR before the outage).
    pub given_by: Option<String>,
    /// A dose recorded in the EHR before the outage (the census snapshot).
    pub from_census: bool,
    /// Why it was not given.
    pub reason: Option<String>,
}

/// A dose charted against no due time, listed so that nothing charted disappears.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarDose {
    pub at: String,
    /// The medication as charted.
    pub medication: String,
    pub given: bool,
    pub reason: Option<String>,
    pub entry_id: Option<String>,
    pub given_by: Option<String>,
    pub from_census: bool,
}

/// An as-needed order's last dose and the next time one may be given.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarPrn {
    pub last_dose_at: Option<String>,
    pub min_interval_minutes: Option<i32>,
    pub next_allowed_at: Option<String>,
}

/// One order on the MAR.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarOrder {
    pub order: String,
    /// The census snapshot (the EHR's order) or a downtime medication-order entry.
    pub from_census: bool,
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    /// How often, in words, or the order's own text for "see order".
    pub timing: String,
    pub kind: MarOrderKind,
    /// Why the timing cannot be scheduled.
    pub see_order: Option<String>,
    pub starts_at: Option<String>,
    pub stops_at: Option<String>,
    pub prn: Option<MarPrn>,
    pub due: Vec<MarDue>,
    pub other_doses: Vec<MarDose>,
}

/// A patient's MAR for the open episode (else the newest).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarView {
    pub mrn: String,
    pub name: String,
    pub allergies: Vec<Allergy>,
    pub drill: bool,
    /// The episode's start: due times are listed from here.
    pub from: String,
    pub until: String,
    pub now: String,
    pub time_zone: String,
    pub window_minutes: i32,
    pub orders: Vec<MarOrder>,
    /// Doses charted for a medication the patient has no order for.
    pub unmatched_doses: Vec<MarDose>,
}

/// One overdue dose on the unit.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OverdueDose {
    pub mrn: String,
    pub name: String,
    pub location: Option<String>,
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    pub due_at: String,
}

/// Every patient's overdue doses, oldest first: the charge nurse's unit view.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitOverdue {
    pub now: String,
    pub window_minutes: i32,
    pub doses: Vec<OverdueDose>,
    /// MRNs whose MAR could not be laid out: shown, so nobody takes silence for "nothing overdue".
    pub unreadable: Vec<String>,
}
