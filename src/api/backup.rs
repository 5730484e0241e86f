//! Interim backups and restore through the façade (issue 14, "a dead disk in week three"): `dtk backup` (charge
//! nurse, administrator), the app's automatic backup every `backup_interval_hours` while someone is signed in, the
//! status on the banner and in `dtk status`, and `dtk restore` of a backup into an empty folder with the recovery
//! key, checked like `dtk verify` before it is put in place. See ARCHITECTURE.md, "Interim backups".

use std::path::{Path, PathBuf};

use super::{check_vault, ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::backup::{self, BackupError, Job, Status, Written};
use crate::clock::{stamp, Clock};
use crate::crypto::RecoveryKey;
use crate::entries::{self, Status as EntryStatus};
use crate::vault::{copy, Vault, VaultError};

/// The audit actor of the app's automatic backups: nobody asked for them, so no person is named.
const AUTOMATIC: &str = "automatic-backup";
/// The audit actor of a restore: only the recovery key vouches for it.
const RECOVERY: &str = "recovery-key";
/// The folder inside the restore target where the copy is checked before it is moved into place.
const STAGING: &str = ".restoring";

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        let code = match &e {
            BackupError::NoFolder | BackupError::SeveralWorkstations { .. } | BackupError::NotEmpty(_) => {
                ErrorCode::InvalidInput
            }
            BackupError::FolderMissing(_) | BackupError::NoBackup(_) => ErrorCode::NotFound,
            BackupError::Write { .. } => ErrorCode::Io,
            BackupError::WrongKey => ErrorCode::BadCredentials,
            BackupError::Damaged { .. } => ErrorCode::Integrity,
            BackupError::Vault(v) => return ApiError::from(super::clone_vault_error(v)),
        };
        ApiError::new(code, e.to_string())
    }
}

/// What a restore brought back, for the person at the new workstation to compare with what they know.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restored {
    /// The backup file restored.
    pub from: PathBuf,
    /// When the backup was taken (from its name), if the name says.
    pub taken_at: Option<String>,
    /// The workstation the backup came from.
    pub from_workstation_id: String,
    /// The restored vault's own new workstation id (with a new handoff signing key): to HIM a restored PC is a new
    /// workstation whose files carry the original's entries, so a file the original wrote after the backup and the
    /// restored PC's files are both accepted, and nothing is imported twice.
    pub workstation_id: String,
    /// The last temporary MRN number the backup had issued, if any: the next `temp_mrns_skipped` numbers after it
    /// are skipped, since the original may have issued them after the backup.
    pub temp_mrn_last_issued: Option<i64>,
    pub temp_mrns_skipped: i64,
    pub unit: Option<String>,
    pub entries: usize,
    /// Signed or amended entries (each decrypted during the check).
    pub signed: usize,
    pub drafts: usize,
    pub entered_in_error: usize,
    /// The newest episode in the backup: id, kind, start, and whether it is still open.
    pub episode: Option<RestoredEpisode>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoredEpisode {
    pub id: String,
    pub kind: &'static str,
    pub started_at: String,
    pub open: bool,
}

impl Workstation {
    /// `dtk backup`: writes a backup now into `out` (else the site's `backup_dir`) and records it in the audit log.
    /// Charge nurses and administrators only: a backup is a copy of the whole vault leaving the workstation.
    pub fn backup(&mut self, session: &Session, out: Option<&Path>, clock: &dyn Clock) -> Result<Written, ApiError> {
        session.require(Op::Backup)?;
        let folder =
            out.map(Path::to_path_buf).or_else(|| self.site.backup_dir.clone()).ok_or(BackupError::NoFolder)?;
        let written = self.backup_job(folder, clock)?.run()?;
        self.record_backup(session, &written, false, clock)?;
        Ok(written)
    }

    /// The newest backup, its age, whether it is overdue, and the app's automatic backup (running, last failure).
    /// Needs no sign-in: it names files and times, never patient data.
    pub fn backup_status(&self, clock: &dyn Clock) -> Status {
        let newest = self.vault.as_ref().and_then(|v| crate::audit::newest(v.conn(), backup::WRITTEN).ok().flatten());
        Status::at(clock.now(), self.site.backup_dir.clone(), self.site.backup_interval_hours, newest, &self.backups)
    }

    /// The app's automatic backup, asked at every refresh of the banner while someone is signed in: records a backup
    /// that finished (or keeps its failure for the banner), and starts the next one on a thread of its own when one
    /// is due and the site names a `backup_dir`. It never fails: what went wrong is in the status, because a backup
    /// problem must never stop the nurse from charting.
    pub fn backup_tick(&mut self, session: &Session, clock: &dyn Clock) -> Status {
        self.automatic_backup(session, clock, false)
    }

    /// [`Workstation::backup_tick`] that first waits for a running backup to finish (tests, and closing the app).
    pub fn backup_wait(&mut self, session: &Session, clock: &dyn Clock) -> Status {
        self.automatic_backup(session, clock, true)
    }

    fn automatic_backup(&mut self, session: &Session, clock: &dyn Clock, wait: bool) -> Status {
        if let Some(outcome) = self.backups.finished(wait) {
            let recorded = outcome.map_err(|e| e.to_string()).and_then(|written| {
                self.record_backup(session, &written, true, clock)
                    .map_err(|e| format!("the backup was written, but recording it failed: {e}"))
            });
            self.backups.record(clock.now(), recorded);
        }
        let status = self.backup_status(clock);
        let last = status.last_at.as_deref().and_then(crate::clock::parse_stamp);
        let due = backup::due(last, self.backups.failed_at(), clock.now(), self.site.backup_interval_hours);
        match (&self.site.backup_dir, due && !self.backups.is_running() && !self.is_read_only()) {
            (Some(folder), true) => match self.backup_job(folder.clone(), clock) {
                Ok(job) => {
                    self.backups.start(job);
                    Status { running: true, ..status }
                }
                Err(_) => status,
            },
            _ => status,
        }
    }

    fn backup_job(&self, folder: PathBuf, clock: &dyn Clock) -> Result<Job, ApiError> {
        self.vault()?;
        Ok(Job { vault_dir: self.dir.clone(), folder, workstation_id: self.workstation_id(), at: clock.now() })
    }

    /// One audit row per backup: the file in the target (plaintext, so `dtk status` reads it without a key), the
    /// size and the older backups removed in the sealed detail.
    fn record_backup(
        &mut self,
        session: &Session,
        written: &Written,
        automatic: bool,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        let actor = if automatic { AUTOMATIC } else { session.username() };
        let target = format!("backup:{}", written.file.display());
        let detail = serde_json::json!({
            "bytes": written.bytes,
            "taken_at": written.at,
            "removed": written.removed,
            "automatic": automatic,
        });
        let vault = self.vault_mut()?;
        let _saved =
            vault.write(session.keys(), actor, clock.now(), |tx| tx.audit(backup::WRITTEN, &target, &detail))?;
        Ok(())
    }
}

/// `dtk restore`: the backup in `from` (a backup file, or the newest backup in a folder) into the empty vault folder
/// `into`, opened with the recovery key. The copy is checked in a folder of its own inside `into` (every ciphertext,
/// user row and the audit chain, as `dtk verify` does) and moved into place only when it passes; a wrong key, a
/// damaged backup or a folder that is not empty leaves `into` as it was.
pub fn restore(from: &Path, into: &Path, recovery_key: &str, clock: &dyn Clock) -> Result<Restored, ApiError> {
    let file = backup::choose(from)?;
    backup::check_empty(into, STAGING)?;
    let key = RecoveryKey::parse(recovery_key).map_err(|e| ApiError::new(ErrorCode::BadCredentials, e.to_string()))?;
    let staging = into.join(STAGING);
    let io = |e: std::io::Error| ApiError::from(VaultError::Io(e.to_string()));
    // A restore cut short earlier (a crash) leaves only this folder behind: it is ours to clear.
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io)?;
    }
    std::fs::create_dir_all(&staging).map_err(io)?;
    // Like a vault set up here: only this account may even list the folder (the data is encrypted anyway).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(into, std::fs::Permissions::from_mode(0o700));
    }
    let restored = check_in(&file, &staging, &key, clock)
        .and_then(|r| crate::durable::place(&Vault::path_in(&staging), &Vault::path_in(into)).map_err(io).map(|()| r));
    let _ = std::fs::remove_dir_all(&staging);
    restored
}

/// Copies the backup into `staging`, opens it with the recovery key, checks it and counts what it holds; records the
/// restore in its audit log and leaves it as one file (the log checkpointed), ready to be moved into place.
fn check_in(file: &Path, staging: &Path, key: &RecoveryKey, clock: &dyn Clock) -> Result<Restored, ApiError> {
    let damaged = |reason: String| ApiError::from(BackupError::Damaged { file: file.to_path_buf(), reason });
    crate::durable::copy(file, &Vault::path_in(staging)).map_err(|e| ApiError::from(VaultError::Io(e.to_string())))?;
    let mut vault = Vault::open(staging).map_err(|e| match e {
        VaultError::TooNew { .. } => ApiError::from(e),
        other => damaged(other.to_string()),
    })?;
    let (_dek, keys) = crate::keyring::open_with_recovery(vault.conn(), key)
        .map_err(|e| damaged(e.to_string()))?
        .ok_or(BackupError::WrongKey)?;
    let problems = check_vault(vault.conn(), &keys).map_err(|e| damaged(e.message))?;
    if let Some(first) = problems.first() {
        return Err(damaged(format!("{} problem(s) found, the first: {first}", problems.len())));
    }
    let list = entries::list(vault.conn(), &keys, &entries::Filter::default()).map_err(|e| damaged(e.to_string()))?;
    let count = |wanted: &[EntryStatus]| list.iter().filter(|e| wanted.contains(&e.status)).count();
    let episode = crate::episodes::list(vault.conn(), &keys)?.into_iter().next().map(|e| RestoredEpisode {
        open: e.is_open(),
        kind: e.kind.as_str(),
        id: e.id,
        started_at: e.started_at,
    });
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut restored = Restored {
        taken_at: backup::parse_name(&name).map(|(_, at)| stamp(at)),
        from: file.to_path_buf(),
        from_workstation_id: vault.meta_text(super::WORKSTATION_ID)?.unwrap_or_default(),
        workstation_id: String::new(),
        temp_mrn_last_issued: None,
        temp_mrns_skipped: crate::patients::SKIPPED_AFTER_RESTORE,
        unit: vault.meta_text("unit")?,
        entries: list.len(),
        signed: count(&[EntryStatus::Signed, EntryStatus::Amended]),
        drafts: count(&[EntryStatus::Draft]),
        entered_in_error: count(&[EntryStatus::EnteredInError]),
        episode,
    };
    let saved = vault.write(&keys, RECOVERY, clock.now(), |tx| -> Result<_, VaultError> {
        let workstation = tx.new_id().to_string();
        tx.update("meta", &[&super::WORKSTATION_ID], None, &[("value", &workstation.as_bytes())])?;
        let fingerprint = crate::handoff::renew_signing_key(tx)?;
        let last_issued = crate::patients::skip_after_restore(tx)?;
        let detail = serde_json::json!({
            "backup": name, "taken_at": restored.taken_at, "entries": restored.entries,
            "from_workstation": restored.from_workstation_id, "workstation": workstation,
            "signing_key": fingerprint, "temp_mrn_last_issued": last_issued,
            "temp_mrns_skipped": crate::patients::SKIPPED_AFTER_RESTORE,
        });
        tx.audit(backup::RESTORED, "vault", &detail)?;
        Ok((workstation, last_issued))
    })?;
    (restored.workstation_id, restored.temp_mrn_last_issued) = saved.into_value();
    copy::checkpoint(&vault)?;
    Ok(restored)
}
