//! Storage of the unit share: the segments published and received (`unit_segments`, one row each, the publisher's
//! own under its own workstation id) and the peers' records (`unit_records`, sealed, kept apart from this
//! workstation's entries). The peers' entries are looked up here by the duplicate check at save.

use std::collections::BTreeMap;

use rusqlite::OptionalExtension;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::crypto::{Keys, Place};
use crate::entries::{normalise_medication, parse_fhir_time, DuplicateQuery};
use crate::handoff::{EntryRecord, EpisodeRecord, EventRecord};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

/// One segment as recorded: the publisher's own, or one received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    pub workstation: String,
    pub sequence: u64,
    pub file_sha256: String,
    /// The writer's Ed25519 key (hex).
    pub signer: String,
    /// By the writer's clock.
    pub created_at: String,
    /// By this workstation's clock (the same as `created_at` for its own segments).
    pub received_at: String,
    /// The writer's newest audit row carried so far.
    pub watermark: i64,
    /// The head of the writer's unkeyed audit chain after this segment (hex).
    pub audit_head: String,
}

/// The newest segment recorded of `workstation`, if any.
pub fn last_segment(conn: &rusqlite::Connection, workstation: &str) -> Result<Option<SegmentRow>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT workstation, sequence, file_sha256, signer, created_at, received_at, watermark, audit_head
           FROM unit_segments WHERE workstation = ?1 ORDER BY sequence DESC LIMIT 1",
    )?;
    Ok(st.query_row([workstation], segment_row).optional()?)
}

/// Every segment recorded of `workstation`, by sequence (its SHA-256 tells a file read again from a rewritten one).
pub fn segments(conn: &rusqlite::Connection, workstation: &str) -> Result<Vec<SegmentRow>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT workstation, sequence, file_sha256, signer, created_at, received_at, watermark, audit_head
           FROM unit_segments WHERE workstation = ?1 ORDER BY sequence",
    )?;
    let rows = st.query_map([workstation], segment_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest segment of every workstation but `own`: how fresh each peer is. Plaintext columns only (their row
/// MAC covers them), so the banner needs no sign-in.
pub fn newest_per_peer(conn: &rusqlite::Connection, own: &str) -> Result<Vec<SegmentRow>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT workstation, max(sequence), file_sha256, signer, created_at, received_at, watermark, audit_head
           FROM unit_segments WHERE workstation != ?1 GROUP BY workstation ORDER BY workstation",
    )?;
    let rows = st.query_map([own], segment_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn segment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SegmentRow> {
    Ok(SegmentRow {
        workstation: r.get(0)?,
        sequence: r.get::<_, i64>(1)? as u64,
        file_sha256: r.get(2)?,
        signer: r.get(3)?,
        created_at: r.get(4)?,
        received_at: r.get(5)?,
        watermark: r.get(6)?,
        audit_head: r.get(7)?,
    })
}

/// On the HIM station: each workstation whose segments were imported from a unit share and whose entries on the
/// worklist include some with no handoff file of that workstation for their episode: (workstation, its newest
/// segment, when it wrote that one, how many such entries).
pub fn share_only(conn: &rusqlite::Connection) -> Result<Vec<(String, u64, String, u64)>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT s.workstation, s.sequence, s.created_at,
                (SELECT count(*) FROM entries e WHERE e.workstation = s.workstation
                    AND NOT EXISTS (SELECT 1 FROM handoff_files f
                                     WHERE f.workstation = e.workstation AND f.episode_id = e.episode_id)) AS n
           FROM unit_segments s
          WHERE s.sequence = (SELECT max(t.sequence) FROM unit_segments t WHERE t.workstation = s.workstation)
            AND n > 0
          ORDER BY s.workstation",
    )?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, String>(2)?, r.get::<_, i64>(3)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a segment (published or received).
pub fn record_segment(tx: &mut Tx<'_>, s: &SegmentRow) -> Result<(), VaultError> {
    tx.insert(
        OnConflict::Abort,
        "unit_segments",
        &[
            ("workstation", &s.workstation),
            ("sequence", &(s.sequence as i64)),
            ("file_sha256", &s.file_sha256),
            ("signer", &s.signer),
            ("created_at", &s.created_at),
            ("received_at", &s.received_at),
            ("watermark", &s.watermark),
            ("audit_head", &s.audit_head),
        ],
    )?;
    Ok(())
}

/// The kinds of record kept from peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Episode,
    Staff,
    Registration,
    Event,
    Audit,
    Entry,
    /// What the peer's newest segment said its authors left unsigned (drafts never leave a workstation).
    Unsigned,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Episode => "episode",
            Kind::Staff => "staff",
            Kind::Registration => "registration",
            Kind::Event => "event",
            Kind::Audit => "audit",
            Kind::Entry => "entry",
            Kind::Unsigned => "unsigned",
        }
    }

    /// Whether a later segment may carry a new state of the record (an episode that ended, a staff name changed).
    /// Events, audit rows and signed entry versions never change: the same one with other content is refused.
    fn replaceable(self) -> bool {
        matches!(self, Kind::Episode | Kind::Staff | Kind::Registration | Kind::Unsigned)
    }
}

/// A peer's signed entry version as kept here: the entry (with this one version in `versions`) and its episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerVersion {
    pub episode: String,
    pub entry: EntryRecord,
}

/// The blind indexes a peer's entry version is found by (under this vault's key).
pub struct EntryIndex {
    pub patient_idx: Vec<u8>,
    pub form: String,
    pub med_idx: Option<Vec<u8>>,
}

/// What storing a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The same record was kept already (a segment read twice changes nothing).
    Known,
}

fn place(row: &str) -> Place<'_> {
    Place { table: "unit_records", row, column: "body", format: FORMAT }
}

/// Keeps one record of peer `workstation`. A record of a kind that never changes, received again with other
/// content, is refused (`Err(Some(reason))`), naming the kind and id.
pub fn put<T: Serialize + DeserializeOwned + PartialEq>(
    tx: &mut Tx<'_>,
    workstation: &str,
    kind: Kind,
    id: &str,
    sequence: u64,
    index: Option<&EntryIndex>,
    value: &T,
) -> Result<Result<Stored, String>, VaultError> {
    let row = format!("{workstation}/{}/{id}", kind.as_str());
    let existing: Option<(i64, Vec<u8>)> = tx
        .sql()
        .prepare_cached("SELECT fv, body FROM unit_records WHERE workstation = ?1 AND kind = ?2 AND id = ?3")?
        .query_row([workstation, kind.as_str(), id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((_, sealed)) = &existing {
        let old: T = open(tx.keys(), &row, sealed)?;
        if &old == value {
            return Ok(Ok(Stored::Known));
        }
        if !kind.replaceable() {
            return Ok(Err(format!("{} {id} differs from the one received before", kind.as_str())));
        }
    }
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
    let sealed = tx.seal(&place(&row), &plain);
    let (patient_idx, form, med_idx) = match index {
        Some(i) => (Some(i.patient_idx.clone()), Some(i.form.clone()), i.med_idx.clone()),
        None => (None, None, None),
    };
    tx.insert(
        OnConflict::Replace,
        "unit_records",
        &[
            ("workstation", &workstation),
            ("kind", &kind.as_str()),
            ("id", &id),
            ("sequence", &(sequence as i64)),
            ("patient_idx", &patient_idx),
            ("form", &form),
            ("med_idx", &med_idx),
            ("fv", &i64::from(FORMAT)),
            ("body", &sealed),
        ],
    )?;
    Ok(Ok(Stored::New))
}

fn open<T: DeserializeOwned>(keys: &Keys, row: &str, sealed: &[u8]) -> Result<T, VaultError> {
    let plain = keys
        .open(&place(row), sealed)
        .map_err(|_| VaultError::Integrity(format!("unit_records {row}: body fails authentication")))?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Integrity(format!("unit_records {row}: not a record")))
}

/// A peer's entry that the duplicate check found: which workstation charted it and when it arrived here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerEntry {
    pub workstation: String,
    pub episode: String,
    pub id: String,
    pub form: String,
    pub author: String,
    pub version: i64,
    pub kind: String,
    pub medication: Option<String>,
    pub clinical_time: Option<String>,
    /// By this workstation's clock.
    pub received_at: String,
}

/// The peers' entries of one patient (blind index; every patient when `None`) and form, each at its newest version
/// received.
fn entries_of(
    conn: &rusqlite::Connection,
    keys: &Keys,
    patient_idx: Option<&[u8]>,
    form: Option<&str>,
) -> Result<Vec<(PeerVersion, PeerEntry)>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT r.workstation, r.id, r.body, s.received_at FROM unit_records r
           JOIN unit_segments s ON s.workstation = r.workstation AND s.sequence = r.sequence
          WHERE r.kind = 'entry' AND (?1 IS NULL OR r.patient_idx = ?1) AND (?2 IS NULL OR r.form = ?2)",
    )?;
    let rows = st.query_map(rusqlite::params![patient_idx, form], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, String>(3)?))
    })?;
    // The newest version of each (workstation, entry).
    let mut newest: BTreeMap<(String, String), (PeerVersion, PeerEntry)> = BTreeMap::new();
    for row in rows {
        let (workstation, id, sealed, received_at) = row?;
        let v: PeerVersion = open(keys, &format!("{workstation}/entry/{id}"), &sealed)?;
        let Some(ver) = v.entry.versions.last() else { continue };
        let entry = PeerEntry {
            workstation: workstation.clone(),
            episode: v.episode.clone(),
            id: v.entry.id.clone(),
            form: v.entry.form.clone(),
            author: v.entry.author.clone(),
            version: ver.version,
            kind: ver.kind.clone(),
            medication: ver.body.medication.clone(),
            clinical_time: ver.body.clinical_time.clone(),
            received_at,
        };
        let key = (workstation, v.entry.id.clone());
        if newest.get(&key).is_none_or(|(_, e)| e.version < entry.version) {
            newest.insert(key, (v, entry));
        }
    }
    Ok(newest.into_values().collect())
}

/// The peers' entries that may be the same event as `q` (same patient, form and medication, clinical times within
/// the window; entered-in-error ones do not count): the rule of [`crate::entries::possible_duplicates`], applied to
/// what the unit share brought.
pub fn possible_duplicates(
    conn: &rusqlite::Connection,
    keys: &Keys,
    q: &DuplicateQuery<'_>,
) -> Result<Vec<PeerEntry>, VaultError> {
    let Some(when) = q.clinical_time.and_then(parse_fhir_time) else { return Ok(Vec::new()) };
    let med = q.medication.map(normalise_medication);
    Ok(entries_of(conn, keys, Some(q.patient_idx), Some(q.form))?
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.kind != "entered-in-error" && Some(e.id.as_str()) != q.exclude)
        .filter(|e| med.is_none() || e.medication.as_deref().map(normalise_medication) == med)
        .filter(|e| {
            e.clinical_time
                .as_deref()
                .and_then(parse_fhir_time)
                .is_some_and(|t| (t - when).whole_minutes().abs() <= q.window_minutes)
        })
        .collect())
}

/// Every entry the peers charted for one patient (blind index; every patient when `None`), newest version of each,
/// with the version's content: what a unit overview or a patient's chart shows as "from workstation X, received at …".
pub fn patient_entries(
    conn: &rusqlite::Connection,
    keys: &Keys,
    patient_idx: Option<&[u8]>,
) -> Result<Vec<(PeerVersion, PeerEntry)>, VaultError> {
    entries_of(conn, keys, patient_idx, None)
}

/// The patients registered during the downtime on the unit's other workstations, as the unit share brought their
/// registrations: (the workstation, the patient), by workstation.
pub fn peer_patients(
    conn: &rusqlite::Connection,
    keys: &Keys,
) -> Result<Vec<(String, crate::patients::Patient)>, VaultError> {
    let mut st = conn.prepare_cached(
        "SELECT workstation, id, body FROM unit_records WHERE kind = 'registration' ORDER BY workstation, id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (workstation, id, sealed) = row?;
        let r: crate::handoff::Registered = open(keys, &format!("{workstation}/registration/{id}"), &sealed)?;
        let patient =
            crate::patients::Patient { id: r.id, source: crate::patients::Source::Registration, record: r.record };
        out.push((workstation, patient));
    }
    Ok(out)
}

/// A patient registered on another workstation of the unit, found by MRN (exactly, under any of `systems`).
/// Registrations are few (a unit registers tens of patients in an outage), so each is opened and compared.
pub fn peer_patient(
    conn: &rusqlite::Connection,
    keys: &Keys,
    systems: &[&str],
    mrn: &str,
) -> Result<Option<(String, crate::patients::Patient)>, VaultError> {
    Ok(peer_patients(conn, keys)?
        .into_iter()
        .find(|(_, p)| p.record.mrn == mrn && systems.contains(&p.record.mrn_system.as_str())))
}

/// What each peer's newest segment said its authors left unsigned: (workstation, author, entries).
pub fn unsigned_elsewhere(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<(String, String, u64)>, VaultError> {
    let mut st =
        conn.prepare_cached("SELECT workstation, body FROM unit_records WHERE kind = 'unsigned' ORDER BY workstation")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (workstation, sealed) = row?;
        let counts: Vec<crate::handoff::UnsignedCount> =
            open(keys, &format!("{workstation}/unsigned/latest"), &sealed)?;
        out.extend(counts.into_iter().map(|c| (workstation.clone(), c.author, c.entries)));
    }
    Ok(out)
}

/// How many records of each kind peer `workstation` has here.
pub fn counts(conn: &rusqlite::Connection, workstation: &str) -> Result<BTreeMap<String, u64>, VaultError> {
    let mut st = conn.prepare_cached("SELECT kind, count(*) FROM unit_records WHERE workstation = ?1 GROUP BY kind")?;
    let rows = st.query_map([workstation], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An event as kept from a peer: the episode it belongs to, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerEvent {
    pub episode: String,
    pub event: EventRecord,
}

/// Every episode event the unit's other workstations sent, each with its workstation and its episode's kind (a
/// drill's events never count in a real episode, nor the reverse), oldest first.
pub fn peer_events(
    conn: &rusqlite::Connection,
    keys: &Keys,
) -> Result<Vec<(String, crate::episodes::Kind, EventRecord)>, VaultError> {
    let mut kinds = BTreeMap::new();
    let mut st = conn.prepare_cached("SELECT workstation, id, body FROM unit_records WHERE kind = 'episode'")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
    for row in rows {
        let (workstation, id, sealed) = row?;
        let e: EpisodeRecord = open(keys, &format!("{workstation}/episode/{id}"), &sealed)?;
        kinds.insert((workstation, id), e.kind);
    }
    let mut st = conn.prepare_cached("SELECT workstation, id, body FROM unit_records WHERE kind = 'event'")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (workstation, id, sealed) = row?;
        let kept: PeerEvent = open(keys, &format!("{workstation}/event/{id}"), &sealed)?;
        if let Some(kind) = kinds.get(&(workstation.clone(), kept.episode.clone())) {
            out.push((workstation, *kind, kept.event));
        }
    }
    out.sort_by_key(|(_, _, e)| crate::clock::parse_stamp(&e.at));
    Ok(out)
}
