//! The DTOs of the nurse's path: census and patients, downtime registration, forms, entries and their lifecycle,
//! drafts, and the DOWNTIME banner's status (with the interim backup's).
//!
//! A QuestionnaireResponse and a Questionnaire cross as plain JSON (`unknown` in TypeScript): the form renderer
//! reads the Questionnaire as FHIR defines it, and the core validates every response, so the shell does not
//! re-describe FHIR here.
use super::{add, Bindings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<Allergy>(out);
    add::<PatientInfo>(out);
    add::<Census>(out);
    add::<Registration>(out);
    add::<FormInfo>(out);
    add::<EntryStatus>(out);
    add::<EntrySummary>(out);
    add::<EntryVersion>(out);
    add::<EntryDetail>(out);
    add::<Finding>(out);
    add::<FindingSeverity>(out);
    add::<SafetyWarning>(out);
    add::<SafetyKind>(out);
    add::<EntryRequest>(out);
    add::<CheckResult>(out);
    add::<EntrySaved>(out);
    add::<DraftInfo>(out);
    add::<DraftSaved>(out);
    add::<EpisodeInfo>(out);
    add::<EpisodeKind>(out);
    add::<LastSave>(out);
    add::<BackupInfo>(out);
    add::<DowntimeStatus>(out);
    add::<HandoverAnswer>(out);
    add::<HandoverVitals>(out);
    add::<HandoverGiven>(out);
    add::<HandoverDue>(out);
    add::<HandoverNote>(out);
    add::<HandoverUnsigned>(out);
    add::<HandedOver>(out);
    add::<HandoverSheet>(out);
}

/// An active allergy, as the patient banner shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Allergy {
    pub substance: String,
    pub reaction: Option<String>,
    pub criticality: Option<String>,
}

/// A patient of the unit: what the list and the patient banner show, and what a response's subject needs.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PatientInfo {
    pub id: String,
    /// "FAMILY, Given" as wristbands show it.
    pub name: String,
    pub mrn: String,
    pub mrn_system: String,
    /// A downtime registration with a temporary MRN, not a census patient.
    pub temporary: bool,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
    pub allergies: Vec<Allergy>,
}

/// The unit's patients and the snapshot they come from.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Census {
    pub patients: Vec<PatientInfo>,
    /// When the EHR took the census snapshot (RFC 3339), if one was imported.
    pub snapshot_time: Option<String>,
}

/// A downtime registration of a patient not in the census; the core issues the temporary MRN.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    pub family: String,
    pub given: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
}

/// A loaded form: its canonical (`url|version`), its title, and the Questionnaire itself for the renderer.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FormInfo {
    pub canonical: String,
    pub title: String,
    /// No item of the form holds the clinical time: the form screen asks "When did this happen?" above it and sends
    /// the answer as `EntryRequest.clinicalTime` (the core decides, `Form::asks_clinical_time`).
    pub asks_clinical_time: bool,
    #[ts(type = "unknown")]
    pub questionnaire: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum EntryStatus {
    Draft,
    Signed,
    Amended,
    EnteredInError,
}

/// One entry in a list.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntrySummary {
    pub id: String,
    /// The form's canonical (`url|version`).
    pub form: String,
    pub status: EntryStatus,
    pub version: i32,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub clinical_time: Option<String>,
    pub medication: Option<String>,
    pub patient_mrn: String,
    pub patient_name: String,
}

/// One version of an entry; signed versions never change.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntryVersion {
    pub version: i32,
    /// What made this version: original, amendment or entered-in-error.
    pub kind: String,
    pub author: String,
    pub recorded_at: String,
    pub signed_at: Option<String>,
    pub signed_by: Option<String>,
    /// The amendment's or entered-in-error's reason.
    pub reason: Option<String>,
    pub allergy_override: Option<String>,
    /// The version's clinical time (from the form's item, or as given for a form that asks for it).
    pub clinical_time: Option<String>,
    #[ts(type = "unknown")]
    pub response: Value,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntryDetail {
    pub summary: EntrySummary,
    pub versions: Vec<EntryVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FindingSeverity {
    Error,
    Warning,
}

/// A validation finding, shown next to the field it names (or above the form when `linkId` is null).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub link_id: Option<String>,
    pub severity: FindingSeverity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SafetyKind {
    Allergy,
    PossibleDuplicate,
}

/// An allergy or possible-duplicate warning that needs the nurse's answer.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SafetyWarning {
    pub kind: SafetyKind,
    pub message: String,
    pub entry_id: Option<String>,
}

/// A response with the nurse's answers to the safety warnings; used to check, save, update and amend.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryRequest {
    #[ts(type = "unknown")]
    pub response: Value,
    /// Save and sign at once (new entries only).
    pub sign: bool,
    pub allergy_override: Option<String>,
    pub confirm_not_duplicate: bool,
    /// Why an amendment was made.
    pub reason: Option<String>,
    /// When it happened, for a form that asks for it (`FormInfo.asksClinicalTime`): a FHIR dateTime with seconds
    /// and an offset. Null for every other form, whose item holds the time.
    pub clinical_time: Option<String>,
}

/// What checking a response found, without saving anything.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub findings: Vec<Finding>,
    pub warnings: Vec<SafetyWarning>,
}

/// A durable save: returned only after the core's commit, with the time to show ("saved on this workstation at …").
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntrySaved {
    pub id: String,
    pub version: i32,
    pub status: EntryStatus,
    pub stored_at: String,
    pub warnings: Vec<SafetyWarning>,
}

/// One of the signed-in user's encrypted drafts. The body is whatever the UI saved (the open form's answers).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DraftInfo {
    pub id: String,
    pub updated_at: String,
    #[ts(type = "unknown")]
    pub body: Value,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DraftSaved {
    pub id: String,
    pub stored_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeKind {
    Real,
    Drill,
}

/// The open downtime episode, as the banner names it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeInfo {
    pub id: String,
    pub kind: EpisodeKind,
    pub started_at: String,
    pub started_by: String,
    /// P1 (worst) to P4, when the charge nurse gave one.
    pub severity: Option<String>,
    pub reason: Option<String>,
    /// The incident commander's name, once the charge nurse names one.
    pub commander: Option<String>,
    /// The clinical liaison's name, once named.
    pub liaison: Option<String>,
}

/// The outcome of the last save of this sign-in: durable (with its time) or failed.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct LastSave {
    pub durable: bool,
    pub stored_at: Option<String>,
}

/// The interim backup as the banner shows it (the app takes one every `backup_interval_hours` by itself).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BackupInfo {
    /// When the newest backup was written (RFC 3339), if there is one.
    pub last_at: Option<String>,
    /// The folder the newest backup is in.
    pub last_folder: Option<String>,
    /// Older than the interval, or none while the site names a backup folder.
    pub overdue: bool,
    /// A backup is being written now.
    pub running: bool,
    /// Why the last automatic backup failed, until one succeeds.
    pub failure: Option<String>,
    pub interval_hours: u32,
}

/// Everything the DOWNTIME banner shows, and the idle timeout the UI locks after.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DowntimeStatus {
    pub unit: Option<String>,
    pub episode: Option<EpisodeInfo>,
    pub snapshot_time: Option<String>,
    pub last_save: Option<LastSave>,
    pub backup: BackupInfo,
    /// The vault opened read-only: the UI says so and never offers to save.
    pub read_only: bool,
    /// Seconds without input before the screen locks (site configuration `idle_timeout_secs`; 0 turns it off).
    pub idle_timeout_secs: u32,
}

/// One answer of an entry on the handover sheet: the question's text and the answer in words.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverAnswer {
    pub label: String,
    pub value: String,
}

/// The newest signed vital signs of the episode.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverVitals {
    pub entry_id: String,
    pub at: String,
    pub author: String,
    pub values: Vec<HandoverAnswer>,
}

/// A dose given (or charted not given) since the last handover; no entry id for a dose from the census.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverGiven {
    pub medication: String,
    pub at: String,
    pub given: bool,
    pub reason: Option<String>,
    pub entry_id: Option<String>,
}

/// A dose due in the next 12 hours (or missed in the last 12), an as-needed order, or a "see order" order.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverDue {
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    pub at: Option<String>,
    /// `overdue`, `due`, `scheduled`, `prn` or `see-order`.
    pub status: String,
    pub timing: String,
    pub last_dose_at: Option<String>,
}

/// A signed entry since the last handover (not vitals or medication), its answers in words.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverNote {
    pub entry_id: String,
    pub form: String,
    pub at: String,
    pub author: String,
    pub text: String,
}

/// An entry of the patient still unsigned.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverUnsigned {
    pub entry_id: String,
    pub form: String,
    pub author: String,
    pub saved_at: String,
}

/// A recorded handover: when, and who handed over.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandedOver {
    pub at: String,
    pub by: String,
}

/// The shift handover sheet of one patient.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoverSheet {
    pub mrn: String,
    pub name: String,
    pub drill: bool,
    pub now: String,
    pub last_handover: Option<HandedOver>,
    /// What "since the last handover" counts from: the last handover, else the episode's start.
    pub since: String,
    pub due_until: String,
    pub vitals: Option<HandoverVitals>,
    pub given: Vec<HandoverGiven>,
    pub due: Vec<HandoverDue>,
    pub notes: Vec<HandoverNote>,
    pub unsigned: Vec<HandoverUnsigned>,
    /// Where the print button saves the sheet's PDF (the workstation's print folder).
    pub print_folder: String,
}
