//! `dtk backup` (an interim backup of the vault now, charge nurse or administrator) and `dtk restore` (a backup into
//! an empty vault folder on a new workstation, with the recovery key file `dtk init --recovery-key-out` wrote).

use std::path::{Path, PathBuf};

use clap::Args;
use dtk::api::{self, Workstation};
use dtk::clock::SystemClock;
use zeroize::Zeroizing;

use super::{output, read_input, sign_in, Failure};

#[derive(Args)]
pub struct BackupArgs {
    /// The folder to write the backup to (a USB stick, a share); else the site configuration's backup_dir.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A backup file, or a folder of backups (the newest of its one workstation is restored).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The recovery key as `dtk init --recovery-key-out` wrote it.
    #[arg(long, value_name = "FILE")]
    recovery_key_file: PathBuf,
}

/// `dtk backup --out DIR`: writes a backup now and says where, how large, and which older backups it removed.
pub fn backup(ws: &mut Workstation, args: BackupArgs, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    let written = ws.backup(&session, args.out.as_deref(), &SystemClock)?;
    output(json, &written, || {
        let mut t = format!(
            "Backup written: {} ({} KiB). It opens only with this vault's passwords or its recovery key.",
            written.file.display(),
            written.bytes.div_ceil(1024)
        );
        for old in &written.removed {
            t.push_str(&format!(
                "\nolder backup removed (the newest {} are kept): {}",
                dtk::backup::KEEP,
                old.display()
            ));
        }
        t
    });
    Ok(())
}

/// `dtk restore --from DIR --recovery-key-file FILE`: restores into the vault folder (`--vault`) and says what came
/// back: entries by status and the episode.
pub fn restore(dir: &Path, args: RestoreArgs, json: bool) -> Result<(), Failure> {
    let bytes = Zeroizing::new(read_input(&args.recovery_key_file, 4096)?);
    let key = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let restored = api::restore(&args.from, dir, &key, &SystemClock)?;
    output(json, &restored, || {
        let taken = restored.taken_at.as_deref().map(|t| format!(", taken {t}")).unwrap_or_default();
        let episode = match &restored.episode {
            Some(e) => format!(
                "episode {} ({}, since {}{})",
                e.id,
                e.kind,
                e.started_at,
                if e.open { ", still open" } else { ", ended" }
            ),
            None => "no episode".into(),
        };
        let mrns = match restored.temp_mrn_last_issued {
            Some(n) => format!("after number {n}, the last the backup had issued"),
            None => "at the start of the block (the backup had issued none)".into(),
        };
        format!(
            "Restored {}{taken} into {}: unit {}.\n{} entries ({} signed, {} drafts, {} entered in error), {episode}. \
             Every entry was decrypted and the audit chain verified.\nThis PC is now workstation {} (restored from \
             workstation {}'s backup), with a handoff signing key of its own: HIM accepts its files and any the old PC \
             wrote after the backup, and imports nothing twice.\nTemporary MRNs: the next {} numbers {mrns} are \
             skipped (the old PC may have issued them after the backup); or IT gives this PC a new block in \
             site.json.\nStaff sign in with their usual passwords. Entries charted after the backup was taken are \
             not in it: take them from paper.",
            restored.from.display(),
            dir.display(),
            restored.unit.as_deref().unwrap_or("-"),
            restored.entries,
            restored.signed,
            restored.drafts,
            restored.entered_in_error,
            restored.workstation_id,
            restored.from_workstation_id,
            restored.temp_mrns_skipped,
        )
    });
    Ok(())
}

/// The backup line of `dtk status`.
pub fn status_line(ws: &Workstation) -> (serde_json::Value, String) {
    let status = ws.backup_status(&SystemClock);
    (serde_json::to_value(&status).unwrap_or_default(), status.describe())
}
