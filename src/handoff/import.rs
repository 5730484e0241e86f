//! Bringing a handoff file into the HIM vault: each record is staged as it is read, inside the caller's one
//! transaction, which commits only when [`import`] returns Ok — after every segment decrypted, every record passed
//! its checks and the signature verified. Memory holds one record, a batch of entry ids for the duplicate check and
//! the (rare) conflicts, never the file.

use std::io::Read;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{
    action, fingerprint, AuditRecord, EntryRecord, EpisodeRecord, HandoffError, Header, HimKey, Record, Registered,
    Staff, UnsignedCount,
};
use crate::clock::stamp;
use crate::crypto::{unhex, Keys, Place};
use crate::entries::Origin;
use crate::procedures::Recorded;
use crate::vault::{Tx, VaultError};

/// Entries whose duplicate proposals are looked for together. The search is symmetric and reads the whole worklist
/// (staged rows included), so batches find exactly the pairs one search at the end would, in bounded memory.
const DUPLICATE_BATCH: usize = 1_000;

/// What an import added, and what it refused to merge.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub workstation: String,
    pub episode: String,
    pub sequence: u64,
    pub file_sha256: String,
    pub signer_fingerprint: String,
    /// True when this exact file had been imported before (nothing was added).
    pub already_imported: bool,
    pub new_entries: usize,
    pub new_versions: usize,
    pub unchanged_versions: usize,
    pub new_patients: usize,
    pub new_audit_rows: usize,
    /// Episode events (severity changes, checklist ticks, status updates) not seen before.
    #[serde(default)]
    pub new_events: usize,
    /// Same entry id and version, different content: surfaced, never merged.
    pub conflicts: Vec<Conflict>,
    /// Entries added to the worklist awaiting a match to a real MRN.
    pub pending: usize,
    pub duplicate_proposals: usize,
    /// What the file says its workstation left unsigned, per author (drafts never leave a workstation); `None` for
    /// a file from a Downtime Kit that did not say.
    pub unsigned: Option<Vec<UnsignedCount>>,
}

impl ImportReport {
    /// How many entries the workstation left unsigned, when its file says.
    pub fn unsigned_total(&self) -> Option<u64> {
        self.unsigned.as_ref().map(|l| l.iter().map(|c| c.entries).sum())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub entry_id: String,
    pub version: i64,
    pub existing_hash: String,
    pub incoming_hash: String,
}

/// Runs a statement through the connection's statement cache: an import runs the same few statements hundreds of
/// thousands of times, and preparing each anew was a good part of its time.
fn exec(tx: &Tx<'_>, sql: &str, p: impl rusqlite::Params) -> Result<usize, HandoffError> {
    Ok(tx.sql().prepare_cached(sql)?.execute(p)?)
}

fn query_opt<T>(
    tx: &Tx<'_>,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, HandoffError> {
    Ok(tx.sql().prepare_cached(sql)?.query_row(p, f).optional()?)
}

/// What to do with a file once it has been read to the end and its signature verified.
enum Decision {
    /// New: stage every record.
    Stage,
    /// (workstation, sequence) was imported before with this SHA-256: the same file again, or a replay.
    Known(String),
    /// Refused for what its header says; reported only if the file is intact.
    Refuse(HandoffError),
}

/// Verifies a handoff file and brings it into the HIM vault inside the caller's transaction. Idempotent: the same
/// file again adds nothing; whatever an overlapping file brings that was imported before is recognised by id,
/// version and content hash. Any error means the caller must not commit (the vault's `write` rolls back).
pub fn import<R: Read>(
    tx: &mut Tx<'_>,
    input: R,
    him: &HimKey,
    temp_mrn_system: &str,
    duplicate_window_minutes: i64,
) -> Result<ImportReport, HandoffError> {
    let mut opened = super::read::open(input, him)?;
    let h = opened.header.clone();
    let mut report = ImportReport {
        workstation: h.workstation.clone(),
        episode: h.episode.clone(),
        sequence: h.sequence,
        signer_fingerprint: opened.signer_fingerprint.clone(),
        ..ImportReport::default()
    };
    if let Some(wrong) = opened.wrong_recipient.take() {
        return Err(opened.refuse(wrong));
    }
    let decision = match decide(tx, &h, &opened.signer_fingerprint) {
        Ok(d) => d,
        Err(e) => return Err(opened.refuse(e)),
    };
    match decision {
        Decision::Refuse(e) => Err(opened.refuse(e)),
        Decision::Known(sha) => {
            let done = opened.skip()?;
            if done.file_sha256 != sha {
                return Err(HandoffError::Replayed(format!(
                    "file #{} of workstation {} was already imported with different content: the workstation's vault was rolled back (restored from an older copy) or replaced since it wrote that file, so what it charted after it may be missing; find that workstation's newest vault or backup",
                    h.sequence, h.workstation
                )));
            }
            report.file_sha256 = done.file_sha256;
            report.already_imported = true;
            report.unsigned = stored_unsigned(tx.sql(), tx.keys(), &h.workstation, h.sequence as i64)?;
            tx.audit(
                action::REIMPORTED,
                &format!("handoff:{}/{}", h.workstation, h.sequence),
                &serde_json::json!({ "sha256": report.file_sha256 }),
            )?;
            Ok(report)
        }
        Decision::Stage => {
            let mut stage =
                Stage { tx, h: &h, temp_mrn_system, window: duplicate_window_minutes, report, touched: Vec::new() };
            let done = opened.drive(|r| stage.record(r))?;
            stage.finish(done.file_sha256)
        }
    }
}

/// Decides from the header alone what the file may do: the signer must be the one pinned for its workstation, and
/// the sequence must not be older than one already imported.
fn decide(tx: &Tx<'_>, h: &Header, signer_fingerprint: &str) -> Result<Decision, HandoffError> {
    let pinned: Option<String> =
        query_opt(tx, "SELECT signer FROM handoff_files WHERE workstation = ?1 LIMIT 1", [&h.workstation], |r| {
            r.get(0)
        })?;
    if let Some(pinned) = pinned.filter(|p| *p != h.signer) {
        return Ok(Decision::Refuse(HandoffError::KeyChanged {
            workstation: h.workstation.clone(),
            found: signer_fingerprint.to_string(),
            pinned: unhex::<32>(&pinned).map(|k| fingerprint(&k)).unwrap_or_default(),
        }));
    }
    let seq = h.sequence as i64;
    let same: Option<String> = query_opt(
        tx,
        "SELECT file_sha256 FROM handoff_files WHERE workstation = ?1 AND sequence = ?2",
        params![h.workstation, seq],
        |r| r.get(0),
    )?;
    if let Some(sha) = same {
        return Ok(Decision::Known(sha));
    }
    let newest: Option<i64> = tx.sql().query_row(
        "SELECT max(sequence) FROM handoff_files WHERE workstation = ?1",
        [&h.workstation],
        |r| r.get(0),
    )?;
    if let Some(n) = newest.filter(|n| *n > seq) {
        return Ok(Decision::Refuse(HandoffError::Replayed(format!(
            "file #{} of workstation {} is older than file #{n} already imported",
            h.sequence, h.workstation
        ))));
    }
    Ok(Decision::Stage)
}

/// Stages records as they arrive.
struct Stage<'a, 't> {
    tx: &'a mut Tx<'t>,
    h: &'a Header,
    temp_mrn_system: &'a str,
    window: i64,
    report: ImportReport,
    /// Entries added or changed since the last duplicate search.
    touched: Vec<String>,
}

impl Stage<'_, '_> {
    fn record(&mut self, r: Record) -> Result<(), HandoffError> {
        let tx = &mut *self.tx;
        let ws = &self.h.workstation;
        match r {
            Record::Episode(ep) => import_episode(tx, &ep)?,
            Record::Staff(s) => import_staff(tx, ws, &s)?,
            Record::Registration(r) => self.report.new_patients += import_registration(tx, &r)?,
            Record::Event(ev) => {
                let recorded = Recorded { at: ev.at, actor: ev.actor, event: ev.event };
                match crate::episodes::import_event(tx, &ev.id, &self.h.episode, &recorded)? {
                    crate::episodes::Imported::New => self.report.new_events += 1,
                    crate::episodes::Imported::Known => {}
                    crate::episodes::Imported::Differs => {
                        return Err(HandoffError::Inconsistent(format!(
                            "episode event {} differs from the one imported earlier",
                            ev.id
                        )))
                    }
                }
            }
            Record::Audit(a) => self.report.new_audit_rows += import_audit_row(tx, ws, &a)?,
            Record::Entry(e) => {
                import_entry(tx, self.h, &e, self.temp_mrn_system, &mut self.report, &mut self.touched)?;
                if self.touched.len() >= DUPLICATE_BATCH {
                    self.propose()?;
                }
            }
            Record::End(end) => self.report.unsigned = end.unsigned,
        }
        Ok(())
    }

    fn propose(&mut self) -> Result<(), HandoffError> {
        self.report.duplicate_proposals += crate::reconcile::propose_duplicates(self.tx, &self.touched, self.window)?;
        self.touched.clear();
        Ok(())
    }

    /// After the signature verified: the last duplicate search, the conflicts and the file itself recorded.
    fn finish(mut self, file_sha256: String) -> Result<ImportReport, HandoffError> {
        self.propose()?;
        let (tx, h) = (&mut *self.tx, self.h);
        let mut report = self.report;
        report.file_sha256 = file_sha256;
        let now = stamp(tx.at());
        for c in &report.conflicts {
            exec(
                tx,
                "INSERT OR IGNORE INTO handoff_conflicts (entry_id, version, workstation, content_hash, file_sha256, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![c.entry_id, c.version, h.workstation, c.incoming_hash, report.file_sha256, now],
            )?;
        }
        exec(
            tx,
            "INSERT INTO handoff_files (workstation, sequence, file_sha256, signer, episode_id, created_at, imported_at, imported_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                h.workstation,
                h.sequence as i64,
                report.file_sha256,
                h.signer,
                h.episode,
                h.created_at,
                now,
                tx.actor().to_string()
            ],
        )?;
        if let Some(unsigned) = &report.unsigned {
            let row = format!("{}/{}", h.workstation, h.sequence);
            let plain = serde_json::to_vec(unsigned).unwrap_or_default();
            let sealed = tx.seal(&unsigned_place(&row), &plain);
            exec(
                tx,
                "INSERT INTO handoff_unsigned (workstation, sequence, fv, body) VALUES (?1, ?2, 1, ?3)",
                params![h.workstation, h.sequence as i64, sealed],
            )?;
        }
        tx.audit(
            action::IMPORTED,
            &format!("handoff:{}/{}", h.workstation, h.sequence),
            &serde_json::json!({
                "sha256": report.file_sha256, "signer": report.signer_fingerprint, "episode": h.episode,
                "new_entries": report.new_entries, "new_versions": report.new_versions,
                "conflicts": report.conflicts.len(), "duplicate_proposals": report.duplicate_proposals,
                "unsigned_left": report.unsigned_total(),
            }),
        )?;
        Ok(report)
    }
}

/// Where a file's unsigned count is sealed: bound to its workstation and sequence.
fn unsigned_place(row: &str) -> Place<'_> {
    Place { table: "handoff_unsigned", row, column: "body", format: 1 }
}

/// What an imported file said its workstation left unsigned; `None` when the file did not say.
pub fn stored_unsigned(
    conn: &rusqlite::Connection,
    keys: &Keys,
    workstation: &str,
    sequence: i64,
) -> Result<Option<Vec<UnsignedCount>>, VaultError> {
    let sealed: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT fv, body FROM handoff_unsigned WHERE workstation = ?1 AND sequence = ?2")?
        .query_row(params![workstation, sequence], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((fv, sealed)) = sealed else { return Ok(None) };
    open_unsigned(keys, workstation, sequence, fv, &sealed).map(Some)
}

/// Opens a sealed unsigned count; a row that fails authentication is the integrity error naming it.
pub fn open_unsigned(
    keys: &Keys,
    workstation: &str,
    sequence: i64,
    fv: i64,
    sealed: &[u8],
) -> Result<Vec<UnsignedCount>, VaultError> {
    let row = format!("{workstation}/{sequence}");
    let broken = || VaultError::Integrity(format!("handoff_unsigned {row}: the unsigned count fails authentication"));
    let place = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..unsigned_place(&row) };
    let plain = keys.open(&place, sealed).map_err(|_| broken())?;
    serde_json::from_slice(&plain).map_err(|_| broken())
}

fn import_staff(tx: &Tx<'_>, workstation: &str, s: &Staff) -> Result<(), HandoffError> {
    exec(
        tx,
        "INSERT INTO handoff_staff (workstation, username, display_name, role) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workstation, username) DO UPDATE SET display_name = ?3, role = ?4",
        params![workstation, s.username, s.display_name, s.role],
    )?;
    Ok(())
}

/// Adds an audit row not imported before; the same row again is nothing, a different one a rewritten log.
fn import_audit_row(tx: &mut Tx<'_>, workstation: &str, a: &AuditRecord) -> Result<usize, HandoffError> {
    let existing: Option<String> = query_opt(
        tx,
        "SELECT hash FROM handoff_audit WHERE workstation = ?1 AND seq = ?2",
        params![workstation, a.row.seq],
        |r| r.get(0),
    )?;
    match existing {
        Some(h) if h == a.hash => return Ok(0),
        Some(_) => return Err(HandoffError::AuditConflict { workstation: workstation.into(), seq: a.row.seq }),
        None => {}
    }
    let row = format!("{workstation}/{}", a.row.seq);
    let plain = Zeroizing::new(serde_json::to_vec(&a.row.detail).unwrap_or_default());
    let sealed = tx.seal(&Place { table: "handoff_audit", row: &row, column: "detail", format: 1 }, &plain);
    exec(
        tx,
        "INSERT INTO handoff_audit (workstation, seq, hash, at, actor, action, target, fv, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
        params![workstation, a.row.seq, a.hash, a.row.at, a.row.actor, a.row.action, a.row.target, sealed],
    )?;
    Ok(1)
}

fn import_episode(tx: &mut Tx<'_>, ep: &EpisodeRecord) -> Result<(), HandoffError> {
    let existing: Option<Option<String>> =
        tx.sql().query_row("SELECT ended_at FROM episodes WHERE id = ?1", [&ep.id], |r| r.get(0)).optional()?;
    match existing {
        None => {
            let plain = serde_json::to_vec(&ep.declaration).unwrap_or_default();
            let sealed = tx.seal(&Place { table: "episodes", row: &ep.id, column: "body", format: 1 }, &plain);
            exec(
                tx,
                "INSERT INTO episodes (id, unit, kind, started_at, started_by, ended_at, ended_by, fv, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
                params![
                    ep.id,
                    ep.unit,
                    ep.kind.as_str(),
                    ep.started_at,
                    ep.started_by,
                    ep.ended_at,
                    ep.ended_by,
                    sealed
                ],
            )?;
        }
        Some(None) if ep.ended_at.is_some() => {
            exec(
                tx,
                "UPDATE episodes SET ended_at = ?1, ended_by = ?2 WHERE id = ?3",
                params![ep.ended_at, ep.ended_by, ep.id],
            )?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn import_registration(tx: &mut Tx<'_>, r: &Registered) -> Result<usize, HandoffError> {
    let token = crate::patients::mrn_token(tx.keys(), &r.record.mrn_system, &r.record.mrn);
    let exists: bool = tx.sql().query_row(
        "SELECT count(*) FROM patients WHERE mrn_idx = ?1 OR id = ?2",
        params![token, r.id],
        |c| c.get::<_, i64>(0),
    )? > 0;
    if exists {
        return Ok(0);
    }
    let plain = Zeroizing::new(serde_json::to_vec(&r.record).unwrap_or_default());
    let sealed = tx.seal(&Place { table: "patients", row: &r.id, column: "body", format: 1 }, &plain);
    exec(
        tx,
        "INSERT INTO patients (id, mrn_idx, source, snapshot_id, created_at, fv, body) VALUES (?1, ?2, 'registration', NULL, ?3, 1, ?4)",
        params![r.id, token, stamp(tx.at()), sealed],
    )?;
    Ok(1)
}

fn import_entry(
    tx: &mut Tx<'_>,
    h: &Header,
    e: &EntryRecord,
    temp_mrn_system: &str,
    report: &mut ImportReport,
    touched: &mut Vec<String>,
) -> Result<(), HandoffError> {
    let existing: Option<(String, i64)> =
        query_opt(tx, "SELECT workstation, current_version FROM entries WHERE id = ?1", [&e.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let Some(last) = e.versions.last() else { return Ok(()) };
    let patient = &last.body.patient;
    let patient_idx = crate::patients::mrn_token(tx.keys(), &patient.mrn_system, &patient.mrn);
    let med_idx =
        last.body.medication.as_deref().map(|m| tx.keys().blind_index("med", &crate::entries::normalise_medication(m)));
    let origin = match e.origin {
        Origin::Electronic => "electronic",
        Origin::Paper => "paper",
    };
    let current = match existing {
        Some((ws, _)) if ws != h.workstation => {
            return Err(HandoffError::Inconsistent(format!(
                "entry {} was imported earlier from another workstation",
                e.id
            )))
        }
        Some((_, current)) => current,
        None => {
            exec(
                tx,
                "INSERT INTO entries (id, patient_idx, form, episode_id, author, workstation, status, current_version, created_at, updated_at, med_idx, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    e.id, patient_idx, e.form, h.episode, e.author, h.workstation, e.status.as_str(),
                    e.current_version, e.created_at, e.updated_at, med_idx, origin
                ],
            )?;
            report.new_entries += 1;
            0
        }
    };
    let mut added = false;
    for v in &e.versions {
        let have: Option<String> = query_opt(
            tx,
            "SELECT content_hash FROM entry_versions WHERE entry_id = ?1 AND version = ?2",
            params![e.id, v.version],
            |r| r.get(0),
        )?;
        match have {
            Some(hash) if hash == v.content_hash => report.unchanged_versions += 1,
            Some(hash) => {
                report.conflicts.push(Conflict {
                    entry_id: e.id.clone(),
                    version: v.version,
                    existing_hash: hash,
                    incoming_hash: v.content_hash.clone(),
                });
            }
            None => {
                let row = format!("{}/{}", e.id, v.version);
                let plain = Zeroizing::new(serde_json::to_vec(&v.body).unwrap_or_default());
                let sealed = tx.seal(&Place { table: "entry_versions", row: &row, column: "body", format: 1 }, &plain);
                exec(
                    tx,
                    "INSERT INTO entry_versions (entry_id, version, kind, author, recorded_at, signed_at, signed_by, content_hash, fv, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)",
                    params![e.id, v.version, v.kind, v.author, v.recorded_at, v.signed_at, v.signed_by, v.content_hash, sealed],
                )?;
                report.new_versions += 1;
                added = true;
            }
        }
    }
    if existing.is_some() && added && e.current_version > current {
        exec(
            tx,
            "UPDATE entries SET status = ?1, current_version = ?2, updated_at = ?3, med_idx = ?4, patient_idx = ?5 WHERE id = ?6",
            params![e.status.as_str(), e.current_version, e.updated_at, med_idx, patient_idx, e.id],
        )?;
    }
    if existing.is_none() || added {
        let tracked = crate::reconcile::Tracked {
            entry_id: &e.id,
            workstation: &h.workstation,
            form: &e.form,
            patient,
            body: &last.body,
            temp_mrn_system,
        };
        if crate::reconcile::track(tx, &tracked, existing.is_none())? {
            report.pending += 1;
        }
        touched.push(e.id.clone());
    }
    Ok(())
}
