//! The export tables: the sealed batch record (`export_batches`) and the frozen facts of each entry
//! (`export_batch_entries`), and the rows the bundle writer reads back from them; which accepted entries the next
//! batch takes and what each is frozen with; the per-entry outcome of a post.

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::{BatchMeta, ExportEntry, FhirError, Frozen, Mode, PostOutcome, StaffRef, Watermark};
use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::entries::{Origin, VersionBody};
use crate::reconcile;
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

fn batch_place(id: &str) -> Place<'_> {
    Place { table: "export_batches", row: id, column: "body", format: FORMAT }
}

fn entry_place(row: &str) -> Place<'_> {
    Place { table: "export_batch_entries", row, column: "body", format: FORMAT }
}

pub(super) fn seal_frozen(
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

fn seal_meta(keys: &Keys, rng: &mut dyn crate::crypto::Random, m: &BatchMeta) -> Vec<u8> {
    let plain = serde_json::to_vec(m).unwrap_or_default();
    keys.seal(&batch_place(&m.id), &plain, rng)
}

fn open_frozen(keys: &Keys, batch: &str, entry: &str, fv: i64, sealed: &[u8]) -> Result<Frozen, VaultError> {
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

/// The same row for one entry of the batch.
const BATCH_ENTRY_SQL: &str = "SELECT be.entry_id, be.version, be.fv, be.body, e.form, e.origin, e.episode_id,
        v.kind, v.signed_at, v.fv, v.body
   FROM export_batch_entries be JOIN entries e ON e.id = be.entry_id
   JOIN entry_versions v ON v.entry_id = be.entry_id AND v.version = be.version
  WHERE be.batch_id = ?1 AND be.entry_id = ?2";

/// The entries of a batch and their forms, without their versions (which registrations are is told from these).
const BATCH_FORMS_SQL: &str = "SELECT be.entry_id, be.fv, be.body, e.form
   FROM export_batch_entries be JOIN entries e ON e.id = be.entry_id
  WHERE be.batch_id = ?1 AND be.position BETWEEN ?2 AND ?3 ORDER BY be.position";

fn blob<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    Ok(r.get_ref(i)?.as_blob()?)
}

fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    Ok(r.get_ref(i)?.as_str()?)
}

pub(super) fn open_version(
    keys: &Keys,
    entry_id: &str,
    version: i64,
    fv: i64,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let row = format!("{entry_id}/{version}");
    let p = Place { table: "entry_versions", row: &row, column: "body", format: u32::try_from(fv).unwrap_or(u32::MAX) };
    keys.open(&p, sealed).map_err(|_| VaultError::Integrity(format!("entry_versions {row}: body fails authentication")))
}

/// One entry of a batch as its row was read, still sealed, so that it can be opened on another thread.
pub(super) struct RawEntry {
    entry_id: String,
    version: i64,
    frozen_fv: i64,
    frozen: Vec<u8>,
    form: String,
    origin: String,
    episode_id: String,
    kind: String,
    signed_at: Option<String>,
    fv: i64,
    body: Vec<u8>,
}

impl RawEntry {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
        Ok(RawEntry {
            entry_id: r.get(0)?,
            version: r.get(1)?,
            frozen_fv: r.get(2)?,
            frozen: r.get(3)?,
            form: r.get(4)?,
            origin: r.get(5)?,
            episode_id: r.get(6)?,
            kind: r.get(7)?,
            signed_at: r.get(8)?,
            fv: r.get(9)?,
            body: r.get(10)?,
        })
    }

    /// Decrypts the frozen facts and the version body.
    pub(super) fn open(self, keys: &Keys, batch: &str) -> Result<ExportEntry, FhirError> {
        let frozen = open_frozen(keys, batch, &self.entry_id, self.frozen_fv, &self.frozen)?;
        let plain = open_version(keys, &self.entry_id, self.version, self.fv, &self.body)?;
        let body: VersionBody = serde_json::from_slice(&plain).map_err(|_| {
            VaultError::Integrity(format!("entry_versions {}/{}: body is not an entry", self.entry_id, self.version))
        })?;
        Ok(ExportEntry {
            entry_id: self.entry_id,
            version: self.version,
            version_kind: self.kind,
            form: self.form,
            origin: if self.origin == "paper" { Origin::Paper } else { Origin::Electronic },
            episode_id: self.episode_id,
            signed_at: self.signed_at.unwrap_or_default(),
            body,
            frozen,
        })
    }
}

/// Which entries of a batch [`each_entry`] reads.
pub(super) enum Pass<'a> {
    /// Only the entries whose form registers a patient: those whose form (by name) `may_register`, and whose frozen
    /// facts say it did. No other entry's version is read or decrypted.
    Registrations(&'a dyn Fn(&str) -> bool),
    /// Every entry.
    All,
}

/// Reads the entries of a batch between two positions (inclusive), in position order, and hands every one that
/// `wanted` keeps (and `pass` takes) to `f`, still sealed.
pub(super) fn each_entry(
    conn: &rusqlite::Connection,
    keys: &Keys,
    batch_id: &str,
    positions: (i64, i64),
    wanted: &dyn Fn(&str) -> bool,
    pass: Pass<'_>,
    f: &mut dyn FnMut(RawEntry) -> Result<(), FhirError>,
) -> Result<(), FhirError> {
    let params = rusqlite::params![batch_id, positions.0, positions.1];
    match pass {
        Pass::All => {
            let mut st = conn.prepare(BATCH_ENTRIES_SQL)?;
            let mut rows = st.query(params)?;
            while let Some(r) = rows.next()? {
                if wanted(text(r, 0)?) {
                    f(RawEntry::read(r)?)?;
                }
            }
        }
        Pass::Registrations(may_register) => {
            let mut st = conn.prepare(BATCH_FORMS_SQL)?;
            let mut rows = st.query(params)?;
            while let Some(r) = rows.next()? {
                let id = text(r, 0)?;
                if !wanted(id) || !may_register(text(r, 3)?) {
                    continue;
                }
                if !open_frozen(keys, batch_id, id, r.get(1)?, blob(r, 2)?)?.registers_patient {
                    continue;
                }
                f(stored_entry(conn, batch_id, id)?)?;
            }
        }
    }
    Ok(())
}

/// One entry of a batch as [`each_entry`] reads it, still sealed.
pub(super) fn stored_entry(conn: &rusqlite::Connection, batch_id: &str, id: &str) -> Result<RawEntry, FhirError> {
    let mut st = conn.prepare_cached(BATCH_ENTRY_SQL)?;
    let mut rows = st.query(rusqlite::params![batch_id, id])?;
    let row = rows.next()?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(RawEntry::read(row)?)
}

/// The accepted entries (id and form), in clinical-time order, that the next batch exports. Refuses if any belongs
/// to a drill.
pub fn exportable(conn: &rusqlite::Connection) -> Result<Vec<(String, String)>, FhirError> {
    // From the few episodes that are not real to their entries, never from every accepted row to its entry: on a
    // cold cache that was a random read per entry.
    let drill: i64 = conn.query_row(
        "SELECT count(*) FROM episodes p CROSS JOIN entries e ON e.episode_id = p.id
                CROSS JOIN recon r ON r.entry_id = e.id
          WHERE p.kind != 'real' AND r.state = 'accepted'",
        [],
        |r| r.get(0),
    )?;
    if drill > 0 {
        return Err(FhirError::Drill);
    }
    // `recon_by_state` holds every column asked for here: the worklist rows themselves are not read.
    let mut st =
        conn.prepare("SELECT entry_id, form FROM recon WHERE state = 'accepted' ORDER BY clinical_at, entry_id")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a new batch of `entries` accepted entries in `tx`: the batch row (its SHA-256 is set by [`set_sha256`]
/// once the file is written). Its entries are frozen and locked as exported by `freeze::store`.
pub(super) fn record(
    tx: &mut Tx<'_>,
    keys: &Keys,
    by: &StaffRef,
    station: String,
    entries: usize,
) -> Result<BatchMeta, FhirError> {
    let batch_id = tx.new_id().to_string();
    let mut watermark = held(tx.sql())?;
    watermark.batches += 1;
    let meta = BatchMeta {
        id: batch_id.clone(),
        created_at: stamp(tx.at()),
        by: by.clone(),
        station,
        entries,
        watermark: Some(watermark),
        bundle_format: super::BUNDLE_FORMAT,
    };
    let sealed = seal_meta(keys, tx, &meta);
    tx.insert(
        OnConflict::Abort,
        "export_batches",
        &[
            ("id", &batch_id),
            ("created_at", &meta.created_at),
            ("created_by", &by.username),
            ("entry_count", &(entries as i64)),
            ("sha256", &""),
            ("fv", &1_i64),
            ("body", &sealed),
        ],
    )?;
    Ok(meta)
}

/// What the vault holds now: the batches it has exported, its audit rows, the newest handoff file per workstation.
pub(super) fn held(conn: &rusqlite::Connection) -> Result<Watermark, FhirError> {
    let batches = conn.query_row("SELECT count(*) FROM export_batches", [], |r| r.get(0))?;
    let audit_rows = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
    let mut st = conn.prepare("SELECT workstation, max(sequence) FROM handoff_files GROUP BY workstation")?;
    let handoffs = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    Ok(Watermark { batches, audit_rows, handoffs })
}

/// Records the SHA-256 of the batch's file, once it is written.
pub(super) fn set_sha256(tx: &Tx<'_>, batch_id: &str, sha256: &str) -> Result<(), FhirError> {
    tx.update("export_batches", &[&batch_id], None, &[("sha256", &sha256)])?;
    Ok(())
}

/// The SHA-256 recorded at export and the number of entries of a batch.
pub(super) fn recorded(conn: &rusqlite::Connection, batch_id: &str) -> Result<(String, i64), FhirError> {
    conn.query_row("SELECT sha256, entry_count FROM export_batches WHERE id = ?1", [batch_id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?
    .ok_or_else(|| FhirError::NoBatch(batch_id.to_string()))
}

/// The newest export batch, if any.
pub fn latest(conn: &rusqlite::Connection) -> Result<Option<String>, FhirError> {
    Ok(conn
        .query_row("SELECT id FROM export_batches ORDER BY created_at DESC, rowid DESC LIMIT 1", [], |r| r.get(0))
        .optional()?)
}

/// One entry of a batch as a post sees it.
pub(super) struct PostState {
    pub entry_id: String,
    pub position: i64,
    pub posted: bool,
    /// The worklist row still waits on this batch (exported or refused in it). An entry the analyst has taken
    /// another way since (reposted in a later batch, entered by hand in the EHR, rejected) is never sent again from
    /// this batch: that would put it in the EHR twice.
    pub waiting: bool,
}

/// Every entry of a batch with its position and post state, in position order.
pub(super) fn post_states(conn: &rusqlite::Connection, batch_id: &str) -> Result<Vec<PostState>, FhirError> {
    let mut st = conn.prepare(
        "SELECT be.entry_id, be.position, be.post_state = 'posted',
                coalesce(r.batch_id = be.batch_id AND r.state IN ('exported', 'refused'), 0)
           FROM export_batch_entries be LEFT JOIN recon r ON r.entry_id = be.entry_id
          WHERE be.batch_id = ?1 ORDER BY be.position",
    )?;
    let rows = st.query_map([batch_id], |r| {
        Ok(PostState { entry_id: r.get(0)?, position: r.get(1)?, posted: r.get(2)?, waiting: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The entries of a batch whose form registers a patient (from the frozen facts).
pub(super) fn registering(
    conn: &rusqlite::Connection,
    keys: &Keys,
    batch_id: &str,
) -> Result<HashSet<String>, FhirError> {
    let mut st = conn.prepare("SELECT entry_id, fv, body FROM export_batch_entries WHERE batch_id = ?1")?;
    let mut rows = st.query([batch_id])?;
    let mut out = HashSet::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let sealed: Vec<u8> = r.get(2)?;
        let frozen = open_frozen(keys, batch_id, &id, r.get(1)?, &sealed)?;
        if frozen.registers_patient {
            out.insert(id);
        }
    }
    Ok(out)
}

/// Records one transaction's outcome per entry (posted with its location, or failed with the server's text) in the
/// batch, and on the worklist: posted, or refused with the server's text (open until the analyst decides).
pub(super) fn record_post(
    tx: &mut Tx<'_>,
    keys: &Keys,
    batch_id: &str,
    base_url: &str,
    outcome: &PostOutcome,
) -> Result<(), FhirError> {
    for (id, text, posted) in
        outcome.posted.iter().map(|(i, l)| (i, l, true)).chain(outcome.failed.iter().map(|(i, t)| (i, t, false)))
    {
        let (fv, sealed, version): (i64, Vec<u8>, i64) = tx.sql().query_row(
            "SELECT fv, body, version FROM export_batch_entries WHERE batch_id = ?1 AND entry_id = ?2",
            params![batch_id, id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut frozen = open_frozen(keys, batch_id, id, fv, &sealed)?;
        if posted {
            frozen.location = Some(text.clone());
            frozen.failure = None;
        } else {
            frozen.failure = Some(text.clone());
        }
        let sealed = seal_frozen(keys, tx, batch_id, id, &frozen);
        tx.update(
            "export_batch_entries",
            &[&batch_id, id],
            None,
            &[("post_state", &if posted { "posted" } else { "failed" }), ("fv", &1_i64), ("body", &sealed)],
        )?;
        if posted {
            reconcile::record_posted(tx, id, batch_id, version)?;
        } else {
            // A refused entry never reached the EHR: it is open again on the worklist, with the server's reason.
            reconcile::record_refused(tx, id, batch_id, text, frozen.mode == Mode::Create)?;
        }
    }
    tx.audit(
        "fhir.posted",
        &format!("export_batches:{batch_id}"),
        &serde_json::json!({ "server": base_url, "posted": outcome.posted.len(), "failed": outcome.failed.len() }),
    )?;
    Ok(())
}
