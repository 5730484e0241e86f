//! The DTOs of the charge desk's Escalation section (issue 21 item 1): the site's escalation ladder and contacts,
//! where the ladder stands in the open episode, and the calls recorded.
use super::{add, Bindings};
use serde::Serialize;
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<EscalationPhone>(out);
    add::<EscalationContact>(out);
    add::<ContactCall>(out);
    add::<LevelStatus>(out);
    add::<EscalationLevel>(out);
    add::<EscalationStatus>(out);
}

/// One phone number of a contact, with what it is ("24/7 line", "mobile").
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EscalationPhone {
    pub label: String,
    pub number: String,
}

/// Someone to call.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EscalationContact {
    /// The id in the escalation file (what a recorded call names).
    pub id: String,
    pub name: String,
    pub team: Option<String>,
    pub notes: Option<String>,
    pub phones: Vec<EscalationPhone>,
}

/// A call to a contact, or their acknowledgement, with who recorded it and when.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ContactCall {
    pub at: String,
    pub by: String,
    pub contact: String,
    pub name: String,
    pub acknowledged: bool,
}

/// Where a level of the ladder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum LevelStatus {
    /// Not for this outage's severity or systems.
    NotForThisOutage,
    /// Not reached (an earlier level is waiting for an answer or acknowledged), or no episode is open.
    Waiting,
    /// The level to call now, or called and waiting for an acknowledgement.
    Current,
    /// No acknowledgement within its minutes: the ladder went on.
    NoAnswer,
    /// One of its contacts acknowledged: the ladder stops here.
    Acknowledged,
}

/// One level of the ladder.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EscalationLevel {
    /// Its place in the file, from 1.
    pub number: u32,
    pub title: String,
    /// Which outages it is for, in words; none: every outage.
    pub applies_to: Option<String>,
    /// Minutes without an acknowledgement before the next level; none: the ladder ends here.
    pub after_minutes: Option<u32>,
    pub status: LevelStatus,
    pub reached_at: Option<String>,
    pub escalates_at: Option<String>,
    pub contacts: Vec<EscalationContact>,
    /// Calls and acknowledgements of its contacts, oldest first.
    pub calls: Vec<ContactCall>,
}

/// The Escalation section: the site's file (or why there is none), and, with an episode open, who to call now.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EscalationStatus {
    /// The file configured; none: no escalation file is configured (no phone number is invented).
    pub file: Option<String>,
    /// The ladder's title, when the file could be read.
    pub title: Option<String>,
    /// Why the file was not used (file, contact or level, field); charting goes on regardless.
    pub problems: Vec<String>,
    /// Whether a downtime episode is open (else the levels are the file's, none called).
    pub episode_open: bool,
    pub levels: Vec<EscalationLevel>,
    /// The number of the level to call now.
    pub current: Option<u32>,
    pub next_escalation_due: Option<String>,
    /// Nobody of the current level is called yet.
    pub call_now: bool,
    /// A level went unanswered and nobody of the next is called yet, or the last level went unanswered.
    pub overdue: bool,
    /// The acknowledgement that stopped the ladder.
    pub acknowledged: Option<ContactCall>,
}
