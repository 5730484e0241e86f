//! The DTOs of the HIM desk: the station's handoff key, importing handoff files, the reconciliation worklist and its
//! decisions, paper back-entry, FHIR export and posting, the reconciliation report.
use super::{add, Bindings, CommandError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<HimKey>(out);
    add::<HandoffFile>(out);
    add::<HandoffFolder>(out);
    add::<ShareCopy>(out);
    add::<ShareOnlyLine>(out);
    add::<ShareImportedLine>(out);
    add::<ShareImportResult>(out);
    add::<HandoffConflict>(out);
    add::<HandoffImported>(out);
    add::<HandoffImportOutcome>(out);
    add::<ReconState>(out);
    add::<WorklistQuery>(out);
    add::<WorklistItem>(out);
    add::<WorklistPage>(out);
    add::<ReconSummary>(out);
    add::<DuplicateProposal>(out);
    add::<AnswerLine>(out);
    add::<EntryCard>(out);
    add::<SideBySide>(out);
    add::<PaperScan>(out);
    add::<PaperDose>(out);
    add::<PaperPeriod>(out);
    add::<PaperEpisode>(out);
    add::<PaperEntryRequest>(out);
    add::<PaperEntered>(out);
    add::<PaperPageEntered>(out);
    add::<PaperEntryOutcome>(out);
    add::<FhirBatch>(out);
    add::<PostedLine>(out);
    add::<FhirPostReport>(out);
    add::<FhirPostProgress>(out);
    add::<ReadbackProblem>(out);
    add::<TypeCount>(out);
    add::<FhirReadback>(out);
    add::<FileWritten>(out);
}

/// The HIM station's handoff key, for `him_public_key` in every workstation's site configuration.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HimKey {
    pub public_key: String,
    pub fingerprint: String,
    /// False when the station already had its key (it is never replaced).
    pub created: bool,
}

/// A handoff file found in the site's import folder.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffFile {
    pub name: String,
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// The site's handoff import folder (`handoff_import_dir`), the files and unit share copies in it, and the
/// workstations whose entries came only through a unit share.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffFolder {
    /// None when the site configuration names no folder.
    pub dir: Option<String>,
    pub files: Vec<HandoffFile>,
    pub shares: Vec<ShareCopy>,
    pub share_only: Vec<ShareOnlyLine>,
}

/// A folder of the import folder holding a unit share's copy (workstation folders with segments).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShareCopy {
    pub name: String,
    pub path: String,
    pub workstations: u32,
    pub segments: u32,
}

/// A workstation whose entries reached HIM only through a unit share: no handoff file of it for their episodes.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShareOnlyLine {
    pub workstation: String,
    pub label: String,
    pub entries: u32,
    pub newest_segment: u32,
    /// When the workstation wrote its newest segment, by its clock.
    pub newest_written_at: String,
    /// What it said its authors left unsigned.
    pub unsigned: u32,
    /// The whole sentence, with what to do.
    pub message: String,
}

/// What one workstation's new segments added.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShareImportedLine {
    pub workstation: String,
    pub label: String,
    pub segments: u32,
    pub new_entries: u32,
    pub new_versions: u32,
    pub unchanged_versions: u32,
    pub new_patients: u32,
    pub pending: u32,
    pub duplicate_proposals: u32,
    pub drill_entries: u32,
    /// "entry-id v2": same version, other content; not merged.
    pub conflicts: Vec<String>,
}

/// Importing a unit share's copy: per workstation, and every segment refused or waiting, named.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ShareImportResult {
    pub dir: String,
    pub workstations: Vec<ShareImportedLine>,
    pub problems: Vec<String>,
}

/// The same entry version arrived with different content: surfaced, never merged.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffConflict {
    pub entry_id: String,
    pub version: i32,
}

/// What importing one file added.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffImported {
    pub workstation: String,
    pub episode: String,
    #[ts(type = "number")]
    pub sequence: u64,
    pub file_sha256: String,
    pub signer_fingerprint: String,
    /// This exact file had been imported before: nothing was added.
    pub already_imported: bool,
    pub new_entries: u32,
    pub new_versions: u32,
    pub unchanged_versions: u32,
    pub new_patients: u32,
    pub new_audit_rows: u32,
    pub conflicts: Vec<HandoffConflict>,
    pub pending: u32,
    pub duplicate_proposals: u32,
    /// What the file says its workstation left unsigned, per author; `None` when the file does not say (written by
    /// an older Downtime Kit).
    pub unsigned_left: Option<Vec<super::UserCount>>,
    /// The workstations this one was restored from (a dead PC's backup), as its audit log records: their entries
    /// came in this file too, and those already here were recognised.
    pub restored_from: Vec<String>,
}

/// One file's result: imported (possibly already present) or refused with the reason.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HandoffImportOutcome {
    pub path: String,
    pub imported: Option<HandoffImported>,
    pub refused: Option<CommandError>,
}

/// Where an entry is on the worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ReconState {
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
    /// Entered by hand in the EHR after a refusal: closed.
    EnteredByHand,
}

/// The worklist's filters and page.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorklistQuery {
    pub state: Option<ReconState>,
    /// The patient's MRN (temporary or real).
    pub mrn: Option<String>,
    /// A form's canonical url|version or its short name.
    pub form: Option<String>,
    pub workstation: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One worklist row, with the last decision's who, when and why.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WorklistItem {
    pub entry_id: String,
    pub state: ReconState,
    pub duplicate_of: Option<String>,
    pub batch_id: Option<String>,
    pub reason: Option<String>,
    pub workstation: String,
    pub episode_id: String,
    /// Transcribed from a paper form by HIM.
    pub paper: bool,
    pub form: String,
    /// The entry's own status: signed, amended, entered-in-error.
    pub entry_status: String,
    pub version: i32,
    /// The nurse who charted it (for paper, the nurse named on the form).
    pub author: String,
    pub patient_name: String,
    pub birth_date: Option<String>,
    pub mrn: String,
    pub location: Option<String>,
    /// The real MRN a downtime registration was matched to.
    pub matched_mrn: Option<String>,
    pub clinical_time: Option<String>,
    pub medication: Option<String>,
    /// For an entry from paper: the page it came from ("from paper, page …").
    pub paper_page: Option<String>,
    pub proposed_duplicates: Vec<String>,
    pub decided_by: String,
    pub decided_at: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WorklistPage {
    pub total: u32,
    pub offset: u32,
    pub items: Vec<WorklistItem>,
}

/// Counts per state, and what is still open.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReconSummary {
    pub total: u32,
    pub pending: u32,
    pub matched: u32,
    pub accepted: u32,
    pub duplicate: u32,
    pub rejected: u32,
    pub needs_correction: u32,
    pub exported: u32,
    pub posted: u32,
    /// Refused by the EHR and still waiting for a decision (counted in `open`).
    pub refused: u32,
    pub entered_by_hand: u32,
    /// Entries without a final disposition yet (refused ones included).
    pub open: u32,
    pub open_duplicate_proposals: u32,
    pub conflicts: u32,
    /// What "accept all matched" would accept now.
    pub acceptable: u32,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateProposal {
    pub entry_id: String,
    pub other_id: String,
    /// proposed, confirmed or dismissed.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AnswerLine {
    pub link_id: String,
    pub text: String,
}

/// One side of the side-by-side view.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EntryCard {
    pub entry_id: String,
    pub workstation: String,
    pub paper: bool,
    pub author: String,
    pub form: String,
    pub entry_status: String,
    pub version: i32,
    pub state: ReconState,
    pub recorded_at: String,
    pub clinical_time: Option<String>,
    pub patient_name: String,
    pub birth_date: Option<String>,
    pub mrn: String,
    pub medication: Option<String>,
    pub answers: Vec<AnswerLine>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SideBySide {
    pub left: EntryCard,
    pub right: EntryCard,
    /// The linkIds whose answers differ.
    pub differences: Vec<String>,
}

/// What a scanned paper page's QR code says, for the analyst to confirm.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaperScan {
    /// The QR text itself, passed back unchanged with the answers.
    pub qr: String,
    pub form: String,
    /// The form's title when this station has the form loaded.
    pub form_title: Option<String>,
    pub mrn: Option<String>,
    pub episode: Option<String>,
    /// The electronic entry the page was printed from, if it was a printed entry.
    pub entry: Option<String>,
    /// The unit the page was printed for, when its code says (the unit a paper-only episode would be for).
    pub unit: Option<String>,
    /// A downtime MAR page: entered dose by dose, not as a form.
    pub mar: bool,
}

/// One initialled dose read from a downtime MAR page; each becomes its own medication-administration entry.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaperDose {
    pub medication: String,
    /// The dose with its unit, such as "2 mg".
    pub dose: String,
    pub route: String,
    /// When it was given, RFC 3339 with its offset.
    pub time: String,
    pub initials: String,
    /// The nurse's printed name from the page's initials legend, when readable.
    #[ts(optional)]
    pub name: Option<String>,
}

/// The period a paper-only episode covers (RFC 3339).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaperPeriod {
    pub start: String,
    pub end: String,
}

/// An episode on this station a page can be put into.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaperEpisode {
    pub id: String,
    pub unit: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Created by HIM for paper alone.
    pub paper_only: bool,
}

/// A paper page back-entered by the analyst: a form's answers with the nurse named on the paper as author, or a MAR
/// page's doses; into the page's own episode, an episode of its unit (`episode`), or a new paper-only episode for
/// `paper_episode_unit` when the page's episode is missing or it names none.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaperEntryRequest {
    pub qr: String,
    /// A form page: the QuestionnaireResponse the analyst filled in.
    #[ts(type = "unknown")]
    #[serde(default)]
    pub response: Option<serde_json::Value>,
    /// A form page: the nurse named on the paper.
    #[ts(optional)]
    pub author: Option<String>,
    /// A form page of a form that asks "When did this happen?" (`FormInfo.asksClinicalTime`): the time written in
    /// that box, a FHIR dateTime with seconds and an offset.
    #[ts(optional)]
    pub clinical_time: Option<String>,
    /// A MAR page: the initialled doses read from it, in order.
    #[ts(optional)]
    pub doses: Option<Vec<PaperDose>>,
    /// Put the page into this episode of the station (one of the page's unit).
    #[ts(optional)]
    pub episode: Option<String>,
    /// Create a paper-only episode for this unit and put the page into it.
    #[ts(optional)]
    pub paper_episode_unit: Option<String>,
    /// With `paper_episode_unit`: the period the paper covers (default: from when the page was printed to now).
    #[ts(optional)]
    pub period: Option<PaperPeriod>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaperEntered {
    pub entry_id: String,
    pub version: i32,
    pub stored_at: String,
}

/// Everything one back-entered page created.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaperPageEntered {
    /// One entry for a form, one per dose for a MAR page, in order.
    pub entries: Vec<PaperEntered>,
    /// The episode the entries are in.
    pub episode_id: String,
    /// The paper-only episode created for the page, if one was asked for.
    pub paper_episode: Option<PaperEpisode>,
    /// The page's identity, as the worklist shows it ("from paper, page …").
    pub page: String,
}

/// What a back-entry came to: the entry stored, or the core's findings by linkId when it refused the answers (the
/// analyst corrects them beside each field and submits again).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PaperEntryOutcome {
    pub entered: Option<PaperPageEntered>,
    pub findings: Vec<super::Finding>,
}

/// A FHIR export batch written to a file.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FhirBatch {
    pub batch_id: String,
    pub entries: u32,
    pub sha256: String,
    #[ts(type = "number")]
    pub bytes: u64,
    pub path: String,
}

/// One entry's posting result: the server's location, or its OperationOutcome text.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PostedLine {
    pub entry_id: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FhirPostReport {
    pub batch_id: String,
    pub server: String,
    pub posted: Vec<PostedLine>,
    pub failed: Vec<PostedLine>,
    pub already_posted: u32,
}

/// How far the running post has come (polled by the desk while `him_post_fhir` runs): entries sent, accepted by
/// the server, refused, and not yet answered.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FhirPostProgress {
    pub running: bool,
    pub sent: u32,
    pub accepted: u32,
    pub refused: u32,
    pub remaining: u32,
}

/// One resource of a posted entry that the read-back did not find on the server exactly once.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadbackProblem {
    pub entry_id: String,
    /// `missing` or `duplicated`.
    pub state: String,
    /// "QuestionnaireResponse urn:uuid:… is missing" (type and identifier, never patient data).
    pub text: String,
}

/// How many resources of one type the read-back found on the server.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TypeCount {
    pub resource_type: String,
    pub count: u32,
}

/// What "Verify in the EHR" found when it read a posted batch back from the server it was posted to.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FhirReadback {
    pub batch_id: String,
    pub server: String,
    /// Posted entries read back, and those whose every resource is there exactly once.
    pub entries: u32,
    pub verified: u32,
    /// Resources of the batch found on the server.
    pub resources: u32,
    /// Per type, copies included: the same figures after a second post prove it created nothing.
    pub found_per_type: Vec<TypeCount>,
    /// How many times the batch's AuditEvent is there (1 when all is well).
    pub audit_event: u32,
    /// False for a server that takes no AuditEvent from a client: the post left it out and it is not looked for.
    pub audit_event_expected: bool,
    /// Entries of the batch not posted (refused or not sent), not read back.
    pub not_posted: u32,
    pub problems: Vec<ReadbackProblem>,
    /// Every resource of every posted entry, and the AuditEvent, is there exactly once.
    pub all_present: bool,
}

/// A report written to a file, with its SHA-256.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileWritten {
    pub path: String,
    pub sha256: String,
    #[ts(type = "number")]
    pub bytes: u64,
}
