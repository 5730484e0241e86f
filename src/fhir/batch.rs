//! The export tables: the sealed batch record (`export_batches`) and the frozen facts of each entry
//! (`export_batch_entries`), and the rows the bundle writer reads back from them; which accepted entries the next
//! batch takes and what each is frozen with; the per-entry outcome of a post.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::{BatchMeta, ExportEntry, FhirError, Frozen, Mode, PostOutcome, StaffRef, Watermark};
use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::entries::{self, Origin, VersionBody};
use crate::forms::Catalog;
use crate::reconcile;
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

fn batch_place(id: &str) -> Place<'_> {
    Place { table: "export_batches", row: id, column: "body", format: FORMAT }
}

fn entry_place(row: &str) -> Place<'_> {
    Place { table: "export_batch_entries", row, column: "body", format: FORMAT }
}

fn seal_frozen(keys: &Keys, rng: &mut dyn crate::crypto::Random, batch: &str, entry: &str, f: &Frozen) -> Vec<u8> {
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

/// The accepted entries, in clinical-time order, that the next batch exports. Refuses if any belongs to a drill.
pub fn exportable(conn: &rusqlite::Connection) -> Result<Vec<String>, FhirError> {
    let drill: i64 = conn.query_row(
        "SELECT count(*) FROM recon r JOIN entries e ON e.id = r.entry_id JOIN episodes p ON p.id = e.episode_id
              WHERE r.state = 'accepted' AND p.kind != 'real'",
        [],
        |r| r.get(0),
    )?;
    if drill > 0 {
        return Err(FhirError::Drill);
    }
    let mut st = conn.prepare("SELECT entry_id FROM recon WHERE state = 'accepted' ORDER BY clinical_at, entry_id")?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a new batch of the accepted entries `ids` in `tx`: the batch row (its SHA-256 is set by
/// [`set_sha256`] once the file is written), each entry's frozen facts, and the entries locked as exported.
pub(super) fn record(
    tx: &mut Tx<'_>,
    keys: &Keys,
    catalog: &Catalog,
    by: &StaffRef,
    station: String,
    ids: &[String],
) -> Result<BatchMeta, FhirError> {
    let batch_id = tx.new_id().to_string();
    let mut watermark = held(tx.sql())?;
    watermark.batches += 1;
    let meta = BatchMeta {
        id: batch_id.clone(),
        created_at: stamp(tx.at()),
        by: by.clone(),
        station,
        entries: ids.len(),
        watermark: Some(watermark),
    };
    let sealed = seal_meta(keys, tx, &meta);
    tx.sql().execute(
        "INSERT INTO export_batches (id, created_at, created_by, entry_count, sha256, fv, body) VALUES (?1, ?2, ?3, ?4, '', 1, ?5)",
        params![batch_id, meta.created_at, by.username, ids.len() as i64, sealed],
    )?;
    let mut names = StaffNames::default();
    for (pos, entry_id) in ids.iter().enumerate() {
        let (version, frozen, mut body) = freeze(tx.sql(), keys, catalog, &mut names, entry_id, &by.username)?;
        let sealed = seal_frozen(keys, tx, &batch_id, entry_id, &frozen);
        tx.sql().execute(
            "INSERT INTO export_batch_entries (batch_id, entry_id, position, version, post_state, fv, body) VALUES (?1, ?2, ?3, ?4, 'unposted', 1, ?5)",
            params![batch_id, entry_id, pos as i64, version, sealed],
        )?;
        body.exported_version = Some(version);
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
        let rb = tx.seal(&Place { table: "recon", row: entry_id, column: "body", format: 1 }, &plain);
        let n = tx.sql().execute(
            "UPDATE recon SET state = 'exported', batch_id = ?1, updated_at = ?2, updated_by = ?3, fv = 1, body = ?4 WHERE entry_id = ?5 AND state = 'accepted'",
            params![batch_id, meta.created_at, by.username, rb, entry_id],
        )?;
        if n != 1 {
            return Err(FhirError::Changed(entry_id.clone()));
        }
    }
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
pub(super) fn set_sha256(conn: &rusqlite::Connection, batch_id: &str, sha256: &str) -> Result<(), FhirError> {
    conn.execute("UPDATE export_batches SET sha256 = ?1 WHERE id = ?2", params![sha256, batch_id])?;
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
        tx.sql().execute(
            "UPDATE export_batch_entries SET post_state = ?1, fv = 1, body = ?2 WHERE batch_id = ?3 AND entry_id = ?4",
            params![if posted { "posted" } else { "failed" }, sealed, batch_id, id],
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

/// Display names of staff, looked up once per (workstation, username) during an export.
#[derive(Default)]
struct StaffNames(HashMap<(Option<String>, String), String>);

impl StaffNames {
    /// The name the workstation's handoff file gave `username`, else this station's account, else the username.
    fn get(&mut self, conn: &rusqlite::Connection, workstation: Option<&str>, username: &str) -> String {
        let key = (workstation.map(str::to_string), username.to_string());
        if let Some(name) = self.0.get(&key) {
            return name.clone();
        }
        let from_file: Option<String> = workstation.and_then(|ws| {
            conn.query_row(
                "SELECT display_name FROM handoff_staff WHERE workstation = ?1 AND username = ?2",
                params![ws, username],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
        });
        let name = from_file
            .or_else(|| {
                conn.query_row("SELECT display_name FROM users WHERE username = ?1", [username], |r| r.get(0))
                    .optional()
                    .ok()
                    .flatten()
            })
            .unwrap_or_else(|| username.to_string());
        self.0.insert(key, name.clone());
        name
    }
}

/// What one accepted entry is exported with: its current version, the frozen facts, and its worklist body.
fn freeze(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    names: &mut StaffNames,
    id: &str,
    exporter: &str,
) -> Result<(i64, Frozen, reconcile::RowBody), FhirError> {
    let (version, author, ws, origin, form, fv, sealed): (i64, String, String, String, String, i64, Vec<u8>) = conn
        .query_row(
            "SELECT e.current_version, e.author, e.workstation, e.origin, e.form, r.fv, r.body
               FROM recon r JOIN entries e ON e.id = r.entry_id WHERE r.entry_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )?;
    let body = reconcile::open_body(keys, id, fv, &sealed)?;
    let v = entries::version_body(conn, keys, id, version)?;
    let subject = body.matched_mrn.clone().unwrap_or((v.patient.mrn_system.clone(), v.patient.mrn.clone()));
    let (author_ref, enterer) = match (&v.paper, origin == "paper") {
        (Some(p), true) => (
            StaffRef { username: String::new(), display: p.author_name.clone() },
            Some(StaffRef { username: author.clone(), display: names.get(conn, None, &author) }),
        ),
        _ => (StaffRef { username: author.clone(), display: names.get(conn, Some(&ws), &author) }, None),
    };
    let verifier = body.accepted_by.clone().unwrap_or_else(|| exporter.to_string());
    let form_def = catalog.get(&form).ok_or_else(|| FhirError::UnknownForm { entry: id.to_string(), form })?;
    // Only a form with a Patient extraction context can register a patient; the others skip the extraction here
    // (the bundle writer extracts every entry once).
    let registers_patient = form_def.may_extract("Patient") && form_registers_patient(form_def, id, &v)?;
    let frozen = Frozen {
        subject,
        mode: if body.exported_version.is_some() { Mode::Update } else { Mode::Create },
        author: author_ref,
        enterer,
        verifier: StaffRef { display: names.get(conn, None, &verifier), username: verifier },
        registers_patient,
        location: None,
        failure: None,
    };
    Ok((version, frozen, body))
}

fn form_registers_patient(form: &crate::forms::Form, id: &str, v: &VersionBody) -> Result<bool, FhirError> {
    let ctx = crate::forms::ExtractContext {
        entry_id: id,
        subject: serde_json::json!({ "reference": "Patient?identifier=x|y" }),
        encounter: None,
        author: None,
        recorded: "2000-01-01T00:00:00Z",
    };
    let mut response = v.response.clone();
    if let Some(obj) = response.as_object_mut() {
        obj.insert("status".into(), Value::String("completed".into()));
    }
    let resources = crate::forms::extract(form, &response, &ctx)
        .map_err(|e| FhirError::Extract { entry: id.to_string(), reason: e.to_string() })?;
    Ok(resources.iter().any(|r| r["resourceType"] == "Patient"))
}
