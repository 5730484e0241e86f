//! Durable file writes, the only way the product writes a file: a temporary file beside the target, fsync of the
//! file, rename over the target, fsync of the folder. A file is never seen half-written under its name, survives a
//! power cut once the call returned, and a failed write leaves no temporary file behind. Secrets (the recovery key,
//! one-time passwords) are written readable by their owner only. Streamed files (handoff and FHIR exports, written
//! while a transaction reads the vault) use [`Streamed`]: written under the temporary name while the transaction
//! decides, placed once it committed, removed if it did not. A file another writer produced under a temporary name
//! (SQLite's copy of the vault for a backup) is synced and placed by [`place_written`]; [`copy`] copies a file
//! (a backup into a new vault folder) the same durable way.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The permissions every new file of this user gets (the umask decides).
    Default,
    /// Read and write for the owner only (0600 on Unix), set when the file is created, so the secret is never
    /// readable by others, not even for a moment.
    OwnerOnly,
}

/// Writes `bytes` to `target` durably (see the module documentation), replacing any file of that name.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_as(target, bytes, Access::Default)
}

/// [`write`] for a secret: the file is readable by its owner only.
pub fn write_private(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_as(target, bytes, Access::OwnerOnly)
}

fn write_as(target: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let tmp = temp_beside(target);
    let written = open_new(&tmp, access).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let placed = written.and_then(|()| place(&tmp, target));
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    placed
}

/// Syncs the complete file `tmp` that something else wrote (SQLite's `VACUUM INTO` for a backup), then places it
/// over `target` (see [`place`]). On any failure the temporary file is removed, so a half-written file never
/// replaces a good one and none is left behind.
pub fn place_written(tmp: &Path, target: &Path) -> io::Result<()> {
    let placed = File::open(tmp).and_then(|f| f.sync_all()).and_then(|()| place(tmp, target));
    if placed.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    placed
}

/// Removes `target` and syncs its folder, so the removal survives a power cut (a consumed file must not come back).
/// A file that is already gone is not an error.
pub fn remove(target: &Path) -> io::Result<()> {
    match std::fs::remove_file(target) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Ok(dir) = File::open(folder_of(target)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Copies `from` to `target` durably, streaming (a vault copy can be large), replacing any file of that name.
pub fn copy(from: &Path, target: &Path) -> io::Result<()> {
    let tmp = temp_beside(target);
    let written = File::open(from).and_then(|mut source| {
        let mut f = open_new(&tmp, Access::OwnerOnly)?;
        io::copy(&mut source, &mut f)?;
        f.sync_all()
    });
    let placed = written.and_then(|()| place(&tmp, target));
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    placed
}

/// A temporary path in the target's folder (the rename must not cross file systems): hidden, named after the
/// target, unique within this process (two threads of the desktop app may write beside the same file), and ending
/// in `.tmp`.
pub fn temp_beside(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    folder_of(target).join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Creates the temporary file `tmp` (from [`temp_beside`]) for a streamed write. The caller writes, flushes and
/// calls `sync_all`, then [`place`]s it, or removes it if the write failed.
pub fn create(tmp: &Path) -> io::Result<File> {
    open_new(tmp, Access::Default)
}

/// Moves the complete, synced temporary file `tmp` over `target` and syncs the folder, so the rename itself
/// survives a power cut.
pub fn place(tmp: &Path, target: &Path) -> io::Result<()> {
    std::fs::rename(tmp, target)?;
    // Some file systems cannot sync a folder; the file itself is on disk already.
    if let Ok(dir) = File::open(folder_of(target)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A file streamed to a temporary name beside its target while something else (a vault transaction) decides whether
/// it is kept: [`Streamed::place`] moves the complete file over the target; dropped without being placed (the
/// transaction failed, or placing did), the temporary file is removed, so no failure leaves one behind.
pub struct Streamed {
    tmp: PathBuf,
    target: PathBuf,
    placed: bool,
}

impl Streamed {
    /// A streamed write of `target`; nothing is created until [`Streamed::open`].
    pub fn beside(target: &Path) -> Streamed {
        Streamed { tmp: temp_beside(target), target: target.to_path_buf(), placed: false }
    }

    /// Creates the temporary file, buffered (1 MiB: exports are large). Finish it with [`sync`].
    pub fn open(&self) -> io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(1 << 20, create(&self.tmp)?))
    }

    /// Moves the complete, synced file over the target (see [`place`]).
    pub fn place(mut self) -> io::Result<()> {
        place(&self.tmp, &self.target)?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Flushes a streamed file's buffer and syncs the file to disk, before it is recorded and placed.
pub fn sync(w: BufWriter<File>) -> io::Result<()> {
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

fn folder_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens a new file, never an existing one (a link planted at the temporary name is not followed). A file of that
/// name can only be left by a process that died with the same id, so it is removed and the file created again.
fn open_new(tmp: &Path, access: Access) -> io::Result<File> {
    let open = || {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if access == Access::OwnerOnly {
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        }
        // Windows has no mode bits: the file gets its folder's access list.
        #[cfg(not(unix))]
        let _ = access;
        opts.open(tmp)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            open()
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).expect("list").filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        v.sort();
        v
    }

    #[test]
    fn write_replaces_the_target_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("report.csv");
        write(&target, b"old").expect("first");
        write(&target, b"new").expect("second");
        assert_eq!(std::fs::read(&target).expect("read"), b"new");
        assert_eq!(names(dir.path()), vec!["report.csv".to_string()]);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tmp");
        // The target is a folder that is not empty: the rename fails after the temporary file was written.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::create_dir(target.join("inside")).expect("mkdir");
        assert!(write(&target, b"x").is_err());
        assert_eq!(names(dir.path()), vec!["taken".to_string()]);
    }

    #[test]
    fn a_stale_temporary_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let tmp = temp_beside(&dir.path().join("batch.json"));
        std::fs::write(&tmp, b"left by a crash").expect("stale");
        let mut f = create(&tmp).expect("create over the stale file");
        f.write_all(b"fresh").and_then(|()| f.sync_all()).expect("write");
        place(&tmp, &dir.path().join("batch.json")).expect("place");
        assert_eq!(std::fs::read(dir.path().join("batch.json")).expect("read"), b"fresh");
    }

    #[test]
    fn a_streamed_file_appears_only_when_placed_and_an_unplaced_one_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("batch.json");
        let kept = Streamed::beside(&target);
        let mut w = kept.open().expect("open");
        w.write_all(b"bundle").expect("write");
        sync(w).expect("sync");
        assert!(!target.exists());
        kept.place().expect("place");
        assert_eq!(std::fs::read(&target).expect("read"), b"bundle");
        let dropped = Streamed::beside(&dir.path().join("other.json"));
        drop(dropped.open().expect("open"));
        drop(dropped);
        assert_eq!(names(dir.path()), vec!["batch.json".to_string()]);
    }

    #[test]
    fn a_copy_or_a_placed_file_appears_whole_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let source = dir.path().join("source");
        write(&source, b"vault bytes").expect("source");
        copy(&source, &dir.path().join("copied")).expect("copy");
        assert_eq!(std::fs::read(dir.path().join("copied")).expect("read"), b"vault bytes");
        let tmp = temp_beside(&dir.path().join("placed"));
        std::fs::copy(&source, &tmp).expect("written by another writer");
        place_written(&tmp, &dir.path().join("placed")).expect("place");
        assert_eq!(std::fs::read(dir.path().join("placed")).expect("read"), b"vault bytes");
        // The target is a folder that is not empty: placing fails, and the temporary file is gone.
        std::fs::create_dir_all(dir.path().join("taken/inside")).expect("mkdir");
        let tmp = temp_beside(&dir.path().join("taken"));
        std::fs::copy(&source, &tmp).expect("written");
        assert!(place_written(&tmp, &dir.path().join("taken")).is_err());
        assert!(copy(&source, &dir.path().join("taken")).is_err());
        assert_eq!(names(dir.path()), ["copied", "placed", "source", "taken"].map(String::from).to_vec());
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("recovery.txt");
        write_private(&target, b"key").expect("write");
        let mode = std::fs::metadata(&target).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
