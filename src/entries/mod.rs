//! Entries: one filled form about one patient, with every version kept. Lifecycle
//! `draft → signed → amended (new version) | entered-in-error (new version)`; signed versions are immutable (the
//! API never offers to change one, and a trigger refuses it in SQL too).
//!
//! Time model: `clinical_time` is when the care happened (the form's clinical-time item), `recorded_at` is when the
//! version was committed on this workstation. Both are kept on every version.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{parse_stamp, stamp};
use crate::crypto::{sha256_hex, Keys, Place};
use crate::patients::Patient;
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

pub mod safety;
pub mod unsigned;

const FORMAT: u32 = 1;

pub mod action {
    pub const CREATED: &str = "entry.created";
    pub const UPDATED: &str = "entry.draft_updated";
    pub const SIGNED: &str = "entry.signed";
    pub const AMENDED: &str = "entry.amended";
    pub const ENTERED_IN_ERROR: &str = "entry.entered_in_error";
    pub const VIEWED: &str = "entry.viewed";
    pub const ALLERGY_OVERRIDE: &str = "entry.allergy_override";
    pub const DUPLICATE_CONFIRMED: &str = "entry.duplicate_confirmed_distinct";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Draft,
    Signed,
    Amended,
    EnteredInError,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Signed => "signed",
            Status::Amended => "amended",
            Status::EnteredInError => "entered-in-error",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Draft, Status::Signed, Status::Amended, Status::EnteredInError].into_iter().find(|x| x.as_str() == s)
    }
}

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Electronic,
    /// Transcribed by HIM from a printed downtime form.
    Paper,
}

/// The patient as they were identified when the entry was made (kept in the entry, so it stays readable after the
/// census is re-imported or the patient leaves the unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientHeader {
    pub mrn_system: String,
    pub mrn: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub location: Option<String>,
}

impl From<&Patient> for PatientHeader {
    fn from(p: &Patient) -> Self {
        PatientHeader {
            mrn_system: p.record.mrn_system.clone(),
            mrn: p.record.mrn.clone(),
            name: p.display_name(),
            birth_date: p.record.birth_date.clone(),
            location: p.record.location.clone(),
        }
    }
}

/// For entries transcribed from paper: who wrote the paper form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperSource {
    /// The nurse named on the paper (the author).
    pub author_name: String,
    /// The QR payload read from the scanned page.
    pub qr: Option<String>,
}

/// The sealed content of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionBody {
    pub response: Value,
    pub clinical_time: Option<String>,
    pub patient: PatientHeader,
    pub medication: Option<String>,
    pub codes: Vec<String>,
    pub allergy_override: Option<String>,
    pub duplicate_confirmed: bool,
    /// The entries the author confirmed this one is a different event from, when saving it. Signing later asks again
    /// about any other possible duplicate (one charted since), and a version without this list (written before it
    /// existed) is asked again about all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct_from: Vec<String>,
    /// Why the version exists (amendment reason, entered-in-error reason).
    pub reason: Option<String>,
    pub paper: Option<PaperSource>,
}

/// One version as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub version: i64,
    pub kind: String,
    pub author: String,
    pub recorded_at: String,
    pub signed_at: Option<String>,
    pub signed_by: Option<String>,
    pub content_hash: String,
    #[serde(flatten)]
    pub body: VersionBody,
}

/// An entry as lists show it (its current version).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub form: String,
    pub episode_id: String,
    pub author: String,
    pub workstation: String,
    pub status: Status,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub origin: Origin,
    pub patient: PatientHeader,
    pub clinical_time: Option<String>,
    pub medication: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub summary: Summary,
    pub versions: Vec<Version>,
}

/// Errors of the entry lifecycle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    #[error("no entry {0} on this workstation")]
    NotFound(String),
    #[error("entry {0} is signed: signed versions cannot be changed; amend it instead")]
    Signed(String),
    #[error("entry {0} is not signed yet: sign it, or update the draft")]
    NotSigned(String),
    #[error("entry {0} was marked entered-in-error and can no longer change")]
    EnteredInError(String),
    #[error("entry {id}: only its author ({author}) may {what}")]
    NotAuthor { id: String, author: String, what: &'static str },
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn place(row: &str) -> Place<'_> {
    Place { table: "entry_versions", row, column: "body", format: FORMAT }
}

/// Normalised medication text for matching: lower case, letters and digits only, single spaces.
pub fn normalise_medication(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new entry, validated and bound to its patient.
pub struct NewEntry<'a> {
    pub form: &'a str,
    pub episode_id: &'a str,
    pub workstation: &'a str,
    pub patient: &'a Patient,
    pub body: VersionBody,
    pub sign: bool,
    pub origin: Origin,
    /// For paper transcription: HIM enters, the nurse on the paper is the author.
    pub author: Option<&'a str>,
}

/// The result of a durable save.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub id: String,
    pub version: i64,
    pub status: Status,
    pub content_hash: String,
}

fn content_hash(body: &VersionBody) -> String {
    sha256_hex(&serde_json::to_vec(&body.response).unwrap_or_default())
}

pub(crate) fn med_token(keys: &Keys, medication: Option<&str>) -> Option<Vec<u8>> {
    medication.map(|m| keys.blind_index("med", &normalise_medication(m)))
}

/// Width of the time buckets of the duplicate index: one hour.
const DUP_BUCKET_SECONDS: i64 = 3600;

/// Blind index of (patient, form, hour of the clinical time): the duplicate check looks up the few buckets its window
/// covers instead of decrypting every entry of the patient and form, which made each save slower as the outage went
/// on (issue 8). Keyed like every blind index, so the column reveals neither the patient nor the time.
fn dup_token(keys: &Keys, patient_idx: &[u8], form: &str, hour: i64) -> Vec<u8> {
    keys.blind_index("dup", &format!("{}|{form}|{hour}", crate::crypto::hex(patient_idx)))
}

/// The duplicate-index token of a version body, or `None` when it has no clinical time with a time part.
fn dup_token_of(keys: &Keys, patient_idx: &[u8], form: &str, body: &VersionBody) -> Option<Vec<u8>> {
    let at = body.clinical_time.as_deref().and_then(parse_fhir_time)?;
    Some(dup_token(keys, patient_idx, form, at.unix_timestamp().div_euclid(DUP_BUCKET_SECONDS)))
}

/// Recomputes the duplicate-index token of an entry after its content changed (draft update, amendment).
fn refresh_dup_token(tx: &mut Tx<'_>, id: &str, body: &VersionBody) -> Result<(), VaultError> {
    let (patient_idx, form): (Vec<u8>, String) =
        tx.sql()
            .query_row("SELECT patient_idx, form FROM entries WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let token = dup_token_of(tx.keys(), &patient_idx, &form, body);
    tx.update("entries", &[&id], None, &[("dup_idx", &token)])?;
    Ok(())
}

fn insert_version(
    tx: &mut Tx<'_>,
    id: &str,
    version: i64,
    kind: &str,
    author: &str,
    signed: bool,
    body: &VersionBody,
) -> Result<String, VaultError> {
    let row = format!("{id}/{version}");
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    let sealed = tx.seal(&place(&row), &plain);
    let hash = content_hash(body);
    let now = stamp(tx.at());
    let signer = signed.then(|| tx.actor().to_string());
    tx.insert(
        OnConflict::Abort,
        "entry_versions",
        &[
            ("entry_id", &id),
            ("version", &version),
            ("kind", &kind),
            ("author", &author),
            ("recorded_at", &now),
            ("signed_at", &signed.then(|| now.clone())),
            ("signed_by", &signer),
            ("content_hash", &hash),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    Ok(hash)
}

/// Creates an entry (version 1), signed at once or left as a draft.
pub fn create(tx: &mut Tx<'_>, id: &str, new: NewEntry<'_>) -> Result<Saved, EntryError> {
    let author = new.author.unwrap_or(tx.actor()).to_string();
    let patient_idx = crate::patients::mrn_token(tx.keys(), &new.patient.record.mrn_system, &new.patient.record.mrn);
    let med_idx = med_token(tx.keys(), new.body.medication.as_deref());
    let status = if new.sign { Status::Signed } else { Status::Draft };
    let now = stamp(tx.at());
    let origin = match new.origin {
        Origin::Electronic => "electronic",
        Origin::Paper => "paper",
    };
    let dup_idx = dup_token_of(tx.keys(), &patient_idx, new.form, &new.body);
    tx.insert(
        OnConflict::Abort,
        "entries",
        &[
            ("id", &id),
            ("patient_idx", &patient_idx),
            ("form", &new.form),
            ("episode_id", &new.episode_id),
            ("author", &author),
            ("workstation", &new.workstation),
            ("status", &status.as_str()),
            ("current_version", &1_i64),
            ("created_at", &now),
            ("updated_at", &now),
            ("med_idx", &med_idx),
            ("origin", &origin),
            ("dup_idx", &dup_idx),
        ],
    )?;
    let hash = insert_version(tx, id, 1, "original", &author, new.sign, &new.body)?;
    let target = format!("entries:{id}");
    tx.audit(
        action::CREATED,
        &target,
        &serde_json::json!({ "form": new.form, "mrn": new.patient.record.mrn, "origin": origin, "author": author }),
    )?;
    if let Some(reason) = &new.body.allergy_override {
        tx.audit(action::ALLERGY_OVERRIDE, &target, &serde_json::json!({ "reason": reason }))?;
    }
    if new.body.duplicate_confirmed {
        tx.audit(action::DUPLICATE_CONFIRMED, &target, &serde_json::json!({}))?;
    }
    if new.sign {
        tx.audit(action::SIGNED, &target, &serde_json::json!({ "version": 1, "content_hash": hash }))?;
    }
    Ok(Saved { id: id.to_string(), version: 1, status, content_hash: hash })
}

struct Row {
    author: String,
    status: Status,
    version: i64,
}

fn load_row(conn: &rusqlite::Connection, id: &str) -> Result<Row, EntryError> {
    conn.query_row("SELECT author, status, current_version FROM entries WHERE id = ?1", [id], |r| {
        let status: String = r.get(1)?;
        Ok(Row { author: r.get(0)?, status: Status::parse(&status).unwrap_or(Status::Draft), version: r.get(2)? })
    })
    .optional()?
    .ok_or_else(|| EntryError::NotFound(id.to_string()))
}

/// Reads one version's body.
pub fn version_body(
    conn: &rusqlite::Connection,
    keys: &Keys,
    id: &str,
    version: i64,
) -> Result<VersionBody, VaultError> {
    let (fv, sealed): (i64, Vec<u8>) = conn.query_row(
        "SELECT fv, body FROM entry_versions WHERE entry_id = ?1 AND version = ?2",
        params![id, version],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    open_body(keys, &format!("{id}/{version}"), fv, &sealed)
}

fn open_body(keys: &Keys, row: &str, fv: i64, sealed: &[u8]) -> Result<VersionBody, VaultError> {
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(row) };
    let plain = keys
        .open(&p, sealed)
        .map_err(|_| VaultError::Integrity(format!("entry_versions {row}: body fails authentication")))?;
    serde_json::from_slice(&plain)
        .map_err(|_| VaultError::Integrity(format!("entry_versions {row}: body is not an entry")))
}

/// Changes a version that is not signed yet (signing it, or a draft's new content); a signed one is left alone.
fn update_unsigned_version(
    tx: &Tx<'_>,
    id: &str,
    version: i64,
    set: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<usize, VaultError> {
    let unsigned: Option<String> = None;
    tx.update("entry_versions", &[&id, &version], Some(("signed_at", &unsigned)), set)
}

/// Signs the draft version. Only the author signs; `duplicate_confirmed` records that the author saw the
/// possible-duplicate flag and confirmed the entry is a different event.
pub fn sign(tx: &mut Tx<'_>, id: &str, duplicate_confirmed: bool) -> Result<Saved, EntryError> {
    let row = load_row(tx.sql(), id)?;
    if row.author != tx.actor() {
        return Err(EntryError::NotAuthor { id: id.into(), author: row.author, what: "sign it" });
    }
    match row.status {
        Status::Draft => {}
        Status::EnteredInError => return Err(EntryError::EnteredInError(id.into())),
        Status::Signed | Status::Amended => return Err(EntryError::Signed(id.into())),
    }
    let now = stamp(tx.at());
    let actor = tx.actor().to_string();
    update_unsigned_version(tx, id, row.version, &[("signed_at", &now), ("signed_by", &actor), ("recorded_at", &now)])?;
    tx.update("entries", &[&id], None, &[("status", &Status::Signed.as_str()), ("updated_at", &now)])?;
    let hash: String = tx.sql().query_row(
        "SELECT content_hash FROM entry_versions WHERE entry_id = ?1 AND version = ?2",
        params![id, row.version],
        |r| r.get(0),
    )?;
    let target = format!("entries:{id}");
    if duplicate_confirmed {
        tx.audit(action::DUPLICATE_CONFIRMED, &target, &serde_json::json!({}))?;
    }
    tx.audit(action::SIGNED, &target, &serde_json::json!({ "version": row.version, "content_hash": hash }))?;
    Ok(Saved { id: id.into(), version: row.version, status: Status::Signed, content_hash: hash })
}

/// Replaces the content of a draft (unsigned) entry in place.
pub fn update_draft(tx: &mut Tx<'_>, id: &str, body: &VersionBody) -> Result<Saved, EntryError> {
    let row = load_row(tx.sql(), id)?;
    if row.author != tx.actor() {
        return Err(EntryError::NotAuthor { id: id.into(), author: row.author, what: "change it" });
    }
    if row.status != Status::Draft {
        return Err(EntryError::Signed(id.into()));
    }
    let r = format!("{id}/{}", row.version);
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    let sealed = tx.seal(&place(&r), &plain);
    let hash = content_hash(body);
    let now = stamp(tx.at());
    update_unsigned_version(tx, id, row.version, &[("body", &sealed), ("content_hash", &hash), ("recorded_at", &now)])?;
    let med_idx = med_token(tx.keys(), body.medication.as_deref());
    tx.update("entries", &[&id], None, &[("updated_at", &now), ("med_idx", &med_idx)])?;
    refresh_dup_token(tx, id, body)?;
    tx.audit(action::UPDATED, &format!("entries:{id}"), &serde_json::json!({ "version": row.version }))?;
    Ok(Saved { id: id.into(), version: row.version, status: Status::Draft, content_hash: hash })
}

/// Adds a signed amendment as a new version. Every earlier version stays readable.
pub fn amend(tx: &mut Tx<'_>, id: &str, body: &VersionBody) -> Result<Saved, EntryError> {
    let row = load_row(tx.sql(), id)?;
    if row.author != tx.actor() {
        return Err(EntryError::NotAuthor { id: id.into(), author: row.author, what: "amend it" });
    }
    match row.status {
        Status::Signed | Status::Amended => {}
        Status::Draft => return Err(EntryError::NotSigned(id.into())),
        Status::EnteredInError => return Err(EntryError::EnteredInError(id.into())),
    }
    let version = row.version + 1;
    let actor = tx.actor().to_string();
    let hash = insert_version(tx, id, version, "amendment", &actor, true, body)?;
    let now = stamp(tx.at());
    let med_idx = med_token(tx.keys(), body.medication.as_deref());
    tx.update(
        "entries",
        &[&id],
        None,
        &[
            ("status", &Status::Amended.as_str()),
            ("current_version", &version),
            ("updated_at", &now),
            ("med_idx", &med_idx),
        ],
    )?;
    refresh_dup_token(tx, id, body)?;
    tx.audit(
        action::AMENDED,
        &format!("entries:{id}"),
        &serde_json::json!({ "version": version, "content_hash": hash, "reason": body.reason }),
    )?;
    Ok(Saved { id: id.into(), version, status: Status::Amended, content_hash: hash })
}

/// Marks an entry entered-in-error with a reason: a new version; the original stays. Its author or a charge nurse
/// (`may_override_author`) may do this.
pub fn enter_in_error(tx: &mut Tx<'_>, id: &str, reason: &str, may_override_author: bool) -> Result<Saved, EntryError> {
    let row = load_row(tx.sql(), id)?;
    if row.author != tx.actor() && !may_override_author {
        return Err(EntryError::NotAuthor { id: id.into(), author: row.author, what: "mark it entered-in-error" });
    }
    if row.status == Status::EnteredInError {
        return Err(EntryError::EnteredInError(id.into()));
    }
    let mut body = version_body(tx.sql(), tx.keys(), id, row.version)?;
    if let Some(obj) = body.response.as_object_mut() {
        obj.insert("status".into(), Value::String("entered-in-error".into()));
    }
    body.reason = Some(reason.to_string());
    let version = row.version + 1;
    let actor = tx.actor().to_string();
    let hash = insert_version(tx, id, version, "entered-in-error", &actor, true, &body)?;
    let now = stamp(tx.at());
    tx.update(
        "entries",
        &[&id],
        None,
        &[("status", &Status::EnteredInError.as_str()), ("current_version", &version), ("updated_at", &now)],
    )?;
    tx.audit(
        action::ENTERED_IN_ERROR,
        &format!("entries:{id}"),
        &serde_json::json!({ "version": version, "reason": reason }),
    )?;
    Ok(Saved { id: id.into(), version, status: Status::EnteredInError, content_hash: hash })
}

/// Which entries a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Blind-index token of the patient's MRN.
    pub patient_idx: Option<Vec<u8>>,
    pub episode_id: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

const SUMMARY_SQL: &str =
    "SELECT e.id, e.form, e.episode_id, e.author, e.workstation, e.status, e.current_version, e.created_at,
        e.updated_at, e.origin, v.fv, v.body
   FROM entries e JOIN entry_versions v ON v.entry_id = e.id AND v.version = e.current_version";

fn summary_from(keys: &Keys, r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Summary, VaultError>> {
    let id: String = r.get(0)?;
    let version: i64 = r.get(6)?;
    let status: String = r.get(5)?;
    let origin: String = r.get(9)?;
    let fv: i64 = r.get(10)?;
    let sealed: Vec<u8> = r.get(11)?;
    let body = match open_body(keys, &format!("{id}/{version}"), fv, &sealed) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Summary {
        id,
        form: r.get(1)?,
        episode_id: r.get(2)?,
        author: r.get(3)?,
        workstation: r.get(4)?,
        status: Status::parse(&status).unwrap_or(Status::Draft),
        version,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        origin: if origin == "paper" { Origin::Paper } else { Origin::Electronic },
        patient: body.patient,
        clinical_time: body.clinical_time,
        medication: body.medication,
    }))
}

/// Entries, newest first.
pub fn list(conn: &rusqlite::Connection, keys: &Keys, filter: &Filter) -> Result<Vec<Summary>, VaultError> {
    let mut sql = format!("{SUMMARY_SQL} WHERE 1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(idx) = &filter.patient_idx {
        sql.push_str(" AND e.patient_idx = ?");
        args.push(rusqlite::types::Value::Blob(idx.clone()));
    }
    if let Some(ep) = &filter.episode_id {
        sql.push_str(" AND e.episode_id = ?");
        args.push(rusqlite::types::Value::Text(ep.clone()));
    }
    sql.push_str(" ORDER BY e.created_at DESC, e.id");
    if let Some(limit) = filter.limit {
        sql.push_str(&format!(" LIMIT {limit} OFFSET {}", filter.offset));
    }
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map(rusqlite::params_from_iter(args), |r| summary_from(keys, r))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

pub fn summary(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<Option<Summary>, VaultError> {
    let mut st = conn.prepare_cached(&format!("{SUMMARY_SQL} WHERE e.id = ?1"))?;
    st.query_row([id], |r| summary_from(keys, r)).optional()?.transpose()
}

/// Whether an entry with this id exists (a save refuses to reuse one).
pub fn exists(conn: &rusqlite::Connection, id: &str) -> Result<bool, VaultError> {
    Ok(conn.prepare_cached("SELECT 1 FROM entries WHERE id = ?1")?.exists([id])?)
}

/// An entry with every version, oldest first.
pub fn detail(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<Option<Detail>, VaultError> {
    let Some(summary) = summary(conn, keys, id)? else { return Ok(None) };
    let mut st = conn.prepare(
        "SELECT version, kind, author, recorded_at, signed_at, signed_by, content_hash, fv, body FROM entry_versions WHERE entry_id = ?1 ORDER BY version",
    )?;
    let rows = st.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, Vec<u8>>(8)?,
        ))
    })?;
    let mut versions = Vec::new();
    for row in rows {
        let (version, kind, author, recorded_at, signed_at, signed_by, content_hash, fv, sealed) = row?;
        let body = open_body(keys, &format!("{id}/{version}"), fv, &sealed)?;
        versions.push(Version { version, kind, author, recorded_at, signed_at, signed_by, content_hash, body });
    }
    Ok(Some(Detail { summary, versions }))
}

/// What makes two entries possibly the same event.
pub struct DuplicateQuery<'a> {
    pub patient_idx: &'a [u8],
    pub form: &'a str,
    pub medication: Option<&'a str>,
    pub clinical_time: Option<&'a str>,
    pub window_minutes: i64,
    /// The entry being checked itself.
    pub exclude: Option<&'a str>,
}

/// Entries of the same patient and form (and medication, when the form has one) whose clinical time lies within
/// the window of the query's clinical time: possible duplicates. Entered-in-error entries do not count.
pub fn possible_duplicates(
    conn: &rusqlite::Connection,
    keys: &Keys,
    q: &DuplicateQuery<'_>,
) -> Result<Vec<Summary>, VaultError> {
    let DuplicateQuery { patient_idx, form, medication, clinical_time, window_minutes, exclude } = *q;
    let Some(when) = clinical_time.and_then(parse_fhir_time) else { return Ok(Vec::new()) };
    let med = med_token(keys, medication);
    use rusqlite::types::Value as V;
    // Candidates: the entries in the hour buckets the window touches, plus entries without a bucket token (written
    // before the index existed); both are then checked exactly against their decrypted clinical time.
    let window = window_minutes.clamp(0, 24 * 60) * 60;
    let first = (when.unix_timestamp() - window).div_euclid(DUP_BUCKET_SECONDS);
    let last = (when.unix_timestamp() + window).div_euclid(DUP_BUCKET_SECONDS);
    let tokens: Vec<V> = (first..=last).map(|h| V::Blob(dup_token(keys, patient_idx, form, h))).collect();
    let marks = vec!["?"; tokens.len()].join(", ");
    // INDEXED BY: left to itself, the planner walks the patient's page index (every entry of the patient) because
    // of the patient filter; the bucket index reads only the few rows of the window's hours.
    let from = |index: &str| SUMMARY_SQL.replace("FROM entries e", &format!("FROM entries e INDEXED BY {index}"));
    let queries = [
        (
            format!(
                "{} WHERE e.dup_idx IN ({marks}) AND e.patient_idx = ? AND e.form = ?",
                from("entries_by_dup_bucket")
            ),
            tokens,
        ),
        (
            format!("{} WHERE e.dup_idx IS NULL AND e.patient_idx = ? AND e.form = ?", from("entries_dup_unbucketed")),
            Vec::new(),
        ),
    ];
    let mut out = Vec::new();
    for (mut sql, mut args) in queries {
        args.push(V::Blob(patient_idx.to_vec()));
        args.push(V::Text(form.to_string()));
        sql.push_str(" AND e.status != 'entered-in-error'");
        if let Some(m) = &med {
            sql.push_str(" AND e.med_idx = ?");
            args.push(V::Blob(m.clone()));
        }
        // Cached: every save runs these two (the window, hence the number of buckets, is a site setting).
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| summary_from(keys, r))?;
        for r in rows {
            let s = r??;
            if Some(s.id.as_str()) == exclude {
                continue;
            }
            let close = s
                .clinical_time
                .as_deref()
                .and_then(parse_fhir_time)
                .is_some_and(|t| (t - when).whole_minutes().abs() <= window_minutes);
            if close {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// A FHIR dateTime with a time part, as an instant (dates alone carry no time to compare).
pub fn parse_fhir_time(s: &str) -> Option<time::OffsetDateTime> {
    // FHIR requires seconds and an offset whenever a time is given, which is exactly RFC 3339.
    parse_stamp(s)
}

impl From<rusqlite::Error> for EntryError {
    fn from(e: rusqlite::Error) -> Self {
        EntryError::Vault(e.into())
    }
}
