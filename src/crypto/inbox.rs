//! The workstation's census inbox key (ARCHITECTURE.md, "The census without a password"): an X25519 key pair
//! derived from the data key, whose public half sits in the vault's plaintext `meta`, so that a scheduled job with no
//! password can seal a census snapshot that only a signed-in user of this workstation can open. Deriving it (rather
//! than storing a sealed secret) means nothing new to keep, rotate or lose: `dtk rekey` makes a new one, and the
//! older generations' keys still open what was sealed before.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{open_raw, seal_raw, CryptoError, Keys, Random, KEY_LEN};

const INBOX_INFO: &[u8] = b"downtime-kit/census-inbox/v1";
const SEAL_INFO: &[u8] = b"downtime-kit/census-inbox-seal/v1";

fn inbox_secret(record: &[u8; KEY_LEN]) -> x25519_dalek::StaticSecret {
    let hk = Hkdf::<Sha256>::new(Some(b"downtime-kit/v1"), record);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let _ = hk.expand(INBOX_INFO, out.as_mut());
    x25519_dalek::StaticSecret::from(*out)
}

fn ecies_key(
    shared: &[u8],
    ephemeral: &[u8; KEY_LEN],
    public: &[u8; KEY_LEN],
    info: &[u8],
) -> Zeroizing<[u8; KEY_LEN]> {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(ephemeral);
    salt[KEY_LEN..].copy_from_slice(public);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let _ = hk.expand(info, out.as_mut());
    out
}

/// ECIES to an X25519 public key: a fresh ephemeral key, HKDF-SHA-256 (salt: ephemeral ‖ recipient public key, `info`
/// naming the use), AES-256-GCM with `ad`. Output: ephemeral public key ‖ nonce ‖ ciphertext ‖ tag. `None` for a
/// public key of low order (no shared secret). Used for roster wraps and the census inbox.
pub(super) fn ecies_seal(
    public: &[u8; KEY_LEN],
    info: &[u8],
    ad: &[u8],
    plain: &[u8],
    rng: &mut dyn Random,
) -> Option<Vec<u8>> {
    let mut eph = Zeroizing::new([0u8; KEY_LEN]);
    rng.fill(eph.as_mut());
    let eph = x25519_dalek::StaticSecret::from(*eph);
    let eph_pub = x25519_dalek::PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    if !shared.was_contributory() {
        return None;
    }
    let mut out = eph_pub.to_vec();
    out.extend(seal_raw(&ecies_key(shared.as_bytes(), &eph_pub, public, info), ad, plain, rng));
    Some(out)
}

/// Opens [`ecies_seal`]'s output with the recipient's secret.
pub(super) fn ecies_open(
    secret: &x25519_dalek::StaticSecret,
    info: &[u8],
    ad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < KEY_LEN {
        return Err(CryptoError::Truncated);
    }
    let (eph, rest) = sealed.split_at(KEY_LEN);
    let eph: [u8; KEY_LEN] = eph.try_into().map_err(|_| CryptoError::Truncated)?;
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(eph));
    if !shared.was_contributory() {
        return Err(CryptoError::Authentication);
    }
    let public = x25519_dalek::PublicKey::from(secret).to_bytes();
    open_raw(&ecies_key(shared.as_bytes(), &eph, &public, info), ad, rest)
}

impl Keys {
    /// The public half of this generation's inbox key, for `meta`.
    pub fn inbox_public(&self) -> [u8; KEY_LEN] {
        x25519_dalek::PublicKey::from(&inbox_secret(&self.record)).to_bytes()
    }

    /// Opens what [`seal_to_inbox`] sealed to this workstation's inbox key of this or an older generation.
    pub fn open_inbox(&self, ad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        std::iter::once(&self.record)
            .chain(&self.older_record)
            .find_map(|record| ecies_open(&inbox_secret(record), SEAL_INFO, ad, sealed).ok())
            .ok_or(CryptoError::Authentication)
    }
}

/// Seals `plain` to an inbox public key (ECIES: a fresh X25519 key, HKDF-SHA-256, AES-256-GCM with `ad`). Output:
/// ephemeral public key ‖ nonce ‖ ciphertext ‖ tag. `None` for a public key of low order (no shared secret).
pub fn seal_to_inbox(public: &[u8; KEY_LEN], ad: &[u8], plain: &[u8], rng: &mut dyn Random) -> Option<Vec<u8>> {
    ecies_seal(public, SEAL_INFO, ad, plain, rng)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::SeqRandom;
    use super::super::DataKey;
    use super::*;

    #[test]
    fn fail_an_inbox_seal_opens_only_with_its_keys_and_its_label() {
        let mut rng = SeqRandom(11);
        let ours = DataKey::generate(&mut rng).keys();
        let theirs = DataKey::generate(&mut rng).keys();
        let sealed = seal_to_inbox(&ours.inbox_public(), b"label", b"census bytes", &mut rng).expect("sealed");
        assert_eq!(ours.open_inbox(b"label", &sealed).expect("opens").as_slice(), b"census bytes");
        assert!(ours.open_inbox(b"other label", &sealed).is_err());
        assert!(theirs.open_inbox(b"label", &sealed).is_err());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(ours.open_inbox(b"label", &flipped).is_err());
        assert!(seal_to_inbox(&[0u8; KEY_LEN], b"label", b"x", &mut rng).is_none());
    }
}
