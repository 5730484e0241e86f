//! Desktop shell: builds the Tauri app, registers the IPC commands and hands the vault folder to the core.
//!
//! Nothing here decides anything about patients, users or entries: commands convert DTOs, call `dtk::api`, and
//! convert the answer back. See ARCHITECTURE.md, "Desktop shell".
pub mod dto;

use std::path::PathBuf;
use tauri::Manager;

/// Where the vault lives: `DTK_VAULT` when set (tests and IT use it), else the platform's data folder for the app
/// (for example `~/.local/share/org.downtimekit.app` on Linux, `%APPDATA%\org.downtimekit.app` on Windows).
pub fn vault_dir(app: &tauri::App) -> Result<PathBuf, tauri::Error> {
    match std::env::var_os("DTK_VAULT") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => app.path().app_data_dir(),
    }
}

pub fn run() {
    let result = tauri::Builder::default()
        .setup(|app| {
            let dir = vault_dir(app)?;
            std::fs::create_dir_all(&dir)?;
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        // Nothing else can show this: the window never opened.
        eprintln!("Downtime Kit could not start: {error}");
        std::process::exit(1);
    }
}
