//! Handoff files: one workstation's downtime episode (registrations, signed entries with every version, the audit
//! log) carried to the HIM station in one file that only the HIM station can read and that nobody can change
//! unnoticed. Keys and the reasoning behind them are in ARCHITECTURE.md (Reconciliation, handoff files and FHIR export).
//!
//! A file is written and read as a stream, so memory stays flat however large the episode (issue 8): the workstation
//! writes records while it reads its vault row by row, and the HIM station stages each record as it arrives inside
//! one transaction that it commits only after every segment decrypted and the signature verified.
//!
//! Layout (format 2, [`stream`]): `DTKH2\n` ‖ header length (u32, big-endian) ‖ header (JSON, clear) ‖ segments
//! sealed with AES-256-GCM in the STREAM construction ‖ Ed25519 signature over the header and every ciphertext
//! byte. The key comes from HKDF-SHA-256 over an X25519 agreement between a fresh ephemeral key and the HIM
//! station's public key. The plaintext is a sequence of records, each a u32 big-endian length and one JSON
//! [`Record`], in this order: the episode, staff, registrations, episode events, audit rows, entries (each with all
//! its versions), and an end record that carries every count, the audit chain's head and how many entries each
//! author left unsigned on the workstation (drafts never leave it).
//!
//! Crates, each for the spec that needs it: `x25519-dalek` (RFC 7748 key agreement, so a workstation can encrypt to
//! HIM with only HIM's public key, distributed before the downtime), `ed25519-dalek` (RFC 8032 signatures, so HIM
//! can tell a workstation's file from a forged or edited one without any network or identity provider), and the
//! `aes-gcm`, `hkdf`, `sha2` crates already used by the vault.

mod import;
mod read;
mod share;
pub mod stream;
mod write;

use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::audit::PlainRow;
use crate::census::PatientRecord;
use crate::crypto::{hex, unhex};
use crate::crypto::{Keys, Place};
use crate::entries::{Origin, Status, VersionBody};
use crate::episodes::{Declaration, Kind};
use crate::procedures::Event;
use crate::vault::{Tx, VaultError};

pub use import::{import, open_unsigned, stored_unsigned, Conflict, ImportReport};
pub(crate) use read::{check_entry, parse_record};
pub use read::{read_payload, verify, Verified};
pub use share::ShareStage;
pub use stream::{DEFAULT_SEGMENT, MAGIC, MAX_HEADER_BYTES, MAX_SEGMENT, MIN_SEGMENT};
pub use write::{by_author, export, seal, seal_segmented, ExportSummary};
pub(crate) use write::{for_each_entry, Entries};

/// The format this build writes and reads.
pub const FORMAT: u32 = 2;
/// Largest record accepted: an entry with all its versions, or any other single record. One record is the most the
/// importer holds in memory at once, so this bounds its memory whatever the size of the file.
pub const MAX_RECORD_BYTES: usize = 16 << 20;
/// Deepest JSON nesting accepted in a record (responses nest groups a few levels deep).
pub const MAX_DEPTH: usize = 64;
/// Most entries, versions per entry, registrations, staff, audit rows and episode events accepted in one file.
pub const MAX_ENTRIES: u64 = 100_000_000;
pub const MAX_VERSIONS: usize = 1_000;
pub const MAX_PATIENTS: u64 = 100_000;
pub const MAX_STAFF: u64 = 10_000;
pub const MAX_AUDIT_ROWS: u64 = 2_000_000_000;
pub const MAX_EVENTS: u64 = 100_000;
/// Most authors an end record may name as having left entries unsigned (one per staff account at most).
pub const MAX_UNSIGNED_AUTHORS: usize = MAX_STAFF as usize;

const HKDF_INFO: &[u8] = b"downtime-kit/handoff/v2";
const HIM_KEY_PLACE: Place<'static> = Place { table: "meta", row: "him_handoff_key", column: "value", format: 1 };
const SIGNING_KEY_PLACE: Place<'static> =
    Place { table: "meta", row: "handoff_signing_key", column: "value", format: 1 };

/// Actions this module writes to the audit log.
pub mod action {
    pub const KEY_CREATED: &str = "handoff.key_created";
    pub const SIGNING_KEY_CREATED: &str = "handoff.signing_key_created";
    pub const EXPORTED: &str = "handoff.exported";
    pub const IMPORTED: &str = "handoff.imported";
    pub const REIMPORTED: &str = "handoff.imported_again";
    /// A segment of a unit share's copy imported on the HIM station (counts, no patient data).
    pub const SHARE_IMPORTED: &str = "handoff.share_imported";
    /// The charge nurse confirmed an export that leaves unsigned entries behind (the counts, no patient data).
    pub const UNSIGNED_CONFIRMED: &str = "handoff.unsigned_confirmed";
}

/// Why a handoff file could not be written or was refused. Messages name the problem, never patient data; a refused
/// file changes nothing on the HIM station.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// Not a handoff file at all.
    #[error("this is not a Downtime Kit handoff file (it does not start with DTKH2)")]
    NotHandoff,
    /// A handoff file of a format this build does not know (format 1 files were one sealed blob).
    #[error("handoff file format {0} is not supported by this Downtime Kit (it reads format {FORMAT}); export the file again with this version")]
    UnsupportedFormat(u32),
    /// One record larger than the limit: refused before it is read into memory.
    #[error("record {index} of the handoff file (after {after}) is {bytes} bytes, over the {limit_mib} MiB limit for one record")]
    RecordTooLarge { index: u64, after: String, bytes: u64, limit_mib: usize },
    /// Cut short: the file ends where more was announced.
    #[error("the handoff file is truncated after {at} bytes (copy it again from the workstation)")]
    Truncated { at: u64 },
    /// Extra bytes after the signature.
    #[error("the handoff file has {0} unexpected bytes after its signature")]
    TrailingBytes(u64),
    /// The header or a record does not have the expected shape.
    #[error("the handoff file is malformed: {0}")]
    Malformed(String),
    /// A segment does not decrypt, segments are missing or out of order, or the signature does not verify.
    #[error("the handoff file was changed after the workstation signed it (signature does not verify)")]
    Tampered,
    /// Encrypted for a different HIM key.
    #[error("the handoff file was encrypted for another HIM key (fingerprint {found}); this station's key is {ours}")]
    WrongRecipient { found: String, ours: String },
    /// The embedded audit chain does not verify.
    #[error("the handoff file's audit log is broken at row {seq}: {reason}")]
    AuditChain { seq: i64, reason: String },
    /// Internally inconsistent (for example an entry whose version hash does not match its content).
    #[error("the handoff file is inconsistent: {0}")]
    Inconsistent(String),
    /// A drill episode: its entries never reach a real reconciliation (issue 9).
    #[error("this handoff file holds a DRILL episode; drill entries are never reconciled or exported")]
    Drill,
    /// The workstation's signing key differs from the one its earlier files were signed with.
    #[error("workstation {workstation} signed this file with key {found}, but its earlier files were signed with {pinned}; confirm with hospital IT before importing")]
    KeyChanged { workstation: String, found: String, pinned: String },
    /// An older (or different) file than one already imported from the same workstation.
    #[error("replayed file refused: {0}")]
    Replayed(String),
    /// Audit rows that differ from the ones imported earlier from the same workstation.
    #[error("workstation {workstation}: audit row {seq} differs from the one imported earlier; the workstation's vault was rolled back (restored from an older copy) or its log rewritten, so what it charted since the earlier file may be missing: find that workstation's newest vault or backup")]
    AuditConflict { workstation: String, seq: i64 },
    /// The HIM station has no handoff key yet.
    #[error("this station has no HIM handoff key; run `dtk handoff keygen` first")]
    NoHimKey,
    /// The workstation has no HIM public key in its site configuration.
    #[error("no HIM public key is configured: hospital IT sets him_public_key in the site configuration")]
    NoRecipient,
    /// The episode still has unsigned entries (drafts never leave the workstation) and nobody confirmed leaving
    /// them behind. Names the count per author (usernames), never a patient.
    #[error("{total} entries of this episode are still unsigned ({by_author}); drafts never leave this workstation: have their authors sign them first, or confirm the export without them")]
    Unsigned { total: u64, by_author: String },
    /// Nothing to export.
    #[error("{0}")]
    NothingToExport(String),
    /// The file could not be read (the disk or stick failed, not the file's content).
    #[error("reading the handoff file failed: {0}")]
    Read(String),
    /// The file could not be written.
    #[error("writing the handoff file failed: {0}")]
    Write(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for HandoffError {
    fn from(e: rusqlite::Error) -> Self {
        HandoffError::Vault(e.into())
    }
}

/// A short, readable fingerprint of a public key (first 80 bits of its SHA-256, in groups of four), for people to
/// compare over the phone or on paper.
pub fn fingerprint(public_key: &[u8]) -> String {
    let h = hex(&Sha256::digest(public_key));
    h.as_bytes()[..20].chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// Parses the HIM public key as written in the site configuration (64 hex characters).
pub fn parse_public_key(text: &str) -> Result<[u8; 32], HandoffError> {
    unhex::<32>(text).ok_or_else(|| HandoffError::Malformed("the HIM public key is not 64 hex characters".into()))
}

/// The HIM station's X25519 key pair. The secret stays sealed in the HIM vault's meta table.
pub struct HimKey {
    secret: StaticSecret,
}

impl HimKey {
    /// A key from known bytes, for the fuzz targets (`crate::fuzzing`): the same key on every run, so a fixed seed
    /// gives the same run. The product's keys are made by [`HimKey::load_or_create`] from the OS's generator.
    pub(crate) fn from_secret(secret: [u8; 32]) -> HimKey {
        HimKey { secret: StaticSecret::from(secret) }
    }

    /// The secret half, for opening a unit share's segments wrapped to this station (`unit::segment::Reader::Him`).
    pub(crate) fn secret(&self) -> &StaticSecret {
        &self.secret
    }

    /// The public half, as hex for the site configuration.
    pub fn public_hex(&self) -> String {
        hex(PublicKey::from(&self.secret).as_bytes())
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(PublicKey::from(&self.secret).as_bytes())
    }

    /// The station's key, if it has one.
    pub fn load(conn: &rusqlite::Connection, keys: &Keys) -> Result<Option<HimKey>, VaultError> {
        let Some(bytes) = load_secret(conn, keys, &HIM_KEY_PLACE)? else { return Ok(None) };
        Ok(Some(HimKey { secret: StaticSecret::from(*bytes) }))
    }

    /// The station's key, created (and audited) on first use. Returns the key and whether it is new.
    pub fn load_or_create(tx: &mut Tx<'_>) -> Result<(HimKey, bool), VaultError> {
        if let Some(k) = HimKey::load(tx.sql(), tx.keys())? {
            return Ok((k, false));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        tx.random(bytes.as_mut());
        store_secret(tx, &HIM_KEY_PLACE, &bytes)?;
        let key = HimKey { secret: StaticSecret::from(*bytes) };
        tx.audit(
            action::KEY_CREATED,
            "meta:him_handoff_key",
            &serde_json::json!({ "fingerprint": key.fingerprint() }),
        )?;
        Ok((key, true))
    }
}

fn load_secret(
    conn: &rusqlite::Connection,
    keys: &Keys,
    place: &Place<'_>,
) -> Result<Option<Zeroizing<[u8; 32]>>, VaultError> {
    let sealed: Option<Vec<u8>> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [place.row], |r| r.get(0)).optional()?;
    let Some(sealed) = sealed else { return Ok(None) };
    let plain = keys
        .open(place, &sealed)
        .map_err(|_| VaultError::Integrity(format!("meta {}: sealed key fails authentication", place.row)))?;
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::Integrity(format!("meta {}: sealed key has the wrong length", place.row)))?;
    Ok(Some(Zeroizing::new(bytes)))
}

fn store_secret(tx: &mut Tx<'_>, place: &Place<'_>, bytes: &[u8; 32]) -> Result<(), VaultError> {
    let sealed = tx.seal(place, bytes);
    tx.insert_meta(place.row, &sealed)?;
    Ok(())
}

/// The workstation's Ed25519 signing key, created (and audited) on first use.
pub(crate) fn signing_key(tx: &mut Tx<'_>) -> Result<SigningKey, VaultError> {
    if let Some(bytes) = load_secret(tx.sql(), tx.keys(), &SIGNING_KEY_PLACE)? {
        return Ok(SigningKey::from_bytes(&bytes));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    tx.random(bytes.as_mut());
    store_secret(tx, &SIGNING_KEY_PLACE, &bytes)?;
    let key = SigningKey::from_bytes(&bytes);
    tx.audit(
        action::SIGNING_KEY_CREATED,
        "meta:handoff_signing_key",
        &serde_json::json!({ "fingerprint": fingerprint(key.verifying_key().as_bytes()) }),
    )?;
    Ok(key)
}

/// Gives the workstation a new signing key, audited like a first one: a vault restored from a backup is a new
/// workstation to HIM, whose files must not pass for the original's. Returns the new key's fingerprint.
pub fn renew_signing_key(tx: &mut Tx<'_>) -> Result<String, VaultError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    tx.random(bytes.as_mut());
    let sealed = tx.seal(&SIGNING_KEY_PLACE, bytes.as_ref());
    if tx.update("meta", &[&SIGNING_KEY_PLACE.row], None, &[("value", &sealed)])? == 0 {
        tx.insert_meta(SIGNING_KEY_PLACE.row, &sealed)?;
    }
    let fingerprint = fingerprint(SigningKey::from_bytes(&bytes).verifying_key().as_bytes());
    tx.audit(
        action::SIGNING_KEY_CREATED,
        "meta:handoff_signing_key",
        &serde_json::json!({ "fingerprint": fingerprint }),
    )?;
    Ok(fingerprint)
}

/// The workstation's signing-key fingerprint, if it has made one (shown so HIM can compare it with the file's).
pub fn signing_fingerprint(conn: &rusqlite::Connection, keys: &Keys) -> Result<Option<String>, VaultError> {
    Ok(load_secret(conn, keys, &SIGNING_KEY_PLACE)?
        .map(|b| fingerprint(SigningKey::from_bytes(&b).verifying_key().as_bytes())))
}

/// The clear-text header. Its SHA-256 (with the magic and its length) is the associated data of every segment, and
/// the signature covers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: u32,
    pub workstation: String,
    pub unit: String,
    pub episode: String,
    /// 1, 2, 3… per workstation: HIM refuses a file older than one it already has.
    pub sequence: u64,
    pub created_at: String,
    /// The workstation's Ed25519 public key (hex).
    pub signer: String,
    /// The HIM station's X25519 public key the stream is encrypted to (hex).
    pub recipient: String,
    /// The ephemeral X25519 public key of this file (hex).
    pub ephemeral: String,
    /// The random first bytes of every segment's nonce (hex, 7 bytes).
    pub nonce_prefix: String,
    /// Plaintext bytes in every segment but the last.
    pub segment_size: u32,
}

/// The episode as the workstation recorded it: the file format's own copy of [`crate::episodes::Episode`], kept
/// separate (and strict about unknown fields) so that the handoff format changes only when this does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeRecord {
    pub id: String,
    pub unit: String,
    pub kind: Kind,
    pub started_at: String,
    pub started_by: String,
    pub ended_at: Option<String>,
    pub ended_by: Option<String>,
    pub declaration: Declaration,
}

/// A staff account of the workstation (names for the author agents of the FHIR export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    pub username: String,
    pub display_name: String,
    pub role: String,
}

/// A downtime registration (temporary MRN) made on the workstation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registered {
    pub id: String,
    pub record: PatientRecord,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRecord {
    pub version: i64,
    pub kind: String,
    pub author: String,
    pub recorded_at: String,
    pub signed_at: String,
    pub signed_by: String,
    pub content_hash: String,
    pub body: VersionBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRecord {
    pub id: String,
    pub form: String,
    pub author: String,
    pub status: Status,
    pub current_version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub origin: Origin,
    /// The workstation that charted the entry, when it is not the file's own: a workstation restored from another's
    /// backup carries that workstation's entries under a new identity of its own (issue 14). HIM accepts it only
    /// from a file whose audit log records that restore. Absent otherwise, so other files are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workstation: Option<String>,
    pub versions: Vec<VersionRecord>,
}

/// An audit row with its link of the unkeyed chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    #[serde(flatten)]
    pub row: PlainRow,
    pub hash: String,
}

/// An episode event (severity change, checklist tick, status update) as the workstation recorded it, so the HIM
/// station has the episode's timeline for the reconciliation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub event: Event,
}

/// The last record: how many of each record came before it and the head of the audit chain, so a stream that lost
/// records inside the writer (not just at a segment boundary, which the encryption already catches) is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndRecord {
    pub staff: u64,
    pub registrations: u64,
    pub events: u64,
    pub audit_rows: u64,
    pub entries: u64,
    pub versions: u64,
    /// The head of the unkeyed audit hash chain (hex SHA-256).
    pub audit_head: String,
    /// The episode's entries the workstation still held unsigned when it wrote the file, per author (drafts never
    /// leave a workstation, so HIM learns of them only here; issue 14). `None` in a file written before files
    /// carried it: the count is then unknown, not zero. Optional so those files stay readable in format 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<Vec<UnsignedCount>>,
}

/// How many entries of the episode one author left unsigned on the workstation: the file format's own copy of
/// [`crate::entries::unsigned::AuthorCount`], so the format changes only when this does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsignedCount {
    /// The author's username.
    pub author: String,
    pub entries: u64,
}

/// One record of the stream, in the order a file holds them (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    Episode(EpisodeRecord),
    Staff(Staff),
    Registration(Registered),
    Event(EventRecord),
    Audit(AuditRecord),
    Entry(EntryRecord),
    End(EndRecord),
}

/// A record being written, borrowed: serialises exactly like [`Record`], without copying an entry to write it.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RecordRef<'a> {
    Episode(&'a EpisodeRecord),
    Staff(&'a Staff),
    Registration(&'a Registered),
    Event(&'a EventRecord),
    Audit(&'a AuditRecord),
    Entry(&'a EntryRecord),
    End(&'a EndRecord),
}

impl RecordRef<'_> {
    /// How an error names the record: ids and sequence numbers only, never patient data.
    fn label(&self) -> String {
        match self {
            RecordRef::Episode(_) => "the episode".into(),
            RecordRef::Staff(_) => "a staff account".into(),
            RecordRef::Registration(r) => format!("registration {}", r.id),
            RecordRef::Event(e) => format!("episode event {}", e.id),
            RecordRef::Audit(a) => format!("audit row {}", a.row.seq),
            RecordRef::Entry(e) => format!("entry {}", e.id),
            RecordRef::End(_) => "the end record".into(),
        }
    }
}

impl Record {
    fn as_ref(&self) -> RecordRef<'_> {
        match self {
            Record::Episode(r) => RecordRef::Episode(r),
            Record::Staff(r) => RecordRef::Staff(r),
            Record::Registration(r) => RecordRef::Registration(r),
            Record::Event(r) => RecordRef::Event(r),
            Record::Audit(r) => RecordRef::Audit(r),
            Record::Entry(r) => RecordRef::Entry(r),
            Record::End(r) => RecordRef::End(r),
        }
    }

    /// Names the record in an error message.
    pub fn label(&self) -> String {
        self.as_ref().label()
    }
}

/// A whole episode in memory, for tests and the fuzz target, which build files a workstation would refuse to write
/// (a drill episode, a broken audit chain) with [`seal`] and read them back with [`read_payload`]. The product never
/// holds one: it streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub workstation: String,
    pub episode: EpisodeRecord,
    pub staff: Vec<Staff>,
    pub registrations: Vec<Registered>,
    pub entries: Vec<EntryRecord>,
    pub audit: Vec<AuditRecord>,
    /// The episode's events, oldest first.
    #[serde(default)]
    pub events: Vec<EventRecord>,
    /// What the end record says was left unsigned (`None`: a file that does not say).
    #[serde(default)]
    pub unsigned: Option<Vec<UnsignedCount>>,
}

pub(crate) fn chain_genesis(workstation: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"dtk-handoff-audit-genesis-v1");
    h.update(workstation.as_bytes());
    h.finalize().into()
}

/// The next link of the unkeyed audit chain. The workstation's own chain is keyed by its data key, which HIM never
/// has; this chain is recomputed by HIM as the audit records go by, and its head is in the signed end record.
pub(crate) fn chain_link(prev: &[u8; 32], row: &PlainRow) -> [u8; 32] {
    let detail = serde_json::to_vec(&row.detail).unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        b"dtk-handoff-audit-v1".as_slice(),
        prev,
        &row.seq.to_be_bytes(),
        row.at.as_bytes(),
        row.actor.as_bytes(),
        row.action.as_bytes(),
        row.target.as_bytes(),
        &detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

fn derive_key(shared: &[u8], ephemeral: &[u8], recipient: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut salt = Vec::with_capacity(64);
    salt.extend_from_slice(ephemeral);
    salt.extend_from_slice(recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = Zeroizing::new([0u8; 32]);
    // HKDF-SHA-256 expands up to 8160 bytes; 32 cannot fail.
    let _ = hk.expand(HKDF_INFO, key.as_mut());
    key
}
