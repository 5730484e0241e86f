//! The export tables: the sealed batch record (`export_batches`) and the frozen facts of each entry
//! (`export_batch_entries`), and the rows the bundle writer reads back from them.

use super::{BatchMeta, ExportEntry, FhirError, Frozen};
use crate::crypto::{Keys, Place};
use crate::entries::{Origin, VersionBody};
use crate::vault::VaultError;

const FORMAT: u32 = 1;

fn batch_place(id: &str) -> Place<'_> {
    Place { table: "export_batches", row: id, column: "body", format: FORMAT }
}

fn entry_place(row: &str) -> Place<'_> {
    Place { table: "export_batch_entries", row, column: "body", format: FORMAT }
}

pub(crate) fn seal_frozen(
    keys: &Keys,
    rng: &mut dyn crate::crypto::Random,
    batch: &str,
    entry: &str,
    f: &Frozen,
) -> Vec<u8> {
    let row = format!("{batch}/{entry}");
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(f).unwrap_or_default());
    keys.seal(&entry_place(&row), &plain, rng)
}

pub(crate) fn seal_meta(keys: &Keys, rng: &mut dyn crate::crypto::Random, m: &BatchMeta) -> Vec<u8> {
    let plain = serde_json::to_vec(m).unwrap_or_default();
    keys.seal(&batch_place(&m.id), &plain, rng)
}

pub(crate) fn open_frozen(keys: &Keys, batch: &str, entry: &str, fv: i64, sealed: &[u8]) -> Result<Frozen, VaultError> {
    let row = format!("{batch}/{entry}");
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..entry_place(&row) };
    let plain = keys
        .open(&p, sealed)
        .map_err(|_| VaultError::Integrity(format!("export_batch_entries {row}: body fails authentication")))?;
    serde_json::from_slice(&plain)
        .map_err(|_| VaultError::Integrity(format!("export_batch_entries {row}: body is not an export record")))
}

/// The batch's sealed facts.
pub fn batch_meta(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<BatchMeta, FhirError> {
    let (fv, sealed): (i64, Vec<u8>) = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT fv, body FROM export_batches WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?
    .ok_or_else(|| FhirError::NoBatch(id.to_string()))?;
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..batch_place(id) };
    let plain = keys
        .open(&p, &sealed)
        .map_err(|_| VaultError::Integrity(format!("export_batches {id}: body fails authentication")))?;
    Ok(serde_json::from_slice(&plain)
        .map_err(|_| VaultError::Integrity(format!("export_batches {id}: body is not a batch record")))?)
}

const BATCH_ENTRIES_SQL: &str = "SELECT be.entry_id, be.version, be.fv, be.body, e.form, e.origin, e.episode_id,
        v.kind, v.signed_at, v.fv, v.body
   FROM export_batch_entries be JOIN entries e ON e.id = be.entry_id
   JOIN entry_versions v ON v.entry_id = be.entry_id AND v.version = be.version
  WHERE be.batch_id = ?1 AND be.position BETWEEN ?2 AND ?3 ORDER BY be.position";

fn read_entry(keys: &Keys, batch: &str, r: &rusqlite::Row<'_>) -> Result<ExportEntry, FhirError> {
    let entry_id: String = r.get(0)?;
    let version: i64 = r.get(1)?;
    let frozen = open_frozen(keys, batch, &entry_id, r.get(2)?, &r.get::<_, Vec<u8>>(3)?)?;
    let origin: String = r.get(5)?;
    let vfv: i64 = r.get(9)?;
    let sealed: Vec<u8> = r.get(10)?;
    let row = format!("{entry_id}/{version}");
    let p =
        Place { table: "entry_versions", row: &row, column: "body", format: u32::try_from(vfv).unwrap_or(u32::MAX) };
    let plain = keys
        .open(&p, &sealed)
        .map_err(|_| VaultError::Integrity(format!("entry_versions {row}: body fails authentication")))?;
    let body: VersionBody = serde_json::from_slice(&plain)
        .map_err(|_| VaultError::Integrity(format!("entry_versions {row}: body is not an entry")))?;
    Ok(ExportEntry {
        entry_id,
        version,
        version_kind: r.get(7)?,
        form: r.get(4)?,
        origin: if origin == "paper" { Origin::Paper } else { Origin::Electronic },
        episode_id: r.get(6)?,
        signed_at: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        body,
        frozen,
    })
}

/// Reads the entries of a batch between two positions (inclusive), in position order, and hands every one that
/// `wanted` keeps to `f`. With `registering_only`, only the entries whose form registers a patient, told from the
/// frozen facts before the entry's version is decrypted.
pub(super) fn each_entry(
    conn: &rusqlite::Connection,
    keys: &Keys,
    batch_id: &str,
    positions: (i64, i64),
    wanted: &dyn Fn(&str) -> bool,
    registering_only: bool,
    f: &mut dyn FnMut(ExportEntry) -> Result<(), FhirError>,
) -> Result<(), FhirError> {
    let mut st = conn.prepare(BATCH_ENTRIES_SQL)?;
    let mut rows = st.query(rusqlite::params![batch_id, positions.0, positions.1])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        if !wanted(&id) {
            continue;
        }
        if registering_only && !open_frozen(keys, batch_id, &id, r.get(2)?, &r.get::<_, Vec<u8>>(3)?)?.registers_patient
        {
            continue;
        }
        f(read_entry(keys, batch_id, r)?)?;
    }
    Ok(())
}
