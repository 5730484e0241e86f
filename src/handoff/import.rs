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
use crate::vault::rows::OnConflict;
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
    /// The workstations this one was restored from (`dtk restore` of their backups), as its audit log records: HIM
    /// accepts their entries from this file and recognises those it already has by id and content hash.
    #[serde(default)]
    pub restored_from: Vec<String>,
    /// Entries of drill episodes a unit share's segment carried: never reconciled, so not imported.
    #[serde(default)]
    pub drill_entries: usize,
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
            let mut stage = Stage {
                h: h.clone(),
                temp_mrn_system,
                window: duplicate_window_minutes,
                report,
                touched: Vec::new(),
                share: false,
                drill: false,
            };
            let done = opened.drive(|r| stage.record(tx, r))?;
            stage.finish(tx, done.file_sha256)
        }
    }
}

/// Decides from the header alone what the file may do: the signer must be the one pinned for its workstation, and
/// the sequence must not be older than one already imported.
fn decide(tx: &Tx<'_>, h: &Header, signer_fingerprint: &str) -> Result<Decision, HandoffError> {
    if let Err(e) = check_pinned(tx, &h.workstation, &h.signer, signer_fingerprint) {
        return Ok(Decision::Refuse(e));
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

/// The key a workstation's files and unit share segments were signed with so far (pinned at the first one
/// imported): another key is refused, naming both fingerprints.
pub(super) fn check_pinned(
    tx: &Tx<'_>,
    workstation: &str,
    signer: &str,
    signer_fingerprint: &str,
) -> Result<(), HandoffError> {
    let pinned: Option<String> = query_opt(
        tx,
        "SELECT signer FROM (SELECT signer FROM handoff_files WHERE workstation = ?1
                              UNION ALL SELECT signer FROM unit_segments WHERE workstation = ?1) LIMIT 1",
        [workstation],
        |r| r.get(0),
    )?;
    match pinned.filter(|p| !p.eq_ignore_ascii_case(signer)) {
        Some(pinned) => Err(HandoffError::KeyChanged {
            workstation: workstation.to_string(),
            found: signer_fingerprint.to_string(),
            pinned: unhex::<32>(&pinned).map(|k| fingerprint(&k)).unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

/// Stages records as they arrive.
pub(super) struct Stage<'a> {
    /// The file's header; for a unit share's segment, one made from the segment's, whose episode is the one its
    /// records since the last `Episode` record belong to.
    pub(super) h: Header,
    pub(super) temp_mrn_system: &'a str,
    pub(super) window: i64,
    pub(super) report: ImportReport,
    /// Entries added or changed since the last duplicate search.
    pub(super) touched: Vec<String>,
    /// Reading a unit share's segment (a handoff file holds one episode, a segment any number).
    pub(super) share: bool,
    /// The records since the last `Episode` record belong to a drill: never reconciled, so skipped.
    pub(super) drill: bool,
}

impl Stage<'_> {
    pub(super) fn record(&mut self, tx: &mut Tx<'_>, r: Record) -> Result<(), HandoffError> {
        let ws = &self.h.workstation;
        if self.drill && matches!(r, Record::Event(_) | Record::Entry(_)) {
            if let Record::Entry(_) = r {
                self.report.drill_entries += 1;
            }
            return Ok(());
        }
        match r {
            Record::Episode(ep) if self.share => {
                self.drill = ep.kind == crate::episodes::Kind::Drill;
                if !self.drill {
                    self.h.episode = ep.id.clone();
                    import_episode(tx, &ep)?;
                }
            }
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
            Record::Audit(a) => {
                if a.row.action == crate::backup::RESTORED {
                    if let Some(from) = a.row.detail.get("from_workstation").and_then(serde_json::Value::as_str) {
                        if !self.report.restored_from.iter().any(|w| w == from) {
                            self.report.restored_from.push(from.to_string());
                        }
                    }
                }
                self.report.new_audit_rows += import_audit_row(tx, ws, &a)?
            }
            Record::Entry(e) => {
                import_entry(tx, &self.h, &e, self.temp_mrn_system, &mut self.report, &mut self.touched)?;
                if self.touched.len() >= DUPLICATE_BATCH {
                    self.propose(tx)?;
                }
            }
            Record::End(end) => self.report.unsigned = end.unsigned,
        }
        Ok(())
    }

    fn propose(&mut self, tx: &mut Tx<'_>) -> Result<(), HandoffError> {
        self.report.duplicate_proposals += crate::reconcile::propose_duplicates(tx, &self.touched, self.window)?;
        self.touched.clear();
        Ok(())
    }

    /// The last duplicate search, and the conflicts recorded under the file (or segment) that brought them.
    pub(super) fn settle(&mut self, tx: &mut Tx<'_>, file_sha256: String) -> Result<(), HandoffError> {
        self.propose(tx)?;
        self.report.file_sha256 = file_sha256;
        let now = stamp(tx.at());
        for c in &self.report.conflicts {
            tx.insert(
                OnConflict::Ignore,
                "handoff_conflicts",
                &[
                    ("entry_id", &c.entry_id),
                    ("version", &c.version),
                    ("workstation", &self.h.workstation),
                    ("content_hash", &c.incoming_hash),
                    ("file_sha256", &self.report.file_sha256),
                    ("seen_at", &now),
                ],
            )?;
        }
        Ok(())
    }

    /// After the signature verified: the last duplicate search, the conflicts and the file itself recorded.
    fn finish(mut self, tx: &mut Tx<'_>, file_sha256: String) -> Result<ImportReport, HandoffError> {
        self.settle(tx, file_sha256)?;
        let h = &self.h;
        let report = self.report;
        let now = stamp(tx.at());
        tx.insert(
            OnConflict::Abort,
            "handoff_files",
            &[
                ("workstation", &h.workstation),
                ("sequence", &(h.sequence as i64)),
                ("file_sha256", &report.file_sha256),
                ("signer", &h.signer),
                ("episode_id", &h.episode),
                ("created_at", &h.created_at),
                ("imported_at", &now),
                ("imported_by", &tx.actor()),
            ],
        )?;
        if let Some(unsigned) = &report.unsigned {
            let row = format!("{}/{}", h.workstation, h.sequence);
            let plain = serde_json::to_vec(unsigned).unwrap_or_default();
            let sealed = tx.seal(&unsigned_place(&row), &plain);
            tx.insert(
                OnConflict::Abort,
                "handoff_unsigned",
                &[
                    ("workstation", &h.workstation),
                    ("sequence", &(h.sequence as i64)),
                    ("fv", &1i64),
                    ("body", &sealed),
                ],
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

/// The workstations `workstation` was restored from, as the audit rows imported from it so far record.
pub(super) fn restored_from(tx: &Tx<'_>, workstation: &str) -> Result<Vec<String>, HandoffError> {
    let mut st = tx.sql().prepare_cached(
        "SELECT seq, fv, detail FROM handoff_audit WHERE workstation = ?1 AND action = ?2 ORDER BY seq",
    )?;
    let rows = st.query_map(params![workstation, crate::backup::RESTORED], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?))
    })?;
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        let (seq, fv, sealed) = row?;
        let place_row = format!("{workstation}/{seq}");
        let place = Place { table: "handoff_audit", row: &place_row, column: "detail", format: fv as u32 };
        let plain = tx
            .keys()
            .open(&place, &sealed)
            .map_err(|_| VaultError::Integrity(format!("handoff_audit {place_row}: detail fails authentication")))?;
        let detail: serde_json::Value = serde_json::from_slice(&plain).unwrap_or_default();
        if let Some(from) = detail.get("from_workstation").and_then(serde_json::Value::as_str) {
            if !out.iter().any(|w| w == from) {
                out.push(from.to_string());
            }
        }
    }
    Ok(out)
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
    // Every column is given, so replacing the row keeps nothing of an earlier one unchecked.
    tx.insert(
        OnConflict::Replace,
        "handoff_staff",
        &[
            ("workstation", &workstation),
            ("username", &s.username),
            ("display_name", &s.display_name),
            ("role", &s.role),
        ],
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
    tx.insert(
        OnConflict::Abort,
        "handoff_audit",
        &[
            ("workstation", &workstation),
            ("seq", &a.row.seq),
            ("hash", &a.hash),
            ("at", &a.row.at),
            ("actor", &a.row.actor),
            ("action", &a.row.action),
            ("target", &a.row.target),
            ("fv", &1_i64),
            ("detail", &sealed),
        ],
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
            tx.insert(
                OnConflict::Abort,
                "episodes",
                &[
                    ("id", &ep.id),
                    ("unit", &ep.unit),
                    ("kind", &ep.kind.as_str()),
                    ("started_at", &ep.started_at),
                    ("started_by", &ep.started_by),
                    ("ended_at", &ep.ended_at),
                    ("ended_by", &ep.ended_by),
                    ("fv", &1_i64),
                    ("body", &sealed),
                ],
            )?;
        }
        Some(None) if ep.ended_at.is_some() => {
            tx.update("episodes", &[&ep.id], None, &[("ended_at", &ep.ended_at), ("ended_by", &ep.ended_by)])?;
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
    let no_snapshot: Option<String> = None;
    tx.insert(
        OnConflict::Abort,
        "patients",
        &[
            ("id", &r.id),
            ("mrn_idx", &token),
            ("source", &"registration"),
            ("snapshot_id", &no_snapshot),
            ("created_at", &stamp(tx.at())),
            ("fv", &1_i64),
            ("body", &sealed),
        ],
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
    // The workstation that charted it: this file's, or one this workstation was restored from (its log says so).
    let charted_on = match &e.workstation {
        None => &h.workstation,
        Some(w) if report.restored_from.contains(w) => w,
        Some(w) => {
            return Err(HandoffError::Inconsistent(format!(
                "entry {} names workstation {w}, but the file's audit log does not record a restore from it",
                e.id
            )))
        }
    };
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
        Some((ws, _)) if ws != *charted_on => {
            return Err(HandoffError::Inconsistent(format!(
                "entry {} was imported earlier from another workstation",
                e.id
            )))
        }
        Some((_, current)) => current,
        None => {
            let no_dup_idx: Option<Vec<u8>> = None;
            tx.insert(
                OnConflict::Abort,
                "entries",
                &[
                    ("id", &e.id),
                    ("patient_idx", &patient_idx),
                    ("form", &e.form),
                    ("episode_id", &h.episode),
                    ("author", &e.author),
                    ("workstation", charted_on),
                    ("status", &e.status.as_str()),
                    ("current_version", &e.current_version),
                    ("created_at", &e.created_at),
                    ("updated_at", &e.updated_at),
                    ("med_idx", &med_idx),
                    ("origin", &origin),
                    ("dup_idx", &no_dup_idx),
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
                tx.insert(
                    OnConflict::Abort,
                    "entry_versions",
                    &[
                        ("entry_id", &e.id),
                        ("version", &v.version),
                        ("kind", &v.kind),
                        ("author", &v.author),
                        ("recorded_at", &v.recorded_at),
                        ("signed_at", &v.signed_at),
                        ("signed_by", &v.signed_by),
                        ("content_hash", &v.content_hash),
                        ("fv", &1_i64),
                        ("body", &sealed),
                    ],
                )?;
                report.new_versions += 1;
                added = true;
            }
        }
    }
    if existing.is_some() && added && e.current_version > current {
        tx.update(
            "entries",
            &[&e.id],
            None,
            &[
                ("status", &e.status.as_str()),
                ("current_version", &e.current_version),
                ("updated_at", &e.updated_at),
                ("med_idx", &med_idx),
                ("patient_idx", &patient_idx),
            ],
        )?;
    }
    if existing.is_none() || added {
        let tracked = crate::reconcile::Tracked {
            entry_id: &e.id,
            workstation: charted_on,
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
