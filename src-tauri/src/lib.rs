//! Desktop shell: builds the Tauri app, registers the IPC commands and hands the vault folder to the core.
//!
//! Nothing here decides anything about patients, users or entries: commands convert DTOs, call `dtk::api`, and
//! convert the answer back. See ARCHITECTURE.md, "Desktop shell and UI".
pub mod commands;
pub mod dto;

use std::path::PathBuf;
use std::sync::Arc;

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
        .invoke_handler(tauri::generate_handler![
            commands::session::app_status,
            commands::session::set_up,
            commands::session::sign_in,
            commands::session::current_session,
            commands::session::sign_out,
            commands::him::him_keygen,
            commands::him::him_import_folder,
            commands::him::him_import_files,
            commands::him::him_worklist,
            commands::him::him_summary,
            commands::him::him_match,
            commands::him::him_accept,
            commands::him::him_accept_all_matched,
            commands::him::him_reject,
            commands::him::him_needs_correction,
            commands::him::him_mark_duplicate,
            commands::him::him_dismiss_duplicate,
            commands::him::him_duplicate_proposals,
            commands::him::him_side_by_side,
            commands::him::him_read_scan,
            commands::him::him_back_enter,
            commands::him::him_export_fhir,
            commands::him::him_latest_batch,
            commands::him::him_post_fhir,
            commands::him::him_report_csv,
            commands::him::him_report_pdf,
            commands::nurse::census,
            commands::nurse::find_patient,
            commands::nurse::register_patient,
            commands::nurse::forms,
            commands::nurse::patient_entries,
            commands::nurse::entry,
            commands::nurse::check_entry,
            commands::nurse::save_entry,
            commands::nurse::update_entry,
            commands::nurse::sign_entry,
            commands::nurse::amend_entry,
            commands::nurse::enter_in_error,
            commands::nurse::save_draft,
            commands::nurse::my_drafts,
            commands::nurse::discard_draft,
            commands::nurse::downtime_status,
            commands::charge::episode_status,
            commands::charge::episode_options,
            commands::charge::declare_episode,
            commands::charge::change_severity,
            commands::charge::end_episode,
            commands::charge::tick_step,
            commands::charge::untick_step,
            commands::charge::draft_status_update,
            commands::charge::save_status_update,
            commands::charge::episode_timeline,
            commands::charge::print_centre_info,
            commands::charge::printable_entries,
            commands::charge::print_document,
            commands::charge::open_pdf,
            commands::charge::print_pdf,
            commands::charge::add_emergency_user,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        // Nothing else can show this: the window never opened.
        eprintln!("Downtime Kit could not start: {error}");
        std::process::exit(1);
    }
}
