//! One segment of a unit share's copy staged on the HIM station (issue 20 item 4), as a handoff file's records are
//! ([`super::import`]'s `Stage`, in share mode).

use super::import::{check_pinned, restored_from, Stage};
use super::{action, fingerprint, HandoffError, Header, ImportReport, Record};
use crate::crypto::unhex;
use crate::vault::Tx;

/// One segment of a unit share's copy, staged on the HIM station (issue 20 item 4: a dead workstation's entries
/// reach HIM from the copy its peers hold). The segment has passed the unit share's order checks
/// ([`crate::unit::receive::walk`]); its records go into the worklist as a handoff file's do, recognised by entry
/// id, version and content hash, so the workstation's final handoff file adds nothing twice, whichever comes first.
/// Entries and events of a drill episode are skipped. Its key is pinned with the workstation's handoff files.
pub struct ShareStage<'a>(Stage<'a>);

impl<'a> ShareStage<'a> {
    /// Refuses a segment signed with another key than the workstation's handoff files or earlier segments.
    pub fn new(
        tx: &Tx<'_>,
        segment: &crate::unit::Header,
        temp_mrn_system: &'a str,
        window: i64,
    ) -> Result<ShareStage<'a>, HandoffError> {
        let signer_fingerprint = unhex::<32>(&segment.signer).map(|k| fingerprint(&k)).unwrap_or_default();
        check_pinned(tx, &segment.workstation, &segment.signer, &signer_fingerprint)?;
        let h = Header {
            format: super::FORMAT,
            workstation: segment.workstation.clone(),
            unit: segment.unit.clone(),
            episode: String::new(),
            sequence: segment.sequence,
            created_at: segment.created_at.clone(),
            signer: segment.signer.clone(),
            recipient: String::new(),
            ephemeral: segment.ephemeral.clone(),
            nonce_prefix: segment.nonce_prefix.clone(),
            segment_size: segment.segment_size,
        };
        let report = ImportReport {
            workstation: h.workstation.clone(),
            sequence: h.sequence,
            signer_fingerprint,
            restored_from: restored_from(tx, &h.workstation)?,
            ..ImportReport::default()
        };
        Ok(ShareStage(Stage { h, temp_mrn_system, window, report, touched: Vec::new(), share: true, drill: false }))
    }

    /// Stages one record (a restore in its audit rows is noted as a handoff file's is).
    pub fn record(&mut self, tx: &mut Tx<'_>, r: &Record) -> Result<(), HandoffError> {
        self.0.record(tx, r.clone())
    }

    /// The last duplicate search and the conflicts recorded, with a `handoff.share_imported` audit row (counts).
    pub fn finish(mut self, tx: &mut Tx<'_>, file_sha256: &str) -> Result<ImportReport, HandoffError> {
        self.0.settle(tx, file_sha256.to_string())?;
        let r = self.0.report;
        tx.audit(
            action::SHARE_IMPORTED,
            &format!("unit:{}/{}", r.workstation, r.sequence),
            &serde_json::json!({
                "sha256": r.file_sha256, "signer": r.signer_fingerprint,
                "new_entries": r.new_entries, "new_versions": r.new_versions, "drill_entries": r.drill_entries,
                "conflicts": r.conflicts.len(), "duplicate_proposals": r.duplicate_proposals,
            }),
        )?;
        Ok(r)
    }
}
