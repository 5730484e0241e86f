//! The site's staff roster: one account for every workstation of a site, provisioned by hospital IT once and
//! carried on a stick or in `site.json`'s folder, with no network. A roster file is signed by the site's IT key
//! (Ed25519) and lists each user with an X25519 key pair whose secret is wrapped under the user's password; each
//! workstation wraps its own data key to the public half ([`store`]). Design and threat model: ARCHITECTURE.md,
//! "One account for the site's workstations".
//!
//! Crates: `ed25519-dalek` (RFC 8032 signatures: a workstation tells IT's roster from a forged or edited one with
//! only the public key in `site.json`) and `x25519-dalek` (RFC 7748: a workstation wraps its data key to a user with
//! only their public key), both already used by the handoff files.

pub mod build;
pub mod changes;
pub mod store;

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::crypto::{self, hex, unhex, KdfParams, Password, Random};

/// The first line of every roster file.
pub const MAGIC: &str = "DTKROSTER1";
/// The extension the workstation looks for in `site.json`'s folder.
pub const EXTENSION: &str = "dtkroster";
/// Largest roster file read (a site of 10,000 staff is well under 16 MiB).
pub const MAX_BYTES: usize = 16 << 20;
/// Most users one roster may list.
pub const MAX_USERS: usize = 10_000;
/// The domain separator in front of the signed body.
const SIGNED_PREFIX: &[u8] = b"dtk-roster-v1\0";
const IT_KEY_FORMAT: &str = "dtk-it-key-1";
/// Shortest passphrase accepted for the IT key file.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Why a roster (or the IT key file, or IT's input) was refused. A refused roster changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    /// The workstation's `site.json` names no IT key, so no roster can be trusted.
    #[error("no IT public key is configured: hospital IT sets it_public_key in site.json (printed by `dtk site it-key --create`)")]
    NoItKey,
    /// Not a roster file at all.
    #[error("this is not a Downtime Kit roster file (it does not start with {MAGIC})")]
    NotRoster,
    /// Signed by another key, or changed after signing.
    #[error("forged roster refused: it is not signed by this site's IT key {expected} (another key signed it, or it was changed after signing)")]
    BadSignature { expected: String },
    /// An older roster than the one already imported.
    #[error("rollback refused: this roster is version {found}, older than version {imported} already imported on this workstation")]
    Rollback { found: u64, imported: u64 },
    /// The same version as the one imported, with other content.
    #[error("roster version {0} was already imported on this workstation with other content; IT issues every roster under a new version")]
    Reissued(u64),
    /// The body does not have the expected shape, or a value is out of bounds.
    #[error("the roster is malformed: {0}")]
    Malformed(String),
    /// A username listed twice (in the roster or in IT's CSV).
    #[error("the username '{username}' is given twice ({first} and {again})")]
    Duplicate { username: String, first: String, again: String },
    /// IT's CSV or options are not acceptable (names the line or the option).
    #[error("{0}")]
    Input(String),
    /// The IT key file does not open (wrong passphrase or a damaged file).
    #[error("the IT key file does not open: {0}")]
    ItKey(String),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

impl From<rusqlite::Error> for RosterError {
    fn from(e: rusqlite::Error) -> Self {
        RosterError::Vault(e.into())
    }
}

/// Active or disabled, as IT decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Disabled,
}

/// A user's secret wrapped under their password, as the roster carries it (hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretWrap {
    pub kdf_m: u32,
    pub kdf_t: u32,
    pub kdf_p: u32,
    pub salt: String,
    pub wrapped: String,
}

impl SecretWrap {
    pub fn from_wrap(w: &crypto::Wrap) -> SecretWrap {
        let p = w.params.unwrap_or(KdfParams::FLOOR);
        SecretWrap { kdf_m: p.m_kib, kdf_t: p.t, kdf_p: p.p, salt: hex(&w.salt), wrapped: hex(&w.wrapped) }
    }

    /// The wrap, with the floor and the salt checked.
    pub fn to_wrap(&self) -> Result<crypto::Wrap, RosterError> {
        let params = KdfParams { m_kib: self.kdf_m, t: self.kdf_t, p: self.kdf_p };
        params.check_floor().map_err(|e| RosterError::Malformed(e.to_string()))?;
        let salt =
            unhex::<16>(&self.salt).ok_or_else(|| RosterError::Malformed("a salt is not 32 hex characters".into()))?;
        let wrapped = data_encoding::HEXLOWER_PERMISSIVE
            .decode(self.wrapped.as_bytes())
            .map_err(|_| RosterError::Malformed("a wrapped secret is not hex".into()))?;
        if wrapped.len() > 1024 {
            return Err(RosterError::Malformed("a wrapped secret is too long".into()));
        }
        Ok(crypto::Wrap { salt, params: Some(params), wrapped })
    }
}

/// One user of the roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub status: Status,
    /// Emergency accounts end (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// True while the secret is wrapped under a one-time password.
    pub must_change: bool,
    /// The user's X25519 public key (hex).
    pub public_key: String,
    pub secret: SecretWrap,
    /// Goes up with every password change (ARCHITECTURE.md, the ordering rule).
    pub secret_version: u64,
    /// When the secret was last wrapped under a new password (Unix seconds).
    pub changed_at: i64,
}

impl Entry {
    pub fn public(&self) -> Result<[u8; 32], RosterError> {
        unhex::<32>(&self.public_key).ok_or_else(|| {
            RosterError::Malformed(format!("the public key of '{}' is not 64 hex characters", self.username))
        })
    }
}

/// What IT signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// 1, 2, 3…: a workstation refuses a roster older than the one it imported.
    pub version: u64,
    pub created_at: String,
    /// The IT key that signed it (hex).
    pub signer: String,
    pub users: Vec<Entry>,
}

/// A roster whose signature verified against the site's IT key and whose content passed every check.
#[derive(Debug, Clone)]
pub struct Roster {
    pub body: Body,
    /// SHA-256 of the whole file (hex): the same version must always be the same file.
    pub sha256: String,
}

impl Roster {
    pub fn entry(&self, username: &str) -> Option<&Entry> {
        self.body.users.iter().find(|e| e.username == username)
    }
}

/// The site's IT key: signs rosters. Kept offline by IT in a file wrapped under a passphrase.
pub struct ItKey {
    key: SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItKeyFile {
    format: String,
    public_key: String,
    secret: SecretWrap,
}

impl ItKey {
    pub fn generate(rng: &mut dyn Random) -> ItKey {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut());
        ItKey { key: SigningKey::from_bytes(&seed) }
    }

    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public key for `site.json`'s `it_public_key` (hex).
    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    pub fn fingerprint(&self) -> String {
        crate::handoff::fingerprint(self.key.verifying_key().as_bytes())
    }

    /// The key file: the seed wrapped under Argon2id(passphrase) at the vault's floor.
    pub fn to_file(&self, passphrase: &Password, rng: &mut dyn Random) -> Result<Vec<u8>, RosterError> {
        if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(RosterError::Input(format!(
                "the IT key's passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        let label = format!("it-key|{}", self.public_hex());
        let wrap = crypto::wrap_secret(&self.key.to_bytes(), &label, passphrase, KdfParams::FLOOR, rng)
            .map_err(|e| RosterError::ItKey(e.to_string()))?;
        let file = ItKeyFile {
            format: IT_KEY_FORMAT.into(),
            public_key: self.public_hex(),
            secret: SecretWrap::from_wrap(&wrap),
        };
        Ok(serde_json::to_vec_pretty(&file).unwrap_or_default())
    }

    /// Opens a key file with its passphrase.
    pub fn from_file(bytes: &[u8], passphrase: &Password) -> Result<ItKey, RosterError> {
        let value = crate::json::parse_limited(bytes, 64 * 1024, 8).map_err(|e| RosterError::ItKey(e.to_string()))?;
        let file: ItKeyFile = serde_json::from_value(value).map_err(|e| RosterError::ItKey(e.to_string()))?;
        if file.format != IT_KEY_FORMAT {
            return Err(RosterError::ItKey(format!("format '{}' is not {IT_KEY_FORMAT}", file.format)));
        }
        let wrap = file.secret.to_wrap()?;
        let seed = crypto::unwrap_secret(&wrap, &format!("it-key|{}", file.public_key), passphrase)
            .map_err(|_| RosterError::ItKey("wrong passphrase, or the file was changed".into()))?;
        let key = ItKey { key: SigningKey::from_bytes(&seed) };
        if key.public_hex() != file.public_key {
            return Err(RosterError::ItKey("the file's public key does not match its secret".into()));
        }
        Ok(key)
    }

    /// Signs a body: the roster file's bytes.
    pub fn sign(&self, body: &Body) -> Vec<u8> {
        let body = serde_json::to_vec_pretty(body).unwrap_or_default();
        let signature = self.key.sign(&signed_bytes(&body));
        let mut out = format!("{MAGIC}\n{}\n", hex(&signature.to_bytes())).into_bytes();
        out.extend(body);
        out
    }
}

fn signed_bytes(body: &[u8]) -> Vec<u8> {
    let mut m = SIGNED_PREFIX.to_vec();
    m.extend_from_slice(body);
    m
}

/// The site's IT key from `site.json`.
pub fn site_key(site: &crate::site::SiteConfig) -> Result<[u8; 32], RosterError> {
    let text = site.it_public_key.as_deref().ok_or(RosterError::NoItKey)?;
    unhex::<32>(text).ok_or(RosterError::NoItKey)
}

/// Checks a roster file: its signature against the site's IT key first (nothing of an unsigned body is trusted, not
/// even its shape), then every value.
pub fn verify(bytes: &[u8], it_public: &[u8; 32]) -> Result<Roster, RosterError> {
    let expected = crate::handoff::fingerprint(it_public);
    let forged = || RosterError::BadSignature { expected: expected.clone() };
    if bytes.len() > MAX_BYTES {
        return Err(RosterError::Malformed(format!("larger than the {} MiB limit", MAX_BYTES >> 20)));
    }
    let rest =
        bytes.strip_prefix(MAGIC.as_bytes()).and_then(|r| r.strip_prefix(b"\n")).ok_or(RosterError::NotRoster)?;
    let nl = rest.iter().position(|b| *b == b'\n').ok_or_else(forged)?;
    let (sig_hex, body) = (&rest[..nl], &rest[nl + 1..]);
    let sig = std::str::from_utf8(sig_hex).ok().and_then(unhex::<64>).ok_or_else(forged)?;
    let key = VerifyingKey::from_bytes(it_public).map_err(|_| RosterError::NoItKey)?;
    key.verify_strict(&signed_bytes(body), &Signature::from_bytes(&sig)).map_err(|_| forged())?;
    let value = crate::json::parse_limited(body, MAX_BYTES, 8).map_err(|e| RosterError::Malformed(e.to_string()))?;
    let body: Body = serde_json::from_value(value).map_err(|e| RosterError::Malformed(e.to_string()))?;
    check_body(&body, it_public)?;
    Ok(Roster { body, sha256: crypto::sha256_hex(bytes) })
}

/// Every value of a body, each problem named by user.
fn check_body(body: &Body, it_public: &[u8; 32]) -> Result<(), RosterError> {
    if unhex::<32>(&body.signer).as_ref() != Some(it_public) {
        return Err(RosterError::Malformed("its signer is not this site's IT key".into()));
    }
    if body.version == 0 || body.users.len() > MAX_USERS {
        return Err(RosterError::Malformed(format!("version 1 or more, and at most {MAX_USERS} users")));
    }
    for (i, e) in body.users.iter().enumerate() {
        crate::auth::check_username(&e.username)
            .map_err(|err| RosterError::Malformed(format!("user {}: {err}", i + 1)))?;
        if let Some(j) = body.users[..i].iter().position(|o| o.username == e.username) {
            return Err(RosterError::Duplicate {
                username: e.username.clone(),
                first: format!("user {}", j + 1),
                again: format!("user {}", i + 1),
            });
        }
        if e.display_name.trim().is_empty() || e.display_name.chars().any(char::is_control) {
            return Err(RosterError::Malformed(format!("'{}': the display name must be a plain name", e.username)));
        }
        if e.expires_at.as_deref().is_some_and(|t| crate::clock::parse_stamp(t).is_none()) {
            return Err(RosterError::Malformed(format!("'{}': expires_at is not an RFC 3339 time", e.username)));
        }
        e.public()?;
        e.secret.to_wrap().map_err(|err| RosterError::Malformed(format!("'{}': {err}", e.username)))?;
    }
    Ok(())
}

/// The newest roster in `folder` that verifies against the site's key (files that do not verify are passed over:
/// a stray or forged file must not stop anyone signing in; `dtk user roster import` names what is wrong with one).
pub fn newest_in(folder: &Path, it_public: &[u8; 32]) -> Option<(PathBuf, Roster)> {
    let read = std::fs::read_dir(folder).ok()?;
    read.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXTENSION) && p.is_file())
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            if meta.len() > MAX_BYTES as u64 {
                return None;
            }
            let roster = verify(&std::fs::read(&p).ok()?, it_public).ok()?;
            Some((p, roster))
        })
        .max_by_key(|(_, r)| r.body.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_support::SeqRandom;

    fn body(key: &ItKey, users: Vec<Entry>) -> Body {
        Body { version: 1, created_at: "2026-01-01T00:00:00Z".into(), signer: key.public_hex(), users }
    }

    #[test]
    fn fail_rosters_forged_edited_or_unsigned() {
        let mut rng = SeqRandom(5);
        let it = ItKey::generate(&mut rng);
        let other = ItKey::generate(&mut rng);
        let public = unhex::<32>(&it.public_hex()).expect("hex");
        let good = it.sign(&body(&it, Vec::new()));
        assert!(verify(&good, &public).is_ok());
        let by_other = other.sign(&body(&it, Vec::new()));
        assert!(matches!(verify(&by_other, &public), Err(RosterError::BadSignature { .. })));
        let mut edited = good.clone();
        let at = edited.len() - 3;
        edited[at] ^= 1;
        assert!(matches!(verify(&edited, &public), Err(RosterError::BadSignature { .. })));
        assert!(matches!(verify(b"username,role\n", &public), Err(RosterError::NotRoster)));
    }

    #[test]
    fn it_key_file_opens_only_with_its_passphrase() {
        let mut rng = SeqRandom(8);
        let it = ItKey::generate(&mut rng);
        let file = it.to_file(&Password::new("a long passphrase".into()), &mut rng).expect("written");
        let back = ItKey::from_file(&file, &Password::new("a long passphrase".into())).expect("opens");
        assert_eq!(back.public_hex(), it.public_hex());
        assert!(ItKey::from_file(&file, &Password::new("another passphrase".into())).is_err());
        assert!(it.to_file(&Password::new("short".into()), &mut rng).is_err());
    }
}
