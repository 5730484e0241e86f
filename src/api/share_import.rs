//! The HIM station imports a unit share's copy (issue 20 item 4): the share doubles as a copy of each
//! workstation's data, so a PC that died during the downtime still reaches HIM through the segments its peers hold.
//! Each segment passes the unit share's own checks (its writer's next one, signed by the key pinned for that
//! workstation, its audit rows continuing the workstation's log) and is then staged into the worklist as a handoff
//! file is, recognised by entry id, version and content hash: the workstation's final handoff file, imported before
//! or after, adds nothing twice. Entries that came only through a share, with no handoff file of their workstation
//! and episode, are counted per workstation and shown on the HIM desk: what the PC charted after its last segment,
//! and its drafts, may still be on it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::unit::pending_segments;
use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::handoff::{HandoffError, HimKey, ImportReport, Record, ShareStage};
use crate::unit::receive::{self, Folder};
use crate::unit::segment::{self, Reader};
use crate::unit::store;
use crate::unit::{self as share, UnitError};

/// What importing a unit share's copy brought, per workstation, and what it refused.
#[derive(Debug, Clone, Serialize)]
pub struct ShareImport {
    pub dir: PathBuf,
    pub workstations: Vec<ShareImported>,
    /// Segments refused, half-written or missing, each naming its file and why; the rest of that workstation's
    /// segments wait behind it, and everything else was imported.
    pub problems: Vec<String>,
}

/// What one workstation's new segments added to the worklist (a segment imported before adds nothing).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShareImported {
    pub workstation: String,
    /// How a person names it: the first 8 characters of its id.
    pub label: String,
    pub segments: u64,
    pub new_entries: usize,
    pub new_versions: usize,
    /// Versions that were here already (from its handoff file, or an earlier copy of the share).
    pub unchanged_versions: usize,
    pub new_patients: usize,
    pub new_events: usize,
    pub new_audit_rows: usize,
    pub pending: usize,
    pub duplicate_proposals: usize,
    /// Entries of drill episodes: never reconciled.
    pub drill_entries: usize,
    /// Same entry id and version, different content: surfaced, never merged ("entry v2").
    pub conflicts: Vec<String>,
}

impl ShareImported {
    fn add(&mut self, r: &ImportReport) {
        self.segments += 1;
        self.new_entries += r.new_entries;
        self.new_versions += r.new_versions;
        self.unchanged_versions += r.unchanged_versions;
        self.new_patients += r.new_patients;
        self.new_events += r.new_events;
        self.new_audit_rows += r.new_audit_rows;
        self.pending += r.pending;
        self.duplicate_proposals += r.duplicate_proposals;
        self.drill_entries += r.drill_entries;
        self.conflicts.extend(r.conflicts.iter().map(|c| format!("{} v{}", c.entry_id, c.version)));
    }
}

/// A workstation whose entries reached this station only through a unit share: no handoff file of it has been
/// imported for the episodes of these entries. What it charted after its newest segment, and its drafts, may be
/// on that PC still: HIM finds it (or its backup) and imports its handoff file.
#[derive(Debug, Clone, Serialize)]
pub struct ShareOnly {
    pub workstation: String,
    pub label: String,
    /// Entries on the worklist from this workstation with no handoff file for their episode.
    pub entries: u64,
    /// Its newest segment imported here, and when the workstation wrote it (by its clock).
    pub newest_segment: u64,
    pub newest_written_at: String,
    /// What its newest segment said its authors left unsigned (drafts never leave a workstation).
    pub unsigned: u64,
    pub message: String,
}

/// A folder in the import folder that holds a unit share's copy: workstation folders with segment files.
#[derive(Debug, Clone, Serialize)]
pub struct FoundShare {
    pub name: String,
    pub path: PathBuf,
    pub workstations: usize,
    pub segments: usize,
}

/// The share copies among the folders of `dir` (the site's `handoff_import_dir`), by name.
pub(super) fn shares_in(dir: &Path) -> Vec<FoundShare> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<FoundShare> = read
        .flatten()
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()) && !d.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|d| {
            let folders = receive::scan(&d.path(), "").ok()?;
            let with: Vec<&Folder> = folders.iter().filter(|f| !f.segments.is_empty()).collect();
            let segments = with.iter().map(|f| f.segments.len()).sum();
            (!with.is_empty()).then(|| FoundShare {
                name: d.file_name().to_string_lossy().into_owned(),
                path: d.path(),
                workstations: with.len(),
                segments,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

impl Workstation {
    /// Imports every segment of a unit share's copy at `dir` (its folders are the unit's workstations) not
    /// imported before, in each workstation's order, one transaction per segment. A segment that is refused stops
    /// its workstation there (named in `problems`); the other workstations go on. HIM only.
    pub fn import_unit_share(
        &mut self,
        session: &Session,
        dir: &Path,
        clock: &dyn Clock,
    ) -> Result<ShareImport, ApiError> {
        session.require(Op::ImportHandoff)?;
        let key = HimKey::load(self.vault()?.conn(), session.keys())?.ok_or(HandoffError::NoHimKey)?;
        let folders = receive::scan(dir, "").map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("the unit share copy {} cannot be read: {e}", dir.display()))
        })?;
        let mut out = ShareImport { dir: dir.to_path_buf(), workstations: Vec::new(), problems: Vec::new() };
        for folder in folders {
            if folder.segments.is_empty() && folder.partial.is_empty() {
                continue;
            }
            let mut got = ShareImported {
                workstation: folder.name.clone(),
                label: share::short_id(&folder.name),
                ..ShareImported::default()
            };
            for (file, path) in pending_segments(self.vault()?.conn(), &folder, &mut out.problems)? {
                match self.share_segment(session, clock, &key, &folder.name, &file, &path) {
                    Ok(r) => got.add(&r),
                    Err(e) => {
                        out.problems.push(e.message);
                        break;
                    }
                }
            }
            if got.segments > 0 {
                out.workstations.push(got);
            }
        }
        Ok(out)
    }

    fn share_segment(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
        key: &HimKey,
        folder: &str,
        file: &str,
        path: &Path,
    ) -> Result<ImportReport, ApiError> {
        let bytes = receive::read(path, file)?;
        let opened = segment::open(&bytes, file, &Reader::Him { secret: key.secret() })?;
        let temp = self.site.temp_mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let refused = |e: HandoffError| UnitError::Refused { file: file.into(), reason: e.to_string() };
            let mut stage = ShareStage::new(tx, &opened.header, &temp, window).map_err(refused)?;
            let (ws, sequence) = (opened.header.workstation.as_str(), opened.header.sequence);
            receive::walk(tx, folder, file, &opened, &mut |tx, record, _, _| {
                if let Record::End(end) = record {
                    if let Err(reason) = receive::keep_unsigned(tx, ws, sequence, end)? {
                        return Ok(Err(reason));
                    }
                }
                match stage.record(tx, record) {
                    Ok(()) => Ok(Ok(())),
                    Err(HandoffError::Vault(v)) => Err(UnitError::Vault(v)),
                    Err(other) => Ok(Err(other.to_string())),
                }
            })?;
            stage.finish(tx, &opened.sha256).map_err(|e| match e {
                HandoffError::Vault(v) => ApiError::from(v),
                other => ApiError::from(refused(other)),
            })
        })?;
        Ok(done.into_value())
    }

    /// The workstations whose entries reached this station only through a unit share (see [`ShareOnly`]).
    pub fn share_only(&self, session: &Session) -> Result<Vec<ShareOnly>, ApiError> {
        session.require(Op::ImportHandoff)?;
        let conn = self.vault()?.conn();
        let unsigned = store::unsigned_elsewhere(conn, session.keys())?;
        let mut out = Vec::new();
        for (workstation, sequence, written, entries) in store::share_only(conn)? {
            let left: u64 = unsigned.iter().filter(|(w, _, _)| *w == workstation).map(|(_, _, n)| n).sum();
            let label = share::short_id(&workstation);
            let message = format!(
                "WS {label}: {entries} {} came only through the unit share (its newest segment, #{sequence}, was written at {written}); no handoff file of it has been imported for {}: what it charted after that{}, may still be on that PC. Find the PC or its backup and import its handoff file.",
                if entries == 1 { "entry" } else { "entries" },
                if entries == 1 { "its episode" } else { "their episodes" },
                match left {
                    0 => String::new(),
                    1 => ", and the unsigned entry it said it left".to_string(),
                    n => format!(", and the {n} unsigned entries it said it left"),
                },
            );
            out.push(ShareOnly {
                workstation,
                label,
                entries,
                newest_segment: sequence,
                newest_written_at: written,
                unsigned: left,
                message,
            });
        }
        Ok(out)
    }
}
