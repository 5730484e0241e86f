//! FHIR export formats (issue 15 item 5): a batch written before bundle formats were numbered (format 1, no
//! `fullUrl` on its `PUT` entries) still regenerates byte for byte with `dtk export fhir --batch ID --out FILE`,
//! and a new batch in the same vault gets a `fullUrl` on every entry and regenerates byte for byte too.
//!
//! The format 1 vault and its two bundles in `tests/data/fhir/format-1/` were written by the code of commit aa44b00
//! (before this change): a HIM station that imported one workstation's handoff (a dose, vital signs, a downtime
//! registration matched to a real MRN, a note), exported them, then imported an amendment of the dose and the vital
//! signs entered in error, and exported those as a second batch (conditional updates). HIM signs in as `lhim`.

use std::path::Path;

use dtk::clock::SystemClock;
use serde_json::{json, Value};

use crate::reconcile::{chart, export, med_admin, resources, sample, set_answer, workstation};
use crate::support::*;

fn copy_fixture(to: &Path) {
    let from = repo_root().join("tests/data/fhir/format-1/him");
    for f in std::fs::read_dir(&from).expect("fixture folder") {
        let f = f.expect("fixture file");
        std::fs::copy(f.path(), to.join(f.file_name())).expect("copy the fixture vault");
    }
}

fn entries(bundle: &Value) -> &Vec<Value> {
    bundle["entry"].as_array().expect("entries")
}

#[test]
fn an_old_batch_regenerates_as_it_was_written_and_a_new_batch_has_a_full_url_on_every_entry() {
    let him_tv = tempfile::tempdir().expect("dir");
    copy_fixture(him_tv.path());
    let files = tempfile::tempdir().expect("dir");
    let ids = std::fs::read_to_string(repo_root().join("tests/data/fhir/format-1/batches.txt")).expect("batch ids");
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 2);
    let regenerate_old = |round: &str| {
        for (n, id) in ids.iter().enumerate() {
            let written = std::fs::read(repo_root().join(format!("tests/data/fhir/format-1/batch-{}.json", n + 1)))
                .expect("the bundle as first written");
            let out = files.path().join(format!("old-{round}-{n}.json"));
            let o = dtk_cmd()
                .env("DTK_VAULT", him_tv.path())
                .env("DTK_USER", HIM.0)
                .env("DTK_PASSWORD", HIM.1)
                .args(["export", "fhir", "--batch", id, "--out"])
                .arg(&out)
                .output()
                .expect("run dtk");
            assert!(o.status.success(), "regenerating batch {id}: {}", stderr(&o));
            assert!(stdout(&o).contains("(as exported)"), "{}", stdout(&o));
            assert!(std::fs::read(&out).expect("regenerated") == written, "batch {id} regenerated to other bytes");
            // Format 1 as written: its PUT entries (Provenance, AuditEvent) carry no fullUrl.
            let bundle: Value = serde_json::from_slice(&written).expect("JSON");
            let without = entries(&bundle).iter().filter(|e| e.get("fullUrl").is_none()).count();
            assert!(without > 1, "batch {id} is a format 1 bundle");
        }
    };
    regenerate_old("before");

    // A new batch in the same (upgraded) vault: every entry has a fullUrl.
    let mut him_ws = dtk::api::Workstation::open(him_tv.path()).expect("open the HIM station");
    let him = him_ws.sign_in(HIM.0, &dtk::crypto::Password::new(HIM.1.into()), &SystemClock).expect("sign in");
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("the station's key");
    assert!(!key.created, "the fixture's key is kept");
    let mut a = workstation(&key.public_key, "T5C-", false);
    // Hours after the fixture's entries of the same patient, so that nothing is proposed as their duplicate.
    let mut vitals = sample("vital-signs");
    set_answer(&mut vitals, "measured-at", json!({ "valueDateTime": "2026-11-21T16:00:00-05:00" }));
    chart(&mut a, &vitals, false);
    chart(&mut a, &med_admin("2026-11-21T16:15:00-05:00"), false);
    let file = export(&mut a, files.path(), "c1.dtkh");
    him_ws.import_handoff(&him, &std::fs::read(file).expect("file"), &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 2);
    let out = files.path().join("new.json");
    let batch = him_ws.export_fhir(&him, &out, &SystemClock).expect("export");
    let text = std::fs::read(&out).expect("bundle");
    let bundle: Value = serde_json::from_slice(&text).expect("JSON");
    assert_eq!(dtk::fhir::check_bundle(&bundle), Vec::<String>::new());
    for e in entries(&bundle) {
        let full = e["fullUrl"].as_str().unwrap_or_else(|| panic!("an entry without fullUrl: {}", e["request"]));
        assert!(full.starts_with("urn:uuid:"), "{full}");
        if e["request"]["method"] == "PUT" {
            if let Some(id) = e["resource"]["id"].as_str() {
                // PUT to a deterministic id: the fullUrl is that resource's own urn:uuid.
                assert_eq!(full, format!("urn:uuid:{id}"));
            }
        }
    }
    let types: Vec<String> =
        resources(&bundle).iter().map(|r| r["resourceType"].as_str().unwrap_or("?").into()).collect();
    assert!(types.contains(&"Provenance".to_string()) && types.contains(&"AuditEvent".to_string()), "{types:?}");
    let again = files.path().join("new-again.json");
    let re = him_ws.regenerate_fhir(&him, &batch.batch_id, &again).expect("regenerate");
    assert_eq!(re.sha256, batch.sha256);
    assert!(std::fs::read(&again).expect("again") == text, "the new batch regenerates byte for byte");
    drop((him_ws, a.tv));
    regenerate_old("after");
}

/// An accepted entry whose episode is not a real one is never exported: the export is refused before it records a
/// batch or writes a file, and an entry of a real episode beside it stays accepted. (A HIM station refuses a drill's
/// handoff file, so the episode is turned into a drill in the vault itself here.)
#[test]
fn an_accepted_entry_of_a_drill_is_refused_at_export_and_nothing_is_recorded() {
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("the station's key");
    let files = tempfile::tempdir().expect("dir");
    let mut a = workstation(&key.public_key, "T5D-", false);
    chart(&mut a, &sample("vital-signs"), false);
    let file = export(&mut a, files.path(), "a.dtkh");
    him_ws.import_handoff(&him, &std::fs::read(file).expect("file"), &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 1);
    let conn = him_ws.vault().expect("vault").conn();
    assert_eq!(conn.execute("UPDATE episodes SET kind = 'drill'", []).expect("a drill"), 1);
    let out = files.path().join("drill.json");
    let refused = him_ws.export_fhir(&him, &out, &SystemClock).expect_err("a drill's entry is never exported");
    assert!(refused.message.contains("DRILL"), "{}", refused.message);
    assert!(!out.exists(), "no file");
    let conn = him_ws.vault().expect("vault").conn();
    let batches: i64 = conn.query_row("SELECT count(*) FROM export_batches", [], |r| r.get(0)).expect("count");
    let accepted: i64 =
        conn.query_row("SELECT count(*) FROM recon WHERE state = 'accepted'", [], |r| r.get(0)).expect("count");
    assert_eq!((batches, accepted), (0, 1));
    conn.execute("UPDATE episodes SET kind = 'real'", []).expect("real again");
    assert_eq!(him_ws.export_fhir(&him, &out, &SystemClock).expect("exported").entries, 1);
}
