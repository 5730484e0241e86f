//! The sealed stream of a handoff file (format 2): the clear header, then the plaintext cut into segments each
//! sealed with AES-256-GCM, then an Ed25519 signature. Neither side ever holds more than one segment.
//!
//! Layout: `DTKH2\n` ‖ header length (u32, big-endian) ‖ header (JSON) ‖ segment frames ‖ signature (64 bytes).
//! A frame is a flag byte (0: more follow, 1: the last) ‖ ciphertext length (u32, big-endian) ‖ ciphertext.
//! Every segment but the last holds exactly `segment_size` plaintext bytes (the header says how many).
//!
//! This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and its
//! Nonce-Reuse Misuse-Resistance", 2015), as age uses it: the nonce of segment i is a random 7-byte prefix from
//! the header ‖ i (u32, big-endian) ‖ the last-segment flag, so a dropped, repeated, reordered or swapped segment
//! and a stream cut at a segment boundary all fail to decrypt. The associated data of every segment is the SHA-256
//! of the magic, length and header, which ties the segments to their header. The signature covers
//! `SIGNATURE_CONTEXT` ‖ SHA-256 of every byte before it, hashed as the bytes go by; the importer verifies it after
//! the last segment and commits nothing before.

use std::io::{Read, Write};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::HandoffError;

/// The first bytes of every handoff file of the format this build writes.
pub const MAGIC: &[u8; 6] = b"DTKH2\n";
/// The first bytes of format-1 files (one sealed blob), which this build recognises only to refuse by name.
pub const MAGIC_V1: &[u8; 6] = b"DTKH1\n";
/// Largest header accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Plaintext bytes per segment written by `dtk handoff export`.
pub const DEFAULT_SEGMENT: u32 = 64 * 1024;
/// Smallest and largest segment sizes a header may announce: a reader holds one segment at a time, so the upper
/// bound is what bounds its memory; the lower one only keeps a hostile file from being all framing.
pub const MIN_SEGMENT: u32 = 64;
pub const MAX_SEGMENT: u32 = 1 << 20;
/// Bytes of the random nonce prefix in the header.
pub const NONCE_PREFIX_LEN: usize = 7;
/// What the signature signs before the digest, so it can never be taken for a signature of anything else.
pub const SIGNATURE_CONTEXT: &[u8] = b"downtime-kit/handoff/v2/signature";
pub const SIG_LEN: usize = 64;
const TAG_LEN: usize = 16;
const FRAME_LEN: usize = 5;

fn nonce(prefix: &[u8; NONCE_PREFIX_LEN], counter: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..NONCE_PREFIX_LEN].copy_from_slice(prefix);
    n[NONCE_PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// What both sides keep about the segments: the key, the nonce prefix, the header's digest (the associated data of
/// every segment), the counter and the segment size.
struct Segments {
    /// None when this station cannot decrypt the file (another recipient): frames are still read and hashed so the
    /// signature can be checked.
    cipher: Option<Aes256Gcm>,
    prefix: [u8; NONCE_PREFIX_LEN],
    aad: [u8; 32],
    counter: u32,
    size: usize,
}

impl Segments {
    fn new(
        key: Option<&[u8; 32]>,
        prefix: [u8; NONCE_PREFIX_LEN],
        preamble: Sha256,
        segment: u32,
    ) -> Result<Self, HandoffError> {
        if !(MIN_SEGMENT..=MAX_SEGMENT).contains(&segment) {
            return Err(HandoffError::Malformed(format!(
                "segments of {segment} bytes are outside {MIN_SEGMENT}..={MAX_SEGMENT}"
            )));
        }
        Ok(Segments {
            cipher: key.map(|k| Aes256Gcm::new(k.into())),
            prefix,
            aad: preamble.finalize().into(),
            counter: 0,
            size: segment as usize,
        })
    }

    /// The nonce of the next segment; fails rather than wrap after 2^32 segments.
    fn next_nonce(&mut self, last: bool) -> Result<[u8; 12], HandoffError> {
        let n = nonce(&self.prefix, self.counter, last);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| HandoffError::Malformed("a handoff file cannot hold more than 2^32 segments".into()))?;
        Ok(n)
    }
}

fn signed_message(digest: &[u8]) -> Vec<u8> {
    [SIGNATURE_CONTEXT, digest].concat()
}

/// The start of a file: magic, header length, header.
fn preamble(magic: &[u8; 6], header: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(magic.len() + 4 + header.len());
    p.extend_from_slice(magic);
    p.extend_from_slice(&(header.len() as u32).to_be_bytes());
    p.extend_from_slice(header);
    p
}

/// Writes the sealed stream of one file. Plaintext is buffered up to one segment.
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
    seg: Segments,
    buf: Zeroizing<Vec<u8>>,
    bytes: u64,
}

/// What a finished file is: its SHA-256 (of every byte, signature included) and its length.
pub struct Finished<W> {
    pub out: W,
    pub sha256: String,
    pub bytes: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the magic and the header. `segment` must lie within [`MIN_SEGMENT`, `MAX_SEGMENT`].
    pub fn new(
        out: W,
        header: &[u8],
        key: &[u8; 32],
        prefix: [u8; NONCE_PREFIX_LEN],
        segment: u32,
    ) -> Result<Self, HandoffError> {
        Self::with_magic(out, MAGIC, header, key, prefix, segment)
    }

    /// [`Writer::new`] for another file kind of the same construction (the unit share's segments, `DTKU1`), whose
    /// magic keeps it from ever being read as a handoff file.
    pub fn with_magic(
        mut out: W,
        magic: &[u8; 6],
        header: &[u8],
        key: &[u8; 32],
        prefix: [u8; NONCE_PREFIX_LEN],
        segment: u32,
    ) -> Result<Self, HandoffError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(HandoffError::Malformed(format!("a header of {} bytes cannot be written", header.len())));
        }
        let pre = preamble(magic, header);
        let mut hash = Sha256::new();
        hash.update(&pre);
        let seg = Segments::new(Some(key), prefix, hash.clone(), segment)?;
        out.write_all(&pre).map_err(write_err)?;
        Ok(Writer {
            out,
            hash,
            buf: Zeroizing::new(Vec::with_capacity(seg.size + TAG_LEN)),
            seg,
            bytes: pre.len() as u64,
        })
    }

    /// Appends plaintext. A full segment is sealed only when more plaintext follows, so the last one is never
    /// empty unless the whole stream is.
    pub fn write_plain(&mut self, mut data: &[u8]) -> Result<(), HandoffError> {
        while !data.is_empty() {
            if self.buf.len() == self.seg.size {
                self.seal_segment(false)?;
            }
            let take = (self.seg.size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    fn seal_segment(&mut self, last: bool) -> Result<(), HandoffError> {
        let n = self.seg.next_nonce(last)?;
        let cipher = self.seg.cipher.as_ref().ok_or_else(|| HandoffError::Malformed("no key to write with".into()))?;
        cipher
            .encrypt_in_place(Nonce::from_slice(&n), &self.seg.aad, &mut *self.buf)
            .map_err(|_| HandoffError::Malformed("a segment could not be encrypted".into()))?;
        let mut frame = [0u8; FRAME_LEN];
        frame[0] = u8::from(last);
        frame[1..].copy_from_slice(&(self.buf.len() as u32).to_be_bytes());
        self.out.write_all(&frame).and_then(|_| self.out.write_all(&self.buf)).map_err(write_err)?;
        self.hash.update(frame);
        self.hash.update(&*self.buf);
        self.bytes += (FRAME_LEN + self.buf.len()) as u64;
        self.buf.clear();
        Ok(())
    }

    /// Seals the last segment and appends the signature.
    pub fn finish(mut self, signer: &SigningKey) -> Result<Finished<W>, HandoffError> {
        self.seal_segment(true)?;
        let digest = self.hash.clone().finalize();
        let sig = signer.sign(&signed_message(&digest)).to_bytes();
        self.out.write_all(&sig).and_then(|_| self.out.flush()).map_err(write_err)?;
        self.hash.update(sig);
        Ok(Finished { out: self.out, sha256: super::hex(&self.hash.finalize()), bytes: self.bytes + SIG_LEN as u64 })
    }
}

fn write_err(e: std::io::Error) -> HandoffError {
    HandoffError::Write(e.to_string())
}

/// Reads the sealed stream of one file, one segment at a time, hashing every byte as it goes by.
pub struct Reader<R: Read> {
    input: R,
    hash: Sha256,
    seg: Segments,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    last_seen: bool,
    offset: u64,
}

/// Reads the magic, the header length and the header; returns the header bytes and the hash of all three.
pub fn read_preamble<R: Read>(input: &mut R) -> Result<(Vec<u8>, Sha256, u64), HandoffError> {
    read_preamble_of(input, MAGIC)
}

/// [`read_preamble`] of a file kind whose magic is `expected` (see [`Writer::with_magic`]).
pub fn read_preamble_of<R: Read>(input: &mut R, expected: &[u8; 6]) -> Result<(Vec<u8>, Sha256, u64), HandoffError> {
    let mut magic = [0u8; 6];
    let got = read_full(input, &mut magic)?;
    if expected == MAGIC && got == magic.len() && &magic == MAGIC_V1 {
        return Err(HandoffError::UnsupportedFormat(1));
    }
    if got < magic.len() || &magic != expected {
        return Err(HandoffError::NotHandoff);
    }
    let mut len = [0u8; 4];
    if read_full(input, &mut len)? < len.len() {
        return Err(HandoffError::Truncated { at: MAGIC.len() as u64 });
    }
    let header_len = u32::from_be_bytes(len) as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(HandoffError::Malformed(format!("the header is longer than {MAX_HEADER_BYTES} bytes")));
    }
    let mut header = vec![0u8; header_len];
    if read_full(input, &mut header)? < header_len {
        return Err(HandoffError::Truncated { at: (MAGIC.len() + 4) as u64 });
    }
    let mut hash = Sha256::new();
    hash.update(magic);
    hash.update(len);
    hash.update(&header);
    let offset = (MAGIC.len() + 4 + header_len) as u64;
    Ok((header, hash, offset))
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, HandoffError> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HandoffError::Read(e.to_string())),
        }
    }
    Ok(n)
}

impl<R: Read> Reader<R> {
    /// Continues after [`read_preamble`]. `key` is None when the file is not for this station.
    pub fn new(
        input: R,
        preamble_hash: Sha256,
        offset: u64,
        key: Option<&[u8; 32]>,
        prefix: [u8; NONCE_PREFIX_LEN],
        segment: u32,
    ) -> Result<Self, HandoffError> {
        Ok(Reader {
            input,
            seg: Segments::new(key, prefix, preamble_hash.clone(), segment)?,
            hash: preamble_hash,
            plain: Zeroizing::new(Vec::new()),
            pos: 0,
            last_seen: false,
            offset,
        })
    }

    /// Reads, checks and (when it can) decrypts the next segment. Framing that does not fit the header is reported
    /// as tampering, like a ciphertext that does not decrypt.
    fn next_segment(&mut self) -> Result<(), HandoffError> {
        let mut frame = [0u8; FRAME_LEN];
        if read_full(&mut self.input, &mut frame)? < FRAME_LEN {
            return Err(HandoffError::Truncated { at: self.offset });
        }
        let last = match frame[0] {
            0 => false,
            1 => true,
            _ => return Err(HandoffError::Tampered),
        };
        let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        let full = self.seg.size + TAG_LEN;
        if (!last && len != full) || !(TAG_LEN..=full).contains(&len) {
            return Err(HandoffError::Tampered);
        }
        self.plain.clear();
        self.plain.resize(len, 0);
        if read_full(&mut self.input, &mut self.plain)? < len {
            return Err(HandoffError::Truncated { at: self.offset });
        }
        self.hash.update(frame);
        self.hash.update(&*self.plain);
        self.offset += (FRAME_LEN + len) as u64;
        let n = self.seg.next_nonce(last)?;
        match &self.seg.cipher {
            Some(cipher) => cipher
                .decrypt_in_place(Nonce::from_slice(&n), &self.seg.aad, &mut *self.plain)
                .map_err(|_| HandoffError::Tampered)?,
            None => self.plain.clear(),
        }
        self.pos = 0;
        self.last_seen = last;
        Ok(())
    }

    /// True once every plaintext byte has been read (the last segment seen and consumed).
    pub fn at_end(&mut self) -> Result<bool, HandoffError> {
        while self.pos == self.plain.len() {
            if self.last_seen {
                return Ok(true);
            }
            self.next_segment()?;
        }
        Ok(false)
    }

    /// Fills `buf` with plaintext, across segments. False if the stream ends first.
    pub fn read_plain(&mut self, buf: &mut [u8]) -> Result<bool, HandoffError> {
        let mut n = 0;
        while n < buf.len() {
            if self.at_end()? {
                return Ok(false);
            }
            let take = (self.plain.len() - self.pos).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.plain[self.pos..self.pos + take]);
            self.pos += take;
            n += take;
        }
        Ok(true)
    }

    /// Reads every remaining segment without looking at its plaintext (each still has to decrypt).
    pub fn skip_to_end(&mut self) -> Result<(), HandoffError> {
        while !self.last_seen {
            self.next_segment()?;
        }
        self.pos = self.plain.len();
        Ok(())
    }

    /// After the last segment: reads the signature, checks nothing follows it, and verifies it. Returns the file's
    /// SHA-256 (signature included). Plaintext left unread is an error: the stream must hold nothing but records.
    pub fn finish(mut self, signer: &VerifyingKey) -> Result<String, HandoffError> {
        if !self.at_end()? {
            return Err(HandoffError::Inconsistent("the stream holds data after its end record".into()));
        }
        let mut sig = [0u8; SIG_LEN];
        if read_full(&mut self.input, &mut sig)? < SIG_LEN {
            return Err(HandoffError::Truncated { at: self.offset });
        }
        let mut rest = [0u8; 4096];
        let mut trailing = 0u64;
        loop {
            let n = read_full(&mut self.input, &mut rest)?;
            trailing += n as u64;
            if n < rest.len() || trailing > 1 << 20 {
                break;
            }
        }
        if trailing > 0 {
            return Err(HandoffError::TrailingBytes(trailing));
        }
        let digest = self.hash.clone().finalize();
        signer
            .verify_strict(&signed_message(&digest), &Signature::from_bytes(&sig))
            .map_err(|_| HandoffError::Tampered)?;
        self.hash.update(sig);
        Ok(super::hex(&self.hash.finalize()))
    }
}
