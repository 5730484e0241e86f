//! A batch written to a file: recorded and streamed in one transaction, its file placed only once the batch is
//! recorded ([`export`]), or written again byte for byte and checked against the recorded SHA-256 ([`regenerate`]).
//! Every file goes through the durable-write helper.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::batch;
use super::bundle::{write_bundle, Hashing};
use super::{FhirError, StaffRef};
use crate::crypto::Keys;
use crate::durable::{self, Streamed};
use crate::forms::Catalog;
use crate::vault::Vault;

/// A FHIR export batch written to disk.
#[derive(Debug, Clone, Serialize)]
pub struct BatchExported {
    pub batch_id: String,
    pub entries: usize,
    pub sha256: String,
    pub bytes: u64,
    pub path: PathBuf,
}

/// Who exports a new batch, from which station, with which forms.
pub struct Exporter<'a> {
    pub keys: &'a Keys,
    pub by: StaffRef,
    pub station: String,
    pub catalog: &'a Catalog,
}

/// Exports every accepted entry as a new batch: one transaction Bundle written durably to `out`, its SHA-256 in the
/// audit log, the entries locked as exported. Refused when a batch of this station in `out`'s folder records more
/// than the vault holds (the vault was restored from an older copy).
///
/// One pass over the entries freezes what each is exported with and streams its bundle entries from what it froze
/// (`first`: its version body decrypted once, names read once per export), built by the same code that regenerates
/// the batch from the frozen rows, so the two never differ. Memory holds the entry ids, not the entries. The file is
/// written into a temporary file while the transaction runs, synced before the batch is recorded, and moved into
/// place after the commit: a recorded batch always has its complete file, and a failed one leaves no file behind.
pub fn export(vault: &mut Vault, x: Exporter<'_>, at: OffsetDateTime, out: &Path) -> Result<BatchExported, FhirError> {
    let ids = batch::exportable(vault.conn())?;
    if ids.is_empty() {
        return Err(FhirError::NothingToExport);
    }
    let Exporter { keys, by, station, catalog } = x;
    // The batches this station already wrote into the same folder witness what its vault held: a vault restored
    // from an older copy is refused before it records anything.
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    super::watermark::refuse_if_older(dir, &station, &batch::held(vault.conn())?)?;
    let file = Streamed::beside(out);
    let done = vault.write(keys, &by.username, at, |tx| -> Result<BatchExported, FhirError> {
        let meta = batch::record(tx, keys, &by, station, ids.len())?;
        let mut w = Hashing::new(file.open().map_err(FhirError::File)?);
        super::first::freeze_and_write(tx, keys, catalog, &meta, &ids, &mut w)?;
        let (buf, sha256, bytes) = w.finish();
        durable::sync(buf).map_err(FhirError::File)?;
        batch::set_sha256(tx, &meta.id, &sha256)?;
        tx.audit(
            "fhir.exported",
            &format!("export_batches:{}", meta.id),
            &serde_json::json!({ "entries": meta.entries, "sha256": sha256, "bytes": bytes }),
        )?;
        Ok(BatchExported { batch_id: meta.id, entries: meta.entries, sha256, bytes, path: out.to_path_buf() })
    })?;
    let done = done.into_value();
    file.place().map_err(|source| FhirError::Unplaced { batch: done.batch_id.clone(), source })?;
    Ok(done)
}

/// Writes an existing batch again, byte for byte, and checks it against the SHA-256 recorded at export; the file
/// appears at `out` only if it matches.
pub fn regenerate(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    batch_id: &str,
    out: &Path,
) -> Result<BatchExported, FhirError> {
    let (stored, count) = batch::recorded(conn, batch_id)?;
    let file = Streamed::beside(out);
    let mut w = Hashing::new(file.open().map_err(FhirError::File)?);
    let written = write_bundle(conn, keys, catalog, batch_id, None, &mut w);
    let (buf, sha256, bytes) = w.finish();
    written.and(durable::sync(buf).map_err(FhirError::File))?;
    if sha256 != stored {
        return Err(FhirError::Regenerates(batch_id.to_string()));
    }
    file.place().map_err(FhirError::File)?;
    Ok(BatchExported {
        batch_id: batch_id.to_string(),
        entries: count as usize,
        sha256,
        bytes,
        path: out.to_path_buf(),
    })
}
