//! The unit share (issue 20): the workstations of a unit see each other's entries while the EHR is down, through a
//! folder they all reach (the hospital's file share, or one Syncthing replicates). No network protocol of our own.
//!
//! Each workstation writes only its own files, into `<unit_share_dir>/<its workstation id>/`, append-only: each sync
//! that has something new writes one segment (`NNNNNNNNNN.dtku`, [`segment`]) holding the records added since its
//! previous one, in the handoff file's record format ([`crate::handoff::Record`]) and sealed stream, encrypted to
//! every enrolled peer (and to the HIM key, so HIM can read a dead PC's segments) and signed by the workstation's
//! handoff Ed25519 key. Segments carry a sequence number and the SHA-256 of the previous segment, so a replayed,
//! deleted or reordered segment is refused and named. Peers' records are kept apart from the workstation's own
//! ([`store`]): they are shown as "from workstation X, received at …", are seen by the duplicate check at save, and can
//! never be amended or signed here. Format, decisions and invariants: ARCHITECTURE.md, "Unit share".

pub mod publish;
pub mod receive;
pub mod segment;
pub mod store;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use x25519_dalek::StaticSecret;

use crate::crypto::{hex, unhex};
use crate::handoff::HandoffError;
use crate::vault::VaultError;

/// The first bytes of every segment file.
pub const MAGIC: &[u8; 6] = b"DTKU1\n";
/// The segment format this build writes and reads.
pub const FORMAT: u32 = 1;
/// Segment files carry this extension.
pub const EXTENSION: &str = "dtku";
/// Largest segment file read: the first segment of a workstation carries its whole audit log and every entry, later
/// ones only what is new. A larger file is refused by name, never read into memory.
pub const MAX_SEGMENT_BYTES: u64 = 256 << 20;

/// Actions this module writes to the audit log (counts, sequence numbers and workstation ids; never patient data).
pub mod action {
    /// A segment of this workstation's records was published to the unit share.
    pub const PUBLISHED: &str = "unit.published";
    /// A peer's segment was read and its records kept.
    pub const RECEIVED: &str = "unit.received";
    /// Someone looked at the peers' entries of a patient.
    pub const VIEWED: &str = "unit.viewed";
}

/// Why a segment could not be written or was refused. Names the file, the workstation and the reason, never patient
/// data; a refused segment changes nothing and is tried again at the next sync.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The segment's signer is not among the site's `unit_peers`: never trusted on first sight.
    #[error("{file}: signed by key {fingerprint}, which is not in this workstation's unit_peers (site.json); nothing imported")]
    NotEnrolled { file: String, fingerprint: String },
    /// Not a segment, cut short, changed after signing, or not encrypted to this workstation.
    #[error("{file}: {reason}")]
    Unreadable { file: String, reason: String },
    /// A segment that does not follow the ones received before (one missing before it, an older one written again
    /// with other content, another signer) or that contradicts what they said.
    #[error("{file}: {reason}")]
    Refused { file: String, reason: String },
    /// The segment could not be written to the share (full, read-only, gone): nothing local is affected.
    #[error("publishing to the unit share failed: {0}; charting goes on and the next sync tries again")]
    Publish(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for UnitError {
    fn from(e: rusqlite::Error) -> Self {
        UnitError::Vault(e.into())
    }
}

impl From<HandoffError> for UnitError {
    fn from(e: HandoffError) -> Self {
        match e {
            HandoffError::Vault(v) => UnitError::Vault(v),
            other => UnitError::Publish(other.to_string()),
        }
    }
}

/// What a segment carried, or what a sync brought in (new records only), counted: never patient data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub entries: u64,
    pub versions: u64,
    pub events: u64,
    pub registrations: u64,
    pub audit_rows: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.entries += other.entries;
        self.versions += other.versions;
        self.events += other.events;
        self.registrations += other.registrations;
        self.audit_rows += other.audit_rows;
    }

    /// "3 entries (4 versions), 1 events, 0 registrations, 12 audit rows".
    pub fn words(&self) -> String {
        format!(
            "{} entries ({} versions), {} events, {} registrations, {} audit rows",
            self.entries, self.versions, self.events, self.registrations, self.audit_rows
        )
    }
}

/// One recipient of a segment: the key its data key is wrapped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// A peer's Ed25519 key (as listed in `unit_peers`), or the HIM station's X25519 key (`him_public_key`).
    pub key: String,
    pub kind: RecipientKind,
    /// The segment's data key, sealed with AES-256-GCM under a key agreed with this recipient (hex, 48 bytes).
    pub wrapped: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    Peer,
    Him,
}

/// The clear header of a segment. Its SHA-256 (with the magic and its length) is the associated data of every
/// sealed segment of the stream, and the signature covers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: u32,
    /// The writer's workstation id: the folder it writes into.
    pub workstation: String,
    pub unit: String,
    /// 1, 2, 3… per workstation.
    pub sequence: u64,
    /// SHA-256 of the whole previous segment file of this workstation (hex); empty for the first.
    pub previous: String,
    /// When the writer wrote it, by the writer's clock: shown, never used for ordering.
    pub created_at: String,
    /// The writer's Ed25519 public key (hex).
    pub signer: String,
    /// The ephemeral X25519 public key the data key is wrapped with (hex).
    pub ephemeral: String,
    pub recipients: Vec<Recipient>,
    /// The random first bytes of every stream segment's nonce (hex, 7 bytes).
    pub nonce_prefix: String,
    /// Plaintext bytes in every stream segment but the last.
    pub segment_size: u32,
}

/// The file name of segment `sequence`: the number sorts as text.
pub fn file_name(sequence: u64) -> String {
    format!("{sequence:010}.{EXTENSION}")
}

/// The sequence number a segment's file name says, or `None` for any other file.
pub fn sequence_of(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(&format!(".{EXTENSION}"))?;
    if stem.len() != 10 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().filter(|n| *n > 0)
}

/// How a person names a workstation: the first 8 characters of its id (as backups name it).
pub fn short_id(workstation: &str) -> String {
    workstation.chars().filter(char::is_ascii_alphanumeric).take(8).collect()
}

/// A peer key from `unit_peers` (64 hex characters), if it is a valid Ed25519 point.
pub fn peer_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&unhex::<32>(text)?).ok()
}

/// The X25519 public key of an Ed25519 public key (the birational map from Edwards to Montgomery form, as libsodium's
/// `crypto_sign_ed25519_pk_to_curve25519`), so one key a workstation prints serves for signing and for receiving.
pub fn x25519_public(key: &VerifyingKey) -> [u8; 32] {
    key.to_montgomery().to_bytes()
}

/// The X25519 secret of an Ed25519 signing key (the clamped scalar of its expanded secret, as libsodium's
/// `crypto_sign_ed25519_sk_to_curve25519`); its public half is [`x25519_public`] of the verifying key.
pub fn x25519_secret(key: &SigningKey) -> StaticSecret {
    StaticSecret::from(key.to_scalar_bytes())
}

/// The workstation's unit key as `dtk unit key` prints it (the public half of its handoff signing key).
pub fn key_hex(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x25519_dalek::PublicKey;

    #[test]
    fn an_ed25519_key_agrees_on_x25519_with_its_converted_public_key() {
        let a = SigningKey::from_bytes(&[7u8; 32]);
        let b = SigningKey::from_bytes(&[9u8; 32]);
        let ab = x25519_secret(&a).diffie_hellman(&PublicKey::from(x25519_public(&b.verifying_key())));
        let ba = x25519_secret(&b).diffie_hellman(&PublicKey::from(x25519_public(&a.verifying_key())));
        assert_eq!(ab.as_bytes(), ba.as_bytes());
        assert_eq!(PublicKey::from(&x25519_secret(&a)).to_bytes(), x25519_public(&a.verifying_key()));
    }

    #[test]
    fn segment_names_sort_and_other_files_are_not_segments() {
        assert_eq!(file_name(12), "0000000012.dtku");
        assert_eq!(sequence_of("0000000012.dtku"), Some(12));
        for other in ["0000000000.dtku", "12.dtku", ".0000000012.dtku.123.0.tmp", "0000000012.dtkh", "x000000012.dtku"]
        {
            assert_eq!(sequence_of(other), None, "{other}");
        }
    }
}
