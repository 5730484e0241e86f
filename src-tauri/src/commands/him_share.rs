//! The HIM desk and a unit share's copy (issue 20 item 4): import it, and see which workstations' entries came only
//! through it. Decisions and checks are the core's (`dtk::api::Workstation::import_unit_share`).
use std::path::Path;

use super::Shell;
use crate::dto::{CommandError, ShareCopy, ShareImportResult, ShareImportedLine, ShareOnlyLine};
use dtk::api::share_import as api;
use dtk::clock::SystemClock;

fn small(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

pub(super) fn copy(s: api::FoundShare) -> ShareCopy {
    ShareCopy {
        name: s.name,
        path: s.path.display().to_string(),
        workstations: small(s.workstations),
        segments: small(s.segments),
    }
}

pub(super) fn only(o: api::ShareOnly) -> ShareOnlyLine {
    ShareOnlyLine {
        workstation: o.workstation,
        label: o.label,
        entries: small(o.entries),
        newest_segment: small(o.newest_segment),
        newest_written_at: o.newest_written_at,
        unsigned: small(o.unsigned),
        message: o.message,
    }
}

fn imported(w: api::ShareImported) -> ShareImportedLine {
    ShareImportedLine {
        workstation: w.workstation,
        label: w.label,
        segments: small(w.segments),
        new_entries: small(w.new_entries),
        new_versions: small(w.new_versions),
        unchanged_versions: small(w.unchanged_versions),
        new_patients: small(w.new_patients),
        pending: small(w.pending),
        duplicate_proposals: small(w.duplicate_proposals),
        drill_entries: small(w.drill_entries),
        conflicts: w.conflicts,
    }
}

/// Imports the unit share's copy at `path` (one of the import folder's `shares`, or any folder typed).
pub fn him_import_share(shell: &Shell, path: String) -> Result<ShareImportResult, CommandError> {
    shell.signed_in(|ws, s| {
        let done = ws.import_unit_share(s, Path::new(path.trim()), &SystemClock).map_err(super::from_api)?;
        Ok(ShareImportResult {
            dir: done.dir.display().to_string(),
            workstations: done.workstations.into_iter().map(imported).collect(),
            problems: done.problems,
        })
    })
}
