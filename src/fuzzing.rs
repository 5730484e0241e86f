//! What the fuzz targets that need more than one call run, shared by `fuzz/` and the corpus replay test
//! (`tests/it/fuzz_corpus.rs`), so both exercise exactly the same code. Not part of the product's API.
//!
//! Handoff files are signed and encrypted, so random bytes stop at the signature check. The `handoff` target
//! therefore has two modes chosen by the first byte: the whole file as bytes (magic, lengths, header, signature,
//! recipient, segment framing), or a payload as JSON that, when it deserialises, is sealed to a real HIM key by a real
//! signer in small segments and read back, which drives decryption across segments, the record limits, the depth
//! limit and every consistency check of the records.

use std::sync::OnceLock;

use crate::crypto::Random;
use crate::handoff::{self, HimKey, Payload};

/// The HIM station's key of the `handoff` target: fixed bytes, so that a run with a fixed seed is the same run every
/// time (a fresh key per process made the short fuzz run of one commit differ from run to run).
fn him_key() -> &'static HimKey {
    static KEY: OnceLock<HimKey> = OnceLock::new();
    KEY.get_or_init(|| HimKey::from_secret([0x5a; 32]))
}

/// Known bytes for the ephemeral key and nonces the target seals with: a counter through SplitMix64.
struct FixedRandom(u64);

impl Random for FixedRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// The `handoff` fuzz target: must never panic, whatever `data` is.
pub fn handoff(data: &[u8]) {
    let key = him_key();
    match data.split_first() {
        Some((0, file)) => {
            let _ = handoff::verify(file, key);
        }
        Some((_, json)) => {
            let Ok(payload) = serde_json::from_slice::<Payload>(json) else { return };
            let recipient = handoff::parse_public_key(&key.public_hex()).unwrap_or([0; 32]);
            let signer = [7u8; 32];
            // Small segments, so records straddle segment boundaries.
            let sealed = handoff::seal_segmented(
                &payload,
                1,
                "2026-11-21T10:42:00Z",
                &signer,
                &recipient,
                256,
                &mut FixedRandom(20_261_206),
            );
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
        // What the nurse gives for a form that asks for the clinical time; ignored for the others.
        clinical_time: Some("2026-11-21T10:15:00Z"),
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

/// The forms the `response_validate` target checks against: the shipped ones in `root/forms`, the test-only wound
/// form (nested groups, enableWhen, repeats) and the standard pain score form (no item for the clinical time).
pub fn fuzzed_forms(root: &std::path::Path) -> Vec<crate::forms::Form> {
    let (catalog, _) = crate::forms::Catalog::load_dir(&root.join("forms"));
    let mut all: Vec<_> = catalog.forms().cloned().collect();
    for test_form in ["tests/data/forms/test-wound-assessment.json", "tests/data/forms/standard/pain-score.json"] {
        if let Ok(f) = crate::forms::load_file(&root.join(test_form)) {
            all.push(f);
        }
    }
    all
}

/// The `census_import` target: any bytes as a census bundle must parse or be refused with a clear error, never panic;
/// and every patient of a bundle that parses goes through the MAR schedule (its orders' timing, bounds and last
/// doses) over a four-week episode, which must not panic or run away whatever the numbers say.
pub fn census_import(data: &[u8]) {
    use crate::mar::{orders, schedule, LocalZone, Window};
    let Ok(census) = crate::census::parse(data, Some("http://hospital.example.org/mrn")) else { return };
    let zone = LocalZone::named("EST5EDT,M3.2.0,M11.1.0").unwrap_or_else(|_| LocalZone::utc());
    let from = time::macros::datetime!(2026-11-21 08:45 UTC);
    let window = Window {
        from,
        until: from + time::Duration::days(28),
        now: from + time::Duration::days(14),
        tolerance: time::Duration::minutes(60),
        zone: &zone,
    };
    for p in &census.patients {
        let (listed, _) = schedule(&orders::census_orders(p, &zone), &orders::census_doses(p), &window);
        assert!(listed.iter().all(|o| o.due.len() <= crate::mar::schedule::MAX_DUE), "due times are bounded");
    }
}

/// The `escalation` target: any bytes as a site's escalation file must load or be refused with problems, never
/// panic; a file that loads gives a ladder state with every contact called and one acknowledged, at a fixed moment.
pub fn escalation(data: &[u8]) {
    use crate::escalation::{ladder_state, Escalation, LadderFacts};
    let Ok(file) = Escalation::parse("escalation.json", data) else { return };
    let declared = time::macros::datetime!(2026-11-21 08:45 UTC);
    let calls: Vec<crate::procedures::ContactCall> = file
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| crate::procedures::ContactCall {
            at: crate::clock::stamp(declared + time::Duration::minutes(i as i64 * 7)),
            by: "fuzz".into(),
            contact: c.id.clone(),
            name: c.name.clone(),
            acknowledged: i == 3,
        })
        .collect();
    let affected: Vec<String> = crate::checklist::KNOWN_AFFECTED.iter().map(|s| s.to_string()).collect();
    let changes = [(declared + time::Duration::minutes(30), crate::severity::Severity::P1)];
    let state = ladder_state(
        &file,
        &LadderFacts {
            declared_at: declared,
            declared_severity: Some(crate::severity::Severity::P3),
            changes: &changes,
            affected: &affected,
            calls: &calls,
            now: declared + time::Duration::hours(5),
        },
    );
    assert_eq!(state.levels.len(), file.ladder.len(), "one state per level");
}

/// The `scenario` target: any bytes as a drill scenario file must parse or be refused naming the place, never
/// panic; a scenario that parses is scored with no events at the declaration, an hour and a half in, and two days in
/// with the drill ended, and never counts more expectations met than it has arrived.
pub fn scenario(data: &[u8]) {
    use crate::scenario::{score, Scenario, ScoreFacts};
    let checklist = crate::checklist::Checklist::default_list();
    let Ok(s) = Scenario::parse("scenario.json", data, Some(&checklist)) else { return };
    let declared = time::macros::datetime!(2026-11-21 08:45 UTC);
    for (minutes, ended) in [(0, false), (90, false), (2 * 24 * 60, true)] {
        let d = score(&ScoreFacts {
            file: "scenario.json",
            scenario: &s,
            checklist: Some(&checklist),
            declared_at: declared,
            declared_severity: None,
            events: &[],
            first_entry_at: None,
            until: declared + time::Duration::minutes(minutes),
            ended,
        });
        assert!(d.met <= d.total && d.total <= d.expectations.len(), "met {} of {}", d.met, d.total);
        assert_eq!(d.injects.len(), s.injects.len(), "one state per inject");
    }
}

/// The unit share's keys of the `unit_segment` target: a fixed reader and a fixed writer it enrols.
fn unit_keys() -> (ed25519_dalek::SigningKey, ed25519_dalek::SigningKey) {
    (ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]), ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
}

/// The `unit_segment` target: must never panic. First byte 0: the rest is a segment file, opened by a peer that
/// enrols the fixed writer (magic, header, recipients, wrapped key, stream framing, records, signature). Otherwise the
/// rest is a list of records as JSON that, when it deserialises, is sealed by the writer to the reader in one segment
/// and read back whole.
pub fn unit_segment(data: &[u8]) {
    use crate::unit::segment::{open, seal, Reader, Sealing};
    let (me, writer) = unit_keys();
    let enrolled = [writer.verifying_key()];
    let reader = Reader::Peer { me: &me, enrolled: &enrolled };
    match data.split_first() {
        Some((0, file)) => {
            let _ = open(file, "fuzz.dtku", &reader);
        }
        Some((_, json)) => {
            let Ok(records) = serde_json::from_slice::<Vec<handoff::Record>>(json) else { return };
            let peers = [me.verifying_key()];
            let sealing = Sealing {
                workstation: "6f1c7a52-0000-4000-8000-000000000001",
                unit: "5E",
                sequence: 1,
                previous: "",
                created_at: "2026-11-21T10:42:00Z",
                signer: &writer,
                peers: &peers,
                him: None,
            };
            if let Ok(sealed) = seal(&sealing, &records, &mut FixedRandom(20_261_207)) {
                if let Ok(back) = open(&sealed.bytes, "fuzz.dtku", &reader) {
                    assert_eq!(back.records, records, "a segment that reads back holds what was sealed");
                }
            }
        }
        None => {}
    }
}
