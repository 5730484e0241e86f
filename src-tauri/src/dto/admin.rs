//! The DTOs of the administrator's desk (issue 17 item 5): staff accounts, the census import, the forms check,
//! `verify` and backups. Staff names, file names and counts only; nothing here carries patient data.
use super::{add, Bindings, ReadinessLevel, Role};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<StaffAccount>(out);
    add::<NewAccountRequest>(out);
    add::<OneTimePassword>(out);
    add::<RosterImported>(out);
    add::<FormsCheck>(out);
    add::<LoadedForm>(out);
    add::<RefusedForm>(out);
    add::<VerifyResult>(out);
    add::<VerifyProblem>(out);
    add::<BackupStatus>(out);
    add::<BackupWritten>(out);
    add::<CensusDesk>(out);
    add::<CensusSnapshot>(out);
    add::<CensusFile>(out);
    add::<CensusImported>(out);
}

/// A staff account as the user list shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StaffAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// False once an administrator disabled it (or, for an emergency account, never again true).
    pub active: bool,
    /// A one-time password is still to be changed at the user's next sign-in.
    pub one_time_password_pending: bool,
    /// Locked after too many failed sign-ins (`dtk user list`'s `locked`): not even the right password opens it
    /// until someone unlocks it.
    pub locked: bool,
    pub emergency: bool,
    pub expires_at: Option<String>,
}

/// A new account; the core makes its one-time password.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccountRequest {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// An account's one-time password, shown once to the administrator to hand over in person (the UI keeps no copy
/// after that screen).
#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OneTimePassword {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// What a roster import did: the accounts made, with their one-time passwords, and the usernames already present.
#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RosterImported {
    pub created: Vec<OneTimePassword>,
    pub skipped: Vec<String>,
}

/// The forms this workstation loaded, and the files it refused with why (`dtk forms list`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FormsCheck {
    pub loaded: Vec<LoadedForm>,
    pub refused: Vec<RefusedForm>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LoadedForm {
    pub canonical: String,
    pub title: String,
}

/// A form file that did not load: the file, the question it concerns if any, and why.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RefusedForm {
    pub file: String,
    pub link_id: Option<String>,
    pub reason: String,
}

/// What `verify` found; `recordFailure` says why it could not be kept for readiness (the result itself stands).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    pub intact: bool,
    pub problems: Vec<VerifyProblem>,
    pub record_failure: Option<String>,
}

/// One broken row: its table, its id, and what is wrong (never its content).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VerifyProblem {
    pub table: String,
    pub id: String,
    pub reason: String,
}

/// The interim backups: the site's folder, the newest backup and its age, overdue, running, the last failure.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    pub folder: Option<String>,
    pub interval_hours: u32,
    pub last_at: Option<String>,
    pub last_file: Option<String>,
    #[ts(type = "number | null")]
    pub age_minutes: Option<i64>,
    pub overdue: bool,
    pub running: bool,
    pub failure: Option<String>,
}

/// A backup written now.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BackupWritten {
    pub file: String,
    pub at: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// The census panel: the current snapshot as readiness's `census` check sees it, and the files in the site's
/// `census_import_dir` that can be imported.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CensusDesk {
    /// None before any census was imported.
    pub snapshot: Option<CensusSnapshot>,
    /// Readiness's verdict on the census (stale past the site's `census_max_age_hours`) and its line for IT.
    pub status: ReadinessLevel,
    pub detail: String,
    /// The site's `census_import_dir`; None when the site names none.
    pub folder: Option<String>,
    pub files: Vec<CensusFile>,
    /// Why the folder could not be listed (missing, unreadable), naming it; the snapshot is shown all the same.
    pub folder_problem: Option<String>,
}

/// The current census snapshot: when the EHR took it, how long ago, and how many patients it holds.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CensusSnapshot {
    pub taken_at: String,
    /// Whole hours since the EHR took it; None when its time cannot be read.
    #[ts(type = "number | null")]
    pub age_hours: Option<i64>,
    /// The site's `census_max_age_hours`.
    pub max_age_hours: u32,
    #[ts(type = "number")]
    pub patients: i64,
}

/// A file in the census folder, by name (the command takes the name, never a path).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CensusFile {
    pub name: String,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Minutes since the file was last written (an export job's run), when the file system says.
    #[ts(type = "number | null")]
    pub modified_minutes_ago: Option<u64>,
}

/// What importing a census file did (as `dtk census import`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CensusImported {
    pub file: String,
    pub patients: u32,
    pub allergies: u32,
    pub medications: u32,
    /// When the EHR took the snapshot now current.
    pub taken_at: String,
    /// What the import left out, e.g. "3 Observation".
    pub skipped: Vec<String>,
}
