//! Home to a real FHIR R4 server (issue 15): a batch exported by `dtk export fhir` (a census patient, a downtime
//! registration, several forms) is posted by our poster to helios-hfs on loopback (`scripts/fhir-server.sh`), every
//! exported resource is then found on the server, and posting again creates nothing, counted on the server.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dtk::clock::SystemClock;
use serde_json::{json, Value};

use crate::reconcile::{chart, chart_registration, export, med_admin, resources, sample, workstation};
use crate::support::*;

/// The real server, started by `scripts/fhir-server.sh start` with a state folder of its own; dropping it (at the end
/// of the test, or when an assertion panics) runs `scripts/fhir-server.sh stop`.
struct RealServer {
    state: tempfile::TempDir,
    base: String,
}

impl RealServer {
    fn start() -> RealServer {
        let mut server = RealServer { state: tempfile::tempdir().expect("state folder"), base: String::new() };
        let out = server.script("start");
        assert!(
            out.status.success(),
            "the real FHIR server did not start (it is installed by `bash scripts/setup.sh`):\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        server.base = stdout(&out).lines().last().unwrap_or_default().trim().to_string();
        assert!(server.base.starts_with("http://127.0.0.1:"), "the last line is the base URL: {}", stdout(&out));
        server
    }

    fn script(&self, command: &str) -> std::process::Output {
        Command::new("bash")
            .arg(repo_root().join("scripts/fhir-server.sh"))
            .arg(command)
            .env("FHIR_SERVER_DIR", self.state.path())
            .output()
            .expect("bash runs scripts/fhir-server.sh")
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/{path}", self.base);
        match ureq::get(&url).set("Accept", "application/fhir+json").call() {
            Ok(r) => r.into_json().expect("json"),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let url = format!("{}/{path}", self.base);
        let req = ureq::post(&url).set("Content-Type", "application/fhir+json").set("Accept", "application/fhir+json");
        match req.send_string(&body.to_string()) {
            Ok(r) => (r.status(), r.into_json().expect("json")),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("POST {path}: {e}"),
        }
    }

    /// How many resources of a type the server holds (a search with `_summary=count`).
    fn count(&self, resource_type: &str) -> u64 {
        let found = self.get(&format!("{resource_type}?_summary=count"));
        found["total"].as_u64().unwrap_or_else(|| panic!("{resource_type}: no total in {found}"))
    }

    fn counts(&self, types: &[&str]) -> BTreeMap<String, u64> {
        types.iter().map(|t| (t.to_string(), self.count(t))).collect()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _stopped = self.script("stop");
    }
}

/// Posts a batch with the HIM's own command. The one place that says how the poster is pointed at a server, so that
/// the site's list of EHR servers (a name rather than a URL) changes only this function.
fn post(him: &TestVault, batch: &str, server: &RealServer) -> Value {
    crate::reconcile::name_server(him, &server.base, serde_json::json!({}));
    let out = him.dtk(Some(HIM), &["--json", "export", "fhir", "--batch", batch, "--post", "EHR"]);
    assert!(out.status.success(), "dtk export fhir --post: {}{}", stdout(&out), stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("the post's report is JSON")
}

/// The EHR knows the census patients before the downtime ends: the census patients, as the EHR holds them.
fn seed_census(server: &RealServer) -> usize {
    let census: Value = serde_json::from_slice(&census_bytes()).expect("census JSON");
    let mut n = 0;
    for e in census["entry"].as_array().expect("entries") {
        let mut patient = e["resource"].clone();
        if patient["resourceType"] != "Patient" {
            continue;
        }
        patient.as_object_mut().expect("object").remove("id");
        let (code, answer) = server.post_json("Patient", &patient);
        assert_eq!(code, 201, "the EHR's census patient: {answer}");
        n += 1;
    }
    n
}

/// The search that finds one exported resource on the server: by its deterministic identifier, or (Provenance,
/// which is PUT to a deterministic id) by that id.
fn search_for(resource: &Value) -> String {
    let ty = resource["resourceType"].as_str().expect("resourceType");
    let ident = match &resource["identifier"] {
        Value::Array(ids) => ids.last().cloned(),
        Value::Object(_) => Some(resource["identifier"].clone()),
        _ => None,
    };
    match ident {
        Some(i) => format!(
            "{ty}?identifier={}|{}&_summary=count",
            i["system"].as_str().expect("system"),
            i["value"].as_str().expect("value")
        ),
        None => format!("{ty}?_id={}&_summary=count", resource["id"].as_str().expect("a PUT resource has its id")),
    }
}

/// A batch of every kind the export has: a census patient with a dose, an order, vital signs and a note; a patient
/// registered during the downtime (its registration form and a note), matched by HIM to a real MRN. Returns the HIM
/// station, the batch id, the exported bundle and how many entries it holds.
fn exported_batch(files: &Path) -> (TestVault, String, Value, usize) {
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5H-", false);
    let _dose = chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), false);
    let _order = chart(&mut a, &sample("medication-order"), false);
    let _vitals = chart(&mut a, &sample("vital-signs"), false);
    let _note = chart(&mut a, &sample("nursing-note"), false);
    let (_registration, reg_note) = chart_registration(&mut a);
    let file = export(&mut a, files, "a1.dtkh");
    him_ws.import_handoff(&him, &std::fs::read(&file).expect("file"), &SystemClock).expect("import");
    him_ws.match_patient(&him, &reg_note, "MRN-HFS-77", &SystemClock).expect("match");
    let accepted = him_ws.accept_all_matched(&him, &SystemClock).expect("accept");
    assert_eq!(accepted, 6);
    drop(him_ws);

    let out = files.join("batch.json");
    let exported = him_tv.dtk(Some(HIM), &["export", "fhir", "--out", out.to_str().expect("path")]);
    assert!(exported.status.success(), "dtk export fhir: {}", stderr(&exported));
    let batch = stdout(&exported).trim().to_string();
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).expect("bundle")).expect("bundle is JSON");
    drop(a.tv);
    (him_tv, batch, bundle, accepted)
}

#[test]
fn a_batch_posted_to_a_real_fhir_server_is_all_there_and_a_second_post_adds_nothing() {
    let files = tempfile::tempdir().expect("dir");
    let (him_tv, batch, bundle, entries) = exported_batch(files.path());
    let exported = resources(&bundle);
    let server = RealServer::start();
    let census_patients = seed_census(&server) as u64;

    // What the server will hold: every exported resource but the batch's AuditEvent (which this server takes from
    // no client: see below), and the census patients it already had.
    let (audit_events, exported): (Vec<Value>, Vec<Value>) =
        exported.into_iter().partition(|r| r["resourceType"] == "AuditEvent");
    assert_eq!(audit_events.len(), 1, "one AuditEvent per batch in the exported file");
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for r in &exported {
        *expected.entry(r["resourceType"].as_str().expect("type").to_string()).or_default() += 1;
    }
    *expected.entry("Patient".into()).or_default() += census_patients;
    let types: Vec<&str> = expected.keys().map(String::as_str).collect();
    assert!(
        ["Patient", "Encounter", "QuestionnaireResponse", "Provenance", "MedicationAdministration"]
            .iter()
            .all(|t| types.contains(t)),
        "the batch has every kind of resource: {types:?}"
    );

    let report = post(&him_tv, &batch, &server);
    assert_eq!(report["failed"], json!([]), "{report}");
    assert_eq!(report["posted"].as_array().map(Vec::len), Some(entries), "{report}");
    let after_first = server.counts(&types);
    assert_eq!(after_first, expected, "every exported resource is on the server, once");
    for r in &exported {
        let query = search_for(r);
        assert_eq!(server.get(&query)["total"], 1, "exactly one on the server: {query}");
    }

    // A second post by our command sends nothing (every entry is recorded as posted)...
    let again = post(&him_tv, &batch, &server);
    assert_eq!((again["posted"].as_array().map(Vec::len), again["already_posted"].as_u64()), (Some(0), Some(6)));
    // ...and the same transaction posted again by anyone (an answer lost on the way back, a retry by hand) creates
    // nothing either: conditional creates find what the first post created, PUTs land on the same ids. The file as
    // exported holds the batch's AuditEvent, which this server refuses from any client, failing the whole
    // transaction; its CapabilityStatement says so, and that is why our poster leaves the AuditEvent out.
    let (code, answer) = server.post_json("", &bundle);
    assert_eq!(code, 405, "helios-hfs refuses a client's AuditEvent: {answer}");
    let mut sent = bundle.clone();
    sent["entry"].as_array_mut().expect("entries").retain(|e| e["resource"]["resourceType"] != "AuditEvent");
    let (code, answer) = server.post_json("", &sent);
    assert_eq!((code, &answer["type"]), (200, &json!("transaction-response")), "{answer}");
    assert_eq!(server.counts(&types), after_first, "a second post created nothing");

    // The read-back finds every posted resource on the real server, once (the AuditEvent, which this server takes
    // from no client, is not looked for, and says so).
    let verify = him_tv.dtk(Some(HIM), &["export", "verify", "--batch", &batch]);
    let said = stdout(&verify);
    assert!(verify.status.success(), "{said}{}", stderr(&verify));
    assert!(said.contains(&format!("verified in the EHR: {entries} of {entries} entries")), "{said}");
    assert!(said.contains("the batch's AuditEvent was not posted, nor looked for"), "{said}");
}
