//! Key hierarchy and record encryption: the data key, its per-user and recovery wraps, AES-256-GCM records bound
//! to their place, keyed MACs for the audit chain and blind indexes.
//!
//! Each primitive is here because docs/design.md "Encryption and keys" asks for it: AES-256-GCM (record confidentiality and integrity, 96-bit
//! nonces), Argon2id (password-derived key-encryption keys), HKDF-SHA-256 (independent subkeys from the one data
//! key, and the recovery key's KEK, which is already full-entropy), HMAC-SHA-256 (audit chain, blind index, user
//! rows). Secrets live in types that zeroize on drop and deliberately have no `Debug`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// Length of every symmetric key in the vault.
pub const KEY_LEN: usize = 32;
/// AES-GCM nonce length (96 bits, as NIST SP 800-38D recommends for random nonces).
pub const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Errors of the crypto layer. Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A ciphertext failed authentication: flipped bits, a different key, or a ciphertext moved to another row.
    #[error("ciphertext failed authentication")]
    Authentication,
    /// A ciphertext is shorter than a nonce plus a tag.
    #[error("ciphertext is truncated")]
    Truncated,
    /// The KDF parameters are below the floor that docs/design.md "Encryption and keys" sets (m = 64 MiB, t = 3, p = 1).
    #[error("key-derivation parameters m={m_kib} KiB, t={t}, p={p} are below the floor m=65536 KiB, t=3, p=1")]
    WeakKdf { m_kib: u32, t: u32, p: u32 },
    /// The KDF parameters are not accepted by Argon2 itself (for example p = 0 or a huge memory size).
    #[error("key-derivation parameters are invalid: {0}")]
    BadKdf(String),
    /// The recovery key text does not decode to a key.
    #[error("the recovery key is not well formed (expected 52 letters and digits, dashes optional)")]
    BadRecoveryKey,
}

/// A source of randomness, passed in so that tests can be deterministic and the domain code never reaches for a
/// global generator.
pub trait Random {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's generator. A failure of `getrandom` is unrecoverable: continuing with predictable
/// nonces would silently break AES-GCM, so this is one of the few places allowed to abort.
#[derive(Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        #[allow(clippy::expect_used)]
        getrandom::getrandom(buf).expect("the operating system's random generator failed");
    }
}

/// A user's password. Zeroized on drop; no `Debug`, so it cannot end up in a log line.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Password {
        Password(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The vault's data key (DEK). Only ever held in memory while a user is signed in.
#[derive(Zeroize, ZeroizeOnDrop, Clone)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    pub fn generate(rng: &mut dyn Random) -> DataKey {
        let mut k = [0u8; KEY_LEN];
        rng.fill(&mut k);
        DataKey(k)
    }

    /// Derives the independent working keys. Using separate HKDF outputs means that, say, the blind-index key can
    /// never be confused with the record key even if a bug passed the wrong one.
    pub fn keys(&self) -> Keys {
        let hk = Hkdf::<Sha256>::new(Some(b"downtime-kit/v1"), &self.0);
        let mut keys = Keys {
            record: [0; KEY_LEN],
            older_record: Vec::new(),
            audit: [0; KEY_LEN],
            index: [0; KEY_LEN],
            rows: [0; KEY_LEN],
        };
        // HKDF-expand of 32 bytes from SHA-256 cannot fail (the limit is 255 * 32 bytes).
        let _ = hk.expand(b"record-encryption", &mut keys.record);
        let _ = hk.expand(b"audit-chain-mac", &mut keys.audit);
        let _ = hk.expand(b"blind-index", &mut keys.index);
        let _ = hk.expand(b"row-mac", &mut keys.rows);
        keys
    }

    /// The working keys of a vault whose data key was rotated (`dtk rekey`): `self` is the newest generation and
    /// seals everything new; `older` (newest first, down to the vault's first key) only opens what each sealed.
    /// The audit-chain, blind-index and row-MAC keys stay the first key's, so every MAC and blind index already in
    /// the vault stays valid (ARCHITECTURE.md, "Rotating the data key", says what that leaves to an old key).
    pub fn keys_with_older(&self, older: &[DataKey]) -> Keys {
        let Some(first) = older.last() else { return self.keys() };
        let mut keys = first.keys();
        keys.record = self.keys().record;
        keys.older_record = older.iter().map(|k| k.keys().record).collect();
        keys
    }

    /// Seals `older` (the generation before) under this key, for the vault's key chain (`meta` row `link`).
    pub fn seal_older(&self, older: &DataKey, link: &str, rng: &mut dyn Random) -> Vec<u8> {
        seal_raw(&self.chain_key(), &chain_ad(link), &older.0, rng)
    }

    /// Opens what [`DataKey::seal_older`] sealed; fails for any other key (an older generation's included).
    pub fn open_older(&self, sealed: &[u8], link: &str) -> Result<DataKey, CryptoError> {
        to_data_key(&open_raw(&self.chain_key(), &chain_ad(link), sealed)?)
    }

    fn chain_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        let hk = Hkdf::<Sha256>::new(Some(b"downtime-kit/v1"), &self.0);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        let _ = hk.expand(b"key-chain", out.as_mut());
        out
    }
}

fn chain_ad(link: &str) -> Vec<u8> {
    format!("dtk|meta|{link}|value").into_bytes()
}

/// Argon2id cost parameters, stored beside every password wrap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// docs/design.md "Encryption and keys" floor. Measured here at about 150 ms, inside the 150–500 ms sign-in budget.
    pub const FLOOR: KdfParams = KdfParams { m_kib: 64 * 1024, t: 3, p: 1 };

    /// Refuses anything weaker than [`KdfParams::FLOOR`] in memory or time (lanes may be 1..=4).
    pub fn check_floor(&self) -> Result<(), CryptoError> {
        if self.m_kib < Self::FLOOR.m_kib || self.t < Self::FLOOR.t || self.p < 1 || self.p > 4 {
            return Err(CryptoError::WeakKdf { m_kib: self.m_kib, t: self.t, p: self.p });
        }
        Ok(())
    }
}

#[cfg(test)]
thread_local! {
    /// Argon2id derivations run on this thread: tests show that an unknown username costs one, as a wrong password
    /// does, without timing anything.
    pub(crate) static PASSWORD_DERIVATIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A key-encryption key derived from a password or the recovery key.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Kek([u8; KEY_LEN]);

impl Kek {
    fn from_password(password: &Password, salt: &[u8], params: KdfParams) -> Result<Kek, CryptoError> {
        params.check_floor()?;
        #[cfg(test)]
        PASSWORD_DERIVATIONS.with(|n| n.set(n.get() + 1));
        let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN))
            .map_err(|e| CryptoError::BadKdf(e.to_string()))?;
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
        let mut out = [0u8; KEY_LEN];
        argon
            .hash_password_into(password.expose().as_bytes(), salt, &mut out)
            .map_err(|e| CryptoError::BadKdf(e.to_string()))?;
        Ok(Kek(out))
    }

    fn from_recovery(key: &RecoveryKey, salt: &[u8]) -> Kek {
        let hk = Hkdf::<Sha256>::new(Some(salt), &key.bytes);
        let mut out = [0u8; KEY_LEN];
        let _ = hk.expand(b"downtime-kit/recovery-kek", &mut out);
        Kek(out)
    }
}

/// A data key wrapped under a password or the recovery key, as stored in the `key_wraps` table.
pub struct Wrap {
    pub salt: [u8; 16],
    pub params: Option<KdfParams>,
    pub wrapped: Vec<u8>,
}

/// Associated data of a wrap: binds it to its row, its owner and its KDF parameters, so that lowering the stored
/// parameters (to make brute force cheaper) or moving a wrap to another user breaks it.
fn wrap_ad(wrap_id: &str, owner: &str, params: Option<KdfParams>) -> Vec<u8> {
    let p = params.map_or_else(|| "recovery".to_string(), |p| format!("m{}t{}p{}", p.m_kib, p.t, p.p));
    format!("dtk|key_wraps|{wrap_id}|{owner}|{p}").into_bytes()
}

/// Wraps the data key under a password with Argon2id at `params` (floor enforced).
pub fn wrap_with_password(
    dek: &DataKey,
    password: &Password,
    params: KdfParams,
    wrap_id: &str,
    owner: &str,
    rng: &mut dyn Random,
) -> Result<Wrap, CryptoError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let kek = Kek::from_password(password, &salt, params)?;
    let wrapped = seal_raw(&kek.0, &wrap_ad(wrap_id, owner, Some(params)), &dek.0, rng);
    Ok(Wrap { salt, params: Some(params), wrapped })
}

/// Unwraps with a password. The floor is checked again here, so a vault whose stored parameters were lowered is
/// refused before any guess is even tried.
pub fn unwrap_with_password(
    wrap: &Wrap,
    password: &Password,
    wrap_id: &str,
    owner: &str,
) -> Result<DataKey, CryptoError> {
    let params = wrap.params.ok_or(CryptoError::Authentication)?;
    let kek = Kek::from_password(password, &wrap.salt, params)?;
    let plain = open_raw(&kek.0, &wrap_ad(wrap_id, owner, Some(params)), &wrap.wrapped)?;
    to_data_key(&plain)
}

pub fn wrap_with_recovery(dek: &DataKey, key: &RecoveryKey, wrap_id: &str, rng: &mut dyn Random) -> Wrap {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let kek = Kek::from_recovery(key, &salt);
    let wrapped = seal_raw(&kek.0, &wrap_ad(wrap_id, "recovery", None), &dek.0, rng);
    Wrap { salt, params: None, wrapped }
}

pub fn unwrap_with_recovery(wrap: &Wrap, key: &RecoveryKey, wrap_id: &str) -> Result<DataKey, CryptoError> {
    let kek = Kek::from_recovery(key, &wrap.salt);
    let plain = open_raw(&kek.0, &wrap_ad(wrap_id, "recovery", None), &wrap.wrapped)?;
    to_data_key(&plain)
}

fn to_data_key(plain: &[u8]) -> Result<DataKey, CryptoError> {
    let bytes: [u8; KEY_LEN] = plain.try_into().map_err(|_| CryptoError::Authentication)?;
    Ok(DataKey(bytes))
}

/// The recovery key: 256 random bits, shown once at set-up as 52 base32 characters in groups of four.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKey {
    bytes: [u8; KEY_LEN],
    text: String,
}

impl RecoveryKey {
    pub fn generate(rng: &mut dyn Random) -> RecoveryKey {
        let mut bytes = [0u8; KEY_LEN];
        rng.fill(&mut bytes);
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; KEY_LEN]) -> RecoveryKey {
        let plain = Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&bytes));
        let groups: Vec<&str> =
            plain.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        RecoveryKey { bytes, text: groups.join("-") }
    }

    /// Parses what a person typed back: case, dashes and spaces do not matter.
    pub fn parse(text: &str) -> Result<RecoveryKey, CryptoError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !matches!(c, '-' | ' ' | '\n' | '\r' | '\t'))
                .flat_map(char::to_uppercase)
                .collect(),
        );
        let decoded = Zeroizing::new(
            data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).map_err(|_| CryptoError::BadRecoveryKey)?,
        );
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| CryptoError::BadRecoveryKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The text to show once, e.g. `ABCD-EFGH-…`.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

/// The working keys derived from the data key. Held by a signed-in session; dropped (and zeroized) at sign-out and
/// at the idle lock.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Keys {
    record: [u8; KEY_LEN],
    /// Record keys of older generations of the data key (after `dtk rekey`), newest first: they open, never seal.
    older_record: Vec<[u8; KEY_LEN]>,
    audit: [u8; KEY_LEN],
    index: [u8; KEY_LEN],
    rows: [u8; KEY_LEN],
}

/// Where a ciphertext lives. It is the AES-GCM associated data, so a ciphertext copied to another table, row or
/// column, or read under another record-format version, fails authentication.
pub struct Place<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub column: &'a str,
    /// Record-format version the row was written with (stored in the row's `fv` column).
    pub format: u32,
}

impl Place<'_> {
    fn ad(&self) -> Vec<u8> {
        format!("dtk|{}|{}|{}|v{}", self.table, self.row, self.column, self.format).into_bytes()
    }
}

impl Keys {
    /// Encrypts `plain` for `place` with a fresh random nonce. Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, place: &Place<'_>, plain: &[u8], rng: &mut dyn Random) -> Vec<u8> {
        seal_raw(&self.record, &place.ad(), plain, rng)
    }

    /// Decrypts and authenticates a ciphertext made by [`Keys::seal`] for the same place.
    pub fn open(&self, place: &Place<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let ad = place.ad();
        // A ciphertext does not say its generation: the newest key is tried first (most reads are of new data), an
        // older one only when it fails, so a vault never rekeyed pays nothing.
        let mut opened = open_raw(&self.record, &ad, sealed);
        for key in &self.older_record {
            if !matches!(opened, Err(CryptoError::Authentication)) {
                break;
            }
            opened = open_raw(key, &ad, sealed);
        }
        opened
    }

    /// Keyed MAC for the audit chain.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.audit, parts)
    }

    /// Keyed blind index: equal inputs give equal tokens, but without the key the token reveals nothing and cannot
    /// be brute-forced from a list of plausible MRNs.
    pub fn blind_index(&self, kind: &str, value: &str) -> Vec<u8> {
        mac(&self.index, &[kind.as_bytes(), b"\0", value.trim().as_bytes()])[..16].to_vec()
    }

    /// MAC protecting rows that must stay readable without the key (users and their roles) from being edited.
    pub fn row_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.rows, parts)
    }

    pub fn verify_row_mac(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        verify_mac(&self.rows, parts, expected)
    }

    pub fn verify_audit_mac(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        verify_mac(&self.audit, parts, expected)
    }
}

fn mac_state(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail for our 32-byte keys.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for p in parts {
        // Length-prefix every part so that ("ab","c") and ("a","bc") never collide.
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac_state(key, parts).finalize().into_bytes().into()
}

fn verify_mac(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    // `verify_slice` compares in constant time.
    mac_state(key, parts).verify_slice(expected).is_ok()
}

fn seal_raw(key: &[u8; KEY_LEN], ad: &[u8], plain: &[u8], rng: &mut dyn Random) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    // Encryption only fails for messages beyond 64 GiB, far past any record's size limit.
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: ad })
        .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a bounded record cannot fail"));
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_raw(key: &[u8; KEY_LEN], ad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: ad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication)
}

/// A roster user's X25519 secret (ARCHITECTURE.md, "One account for the site's workstations"): the same on every
/// workstation, wrapped under the user's password in the site's roster; each workstation wraps its own data key to
/// the public half, so the one password opens any of them and IT never holds a data key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct UserSecret([u8; KEY_LEN]);

impl UserSecret {
    pub fn generate(rng: &mut dyn Random) -> UserSecret {
        let mut k = [0u8; KEY_LEN];
        rng.fill(&mut k);
        UserSecret(k)
    }

    /// The public key every workstation wraps its data key to.
    pub fn public(&self) -> [u8; KEY_LEN] {
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(self.0)).to_bytes()
    }

    /// Wraps the secret under a password (Argon2id at `params`, floor enforced). `username` and the public key are
    /// bound in, so a wrap moved to another user, or paired with another public key, does not open.
    pub fn wrap(
        &self,
        username: &str,
        password: &Password,
        params: KdfParams,
        rng: &mut dyn Random,
    ) -> Result<Wrap, CryptoError> {
        wrap_secret(&self.0, &secret_label(username, &self.public()), password, params, rng)
    }

    /// Opens [`UserSecret::wrap`]'s output; the floor is checked again before any guess is tried.
    pub fn unwrap(
        wrap: &Wrap,
        username: &str,
        public: &[u8; KEY_LEN],
        password: &Password,
    ) -> Result<UserSecret, CryptoError> {
        let bytes = unwrap_secret(wrap, &secret_label(username, public), password)?;
        let secret = UserSecret(*bytes);
        if &secret.public() != public {
            return Err(CryptoError::Authentication);
        }
        Ok(secret)
    }
}

fn secret_label(username: &str, public: &[u8; KEY_LEN]) -> String {
    format!("roster-secret|{username}|{}", hex(public))
}

/// Wraps 32 secret bytes under a password (Argon2id at `params`, floor enforced) with `label` as associated data,
/// beside the KDF parameters (the IT key file, a roster user's secret).
pub fn wrap_secret(
    secret: &[u8; KEY_LEN],
    label: &str,
    password: &Password,
    params: KdfParams,
    rng: &mut dyn Random,
) -> Result<Wrap, CryptoError> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let kek = Kek::from_password(password, &salt, params)?;
    let wrapped = seal_raw(&kek.0, &wrap_ad(label, "secret", Some(params)), secret, rng);
    Ok(Wrap { salt, params: Some(params), wrapped })
}

/// Opens [`wrap_secret`]'s output.
pub fn unwrap_secret(wrap: &Wrap, label: &str, password: &Password) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let params = wrap.params.ok_or(CryptoError::Authentication)?;
    let kek = Kek::from_password(password, &wrap.salt, params)?;
    let plain = open_raw(&kek.0, &wrap_ad(label, "secret", Some(params)), &wrap.wrapped)?;
    let bytes: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| CryptoError::Authentication)?;
    Ok(Zeroizing::new(bytes))
}

const ROSTER_WRAP_INFO: &[u8] = b"downtime-kit/roster-wrap/v1";

/// Wraps the data key to a roster user's public key (ECIES: a fresh X25519 key, HKDF-SHA-256, AES-256-GCM), for the
/// `key_wraps` row `wrap_id`. Output: ephemeral public key ‖ nonce ‖ ciphertext ‖ tag. `None` for a public key of
/// low order (no shared secret), which a roster must never carry.
pub fn wrap_to_user(dek: &DataKey, public: &[u8; KEY_LEN], wrap_id: &str, rng: &mut dyn Random) -> Option<Vec<u8>> {
    inbox::ecies_seal(public, ROSTER_WRAP_INFO, &user_wrap_ad(wrap_id, public), &dek.0, rng)
}

/// Opens [`wrap_to_user`]'s output with the user's secret.
pub fn unwrap_as_user(secret: &UserSecret, wrap_id: &str, sealed: &[u8]) -> Result<DataKey, CryptoError> {
    let public = secret.public();
    let secret = x25519_dalek::StaticSecret::from(secret.0);
    let plain = inbox::ecies_open(&secret, ROSTER_WRAP_INFO, &user_wrap_ad(wrap_id, &public), sealed)?;
    to_data_key(&plain)
}

fn user_wrap_ad(wrap_id: &str, public: &[u8; KEY_LEN]) -> Vec<u8> {
    format!("dtk|key_wraps|{wrap_id}|roster|{}", hex(public)).into_bytes()
}

/// A roster user's `key_wraps` row (kind `roster`): their secret wrapped under their password (salt and KDF
/// parameters in the row's columns), and this workstation's data key wrapped to their public key.
pub struct RosterWrap {
    pub secret: Wrap,
    pub public: [u8; KEY_LEN],
    /// Goes up with every password change; the highest wins when rosters and local changes meet.
    pub secret_version: u64,
    /// When the secret was last wrapped under a new password (Unix seconds): the tie-break of that rule.
    pub changed_at: i64,
    pub dek: Vec<u8>,
}

impl RosterWrap {
    /// The `wrapped` column: public key ‖ secret_version (u64, big-endian) ‖ changed_at (i64, big-endian) ‖ length
    /// of the secret's wrap (u16, big-endian) ‖ the secret's wrap ‖ the data key's wrap.
    pub fn to_column(&self) -> Vec<u8> {
        let mut out = self.public.to_vec();
        out.extend(self.secret_version.to_be_bytes());
        out.extend(self.changed_at.to_be_bytes());
        out.extend((self.secret.wrapped.len() as u16).to_be_bytes());
        out.extend(&self.secret.wrapped);
        out.extend(&self.dek);
        out
    }

    /// Reads a row back; anything that does not parse fails like a wrong password would not: as truncated.
    pub fn from_row(salt: [u8; 16], params: KdfParams, column: &[u8]) -> Result<RosterWrap, CryptoError> {
        let fixed = KEY_LEN + 8 + 8 + 2;
        if column.len() < fixed {
            return Err(CryptoError::Truncated);
        }
        let public: [u8; KEY_LEN] = column[..KEY_LEN].try_into().map_err(|_| CryptoError::Truncated)?;
        let version: [u8; 8] = column[KEY_LEN..KEY_LEN + 8].try_into().map_err(|_| CryptoError::Truncated)?;
        let changed: [u8; 8] = column[KEY_LEN + 8..KEY_LEN + 16].try_into().map_err(|_| CryptoError::Truncated)?;
        let len = usize::from(u16::from_be_bytes([column[fixed - 2], column[fixed - 1]]));
        if column.len() < fixed + len {
            return Err(CryptoError::Truncated);
        }
        Ok(RosterWrap {
            secret: Wrap { salt, params: Some(params), wrapped: column[fixed..fixed + len].to_vec() },
            public,
            secret_version: u64::from_be_bytes(version),
            changed_at: i64::from_be_bytes(changed),
            dek: column[fixed + len..].to_vec(),
        })
    }

    /// Password → the user's secret → this workstation's data key.
    pub fn open(
        &self,
        username: &str,
        wrap_id: &str,
        password: &Password,
    ) -> Result<(DataKey, UserSecret), CryptoError> {
        let secret = UserSecret::unwrap(&self.secret, username, &self.public, password)?;
        let dek = unwrap_as_user(&secret, wrap_id, &self.dek)?;
        Ok((dek, secret))
    }
}

/// SHA-256 of some bytes, hex encoded (content hashes, export file hashes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// Bytes as lowercase hex (keys and fingerprints in the site configuration and on screen).
pub(crate) fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Exactly `N` bytes from hex text (either case, surrounding blanks ignored); `None` for anything else.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    data_encoding::HEXLOWER_PERMISSIVE.decode(text.trim().as_bytes()).ok()?.try_into().ok()
}

pub mod inbox;
#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::SeqRandom;
    use super::*;

    fn place(row: &str) -> Place<'_> {
        Place { table: "entries", row, column: "body", format: 1 }
    }

    #[test]
    fn sealed_record_opens_only_in_its_place() {
        let mut rng = SeqRandom(7);
        let keys = DataKey::generate(&mut rng).keys();
        let ct = keys.seal(&place("a"), b"note text", &mut rng);
        assert_eq!(&keys.open(&place("a"), &ct).map(|p| p.to_vec()).ok(), &Some(b"note text".to_vec()));
        assert!(matches!(keys.open(&place("b"), &ct), Err(CryptoError::Authentication)));
        let other_column = Place { column: "meta", ..place("a") };
        assert!(keys.open(&other_column, &ct).is_err());
        let other_format = Place { format: 2, ..place("a") };
        assert!(keys.open(&other_format, &ct).is_err());
    }

    #[test]
    fn fail_every_single_bit_flip() {
        let mut rng = SeqRandom(9);
        let keys = DataKey::generate(&mut rng).keys();
        let ct = keys.seal(&place("x"), b"0123456789abcdef", &mut rng);
        for bit in 0..ct.len() * 8 {
            let mut bad = ct.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(keys.open(&place("x"), &bad).is_err(), "bit {bit} flip was accepted");
        }
        assert!(matches!(keys.open(&place("x"), &ct[..20]), Err(CryptoError::Truncated)));
    }

    #[test]
    fn fail_weak_kdf_parameters() {
        let mut rng = SeqRandom(3);
        let dek = DataKey::generate(&mut rng);
        let pw = Password::new("correct horse".into());
        for weak in [
            KdfParams { m_kib: 32 * 1024, t: 3, p: 1 },
            KdfParams { m_kib: 64 * 1024, t: 2, p: 1 },
            KdfParams { m_kib: 64 * 1024, t: 3, p: 0 },
        ] {
            assert!(matches!(
                wrap_with_password(&dek, &pw, weak, "w", "u", &mut rng),
                Err(CryptoError::WeakKdf { .. })
            ));
        }
    }

    #[test]
    fn recovery_key_round_trips_through_its_text() {
        let mut rng = SeqRandom(11);
        let dek = DataKey::generate(&mut rng);
        let rk = RecoveryKey::generate(&mut rng);
        let wrap = wrap_with_recovery(&dek, &rk, "r", &mut rng);
        let typed = rk.expose().to_lowercase().replace('-', " ");
        let back = RecoveryKey::parse(&typed).map_err(|e| e.to_string());
        let back = back.as_ref().map_err(String::as_str);
        let unwrapped = unwrap_with_recovery(&wrap, back.unwrap_or_else(|e| panic!("{e}")), "r");
        assert!(unwrapped.is_ok());
        assert_eq!(rk.expose().len(), 52 + 12, "52 characters in 13 groups of four");
        assert!(RecoveryKey::parse("not-a-key").is_err());
    }
}
