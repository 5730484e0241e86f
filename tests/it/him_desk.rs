//! What the desktop app's HIM desk calls beyond the command line: the site's handoff import folder, importing a file
//! by its path, decoding a scanned page, and the reconciliation report written as CSV with its hash.

use dtk::clock::SystemClock;
use dtk::episodes::{Declaration, Kind};
use serde_json::json;

use crate::support::*;

/// A correctly signed and encrypted handoff file of an episode with nothing charted.
pub fn empty_handoff(him_public_key: &str, kind: Kind) -> Vec<u8> {
    let payload = dtk::handoff::Payload {
        workstation: uuid::Uuid::new_v4().to_string(),
        episode: dtk::handoff::EpisodeRecord {
            id: uuid::Uuid::new_v4().to_string(),
            unit: "5 East".into(),
            kind,
            started_at: "2026-11-21T09:00:00.000Z".into(),
            started_by: "kcharge".into(),
            ended_at: None,
            ended_by: None,
            declaration: Declaration::default(),
        },
        staff: vec![],
        registrations: vec![],
        entries: vec![],
        audit: vec![],
        events: vec![],
        unsigned: None,
    };
    let recipient = dtk::handoff::parse_public_key(him_public_key).expect("key");
    dtk::handoff::seal(&payload, 1, "2026-11-21T12:00:00.000Z", &[9; 32], &recipient, &mut dtk::crypto::OsRandom)
        .expect("seal")
}

#[test]
fn the_import_folder_lists_handoff_files_and_imports_them_by_path() {
    let tv = TestVault::new();
    let stick = tempfile::tempdir().expect("stick");
    std::fs::write(tv.path().join("site.json"), json!({ "handoff_import_dir": stick.path() }).to_string())
        .expect("site");
    let (mut ws, him) = tv.sign_in(HIM);
    let key = ws.handoff_keygen(&him, &SystemClock).expect("key");
    std::fs::write(stick.path().join("b-ws2.dtkh"), empty_handoff(&key.public_key, Kind::Real)).expect("b");
    std::fs::write(stick.path().join("a-ws1.DTKH"), b"truncated").expect("a");
    std::fs::write(stick.path().join("notes.txt"), b"not a handoff file").expect("txt");
    std::fs::create_dir(stick.path().join("folder.dtkh")).expect("dir");

    let folder = ws.handoff_import_folder(&him).expect("listing");
    assert_eq!(folder.dir.as_deref(), Some(stick.path()));
    let names: Vec<&str> = folder.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a-ws1.DTKH", "b-ws2.dtkh"], "handoff files only, by name");

    let bad = ws.import_handoff_file(&him, &folder.files[0].path, &SystemClock).expect_err("not a handoff file");
    assert_eq!(bad.code, dtk::api::ErrorCode::InvalidInput, "{}", bad.message);
    let ok = ws.import_handoff_file(&him, &folder.files[1].path, &SystemClock).expect("import");
    assert!(!ok.already_imported);
    let again = ws.import_handoff_file(&him, &folder.files[1].path, &SystemClock).expect("again");
    assert!(again.already_imported, "the same file twice adds nothing");
    let missing = ws.import_handoff_file(&him, &stick.path().join("gone.dtkh"), &SystemClock).expect_err("gone");
    assert_eq!(missing.code, dtk::api::ErrorCode::Io);

    let (mut nurse_ws, nurse) = tv.sign_in(NURSE);
    assert_eq!(nurse_ws.handoff_import_folder(&nurse).expect_err("HIM only").code, dtk::api::ErrorCode::Forbidden);
    let err = nurse_ws.import_handoff_file(&nurse, &folder.files[1].path, &SystemClock).expect_err("HIM only");
    assert_eq!(err.code, dtk::api::ErrorCode::Forbidden);
}

#[test]
fn without_an_import_folder_the_listing_is_empty_and_a_missing_folder_is_named() {
    let tv = TestVault::new();
    let (ws, him) = tv.sign_in(HIM);
    let folder = ws.handoff_import_folder(&him).expect("listing");
    assert!(folder.dir.is_none() && folder.files.is_empty());
    std::fs::write(tv.path().join("site.json"), json!({ "handoff_import_dir": "/no/such/stick" }).to_string())
        .expect("site");
    let (ws, him) = tv.sign_in(HIM);
    let err = ws.handoff_import_folder(&him).expect_err("missing");
    assert!(err.message.contains("/no/such/stick"), "{}", err.message);
}

#[test]
fn the_report_is_written_as_csv_with_its_hash_and_scans_that_are_not_images_are_refused() {
    let tv = TestVault::new();
    let (mut ws, him) = tv.sign_in(HIM);
    let out = tv.path().join("report.csv");
    let written = ws.write_reconciliation_csv(&him, &out, &SystemClock).expect("csv");
    let bytes = std::fs::read(&out).expect("written");
    assert_eq!(written.bytes, bytes.len() as u64);
    assert_eq!(written.sha256, dtk::crypto::sha256_hex(&bytes));
    assert!(String::from_utf8_lossy(&bytes).contains("pending"), "counts per state are in the CSV");

    assert_eq!(ws.acceptable_count(&him).expect("count"), 0);
    let scan = tv.path().join("scan.png");
    std::fs::write(&scan, b"not an image").expect("scan");
    let err = ws.read_paper_scan(&him, &scan, 1).expect_err("not an image");
    assert_eq!(err.code, dtk::api::ErrorCode::InvalidInput, "{}", err.message);
    let (nurse_ws, nurse) = tv.sign_in(NURSE);
    assert_eq!(nurse_ws.read_paper_scan(&nurse, &scan, 1).expect_err("HIM only").code, dtk::api::ErrorCode::Forbidden);
}
