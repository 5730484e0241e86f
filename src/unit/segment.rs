//! One segment file of the unit share, sealed and opened in memory (a segment holds what is new since the one
//! before, so it is small after the first): `DTKU1\n` ‖ header length (u32) ‖ header (JSON, clear) ‖ the handoff
//! file's sealed stream (AES-256-GCM STREAM segments, [`crate::handoff::stream`]) ‖ Ed25519 signature.
//!
//! The stream's key is a fresh random data key, wrapped once per recipient: for each, an X25519 agreement between
//! the segment's ephemeral key and the recipient's key (a peer's Ed25519 key mapped to X25519, or the HIM key),
//! HKDF-SHA-256 (salt ephemeral ‖ recipient, info `downtime-kit/unit/v1/wrap`), and AES-256-GCM with a zero nonce
//! (each wrapping key is used once). The plaintext is a sequence of handoff records (u32 length ‖ JSON
//! [`Record`]): an `Episode` record precedes the events and entries of that episode.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{peer_key, x25519_public, x25519_secret, Header, Recipient, RecipientKind, UnitError, FORMAT, MAGIC};
use crate::crypto::{hex, unhex, Random};
use crate::handoff::stream::{self, NONCE_PREFIX_LEN};
use crate::handoff::{fingerprint, parse_record, HandoffError, Record, MAX_HEADER_BYTES, MAX_RECORD_BYTES};

const WRAP_INFO: &[u8] = b"downtime-kit/unit/v1/wrap";
const WRAP_AD: &[u8] = b"downtime-kit/unit/v1";
/// Plaintext bytes per stream segment.
const STREAM_SEGMENT: u32 = 64 * 1024;

/// Who writes a segment, which one it is, and to whom.
pub struct Sealing<'a> {
    pub workstation: &'a str,
    pub unit: &'a str,
    pub sequence: u64,
    pub previous: &'a str,
    pub created_at: &'a str,
    pub signer: &'a SigningKey,
    pub peers: &'a [VerifyingKey],
    /// The HIM station's X25519 key (`him_public_key`), so HIM can read a dead PC's segments.
    pub him: Option<[u8; 32]>,
}

/// A sealed segment: its bytes and their SHA-256 (the next segment's `previous`).
pub struct Sealed {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

fn wrapping_cipher(shared: &[u8], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> Aes256Gcm {
    let salt = [ephemeral.as_slice(), recipient.as_slice()].concat();
    let mut key = Zeroizing::new([0u8; 32]);
    // HKDF-SHA-256 expands up to 8160 bytes; 32 cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(&salt), shared).expand(WRAP_INFO, key.as_mut());
    Aes256Gcm::new(key.as_ref().into())
}

/// Encrypts and signs `records` as one segment.
pub fn seal(s: &Sealing<'_>, records: &[Record], rng: &mut dyn Random) -> Result<Sealed, UnitError> {
    let mut data_key = Zeroizing::new([0u8; 32]);
    rng.fill(data_key.as_mut());
    let mut eph_bytes = Zeroizing::new([0u8; 32]);
    rng.fill(eph_bytes.as_mut());
    let ephemeral = StaticSecret::from(*eph_bytes);
    let eph_public = PublicKey::from(&ephemeral).to_bytes();
    let mut targets: Vec<(String, RecipientKind, [u8; 32])> =
        s.peers.iter().map(|k| (hex(k.as_bytes()), RecipientKind::Peer, x25519_public(k))).collect();
    if let Some(him) = s.him {
        targets.push((hex(&him), RecipientKind::Him, him));
    }
    let mut recipients = Vec::with_capacity(targets.len());
    for (key, kind, x) in targets {
        let shared = ephemeral.diffie_hellman(&PublicKey::from(x));
        if !shared.was_contributory() {
            return Err(UnitError::Publish(format!("the key {} is not usable for encryption", fingerprint(&x))));
        }
        let wrapped = wrapping_cipher(shared.as_bytes(), &eph_public, &x)
            .encrypt(Nonce::from_slice(&[0u8; 12]), aes_gcm::aead::Payload { msg: data_key.as_ref(), aad: WRAP_AD })
            .map_err(|_| UnitError::Publish("a data key could not be wrapped".into()))?;
        recipients.push(Recipient { key, kind, wrapped: hex(&wrapped) });
    }
    let mut prefix = [0u8; NONCE_PREFIX_LEN];
    rng.fill(&mut prefix);
    let header = Header {
        format: FORMAT,
        workstation: s.workstation.to_string(),
        unit: s.unit.to_string(),
        sequence: s.sequence,
        previous: s.previous.to_string(),
        created_at: s.created_at.to_string(),
        signer: hex(s.signer.verifying_key().as_bytes()),
        ephemeral: hex(&eph_public),
        recipients,
        nonce_prefix: hex(&prefix),
        segment_size: STREAM_SEGMENT,
    };
    let header_bytes = serde_json::to_vec(&header).map_err(|e| UnitError::Publish(format!("header: {e}")))?;
    let mut w = stream::Writer::with_magic(Vec::new(), MAGIC, &header_bytes, &data_key, prefix, STREAM_SEGMENT)?;
    let mut buf = Zeroizing::new(Vec::new());
    for r in records {
        buf.clear();
        serde_json::to_writer(&mut *buf, r)
            .map_err(|e| UnitError::Publish(format!("{} not serialisable: {e}", r.label())))?;
        if buf.len() > MAX_RECORD_BYTES {
            return Err(UnitError::Publish(format!("{} is larger than one record may be", r.label())));
        }
        w.write_plain(&(buf.len() as u32).to_be_bytes())?;
        w.write_plain(&buf)?;
    }
    let done = w.finish(s.signer)?;
    Ok(Sealed { bytes: done.out, sha256: done.sha256 })
}

/// A segment opened and verified: its header, its records, the writer's key and the file's SHA-256.
pub struct Opened {
    pub header: Header,
    pub records: Vec<Record>,
    pub signer: VerifyingKey,
    pub sha256: String,
}

/// Who opens a segment: a workstation of the unit (its signing key, and the peers it trusts), or the HIM station.
pub enum Reader<'a> {
    Peer { me: &'a SigningKey, enrolled: &'a [VerifyingKey] },
    Him { secret: &'a StaticSecret },
}

/// Reads the header of a segment file without decrypting anything: enough to tell whose it is.
pub fn header(bytes: &[u8], file: &str) -> Result<Header, UnitError> {
    let mut input = bytes;
    let (header_bytes, _, _) = stream::read_preamble_of(&mut input, MAGIC).map_err(|e| unreadable(file, e))?;
    let bad = |what: String| UnitError::Unreadable { file: file.into(), reason: format!("header: {what}") };
    let value = crate::json::parse_limited(&header_bytes, MAX_HEADER_BYTES, 4).map_err(|e| bad(e.to_string()))?;
    if value.get("format").and_then(serde_json::Value::as_u64) != Some(u64::from(FORMAT)) {
        return Err(bad(format!("not segment format {FORMAT} (written by another version of Downtime Kit)")));
    }
    let header: Header = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if uuid::Uuid::parse_str(&header.workstation).is_err() {
        return Err(bad("the workstation id is not a UUID".into()));
    }
    if header.sequence == 0 || i64::try_from(header.sequence).is_err() {
        return Err(bad("sequence out of range".into()));
    }
    Ok(header)
}

/// Opens, decrypts and verifies a whole segment. `file` names it in errors. A segment signed by a key that is not
/// enrolled is refused before anything is decrypted.
pub fn open(bytes: &[u8], file: &str, reader: &Reader<'_>) -> Result<Opened, UnitError> {
    let header = header(bytes, file)?;
    let bad = |what: &str| UnitError::Unreadable { file: file.into(), reason: format!("header: {what}") };
    let signer = peer_key(&header.signer).ok_or_else(|| bad("signer is not an Ed25519 key"))?;
    let (secret, mine, kind) = match reader {
        Reader::Peer { me, enrolled } => {
            if !enrolled.contains(&signer) {
                return Err(UnitError::NotEnrolled { file: file.into(), fingerprint: fingerprint(signer.as_bytes()) });
            }
            (x25519_secret(me), hex(me.verifying_key().as_bytes()), RecipientKind::Peer)
        }
        Reader::Him { secret } => ((*secret).clone(), hex(PublicKey::from(*secret).as_bytes()), RecipientKind::Him),
    };
    let ours =
        header.recipients.iter().find(|r| r.kind == kind && r.key.eq_ignore_ascii_case(&mine)).ok_or_else(|| {
            UnitError::Unreadable {
                file: file.into(),
                reason: match kind {
                    RecipientKind::Peer => {
                        "not encrypted to this workstation (its key is missing from the writer's unit_peers)".into()
                    }
                    RecipientKind::Him => "not encrypted to this HIM station's key (the writer's site.json had no him_public_key, or another one, when it wrote it)".into(),
                },
            }
        })?;
    let eph: [u8; 32] = unhex(&header.ephemeral).ok_or_else(|| bad("ephemeral is not a key"))?;
    let wrapped: Vec<u8> = unhex::<48>(&ours.wrapped).ok_or_else(|| bad("a wrapped key is not 48 bytes"))?.to_vec();
    let my_public = PublicKey::from(&secret).to_bytes();
    let shared = secret.diffie_hellman(&PublicKey::from(eph));
    let data_key = wrapping_cipher(shared.as_bytes(), &eph, &my_public)
        .decrypt(Nonce::from_slice(&[0u8; 12]), aes_gcm::aead::Payload { msg: &wrapped, aad: WRAP_AD })
        .map_err(|_| unreadable(file, HandoffError::Tampered))?;
    let data_key: Zeroizing<[u8; 32]> =
        Zeroizing::new(data_key.as_slice().try_into().map_err(|_| bad("the wrapped key is not 32 bytes"))?);
    let prefix: [u8; NONCE_PREFIX_LEN] =
        unhex(&header.nonce_prefix).ok_or_else(|| bad("nonce_prefix is not 7 bytes"))?;
    let mut input = bytes;
    let (_, hash, offset) = stream::read_preamble_of(&mut input, MAGIC).map_err(|e| unreadable(file, e))?;
    let mut r = stream::Reader::new(input, hash, offset, Some(&data_key), prefix, header.segment_size)
        .map_err(|e| unreadable(file, e))?;
    let mut records = Vec::new();
    let mut after = "the start of the stream".to_string();
    let mut buf = Zeroizing::new(Vec::new());
    while !r.at_end().map_err(|e| unreadable(file, e))? {
        let mut len = [0u8; 4];
        if !r.read_plain(&mut len).map_err(|e| unreadable(file, e))? {
            return Err(unreadable(file, HandoffError::Inconsistent("a record is cut short".into())));
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_RECORD_BYTES {
            return Err(unreadable(file, HandoffError::Inconsistent(format!("a record after {after} is too large"))));
        }
        buf.clear();
        buf.resize(n, 0);
        if !r.read_plain(&mut buf).map_err(|e| unreadable(file, e))? {
            return Err(unreadable(file, HandoffError::Inconsistent("a record is cut short".into())));
        }
        let record = parse_record(&buf, records.len() as u64, &after).map_err(|e| unreadable(file, e))?;
        after = record.label();
        records.push(record);
    }
    let sha256 = r.finish(&signer).map_err(|e| unreadable(file, e))?;
    Ok(Opened { header, records, signer, sha256 })
}

/// How a segment that cannot be read is named: the file and what is wrong, in the words of a unit share.
fn unreadable(file: &str, e: HandoffError) -> UnitError {
    let reason = match e {
        HandoffError::NotHandoff => "not a Downtime Kit unit segment".to_string(),
        HandoffError::Truncated { at } => {
            format!("cut short after {at} bytes (half-written or still being copied); tried again at the next sync")
        }
        HandoffError::Tampered => "changed after its workstation signed it (does not decrypt or verify)".to_string(),
        HandoffError::TrailingBytes(n) => format!("{n} unexpected bytes after its signature"),
        other => other.to_string(),
    };
    UnitError::Unreadable { file: file.into(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::OsRandom;
    use crate::handoff::{EndRecord, Staff};

    fn records() -> Vec<Record> {
        vec![
            Record::Staff(Staff { username: "jnurse".into(), display_name: "J Nurse".into(), role: "nurse".into() }),
            Record::End(EndRecord { staff: 1, ..EndRecord::default() }),
        ]
    }

    fn sealed(writer: &SigningKey, peers: &[VerifyingKey]) -> Sealed {
        sealed_for(writer, peers, None)
    }

    fn sealed_for(writer: &SigningKey, peers: &[VerifyingKey], him: Option<[u8; 32]>) -> Sealed {
        let s = Sealing {
            workstation: "6f1c7a52-0000-4000-8000-000000000001",
            unit: "5E",
            sequence: 1,
            previous: "",
            created_at: "2026-11-21T10:00:00Z",
            signer: writer,
            peers,
            him,
        };
        seal(&s, &records(), &mut OsRandom).expect("sealed")
    }

    #[test]
    fn an_enrolled_peer_reads_a_segment_and_everyone_else_is_refused_by_name() {
        let (a, b, c) =
            (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]), SigningKey::from_bytes(&[3; 32]));
        let seg = sealed(&a, &[b.verifying_key()]);
        let enrolled = [a.verifying_key()];
        let got = open(&seg.bytes, "x.dtku", &Reader::Peer { me: &b, enrolled: &enrolled }).expect("b reads it");
        assert_eq!(got.records, records());
        assert_eq!(got.sha256, seg.sha256);
        let not_for_c = open(&seg.bytes, "x.dtku", &Reader::Peer { me: &c, enrolled: &enrolled });
        assert!(matches!(not_for_c, Err(UnitError::Unreadable { .. })));
        let unknown = open(&seg.bytes, "x.dtku", &Reader::Peer { me: &b, enrolled: &[c.verifying_key()] });
        let msg = unknown.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("x.dtku: signed by key") && msg.contains("not in this workstation's unit_peers"),
            "{msg}"
        );
    }

    #[test]
    fn the_him_station_reads_a_segment_wrapped_to_its_key_and_no_other_him_key_does() {
        let writer = SigningKey::from_bytes(&[1; 32]);
        let (him, other) = (StaticSecret::from([0x5a; 32]), StaticSecret::from([0x5b; 32]));
        let seg = sealed_for(&writer, &[], Some(PublicKey::from(&him).to_bytes()));
        let got = open(&seg.bytes, "x.dtku", &Reader::Him { secret: &him }).expect("HIM reads a dead PC's segment");
        assert_eq!(got.records, records());
        assert!(open(&seg.bytes, "x.dtku", &Reader::Him { secret: &other }).is_err());
    }

    #[test]
    fn fail_a_header_that_gives_a_key_twice_is_refused_naming_the_file() {
        let (a, b) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
        let seg = sealed(&a, &[b.verifying_key()]);
        let extra = b"\"format\":1,";
        let len = u32::from_be_bytes([seg.bytes[6], seg.bytes[7], seg.bytes[8], seg.bytes[9]]) + extra.len() as u32;
        let twice = [&seg.bytes[..6], &len.to_be_bytes(), &seg.bytes[10..11], extra, &seg.bytes[11..]].concat();
        let enrolled = [a.verifying_key()];
        let got = open(&twice, "x.dtku", &Reader::Peer { me: &b, enrolled: &enrolled }).err().map(|e| e.to_string());
        assert!(
            got.as_deref().is_some_and(|m| m.starts_with("x.dtku: header: ") && m.contains("given twice")),
            "{got:?}"
        );
    }

    #[test]
    fn fail_a_cut_or_changed_segment_names_the_file() {
        let (a, b) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]));
        let seg = sealed(&a, &[b.verifying_key()]);
        let enrolled = [a.verifying_key()];
        let reader = Reader::Peer { me: &b, enrolled: &enrolled };
        let cut = open(&seg.bytes[..seg.bytes.len() - 70], "0000000001.dtku", &reader).err().map(|e| e.to_string());
        assert!(cut.as_deref().is_some_and(|m| m.starts_with("0000000001.dtku: cut short")), "{cut:?}");
        let mut changed = seg.bytes.clone();
        let at = changed.len() - 80;
        changed[at] ^= 1;
        let changed = open(&changed, "0000000001.dtku", &reader).err().map(|e| e.to_string());
        assert!(
            changed.as_deref().is_some_and(|m| m.contains("changed after its workstation signed it")),
            "{changed:?}"
        );
    }
}
