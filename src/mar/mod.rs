//! The downtime MAR (issue 16): each medication order of a patient with its due times for the episode, and what
//! became of each — given, not given (with the reason), due now, overdue, still to come — or, for an as-needed order,
//! when the last dose was given and when the next may be. Pure: the orders, the doses, the clock and the zone come in
//! as values (`api/mar.rs` reads them from the vault). The rules chosen where the issue is silent are in
//! ARCHITECTURE.md, "MAR schedule".
//!
//! `timing.rs` reads FHIR timing into rules, `zone.rs` is the unit's local time, `orders.rs` turns census records and
//! charted entries into orders and doses, `schedule.rs` lays the due times and matches the doses to them.

pub mod orders;
pub mod schedule;
pub mod timing;
pub mod zone;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use orders::{Dose, Order, OrderSource};
pub use schedule::{schedule, Window};
pub use timing::{Rule, Timing};
pub use zone::LocalZone;

/// What became of one due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DueStatus {
    /// A dose was given within the window of this time.
    Given,
    /// The nurse charted it as not given (held, refused…) within the window.
    NotGiven,
    /// Nothing charted, and now is within the window either side of it.
    Due,
    /// Nothing charted, and the window after it has passed.
    Overdue,
    /// Still to come (more than the window ahead).
    Scheduled,
    /// An as-needed order: no due time, see the order's `prn` line.
    Prn,
}

impl DueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DueStatus::Given => "given",
            DueStatus::NotGiven => "not-given",
            DueStatus::Due => "due",
            DueStatus::Overdue => "overdue",
            DueStatus::Scheduled => "scheduled",
            DueStatus::Prn => "prn",
        }
    }
}

/// One due time of an order (or the one `prn` row of an as-needed order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueTime {
    /// When it is due (RFC 3339 with the unit's offset at that time); for a `prn` row, when the next dose may be
    /// given (absent: now, no interval or no dose yet).
    pub at: Option<String>,
    pub status: DueStatus,
    /// The medication-administration entry that covers it (absent for a dose from the census snapshot).
    pub entry_id: Option<String>,
    /// When the covering dose was given (or charted as not given).
    pub given_at: Option<String>,
    /// Who charted the covering entry (filled in by the façade, which reads the entries; absent for a census dose).
    pub given_by: Option<String>,
    /// A dose given before the outage, read from the census snapshot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_census: bool,
    /// Why it was not given.
    pub reason: Option<String>,
}

/// How an order is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKind {
    Scheduled,
    Prn,
    /// The timing cannot be scheduled: the nurse reads the order's own words.
    SeeOrder,
    /// On hold in the EHR: nothing is due.
    OnHold,
}

/// An as-needed order's last dose and the next time one may be given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrnLine {
    pub last_dose_at: Option<String>,
    pub last_dose_entry_id: Option<String>,
    pub min_interval_minutes: Option<i64>,
    pub next_allowed_at: Option<String>,
}

/// A dose charted against no due time (given far from any, or an order that is not scheduled): listed so that
/// nothing charted disappears from the MAR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoseLine {
    pub at: String,
    /// The medication as charted (a dose under no order is known by nothing else).
    pub medication: String,
    pub given: bool,
    pub reason: Option<String>,
    pub entry_id: Option<String>,
    /// Who charted it (filled in by the façade; absent for a census dose).
    pub given_by: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_census: bool,
}

/// One order on the MAR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSchedule {
    /// `census:<MedicationRequest id or position>`, or the medication-order entry's id.
    pub order: String,
    pub source: OrderSource,
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    /// How often, in words ("every 8 hours", "09:00, 21:00"), or the order's own text for "see order".
    pub timing: String,
    pub kind: OrderKind,
    /// Why the timing is not scheduled (kind `see-order`).
    pub see_order: Option<String>,
    pub starts_at: Option<String>,
    pub stops_at: Option<String>,
    /// The downtime order that discontinued it.
    pub stopped_by: Option<String>,
    pub prn: Option<PrnLine>,
    pub due: Vec<DueTime>,
    pub other_doses: Vec<DoseLine>,
}
