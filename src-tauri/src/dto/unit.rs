//! The DTOs of the unit share (issue 20): the banner every desk shows (each peer workstation and how fresh it is, or
//! plainly that the share is unreachable), one sync now, and the charge nurse's unit overview.
use super::{add, Bindings};
use serde::Serialize;
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<UnitPeer>(out);
    add::<UnitShare>(out);
    add::<UnitSynced>(out);
    add::<UnitCharted>(out);
    add::<UnitPatient>(out);
    add::<UnitUnsigned>(out);
    add::<UnitOverview>(out);
}

/// One peer workstation of the unit as the banner shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitPeer {
    /// "1a2b3c4d": the first characters of its workstation id.
    pub label: String,
    /// Minutes since it was last heard from (its newest segment, by the earlier of its clock and ours).
    pub age_minutes: u32,
    /// Not heard from for longer than the banner allows (15 minutes).
    pub stale: bool,
    /// Its clock was this many minutes ahead of ours when its newest segment arrived (negative: behind).
    pub clock_offset_minutes: i32,
    /// When its newest segment arrived here.
    pub received_at: String,
    /// "WS 1a2b3c4d: 10:42" or "WS 1a2b3c4d: not heard from for 25 min".
    pub line: String,
}

/// The unit share as the banner shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitShare {
    /// False when the site configures no unit share: this workstation charts alone and the banner is not shown.
    pub configured: bool,
    pub reachable: bool,
    /// "unit share unreachable: DIR" when it is; charting goes on either way.
    pub message: Option<String>,
    pub peers: Vec<UnitPeer>,
    /// Enrolled workstations (key fingerprints) of which nothing has arrived yet.
    pub not_heard_from: Vec<String>,
}

/// One sync: the banner after it, and what came in and what went wrong, in words (never patient data).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitSynced {
    pub share: UnitShare,
    /// "WS 1a2b3c4d: 2 segments, 3 entries, …" per peer that sent something.
    pub received: Vec<String>,
    /// Whether this workstation published a new segment.
    pub published: bool,
    /// Why publishing failed (a full or read-only share); nothing local is affected.
    pub publish_problem: Option<String>,
    /// Segments refused or waiting, each named.
    pub problems: Vec<String>,
}

/// An entry in the unit overview: when, who, and on which workstation.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitCharted {
    pub at: String,
    pub author: String,
    pub medication: Option<String>,
    /// The peer workstation that charted it; null for this one.
    pub workstation: Option<String>,
}

/// One patient of the census across the unit's workstations.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitPatient {
    pub mrn: String,
    pub name: String,
    pub location: Option<String>,
    pub last_vitals: Option<UnitCharted>,
    pub doses: Vec<UnitCharted>,
    /// Drafts for this patient on this workstation.
    pub unsigned_here: u32,
}

/// What a peer's newest segment said one of its authors left unsigned there.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitUnsigned {
    pub label: String,
    pub author: String,
    pub entries: u32,
}

/// The charge nurse's unit overview.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnitOverview {
    pub share: UnitShare,
    pub patients: Vec<UnitPatient>,
    pub unsigned_elsewhere: Vec<UnitUnsigned>,
}
