//! Patients the unit can chart on: the imported census snapshot and downtime registrations with temporary MRNs.
//! Stored sealed; found by MRN through a keyed blind index, never by a plaintext column.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::census::{Census, PatientRecord};
use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::site::MrnBlock;
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

/// Actions this module writes to the audit log.
pub mod action {
    pub const CENSUS_IMPORTED: &str = "census.imported";
    pub const PATIENT_REGISTERED: &str = "patient.registered";
    pub const PATIENT_VIEWED: &str = "patient.viewed";
}

/// Where a patient came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Census,
    Registration,
}

/// A patient as shown in lists and banners.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patient {
    pub id: String,
    pub source: Source,
    #[serde(flatten)]
    pub record: PatientRecord,
}

impl Patient {
    pub fn display_name(&self) -> String {
        self.record.display_name()
    }
}

/// The census snapshot currently loaded.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub imported_at: String,
    pub imported_by: String,
    /// When the EHR took it (falls back to the import time when the bundle does not say).
    pub snapshot_time: String,
    pub patient_count: i64,
}

/// How a census reached this workstation, kept in its import's audit row (no patient data), so the census status
/// can say where the current snapshot came from and whether the site's census key signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `file`: imported by someone signed in (`dtk census import`, the administrator's desk); `feed`: the census
    /// staged from `census_import_dir` (`dtk census stage`), imported at a sign-in.
    pub via: String,
    /// The fingerprint of the census key that signed the file; `None`: a plain FHIR Bundle.
    pub signer: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub snapshot: SnapshotInfo,
    pub patients: usize,
    pub allergies: usize,
    pub medications: usize,
    pub skipped: std::collections::BTreeMap<String, usize>,
}

fn place(id: &str) -> Place<'_> {
    Place { table: "patients", row: id, column: "body", format: FORMAT }
}

/// The blind-index token for an MRN (system and value).
pub fn mrn_token(keys: &Keys, system: &str, value: &str) -> Vec<u8> {
    keys.blind_index("mrn", &format!("{}|{}", system.trim(), value.trim()))
}

fn insert(
    tx: &mut Tx<'_>,
    source: Source,
    snapshot_id: Option<&str>,
    record: &PatientRecord,
) -> Result<String, VaultError> {
    let id = tx.new_id().to_string();
    let token = mrn_token(tx.keys(), &record.mrn_system, &record.mrn);
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(record).unwrap_or_default());
    let sealed = tx.seal(&place(&id), &plain);
    let source_text = match source {
        Source::Census => "census",
        Source::Registration => "registration",
    };
    let taken = tx
        .sql()
        .prepare_cached("SELECT count(*) FROM patients WHERE mrn_idx = ?1")?
        .query_row([&token], |r| r.get::<_, i64>(0))?
        > 0;
    if taken {
        return Err(VaultError::Integrity(
            "patients: this MRN is already on this workstation (census and registration collide)".into(),
        ));
    }
    tx.insert(
        OnConflict::Abort,
        "patients",
        &[
            ("id", &id),
            ("mrn_idx", &token),
            ("source", &source_text),
            ("snapshot_id", &snapshot_id),
            ("created_at", &stamp(tx.at())),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    Ok(id)
}

/// Replaces the census snapshot. Registered patients and every entry stay as they are.
pub fn import_census(tx: &mut Tx<'_>, census: &Census, from: &Provenance) -> Result<ImportSummary, VaultError> {
    let snapshot_id = tx.new_id().to_string();
    let imported_at = stamp(tx.at());
    let snapshot_time = census.snapshot_time.clone().unwrap_or_else(|| imported_at.clone());
    tx.sql().execute("DELETE FROM patients WHERE source = 'census'", [])?;
    for p in &census.patients {
        insert(tx, Source::Census, Some(&snapshot_id), p)?;
    }
    let body = serde_json::json!({ "skipped": census.skipped, "snapshot_time": census.snapshot_time });
    let sealed = tx.seal(
        &Place { table: "census_snapshots", row: &snapshot_id, column: "body", format: FORMAT },
        body.to_string().as_bytes(),
    );
    tx.insert(
        OnConflict::Abort,
        "census_snapshots",
        &[
            ("id", &snapshot_id),
            ("imported_at", &imported_at),
            ("imported_by", &tx.actor()),
            ("snapshot_time", &snapshot_time),
            ("patient_count", &(census.patients.len() as i64)),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    let allergies = census.patients.iter().map(|p| p.allergies.len()).sum();
    let medications = census.patients.iter().map(|p| p.medications.len()).sum();
    tx.audit(
        action::CENSUS_IMPORTED,
        &format!("census_snapshots:{snapshot_id}"),
        &serde_json::json!({
            "patients": census.patients.len(), "snapshot_time": snapshot_time, "skipped": census.skipped,
            "via": from.via, "signer": from.signer,
        }),
    )?;
    Ok(ImportSummary {
        snapshot: SnapshotInfo {
            id: snapshot_id,
            imported_at,
            imported_by: tx.actor().to_string(),
            snapshot_time,
            patient_count: census.patients.len() as i64,
        },
        patients: census.patients.len(),
        allergies,
        medications,
        skipped: census.skipped.clone(),
    })
}

/// How the snapshot `id` came, from its import's audit row (`None`: imported before this was recorded).
pub fn provenance(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<Option<Provenance>, VaultError> {
    let detail = crate::audit::newest_detail(conn, keys, action::CENSUS_IMPORTED, &format!("census_snapshots:{id}"))?;
    Ok(detail.and_then(|d| serde_json::from_value(d).ok()))
}

/// The newest census snapshot, if any.
pub fn current_snapshot(conn: &rusqlite::Connection) -> Result<Option<SnapshotInfo>, VaultError> {
    Ok(conn
        .query_row(
            "SELECT id, imported_at, imported_by, snapshot_time, patient_count FROM census_snapshots ORDER BY imported_at DESC, rowid DESC LIMIT 1",
            [],
            |r| Ok(SnapshotInfo { id: r.get(0)?, imported_at: r.get(1)?, imported_by: r.get(2)?, snapshot_time: r.get(3)?, patient_count: r.get(4)? }),
        )
        .optional()?)
}

fn decode(keys: &Keys, id: String, source: String, fv: i64, sealed: &[u8]) -> Result<Patient, VaultError> {
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(&id) };
    let plain = keys
        .open(&p, sealed)
        .map_err(|_| VaultError::Integrity(format!("patients {id}: body fails authentication")))?;
    let record: PatientRecord = serde_json::from_slice(&plain)
        .map_err(|_| VaultError::Integrity(format!("patients {id}: body is not a patient")))?;
    let source = if source == "registration" { Source::Registration } else { Source::Census };
    Ok(Patient { id, source, record })
}

/// Every patient, sorted by name, then date of birth, then MRN (so two "SMITH, Anna" stand apart and in a fixed
/// order).
pub fn list(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Patient>, VaultError> {
    let mut st = conn.prepare("SELECT id, source, fv, body FROM patients")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, Vec<u8>>(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, source, fv, body) = row?;
        out.push(decode(keys, id, source, fv, &body)?);
    }
    out.sort_by(|a, b| {
        (a.display_name().to_lowercase(), &a.record.birth_date, &a.record.mrn).cmp(&(
            b.display_name().to_lowercase(),
            &b.record.birth_date,
            &b.record.mrn,
        ))
    });
    Ok(out)
}

/// Finds a patient by MRN. The value is matched exactly (after trimming), under any of the given systems.
pub fn find_by_mrn(
    conn: &rusqlite::Connection,
    keys: &Keys,
    systems: &[&str],
    mrn: &str,
) -> Result<Option<Patient>, VaultError> {
    for system in systems {
        let token = mrn_token(keys, system, mrn);
        let row: Option<(String, String, i64, Vec<u8>)> = conn
            .prepare_cached("SELECT id, source, fv, body FROM patients WHERE mrn_idx = ?1")?
            .query_row([token], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        if let Some((id, source, fv, body)) = row {
            return Ok(Some(decode(keys, id, source, fv, &body)?));
        }
    }
    Ok(None)
}

/// What a downtime registration records about a patient not in the census.
#[derive(Debug, Clone, Deserialize)]
pub struct Registration {
    pub family: String,
    pub given: Vec<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
}

/// Errors of registration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    #[error(
        "this workstation has no block of temporary MRNs; hospital IT sets temp_mrn_block in the site configuration"
    )]
    NoBlock,
    #[error("the temporary MRN block {first}–{last} of this workstation is used up; ask hospital IT for a new block")]
    BlockExhausted { first: String, last: String },
    #[error("registration: {0}")]
    Invalid(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// How many temporary MRN numbers a restored vault skips after the last one its backup had issued: the original
/// workstation may have issued them between the backup and its death (a backup every 4 hours by default; a
/// mass-casualty event registers tens of patients in that time). IT may give the restored PC a new block instead.
pub const SKIPPED_AFTER_RESTORE: i64 = 100;
/// The `meta` key that keeps, after a restore, the last number the backup had issued (JSON: a number or null).
const RESTART_KEY: &str = "temp_mrn_restart";

/// Records, in a vault being restored, that the next [`SKIPPED_AFTER_RESTORE`] temporary MRN numbers are skipped.
/// Returns the last number the backup had issued (of any block), if any.
pub fn skip_after_restore(tx: &mut Tx<'_>) -> Result<Option<i64>, VaultError> {
    let last: Option<i64> = tx.sql().query_row("SELECT max(number) FROM temp_mrns", [], |r| r.get(0))?;
    let value = serde_json::to_vec(&last).unwrap_or_default();
    if tx.update("meta", &[&RESTART_KEY], None, &[("value", &value)])? == 0 {
        tx.insert_meta(RESTART_KEY, &value)?;
    }
    Ok(last)
}

/// The first number a restored vault may issue in `block`: past the skipped numbers after the backup's last one
/// when that one is in the block (or from the block's start when the backup had issued none); the block's start
/// when IT has since given the workstation another block.
fn first_after_restore(conn: &rusqlite::Connection, block: &MrnBlock) -> Result<Option<i64>, VaultError> {
    let value: Option<Vec<u8>> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [RESTART_KEY], |r| r.get(0)).optional()?;
    let Some(value) = value else { return Ok(None) };
    let last: Option<i64> = serde_json::from_slice(&value)
        .map_err(|_| VaultError::Integrity(format!("meta {RESTART_KEY}: not a number")))?;
    let (first, end) = (i64::from(block.first), i64::from(block.last));
    Ok(Some(match last {
        Some(n) if (first..=end).contains(&n) => n + 1 + SKIPPED_AFTER_RESTORE,
        Some(_) => first,
        None => first + SKIPPED_AFTER_RESTORE,
    }))
}

/// The number the next registration in `block` takes: after the last one issued in it, and past the numbers skipped
/// after a restore. Beyond `block.last` when the block is used up.
fn next_number(conn: &rusqlite::Connection, block: &MrnBlock) -> Result<i64, VaultError> {
    let last_issued: Option<i64> = conn.query_row(
        "SELECT max(number) FROM temp_mrns WHERE number BETWEEN ?1 AND ?2",
        params![block.first, block.last],
        |r| r.get(0),
    )?;
    let next = last_issued.map_or(i64::from(block.first), |n| n + 1);
    Ok(first_after_restore(conn, block)?.map_or(next, |restart| next.max(restart)))
}

/// How many temporary MRNs of `block` registration can still issue here. Reads only plaintext columns (the issued
/// numbers, the restart mark), so the readiness check asks it without a sign-in.
pub fn temp_mrns_left(conn: &rusqlite::Connection, block: &MrnBlock) -> Result<i64, VaultError> {
    Ok((i64::from(block.last) - next_number(conn, block)? + 1).max(0))
}

/// Registers a patient who is not in the census, issuing the next temporary MRN of this workstation's block.
pub fn register(
    tx: &mut Tx<'_>,
    block: Option<&MrnBlock>,
    temp_system: &str,
    reg: &Registration,
) -> Result<Patient, RegisterError> {
    let block = block.ok_or(RegisterError::NoBlock)?;
    if reg.family.trim().is_empty() && reg.given.iter().all(|g| g.trim().is_empty()) {
        return Err(RegisterError::Invalid(
            "a name is required (use a descriptive placeholder such as UNKNOWN, Male if not known)".into(),
        ));
    }
    if let Some(d) = &reg.birth_date {
        if !crate::forms::is_date(d) {
            return Err(RegisterError::Invalid("birth_date must be a date such as 1970-01-31".into()));
        }
    }
    let all_text = std::iter::once(&reg.family).chain(reg.given.iter()).chain(reg.location.iter());
    if all_text.clone().any(|t| t.chars().any(|c| crate::forms::is_control(c) || crate::forms::is_bidi_control(c))) {
        return Err(RegisterError::Invalid("names may not contain control or text-direction characters".into()));
    }
    let next = next_number(tx.sql(), block)?;
    if next > i64::from(block.last) {
        return Err(RegisterError::BlockExhausted { first: block.format(block.first), last: block.format(block.last) });
    }
    let mrn = block.format(u32::try_from(next).unwrap_or(block.last));
    let record = PatientRecord {
        mrn_system: temp_system.to_string(),
        mrn: mrn.clone(),
        family: reg.family.trim().to_string(),
        given: reg.given.iter().map(|g| g.trim().to_string()).filter(|g| !g.is_empty()).collect(),
        birth_date: reg.birth_date.clone(),
        gender: reg.gender.clone(),
        location: reg.location.clone(),
        encounter: None,
        allergies: Vec::new(),
        administrations: Vec::new(),
        medications: Vec::new(),
    };
    let id = insert(tx, Source::Registration, None, &record)?;
    tx.insert(
        OnConflict::Abort,
        "temp_mrns",
        &[("number", &next), ("patient_id", &id), ("issued_at", &stamp(tx.at()))],
    )?;
    tx.audit(action::PATIENT_REGISTERED, &format!("patients:{id}"), &serde_json::json!({ "mrn": mrn }))?;
    Ok(Patient { id, source: Source::Registration, record })
}

impl From<rusqlite::Error> for RegisterError {
    fn from(e: rusqlite::Error) -> Self {
        RegisterError::Vault(e.into())
    }
}
