//! The administrator's desk (issue 17 item 5): staff accounts (list, add with a one-time password, roster import
//! from a path, disable, reset to a one-time password), the forms check, `verify` (recorded for readiness, as
//! `dtk verify` records it) and backups. Roles are checked in the core (`Op::ManageUsers`, `Op::Configure`,
//! `Op::Verify`, `Op::Backup`); the readiness report is `commands/readiness.rs`.
use super::{role, Shell};
use crate::dto::{
    BackupStatus, BackupWritten, CommandError, FormsCheck, LoadedForm, NewAccountRequest, OneTimePassword, RefusedForm,
    Role, RosterImported, StaffAccount, VerifyProblem, VerifyResult,
};
use dtk::api::{self, ErrorCode};
use dtk::auth::Op;
use dtk::clock::SystemClock;
use std::path::Path;

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
        Ok(ws
            .list_users(session)?
            .into_iter()
            .map(|u| StaffAccount {
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
            .map_err(|e| api::ApiError::new(ErrorCode::Io, format!("reading the roster {path}: {e}")))?;
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
