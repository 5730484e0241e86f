//! Issue 15 item 4: after a post, read the batch back from the EHR. Every resource of every posted entry is
//! searched for on the server it was posted to; `dtk export verify` exits 0 only when each is there exactly once,
//! names what is missing (entry, type, identifier, never patient data) and counts what it found per type, so a
//! second post is proven to have created nothing. The summary and the reconciliation report say "verified in the
//! EHR: N of N".

use dtk::clock::SystemClock;
use serde_json::{json, Value};

use crate::reconcile::{chart, export, fhir_server, http, med_admin, sample, workstation, Server};
use crate::support::*;

/// The loopback EHR with every census patient of 5 East in it (the entries refer to them by MRN).
pub(crate) fn ehr_with_census() -> Server {
    let server = fhir_server();
    let census: Value =
        serde_json::from_slice(&std::fs::read(repo_root().join("tests/data/census-5-east.json")).expect("census"))
            .expect("census is JSON");
    for e in census["entry"].as_array().expect("entries") {
        let mut r = e["resource"].clone();
        if r["resourceType"] == "Patient" {
            r.as_object_mut().expect("object").remove("id");
            http("POST", &format!("{}/Patient", server.base), Some(&r));
        }
    }
    server
}

/// An HIM station that imported one workstation's three entries, accepted and exported them as one batch.
/// Returns the station, the batch id, the batch file and the entry ids.
pub(crate) fn exported_batch(files: &std::path::Path) -> (TestVault, String, std::path::PathBuf, Vec<String>) {
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    let ids = vec![
        chart(&mut a, &med_admin("2026-11-21T06:15:00-05:00"), true),
        chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), true),
        chart(&mut a, &sample("vital-signs"), true),
    ];
    let file = export(&mut a, files, "a1.dtkh");
    him_ws.import_handoff_file(&him, &file, &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 3);
    let out = files.join("batch.json");
    let batch = him_ws.export_fhir(&him, &out, &SystemClock).expect("export");
    (him_tv, batch.batch_id, out, ids)
}

/// The line of `dtk export verify` that counts what the server holds per type.
fn per_type(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with("Found on ")).unwrap_or_else(|| panic!("no per-type line: {out}"));
    line.split_once(" per type: ").map(|(_, t)| t.to_string()).unwrap_or_default()
}

/// The server's id of the resource of `resource_type` that carries `identifier`.
fn server_id(server: &Server, resource_type: &str, identifier: &str) -> String {
    let found = http(
        "GET",
        &format!("{}/{resource_type}?identifier={}%7C{identifier}", server.base, dtk::fhir::URN_SYSTEM),
        None,
    );
    found["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{resource_type} {identifier}: {found}"))
        .into()
}

#[test]
fn a_posted_batch_is_read_back_from_the_ehr_and_a_missing_resource_is_named() {
    let files = tempfile::tempdir().expect("dir");
    let (him_tv, batch, bundle_file, ids) = exported_batch(files.path());
    let server = ehr_with_census();

    // Not posted yet: there is no server to read it back from.
    let early = him_tv.dtk(Some(HIM), &["export", "verify", "--batch", &batch]);
    assert!(!early.status.success());
    assert!(stderr(&early).contains("has not been posted"), "{}", stderr(&early));

    crate::reconcile::name_server(&him_tv, &server.base, json!({}));
    let post = him_tv.dtk(Some(HIM), &["export", "fhir", "--batch", &batch, "--post", "EHR"]);
    assert!(post.status.success(), "{}", stderr(&post));

    // Everything is there: exit 0 and the summary line.
    let ok = him_tv.dtk(Some(HIM), &["export", "verify", "--batch", &batch]);
    assert!(ok.status.success(), "{}\n{}", stdout(&ok), stderr(&ok));
    let text = stdout(&ok);
    assert!(text.contains(&format!("Batch {batch}: verified in the EHR: 3 of 3 entries (")), "{text}");
    let before = per_type(&text);
    assert!(before.contains("QuestionnaireResponse 3") && before.contains("Provenance 3"), "{before}");
    assert!(before.contains("AuditEvent 1"), "{before}");

    // A second post of the same bundle creates nothing: the same resources, counted again, per type.
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_file).expect("bundle")).expect("JSON");
    let resp = http("POST", &format!("{}/", server.base), Some(&bundle));
    assert_eq!(resp["type"], "transaction-response", "{resp}");
    let again = him_tv.dtk(Some(HIM), &["export", "verify", "--batch", &batch]);
    assert!(again.status.success(), "{}", stdout(&again));
    assert_eq!(per_type(&stdout(&again)), before, "a second post created nothing");

    // The summary and the report say so.
    let summary = him_tv.dtk(Some(HIM), &["reconcile", "summary"]);
    assert!(stdout(&summary).contains("Verified in the EHR: 3 of 3"), "{}", stdout(&summary));
    {
        let (mut ws, him) = him_tv.sign_in(HIM);
        let report = ws.reconciliation_report(&him, &SystemClock).expect("report");
        assert_eq!(report.batches[0].verified_text(), "verified in the EHR: 3 of 3");
        assert!(report.to_csv().contains("verified in the EHR: 3 of 3"));
        assert_eq!((report.summary.verified_in_ehr, report.summary.posted_entries), (3, 3));
    }

    // One resource deleted on the server: named by entry, type and identifier; a non-zero exit.
    let qr = format!("urn:uuid:{}", ids[1]);
    let id = server_id(&server, "QuestionnaireResponse", &qr);
    http("DELETE", &format!("{}/QuestionnaireResponse/{id}", server.base), None);
    let missing = him_tv.dtk(Some(HIM), &["export", "verify", "--batch", &batch]);
    assert!(!missing.status.success(), "{}", stdout(&missing));
    let text = stdout(&missing);
    assert!(text.contains(&format!("MISSING {}: QuestionnaireResponse {qr} is missing", ids[1])), "{text}");
    assert!(text.contains("verified in the EHR: 2 of 3 entries"), "{text}");
    assert!(stderr(&missing).contains("1 entries with resources missing"), "{}", stderr(&missing));
    for patient_data in ["DEV2001", "DEV2002", "Okafor"] {
        assert!(!text.contains(patient_data) && !stderr(&missing).contains(patient_data), "{patient_data}: {text}");
    }
    let summary = him_tv.dtk(Some(HIM), &["reconcile", "summary"]);
    assert!(stdout(&summary).contains("Verified in the EHR: 2 of 3"), "{}", stdout(&summary));
    let (mut ws, him) = him_tv.sign_in(HIM);
    let report = ws.reconciliation_report(&him, &SystemClock).expect("report");
    assert_eq!(report.batches[0].verified_text(), "verified in the EHR: 2 of 3");
    let audit = dtk::audit::plain_rows(ws.vault().expect("vault").conn(), him.keys()).expect("audit");
    let verified: Vec<_> = audit.iter().filter(|r| r.action == "fhir.verified").collect();
    assert_eq!(verified.len(), 3, "each read-back is audited");
    assert_eq!(verified[2].detail["verified"], 2);
}

/// A copy of a resource on the server (what a second post without `ifNoneExist` would make) is named and fails.
#[test]
fn a_copy_on_the_server_is_named_and_fails_the_read_back() {
    let files = tempfile::tempdir().expect("dir");
    let (him_tv, batch, bundle_file, ids) = exported_batch(files.path());
    let server = ehr_with_census();
    let (mut ws, him) = crate::reconcile::him_posting_to(&him_tv, &server.base, json!({}));
    let post = ws.post_fhir(&him, &batch, "EHR", dtk::api::Credentials::None, &SystemClock).expect("post");
    assert_eq!(post.posted.len(), 3);
    let ok = ws.verify_in_ehr(&him, &batch, dtk::api::Credentials::None, &SystemClock).expect("verify");
    assert!(ok.all_present(), "{ok:?}");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_file).expect("bundle")).expect("JSON");
    let qr = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["resourceType"] == "QuestionnaireResponse" && r["identifier"]["value"] == format!("urn:uuid:{}", ids[0])
        })
        .expect("the first entry's response")
        .clone();
    let mut copy = qr.clone();
    copy["subject"] = json!({ "display": "copy" });
    http("POST", &format!("{}/QuestionnaireResponse", server.base), Some(&copy));
    let r = ws.verify_in_ehr(&him, &batch, dtk::api::Credentials::None, &SystemClock).expect("verify");
    assert!(!r.all_present());
    assert_eq!((r.verified, r.entries), (2, 3));
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].entry_id, ids[0]);
    assert_eq!(r.problems[0].state, dtk::api::ReadState::Duplicated);
    assert_eq!(
        r.problems[0].problems[0].describe(),
        format!("QuestionnaireResponse urn:uuid:{} is there 2 times", ids[0])
    );
    assert_eq!(r.found_per_type["QuestionnaireResponse"], ok.found_per_type["QuestionnaireResponse"] + 1);
}
