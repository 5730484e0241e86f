//! Receiving: the peers' folders of the unit share read without writing anything there, and each segment checked
//! against what was received before from its workstation (the next sequence number, the previous segment's hash, the
//! same signer, the audit chain continued) before its records are kept. A segment that fails is refused and named;
//! nothing of it is kept, and the next sync tries again.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::segment::Opened;
use super::store::{self, EntryIndex, Kind, PeerEvent, PeerVersion, SegmentRow, Stored};
use super::{action, sequence_of, Counts, UnitError, MAX_SEGMENT_BYTES};
use crate::clock::stamp;
use crate::crypto::{hex, unhex};
use crate::entries::Status;
use crate::handoff::{chain_genesis, chain_link, check_entry, EndRecord, EntryRecord, Record};
use crate::vault::Tx;

/// One peer's folder in the share: its segment files by sequence, and files that are not (yet) segments.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    /// The folder's name: the workstation id its segments must carry.
    pub name: String,
    pub segments: Vec<(u64, PathBuf)>,
    /// Temporary files (a segment being written or copied): ignored until they are renamed into place.
    pub partial: Vec<String>,
}

/// The peers' folders in `share`: every folder but `own`'s, sorted by name. An error when the share cannot be
/// listed (unplugged, unmounted, no permission).
pub fn scan(share: &Path, own: &str) -> std::io::Result<Vec<Folder>> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(share)? {
        let d = d?;
        let name = d.file_name().to_string_lossy().into_owned();
        if name == own || name.starts_with('.') || !d.file_type()?.is_dir() {
            continue;
        }
        let mut folder = Folder { name, ..Folder::default() };
        for f in std::fs::read_dir(d.path())? {
            let f = f?;
            let file = f.file_name().to_string_lossy().into_owned();
            match sequence_of(&file) {
                Some(n) => folder.segments.push((n, f.path())),
                None if file.starts_with('.') || file.ends_with(".tmp") => folder.partial.push(file),
                None => {}
            }
        }
        folder.segments.sort();
        folder.partial.sort();
        out.push(folder);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads a segment file whole, refusing one larger than [`MAX_SEGMENT_BYTES`] before reading it.
pub fn read(path: &Path, file: &str) -> Result<Vec<u8>, UnitError> {
    let unreadable = |reason: String| UnitError::Unreadable { file: file.into(), reason };
    let len = std::fs::metadata(path).map_err(|e| unreadable(format!("cannot be read: {e}")))?.len();
    if len > MAX_SEGMENT_BYTES {
        return Err(unreadable(format!("{len} bytes, over the {} MiB limit", MAX_SEGMENT_BYTES >> 20)));
    }
    std::fs::read(path).map_err(|e| unreadable(format!("cannot be read: {e}")))
}

/// What one segment brought (new records only: a record received before is not counted again).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Received {
    pub workstation: String,
    pub sequence: u64,
    #[serde(flatten)]
    pub counts: Counts,
    /// Minutes the writer's clock was ahead of this one's when the segment arrived (negative: behind). Shown, never
    /// used for ordering (the sequence number orders segments).
    pub clock_offset_minutes: i64,
}

/// Checks an opened segment of folder `folder` against what was received before from its workstation and keeps
/// its records apart as a peer's ([`store`]), with a `unit.received` audit row (counts only).
pub fn accept(tx: &mut Tx<'_>, folder: &str, file: &str, seg: &Opened) -> Result<Received, UnitError> {
    let (ws, sequence) = (seg.header.workstation.as_str(), seg.header.sequence);
    let got = walk(tx, folder, file, seg, &mut |tx, record, episode, counts| {
        keep(tx, ws, sequence, record, episode, counts)
    })?;
    tx.audit(
        action::RECEIVED,
        &format!("unit:{ws}/{sequence}"),
        &serde_json::json!({ "workstation": ws, "sequence": sequence, "received": got.counts }),
    )?;
    Ok(got)
}

/// What becomes of one record of a segment that follows its predecessors: given the transaction, the record, the
/// id of the episode the records since the last `Episode` record belong to, and the counts of what is new. `Ok(Err)`
/// refuses the segment with that reason.
pub type Keep<'k> =
    dyn FnMut(&mut Tx<'_>, &Record, Option<&str>, &mut Counts) -> Result<Result<(), String>, UnitError> + 'k;

/// The checks every segment passes before anything of it counts, whoever reads it (a peer workstation, or the HIM
/// station reading a share's copy): the folder is its writer's, it is the next segment of that writer (sequence,
/// the previous file's SHA-256, the same signer), its audit rows continue the writer's chain, events and entries
/// follow their episode, the end record comes last and matches what the segment holds. `keep` is given each
/// record in order; the segment is recorded (`unit_segments`) once all of them passed. Nothing is written when it
/// fails: the caller's transaction rolls back.
pub fn walk(
    tx: &mut Tx<'_>,
    folder: &str,
    file: &str,
    seg: &Opened,
    keep: &mut Keep<'_>,
) -> Result<Received, UnitError> {
    let h = &seg.header;
    let refuse = |reason: String| UnitError::Refused { file: file.into(), reason };
    if h.workstation != folder {
        return Err(refuse(format!("written by workstation {} into the folder of another", h.workstation)));
    }
    let signer = hex(seg.signer.as_bytes());
    let last = store::last_segment(tx.sql(), &h.workstation)?;
    let expected = last.as_ref().map_or(1, |l| l.sequence + 1);
    if h.sequence != expected {
        return Err(refuse(format!("is segment {} but segment {expected} comes next", h.sequence)));
    }
    if let Some(l) = &last {
        if h.previous != l.file_sha256 {
            return Err(refuse(format!(
                "does not follow segment {} received before (the share holds a rewritten history)",
                l.sequence
            )));
        }
        if !signer.eq_ignore_ascii_case(&l.signer) {
            return Err(refuse("signed by another key than this workstation's earlier segments".into()));
        }
    } else if !h.previous.is_empty() {
        return Err(refuse("a first segment that names one before it".into()));
    }
    let mut head = match last.as_ref().and_then(|l| unhex::<32>(&l.audit_head)) {
        Some(h) => h,
        None => chain_genesis(&h.workstation),
    };
    let mut watermark = last.as_ref().map_or(0, |l| l.watermark);
    let mut got = Received { workstation: h.workstation.clone(), sequence: h.sequence, ..Received::default() };
    let mut seen = EndRecord::default();
    let mut episode: Option<&str> = None;
    let mut end: Option<&EndRecord> = None;
    for record in &seg.records {
        if end.is_some() {
            return Err(refuse("records after its end record".into()));
        }
        match record {
            Record::Staff(_) => seen.staff += 1,
            Record::Registration(_) => seen.registrations += 1,
            Record::Audit(a) => {
                seen.audit_rows += 1;
                head = chain_link(&head, &a.row);
                if hex(&head) != a.hash || a.row.seq <= watermark {
                    return Err(refuse(format!("audit row {} does not continue the workstation's log", a.row.seq)));
                }
                watermark = a.row.seq;
            }
            Record::Episode(e) => episode = Some(&e.id),
            Record::Event(e) => {
                seen.events += 1;
                if episode.is_none() {
                    return Err(refuse(format!("event {} before its episode", e.id)));
                }
            }
            Record::Entry(e) => {
                seen.entries += 1;
                seen.versions += e.versions.len() as u64;
                if episode.is_none() {
                    return Err(refuse(format!("entry {} before its episode", e.id)));
                }
                check_entry(e).map_err(|x| refuse(x.to_string()))?;
            }
            Record::End(e) => end = Some(e),
        }
        if let Err(reason) = keep(tx, record, episode, &mut got.counts)? {
            return Err(refuse(reason));
        }
    }
    let Some(end) = end else { return Err(refuse("no end record".into())) };
    let counts = |e: &EndRecord| (e.staff, e.registrations, e.events, e.audit_rows, e.entries, e.versions);
    if counts(end) != counts(&seen) || end.audit_head != hex(&head) {
        return Err(refuse("its end record does not match what it holds".into()));
    }
    let received_at = stamp(tx.at());
    got.clock_offset_minutes = crate::clock::parse_stamp(&h.created_at).map_or(0, |at| (at - tx.at()).whole_minutes());
    store::record_segment(
        tx,
        &SegmentRow {
            workstation: h.workstation.clone(),
            sequence: h.sequence,
            file_sha256: seg.sha256.clone(),
            signer,
            created_at: h.created_at.clone(),
            received_at,
            watermark,
            audit_head: hex(&head),
        },
    )?;
    Ok(got)
}

/// A peer workstation keeps each record apart, as the peer's ([`store::put`]), counting what is new.
fn keep(
    tx: &mut Tx<'_>,
    ws: &str,
    sequence: u64,
    record: &Record,
    episode: Option<&str>,
    counts: &mut Counts,
) -> Result<Result<(), String>, UnitError> {
    let new = |s: &Result<Stored, String>| u64::from(*s == Ok(Stored::New));
    let stored = match record {
        Record::Staff(s) => store::put(tx, ws, Kind::Staff, &s.username, sequence, None, s)?,
        Record::Registration(r) => {
            let s = store::put(tx, ws, Kind::Registration, &r.id, sequence, None, r)?;
            counts.registrations += new(&s);
            s
        }
        Record::Audit(a) => {
            let s = store::put(tx, ws, Kind::Audit, &a.row.seq.to_string(), sequence, None, a)?;
            counts.audit_rows += new(&s);
            s
        }
        Record::Episode(e) => store::put(tx, ws, Kind::Episode, &e.id, sequence, None, e)?,
        Record::Event(e) => {
            let value = PeerEvent { episode: episode.unwrap_or_default().to_string(), event: e.clone() };
            let s = store::put(tx, ws, Kind::Event, &e.id, sequence, None, &value)?;
            counts.events += new(&s);
            s
        }
        Record::Entry(e) => {
            let s = keep_entry(tx, ws, sequence, episode.unwrap_or_default(), e, counts)?;
            counts.entries += new(&s);
            s
        }
        Record::End(e) => return keep_unsigned(tx, ws, sequence, e),
    };
    Ok(stored.map(|_| ()))
}

/// Keeps what a segment's end record says its workstation's authors left unsigned (drafts never leave a workstation,
/// only their count), as that workstation's newest word on it.
pub fn keep_unsigned(
    tx: &mut Tx<'_>,
    ws: &str,
    sequence: u64,
    end: &EndRecord,
) -> Result<Result<(), String>, UnitError> {
    Ok(match &end.unsigned {
        Some(u) => store::put(tx, ws, Kind::Unsigned, "latest", sequence, None, u)?.map(|_| ()),
        None => Ok(()),
    })
}

/// Keeps each signed version of a peer's entry as its own record (workstation + entry + version), found by the
/// patient, form and medication of that version under this vault's blind-index key.
fn keep_entry(
    tx: &mut Tx<'_>,
    ws: &str,
    sequence: u64,
    episode: &str,
    e: &EntryRecord,
    counts: &mut Counts,
) -> Result<Result<Stored, String>, UnitError> {
    let mut outcome = Ok(Stored::Known);
    for v in &e.versions {
        let index = EntryIndex {
            patient_idx: crate::patients::mrn_token(tx.keys(), &v.body.patient.mrn_system, &v.body.patient.mrn),
            form: e.form.clone(),
            med_idx: crate::entries::med_token(tx.keys(), v.body.medication.as_deref()),
        };
        // The entry's head as of this version, so the same version received again with a newer head (amended
        // since) is recognised as the one kept.
        let status = match v.kind.as_str() {
            "amendment" => Status::Amended,
            "entered-in-error" => Status::EnteredInError,
            _ => Status::Signed,
        };
        let entry = EntryRecord {
            status,
            current_version: v.version,
            updated_at: v.recorded_at.clone(),
            versions: vec![v.clone()],
            ..e.clone()
        };
        let value = PeerVersion { episode: episode.to_string(), entry };
        let id = format!("{}/{}", e.id, v.version);
        match store::put(tx, ws, Kind::Entry, &id, sequence, Some(&index), &value)? {
            Ok(Stored::New) => {
                counts.versions += 1;
                outcome = Ok(Stored::New);
            }
            Ok(Stored::Known) => {}
            Err(reason) => return Ok(Err(reason)),
        }
    }
    Ok(outcome)
}
