//! What the fuzz targets of outside input that needs a vault run, shared by `fuzz/` and the corpus replay test
//! (`tests/it/fuzz_corpus.rs`), so both exercise exactly the same code. Not part of the product's API.
//!
//! Handoff files are signed and encrypted, so random bytes stop at the signature check. The `handoff` target
//! therefore has two modes chosen by the first byte: the whole file as bytes (magic, lengths, header, signature,
//! recipient, segment framing), or a payload as JSON that, when it deserialises, is sealed to a real HIM key by a real
//! signer in small segments and read back, which drives decryption across segments, the record limits, the depth
//! limit and every consistency check of the records.

use std::sync::OnceLock;

use crate::api::{AddUserRequest, InitRequest, Workstation};
use crate::auth::Role;
use crate::clock::SystemClock;
use crate::crypto::{OsRandom, Password};
use crate::handoff::{self, HimKey, Payload};

/// A throwaway HIM station's key, made once per process in the temporary folder.
fn him_key() -> Option<&'static HimKey> {
    static KEY: OnceLock<Option<HimKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dtk-fuzz-him-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut ws = Workstation::open(&dir).ok()?;
        let pw = || Password::new("fuzz-him-pass-1".into());
        let init = InitRequest { unit: "Fuzz".into(), admin: "admin".into(), display_name: "A".into(), password: pw() };
        ws.init(init, &SystemClock).ok()?;
        let admin = ws.sign_in("admin", &pw(), &SystemClock).ok()?;
        let req = AddUserRequest { username: "him".into(), display_name: "H".into(), role: Role::Him, password: pw() };
        ws.add_user(&admin, req, &SystemClock).ok()?;
        let him = ws.sign_in("him", &pw(), &SystemClock).ok()?;
        ws.handoff_keygen(&him, &SystemClock).ok()?;
        let key = HimKey::load(ws.vault().ok()?.conn(), him.keys()).ok()?;
        drop(ws);
        let _ = std::fs::remove_dir_all(&dir);
        key
    })
    .as_ref()
}

/// The `handoff` fuzz target: must never panic, whatever `data` is.
pub fn handoff(data: &[u8]) {
    let Some(key) = him_key() else { return };
    match data.split_first() {
        Some((0, file)) => {
            let _ = handoff::verify(file, key);
        }
        Some((_, json)) => {
            let Ok(payload) = serde_json::from_slice::<Payload>(json) else { return };
            let recipient = handoff::parse_public_key(&key.public_hex()).unwrap_or([0; 32]);
            let signer = [7u8; 32];
            // Small segments, so records straddle segment boundaries.
            let sealed =
                handoff::seal_segmented(&payload, 1, "2026-11-21T10:42:00Z", &signer, &recipient, 256, &mut OsRandom);
            if let Ok(file) = sealed {
                if let Ok((_, back)) = handoff::read_payload(file.as_slice(), key) {
                    assert_eq!(
                        back.entries.len(),
                        payload.entries.len(),
                        "a file that reads back holds what was sealed"
                    );
                }
            }
        }
        None => {}
    }
}
