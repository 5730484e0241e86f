//! The DTOs of the charge nurse's desk: the episode (severity, checklist, status updates, incident roles, the
//! decision log, timeline), the print centre and break-glass accounts. `EpisodeStatus` is also what every
//! workstation's banner reads (severity, DRILL, overdue steps), so nurses see it too.
use super::{add, Bindings, Role};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<Severity>(out);
    add::<SeverityOption>(out);
    add::<EpisodeOptions>(out);
    add::<DeclareEpisodeRequest>(out);
    add::<EpisodeSummary>(out);
    add::<ChecklistStep>(out);
    add::<ResponseTargetCheck>(out);
    add::<StatusUpdate>(out);
    add::<IncidentRole>(out);
    add::<RoleHolder>(out);
    add::<RoleAssignment>(out);
    add::<Decision>(out);
    add::<EpisodeStatus>(out);
    add::<Escalation>(out);
    add::<UserCount>(out);
    add::<EpisodeTimeline>(out);
    add::<FormChoice>(out);
    add::<PatientChoice>(out);
    add::<PrinterInfo>(out);
    add::<PrintCentreInfo>(out);
    add::<EntryChoice>(out);
    add::<PrintJob>(out);
    add::<PrintRequest>(out);
    add::<PrintProgress>(out);
    add::<SavedPdf>(out);
    add::<EmergencyUserRequest>(out);
    add::<EmergencyUserCreated>(out);
    add::<UnsignedEntry>(out);
    add::<HandoffInfo>(out);
    add::<HandoffExportRequest>(out);
    add::<HandoffExported>(out);
}

/// Severity on the healthcare scale of issue 9 (P1 most severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum Severity {
    P1,
    P2,
    P3,
    P4,
}

/// A severity and what it means, in the words the banner and updates use.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SeverityOption {
    pub code: Severity,
    pub meaning: String,
}

/// What the declaration form offers: the severity scale and the usual affected systems (free text adds others).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeOptions {
    pub severities: Vec<SeverityOption>,
    pub affected: Vec<String>,
}

/// Declaring a downtime (or a drill).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeclareEpisodeRequest {
    /// A practice episode: marked DRILL everywhere, never exported.
    pub drill: bool,
    pub severity: Option<Severity>,
    pub affected: Vec<String>,
    /// The clinical impact in plain words.
    pub impact: Option<String>,
    pub reason: Option<String>,
    /// Minutes from now until the first status update is due.
    pub next_update_minutes: Option<u32>,
    /// How many minutes ago the outage began (the start of the "time to declare" response target).
    pub began_minutes_ago: Option<u32>,
}

/// An episode as the desk shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeSummary {
    pub id: String,
    pub unit: String,
    pub drill: bool,
    pub started_at: String,
    pub started_by: String,
    pub ended_at: Option<String>,
    pub ended_by: Option<String>,
    pub declared_severity: Option<Severity>,
    pub affected: Vec<String>,
    pub impact: Option<String>,
    pub reason: Option<String>,
}

/// One checklist step and where it stands.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistStep {
    pub id: String,
    /// `declare`, `during` or `recovery`.
    pub phase: String,
    pub role: Role,
    pub text: String,
    pub due_at: Option<String>,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
    pub overdue: bool,
    /// Whether the step is for this outage (its severity now and the systems declared); one that is not is shown as
    /// such, never overdue, and can still be ticked.
    pub applies: bool,
    /// Which outages the step is for, in words ("P1, P2 · when lab results is affected"), if not every one.
    pub applies_to: Option<String>,
}

/// One of the site's response targets, measured on the open episode (issue 21 item 3).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ResponseTargetCheck {
    /// `declare`, `first_entry` or `update`.
    pub kind: String,
    /// "Declared", "First electronic entry", "Status update 2".
    pub label: String,
    pub severity: Severity,
    pub target_minutes: u32,
    pub due_at: Option<String>,
    pub done_at: Option<String>,
    /// How long it took (or has taken so far), in minutes.
    pub minutes: Option<i32>,
    pub missed: bool,
    /// "met", "MISSED", "open" or "not measured: why".
    pub result: String,
}

/// A status update kept with the episode.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    pub at: String,
    pub actor: String,
    pub text: String,
    pub next_update_due: Option<String>,
}

/// A named role of the incident (issue 21 item 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum IncidentRole {
    /// Runs the response.
    Commander,
    /// Speaks for the clinical side.
    Liaison,
}

/// Who holds a role (a name in words), since when, and who named them.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RoleHolder {
    pub name: String,
    pub at: String,
    pub by: String,
}

/// One assignment of a role, as the timeline lists them.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub role: IncidentRole,
    pub name: String,
    pub at: String,
    pub by: String,
}

/// A decision of the decision log: never edited or deleted (a correction is a new decision).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// The open episode: what the desk shows, and what the banner on every workstation reads (`drill`, `severity`,
/// `overdueCount`, `updateOverdue`).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeStatus {
    pub episode: EpisodeSummary,
    pub drill: bool,
    pub severity: Option<Severity>,
    pub severity_meaning: Option<String>,
    pub next_update_due: Option<String>,
    pub update_overdue: bool,
    /// Overdue checklist steps, plus one when the status update is past its time.
    pub overdue_count: u32,
    pub checklist_title: String,
    /// Why the site's checklist file was not used (the built-in one is shown instead).
    pub checklist_problems: Vec<String>,
    pub steps: Vec<ChecklistStep>,
    pub updates: Vec<StatusUpdate>,
    pub commander: Option<RoleHolder>,
    pub liaison: Option<RoleHolder>,
    /// The decision log, newest first.
    pub decisions: Vec<Decision>,
    /// The site's response targets measured so far, and how many were missed.
    pub targets: Vec<ResponseTargetCheck>,
    pub missed_targets: u32,
}

/// A severity change.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    pub at: String,
    pub severity: Severity,
}

/// Entries per user.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UserCount {
    pub user: String,
    pub count: u32,
}

/// The episode's timeline and metrics for after-action review.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeTimeline {
    pub declared_at: String,
    pub ended_at: Option<String>,
    pub drill: bool,
    pub escalations: Vec<Escalation>,
    pub first_entry_at: Option<String>,
    pub minutes_to_first_entry: Option<i32>,
    pub entries: u32,
    pub entries_per_hour: Option<f64>,
    pub entries_per_user: Vec<UserCount>,
    pub forms_printed: u32,
    pub steps: Vec<ChecklistStep>,
    /// Step ids not done.
    pub missed: Vec<String>,
    pub minutes_to_recovery: Option<i32>,
    pub status_updates: u32,
    /// Every role assignment, oldest first.
    pub roles: Vec<RoleAssignment>,
    /// The decisions, oldest first.
    pub decisions: Vec<Decision>,
    /// Every call and acknowledgement of the escalation ladder, oldest first (issue 21 item 1).
    pub contacts: Vec<super::ContactCall>,
}

/// A form the print centre can print blank.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FormChoice {
    /// `url|version`.
    pub id: String,
    pub title: String,
}

/// A patient to print for.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PatientChoice {
    pub mrn: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub location: Option<String>,
}

/// Whether this workstation can print to a printer (CUPS `lp`), and to which.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PrinterInfo {
    pub cups: bool,
    pub default_printer: Option<String>,
}

/// What the print centre offers.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PrintCentreInfo {
    pub forms: Vec<FormChoice>,
    pub patients: Vec<PatientChoice>,
    /// Where PDFs are saved unless another folder is typed.
    pub folder: String,
    pub printer: PrinterInfo,
    /// The open episode is a drill: every page will say DRILL.
    pub drill: bool,
}

/// A patient's entry, to print for the paper chart.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntryChoice {
    pub id: String,
    pub form_title: String,
    /// `draft`, `signed`, `amended` or `entered-in-error`.
    pub status: String,
    pub version: u32,
    pub clinical_time: Option<String>,
    pub recorded_at: String,
    pub author: String,
}

/// What to print.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PrintJob {
    /// A blank form for every patient of the unit, in room order, in one PDF.
    BlankUnit { form: String },
    /// A blank form with one patient's header.
    BlankPatient { form: String, mrn: String },
    /// A blank form with an empty label area.
    BlankUnlabelled { form: String },
    /// The downtime MAR of the unit.
    Mar,
    /// The unit census sheet.
    Census,
    /// Filled entries for the paper chart, one PDF each.
    Entries { ids: Vec<String> },
    /// The report of the latest drill: timeline, checklist times, entries per user, forms printed, what was missed.
    DrillReport,
    /// The newest status update kept with the open episode, for leaders.
    StatusUpdate,
    /// One patient's shift handover sheet (nurses too).
    Handover { mrn: String },
    /// The review of an episode of this workstation, real or drill (issue 21 item 6).
    Review { episode: String },
    /// The one-page contact sheet of the site's escalation ladder (issue 21 item 1).
    ContactSheet,
}

/// A print: what, and the folder its PDF goes into.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrintRequest {
    pub job: PrintJob,
    pub folder: String,
}

/// How far a batch has got.
#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PrintProgress {
    pub done: u32,
    pub total: u32,
}

/// A PDF written to disk.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedPdf {
    pub path: String,
    pub pages: u32,
}

/// A break-glass account for staff who have none.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmergencyUserRequest {
    pub username: String,
    pub display_name: String,
    pub reason: String,
    /// 1 to 24.
    pub hours: u32,
}

/// The account made, with its one-time password (shown once; the UI keeps no copy after that screen).
#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyUserCreated {
    pub username: String,
    pub display_name: String,
    pub expires_at: Option<String>,
    pub password: String,
}

/// An entry of the episode still unsigned on this workstation: who must sign it, which form, since when. No patient.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UnsignedEntry {
    pub id: String,
    pub author: String,
    pub form_title: String,
    pub created_at: String,
    /// Minutes since the draft was first saved.
    pub age_minutes: u32,
}

/// What the handoff section shows before an export: the folder the file goes into unless another is typed, and the
/// episode's unsigned entries (drafts never leave the workstation), per author and oldest first.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffInfo {
    pub folder: String,
    pub unsigned_total: u32,
    pub unsigned_by_author: Vec<UserCount>,
    pub unsigned: Vec<UnsignedEntry>,
}

/// Writing the handoff file for HIM. `includeUnsigned` is the charge nurse's confirmation, after seeing the counts,
/// that the file leaves the unsigned entries behind (kept in the audit log); without it the core refuses while any
/// remain (`unsigned_entries`).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HandoffExportRequest {
    pub folder: String,
    pub include_unsigned: bool,
}

/// The handoff file written.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffExported {
    pub path: String,
    #[ts(type = "number")]
    pub sequence: u64,
    pub entries: u32,
    pub sha256: String,
    /// HIM compares it with the one shown at import.
    pub signer_fingerprint: String,
    /// What the file says was left unsigned, per author (empty when every entry was signed).
    pub unsigned_left: Vec<UserCount>,
}
