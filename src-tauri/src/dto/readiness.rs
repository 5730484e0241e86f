//! The DTOs of readiness (issue 17 item 6): the report `dtk readiness --json` prints, for the admin desk.
use super::{add, Bindings};
use serde::Serialize;
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<ReadinessLevel>(out);
    add::<ReadinessCheck>(out);
    add::<ReadinessReport>(out);
}

/// How one check came out; a warning never makes the workstation not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ReadinessLevel {
    Ok,
    Warning,
    NotReady,
}

/// One check: its stable name, level, a line for IT (never patient data) and its machine values (README.md,
/// "Readiness and monitoring", lists them per check).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessCheck {
    pub name: String,
    pub status: ReadinessLevel,
    pub detail: String,
    #[ts(type = "Record<string, unknown>")]
    pub values: serde_json::Value,
}

/// Is this workstation ready for the next downtime? `ready` is false when any check is not ready.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    pub ready: bool,
    pub checked_at: String,
    pub workstation_id: String,
    pub unit: Option<String>,
    pub not_ready: Vec<String>,
    pub warnings: Vec<String>,
    pub checks: Vec<ReadinessCheck>,
}
