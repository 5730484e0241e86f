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

/// The `response_validate` target: any bytes as a QuestionnaireResponse, validated and extracted against every form
/// in `forms`. Must never panic; validation is deterministic, and a response that validates always extracts (a
/// valid entry that cannot be exported would be lost at recovery).
pub fn response_validate(forms: &[crate::forms::Form], data: &[u8]) {
    use crate::forms::{self, ExtractContext};
    let Ok(response) = forms::parse_response(data) else { return };
    let ctx = ExtractContext {
        entry_id: "0b6f7c1e-3d2a-4f5b-9c8d-1e2f3a4b5c6d",
        subject: serde_json::json!({"reference": "urn:uuid:6d36ab97-6dfa-548b-a698-fca1bc1aba2f"}),
        encounter: None,
        author: None,
        recorded: "2026-11-21T10:42:05Z",
    };
    for form in forms {
        let a = forms::validate_response(form, &response);
        let b = forms::validate_response(form, &response);
        assert_eq!(a, b, "validation must be deterministic");
        let _ = forms::facts(form, &response);
        match (a.is_valid(), forms::extract(form, &response, &ctx)) {
            (true, Err(e)) => panic!("a valid response always extracts ({}): {e}", form.url),
            (false, Ok(_)) => panic!("an invalid response never extracts ({})", form.url),
            _ => {}
        }
    }
}

/// The forms the `response_validate` target checks against: the shipped ones in `root/forms` and the test-only
/// wound form (nested groups, enableWhen, repeats).
pub fn fuzzed_forms(root: &std::path::Path) -> Vec<crate::forms::Form> {
    let (catalog, _) = crate::forms::Catalog::load_dir(&root.join("forms"));
    let mut all: Vec<_> = catalog.forms().cloned().collect();
    if let Ok(f) = crate::forms::load_file(&root.join("tests/data/forms/test-wound-assessment.json")) {
        all.push(f);
    }
    all
}
