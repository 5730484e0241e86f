//! The streamed handoff file (issue 8): a file crosses many sealed segments and comes back whole; a file cut at a
//! segment boundary, with segments swapped, repeated or dropped, or holding one record over the limit is refused,
//! naming why, and adds nothing.

use dtk::api::{Session, Workstation};
use dtk::clock::SystemClock;
use dtk::handoff::{HimKey, Payload};
use serde_json::json;

use crate::support::*;

/// An HIM station with its handoff key.
struct Him {
    tv: TestVault,
    ws: Workstation,
    session: Session,
    public_key: String,
}

fn him_station() -> Him {
    let tv = TestVault::new();
    let (mut ws, session) = tv.sign_in(HIM);
    let public_key = ws.handoff_keygen(&session, &SystemClock).expect("keygen").public_key;
    Him { tv, ws, session, public_key }
}

impl Him {
    fn key(&self) -> HimKey {
        HimKey::load(self.ws.vault().expect("vault").conn(), self.session.keys()).expect("load").expect("a key")
    }

    fn import(&mut self, bytes: &[u8]) -> Result<dtk::handoff::ImportReport, dtk::api::ApiError> {
        self.ws.import_handoff(&self.session, bytes, &SystemClock)
    }

    fn entries(&self) -> i64 {
        self.tv.raw().query_row("SELECT count(*) FROM entries", [], |r| r.get(0)).expect("count")
    }
}

/// A workstation that charted `n` signed notes and wrote its handoff file; returns the file and what it holds.
fn exported(him: &Him, n: usize) -> (Vec<u8>, Payload) {
    let tv = TestVault::charting();
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": him.public_key }).to_string())
        .expect("site.json");
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &dtk::crypto::Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    let nurse = ws.sign_in(NURSE.0, &dtk::crypto::Password::new(NURSE.1.into()), &SystemClock).expect("nurse");
    let opts = dtk::api::EntryOptions { sign: true, confirm_not_duplicate: true, ..Default::default() };
    for i in 0..n {
        let mut note = sample_response("nursing-note");
        let at = time::macros::datetime!(2026-11-20 00:00 UTC) + time::Duration::hours(i as i64);
        edit_item(&mut note, "observed-at", |it| it["answer"] = json!([{ "valueDateTime": dtk::clock::stamp(at) }]));
        ws.add_entry(&nurse, &note, &opts, &SystemClock).unwrap_or_else(|e| panic!("note {i}: {e:?}"));
    }
    let out = tv.path().join("ws.dtkh");
    let s = ws.export_handoff(&charge, &out, None, false, &SystemClock).expect("export");
    assert_eq!(s.entries, n);
    let names: Vec<String> = std::fs::read_dir(tv.path())
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert_eq!(names, Vec::<String>::new(), "no temporary file is left beside the export");
    let bytes = std::fs::read(&out).expect("file");
    assert_eq!(dtk::crypto::sha256_hex(&bytes), s.file_sha256);
    let (_, payload) = dtk::handoff::read_payload(bytes.as_slice(), &him.key()).expect("reads back");
    (bytes, payload)
}

/// The byte ranges of a file's segment frames (flag, length, ciphertext), in order.
fn frames(file: &[u8]) -> Vec<std::ops::Range<usize>> {
    let header_len = u32::from_be_bytes(file[6..10].try_into().expect("4 bytes")) as usize;
    let mut at = 10 + header_len;
    let mut out = Vec::new();
    loop {
        let len = u32::from_be_bytes(file[at + 1..at + 5].try_into().expect("4 bytes")) as usize;
        out.push(at..at + 5 + len);
        let last = file[at] == 1;
        at += 5 + len;
        if last {
            assert_eq!(file.len() - at, 64, "the signature follows the last segment");
            return out;
        }
    }
}

const SMALL: u32 = 64;

fn reseal(payload: &Payload, him: &Him, segment: u32) -> Vec<u8> {
    let recipient = dtk::handoff::parse_public_key(&him.public_key).expect("key");
    dtk::handoff::seal_segmented(
        payload,
        1,
        "2026-11-21T12:00:00.000Z",
        &[9; 32],
        &recipient,
        segment,
        &mut dtk::crypto::OsRandom,
    )
    .expect("seal")
}

#[test]
fn a_file_of_many_segments_comes_back_whole_once() {
    let mut him = him_station();
    let (file, payload) = exported(&him, 6);
    assert_eq!(frames(&file).len(), 1, "a small export fits one 64 KiB segment");
    let small = reseal(&payload, &him, SMALL);
    assert!(frames(&small).len() > 200, "{} segments", frames(&small).len());
    let (_, back) = dtk::handoff::read_payload(small.as_slice(), &him.key()).expect("reads back");
    assert_eq!(back, payload, "every record survives being cut into 64-byte segments");

    let r = him.import(&small).expect("import");
    assert_eq!((r.new_entries, r.new_versions, r.new_audit_rows), (6, 6, payload.audit.len()));
    assert_eq!(him.entries(), 6);
    let again = him.import(&small).expect("again");
    assert!(again.already_imported);
    assert_eq!((again.new_entries, him.entries()), (0, 6), "the same file twice adds nothing");
}

/// A header that gives a key twice is refused by name (issue 13), before anything is staged.
#[test]
fn fail_a_header_with_a_key_twice() {
    let mut him = him_station();
    let (file, _) = exported(&him, 1);
    let len = u32::from_be_bytes(file[6..10].try_into().expect("4 bytes")) as usize;
    let header = std::str::from_utf8(&file[10..10 + len]).expect("the header is JSON text");
    let unit = serde_json::from_str::<serde_json::Value>(header).expect("json")["unit"].clone();
    let twice = header.replacen(r#""unit":"#, &format!(r#""unit":{unit},"unit":"#), 1);
    assert_ne!(twice, header, "the header names its unit");
    let mut forged = file[..6].to_vec();
    forged.extend_from_slice(&(twice.len() as u32).to_be_bytes());
    forged.extend_from_slice(twice.as_bytes());
    forged.extend_from_slice(&file[10 + len..]);
    let err = him.import(&forged).expect_err("refused");
    assert!(err.message.contains(r#"header: the key "unit" is given twice"#), "{}", err.message);
    assert_eq!(him.entries(), 0, "nothing imported");
}

#[test]
fn fail_a_file_cut_at_a_segment_boundary() {
    let mut him = him_station();
    let (_, payload) = exported(&him, 3);
    let file = reseal(&payload, &him, SMALL);
    let f = frames(&file);
    for cut in [f[1].start, f[f.len() / 2].start, f[f.len() - 1].start, f[f.len() - 1].end] {
        let err = him.import(&file[..cut]).expect_err("truncated");
        assert!(err.message.contains("truncated"), "cut at {cut}: {}", err.message);
    }
    // The last segment dropped but the signature kept: the stream no longer ends where it was sealed to end.
    let last = f[f.len() - 1].clone();
    let dropped = [&file[..last.start], &file[last.end..]].concat();
    let err = him.import(&dropped).expect_err("last segment dropped");
    assert!(err.message.contains("changed after the workstation signed it"), "{}", err.message);
    // A non-last segment relabelled as the last one: its nonce no longer matches.
    let mut early_end = file[..f[3].end].to_vec();
    early_end[f[3].start] = 1;
    early_end.extend_from_slice(&file[file.len() - 64..]);
    let err = him.import(&early_end).expect_err("early end");
    assert!(err.message.contains("changed after the workstation signed it"), "{}", err.message);
    assert_eq!(him.entries(), 0, "refused files add nothing");
}

#[test]
fn fail_swapped_repeated_or_reordered_segments() {
    let mut him = him_station();
    let (_, payload) = exported(&him, 3);
    let file = reseal(&payload, &him, SMALL);
    let f = frames(&file);
    let (a, b) = (f[2].clone(), f[3].clone());
    let swapped = [&file[..a.start], &file[b.clone()], &file[a.clone()], &file[b.end..]].concat();
    let repeated = [&file[..b.start], &file[a.clone()], &file[b.end..]].concat();
    // A segment from another file sealed to the same station, in the same place.
    let other = reseal(&payload, &him, SMALL);
    let foreign = [&file[..a.start], &other[frames(&other)[2].clone()], &file[a.end..]].concat();
    for (what, bytes) in [("swapped", swapped), ("repeated", repeated), ("foreign", foreign)] {
        assert_eq!(bytes.len(), file.len());
        let err = him.import(&bytes).expect_err(what);
        assert!(err.message.contains("changed after the workstation signed it"), "{what}: {}", err.message);
        assert_eq!(err.code, dtk::api::ErrorCode::Integrity);
    }
    assert_eq!(him.entries(), 0);
    assert_eq!(him.import(&file).expect("the intact file").new_entries, 3);
}

#[test]
fn fail_a_record_over_the_limit_is_refused_by_name() {
    let mut him = him_station();
    let (_, mut payload) = exported(&him, 2);
    let big = &mut payload.entries[1];
    big.versions[0].body.response["text"] = json!({ "div": "x".repeat(dtk::handoff::MAX_RECORD_BYTES + 1) });
    let after = payload.entries[0].id.clone();
    let file = reseal(&payload, &him, dtk::handoff::DEFAULT_SEGMENT);
    let err = him.import(&file).expect_err("too large");
    assert!(err.message.contains("over the 16 MiB limit for one record"), "{}", err.message);
    assert!(err.message.contains(&format!("after entry {after}")), "names where it is: {}", err.message);
    assert_eq!(him.entries(), 0, "the entry before it was staged, and rolled back");
}

#[test]
fn fail_a_format_1_file_is_refused_by_name() {
    let mut him = him_station();
    let err = him.import(b"DTKH1\n\0\0\0\x0c{\"format\":1}").expect_err("old format");
    assert!(err.message.contains("format 1 is not supported"), "{}", err.message);
    let err = him.import(b"DTKH2\n\0\0\0\x0c{\"format\":9}").expect_err("future format");
    assert!(err.message.contains("format 9 is not supported"), "{}", err.message);
}
