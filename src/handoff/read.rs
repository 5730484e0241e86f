//! Reading a handoff file: the header, then one checked record at a time, then the signature. Nothing here holds
//! more than one segment and one record, and nothing here writes; [`super::import`] stages what it is handed.

use std::io::Read;

use ed25519_dalek::VerifyingKey;
use x25519_dalek::PublicKey;
use zeroize::{Zeroize, Zeroizing};

use super::stream::{self, NONCE_PREFIX_LEN};
use super::{
    chain_genesis, chain_link, derive_key, fingerprint, EndRecord, HandoffError, Header, HimKey, Payload, Record,
    UnsignedCount, FORMAT, MAX_AUDIT_ROWS, MAX_DEPTH, MAX_ENTRIES, MAX_EVENTS, MAX_HEADER_BYTES, MAX_PATIENTS,
    MAX_RECORD_BYTES, MAX_STAFF, MAX_UNSIGNED_AUTHORS, MAX_VERSIONS,
};
use crate::crypto::{hex, sha256_hex, unhex};
use crate::entries::Status;
use crate::episodes::Kind;

/// A file whose header has been read and checked, positioned at its first segment.
pub(super) struct Opened<R: Read> {
    pub header: Header,
    pub signer: VerifyingKey,
    pub signer_fingerprint: String,
    /// Set when the file was encrypted for another station: reported once its signature has been checked.
    pub wrong_recipient: Option<HandoffError>,
    reader: stream::Reader<R>,
    check: Checker,
    buf: Zeroizing<Vec<u8>>,
}

/// What a complete, verified read found.
pub(super) struct Done {
    pub file_sha256: String,
}

/// Reads and checks the header, and agrees on the stream's key with `him` when the file is for this station.
pub(super) fn open<R: Read>(mut input: R, him: &HimKey) -> Result<Opened<R>, HandoffError> {
    let (header_bytes, hash, offset) = stream::read_preamble(&mut input)?;
    let value = crate::json::parse_limited(&header_bytes, MAX_HEADER_BYTES, 4)
        .map_err(|e| HandoffError::Malformed(format!("header: {e}")))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if format != u64::from(FORMAT) {
        return Err(HandoffError::UnsupportedFormat(u32::try_from(format).unwrap_or(u32::MAX)));
    }
    let header: Header = serde_json::from_value(value).map_err(|e| HandoffError::Malformed(format!("header: {e}")))?;
    let bad = |what: &str| HandoffError::Malformed(format!("header: {what}"));
    let signer_bytes: [u8; 32] = unhex(&header.signer).ok_or_else(|| bad("signer is not a key"))?;
    let signer = VerifyingKey::from_bytes(&signer_bytes).map_err(|_| bad("signer is not an Ed25519 key"))?;
    let recipient: [u8; 32] = unhex(&header.recipient).ok_or_else(|| bad("recipient is not a key"))?;
    let eph: [u8; 32] = unhex(&header.ephemeral).ok_or_else(|| bad("ephemeral is not a key"))?;
    let prefix: [u8; NONCE_PREFIX_LEN] =
        unhex(&header.nonce_prefix).ok_or_else(|| bad("nonce_prefix is not 7 bytes"))?;
    for id in [&header.workstation, &header.episode] {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(HandoffError::Inconsistent("workstation and episode ids must be UUIDs".into()));
        }
    }
    if i64::try_from(header.sequence).is_err() {
        return Err(bad("sequence out of range"));
    }
    let ours = PublicKey::from(&him.secret);
    let (key, wrong_recipient) = if &recipient == ours.as_bytes() {
        let shared = him.secret.diffie_hellman(&PublicKey::from(eph));
        if !shared.was_contributory() {
            return Err(bad("the ephemeral key is a low-order point"));
        }
        (Some(derive_key(shared.as_bytes(), &eph, &recipient)), None)
    } else {
        (None, Some(HandoffError::WrongRecipient { found: fingerprint(&recipient), ours: him.fingerprint() }))
    };
    let reader = stream::Reader::new(input, hash, offset, key.as_deref(), prefix, header.segment_size)?;
    Ok(Opened {
        check: Checker::new(&header),
        signer,
        signer_fingerprint: fingerprint(&signer_bytes),
        wrong_recipient,
        header,
        reader,
        buf: Zeroizing::new(Vec::new()),
    })
}

impl<R: Read> Opened<R> {
    /// The next record, checked against everything before it; None after the end record.
    fn next(&mut self) -> Result<Option<Record>, HandoffError> {
        if self.check.ended {
            return Ok(None);
        }
        let index = self.check.index;
        let mut len = [0u8; 4];
        if !self.reader.read_plain(&mut len)? {
            return Err(HandoffError::Inconsistent("the stream ends without its end record".into()));
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_RECORD_BYTES {
            return Err(HandoffError::RecordTooLarge {
                index,
                after: self.check.after.clone(),
                bytes: n as u64,
                limit_mib: MAX_RECORD_BYTES >> 20,
            });
        }
        self.buf.zeroize();
        self.buf.resize(n, 0);
        if !self.reader.read_plain(&mut self.buf)? {
            return Err(HandoffError::Inconsistent(format!("record {index} is cut short by the end of the stream")));
        }
        let record = parse_record(&self.buf, index, &self.check.after)?;
        self.check.check(&record)?;
        Ok(Some(record))
    }

    /// Reads the rest of the file without parsing records (every segment must still decrypt when it can) and
    /// verifies the signature.
    pub fn skip(mut self) -> Result<Done, HandoffError> {
        self.reader.skip_to_end()?;
        Ok(Done { file_sha256: self.reader.finish(&self.signer)? })
    }

    /// Hands every record to `sink`, in order, then verifies the signature. When a record or the sink fails, the
    /// rest of the file is still read and the signature checked: a file changed after signing is reported as
    /// changed, never by whatever symptom the change caused. The caller commits nothing unless this returns Ok.
    pub fn drive(mut self, mut sink: impl FnMut(Record) -> Result<(), HandoffError>) -> Result<Done, HandoffError> {
        if let Some(e) = self.wrong_recipient.take() {
            return Err(self.refuse(e));
        }
        loop {
            match self.next() {
                Ok(Some(record)) => {
                    if let Err(e) = sink(record) {
                        return Err(self.refuse(e));
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(self.refuse(e)),
            }
        }
        Ok(Done { file_sha256: self.reader.finish(&self.signer)? })
    }

    /// `e`, unless the file turns out not to be intact: then why it is not. Failures to read or write are
    /// returned as they are.
    pub fn refuse(self, e: HandoffError) -> HandoffError {
        if matches!(
            e,
            HandoffError::Vault(_) | HandoffError::Read(_) | HandoffError::Tampered | HandoffError::Truncated { .. }
        ) {
            return e;
        }
        match self.skip() {
            Ok(_) => e,
            Err(broken) => broken,
        }
    }
}

/// Everything a record is checked against: order, limits, the audit chain, and the end record's counts.
struct Checker {
    episode: String,
    /// Rank of the last record (its place in the order of the module's documentation), None before the first.
    rank: Option<u8>,
    seen: EndRecord,
    head: [u8; 32],
    ended: bool,
    index: u64,
    after: String,
}

fn rank(r: &Record) -> u8 {
    match r {
        Record::Episode(_) => 0,
        Record::Staff(_) => 1,
        Record::Registration(_) => 2,
        Record::Event(_) => 3,
        Record::Audit(_) => 4,
        Record::Entry(_) => 5,
        Record::End(_) => 6,
    }
}

fn count(n: &mut u64, max: u64, what: &str) -> Result<(), HandoffError> {
    *n += 1;
    if *n > max {
        return Err(HandoffError::Malformed(format!("the file has more than {max} {what}")));
    }
    Ok(())
}

impl Checker {
    fn new(h: &Header) -> Self {
        Checker {
            episode: h.episode.clone(),
            rank: None,
            seen: EndRecord::default(),
            head: chain_genesis(&h.workstation),
            ended: false,
            index: 0,
            after: "the start of the stream".into(),
        }
    }

    fn check(&mut self, r: &Record) -> Result<(), HandoffError> {
        let bad = |m: String| Err(HandoffError::Inconsistent(m));
        let k = rank(r);
        match self.rank {
            None if k != 0 => return bad("the stream does not start with its episode".into()),
            Some(prev) if k == 0 || k < prev => return bad(format!("{} is out of order", r.label())),
            _ => {}
        }
        let s = &mut self.seen;
        match r {
            Record::Episode(ep) => {
                if ep.id != self.episode {
                    return bad("the stream names another episode than its header".into());
                }
                if ep.kind == Kind::Drill {
                    return Err(HandoffError::Drill);
                }
            }
            Record::Staff(_) => count(&mut s.staff, MAX_STAFF, "staff accounts")?,
            Record::Registration(_) => count(&mut s.registrations, MAX_PATIENTS, "registrations")?,
            Record::Event(ev) => {
                count(&mut s.events, MAX_EVENTS, "episode events")?;
                if uuid::Uuid::parse_str(&ev.id).is_err() {
                    return bad("an episode event id is not a UUID".into());
                }
                if crate::clock::parse_stamp(&ev.at).is_none() {
                    return bad(format!("episode event {}: its time is not a timestamp", ev.id));
                }
                if let Some(problem) = crate::procedures::event_problem(&ev.event) {
                    return bad(format!("episode event {}: {problem}", ev.id));
                }
            }
            Record::Audit(a) => {
                count(&mut s.audit_rows, MAX_AUDIT_ROWS, "audit rows")?;
                if a.row.seq != s.audit_rows as i64 {
                    let reason = format!("expected row {}", s.audit_rows);
                    return Err(HandoffError::AuditChain { seq: a.row.seq, reason });
                }
                self.head = chain_link(&self.head, &a.row);
                if hex(&self.head) != a.hash {
                    let reason = "hash does not match its content".into();
                    return Err(HandoffError::AuditChain { seq: a.row.seq, reason });
                }
            }
            Record::Entry(e) => {
                count(&mut s.entries, MAX_ENTRIES, "entries")?;
                s.versions += e.versions.len() as u64;
                check_entry(e)?;
            }
            Record::End(end) => {
                if hex(&self.head) != end.audit_head {
                    return Err(HandoffError::AuditChain {
                        seq: s.audit_rows as i64,
                        reason: "the chain does not end at the signed head".into(),
                    });
                }
                check_unsigned(end.unsigned.as_deref())?;
                let mut seen = s.clone();
                seen.audit_head.clone_from(&end.audit_head);
                seen.unsigned.clone_from(&end.unsigned);
                if &seen != end {
                    return bad("the end record's counts differ from the records before it".into());
                }
                self.ended = true;
            }
        }
        self.rank = Some(k);
        self.index += 1;
        self.after = r.label();
        Ok(())
    }
}

/// What the end record says was left unsigned: each author named once, in order, with at least one entry, so HIM
/// reads one count per author and shows the file's total as the workstation wrote it.
fn check_unsigned(unsigned: Option<&[UnsignedCount]>) -> Result<(), HandoffError> {
    let Some(list) = unsigned else { return Ok(()) };
    let bad = |m: &str| Err(HandoffError::Inconsistent(format!("the end record's unsigned entries: {m}")));
    if list.len() > MAX_UNSIGNED_AUTHORS {
        return bad(&format!("more than {MAX_UNSIGNED_AUTHORS} authors"));
    }
    let mut total = 0u64;
    for (i, c) in list.iter().enumerate() {
        if c.author.is_empty() || c.author.len() > 200 || c.author.chars().any(char::is_control) {
            return bad("an author is not a username");
        }
        if c.entries == 0 {
            return bad("an author is named with no entry");
        }
        if i > 0 && list[i - 1].author >= c.author {
            return bad("authors are repeated or out of order");
        }
        total = total.saturating_add(c.entries);
    }
    if total > MAX_ENTRIES {
        return bad(&format!("more than {MAX_ENTRIES} entries"));
    }
    Ok(())
}

/// Parses record `index` (the one after `after`): depth, each key once, the record's shape. Errors name the record's
/// place, never its content.
pub(crate) fn parse_record(buf: &[u8], index: u64, after: &str) -> Result<Record, HandoffError> {
    let where_ = || format!("record {index} (after {after})");
    if crate::json::too_deep(buf, MAX_DEPTH) {
        return Err(HandoffError::Malformed(format!("{} is nested deeper than {MAX_DEPTH} levels", where_())));
    }
    // A key twice would let the HIM station read a record differently from the workstation that wrote it.
    crate::json::check_unique_keys(buf).map_err(|e| HandoffError::Malformed(format!("{}: {e}", where_())))?;
    // serde_json's own message can quote a value, which may be patient data: only its category and column.
    serde_json::from_slice(buf).map_err(|e| {
        HandoffError::Malformed(format!(
            "{} is not a valid record ({:?} error at column {})",
            where_(),
            e.classify(),
            e.column()
        ))
    })
}

/// An entry record's own consistency: UUID id, versions numbered from 1 each matching its content hash, no draft.
pub(crate) fn check_entry(e: &super::EntryRecord) -> Result<(), HandoffError> {
    let bad = |m: String| Err(HandoffError::Inconsistent(m));
    if uuid::Uuid::parse_str(&e.id).is_err() {
        return bad("an entry id is not a UUID".into());
    }
    if e.versions.is_empty() || e.versions.len() > MAX_VERSIONS {
        return bad(format!("entry {} has {} versions", e.id, e.versions.len()));
    }
    if e.status == Status::Draft {
        return bad(format!("entry {} is a draft; drafts never leave a workstation", e.id));
    }
    for (i, v) in e.versions.iter().enumerate() {
        if v.version != i as i64 + 1 {
            return bad(format!("entry {}: versions are not numbered 1, 2, 3…", e.id));
        }
        let hash = sha256_hex(&serde_json::to_vec(&v.body.response).unwrap_or_default());
        if hash != v.content_hash {
            return bad(format!("entry {} version {}: content does not match its hash", e.id, v.version));
        }
    }
    if e.current_version != e.versions.len() as i64 {
        return bad(format!("entry {}: current version is not the last one", e.id));
    }
    Ok(())
}

/// A file that passed every check without touching a vault (the fuzz target checks files this way).
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Header,
    pub file_sha256: String,
    pub signer_fingerprint: String,
    pub end: EndRecord,
}

/// Reads and checks a whole file (header, every segment, every record, the audit chain, the signature) in bounded
/// memory, keeping nothing but the counts.
pub fn verify<R: Read>(input: R, him: &HimKey) -> Result<Verified, HandoffError> {
    let opened = open(input, him)?;
    let (header, signer_fingerprint) = (opened.header.clone(), opened.signer_fingerprint.clone());
    let mut end = None;
    let done = opened.drive(|r| {
        if let Record::End(e) = r {
            end = Some(e);
        }
        Ok(())
    })?;
    let end = end.ok_or_else(|| HandoffError::Inconsistent("the stream ends without its end record".into()))?;
    Ok(Verified { header, file_sha256: done.file_sha256, signer_fingerprint, end })
}

/// Reads a whole file into memory, checked like an import. For tests and the fuzz target only: a real file can be
/// far larger than memory, which is why the importer streams.
pub fn read_payload<R: Read>(input: R, him: &HimKey) -> Result<(Header, Payload), HandoffError> {
    let opened = open(input, him)?;
    let header = opened.header.clone();
    let (mut episode, mut unsigned) = (None, None);
    let (mut staff, mut registrations, mut entries, mut audit, mut events) = (vec![], vec![], vec![], vec![], vec![]);
    opened.drive(|r| {
        match r {
            Record::Episode(e) => episode = Some(e),
            Record::Staff(s) => staff.push(s),
            Record::Registration(r) => registrations.push(r),
            Record::Event(e) => events.push(e),
            Record::Audit(a) => audit.push(a),
            Record::Entry(e) => entries.push(e),
            Record::End(e) => unsigned = e.unsigned,
        }
        Ok(())
    })?;
    let episode = episode.ok_or_else(|| HandoffError::Inconsistent("the stream has no episode".into()))?;
    let workstation = header.workstation.clone();
    let p = Payload { workstation, episode, staff, registrations, entries, audit, events, unsigned };
    Ok((header, p))
}
