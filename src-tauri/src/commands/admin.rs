//! The administrator's desk (issue 17 item 5): staff accounts (list, add with a one-time password, roster import
//! from a path, disable, unlock, reset to a one-time password), the census (the current snapshot and the files of the
//! site's `census_import_dir`, imported by name), the forms check, `verify` (recorded for readiness, as `dtk verify`
//! records it) and backups. Roles are checked in the core (`Op::ManageUsers`, `Op::UnlockUser`, `Op::ImportCensus`,
//! `Op::Configure`, `Op::Verify`, `Op::Backup`); the readiness report is `commands/readiness.rs`.
use super::{from_api, role, Shell};
use crate::dto::{
    BackupStatus, BackupWritten, CensusDesk, CensusFile, CensusImported, CensusSnapshot, CommandError, ErrorCode,
    FormsCheck, LoadedForm, NewAccountRequest, OneTimePassword, ReadinessLevel, RefusedForm, Role, RosterImported,
    StaffAccount, VerifyProblem, VerifyResult,
};
use dtk::api;
use dtk::auth::{Op, LOCK_AFTER_FAILURES};
use dtk::clock::SystemClock;
use std::path::{Path, PathBuf};

fn role_in(r: Role) -> dtk::auth::Role {
    match r {
        Role::Nurse => dtk::auth::Role::Nurse,
        Role::Charge => dtk::auth::Role::Charge,
        Role::Him => dtk::auth::Role::Him,
        Role::Admin => dtk::auth::Role::Admin,
    }
}

/// Every staff account of this workstation, as `dtk user list` lists them.
pub fn admin_users(shell: &Shell) -> Result<Vec<StaffAccount>, CommandError> {
    shell.signed_in(|ws, session| {
        // Locked as `dtk user list` says it: the failed sign-ins reached the lock, on a site whose accounts lock.
        let locks = ws.site().account_lockout.locks();
        Ok(ws
            .list_users(session)?
            .into_iter()
            .map(|u| StaffAccount {
                locked: locks && u.failed_sign_ins >= LOCK_AFTER_FAILURES,
                username: u.username,
                display_name: u.display_name,
                role: role(u.role),
                active: u.active,
                one_time_password_pending: u.must_change,
                emergency: u.emergency,
                expires_at: u.expires_at,
            })
            .collect())
    })
}

/// Adds an account with a one-time password, which the answer carries to show once.
pub fn admin_add_user(shell: &Shell, request: NewAccountRequest) -> Result<OneTimePassword, CommandError> {
    shell.signed_in(|ws, session| {
        let (info, password) = ws.add_user_with_one_time_password(
            session,
            request.username.trim(),
            request.display_name.trim(),
            role_in(request.role),
            &SystemClock,
        )?;
        Ok(OneTimePassword { username: info.username, role: role(info.role), password: password.expose().to_owned() })
    })
}

/// Imports a roster CSV from a path, as `dtk user import FILE` does: all or nothing, accounts already present left.
pub fn admin_import_roster(shell: &Shell, path: String) -> Result<RosterImported, CommandError> {
    shell.signed_in(|ws, session| {
        // Checked before the file is read, so a refused role learns nothing about the path.
        session.require(Op::ManageUsers)?;
        let csv = std::fs::read_to_string(Path::new(&path))
            .map_err(|e| api::ApiError::new(api::ErrorCode::Io, format!("reading the roster {path}: {e}")))?;
        let result = ws.import_roster(session, &csv, &SystemClock)?;
        Ok(RosterImported {
            created: result
                .created
                .into_iter()
                .map(|p| OneTimePassword { username: p.username, role: role(p.role), password: p.one_time_password })
                .collect(),
            skipped: result.skipped,
        })
    })
}

pub fn admin_disable_user(shell: &Shell, username: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, session| Ok(ws.disable_user(session, &username, &SystemClock)?))
}

/// Lifts the lock on an account locked after too many failed sign-ins (as `dtk user unlock`): its own password opens
/// it again. Who may is the core's decision (administrators; charge nurses too under the site's `account_lockout`).
pub fn admin_unlock_user(shell: &Shell, username: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, session| Ok(ws.unlock_user(session, &username, &SystemClock)?))
}

/// Replaces a user's password with a one-time password, shown once.
pub fn admin_reset_password(shell: &Shell, username: String) -> Result<OneTimePassword, CommandError> {
    shell.signed_in(|ws, session| {
        let (info, password) = ws.reset_to_one_time_password(session, &username, &SystemClock)?;
        Ok(OneTimePassword { username: info.username, role: role(info.role), password: password.expose().to_owned() })
    })
}

/// The forms this workstation loaded and those it refused with why, as `dtk forms list` shows them.
pub fn admin_forms_check(shell: &Shell) -> Result<FormsCheck, CommandError> {
    shell.signed_in(|ws, session| {
        session.require(Op::Configure)?;
        Ok(FormsCheck {
            loaded: ws
                .forms()
                .forms()
                .map(|f| LoadedForm { canonical: f.canonical(), title: f.title.clone() })
                .collect(),
            refused: ws
                .form_problems()
                .iter()
                .map(|p| RefusedForm { file: p.file.clone(), link_id: p.link_id.clone(), reason: p.reason.clone() })
                .collect(),
        })
    })
}

/// `dtk verify`: every ciphertext, user row and the audit chain; the result is recorded for readiness as the CLI
/// records it, and a failure to record it never hides the result.
pub fn admin_verify(shell: &Shell) -> Result<VerifyResult, CommandError> {
    shell.signed_in(|ws, session| {
        let problems = ws.verify(session)?;
        let record_failure = ws.record_verify(session, problems.len(), &SystemClock).err().map(|e| e.message);
        Ok(VerifyResult {
            intact: problems.is_empty(),
            problems: problems
                .into_iter()
                .map(|b| VerifyProblem { table: b.table, id: b.id, reason: b.reason })
                .collect(),
            record_failure,
        })
    })
}

pub fn admin_backup_status(shell: &Shell) -> Result<BackupStatus, CommandError> {
    shell.signed_in(|ws, session| {
        session.require(Op::Backup)?;
        let s = ws.backup_status(&SystemClock);
        Ok(BackupStatus {
            folder: s.folder.map(|f| f.display().to_string()),
            interval_hours: s.interval_hours,
            last_at: s.last_at,
            last_file: s.last_file.map(|f| f.display().to_string()),
            age_minutes: s.age_minutes,
            overdue: s.overdue,
            running: s.running,
            failure: s.failure,
        })
    })
}

/// `dtk backup`: a backup now into the site's `backup_dir`.
pub fn admin_backup_now(shell: &Shell) -> Result<BackupWritten, CommandError> {
    shell.signed_in(|ws, session| {
        let written = ws.backup(session, None, &SystemClock)?;
        Ok(BackupWritten { file: written.file.display().to_string(), at: written.at, bytes: written.bytes })
    })
}

/// The census panel: the current snapshot as readiness's `census` check sees it (when the EHR took it, its age
/// against the site's `census_max_age_hours`, its patients), and the files in the site's `census_import_dir`.
pub fn admin_census(shell: &Shell) -> Result<CensusDesk, CommandError> {
    shell.signed_in(|ws, session| {
        // Checked before the folder is listed, so a refused role learns nothing about it.
        session.require(Op::ImportCensus)?;
        let max_age_hours = ws.site().census_max_age_hours;
        let check = ws.readiness(&SystemClock).checks.into_iter().find(|c| c.name == "census");
        let (status, detail, snapshot) = match check {
            Some(c) => {
                let v = &c.values;
                let snapshot =
                    v["snapshot_time"].as_str().zip(v["patients"].as_i64()).map(|(taken, patients)| CensusSnapshot {
                        taken_at: taken.to_owned(),
                        age_hours: v["age_hours"].as_i64(),
                        max_age_hours,
                        patients,
                    });
                (super::readiness::level(c.status), c.detail, snapshot)
            }
            None => (ReadinessLevel::NotReady, "readiness has no census check".to_owned(), None),
        };
        let folder = ws.site().census_import_dir.clone();
        let (files, folder_problem) = match folder.as_deref().map(census_files) {
            None => (Vec::new(), None),
            Some(Ok(files)) => (files, None),
            Some(Err(problem)) => (Vec::new(), Some(problem)),
        };
        let folder = folder.map(|d| d.display().to_string());
        Ok(CensusDesk { snapshot, status, detail, folder, files, folder_problem })
    })
}

/// Imports one file of the census folder, named by its file name, through the core's census import (as `dtk census
/// import`): the snapshot is replaced, entries are never touched. Every error names the file.
pub fn admin_import_census(shell: &Shell, file: String) -> Result<CensusImported, CommandError> {
    shell.signed_in(|ws, session| {
        // Checked before the file is read, so a refused role learns nothing about the folder.
        session.require(Op::ImportCensus)?;
        let path = census_path(ws.site().census_import_dir.as_deref(), &file)?;
        let bytes = read_census(&path, &file)?;
        let summary = ws.import_census(session, &bytes, &SystemClock).map_err(|e| {
            let mut error = from_api(e);
            error.message = format!("{file}: {}", error.message);
            error
        })?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(CensusImported {
            patients: count(summary.patients),
            allergies: count(summary.allergies),
            medications: count(summary.medications),
            taken_at: summary.snapshot.snapshot_time,
            skipped: summary.skipped.iter().map(|(kind, n)| format!("{n} {kind}")).collect(),
            file,
        })
    })
}

/// The files of the census folder by name (hidden files left out), with their size and age; or why the folder
/// cannot be read, naming it.
fn census_files(dir: &Path) -> Result<Vec<CensusFile>, String> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("the census folder {} cannot be read: {e}", dir.display()))?;
    let now = std::time::SystemTime::now();
    let mut files: Vec<CensusFile> = listing
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str().filter(|n| !n.starts_with('.'))?.to_owned();
            // Followed through a symbolic link, as reading the file will be.
            let meta = std::fs::metadata(entry.path()).ok().filter(std::fs::Metadata::is_file)?;
            let age = meta.modified().ok().and_then(|at| now.duration_since(at).ok());
            Some(CensusFile { name, bytes: meta.len(), modified_minutes_ago: age.map(|a| a.as_secs() / 60) })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Where `name` is in the census folder. Only a bare file name of that folder is taken, so the panel can never make
/// the app read a file elsewhere.
fn census_path(folder: Option<&Path>, name: &str) -> Result<PathBuf, CommandError> {
    let folder = folder.ok_or_else(|| {
        CommandError::new(
            ErrorCode::InvalidInput,
            "the site names no census_import_dir: set it in site.json, or import with dtk census import FILE",
        )
    })?;
    let bare = !name.starts_with('.') && Path::new(name).file_name().is_some_and(|n| n == name);
    if !bare {
        let message = format!("'{name}' is not a file of the census folder {}", folder.display());
        return Err(CommandError::new(ErrorCode::InvalidInput, message));
    }
    Ok(folder.join(name))
}

/// Reads a census file, refusing one over the core's size limit for a census before reading it.
fn read_census(path: &Path, name: &str) -> Result<Vec<u8>, CommandError> {
    let unreadable = |e: std::io::Error| CommandError::new(ErrorCode::Io, format!("{name}: cannot be read: {e}"));
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(CommandError::new(ErrorCode::InvalidInput, format!("{name}: not a file")));
    }
    let limit = dtk::census::MAX_BYTES;
    if meta.len() > limit as u64 {
        let message = format!("{name}: larger than the {} MiB a census file may be", limit / (1024 * 1024));
        return Err(CommandError::new(ErrorCode::InvalidInput, message));
    }
    std::fs::read(path).map_err(unreadable)
}
