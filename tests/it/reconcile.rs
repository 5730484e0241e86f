//! HIM brings every downtime entry home, once (issue 7): two workstations' handoff files into one HIM vault
//! (idempotent, tamper-, truncation-, replay- and drill-proof), duplicate proposals across workstations and between
//! paper and electronic entries, a temporary MRN merged, decisions, FHIR export checked by four independent
//! validators, byte-identical re-export, and posting twice to a FHIR server on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dtk::api::{Session, WorklistQuery, Workstation};
use dtk::clock::SystemClock;
use dtk::episodes::{Declaration, Kind};
use dtk::reconcile::State;
use serde_json::{json, Value};

use crate::support::*;

const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";
const TEMP_SYSTEM: &str = "http://hospital.example.org/downtime-mrn";

fn sample(name: &str) -> Value {
    let bytes = std::fs::read(repo_root().join(format!("tests/data/forms/responses/{name}.json"))).expect("sample");
    dtk::forms::parse_response(&bytes).expect("sample parses")
}

fn set_answer(r: &mut Value, link: &str, answer: Value) {
    edit_item(r, link, |it| it["answer"] = json!([answer]));
}

/// A workstation of 5 East with its own temporary MRN block, the HIM key in its site configuration, the census
/// imported and an episode open. Returns the vault, a charge nurse session and a nurse session.
struct Unit {
    tv: TestVault,
    ws: Workstation,
    charge: Session,
    nurse: Session,
}

fn workstation(him_key: &str, prefix: &str, drill: bool) -> Unit {
    let tv = TestVault::new();
    let site = json!({
        "him_public_key": him_key,
        "temp_mrn_block": { "prefix": prefix, "first": 1, "last": 999 },
    });
    std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site.json");
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &dtk::crypto::Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    let nurse = ws.sign_in(NURSE.0, &dtk::crypto::Password::new(NURSE.1.into()), &SystemClock).expect("nurse");
    let census = std::fs::read(repo_root().join("tests/data/census-5-east.json")).expect("census");
    ws.import_census(&charge, &census, &SystemClock).expect("census import");
    let kind = if drill { Kind::Drill } else { Kind::Real };
    ws.start_episode(
        &charge,
        kind,
        Declaration { reason: Some("EHR outage".into()), ..Default::default() },
        &SystemClock,
    )
    .expect("episode");
    Unit { tv, ws, charge, nurse }
}

fn chart(u: &mut Unit, response: &Value, confirm: bool) -> String {
    let opts = dtk::api::EntryOptions {
        sign: true,
        allergy_override: Some("benefit outweighs risk, prescriber informed".into()),
        confirm_not_duplicate: confirm,
        reason: None,
    };
    u.ws.add_entry(&u.nurse, response, &opts, &SystemClock)
        .unwrap_or_else(|e| panic!("charting failed: {e:?}"))
        .saved
        .id
}

fn med_admin(at: &str) -> Value {
    let mut r = sample("medication-administration");
    set_answer(&mut r, "time-given", json!({ "valueDateTime": at }));
    r
}

fn export(u: &mut Unit, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    u.ws.export_handoff(&u.charge, &out, None, &SystemClock).expect("handoff export");
    out
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fhir_server() -> Server {
    let dir = repo_root().join("tools/fhir-server");
    assert!(
        dir.join("node_modules/@medplum/fhir-router").is_dir(),
        "the loopback FHIR server is not installed: run `npm ci --prefix tools/fhir-server`"
    );
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("server says where it listens");
    let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("server said {line:?}")).to_string();
    Server { child, base: format!("http://127.0.0.1:{port}") }
}

fn http(method: &str, url: &str, body: Option<&Value>) -> Value {
    let req = ureq::request(method, url).set("Content-Type", "application/fhir+json");
    let resp = match body {
        Some(b) => req.send_string(&b.to_string()),
        None => req.call(),
    };
    match resp {
        Ok(r) => r.into_json().expect("json"),
        Err(ureq::Error::Status(_, r)) => r.into_json().expect("json"),
        Err(e) => panic!("http: {e}"),
    }
}

fn counts(server: &Server) -> Value {
    http("GET", &format!("{}/$stats", server.base), None)["counts"].clone()
}

fn summary_of(ws: &Workstation, him: &Session) -> dtk::reconcile::Summary {
    ws.reconcile_summary(him).expect("summary")
}

fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().expect("entries").iter().map(|e| e["resource"].clone()).collect()
}

#[test]
fn him_brings_every_downtime_entry_home_once() {
    let files = tempfile::tempdir().expect("dir");
    // The HIM station: its key, and the census (for paper back-entry of census patients).
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    assert!(key.created);
    assert!(!him_ws.handoff_keygen(&him, &SystemClock).expect("again").created, "the key is never replaced");
    {
        let (mut ws, admin) = him_tv.sign_in(ADMIN);
        let census = std::fs::read(repo_root().join("tests/data/census-5-east.json")).expect("census");
        ws.import_census(&admin, &census, &SystemClock).expect("HIM census");
    }

    // Workstation A: a dose, vitals, and a downtime registration with a note about that patient.
    let mut a = workstation(&key.public_key, "T5A-", false);
    let dose_a = chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), false);
    let _vitals = chart(&mut a, &sample("vital-signs"), false);
    let reg = dtk::patients::Registration {
        family: "Okonkwo-Lindqvist".into(),
        given: vec!["Amara".into()],
        birth_date: Some("1984-03-09".into()),
        gender: Some("female".into()),
        location: Some("ED Bay 4".into()),
    };
    let temp = a.ws.register_patient(&a.nurse, &reg, &SystemClock).expect("register");
    let mut registration = sample("downtime-registration");
    registration["subject"] = json!({ "identifier": { "system": TEMP_SYSTEM, "value": temp.record.mrn } });
    set_answer(&mut registration, "temp-mrn", json!({ "valueString": temp.record.mrn }));
    let reg_entry = chart(&mut a, &registration, false);
    let mut note = sample("nursing-note");
    note["subject"] = json!({ "identifier": { "system": TEMP_SYSTEM, "value": temp.record.mrn } });
    let note_entry = chart(&mut a, &note, false);
    let a1 = export(&mut a, files.path(), "a1.dtkh");
    // More charting after the first handoff: the second file overlaps the first.
    let late = chart(&mut a, &med_admin("2026-11-21T14:00:00-05:00"), true);
    let a2 = export(&mut a, files.path(), "a2.dtkh");

    // Workstation B: the same dose charted again five minutes later (a cross-workstation duplicate).
    let mut b = workstation(&key.public_key, "T5B-", false);
    let dose_b = chart(&mut b, &med_admin("2026-11-21T10:20:00-05:00"), false);
    let b1 = export(&mut b, files.path(), "b1.dtkh");

    // A drill workstation never hands off.
    let mut d = workstation(&key.public_key, "T5D-", true);
    let _drill_dose = chart(&mut d, &med_admin("2026-11-21T10:15:00-05:00"), false);
    let err = d.ws.export_handoff(&d.charge, &files.path().join("drill.dtkh"), None, &SystemClock).expect_err("drill");
    assert!(err.message.contains("DRILL"), "{}", err.message);

    // Import each file twice: counts are exact.
    let read = |p: &Path| std::fs::read(p).expect("file");
    let r = him_ws.import_handoff(&him, &read(&a1), &SystemClock).expect("a1");
    assert_eq!((r.new_entries, r.new_versions, r.pending, r.already_imported), (4, 4, 2, false));
    assert!(r.new_audit_rows > 10);
    let again = him_ws.import_handoff(&him, &read(&a1), &SystemClock).expect("a1 again");
    assert!(again.already_imported);
    assert_eq!((again.new_entries, again.new_versions), (0, 0));
    let r = him_ws.import_handoff(&him, &read(&a2), &SystemClock).expect("a2");
    assert_eq!((r.new_entries, r.new_versions, r.unchanged_versions), (1, 1, 4), "only the late dose is new");
    assert!(him_ws.import_handoff(&him, &read(&a2), &SystemClock).expect("a2 again").already_imported);
    let r = him_ws.import_handoff(&him, &read(&b1), &SystemClock).expect("b1");
    assert_eq!((r.new_entries, r.duplicate_proposals), (1, 1), "B's dose is proposed as a duplicate of A's");
    assert!(him_ws.import_handoff(&him, &read(&b1), &SystemClock).expect("b1 again").already_imported);
    let s = summary_of(&him_ws, &him);
    assert_eq!(s.total, 6);
    assert_eq!((s.by_state["pending"], s.by_state["matched"]), (2, 4));

    // Refused files change nothing, each with its reason.
    let replay = him_ws.import_handoff(&him, &read(&a1), &SystemClock);
    assert!(replay.is_ok(), "the same file again is recognised, not refused");
    let stale = {
        let mut bytes = read(&a1);
        // A file older than one already imported, with different content, is a replay.
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        bytes
    };
    let tampered = him_ws.import_handoff(&him, &stale, &SystemClock).expect_err("tampered");
    assert!(tampered.message.contains("changed after the workstation signed it"), "{}", tampered.message);
    let bytes = read(&a2);
    let truncated = him_ws.import_handoff(&him, &bytes[..bytes.len() - 100], &SystemClock).expect_err("truncated");
    assert!(truncated.message.contains("truncated"), "{}", truncated.message);
    assert!(him_ws
        .import_handoff(&him, b"PK\x03\x04zip", &SystemClock)
        .expect_err("other")
        .message
        .contains("not a Downtime Kit handoff file"));
    let other_him = TestVault::new();
    let (mut other_ws, other) = other_him.sign_in(HIM);
    other_ws.handoff_keygen(&other, &SystemClock).expect("other key");
    let wrong = other_ws.import_handoff(&other, &read(&a1), &SystemClock).expect_err("wrong recipient");
    assert!(wrong.message.contains("encrypted for another HIM key"), "{}", wrong.message);
    // A crafted drill file, correctly signed and encrypted, is still refused.
    let drill_payload = dtk::handoff::Payload {
        workstation: uuid::Uuid::new_v4().to_string(),
        episode: dtk::handoff::EpisodeRecord {
            id: uuid::Uuid::new_v4().to_string(),
            unit: "5 East".into(),
            kind: Kind::Drill,
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
    };
    let recipient = dtk::handoff::parse_public_key(&key.public_key).expect("key");
    let drill_file = dtk::handoff::seal(
        &drill_payload,
        1,
        "2026-11-21T12:00:00.000Z",
        &[7; 32],
        &recipient,
        &mut dtk::crypto::OsRandom,
    )
    .expect("seal");
    let drill = him_ws.import_handoff(&him, &drill_file, &SystemClock).expect_err("drill refused");
    assert!(drill.message.contains("DRILL"), "{}", drill.message);
    assert_eq!(summary_of(&him_ws, &him).total, 6, "refused files added nothing");

    // Paper back-entry: the same dose on a scanned paper form (QR payload), transcribed by HIM.
    let episode_a = a.ws.current_episode(&a.charge).expect("ep").expect("open").id;
    let payload = dtk::paper::Payload {
        form: "http://downtimekit.example.org/fhir/Questionnaire/medication-administration|1.0.0".into(),
        mrn_system: Some(MRN_SYSTEM.into()),
        mrn: Some("DEV2001".into()),
        episode: Some(episode_a.clone()),
        ..Default::default()
    };
    let paper = him_ws
        .back_enter_paper(
            &him,
            &payload,
            &med_admin("2026-11-21T10:25:00-05:00"),
            "Łukasz Müller-Øster, RN",
            &SystemClock,
        )
        .expect("paper back-entry")
        .saved
        .id;
    let proposals = him_ws.duplicate_proposals(&him, true).expect("proposals");
    let pairs: Vec<(String, String)> = proposals.iter().map(|p| (p.entry_id.clone(), p.other_id.clone())).collect();
    let pair = |x: &str, y: &str| if x < y { (x.to_string(), y.to_string()) } else { (y.to_string(), x.to_string()) };
    assert!(pairs.contains(&pair(&dose_a, &dose_b)), "cross-workstation pair proposed: {pairs:?}");
    assert!(pairs.contains(&pair(&dose_a, &paper)), "paper/electronic pair proposed: {pairs:?}");
    let view = him_ws.side_by_side(&him, &dose_a, &dose_b, &SystemClock).expect("side by side");
    assert_eq!(view.differences, vec!["time-given".to_string()], "only the time differs");
    assert_ne!(view.left.workstation, view.right.workstation);

    // Accepting an entry with an open proposal is refused; decisions resolve them.
    let refused = him_ws.accept(&him, std::slice::from_ref(&dose_a), &SystemClock).expect_err("open proposal");
    assert!(refused.message.contains("proposed duplicate"), "{}", refused.message);
    him_ws.mark_duplicate(&him, &dose_b, &dose_a, &SystemClock).expect("duplicate");
    him_ws.mark_duplicate(&him, &paper, &dose_a, &SystemClock).expect("paper duplicate");
    let leftover: Vec<_> = him_ws.duplicate_proposals(&him, true).expect("open");
    for p in leftover {
        him_ws
            .dismiss_duplicate(&him, &p.entry_id, &p.other_id, "different administrations", &SystemClock)
            .expect("dismiss");
    }

    // The temporary MRN is merged to the real one: both of that patient's entries follow.
    let matched = him_ws.match_patient(&him, &note_entry, "MRN-REAL-77", &SystemClock).expect("match");
    assert_eq!(matched.len(), 2);
    assert!(matched.contains(&reg_entry));
    let page = him_ws
        .worklist(&him, &WorklistQuery { mrn: Some("MRN-REAL-77".into()), limit: 10, ..Default::default() })
        .expect("by real MRN");
    assert_eq!(page.total, 2);
    assert!(page.items.iter().all(|i| i.state == State::Matched && i.matched_mrn.as_deref() == Some("MRN-REAL-77")));

    // Bulk accept; a reject with its reason; counts per state.
    let n = him_ws.accept_all_matched(&him, &SystemClock).expect("bulk accept");
    assert_eq!(n, 5, "dose A, vitals, registration, note, late dose");
    him_ws.reject(&him, &late, "charted on the wrong patient per unit manager", &SystemClock).expect("reject");
    let s = summary_of(&him_ws, &him);
    assert_eq!(s.open_duplicate_proposals, 0);

    // FHIR export: one batch, every validator agrees, every reference resolves.
    let out = files.path().join("batch.json");
    let batch = him_ws.export_fhir(&him, &out, &SystemClock).expect("export");
    assert_eq!(batch.entries, 4);
    let text = std::fs::read(&out).expect("bundle");
    assert_eq!(dtk::crypto::sha256_hex(&text), batch.sha256);
    let bundle: Value = serde_json::from_slice(&text).expect("bundle is JSON");
    assert_eq!(dtk::fhir::check_bundle(&bundle), Vec::<String>::new());
    let mut all = resources(&bundle);
    all.push(bundle.clone());
    assert_eq!(schema_errors(&all), Vec::<String>::new());
    let (ok, report) = medplum_errors(&all);
    assert!(ok, "Medplum: {report}");
    let (ok, report) = fhir_resources_errors(&all);
    assert!(ok, "fhir.resources: {report}");
    // The registration's Patient comes first and is found by its real MRN if the EHR has it.
    assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "Patient");
    assert_eq!(bundle["entry"][0]["request"]["ifNoneExist"], format!("identifier={MRN_SYSTEM}|MRN-REAL-77"));
    expect_test::expect_file!["../data/fhir/export-snapshot.json"]
        .assert_eq(&(serde_json::to_string_pretty(&dtk::fhir::normalise(&bundle)).expect("pretty") + "\n"));

    // Exported entries are locked; re-export of the batch is byte-identical.
    let locked = him_ws.reject(&him, &dose_a, "second thoughts", &SystemClock).expect_err("locked");
    assert!(locked.message.contains("locked"), "{}", locked.message);
    let again = files.path().join("again.json");
    let re = him_ws.regenerate_fhir(&him, &batch.batch_id, &again).expect("regenerate");
    assert_eq!(re.sha256, batch.sha256);
    assert_eq!(std::fs::read(&again).expect("again"), text);
    assert!(him_ws.export_fhir(&him, &files.path().join("none.json"), &SystemClock).is_err(), "nothing left to export");

    // Posting: the census patient must exist in the EHR; without it the server refuses and the entries are failed.
    let server = fhir_server();
    let first = him_ws.post_fhir(&him, &batch.batch_id, &server.base, &SystemClock).expect("post");
    assert_eq!(first.posted.len(), 0);
    assert_eq!(first.failed.len(), 4);
    assert!(first.failed[0].1.contains("conditional reference"), "{:?}", first.failed);
    http(
        "POST",
        &format!("{}/Patient", server.base),
        Some(&json!({
            "resourceType": "Patient", "identifier": [{ "system": MRN_SYSTEM, "value": "DEV2001" }]
        })),
    );
    let retry = him_ws.post_fhir(&him, &batch.batch_id, &server.base, &SystemClock).expect("retry");
    assert_eq!((retry.posted.len(), retry.failed.len()), (4, 0), "{:?}", retry.failed);
    assert!(retry.posted.iter().all(|(_, loc)| loc.starts_with("QuestionnaireResponse/")));
    let after_first = counts(&server);
    assert_eq!(after_first["QuestionnaireResponse"], 4);
    assert_eq!(after_first["Provenance"], 4);
    assert_eq!(after_first["AuditEvent"], 1);
    assert_eq!(after_first["Patient"], 2, "the census patient and the registered one");
    // Posting the same bundle again creates nothing new (ifNoneExist and PUT to deterministic ids).
    let resp = http("POST", &format!("{}/", server.base), Some(&bundle));
    assert_eq!(resp["type"], "transaction-response", "{resp}");
    assert_eq!(counts(&server), after_first);
    let nothing = him_ws.post_fhir(&him, &batch.batch_id, &server.base, &SystemClock).expect("nothing to post");
    assert_eq!((nothing.posted.len(), nothing.already_posted), (0, 4));
    let s = summary_of(&him_ws, &him);
    assert_eq!((s.by_state["posted"], s.by_state["duplicate"], s.by_state["rejected"]), (4, 2, 1));
    assert_eq!(s.open, 0, "every entry has a disposition");

    // The report: counts, dispositions with reasons, batch hash; CSV for the spreadsheet.
    let report = him_ws.reconciliation_report(&him, &SystemClock).expect("report");
    assert_eq!(report.batches[0].sha256, batch.sha256);
    assert_eq!(report.batches[0].posted, 4);
    assert_eq!(report.dispositions.len(), 3);
    assert!(report
        .dispositions
        .iter()
        .any(|d| d.reason.as_deref() == Some("charted on the wrong patient per unit manager")));
    assert_eq!(report.files.len(), 3);
    let csv = report.to_csv();
    assert!(csv.contains(&batch.sha256) && csv.contains("duplicate"), "{csv}");

    // The HIM vault still verifies, imported rows included.
    let problems = him_ws.verify(&him).expect("verify");
    assert_eq!(problems, vec![]);
    drop((a.tv, b.tv, d.tv));
}

#[test]
fn drill_entries_never_leave_through_the_command_line_and_exports_are_him_only() {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": "11".repeat(32) }).to_string())
        .expect("site");
    let start = tv.dtk(Some(CHARGE), &["episode", "start", "--drill"]);
    assert!(start.status.success(), "{}", stderr(&start));
    let out = tv.path().join("drill.dtkh");
    let export = tv.dtk(Some(CHARGE), &["handoff", "export", "--out", out.to_str().expect("path")]);
    assert_eq!(export.status.code(), Some(1), "{}", stderr(&export));
    assert!(stderr(&export).contains("DRILL"), "{}", stderr(&export));
    assert!(!out.exists(), "no file is written for a drill");
    let fhir = tv.dtk(Some(NURSE), &["export", "fhir", "--out", tv.path().join("x.json").to_str().expect("path")]);
    assert_eq!(fhir.status.code(), Some(1));
    assert!(stderr(&fhir).contains("export FHIR"), "{}", stderr(&fhir));
    let list = tv.dtk(Some(HIM), &["reconcile", "list", "--status", "pending", "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let page: Value = serde_json::from_str(&stdout(&list)).expect("json");
    assert_eq!(page["total"], 0);
}

#[test]
fn the_reference_checker_can_fail() {
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            { "fullUrl": "urn:uuid:7d1f1b7e-1111-4a1a-9a1a-111111111111",
              "resource": { "resourceType": "Observation", "status": "final", "code": { "text": "x" },
                            "subject": { "reference": "urn:uuid:7d1f1b7e-2222-4a1a-9a1a-222222222222" },
                            "encounter": { "reference": "Encounter/123" } },
              "request": { "method": "POST", "url": "Observation" } }
        ]
    });
    let problems = dtk::fhir::check_bundle(&bundle);
    for expected in [
        "no earlier entry defines",
        "literal reference",
        "POST without ifNoneExist",
        "no Provenance targets",
        "0 AuditEvent",
    ] {
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected} not in {problems:#?}");
    }
    let (ok, text) = fhir_resources_errors(&[
        json!({ "resourceType": "Observation", "status": "final", "code": { "text": "x" }, "valueQuantity": { "value": "ten" } }),
    ]);
    assert!(!ok && text.contains("valueQuantity"), "{text}");
}
