//! Desktop shell: builds the Tauri app, registers the IPC commands and hands the vault folder to the core.
//!
//! Nothing here decides anything about patients, users or entries: commands convert DTOs, call `dtk::api`, and
//! convert the answer back. See ARCHITECTURE.md, "Desktop shell and UI".
//!
//! The list below is the whole IPC surface: it registers the commands and generates `commands.ts` for the UI.
pub mod commands;
pub mod dto;

use dto::*;
use std::path::PathBuf;
use std::sync::Arc;
use tauri::ipc::Channel;

/// Where the vault lives: `DTK_VAULT` when set (tests and IT use it), else the core's platform data folder, the same
/// one the `dtk` command line uses, so IT can administer the app's vault with `dtk` on the workstation.
pub fn vault_dir() -> PathBuf {
    match std::env::var_os("DTK_VAULT") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dtk::api::default_vault_dir(),
    }
}

pub fn run() {
    let result = tauri::Builder::default()
        .setup(|app| {
            use tauri::Manager;
            let dir = vault_dir();
            // The folder, not the vault: the core creates the vault at set-up, in a folder that must exist.
            std::fs::create_dir_all(&dir)?;
            app.manage(Arc::new(commands::Shell::open(&dir)));
            Ok(())
        })
        .invoke_handler(ipc::handler())
        .run(tauri::generate_context!());
    if let Err(error) = result {
        // Nothing else can show this: the window never opened.
        eprintln!("Downtime Kit could not start: {error}");
        std::process::exit(1);
    }
}

/// Every generated TypeScript file under `ui/src/lib/backend/generated/`, keyed by file name: the DTOs (ts-rs) and
/// the command table (`commands.ts`). `tests/boundary.rs` fails when the checked-in files differ.
pub fn bindings() -> Bindings {
    let mut out = dto::bindings();
    let table = commands::registry::typescript(&command_table(), &out);
    out.insert(commands::registry::FILE.to_owned(), table);
    out
}

// Every IPC command, in one list: `area::name(arguments) -> answer;` runs `commands::area::name(&Shell, arguments)`.
// Renaming a line renames the command for Tauri and, through the generated `commands.ts`, for `tauri.ts`.
commands::registry::ipc_commands! {
    session::app_status() -> AppStatus;
    session::startup_painted() -> ();
    session::set_up(request: SetupRequest) -> SetupResult;
    session::sign_in(request: SignInRequest) -> SessionInfo;
    session::current_session() -> Option<SessionInfo>;
    session::sign_out() -> ();
    session::password_rules() -> String;
    session::change_password(request: ChangePasswordRequest) -> SessionInfo;
    session::keep_alive() -> ();
    him::him_keygen() -> HimKey;
    him::him_import_folder() -> HandoffFolder;
    him::him_import_files(paths: Vec<String>) -> Vec<HandoffImportOutcome>;
    him_share::him_import_share(path: String) -> ShareImportResult;
    him::him_worklist(query: WorklistQuery) -> WorklistPage;
    him::him_summary() -> ReconSummary;
    him::him_match(entry_id: String, mrn: String) -> Vec<String>;
    him::him_accept(entry_ids: Vec<String>) -> u32;
    him::him_accept_all_matched() -> u32;
    him::him_reject(entry_id: String, reason: String) -> ();
    him::him_needs_correction(entry_id: String, reason: String) -> ();
    him::him_repost(entry_ids: Vec<String>, note: Option<String>) -> u32;
    him::him_entered_by_hand(entry_id: String, by: String, at: String, place: String) -> ();
    him::him_mark_duplicate(entry_id: String, of: String) -> ();
    him::him_dismiss_duplicate(entry_id: String, other: String, reason: String) -> ();
    him::him_duplicate_proposals() -> Vec<DuplicateProposal>;
    him::him_side_by_side(a: String, b: String) -> SideBySide;
    him::him_read_scan(path: String) -> PaperScan;
    him::him_episodes() -> Vec<PaperEpisode>;
    him::him_back_enter(request: PaperEntryRequest) -> PaperEntryOutcome;
    him::him_export_fhir(path: String) -> FhirBatch;
    him::him_latest_batch() -> Option<String>;
    him::him_fhir_servers() -> Vec<String>;
    him::him_post_fhir(batch_id: String, server: String, token: Option<String>) -> FhirPostReport;
    him::him_post_progress() -> FhirPostProgress;
    him::him_verify_fhir(batch_id: String, token: Option<String>) -> FhirReadback;
    him::him_report_csv(path: String) -> FileWritten;
    him::him_report_pdf(path: String) -> FileWritten;
    nurse::census() -> Census;
    nurse::find_patient(mrn: String) -> PatientInfo;
    nurse::register_patient(request: Registration) -> PatientInfo;
    nurse::forms() -> Vec<FormInfo>;
    nurse::patient_entries(mrn: String) -> Vec<EntrySummary>;
    nurse::patient_mar(mrn: String) -> MarView;
    nurse::entry(id: String) -> EntryDetail;
    nurse::check_entry(request: EntryRequest, entry_id: Option<String>) -> CheckResult;
    nurse::save_entry(request: EntryRequest) -> EntrySaved;
    nurse::update_entry(id: String, request: EntryRequest) -> EntrySaved;
    nurse::sign_entry(id: String, confirm_not_duplicate: bool) -> EntrySaved;
    nurse::amend_entry(id: String, request: EntryRequest) -> EntrySaved;
    nurse::enter_in_error(id: String, reason: String) -> EntrySaved;
    nurse::save_draft(id: Option<String>, body: serde_json::Value as "unknown") -> DraftSaved;
    nurse::my_drafts() -> Vec<DraftInfo>;
    nurse::discard_draft(id: String) -> ();
    nurse::downtime_status() -> DowntimeStatus;
    nurse::handover(mrn: String) -> HandoverSheet;
    nurse::record_handover(mrn: String) -> HandedOver;
    charge::episode_status() -> Option<EpisodeStatus>;
    charge::episode_options() -> EpisodeOptions;
    charge::unit_overdue() -> UnitOverdue;
    charge::declare_episode(request: DeclareEpisodeRequest) -> Option<EpisodeStatus>;
    charge::change_severity(severity: Severity, note: Option<String>) -> Option<EpisodeStatus>;
    charge::end_episode() -> EpisodeSummary;
    charge::tick_step(step: String, note: Option<String>) -> Option<EpisodeStatus>;
    charge::untick_step(step: String, reason: String) -> Option<EpisodeStatus>;
    charge::draft_status_update() -> String;
    charge::save_status_update(text: String, next_update_minutes: Option<u32>) -> Option<EpisodeStatus>;
    charge::record_decision(text: String) -> Option<EpisodeStatus>;
    charge::assign_role(role: IncidentRole, name: String) -> Option<EpisodeStatus>;
    charge::episode_timeline() -> EpisodeTimeline;
    scenario::drill_scenarios() -> ScenarioOptions;
    scenario::start_scenario_drill(file: String, next_update_minutes: Option<u32>) -> Option<EpisodeStatus>;
    scenario::drill_scenario() -> Option<DrillScenario>;
    scenario::acknowledge_inject(number: u32) -> Option<DrillScenario>;
    charge::print_centre_info() -> PrintCentreInfo;
    charge::printable_entries(mrn: String) -> Vec<EntryChoice>;
    charge::print_document(request: PrintRequest, on_progress: Channel<PrintProgress> as "Channel<PrintProgress>")
        -> Vec<SavedPdf>;
    charge::open_pdf(path: String) -> ();
    charge::print_pdf(path: String) -> String;
    charge::add_emergency_user(request: EmergencyUserRequest) -> EmergencyUserCreated;
    charge::handoff_info() -> HandoffInfo;
    charge::export_handoff(request: HandoffExportRequest) -> HandoffExported;
    review::episode_reviews() -> Vec<EpisodeReview>;
    review::save_review(request: ReviewRequest) -> EpisodeReview;
    escalation::escalation_status() -> EscalationStatus;
    escalation::record_contact(contact: String, acknowledged: bool) -> EscalationStatus;
    readiness::readiness() -> ReadinessReport;
    unit::unit_share() -> UnitShare;
    unit::unit_sync() -> UnitSynced;
    unit::unit_overview() -> UnitOverview;
    admin::admin_users() -> Vec<StaffAccount>;
    admin::admin_add_user(request: NewAccountRequest) -> OneTimePassword;
    admin::admin_import_roster(path: String) -> RosterImported;
    admin::admin_disable_user(username: String) -> ();
    admin::admin_unlock_user(username: String) -> ();
    admin::admin_reset_password(username: String) -> OneTimePassword;
    admin::admin_census() -> CensusDesk;
    admin::admin_import_census(file: String) -> CensusImported;
    admin::admin_forms_check() -> FormsCheck;
    admin::admin_verify() -> VerifyResult;
    admin::admin_backup_status() -> BackupStatus;
    admin::admin_backup_now() -> BackupWritten;
}
