//! Handoff files: one workstation's downtime episode (registrations, signed entries with every version, the audit
//! log) carried to the HIM station in one file that only the HIM station can read and that nobody can change
//! unnoticed. Keys and the reasoning behind them are in ARCHITECTURE.md (Reconciliation, handoff files and FHIR export).
//!
//! Layout: `DTKH1\n` ‖ header length (u32, big-endian) ‖ header (JSON) ‖ ciphertext ‖ Ed25519 signature (64 bytes)
//! over everything before it. The ciphertext is the payload (JSON) under AES-256-GCM with a key from HKDF-SHA-256
//! over an X25519 agreement between a fresh ephemeral key and the HIM station's public key; the magic and the header
//! are its associated data.
//!
//! Crates, each for the spec that needs it: `x25519-dalek` (RFC 7748 key agreement, so a workstation can encrypt to
//! HIM with only HIM's public key, distributed before the downtime), `ed25519-dalek` (RFC 8032 signatures, so HIM
//! can tell a workstation's file from a forged or edited one without any network or identity provider), and the
//! `aes-gcm`, `hkdf`, `sha2` crates already used by the vault.

use aes_gcm::aead::{Aead, Payload as AeadPayload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::audit::PlainRow;
use crate::census::PatientRecord;
use crate::clock::stamp;
use crate::crypto::{sha256_hex, Keys, Place, Random};
use crate::entries::{Origin, Status, VersionBody};
use crate::episodes::{Declaration, Kind};
use crate::procedures::{Event, Recorded};
use crate::vault::{Tx, VaultError};

/// The first bytes of every handoff file (format 1).
pub const MAGIC: &[u8; 6] = b"DTKH1\n";
/// The format this build writes and reads.
pub const FORMAT: u32 = 1;
/// Largest file accepted (a four-week outage of a 40-bed unit is a few hundred MiB).
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Largest header accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Deepest JSON nesting accepted in the payload (responses nest groups a few levels deep).
pub const MAX_DEPTH: usize = 64;
/// Most entries, versions per entry, registrations, staff and audit rows accepted in one file.
pub const MAX_ENTRIES: usize = 1_000_000;
pub const MAX_VERSIONS: usize = 1_000;
pub const MAX_PATIENTS: usize = 100_000;
pub const MAX_STAFF: usize = 10_000;
pub const MAX_AUDIT_ROWS: usize = 20_000_000;
/// Episode events (severity changes, checklist ticks, status updates) in one file.
pub const MAX_EVENTS: usize = 100_000;

const SIG_LEN: usize = 64;
const TAG_LEN: usize = 16;
const HKDF_INFO: &[u8] = b"downtime-kit/handoff/v1";
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
}

/// Why a handoff file could not be written or was refused. Messages name the problem, never patient data; a refused
/// file changes nothing on the HIM station.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    /// Not a handoff file at all.
    #[error("this is not a Downtime Kit handoff file (it does not start with DTKH1)")]
    NotHandoff,
    /// A handoff file of a format this build does not know.
    #[error("handoff file format {0} is not supported by this Downtime Kit (it reads format {FORMAT})")]
    UnsupportedFormat(u32),
    /// Larger than the limit.
    #[error("the handoff file is larger than the {limit_mib} MiB limit")]
    TooLarge { limit_mib: u64 },
    /// Cut short: fewer bytes than the header announces.
    #[error(
        "the handoff file is truncated: {expected} bytes expected, {found} found (copy it again from the workstation)"
    )]
    Truncated { expected: u64, found: u64 },
    /// Extra bytes after the signature.
    #[error("the handoff file has {0} unexpected bytes after its signature")]
    TrailingBytes(u64),
    /// The header or payload does not have the expected shape.
    #[error("the handoff file is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify: changed after it was written.
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
    #[error("workstation {workstation}: audit row {seq} differs from the one imported earlier; the workstation's log was rewritten")]
    AuditConflict { workstation: String, seq: i64 },
    /// The HIM station has no handoff key yet.
    #[error("this station has no HIM handoff key; run `dtk handoff keygen` first")]
    NoHimKey,
    /// The workstation has no HIM public key in its site configuration.
    #[error("no HIM public key is configured: hospital IT sets him_public_key in the site configuration")]
    NoRecipient,
    /// Nothing to export.
    #[error("{0}")]
    NothingToExport(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for HandoffError {
    fn from(e: rusqlite::Error) -> Self {
        HandoffError::Vault(e.into())
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    data_encoding::HEXLOWER_PERMISSIVE.decode(text.trim().as_bytes()).ok()?.try_into().ok()
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
    tx.sql().execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![place.row, sealed])?;
    Ok(())
}

/// The workstation's Ed25519 signing key, created (and audited) on first use.
fn signing_key(tx: &mut Tx<'_>) -> Result<SigningKey, VaultError> {
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

/// The workstation's signing-key fingerprint, if it has made one (shown so HIM can compare it with the file's).
pub fn signing_fingerprint(conn: &rusqlite::Connection, keys: &Keys) -> Result<Option<String>, VaultError> {
    Ok(load_secret(conn, keys, &SIGNING_KEY_PLACE)?
        .map(|b| fingerprint(SigningKey::from_bytes(&b).verifying_key().as_bytes())))
}

/// The clear-text header. Everything in it is covered by the signature and is the ciphertext's associated data.
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
    /// The HIM station's X25519 public key the payload is encrypted to (hex).
    pub recipient: String,
    /// The ephemeral X25519 public key of this file (hex).
    pub ephemeral: String,
    /// The AES-GCM nonce (hex).
    pub nonce: String,
    pub payload_len: u64,
    pub entries: u64,
    pub audit_rows: u64,
    /// The head of the payload's unkeyed audit hash chain (hex SHA-256).
    pub audit_head: String,
}

/// The episode as the workstation recorded it.
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

/// The encrypted content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub workstation: String,
    pub episode: EpisodeRecord,
    pub staff: Vec<Staff>,
    pub registrations: Vec<Registered>,
    pub entries: Vec<EntryRecord>,
    pub audit: Vec<AuditRecord>,
    /// The episode's events, oldest first. Files written before events were carried have none.
    #[serde(default)]
    pub events: Vec<EventRecord>,
}

fn chain_genesis(workstation: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"dtk-handoff-audit-genesis-v1");
    h.update(workstation.as_bytes());
    h.finalize().into()
}

/// The next link of the unkeyed audit chain. The workstation's own chain is keyed by its data key, which HIM never
/// has; this chain is recomputed by HIM, and its head is inside the signed header.
fn chain_link(prev: &[u8; 32], row: &PlainRow) -> [u8; 32] {
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

/// What a workstation's export produced: the file bytes (to be written by the caller after the commit) and a summary.
pub struct Written {
    pub bytes: Vec<u8>,
    pub summary: ExportSummary,
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
    /// The signing key's fingerprint: HIM compares it with the one shown at import.
    pub signer_fingerprint: String,
    pub recipient_fingerprint: String,
}

/// Builds, encrypts and signs the handoff file of `episode_id` inside a write transaction, and records its
/// sequence number. The caller writes the bytes only after the commit.
pub fn export(
    tx: &mut Tx<'_>,
    workstation: &str,
    episode_id: &str,
    recipient: &[u8; 32],
) -> Result<Written, HandoffError> {
    let keys_episode = crate::episodes::get(tx.sql(), tx.keys(), episode_id)?.ok_or_else(|| {
        HandoffError::NothingToExport(format!("there is no episode {episode_id} on this workstation"))
    })?;
    if keys_episode.kind == Kind::Drill {
        return Err(HandoffError::Drill);
    }
    let episode = EpisodeRecord {
        id: keys_episode.id.clone(),
        unit: keys_episode.unit.clone(),
        kind: keys_episode.kind,
        started_at: keys_episode.started_at.clone(),
        started_by: keys_episode.started_by.clone(),
        ended_at: keys_episode.ended_at.clone(),
        ended_by: keys_episode.ended_by.clone(),
        declaration: keys_episode.declaration.clone(),
    };
    let entries = collect_entries(tx.sql(), tx.keys(), episode_id)?;
    let registrations = crate::patients::list(tx.sql(), tx.keys())?
        .into_iter()
        .filter(|p| p.source == crate::patients::Source::Registration)
        .map(|p| Registered { id: p.id, record: p.record })
        .collect();
    let staff = crate::auth::list_users(tx.sql())?
        .into_iter()
        .map(|u| Staff { username: u.username, display_name: u.display_name, role: u.role.as_str().to_string() })
        .collect();
    let mut head = chain_genesis(workstation);
    let audit: Vec<AuditRecord> = crate::audit::plain_rows(tx.sql(), tx.keys())?
        .into_iter()
        .map(|row| {
            head = chain_link(&head, &row);
            AuditRecord { row, hash: hex(&head) }
        })
        .collect();
    let events = crate::episodes::event_rows(tx.sql(), tx.keys(), episode_id)?
        .into_iter()
        .map(|(id, r)| EventRecord { id, at: r.at, actor: r.actor, event: r.event })
        .collect();
    let payload =
        Payload { workstation: workstation.to_string(), episode, staff, registrations, entries, audit, events };
    let sequence: u64 =
        tx.sql().query_row("SELECT coalesce(max(sequence), 0) + 1 FROM handoff_exports", [], |r| r.get(0))?;
    let signer = signing_key(tx)?;
    let created_at = stamp(tx.at());
    let out = seal(&payload, sequence, &created_at, &signer.to_bytes(), recipient, tx)?;
    let file_sha256 = sha256_hex(&out);
    tx.sql().execute(
        "INSERT INTO handoff_exports (sequence, episode_id, created_at, created_by, file_sha256) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sequence as i64, episode_id, created_at, tx.actor().to_string(), file_sha256],
    )?;
    let summary = ExportSummary {
        workstation: workstation.to_string(),
        episode: episode_id.to_string(),
        sequence,
        entries: payload.entries.len(),
        versions: payload.entries.iter().map(|e| e.versions.len()).sum(),
        registrations: payload.registrations.len(),
        audit_rows: payload.audit.len(),
        file_sha256: file_sha256.clone(),
        signer_fingerprint: fingerprint(signer.verifying_key().as_bytes()),
        recipient_fingerprint: fingerprint(recipient),
    };
    tx.audit(
        action::EXPORTED,
        &format!("episodes:{episode_id}"),
        &serde_json::json!({ "sequence": sequence, "entries": summary.entries, "sha256": file_sha256 }),
    )?;
    Ok(Written { bytes: out, summary })
}

/// Encrypts `payload` to `recipient` and signs the whole file with `signing_secret` (an Ed25519 secret key). Used by
/// [`export`]; public so that tests can build files a workstation would refuse to write (a drill episode).
pub fn seal(
    payload: &Payload,
    sequence: u64,
    created_at: &str,
    signing_secret: &[u8; 32],
    recipient: &[u8; 32],
    rng: &mut dyn Random,
) -> Result<Vec<u8>, HandoffError> {
    let signer = SigningKey::from_bytes(signing_secret);
    let plain = Zeroizing::new(
        serde_json::to_vec(payload).map_err(|e| HandoffError::Malformed(format!("payload not serialisable: {e}")))?,
    );
    let mut head = chain_genesis(&payload.workstation);
    for a in &payload.audit {
        head = chain_link(&head, &a.row);
    }
    let mut eph_bytes = Zeroizing::new([0u8; 32]);
    rng.fill(eph_bytes.as_mut());
    let ephemeral = StaticSecret::from(*eph_bytes);
    let eph_public = PublicKey::from(&ephemeral);
    let shared = ephemeral.diffie_hellman(&PublicKey::from(*recipient));
    if !shared.was_contributory() {
        return Err(HandoffError::Malformed("the configured HIM public key is not a usable X25519 key".into()));
    }
    let key = derive_key(shared.as_bytes(), eph_public.as_bytes(), recipient);
    let mut nonce = [0u8; 12];
    rng.fill(&mut nonce);
    let header = Header {
        format: FORMAT,
        workstation: payload.workstation.clone(),
        unit: payload.episode.unit.clone(),
        episode: payload.episode.id.clone(),
        sequence,
        created_at: created_at.to_string(),
        signer: hex(signer.verifying_key().as_bytes()),
        recipient: hex(recipient),
        ephemeral: hex(eph_public.as_bytes()),
        nonce: hex(&nonce),
        payload_len: (plain.len() + TAG_LEN) as u64,
        entries: payload.entries.len() as u64,
        audit_rows: payload.audit.len() as u64,
        audit_head: hex(&head),
    };
    let header_bytes =
        serde_json::to_vec(&header).map_err(|e| HandoffError::Malformed(format!("header not serialisable: {e}")))?;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header_bytes.len() + plain.len() + TAG_LEN + SIG_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&header_bytes);
    let cipher = Aes256Gcm::new((&*key).into());
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), AeadPayload { msg: &plain, aad: &out })
        .map_err(|_| HandoffError::Malformed("the payload is too large to encrypt".into()))?;
    out.extend_from_slice(&ct);
    let sig = signer.sign(&out);
    out.extend_from_slice(&sig.to_bytes());
    Ok(out)
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

/// Signed entries of the episode with their signed versions; drafts never leave the workstation.
// Row tuples mirror the SELECT column lists right above them; naming each would add nothing.
#[allow(clippy::type_complexity)]
fn collect_entries(
    conn: &rusqlite::Connection,
    keys: &Keys,
    episode_id: &str,
) -> Result<Vec<EntryRecord>, HandoffError> {
    let mut st = conn.prepare(
        "SELECT id, form, author, status, current_version, created_at, updated_at, origin FROM entries
          WHERE episode_id = ?1 AND status != 'draft' ORDER BY created_at, id",
    )?;
    let heads: Vec<(String, String, String, String, i64, String, String, String)> = st
        .query_map([episode_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut vst = conn.prepare(
        "SELECT version, kind, author, recorded_at, signed_at, signed_by, content_hash FROM entry_versions
          WHERE entry_id = ?1 AND signed_at IS NOT NULL ORDER BY version",
    )?;
    let mut out = Vec::with_capacity(heads.len());
    for (id, form, author, status, current_version, created_at, updated_at, origin) in heads {
        let rows: Vec<(i64, String, String, String, String, Option<String>, String)> = vst
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
            .collect::<Result<_, _>>()?;
        let mut versions = Vec::with_capacity(rows.len());
        for (version, kind, vauthor, recorded_at, signed_at, signed_by, content_hash) in rows {
            let body = crate::entries::version_body(conn, keys, &id, version)?;
            versions.push(VersionRecord {
                version,
                kind,
                author: vauthor,
                recorded_at,
                signed_by: signed_by.unwrap_or_default(),
                signed_at,
                content_hash,
                body,
            });
        }
        out.push(EntryRecord {
            id,
            form,
            author,
            status: Status::parse(&status).unwrap_or(Status::Signed),
            current_version,
            created_at,
            updated_at,
            origin: if origin == "paper" { Origin::Paper } else { Origin::Electronic },
            versions,
        });
    }
    Ok(out)
}

/// A handoff file that passed every check: signature, recipient, decryption, limits, audit chain, consistency.
pub struct Opened {
    pub header: Header,
    pub payload: Payload,
    pub file_sha256: String,
    pub signer_fingerprint: String,
}

/// Verifies and decrypts a handoff file. Checks run from the cheapest to the most expensive, and each failure names
/// what is wrong.
pub fn open(bytes: &[u8], him: &HimKey) -> Result<Opened, HandoffError> {
    let found = bytes.len() as u64;
    if found > MAX_FILE_BYTES {
        return Err(HandoffError::TooLarge { limit_mib: MAX_FILE_BYTES >> 20 });
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(HandoffError::NotHandoff);
    }
    let fixed = MAGIC.len() + 4;
    if bytes.len() < fixed {
        return Err(HandoffError::Truncated { expected: fixed as u64, found });
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[MAGIC.len()..fixed]);
    let header_len = u32::from_be_bytes(len) as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(HandoffError::Malformed(format!("the header is longer than {MAX_HEADER_BYTES} bytes")));
    }
    let header_end = fixed + header_len;
    if bytes.len() < header_end {
        return Err(HandoffError::Truncated { expected: header_end as u64, found });
    }
    let header_value = crate::json::parse_limited(&bytes[fixed..header_end], MAX_HEADER_BYTES, 4)
        .map_err(|e| HandoffError::Malformed(format!("header: {e}")))?;
    let format = header_value.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if format != u64::from(FORMAT) {
        return Err(HandoffError::UnsupportedFormat(u32::try_from(format).unwrap_or(u32::MAX)));
    }
    let header: Header =
        serde_json::from_value(header_value).map_err(|e| HandoffError::Malformed(format!("header: {e}")))?;
    let payload_len = header.payload_len;
    let expected = (header_end as u64).saturating_add(payload_len).saturating_add(SIG_LEN as u64);
    if found < expected {
        return Err(HandoffError::Truncated { expected, found });
    }
    if found > expected {
        return Err(HandoffError::TrailingBytes(found - expected));
    }
    let signed_end = bytes.len() - SIG_LEN;
    let signer_bytes: [u8; 32] =
        unhex(&header.signer).ok_or_else(|| HandoffError::Malformed("header: signer is not a key".into()))?;
    let signer = VerifyingKey::from_bytes(&signer_bytes)
        .map_err(|_| HandoffError::Malformed("header: signer is not an Ed25519 key".into()))?;
    let sig_bytes: [u8; SIG_LEN] = bytes[signed_end..].try_into().map_err(|_| HandoffError::Tampered)?;
    signer
        .verify_strict(&bytes[..signed_end], &Signature::from_bytes(&sig_bytes))
        .map_err(|_| HandoffError::Tampered)?;

    let recipient: [u8; 32] =
        unhex(&header.recipient).ok_or_else(|| HandoffError::Malformed("header: recipient is not a key".into()))?;
    let ours = PublicKey::from(&him.secret);
    if &recipient != ours.as_bytes() {
        return Err(HandoffError::WrongRecipient { found: fingerprint(&recipient), ours: him.fingerprint() });
    }
    let eph: [u8; 32] =
        unhex(&header.ephemeral).ok_or_else(|| HandoffError::Malformed("header: ephemeral is not a key".into()))?;
    let nonce: [u8; 12] =
        unhex(&header.nonce).ok_or_else(|| HandoffError::Malformed("header: nonce is not 12 bytes".into()))?;
    let shared = him.secret.diffie_hellman(&PublicKey::from(eph));
    if !shared.was_contributory() {
        return Err(HandoffError::Malformed("header: the ephemeral key is a low-order point".into()));
    }
    let key = derive_key(shared.as_bytes(), &eph, &recipient);
    let cipher = Aes256Gcm::new((&*key).into());
    let plain = Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                AeadPayload { msg: &bytes[header_end..signed_end], aad: &bytes[..header_end] },
            )
            .map_err(|_| HandoffError::Tampered)?,
    );
    if crate::json::too_deep(&plain, MAX_DEPTH) {
        return Err(HandoffError::Malformed(format!("the payload is nested deeper than {MAX_DEPTH} levels")));
    }
    let payload: Payload =
        serde_json::from_slice(&plain).map_err(|e| HandoffError::Malformed(format!("payload: {e}")))?;
    check_payload(&header, &payload)?;
    Ok(Opened { file_sha256: sha256_hex(bytes), signer_fingerprint: fingerprint(&signer_bytes), header, payload })
}

fn check_payload(header: &Header, p: &Payload) -> Result<(), HandoffError> {
    let bad = |m: String| Err(HandoffError::Inconsistent(m));
    if p.entries.len() > MAX_ENTRIES
        || p.registrations.len() > MAX_PATIENTS
        || p.staff.len() > MAX_STAFF
        || p.audit.len() > MAX_AUDIT_ROWS
        || p.events.len() > MAX_EVENTS
    {
        return Err(HandoffError::Malformed(
            "the payload has more entries, patients, staff, audit rows or episode events than allowed".into(),
        ));
    }
    if p.workstation != header.workstation || p.episode.id != header.episode {
        return bad("the payload names another workstation or episode than its header".into());
    }
    if p.entries.len() as u64 != header.entries || p.audit.len() as u64 != header.audit_rows {
        return bad("the payload's counts differ from its header".into());
    }
    if p.episode.kind == Kind::Drill {
        return Err(HandoffError::Drill);
    }
    for id in [&p.workstation, &p.episode.id] {
        if uuid::Uuid::parse_str(id).is_err() {
            return bad("workstation and episode ids must be UUIDs".into());
        }
    }
    let mut head = chain_genesis(&p.workstation);
    for (i, a) in p.audit.iter().enumerate() {
        if a.row.seq != i as i64 + 1 {
            return Err(HandoffError::AuditChain { seq: a.row.seq, reason: format!("expected row {}", i + 1) });
        }
        head = chain_link(&head, &a.row);
        if hex(&head) != a.hash {
            return Err(HandoffError::AuditChain { seq: a.row.seq, reason: "hash does not match its content".into() });
        }
    }
    if hex(&head) != header.audit_head {
        return Err(HandoffError::AuditChain {
            seq: p.audit.len() as i64,
            reason: "the chain does not end at the signed head".into(),
        });
    }
    for ev in &p.events {
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
    for e in &p.entries {
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
    }
    Ok(())
}

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub entry_id: String,
    pub version: i64,
    pub existing_hash: String,
    pub incoming_hash: String,
}

/// Brings a verified file into the HIM vault inside one transaction. Idempotent: whatever was imported before is
/// recognised by id, version and content hash and is not added again.
pub fn import(
    tx: &mut Tx<'_>,
    opened: &Opened,
    temp_mrn_system: &str,
    duplicate_window_minutes: i64,
) -> Result<ImportReport, HandoffError> {
    let h = &opened.header;
    let p = &opened.payload;
    let mut report = ImportReport {
        workstation: h.workstation.clone(),
        episode: h.episode.clone(),
        sequence: h.sequence,
        file_sha256: opened.file_sha256.clone(),
        signer_fingerprint: opened.signer_fingerprint.clone(),
        ..ImportReport::default()
    };
    let pinned: Option<String> = tx
        .sql()
        .query_row("SELECT signer FROM handoff_files WHERE workstation = ?1 LIMIT 1", [&h.workstation], |r| r.get(0))
        .optional()?;
    if let Some(pinned) = pinned {
        if pinned != h.signer {
            return Err(HandoffError::KeyChanged {
                workstation: h.workstation.clone(),
                found: opened.signer_fingerprint.clone(),
                pinned: unhex::<32>(&pinned).map(|k| fingerprint(&k)).unwrap_or_default(),
            });
        }
    }
    let seq = i64::try_from(h.sequence).map_err(|_| HandoffError::Malformed("sequence out of range".into()))?;
    let same: Option<String> = tx
        .sql()
        .query_row(
            "SELECT file_sha256 FROM handoff_files WHERE workstation = ?1 AND sequence = ?2",
            params![h.workstation, seq],
            |r| r.get(0),
        )
        .optional()?;
    match same {
        Some(sha) if sha == opened.file_sha256 => {
            report.already_imported = true;
            tx.audit(
                action::REIMPORTED,
                &format!("handoff:{}/{}", h.workstation, h.sequence),
                &serde_json::json!({ "sha256": opened.file_sha256 }),
            )?;
            return Ok(report);
        }
        Some(_) => {
            return Err(HandoffError::Replayed(format!(
                "file #{} of workstation {} was already imported with different content",
                h.sequence, h.workstation
            )))
        }
        None => {}
    }
    let newest: Option<i64> = tx.sql().query_row(
        "SELECT max(sequence) FROM handoff_files WHERE workstation = ?1",
        [&h.workstation],
        |r| r.get(0),
    )?;
    if let Some(n) = newest.filter(|n| *n > seq) {
        return Err(HandoffError::Replayed(format!(
            "file #{} of workstation {} is older than file #{n} already imported",
            h.sequence, h.workstation
        )));
    }

    import_episode(tx, &p.episode)?;
    for r in &p.registrations {
        report.new_patients += import_registration(tx, r)?;
    }
    for s in &p.staff {
        tx.sql().execute(
            "INSERT INTO handoff_staff (workstation, username, display_name, role) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workstation, username) DO UPDATE SET display_name = ?3, role = ?4",
            params![h.workstation, s.username, s.display_name, s.role],
        )?;
    }
    report.new_audit_rows = import_audit(tx, &h.workstation, &p.audit)?;
    for ev in &p.events {
        let recorded = Recorded { at: ev.at.clone(), actor: ev.actor.clone(), event: ev.event.clone() };
        match crate::episodes::import_event(tx, &ev.id, &p.episode.id, &recorded)? {
            crate::episodes::Imported::New => report.new_events += 1,
            crate::episodes::Imported::Known => {}
            crate::episodes::Imported::Differs => {
                return Err(HandoffError::Inconsistent(format!(
                    "episode event {} differs from the one imported earlier",
                    ev.id
                )))
            }
        }
    }
    let mut touched = Vec::new();
    for e in &p.entries {
        import_entry(tx, h, p, e, temp_mrn_system, &mut report, &mut touched)?;
    }
    report.duplicate_proposals = crate::reconcile::propose_duplicates(tx, &touched, duplicate_window_minutes)?;
    tx.sql().execute(
        "INSERT INTO handoff_files (workstation, sequence, file_sha256, signer, episode_id, created_at, imported_at, imported_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            h.workstation,
            seq,
            opened.file_sha256,
            h.signer,
            h.episode,
            h.created_at,
            stamp(tx.at()),
            tx.actor().to_string()
        ],
    )?;
    tx.audit(
        action::IMPORTED,
        &format!("handoff:{}/{}", h.workstation, h.sequence),
        &serde_json::json!({
            "sha256": opened.file_sha256, "signer": opened.signer_fingerprint, "episode": h.episode,
            "new_entries": report.new_entries, "new_versions": report.new_versions,
            "conflicts": report.conflicts.len(), "duplicate_proposals": report.duplicate_proposals,
        }),
    )?;
    Ok(report)
}

fn import_episode(tx: &mut Tx<'_>, ep: &EpisodeRecord) -> Result<(), HandoffError> {
    let existing: Option<Option<String>> =
        tx.sql().query_row("SELECT ended_at FROM episodes WHERE id = ?1", [&ep.id], |r| r.get(0)).optional()?;
    match existing {
        None => {
            let plain = serde_json::to_vec(&ep.declaration).unwrap_or_default();
            let sealed = tx.seal(&Place { table: "episodes", row: &ep.id, column: "body", format: 1 }, &plain);
            tx.sql().execute(
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
            tx.sql().execute(
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
    tx.sql().execute(
        "INSERT INTO patients (id, mrn_idx, source, snapshot_id, created_at, fv, body) VALUES (?1, ?2, 'registration', NULL, ?3, 1, ?4)",
        params![r.id, token, stamp(tx.at()), sealed],
    )?;
    Ok(1)
}

fn import_audit(tx: &mut Tx<'_>, workstation: &str, rows: &[AuditRecord]) -> Result<usize, HandoffError> {
    let mut added = 0;
    let mut known = tx.sql().prepare("SELECT hash FROM handoff_audit WHERE workstation = ?1 AND seq = ?2")?;
    let mut fresh = Vec::new();
    for a in rows {
        let existing: Option<String> = known.query_row(params![workstation, a.row.seq], |r| r.get(0)).optional()?;
        match existing {
            Some(h) if h == a.hash => {}
            Some(_) => return Err(HandoffError::AuditConflict { workstation: workstation.into(), seq: a.row.seq }),
            None => fresh.push(a),
        }
    }
    drop(known);
    for a in fresh {
        let row = format!("{workstation}/{}", a.row.seq);
        let plain = Zeroizing::new(serde_json::to_vec(&a.row.detail).unwrap_or_default());
        let sealed = tx.seal(&Place { table: "handoff_audit", row: &row, column: "detail", format: 1 }, &plain);
        tx.sql().execute(
            "INSERT INTO handoff_audit (workstation, seq, hash, at, actor, action, target, fv, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
            params![workstation, a.row.seq, a.hash, a.row.at, a.row.actor, a.row.action, a.row.target, sealed],
        )?;
        added += 1;
    }
    Ok(added)
}

fn import_entry(
    tx: &mut Tx<'_>,
    h: &Header,
    p: &Payload,
    e: &EntryRecord,
    temp_mrn_system: &str,
    report: &mut ImportReport,
    touched: &mut Vec<String>,
) -> Result<(), HandoffError> {
    let existing: Option<(String, i64)> = tx
        .sql()
        .query_row("SELECT workstation, current_version FROM entries WHERE id = ?1", [&e.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
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
            tx.sql().execute(
                "INSERT INTO entries (id, patient_idx, form, episode_id, author, workstation, status, current_version, created_at, updated_at, med_idx, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    e.id, patient_idx, e.form, p.episode.id, e.author, h.workstation, e.status.as_str(),
                    e.current_version, e.created_at, e.updated_at, med_idx, origin
                ],
            )?;
            report.new_entries += 1;
            0
        }
    };
    let mut added = false;
    for v in &e.versions {
        let have: Option<String> = tx
            .sql()
            .query_row(
                "SELECT content_hash FROM entry_versions WHERE entry_id = ?1 AND version = ?2",
                params![e.id, v.version],
                |r| r.get(0),
            )
            .optional()?;
        match have {
            Some(hash) if hash == v.content_hash => report.unchanged_versions += 1,
            Some(hash) => {
                tx.sql().execute(
                    "INSERT OR IGNORE INTO handoff_conflicts (entry_id, version, workstation, content_hash, file_sha256, seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![e.id, v.version, h.workstation, v.content_hash, report.file_sha256, stamp(tx.at())],
                )?;
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
                tx.sql().execute(
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
        tx.sql().execute(
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
