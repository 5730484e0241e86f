//! The census feed (issue 17 item 6): census snapshots that reach a workstation with nobody signed in. While the EHR
//! is up, the job that exports the unit's census signs each file with the site's census key (`dtk census sign`,
//! Ed25519); a scheduled `dtk census stage` on each workstation, with no password, checks the newest signed file in
//! `census_import_dir` and seals it to the workstation's inbox key ([`crate::crypto::inbox`]) beside the vault, so it
//! survives the share going dark; the next sign-in opens it, checks the signature again and imports it. Design and
//! threat model: ARCHITECTURE.md, "The census without a password".

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::census::{self, CensusError};
use crate::clock::{parse_stamp, stamp};
use crate::crypto::{self, hex, unhex, Keys, Random};

/// The first line of a signed census file.
pub const MAGIC: &str = "DTKCENSUS1";
/// The first line of the staged (sealed) copy beside the vault.
const STAGED_MAGIC: &str = "DTKCENSUSSTAGED1";
/// The extension `dtk census stage` looks for in `census_import_dir`.
pub const EXTENSION: &str = "dtkcensus";
/// The staged copy's file name, in the vault's folder.
pub const STAGED_FILE: &str = "census.staged";
/// The `meta` key holding the inbox public key (hex).
pub const INBOX_META: &str = "census_inbox";
const SIGNED_PREFIX: &[u8] = b"dtk-census-v1\0";
const HEADER_FORMAT: &str = "dtk-census-1";
const KEY_FORMAT: &str = "dtk-census-key-1";

/// Why a census file, a staged copy or a key file was refused. Names files and fields, never patient content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    #[error("not a signed census file (a signed one starts with the line {MAGIC}; `dtk census sign` makes one)")]
    NotSigned,
    #[error("the signature does not verify against the site's census key ({expected}): a forged or edited file")]
    BadSignature { expected: String },
    #[error(
        "no census key is configured: hospital IT sets census_public_key in site.json (printed by `dtk site census-key --create`)"
    )]
    NoKey,
    #[error("{0}")]
    Census(#[from] CensusError),
    #[error("{0}")]
    Malformed(String),
    #[error("the census key file: {0}")]
    KeyFile(String),
    #[error("the staged census does not open with this workstation's keys (sealed for another vault)")]
    Sealed,
}

/// What a signed file says about itself, in plain text (no patient data): when the EHR took the snapshot and how
/// many patients it holds, so staging and readiness need not parse the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub snapshot_time: String,
    pub patients: usize,
    pub signed_at: String,
    /// The census key that signed it (hex).
    pub signer: String,
}

impl Header {
    /// The snapshot time as a time, for comparisons (checked when the file was verified).
    pub fn taken(&self) -> OffsetDateTime {
        parse_stamp(&self.snapshot_time).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// The census key of the export job: signs census files. Its file holds the secret in the clear, protected by the
/// export host's file permissions, because the job runs unattended (ARCHITECTURE.md says what a stolen one can do).
pub struct CensusKey {
    key: SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    public_key: String,
    secret_key: String,
}

impl CensusKey {
    pub fn generate(rng: &mut dyn Random) -> CensusKey {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut());
        CensusKey { key: SigningKey::from_bytes(&seed) }
    }

    /// The public key for `site.json`'s `census_public_key` (hex).
    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    pub fn fingerprint(&self) -> String {
        crate::handoff::fingerprint(self.key.verifying_key().as_bytes())
    }

    pub fn to_file(&self) -> Vec<u8> {
        let file =
            KeyFile { format: KEY_FORMAT.into(), public_key: self.public_hex(), secret_key: hex(&self.key.to_bytes()) };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    pub fn from_file(bytes: &[u8]) -> Result<CensusKey, FeedError> {
        let value = crate::json::parse_limited(bytes, 64 * 1024, 8).map_err(|e| FeedError::KeyFile(e.to_string()))?;
        let file: KeyFile = serde_json::from_value(value).map_err(|e| FeedError::KeyFile(e.to_string()))?;
        if file.format != KEY_FORMAT {
            return Err(FeedError::KeyFile(format!("format '{}' is not {KEY_FORMAT}", file.format)));
        }
        let seed = unhex::<32>(&file.secret_key)
            .map(zeroize::Zeroizing::new)
            .ok_or_else(|| FeedError::KeyFile("secret_key: expected 64 hex characters".into()))?;
        let key = CensusKey { key: SigningKey::from_bytes(&seed) };
        if key.public_hex() != file.public_key.to_ascii_lowercase() {
            return Err(FeedError::KeyFile("the file's public key does not match its secret".into()));
        }
        Ok(key)
    }

    /// Signs a census bundle: checks it as a workstation will (a bundle the workstation would refuse is refused
    /// here, where IT can fix it) and writes the header from it.
    pub fn sign(&self, bundle: &[u8], now: OffsetDateTime) -> Result<Vec<u8>, FeedError> {
        let parsed = census::parse(bundle, None)?;
        let snapshot_time = parsed.snapshot_time.filter(|t| parse_stamp(t).is_some()).ok_or_else(|| {
            FeedError::Malformed(
                "the bundle has no Bundle.timestamp: a census feed must say when the EHR took it".into(),
            )
        })?;
        let header = Header {
            format: HEADER_FORMAT.into(),
            snapshot_time,
            patients: parsed.patients.len(),
            signed_at: stamp(now),
            signer: self.public_hex(),
        };
        let line = serde_json::to_vec(&header).unwrap_or_default();
        let signature = self.key.sign(&signed_bytes(&line, bundle));
        let mut out = format!("{MAGIC}\n{}\n", hex(&signature.to_bytes())).into_bytes();
        out.extend(line);
        out.push(b'\n');
        out.extend_from_slice(bundle);
        Ok(out)
    }
}

fn signed_bytes(header: &[u8], bundle: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_PREFIX.len() + header.len() + 1 + bundle.len());
    m.extend_from_slice(SIGNED_PREFIX);
    m.extend_from_slice(header);
    m.push(b'\n');
    m.extend_from_slice(bundle);
    m
}

/// The site's census key from `site.json`.
pub fn site_key(site: &crate::site::SiteConfig) -> Result<[u8; 32], FeedError> {
    site.census_public_key.as_deref().and_then(unhex::<32>).ok_or(FeedError::NoKey)
}

/// Whether these bytes claim to be a signed census file (and so must verify).
pub fn is_signed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC.as_bytes())
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    Some((&bytes[..nl], &bytes[nl + 1..]))
}

/// Checks a signed census file: the signature first (nothing unsigned is trusted), then the header's shape and that
/// the header tells the truth about the bundle's time. Returns the header and the bundle's bytes.
pub fn verify<'a>(bytes: &'a [u8], public: &[u8; 32]) -> Result<(Header, &'a [u8]), FeedError> {
    let forged = || FeedError::BadSignature { expected: crate::handoff::fingerprint(public) };
    if bytes.len() > census::MAX_BYTES + 4096 {
        return Err(FeedError::Malformed(format!("larger than the {} MiB limit", census::MAX_BYTES >> 20)));
    }
    let rest = bytes.strip_prefix(MAGIC.as_bytes()).and_then(|r| r.strip_prefix(b"\n")).ok_or(FeedError::NotSigned)?;
    let (sig_hex, rest) = split_line(rest).ok_or_else(forged)?;
    let (line, bundle) = split_line(rest).ok_or_else(forged)?;
    let sig = std::str::from_utf8(sig_hex).ok().and_then(unhex::<64>).ok_or_else(forged)?;
    let key = VerifyingKey::from_bytes(public).map_err(|_| FeedError::NoKey)?;
    key.verify_strict(&signed_bytes(line, bundle), &Signature::from_bytes(&sig)).map_err(|_| forged())?;
    let value = crate::json::parse_limited(line, 4096, 4).map_err(|e| FeedError::Malformed(format!("header: {e}")))?;
    let header: Header = serde_json::from_value(value).map_err(|e| FeedError::Malformed(format!("header: {e}")))?;
    if header.format != HEADER_FORMAT || unhex::<32>(&header.signer).as_ref() != Some(public) {
        return Err(FeedError::Malformed(format!(
            "header: format '{}' or its signer is not this site's",
            header.format
        )));
    }
    if parse_stamp(&header.snapshot_time).is_none() {
        return Err(FeedError::Malformed("header: snapshot_time is not an RFC 3339 time".into()));
    }
    Ok((header, bundle))
}

/// What `dtk census stage` found in the import folder: the newest file that verifies, and every other file of the
/// feed's extension that was passed over and why (a forged file is named, never silently ignored).
#[derive(Debug, Default)]
pub struct Scan {
    pub newest: Option<(PathBuf, Header, Vec<u8>)>,
    pub refused: Vec<(PathBuf, String)>,
}

/// Reads every `*.dtkcensus` file in `folder`.
pub fn scan(folder: &Path, public: &[u8; 32]) -> std::io::Result<Scan> {
    let mut found = Scan::default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXTENSION) && p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                found.refused.push((path, e.to_string()));
                continue;
            }
        };
        match verify(&bytes, public) {
            Ok((header, _)) => {
                if found.newest.as_ref().is_none_or(|(_, h, _)| header.taken() > h.taken()) {
                    found.newest = Some((path, header, bytes));
                }
            }
            Err(e) => found.refused.push((path, e.to_string())),
        }
    }
    Ok(found)
}

/// The staged copy's plain header: the signed header, when it was staged, and the signed file's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedHeader {
    pub census: Header,
    pub staged_at: String,
    pub sha256: String,
}

fn staged_ad(line: &[u8]) -> Vec<u8> {
    let mut ad = b"dtk|census.staged|".to_vec();
    ad.extend_from_slice(line);
    ad
}

/// Seals a verified signed file to an inbox public key: the staged copy's bytes.
pub fn stage(
    signed: &[u8],
    header: &Header,
    inbox: &[u8; 32],
    now: OffsetDateTime,
    rng: &mut dyn Random,
) -> Result<Vec<u8>, FeedError> {
    let staged = StagedHeader { census: header.clone(), staged_at: stamp(now), sha256: crypto::sha256_hex(signed) };
    let line = serde_json::to_vec(&staged).unwrap_or_default();
    let sealed = crypto::inbox::seal_to_inbox(inbox, &staged_ad(&line), signed, rng)
        .ok_or_else(|| FeedError::Malformed("the workstation's census inbox key is not usable".into()))?;
    let mut out = format!("{STAGED_MAGIC}\n").into_bytes();
    out.extend(line);
    out.push(b'\n');
    out.extend(sealed);
    Ok(out)
}

/// The staged copy's plain header (for readiness, which holds no key).
pub fn staged_header(bytes: &[u8]) -> Result<StagedHeader, FeedError> {
    let bad = || FeedError::Malformed("the staged census is damaged".into());
    let rest = bytes.strip_prefix(STAGED_MAGIC.as_bytes()).and_then(|r| r.strip_prefix(b"\n")).ok_or_else(bad)?;
    let (line, _) = split_line(rest).ok_or_else(bad)?;
    let value = crate::json::parse_limited(line, 8192, 4).map_err(|_| bad())?;
    serde_json::from_value(value).map_err(|_| bad())
}

/// Opens the staged copy with a session's keys and verifies the signed file inside it again: returns the signed
/// file's bytes. Its plain header must agree with the signed one, so readiness was told the truth.
pub fn open_staged(bytes: &[u8], keys: &Keys, public: &[u8; 32]) -> Result<Vec<u8>, FeedError> {
    let plain_header = staged_header(bytes)?;
    let rest = bytes.strip_prefix(STAGED_MAGIC.as_bytes()).and_then(|r| r.strip_prefix(b"\n")).unwrap_or_default();
    let (line, sealed) = split_line(rest).ok_or(FeedError::Sealed)?;
    let signed = keys.open_inbox(&staged_ad(line), sealed).map_err(|_| FeedError::Sealed)?;
    let (header, _) = verify(&signed, public)?;
    if header != plain_header.census || crypto::sha256_hex(&signed) != plain_header.sha256 {
        return Err(FeedError::Malformed("the staged census's header does not match the signed file inside".into()));
    }
    Ok(signed.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_support::SeqRandom;
    use crate::crypto::DataKey;

    const BUNDLE: &[u8] = br#"{"resourceType":"Bundle","type":"collection","timestamp":"2026-11-21T05:00:00Z","entry":[
      {"resource":{"resourceType":"Patient","id":"p1","identifier":[{"type":{"coding":[{"code":"MR"}]},"system":"urn:mrn","value":"100"}],"name":[{"family":"Testpatient","given":["Alex"]}]}}]}"#;

    fn now() -> OffsetDateTime {
        parse_stamp("2026-11-21T06:00:00Z").expect("time")
    }

    #[test]
    fn fail_census_files_forged_edited_or_unsigned() {
        let mut rng = SeqRandom(3);
        let key = CensusKey::generate(&mut rng);
        let other = CensusKey::generate(&mut rng);
        let public = unhex::<32>(&key.public_hex()).expect("hex");
        let good = key.sign(BUNDLE, now()).expect("signed");
        let (header, bundle) = verify(&good, &public).expect("verifies");
        assert_eq!((header.patients, header.snapshot_time.as_str(), bundle), (1, "2026-11-21T05:00:00Z", BUNDLE));
        let by_other = other.sign(BUNDLE, now()).expect("signed");
        assert!(matches!(verify(&by_other, &public), Err(FeedError::BadSignature { .. })));
        let mut edited = good.clone();
        let at = edited.len() - 10;
        edited[at] ^= 1;
        assert!(matches!(verify(&edited, &public), Err(FeedError::BadSignature { .. })));
        assert!(matches!(verify(BUNDLE, &public), Err(FeedError::NotSigned)));
        let untimed = key.sign(br#"{"resourceType":"Bundle","type":"collection","entry":[]}"#, now());
        assert!(untimed.is_err());
    }

    #[test]
    fn fail_a_staged_census_opens_only_for_its_vault_and_unchanged() {
        let mut rng = SeqRandom(4);
        let key = CensusKey::generate(&mut rng);
        let public = unhex::<32>(&key.public_hex()).expect("hex");
        let ours = DataKey::generate(&mut rng).keys();
        let theirs = DataKey::generate(&mut rng).keys();
        let signed = key.sign(BUNDLE, now()).expect("signed");
        let (header, _) = verify(&signed, &public).expect("verifies");
        let staged = stage(&signed, &header, &ours.inbox_public(), now(), &mut rng).expect("staged");
        assert!(!staged.windows(11).any(|w| w == b"Testpatient"), "no name in the clear");
        assert_eq!(staged_header(&staged).expect("header").census.patients, 1);
        assert_eq!(open_staged(&staged, &ours, &public).expect("opens"), signed);
        assert!(matches!(open_staged(&staged, &theirs, &public), Err(FeedError::Sealed)));
        // A plain header changed (readiness told 9 patients) no longer opens: the header is the seal's label.
        let first = staged.iter().position(|b| *b == b'\n').expect("magic line") + 1;
        let second = first + staged[first..].iter().position(|b| *b == b'\n').expect("header line");
        let line = String::from_utf8(staged[first..second].to_vec()).expect("utf-8");
        let mut lied = staged[..first].to_vec();
        lied.extend(line.replacen("\"patients\":1", "\"patients\":9", 1).as_bytes());
        lied.extend(&staged[second..]);
        assert_ne!(lied, staged);
        assert!(matches!(open_staged(&lied, &ours, &public), Err(FeedError::Sealed)));
        let key_file = key.to_file();
        assert_eq!(CensusKey::from_file(&key_file).expect("opens").public_hex(), key.public_hex());
    }
}
