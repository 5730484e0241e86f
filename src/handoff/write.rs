//! Writing a handoff file: the header, then every record of the episode read row by row from the vault into the
//! sealed stream, then the end record with the audit chain's head, and the signature. Nothing here holds more than
//! one record; [`super::read`] checks what this writes.

use std::io::Write;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::stream::{self, DEFAULT_SEGMENT};
use super::{
    action, chain_genesis, chain_link, derive_key, fingerprint, signing_key, AuditRecord, EndRecord, EntryRecord,
    EpisodeRecord, EventRecord, HandoffError, Header, Payload, RecordRef, Registered, Staff, UnsignedCount,
    VersionRecord, FORMAT, MAX_RECORD_BYTES,
};
use crate::audit::PlainRow;
use crate::clock::stamp;
use crate::crypto::{hex, Keys, Random};
use crate::entries::{Origin, Status};
use crate::episodes::Kind;
use crate::vault::Tx;

/// Writes records into the sealed stream, counting them and carrying the audit chain for the end record.
struct RecordWriter<W: Write> {
    stream: stream::Writer<W>,
    buf: Zeroizing<Vec<u8>>,
    end: EndRecord,
    head: [u8; 32],
    written: u64,
    after: String,
    /// Largest record written: [`MAX_RECORD_BYTES`] for a workstation's export, none for [`seal`], whose files
    /// test that the importer refuses what a workstation never writes.
    limit: usize,
}

/// Who writes a file and what it is, for its header.
struct Identity<'a> {
    workstation: &'a str,
    unit: &'a str,
    episode: &'a str,
    sequence: u64,
    created_at: &'a str,
}

impl<W: Write> RecordWriter<W> {
    /// Agrees on a key with `recipient` through a fresh ephemeral key, and writes the header.
    fn start(
        out: W,
        id: &Identity<'_>,
        signer: &SigningKey,
        recipient: &[u8; 32],
        segment: u32,
        limit: usize,
        rng: &mut dyn Random,
    ) -> Result<Self, HandoffError> {
        let mut eph_bytes = Zeroizing::new([0u8; 32]);
        rng.fill(eph_bytes.as_mut());
        let ephemeral = StaticSecret::from(*eph_bytes);
        let eph_public = PublicKey::from(&ephemeral);
        let shared = ephemeral.diffie_hellman(&PublicKey::from(*recipient));
        if !shared.was_contributory() {
            return Err(HandoffError::Malformed("the configured HIM public key is not a usable X25519 key".into()));
        }
        let key = derive_key(shared.as_bytes(), eph_public.as_bytes(), recipient);
        let mut prefix = [0u8; stream::NONCE_PREFIX_LEN];
        rng.fill(&mut prefix);
        let header = Header {
            format: FORMAT,
            workstation: id.workstation.to_string(),
            unit: id.unit.to_string(),
            episode: id.episode.to_string(),
            sequence: id.sequence,
            created_at: id.created_at.to_string(),
            signer: hex(signer.verifying_key().as_bytes()),
            recipient: hex(recipient),
            ephemeral: hex(eph_public.as_bytes()),
            nonce_prefix: hex(&prefix),
            segment_size: segment,
        };
        let header_bytes = serde_json::to_vec(&header)
            .map_err(|e| HandoffError::Malformed(format!("header not serialisable: {e}")))?;
        Ok(RecordWriter {
            stream: stream::Writer::new(out, &header_bytes, &key, prefix, segment)?,
            buf: Zeroizing::new(Vec::new()),
            end: EndRecord::default(),
            head: chain_genesis(id.workstation),
            written: 0,
            after: "the start of the stream".into(),
            limit,
        })
    }

    /// The next link of the audit chain for `row`, as the hash its record carries.
    fn link(&mut self, row: &PlainRow) -> String {
        self.head = chain_link(&self.head, row);
        hex(&self.head)
    }

    fn put(&mut self, record: RecordRef<'_>) -> Result<(), HandoffError> {
        use zeroize::Zeroize;
        self.buf.zeroize();
        serde_json::to_writer(&mut *self.buf, &record)
            .map_err(|e| HandoffError::Malformed(format!("{} not serialisable: {e}", record.label())))?;
        if self.buf.len() > self.limit.min(u32::MAX as usize) {
            // The importer would refuse the file: refuse to write it, naming the record.
            return Err(HandoffError::RecordTooLarge {
                index: self.written,
                after: self.after.clone(),
                bytes: self.buf.len() as u64,
                limit_mib: MAX_RECORD_BYTES >> 20,
            });
        }
        self.stream.write_plain(&(self.buf.len() as u32).to_be_bytes())?;
        self.stream.write_plain(&self.buf)?;
        let e = &mut self.end;
        match record {
            RecordRef::Staff(_) => e.staff += 1,
            RecordRef::Registration(_) => e.registrations += 1,
            RecordRef::Event(_) => e.events += 1,
            RecordRef::Audit(_) => e.audit_rows += 1,
            RecordRef::Entry(x) => {
                e.entries += 1;
                e.versions += x.versions.len() as u64;
            }
            RecordRef::Episode(_) | RecordRef::End(_) => {}
        }
        self.written += 1;
        self.after = record.label();
        Ok(())
    }

    /// Writes the end record, with what was left unsigned, and the signature.
    fn finish(
        mut self,
        signer: &SigningKey,
        unsigned: Option<Vec<UnsignedCount>>,
    ) -> Result<(stream::Finished<W>, EndRecord), HandoffError> {
        let mut end = std::mem::take(&mut self.end);
        end.audit_head = hex(&self.head);
        end.unsigned = unsigned;
        self.put(RecordRef::End(&end))?;
        Ok((self.stream.finish(signer)?, end))
    }
}

/// What `dtk handoff export` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub workstation: String,
    pub episode: String,
    pub sequence: u64,
    pub entries: usize,
    pub versions: usize,
    pub registrations: usize,
    pub audit_rows: usize,
    pub file_sha256: String,
    pub bytes: u64,
    /// The signing key's fingerprint: HIM compares it with the one shown at import.
    pub signer_fingerprint: String,
    pub recipient_fingerprint: String,
    /// The episode's entries left unsigned on this workstation, per author (the file says so too).
    pub unsigned: Vec<UnsignedCount>,
}

/// Writes the encrypted, signed handoff file of `episode_id` to `out` inside a write transaction, reading the vault
/// row by row, and records its sequence number and SHA-256. Returns `out` (flushed, not synced): the caller syncs
/// it before the transaction commits and moves it into place after, so a recorded export always has its file.
///
/// Drafts never leave the workstation. When the episode still has unsigned entries, the export is refused
/// ([`HandoffError::Unsigned`], naming the count per author) unless `unsigned_ok` says the charge nurse confirmed
/// leaving them behind; the confirmation is audited with the counts before the audit rows are written, so the file
/// carries it, and the end record carries the counts either way.
pub fn export<W: Write>(
    tx: &mut Tx<'_>,
    workstation: &str,
    episode_id: &str,
    recipient: &[u8; 32],
    unsigned_ok: bool,
    out: W,
) -> Result<(ExportSummary, W), HandoffError> {
    let ep = crate::episodes::get(tx.sql(), tx.keys(), episode_id)?.ok_or_else(|| {
        HandoffError::NothingToExport(format!("there is no episode {episode_id} on this workstation"))
    })?;
    if ep.kind == Kind::Drill {
        return Err(HandoffError::Drill);
    }
    let episode = EpisodeRecord {
        id: ep.id.clone(),
        unit: ep.unit.clone(),
        kind: ep.kind,
        started_at: ep.started_at.clone(),
        started_by: ep.started_by.clone(),
        ended_at: ep.ended_at.clone(),
        ended_by: ep.ended_by.clone(),
        declaration: ep.declaration.clone(),
    };
    let sequence: u64 =
        tx.sql().query_row("SELECT coalesce(max(sequence), 0) + 1 FROM handoff_exports", [], |r| r.get(0))?;
    // Made (and audited) before the audit rows are read, so a first export carries its own key's creation.
    let signer = signing_key(tx)?;
    let unsigned: Vec<UnsignedCount> = crate::entries::unsigned::by_author(tx.sql(), episode_id)?
        .into_iter()
        .map(|c| UnsignedCount { author: c.author, entries: c.count })
        .collect();
    if !unsigned.is_empty() {
        let total: u64 = unsigned.iter().map(|c| c.entries).sum();
        if !unsigned_ok {
            return Err(HandoffError::Unsigned { total, by_author: by_author(&unsigned) });
        }
        tx.audit(
            action::UNSIGNED_CONFIRMED,
            &format!("episodes:{episode_id}"),
            &serde_json::json!({ "unsigned": total, "by_author": unsigned }),
        )?;
    }
    let created_at = stamp(tx.at());
    let id = Identity { workstation, unit: &episode.unit, episode: episode_id, sequence, created_at: &created_at };
    let mut w = RecordWriter::start(out, &id, &signer, recipient, DEFAULT_SEGMENT, MAX_RECORD_BYTES, tx)?;
    w.put(RecordRef::Episode(&episode))?;
    for u in crate::auth::list_users(tx.sql())? {
        let staff = Staff { username: u.username, display_name: u.display_name, role: u.role.as_str().to_string() };
        w.put(RecordRef::Staff(&staff))?;
    }
    for p in crate::patients::list(tx.sql(), tx.keys())? {
        if p.source == crate::patients::Source::Registration {
            w.put(RecordRef::Registration(&Registered { id: p.id, record: p.record }))?;
        }
    }
    for (id, r) in crate::episodes::event_rows(tx.sql(), tx.keys(), episode_id)? {
        w.put(RecordRef::Event(&EventRecord { id, at: r.at, actor: r.actor, event: r.event }))?;
    }
    crate::audit::for_each_plain_row(tx.sql(), tx.keys(), |row| {
        let hash = w.link(&row);
        w.put(RecordRef::Audit(&AuditRecord { row, hash }))
    })?;
    for_each_entry(tx.sql(), tx.keys(), Entries::OfEpisode(episode_id), workstation, |e| w.put(RecordRef::Entry(e)))?;
    let (done, end) = w.finish(&signer, Some(unsigned.clone()))?;
    tx.insert(
        crate::vault::rows::OnConflict::Abort,
        "handoff_exports",
        &[
            ("sequence", &(sequence as i64)),
            ("episode_id", &episode_id),
            ("created_at", &created_at),
            ("created_by", &tx.actor()),
            ("file_sha256", &done.sha256),
        ],
    )?;
    let summary = ExportSummary {
        workstation: workstation.to_string(),
        episode: episode_id.to_string(),
        sequence,
        entries: end.entries as usize,
        versions: end.versions as usize,
        registrations: end.registrations as usize,
        audit_rows: end.audit_rows as usize,
        file_sha256: done.sha256.clone(),
        bytes: done.bytes,
        signer_fingerprint: fingerprint(signer.verifying_key().as_bytes()),
        recipient_fingerprint: fingerprint(recipient),
        unsigned,
    };
    tx.audit(
        action::EXPORTED,
        &format!("episodes:{episode_id}"),
        &serde_json::json!({
            "sequence": sequence, "entries": summary.entries, "sha256": done.sha256,
            "unsigned_left": summary.unsigned.iter().map(|c| c.entries).sum::<u64>(),
        }),
    )?;
    Ok((summary, done.out))
}

/// "jnurse 2, kcharge 1": how messages name who left entries unsigned (usernames, never patients).
pub fn by_author(counts: &[UnsignedCount]) -> String {
    counts.iter().map(|c| format!("{} {}", c.author, c.entries)).collect::<Vec<_>>().join(", ")
}

/// Encrypts `payload` to `recipient` and signs it with `signing_secret` (an Ed25519 secret key), in segments of
/// [`DEFAULT_SEGMENT`] bytes. For tests and the fuzz target: it builds files a workstation would refuse to write.
pub fn seal(
    payload: &Payload,
    sequence: u64,
    created_at: &str,
    signing_secret: &[u8; 32],
    recipient: &[u8; 32],
    rng: &mut dyn Random,
) -> Result<Vec<u8>, HandoffError> {
    seal_segmented(payload, sequence, created_at, signing_secret, recipient, DEFAULT_SEGMENT, rng)
}

/// [`seal`] with segments of `segment` plaintext bytes, so a test crosses many segment boundaries with a small file.
/// Records are not limited in size (the importer's limit is what a test checks). Audit rows keep the hashes `payload` gives them; the end record carries the head recomputed from their content.
pub fn seal_segmented(
    payload: &Payload,
    sequence: u64,
    created_at: &str,
    signing_secret: &[u8; 32],
    recipient: &[u8; 32],
    segment: u32,
    rng: &mut dyn Random,
) -> Result<Vec<u8>, HandoffError> {
    let signer = SigningKey::from_bytes(signing_secret);
    let p = payload;
    let id =
        Identity { workstation: &p.workstation, unit: &p.episode.unit, episode: &p.episode.id, sequence, created_at };
    let mut w = RecordWriter::start(Vec::new(), &id, &signer, recipient, segment, usize::MAX, rng)?;
    w.put(RecordRef::Episode(&p.episode))?;
    for s in &p.staff {
        w.put(RecordRef::Staff(s))?;
    }
    for r in &p.registrations {
        w.put(RecordRef::Registration(r))?;
    }
    for ev in &p.events {
        w.put(RecordRef::Event(ev))?;
    }
    for a in &p.audit {
        w.link(&a.row);
        w.put(RecordRef::Audit(a))?;
    }
    for e in &p.entries {
        w.put(RecordRef::Entry(e))?;
    }
    Ok(w.finish(&signer, p.unsigned.clone())?.0.out)
}

/// Which entries [`for_each_entry`] hands over.
pub(crate) enum Entries<'a> {
    /// Every signed entry of an episode (a handoff file).
    OfEpisode(&'a str),
    /// One entry, if it is signed (a unit share segment carries the entries changed since the one before).
    One(&'a str),
}

/// Hands every signed entry chosen, with its signed versions, to `f`, one at a time (drafts never leave the
/// workstation). Only one entry is in memory at once.
// Row tuples mirror the SELECT column list right above them; naming each would add nothing.
#[allow(clippy::type_complexity)]
pub(crate) fn for_each_entry(
    conn: &rusqlite::Connection,
    keys: &Keys,
    which: Entries<'_>,
    workstation: &str,
    mut f: impl FnMut(&EntryRecord) -> Result<(), HandoffError>,
) -> Result<(), HandoffError> {
    let (column, value) = match which {
        Entries::OfEpisode(e) => ("episode_id", e),
        Entries::One(id) => ("id", id),
    };
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, form, author, status, current_version, created_at, updated_at, origin, workstation FROM entries
          WHERE {column} = ?1 AND status != 'draft' ORDER BY created_at, id"
    ))?;
    let mut vst = conn.prepare_cached(
        "SELECT version, kind, author, recorded_at, signed_at, signed_by, content_hash FROM entry_versions
          WHERE entry_id = ?1 AND signed_at IS NOT NULL ORDER BY version",
    )?;
    let mut heads = st.query([value])?;
    while let Some(h) = heads.next()? {
        let id: String = h.get(0)?;
        let rows: Vec<(i64, String, String, String, String, Option<String>, String)> = vst
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
            .collect::<Result<_, _>>()?;
        let mut versions = Vec::with_capacity(rows.len());
        for (version, kind, author, recorded_at, signed_at, signed_by, content_hash) in rows {
            let body = crate::entries::version_body(conn, keys, &id, version)?;
            let signed_by = signed_by.unwrap_or_default();
            versions.push(VersionRecord {
                version,
                kind,
                author,
                recorded_at,
                signed_at,
                signed_by,
                content_hash,
                body,
            });
        }
        let status: String = h.get(3)?;
        let origin: String = h.get(7)?;
        let charted_on: String = h.get(8)?;
        f(&EntryRecord {
            id,
            form: h.get(1)?,
            author: h.get(2)?,
            status: Status::parse(&status).unwrap_or(Status::Signed),
            current_version: h.get(4)?,
            created_at: h.get(5)?,
            updated_at: h.get(6)?,
            origin: if origin == "paper" { Origin::Paper } else { Origin::Electronic },
            workstation: Some(charted_on).filter(|w| w != workstation),
            versions,
        })?;
    }
    Ok(())
}
