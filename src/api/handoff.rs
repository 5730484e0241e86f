//! The handoff operations of the façade: the HIM station's key, a workstation's handoff export (streamed into a
//! durable file that appears only once the export is recorded), and the HIM station's import from memory, from a
//! file, or from the site's import folder. Every one checks the role first.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::entries::unsigned::AuthorCount;
use crate::handoff::{self, ExportSummary, HandoffError, HimKey, ImportReport};

impl From<HandoffError> for ApiError {
    fn from(e: HandoffError) -> Self {
        let code = match &e {
            HandoffError::Vault(_) => {
                if let HandoffError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            HandoffError::NoHimKey | HandoffError::NoRecipient => ErrorCode::NotInitialised,
            HandoffError::NothingToExport(_) => ErrorCode::NotFound,
            HandoffError::Drill => ErrorCode::Forbidden,
            HandoffError::Unsigned { .. } => ErrorCode::UnsignedEntries,
            HandoffError::KeyChanged { .. } | HandoffError::Replayed(_) | HandoffError::AuditConflict { .. } => {
                ErrorCode::Conflict
            }
            HandoffError::Tampered
            | HandoffError::Truncated { .. }
            | HandoffError::TrailingBytes(_)
            | HandoffError::AuditChain { .. }
            | HandoffError::Inconsistent(_) => ErrorCode::Integrity,
            HandoffError::Read(_) | HandoffError::Write(_) => ErrorCode::Io,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

/// The HIM station's handoff key, as `dtk handoff keygen` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HimKeyInfo {
    /// For `him_public_key` in every workstation's site configuration.
    pub public_key: String,
    pub fingerprint: String,
    /// False when the station already had its key (it is never replaced silently).
    pub created: bool,
}

/// A handoff file found in the site's import folder (the desktop app lists these; its window cannot browse).
#[derive(Debug, Clone, Serialize)]
pub struct FoundFile {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The import folder of the site configuration, the handoff files and unit share copies in it, and the
/// workstations whose entries came only through a unit share so far.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFolder {
    /// `None` when the site configuration names no `handoff_import_dir`.
    pub dir: Option<PathBuf>,
    pub files: Vec<FoundFile>,
    /// Folders holding a unit share's copy (workstation folders with segments), for `import_unit_share`.
    pub shares: Vec<super::share_import::FoundShare>,
    pub share_only: Vec<super::share_import::ShareOnly>,
}

/// What a handoff export of an episode would leave behind on this workstation.
#[derive(Debug, Clone, Serialize)]
pub struct UnsignedEntries {
    pub episode: String,
    /// The count per author, by username; empty when every entry is signed.
    pub by_author: Vec<AuthorCount>,
    /// Oldest first.
    pub entries: Vec<UnsignedEntry>,
}

impl UnsignedEntries {
    pub fn total(&self) -> u64 {
        self.by_author.iter().map(|c| c.count).sum()
    }
}

/// One unsigned entry: who must sign it, which form, since when.
#[derive(Debug, Clone, Serialize)]
pub struct UnsignedEntry {
    pub id: String,
    pub author: String,
    /// The form's canonical URL, and its title when this workstation has the form.
    pub form: String,
    pub form_title: String,
    pub created_at: String,
    pub updated_at: String,
    /// Minutes since the draft was first saved.
    pub age_minutes: i64,
}

/// Handoff files carry this extension (`dtk handoff export --out 5E-ws1.dtkh`).
pub const HANDOFF_EXTENSION: &str = "dtkh";

/// The most files the import folder listing shows (a stick holds one per workstation).
const MAX_LISTED: usize = 1000;

pub(super) fn io_err(e: std::io::Error) -> ApiError {
    ApiError::new(ErrorCode::Io, format!("writing the file failed: {e}"))
}

impl Workstation {
    /// Creates the HIM station's handoff key pair on first use and shows its public key and fingerprint.
    pub fn handoff_keygen(&mut self, session: &Session, clock: &dyn Clock) -> Result<HimKeyInfo, ApiError> {
        session.require(Op::ImportHandoff)?;
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            HimKey::load_or_create(tx).map_err(ApiError::from)
        })?;
        let (key, created) = done.into_value();
        Ok(HimKeyInfo { public_key: key.public_hex(), fingerprint: key.fingerprint(), created })
    }

    /// Writes this workstation's handoff file for `episode` (default: the newest episode) to `out`, encrypted
    /// to the HIM key of the site configuration. The file appears at `out` only once complete and recorded.
    ///
    /// Refused with [`ErrorCode::UnsignedEntries`] while entries of the episode are unsigned (they never leave the
    /// workstation), unless `unsigned_ok`: the charge nurse saw the counts ([`Self::unsigned_entries`]) and confirmed
    /// leaving them behind, which is audited with the counts.
    pub fn export_handoff(
        &mut self,
        session: &Session,
        out: &Path,
        episode: Option<&str>,
        unsigned_ok: bool,
        clock: &dyn Clock,
    ) -> Result<ExportSummary, ApiError> {
        session.require(Op::ExportHandoff)?;
        let recipient = match &self.site.him_public_key {
            Some(k) => handoff::parse_public_key(k)?,
            None => return Err(HandoffError::NoRecipient.into()),
        };
        let workstation = self.workstation_id();
        let episode_id = self.handoff_episode(session, episode)?;
        // Written into a temporary file beside `out` while the transaction reads the vault, synced before the
        // export is recorded, moved into place after the commit: a recorded export always has its complete file,
        // and a failed one leaves no file behind.
        let file = crate::durable::Streamed::beside(out);
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let w = file.open().map_err(io_err)?;
            let (summary, w) = handoff::export(tx, &workstation, &episode_id, &recipient, unsigned_ok, w)?;
            crate::durable::sync(w).map_err(io_err)?;
            Ok::<_, ApiError>(summary)
        })?;
        let s = done.into_value();
        file.place().map_err(|e| {
            let why = io_err(e).message;
            ApiError::new(
                ErrorCode::Io,
                format!(
                    "handoff file #{} was recorded but moving it into place failed ({why}); export again to write file #{}",
                    s.sequence,
                    s.sequence + 1
                ),
            )
        })?;
        Ok(s)
    }

    /// The episode a handoff export takes: the one named, else the newest on this workstation.
    fn handoff_episode(&self, session: &Session, episode: Option<&str>) -> Result<String, ApiError> {
        Ok(match episode {
            Some(e) => e.to_string(),
            None => crate::episodes::list(self.vault()?.conn(), session.keys())?
                .into_iter()
                .next()
                .map(|e| e.id)
                .ok_or_else(|| HandoffError::NothingToExport("this workstation has no downtime episode".into()))?,
        })
    }

    /// The entries of `episode` (default: the newest, the one a handoff export takes) still unsigned on this
    /// workstation, oldest first, with the count per author: what a handoff file would leave behind, for the charge
    /// nurse to have signed before recovery. Author, form and age only; no patient data.
    pub fn unsigned_entries(
        &self,
        session: &Session,
        episode: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<UnsignedEntries, ApiError> {
        session.require(Op::ExportHandoff)?;
        let episode = self.handoff_episode(session, episode)?;
        let conn = self.vault()?.conn();
        let now = clock.now();
        let entries = crate::entries::unsigned::list(conn, &episode)?
            .into_iter()
            .map(|u| UnsignedEntry {
                form_title: self.catalog.get(&u.form).map(|f| f.title.clone()).unwrap_or_else(|| u.form.clone()),
                age_minutes: crate::clock::parse_stamp(&u.created_at).map_or(0, |at| (now - at).whole_minutes().max(0)),
                id: u.id,
                author: u.author,
                form: u.form,
                created_at: u.created_at,
                updated_at: u.updated_at,
            })
            .collect();
        let by_author = crate::entries::unsigned::by_author(conn, &episode)?;
        Ok(UnsignedEntries { episode, by_author, entries })
    }

    /// Verifies a handoff file held in memory and brings it into the worklist; see [`Self::import_handoff_reader`].
    pub fn import_handoff(
        &mut self,
        session: &Session,
        bytes: &[u8],
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        self.import_handoff_reader(session, bytes, clock)
    }

    /// Verifies a handoff file and brings it into the worklist, reading it once, record by record, in bounded
    /// memory. Everything is staged in one transaction that commits only after the last segment decrypted and the
    /// signature verified: a refused file changes nothing.
    pub fn import_handoff_reader(
        &mut self,
        session: &Session,
        input: impl std::io::Read,
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        session.require(Op::ImportHandoff)?;
        let key = HimKey::load(self.vault()?.conn(), session.keys())?.ok_or(HandoffError::NoHimKey)?;
        let temp = self.site.temp_mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        let report = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            handoff::import(tx, input, &key, &temp, window).map_err(ApiError::from)
        })?;
        Ok(report.into_value())
    }

    /// The handoff files (`*.dtkh`) in the site's `handoff_import_dir`, by name. A missing folder is an error that
    /// names it; an unset one is an empty listing.
    pub fn handoff_import_folder(&self, session: &Session) -> Result<ImportFolder, ApiError> {
        session.require(Op::ImportHandoff)?;
        let share_only = self.share_only(session)?;
        let Some(dir) = self.site.handoff_import_dir.clone() else {
            return Ok(ImportFolder { dir: None, files: vec![], shares: vec![], share_only });
        };
        let read = std::fs::read_dir(&dir).map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("the handoff import folder {} cannot be read: {e}", dir.display()))
        })?;
        let mut files: Vec<FoundFile> = read
            .flatten()
            .filter_map(|d| {
                let path = d.path();
                let ours = path.extension().is_some_and(|x| x.eq_ignore_ascii_case(HANDOFF_EXTENSION));
                let meta = d.metadata().ok().filter(|m| m.is_file())?;
                ours.then(|| FoundFile { name: d.file_name().to_string_lossy().into_owned(), path, bytes: meta.len() })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files.truncate(MAX_LISTED);
        let shares = super::share_import::shares_in(&dir);
        Ok(ImportFolder { dir: Some(dir), files, shares, share_only })
    }

    /// Reads a handoff file from disk as a stream and imports it (any size: memory is bounded per record).
    pub fn import_handoff_file(
        &mut self,
        session: &Session,
        path: &Path,
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        session.require(Op::ImportHandoff)?;
        let meta = std::fs::metadata(path)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{} cannot be read: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(ApiError::new(ErrorCode::InvalidInput, format!("{} is not a file", path.display())));
        }
        let file = std::fs::File::open(path)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{} cannot be read: {e}", path.display())))?;
        self.import_handoff_reader(session, std::io::BufReader::with_capacity(1 << 20, file), clock)
    }
}
