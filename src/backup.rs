//! Interim backups during a long outage (issue 14, "a dead disk in week three"): when one is due, the file names
//! that carry the workstation and the time, taking one (a consistent copy of the vault, synced and renamed into place
//! so a half-written backup never replaces a good one), keeping the newest [`KEEP`], choosing the one to restore,
//! and the status the banner and `dtk status` show. Time comes in; the copy itself is `vault::copy`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, TryRecvError};

use time::{Duration, OffsetDateTime};

use crate::vault::VaultError;

/// Backups of one workstation kept in the backup folder: the newest three (12 hours at the default interval), so a
/// backup taken of an already damaged vault, or one cut short on the stick, still leaves an older good one.
pub const KEEP: usize = 3;
/// After an automatic backup failed (the stick unplugged, full), the app tries again no sooner than this, so a full
/// stick is not written to its end every 30 seconds.
pub const RETRY_AFTER_FAILURE: Duration = Duration::minutes(15);
/// The audit action of a backup written; its target is `backup:<the file>` (plaintext, no patient data).
pub const WRITTEN: &str = "backup.written";
/// The audit action of a vault restored from a backup (the first row the restored vault gets).
pub const RESTORED: &str = "vault.restored";
/// Backup files are `dtk-backup-<first 8 characters of the workstation id>-<UTC time>.dtkbackup`.
const PREFIX: &str = "dtk-backup-";
const EXTENSION: &str = ".dtkbackup";
const TIME_FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// Why a backup could not be taken or restored. No variant carries patient data: folders, files and counts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Neither `--out` nor the site's `backup_dir` names a folder.
    #[error("no backup folder: give --out DIR, or set backup_dir in the site configuration")]
    NoFolder,
    /// The folder is not there: a stick not plugged in, a share not mounted. It is never created on the local disk.
    #[error("the backup folder {0} is not there (is the USB stick plugged in, the share mounted?)")]
    FolderMissing(PathBuf),
    /// Writing the copy failed; earlier backups in the folder are untouched.
    #[error("the backup to {folder} could not be written ({reason}); earlier backups there are untouched")]
    Write { folder: PathBuf, reason: String },
    /// No backup file in the folder given to restore from.
    #[error("{0} holds no Downtime Kit backup (dtk-backup-….dtkbackup)")]
    NoBackup(PathBuf),
    /// The folder holds backups of more than one workstation: which one is meant must be said.
    #[error("{folder} holds backups of {count} workstations ({ids}); give the backup file itself with --from FILE")]
    SeveralWorkstations { folder: PathBuf, count: usize, ids: String },
    /// The restore target already holds files.
    #[error("{0} is not empty: restore only into an empty vault folder on the new workstation")]
    NotEmpty(PathBuf),
    /// The recovery key does not unwrap this backup's data key.
    #[error(
        "the recovery key does not open this backup (it must be the key printed when this workstation was set up)"
    )]
    WrongKey,
    /// The backup fails its checks: nothing was restored.
    #[error("the backup {file} is damaged ({reason}); nothing was restored: try an older backup")]
    Damaged { file: PathBuf, reason: String },
    /// The vault could not be read or written.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The name of a backup of workstation `workstation_id` taken at `at`: the time sorts as text, and the workstation
/// keeps backups of several workstations in one shared folder apart.
pub fn file_name(workstation_id: &str, at: OffsetDateTime) -> String {
    let short: String = workstation_id.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
    let when = at.to_offset(time::UtcOffset::UTC).format(TIME_FORMAT).unwrap_or_default();
    format!("{PREFIX}{short}-{when}{EXTENSION}")
}

/// The workstation (short id) and time of a backup file name, or `None` for any other file (temporary files start
/// with a dot and never match).
pub fn parse_name(name: &str) -> Option<(String, OffsetDateTime)> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(EXTENSION)?;
    let (workstation, when) = rest.split_once('-')?;
    let at = time::PrimitiveDateTime::parse(when, TIME_FORMAT).ok()?.assume_utc();
    Some((workstation.to_string(), at))
}

/// Whether an automatic backup is due: none yet, or the newest is `interval_hours` old; never within
/// [`RETRY_AFTER_FAILURE`] of a failed attempt.
pub fn due(
    last: Option<OffsetDateTime>,
    failed_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    interval_hours: u32,
) -> bool {
    if failed_at.is_some_and(|f| now - f < RETRY_AFTER_FAILURE) {
        return false;
    }
    last.is_none_or(|t| now - t >= Duration::hours(i64::from(interval_hours)))
}

/// What the banner and `dtk status` show about backups.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    /// The site's `backup_dir`, where the app takes backups by itself.
    pub folder: Option<PathBuf>,
    pub interval_hours: u32,
    /// The newest backup written (by the app or `dtk backup`): when, and which file.
    pub last_at: Option<String>,
    pub last_file: Option<PathBuf>,
    /// Whole minutes since the newest backup.
    pub age_minutes: Option<i64>,
    /// The newest backup is older than the interval, or there is none while the site names a backup folder.
    pub overdue: bool,
    /// An automatic backup is being written now.
    pub running: bool,
    /// Why the last automatic backup failed, until one succeeds.
    pub failure: Option<String>,
}

impl Status {
    /// The status at `now` from the newest backup row (`at`, `target` of the audit row) and the app's own state.
    pub fn at(
        now: OffsetDateTime,
        folder: Option<PathBuf>,
        interval_hours: u32,
        newest: Option<(String, String)>,
        auto: &Automatic,
    ) -> Status {
        let (last_at, last_file) = match newest {
            Some((at, target)) => (Some(at), target.strip_prefix("backup:").map(PathBuf::from)),
            None => (None, None),
        };
        let age = last_at.as_deref().and_then(crate::clock::parse_stamp).map(|t| now - t);
        let overdue = match age {
            Some(age) => age > Duration::hours(i64::from(interval_hours)),
            None => folder.is_some(),
        };
        Status {
            folder,
            interval_hours,
            last_at,
            last_file,
            age_minutes: age.map(|a| a.whole_minutes().max(0)),
            overdue,
            running: auto.running.is_some(),
            failure: auto.failure.as_ref().map(|(_, why)| why.clone()),
        }
    }

    /// One line for people: "last backup: 2 h ago to /media/usb" or "no backup yet", then what is wrong, if anything.
    pub fn describe(&self) -> String {
        let mut text = match (self.age_minutes, &self.last_file) {
            (Some(minutes), file) => {
                let folder = file.as_deref().and_then(Path::parent).map(|d| format!(" to {}", d.display()));
                format!("last backup: {} ago{}", age_words(minutes), folder.unwrap_or_default())
            }
            (None, _) => "no backup yet".to_string(),
        };
        if self.overdue {
            text.push_str(&format!("; OVERDUE: backups are due every {} h", self.interval_hours));
            if self.folder.is_none() {
                text.push_str(" (no backup_dir in the site configuration: the charge nurse runs dtk backup --out DIR)");
            }
        }
        if self.running {
            text.push_str("; a backup is being written now");
        }
        if let Some(why) = &self.failure {
            text.push_str(&format!("; the last automatic backup FAILED: {why}"));
        }
        text
    }
}

/// "25 min", "2 h", "3 d": whole units, rounded down, as a person reads a banner.
pub fn age_words(minutes: i64) -> String {
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h", m / 60),
        m => format!("{} d", m / (24 * 60)),
    }
}

/// A backup written: the file, when, and the older backups removed to keep [`KEEP`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    pub file: PathBuf,
    pub at: String,
    pub bytes: u64,
    pub removed: Vec<PathBuf>,
}

/// One backup to take: which vault, into which folder, named for which workstation and time. Needs no key and no
/// open vault, so the app runs it on a thread of its own while the nurse goes on charting.
#[derive(Debug, Clone)]
pub struct Job {
    pub vault_dir: PathBuf,
    pub folder: PathBuf,
    pub workstation_id: String,
    pub at: OffsetDateTime,
}

impl Job {
    /// Copies the vault to a temporary file in the folder, syncs it, renames it to its timestamped name, and only
    /// then removes all but the newest [`KEEP`] backups of this workstation.
    pub fn run(&self) -> Result<Written, BackupError> {
        if !self.folder.is_dir() {
            return Err(BackupError::FolderMissing(self.folder.clone()));
        }
        let failed = |reason: String| BackupError::Write { folder: self.folder.clone(), reason };
        let name = file_name(&self.workstation_id, self.at);
        let target = self.folder.join(&name);
        let tmp = crate::durable::temp_beside(&target);
        if let Err(e) = crate::vault::copy::snapshot(&self.vault_dir, &tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(match e {
                VaultError::Full => failed("the backup folder is full".into()),
                other => failed(other.to_string()),
            });
        }
        // SQLite created the copy with the default permissions: on a share, only this account may read it (on a
        // USB stick's FAT file system there are no permissions; the vault's own encryption is what protects it).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
        }
        crate::durable::place_written(&tmp, &target).map_err(|e| failed(e.to_string()))?;
        let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        let removed = self.prune(&name);
        Ok(Written { file: target, at: crate::clock::stamp(self.at), bytes, removed })
    }

    /// Removes this workstation's backups older than the newest [`KEEP`]; the one just written is never removed.
    /// A backup that cannot be removed stays (a full folder shows at the next backup).
    fn prune(&self, written: &str) -> Vec<PathBuf> {
        let Some((mine, _)) = parse_name(written) else { return Vec::new() };
        let mut names: Vec<String> =
            backup_names(&self.folder).into_iter().filter(|n| parse_name(n).is_some_and(|(w, _)| w == mine)).collect();
        names.sort();
        let surplus = names.len().saturating_sub(KEEP);
        names
            .into_iter()
            .take(surplus)
            .filter(|n| n != written)
            .map(|n| self.folder.join(n))
            .filter(|p| std::fs::remove_file(p).is_ok())
            .collect()
    }
}

/// The names of the backup files in a folder (any other file is ignored).
fn backup_names(folder: &Path) -> Vec<String> {
    let Ok(list) = std::fs::read_dir(folder) else { return Vec::new() };
    list.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| parse_name(n).is_some()).collect()
}

/// The backup to restore from `from`: the file itself, or the newest backup in the folder when it holds backups of
/// one workstation only.
pub fn choose(from: &Path) -> Result<PathBuf, BackupError> {
    if from.is_file() {
        return Ok(from.to_path_buf());
    }
    let mut names = backup_names(from);
    names.sort();
    let workstations: std::collections::BTreeSet<String> =
        names.iter().filter_map(|n| parse_name(n).map(|(w, _)| w)).collect();
    match (names.last(), workstations.len()) {
        (None, _) => Err(BackupError::NoBackup(from.to_path_buf())),
        (Some(newest), 1) => Ok(from.join(newest)),
        (Some(_), count) => Err(BackupError::SeveralWorkstations {
            folder: from.to_path_buf(),
            count,
            ids: workstations.into_iter().collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Refuses a restore target that holds anything but the site configuration IT may have put there first, and
/// `staging`, the folder a restore cut short left behind.
pub fn check_empty(dir: &Path, staging: &str) -> Result<(), BackupError> {
    let Ok(list) = std::fs::read_dir(dir) else { return Ok(()) };
    let occupied =
        list.filter_map(Result::ok).any(|e| e.file_name() != crate::site::FILE_NAME && e.file_name() != staging);
    if occupied {
        Err(BackupError::NotEmpty(dir.to_path_buf()))
    } else {
        Ok(())
    }
}

/// The app's automatic backups: the one being written on its own thread, and the last failure (shown on the banner
/// until a backup succeeds). Held by the workstation, so the desktop shell only asks it at each banner refresh.
#[derive(Default)]
pub struct Automatic {
    running: Option<Receiver<Result<Written, BackupError>>>,
    failure: Option<(OffsetDateTime, String)>,
}

impl Automatic {
    /// Starts `job` on a thread of its own.
    pub fn start(&mut self, job: Job) {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            // The receiver is gone only when the workstation was closed: nobody is left to tell.
            let _ = send.send(job.run());
        });
        self.running = Some(receive);
    }

    /// The outcome of the running backup once it has finished (waiting for it with `wait`), else `None`.
    pub fn finished(&mut self, wait: bool) -> Option<Result<Written, BackupError>> {
        let receive = self.running.as_ref()?;
        let outcome = if wait { receive.recv().map_err(|_| TryRecvError::Disconnected) } else { receive.try_recv() };
        match outcome {
            Err(TryRecvError::Empty) => None,
            Ok(done) => {
                self.running = None;
                Some(done)
            }
            Err(TryRecvError::Disconnected) => {
                self.running = None;
                Some(Err(BackupError::Write {
                    folder: PathBuf::new(),
                    reason: "the backup stopped unexpectedly".into(),
                }))
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// When the last automatic backup failed, if it did.
    pub fn failed_at(&self) -> Option<OffsetDateTime> {
        self.failure.as_ref().map(|(at, _)| *at)
    }

    /// Records the outcome of an automatic backup: a failure is kept for the banner, a success clears it.
    pub fn record(&mut self, at: OffsetDateTime, outcome: Result<(), String>) {
        self.failure = outcome.err().map(|why| (at, why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_backup_is_due_every_interval_and_not_again_soon_after_a_failure() {
        let t0 = datetime!(2026-12-01 08:00 UTC);
        assert!(due(None, None, t0, 4), "the first backup is due at once");
        assert!(!due(Some(t0), None, t0 + Duration::hours(3) + Duration::minutes(59), 4));
        assert!(due(Some(t0), None, t0 + Duration::hours(4), 4));
        assert!(!due(Some(t0), Some(t0 + Duration::hours(4)), t0 + Duration::hours(4) + Duration::minutes(14), 4));
        assert!(due(Some(t0), Some(t0 + Duration::hours(4)), t0 + Duration::hours(4) + Duration::minutes(15), 4));
        assert!(due(Some(t0), None, t0 + Duration::hours(1), 1));
    }

    #[test]
    fn names_carry_the_workstation_and_the_time_and_sort_by_time() {
        let at = datetime!(2026-12-01 08:05:09.7 -05:00);
        let name = file_name("3f2a9c1e-77aa-4b1e-9d4e-0123456789ab", at);
        assert_eq!(name, "dtk-backup-3f2a9c1e-20261201T130509Z.dtkbackup");
        assert_eq!(parse_name(&name), Some(("3f2a9c1e".to_string(), datetime!(2026-12-01 13:05:09 UTC))));
        assert!(file_name("3f2a9c1e", at) < file_name("3f2a9c1e", at + Duration::hours(4)));
        for other in [".dtk-backup-3f2a9c1e-20261201T130509Z.dtkbackup.1.0.tmp", "site.json", "dtk-backup-x.dtkbackup"]
        {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_status_says_the_age_and_overdue_plainly() {
        let now = datetime!(2026-12-01 12:00 UTC);
        let auto = Automatic::default();
        let row = |at: OffsetDateTime| {
            Some((crate::clock::stamp(at), "backup:/media/usb/dtk-backup-3f2a9c1e-20261201T100000Z.dtkbackup".into()))
        };
        let fresh = Status::at(now, Some("/media/usb".into()), 4, row(now - Duration::hours(2)), &auto);
        assert_eq!(fresh.describe(), "last backup: 2 h ago to /media/usb");
        let old = Status::at(now, Some("/media/usb".into()), 4, row(now - Duration::minutes(245)), &auto);
        assert_eq!(old.describe(), "last backup: 4 h ago to /media/usb; OVERDUE: backups are due every 4 h");
        assert_eq!(Status::at(now, None, 4, None, &auto).describe(), "no backup yet");
        assert!(Status::at(now, Some("/media/usb".into()), 4, None, &auto).overdue);
        assert_eq!(age_words(25), "25 min");
        assert_eq!(age_words(3 * 24 * 60 + 5), "3 d");
    }
}
