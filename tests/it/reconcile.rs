//! HIM brings every downtime entry home, once (issue 7): two workstations' handoff files into one HIM vault
//! (idempotent, tamper-, truncation-, replay- and drill-proof), duplicate proposals across workstations and between
//! paper and electronic entries, a temporary MRN merged, decisions, FHIR export checked by four independent
//! validators, byte-identical re-export, and posting twice to a FHIR server on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dtk::api::{BlankFor, Credentials, PostOptions, Session, WorklistQuery, Workstation};
use dtk::clock::SystemClock;
use dtk::episodes::{Declaration, Kind};
use dtk::reconcile::State;
use serde_json::{json, Value};

use crate::support::*;

const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";
const TEMP_SYSTEM: &str = "http://hospital.example.org/downtime-mrn";

pub(crate) fn sample(name: &str) -> Value {
    let bytes = std::fs::read(repo_root().join(format!("tests/data/forms/responses/{name}.json"))).expect("sample");
    dtk::forms::parse_response(&bytes).expect("sample parses")
}

pub(crate) fn set_answer(r: &mut Value, link: &str, answer: Value) {
    edit_item(r, link, |it| it["answer"] = json!([answer]));
}

/// A workstation of 5 East with its own temporary MRN block, the HIM key in its site configuration, the census
/// imported and an episode open. Returns the vault, a charge nurse session and a nurse session.
pub(crate) struct Unit {
    pub(crate) tv: TestVault,
    pub(crate) ws: Workstation,
    pub(crate) charge: Session,
    pub(crate) nurse: Session,
}

pub(crate) fn workstation(him_key: &str, prefix: &str, drill: bool) -> Unit {
    workstation_with(him_key, prefix, drill, json!({}))
}

/// [`workstation`] with more settings in its site configuration (`extra`'s keys are added to it).
pub(crate) fn workstation_with(him_key: &str, prefix: &str, drill: bool, extra: Value) -> Unit {
    let tv = TestVault::new();
    let mut site = json!({
        "him_public_key": him_key,
        "temp_mrn_block": { "prefix": prefix, "first": 1, "last": 999 },
    });
    if let (Some(site), Some(extra)) = (site.as_object_mut(), extra.as_object()) {
        site.extend(extra.clone());
    }
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

pub(crate) fn chart(u: &mut Unit, response: &Value, confirm: bool) -> String {
    let opts = dtk::api::EntryOptions {
        sign: true,
        allergy_override: Some("benefit outweighs risk, prescriber informed".into()),
        confirm_not_duplicate: confirm,
        reason: None,
        clinical_time: None,
    };
    u.ws.add_entry(&u.nurse, response, &opts, &SystemClock)
        .unwrap_or_else(|e| panic!("charting failed: {e:?}"))
        .saved
        .id
}

/// A patient registered during the downtime (a temporary MRN): the registration form and a nursing note about them.
/// Returns the two entries (registration, note).
pub(crate) fn chart_registration(u: &mut Unit) -> (String, String) {
    let reg = dtk::patients::Registration {
        family: "Okonkwo-Lindqvist".into(),
        given: vec!["Amara".into()],
        birth_date: Some("1984-03-09".into()),
        gender: Some("female".into()),
        location: Some("ED Bay 4".into()),
    };
    let temp = u.ws.register_patient(&u.nurse, &reg, &SystemClock).expect("register");
    let mut registration = sample("downtime-registration");
    registration["subject"] = json!({ "identifier": { "system": TEMP_SYSTEM, "value": temp.record.mrn } });
    set_answer(&mut registration, "temp-mrn", json!({ "valueString": temp.record.mrn }));
    let reg_entry = chart(u, &registration, false);
    let mut note = sample("nursing-note");
    note["subject"] = json!({ "identifier": { "system": TEMP_SYSTEM, "value": temp.record.mrn } });
    (reg_entry, chart(u, &note, false))
}

pub(crate) fn med_admin(at: &str) -> Value {
    let mut r = sample("medication-administration");
    set_answer(&mut r, "time-given", json!({ "valueDateTime": at }));
    r
}

pub(crate) fn export(u: &mut Unit, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    u.ws.export_handoff(&u.charge, &out, None, false, &SystemClock).expect("handoff export");
    out
}

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn fhir_server() -> Server {
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

pub(crate) fn http(method: &str, url: &str, body: Option<&Value>) -> Value {
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

/// The HIM station opened again with a site.json that lists `base` as the FHIR server "EHR": posting takes a server
/// of the site's allowlist by name, never a URL.
pub(crate) fn him_posting_to(tv: &TestVault, base: &str, extra: Value) -> (Workstation, Session) {
    name_server(tv, base, extra);
    tv.sign_in(HIM)
}

/// Writes the HIM station's site.json listing `base` as the FHIR server "EHR" (and `extra` settings).
pub(crate) fn name_server(tv: &TestVault, base: &str, extra: Value) {
    let mut site = json!({ "fhir_servers": [{ "name": "EHR", "base_url": base }] });
    if let (Some(site), Some(extra)) = (site.as_object_mut(), extra.as_object()) {
        site.extend(extra.clone());
    }
    std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site.json");
}

pub(crate) fn counts(server: &Server) -> Value {
    http("GET", &format!("{}/$stats", server.base), None)["counts"].clone()
}

fn summary_of(ws: &Workstation, him: &Session) -> dtk::reconcile::Summary {
    ws.reconcile_summary(him).expect("summary")
}

pub(crate) fn resources(bundle: &Value) -> Vec<Value> {
    bundle["entry"].as_array().expect("entries").iter().map(|e| e["resource"].clone()).collect()
}

/// What a workstation would never write: a handoff payload of a DRILL episode (to check that HIM refuses it anyway).
fn drill_payload() -> dtk::handoff::Payload {
    dtk::handoff::Payload {
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
        events: vec![],
        unsigned: None,
    }
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
    let (reg_entry, note_entry) = chart_registration(&mut a);
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
    let err =
        d.ws.export_handoff(&d.charge, &files.path().join("drill.dtkh"), None, false, &SystemClock).expect_err("drill");
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
    let drill_payload = drill_payload();
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

    // Paper back-entry: the same dose on a paper form printed on workstation A for the patient, scanned (rendered
    // to a 150 dpi PNG by pdftoppm), its QR code decoded, and transcribed by HIM.
    let episode_a = a.ws.current_episode(&a.charge).expect("ep").expect("open").id;
    let printed = a
        .ws
        .print_blank(&a.nurse, "medication-administration", BlankFor::Patient("DEV2001"), &SystemClock, &mut |_| {})
        .expect("print the paper form");
    let pdf = files.path().join("paper-form.pdf");
    std::fs::write(&pdf, &printed.bytes).expect("pdf");
    let scan = scan_page(&pdf, 1, files.path());
    let read = dtk::print::read::read_file(&scan, 1).expect("the scan's QR code decodes");
    assert_eq!((read.episode.as_deref(), read.mrn.as_deref()), (Some(episode_a.as_str()), Some("DEV2001")));
    let paper = him_ws
        .back_enter_scan(
            &him,
            &scan,
            1,
            &med_admin("2026-11-21T10:25:00-05:00"),
            "Łukasz Müller-Øster, RN",
            &SystemClock,
        )
        .expect("paper back-entry from the scan")
        .saved
        .id;
    let card = dtk::reconcile::card(him_ws.vault().expect("vault").conn(), him.keys(), &paper)
        .expect("card")
        .expect("the paper entry is on the worklist");
    assert_eq!(card.origin, dtk::entries::Origin::Paper);
    assert_eq!((card.patient.mrn.as_str(), card.author.as_str()), ("DEV2001", "Łukasz Müller-Øster, RN"));
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
    // Registrations go first, in transactions of their own, and are answered before anything else is sent.
    let server = fhir_server();
    drop(him_ws);
    let (mut him_ws, him) = him_posting_to(&him_tv, &server.base, json!({}));
    let first = him_ws.post_fhir(&him, &batch.batch_id, "EHR", Credentials::None, &SystemClock).expect("post");
    assert_eq!((first.posted.len(), first.failed.len()), (1, 3), "{:?}", first.failed);
    assert_eq!(first.posted[0].0, reg_entry, "the registration is posted first");
    assert!(first.failed[0].1.contains("conditional reference"), "{:?}", first.failed);
    http(
        "POST",
        &format!("{}/Patient", server.base),
        Some(&json!({
            "resourceType": "Patient", "identifier": [{ "system": MRN_SYSTEM, "value": "DEV2001" }]
        })),
    );
    // The retry is split into one transaction per entry and sends only the three refused.
    let one_by_one = PostOptions { per_transaction: 1, in_flight: 1 };
    let retry = him_ws
        .post_fhir_with(&him, &batch.batch_id, "EHR", Credentials::None, one_by_one, &mut |_| (), &SystemClock)
        .expect("retry");
    assert_eq!((retry.posted.len(), retry.failed.len(), retry.already_posted), (3, 0, 1), "{:?}", retry.failed);
    assert_eq!(retry.transactions, 3);
    assert!(retry.posted.iter().chain(&first.posted).all(|(_, loc)| loc.starts_with("QuestionnaireResponse/")));
    let after_first = counts(&server);
    assert_eq!(after_first["QuestionnaireResponse"], 4);
    assert_eq!(after_first["Provenance"], 4);
    assert_eq!(after_first["AuditEvent"], 1);
    assert_eq!(after_first["Patient"], 2, "the census patient and the registered one");
    // Posting the same bundle again creates nothing new (ifNoneExist and PUT to deterministic ids).
    let resp = http("POST", &format!("{}/", server.base), Some(&bundle));
    assert_eq!(resp["type"], "transaction-response", "{resp}");
    assert_eq!(counts(&server), after_first);
    let nothing =
        him_ws.post_fhir(&him, &batch.batch_id, "EHR", Credentials::None, &SystemClock).expect("nothing to post");
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
    let end = tv.dtk(Some(CHARGE), &["episode", "end"]);
    assert!(end.status.success(), "{}", stderr(&end));
    let report = tv.path().join("drill-report.pdf");
    let made = tv.dtk(Some(CHARGE), &["episode", "drill-report", "--out", report.to_str().expect("path")]);
    assert!(made.status.success(), "{}", stderr(&made));
    let pages = pages_text(&report);
    assert!(!pages.is_empty() && pages.iter().all(|p| p.contains("DRILL")), "{pages:?}");
    let nurse = tv.dtk(Some(NURSE), &["episode", "drill-report", "--out", report.to_str().expect("path")]);
    assert_eq!(nurse.status.code(), Some(1), "the drill report is the charge nurse's: {}", stderr(&nurse));
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

/// A real episode scripted with an injected clock, from declaration through handoff, reconciliation and export:
/// the handoff file carries the episode's events (imported once), and the reconciliation report's timeline (data,
/// CSV and PDF) has exactly the script's times.
#[test]
fn reconciliation_report_has_the_scripted_episode_timeline() {
    use dtk::clock::FixedClock;
    use dtk::crypto::Password;
    use dtk::procedures::Severity;
    use time::Duration;

    let files = tempfile::tempdir().expect("dir");
    let clock = FixedClock::new(time::macros::datetime!(2026-11-21 17:00 UTC));
    let him_tv = TestVault::new();
    let mut him_ws = him_tv.open();
    let him = him_ws.sign_in(HIM.0, &Password::new(HIM.1.into()), &clock).expect("him");
    let key = him_ws.handoff_keygen(&him, &clock).expect("keygen");

    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": key.public_key }).to_string()).expect("site");
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).expect("nurse");
    ws.import_census(&charge, &census_bytes(), &clock).expect("census");
    let declaration = Declaration {
        reason: Some("EHR outage".into()),
        severity: Some(Severity::P2),
        affected: vec!["EHR".into(), "lab results".into()],
        impact: Some("Results by phone.".into()),
        next_update_due: Some("2026-11-21T17:30:00.000Z".into()),
        began_at: None,
    };
    ws.start_episode(&charge, Kind::Real, declaration, &clock).expect("declared at 17:00");
    let opts = dtk::api::EntryOptions {
        sign: true,
        allergy_override: Some("prescriber informed".into()),
        confirm_not_duplicate: true,
        reason: None,
        clinical_time: None,
    };
    clock.advance(Duration::minutes(10));
    ws.tick_step(&charge, "confirm-scope", None, &clock).expect("tick at 17:10");
    clock.advance(Duration::minutes(5));
    ws.add_entry(&nurse, &sample("vital-signs"), &opts, &clock).expect("first entry at 17:15");
    clock.advance(Duration::minutes(5));
    ws.change_severity(&charge, Severity::P1, Some("pharmacy down too".into()), &clock).expect("escalated at 17:20");
    clock.advance(Duration::minutes(10));
    let dose = ws.add_entry(&nurse, &med_admin("2026-11-21T12:25:00-05:00"), &opts, &clock).expect("17:30").saved.id;
    clock.advance(Duration::minutes(10));
    ws.save_status_update(&charge, "Update: pharmacy runner assigned.", Some(60), &clock).expect("update at 17:40");
    clock.advance(Duration::minutes(5));
    ws.add_entry(&charge, &sample("nursing-note"), &opts, &clock).expect("entry at 17:45");
    clock.advance(Duration::minutes(75));
    ws.end_episode(&charge, &clock).expect("recovery at 19:00");
    clock.advance(Duration::minutes(30));
    let file = files.path().join("ws.dtkh");
    ws.export_handoff(&charge, &file, None, false, &clock).expect("handoff at 19:30");

    clock.advance(Duration::minutes(30));
    let bytes = std::fs::read(&file).expect("file");
    let r = him_ws.import_handoff(&him, &bytes, &clock).expect("import at 20:00");
    assert_eq!((r.new_entries, r.new_events), (3, 3), "the tick, the escalation and the update came along");
    let again = him_ws.import_handoff(&him, &bytes, &clock).expect("again");
    assert!(again.already_imported && again.new_events == 0);
    clock.advance(Duration::minutes(10));
    him_ws.reject(&him, &dose, "charted on the wrong patient per unit manager", &clock).expect("reject at 20:10");
    let open = him_ws.reconciliation_report(&him, &clock).expect("report");
    let t = open.episodes[0].timeline.clone().expect("timeline");
    assert_eq!(t.reconciled_at, None, "two entries are still open");
    clock.advance(Duration::minutes(10));
    assert_eq!(him_ws.accept_all_matched(&him, &clock).expect("accept"), 2);
    let batch = him_ws.export_fhir(&him, &files.path().join("batch.json"), &clock).expect("export at 20:20");

    clock.advance(Duration::minutes(10));
    let (report, pdf) = him_ws.reconciliation_report_pdf(&him, &clock).expect("report at 20:30");
    let t = report.episodes[0].timeline.clone().expect("the HIM station has the episode's timeline");
    assert_eq!(t.declared_at, "2026-11-21T17:00:00.000Z");
    assert_eq!(t.declared_severity, Some(Severity::P2));
    assert_eq!(t.escalations, vec![("2026-11-21T17:20:00.000Z".to_string(), Severity::P1)]);
    assert_eq!((t.first_entry_at.as_deref(), t.minutes_to_first_entry), (Some("2026-11-21T17:15:00.000Z"), Some(15)));
    assert_eq!((t.entries, t.entries_per_hour), (3, Some(1.5)));
    assert_eq!((t.ended_at.as_deref(), t.minutes_to_recovery), (Some("2026-11-21T19:00:00.000Z"), Some(120)));
    assert_eq!((t.handoff_at.as_deref(), t.minutes_recovery_to_handoff), (Some("2026-11-21T19:30:00.000Z"), Some(30)));
    assert_eq!(
        (t.reconciled_at.as_deref(), t.minutes_recovery_to_reconciled),
        (Some("2026-11-21T20:20:00.000Z"), Some(80))
    );
    assert_eq!(
        t.missed_updates,
        vec!["2026-11-21T17:30:00.000Z".to_string(), "2026-11-21T18:40:00.000Z".to_string()],
        "the 17:30 update came at 17:40; the one due at 18:40 never came before recovery at 19:00"
    );
    assert_eq!(
        t.steps.iter().find(|s| s.step.id == "confirm-scope").and_then(|s| s.done_at.as_deref()),
        Some("2026-11-21T17:10:00.000Z")
    );
    let csv = report.to_csv();
    assert!(csv.contains("episode timelines") && csv.contains("2026-11-21T20:20:00.000Z,80"), "{csv}");

    let out = match std::env::var_os("DTK_KEEP_REPORTS") {
        Some(dir) => std::path::PathBuf::from(dir).join("reconciliation-report.pdf"),
        None => files.path().join("report.pdf"),
    };
    std::fs::write(&out, &pdf.bytes).expect("pdf");
    let pages = pages_text(&out);
    assert_eq!(pages.len(), pdf.pages);
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains(&format!("Page {} of {}", i + 1, pages.len())), "page {i}: {page}");
        assert!(page.contains("Reconciliation report") && !page.contains("DRILL"), "page {i}: {page}");
    }
    let text = pages.join(" ");
    // Ids longer than their column wrap at a hyphen, which pdftotext joins without it.
    let unhyphenated = text.replace('-', "");
    assert!(unhyphenated.contains(&dose.replace('-', "")), "the rejected entry is listed:\n{text}");
    for expect in [
        "2026-11-21 17:00 UTC",
        "P2 (workflow disrupted; a workaround is available)",
        "2026-11-21 17:20 UTC → P1",
        "2026-11-21 17:15 UTC (15 min after declaration)",
        "2026-11-21 19:00 UTC (time to recovery 2 h 00 min)",
        "2026-11-21 19:30 UTC (30 min after recovery)",
        "2026-11-21 20:20 UTC (1 h 20 min after recovery)",
        "charted on the wrong patient per unit manager",
        &batch.sha256[..16],
        "needs correction",
        "nursing-note",
    ] {
        assert!(text.contains(expect), "'{expect}' not in the report:\n{text}");
    }
    for name in ["Garcia", "Elena", "DEV2001"] {
        assert!(!text.contains(name), "the report names no patient ({name})");
    }
}

/// Drill entries never leave through any command: the workstation writes no handoff file, the HIM station refuses a
/// crafted drill file, and paper from a drill (by QR text or by scan) is not back-entered.
#[test]
fn drill_paper_and_files_are_refused_by_every_him_command() {
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    let keygen = him_tv.dtk(Some(HIM), &["--json", "handoff", "keygen"]);
    assert!(keygen.status.success(), "{}", stderr(&keygen));
    let key: Value = serde_json::from_str(&stdout(&keygen)).expect("json");
    let recipient = dtk::handoff::parse_public_key(key["public_key"].as_str().expect("key")).expect("key");
    let payload = drill_payload();
    let sealed =
        dtk::handoff::seal(&payload, 1, "2026-11-21T12:00:00.000Z", &[9; 32], &recipient, &mut dtk::crypto::OsRandom)
            .expect("seal");
    let drill_file = files.path().join("drill.dtkh");
    std::fs::write(&drill_file, sealed).expect("write");
    let import = him_tv.dtk(Some(HIM), &["handoff", "import", drill_file.to_str().expect("p")]);
    assert_eq!(import.status.code(), Some(1), "{}", stderr(&import));
    assert!(stderr(&import).contains("DRILL"), "{}", stderr(&import));

    // A drill open on the HIM station itself (an administrator practising): its paper is refused both ways.
    let start = him_tv.dtk(Some(ADMIN), &["--json", "episode", "start", "--drill"]);
    assert!(start.status.success(), "{}", stderr(&start));
    let drill_id =
        serde_json::from_str::<Value>(&stdout(&start)).expect("json")["id"].as_str().expect("id").to_string();
    let form = files.path().join("drill-form.pdf");
    let print = him_tv.dtk(Some(HIM), &["print", "blank", "--form", "vital-signs", "--out", form.to_str().expect("p")]);
    assert!(print.status.success(), "{}", stderr(&print));
    let response = files.path().join("r.json");
    std::fs::write(&response, sample("vital-signs").to_string()).expect("response");
    let scan = scan_page(&form, 1, files.path());
    let response_arg = response.to_str().expect("p");
    let paper = |how: &str, what: &str| {
        him_tv.dtk(Some(HIM), &["reconcile", "paper", how, what, "--response", response_arg, "--author", "A. Nurse"])
    };
    let by_scan = paper("--scan", scan.to_str().expect("p"));
    assert_eq!(by_scan.status.code(), Some(1), "{}", stderr(&by_scan));
    assert!(stderr(&by_scan).contains("DRILL"), "{}", stderr(&by_scan));
    let qr = format!("DTK1;form=http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0;ep={drill_id}");
    let by_qr = paper("--qr", &qr);
    assert_eq!(by_qr.status.code(), Some(1), "{}", stderr(&by_qr));
    assert!(stderr(&by_qr).contains("DRILL"), "{}", stderr(&by_qr));
    let none = him_tv.dtk(Some(HIM), &["export", "fhir", "--out", files.path().join("x.json").to_str().expect("p")]);
    assert_eq!(none.status.code(), Some(1), "nothing to export: {}", stderr(&none));
    let list = him_tv.dtk(Some(HIM), &["--json", "reconcile", "summary"]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&list)).expect("json")["total"],
        0,
        "nothing reached the worklist"
    );
    let not_a_scan = paper("--scan", response_arg);
    assert_eq!(not_a_scan.status.code(), Some(1));
    assert!(
        stderr(&not_a_scan).contains("r.json: the file is not a readable PNG, JPEG or PDF image"),
        "{}",
        stderr(&not_a_scan)
    );
}

/// The worklist state of one entry.
fn state_of(ws: &Workstation, him: &Session, id: &str) -> State {
    let page = ws.worklist(him, &WorklistQuery { limit: 1000, ..Default::default() }).expect("worklist");
    page.items.iter().find(|i| i.entry_id == id).map(|i| i.state).expect("the entry is on the worklist")
}

/// The audit rows of `action` about entry `id`.
fn audit_of(ws: &Workstation, him: &Session, action: &str, id: &str) -> Vec<dtk::audit::PlainRow> {
    dtk::audit::plain_rows(ws.vault().expect("vault").conn(), him.keys())
        .expect("audit")
        .into_iter()
        .filter(|r| r.action == action && r.target == format!("entries:{id}"))
        .collect()
}

/// Issue 14, item 2: entries the EHR refuses were left `exported`, so `reconcile summary` said "Still open: 0" while
/// they never reached the EHR. A refusal is now an open state with the server's reason, and each way out (repost,
/// entered by hand in the EHR, reject) is an audited decision the report lists.
#[test]
fn entries_the_ehr_refuses_stay_open_until_a_decision() {
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    let fixed = chart(&mut a, &med_admin("2026-11-21T06:15:00-05:00"), true);
    let by_hand = chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), true);
    let wrong = chart(&mut a, &med_admin("2026-11-21T14:15:00-05:00"), true);
    let file = export(&mut a, files.path(), "a1.dtkh");
    him_ws.import_handoff_file(&him, &file, &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 3);
    let first_file = files.path().join("batch-1.json");
    let first = him_ws.export_fhir(&him, &first_file, &SystemClock).expect("export");

    // The EHR does not know the patient yet: it refuses the transaction, and with it all three entries.
    let server = fhir_server();
    drop(him_ws);
    let (mut him_ws, him) = him_posting_to(&him_tv, &server.base, json!({}));
    let post = him_ws.post_fhir(&him, &first.batch_id, "EHR", Credentials::None, &SystemClock).expect("post");
    assert_eq!((post.posted.len(), post.failed.len()), (0, 3));
    for id in [&fixed, &by_hand, &wrong] {
        assert_eq!(state_of(&him_ws, &him, id), State::Refused);
        let refused = audit_of(&him_ws, &him, "reconcile.refused", id);
        assert_eq!(refused.len(), 1, "one audit row per refused entry");
        assert!(refused[0].detail["reason"].as_str().is_some_and(|r| r.contains("conditional reference")));
    }
    let s = summary_of(&him_ws, &him);
    assert_eq!((s.by_state["refused"], s.by_state["exported"], s.open), (3, 0, 3), "refused entries are open");
    let page = him_ws
        .worklist(&him, &WorklistQuery { state: Some(State::Refused), limit: 10, ..Default::default() })
        .expect("refused only");
    assert_eq!(page.total, 3);
    assert!(page.items.iter().all(|i| i.reason.as_deref().is_some_and(|r| r.contains("conditional reference"))));
    let summary = him_tv.dtk(Some(HIM), &["reconcile", "summary"]);
    assert!(summary.status.success(), "{}", stderr(&summary));
    assert!(stdout(&summary).contains("Refused by the EHR: 3"), "{}", stdout(&summary));
    assert!(stdout(&summary).contains("Still open: 3;"), "{}", stdout(&summary));
    let list = him_tv.dtk(Some(HIM), &["reconcile", "list", "--status", "refused", "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&list)).expect("json")["total"], 3);

    // The patient is registered in the EHR, and the EHR turns out to hold all three after all (an answer lost on
    // the way back): reposting must not add a second copy of anything.
    http(
        "POST",
        &format!("{}/Patient", server.base),
        Some(&json!({ "resourceType": "Patient", "identifier": [{ "system": MRN_SYSTEM, "value": "DEV2001" }] })),
    );
    let bundle: Value = serde_json::from_slice(&std::fs::read(&first_file).expect("bundle")).expect("json");
    assert_eq!(http("POST", &format!("{}/", server.base), Some(&bundle))["type"], "transaction-response");
    let held = counts(&server);
    assert_eq!(held["QuestionnaireResponse"], 3);

    // (a) Fixed and posted again: back to accepted, taken by the next batch, posted once.
    let repost = him_tv.dtk(Some(HIM), &["reconcile", "repost", &fixed, "--note", "patient registered in the EHR"]);
    assert!(repost.status.success(), "{}", stderr(&repost));
    assert_eq!(state_of(&him_ws, &him, &fixed), State::Accepted);
    let reposted = audit_of(&him_ws, &him, "reconcile.reposted", &fixed);
    assert_eq!(reposted.len(), 1);
    assert_eq!((reposted[0].actor.as_str(), reposted[0].detail["from"].as_str()), (HIM.0, Some("refused")));
    assert!(reposted[0].detail["refusal"].as_str().is_some_and(|r| r.contains("conditional reference")));
    // Only refused entries can be reposted.
    let again = him_ws.repost(&him, std::slice::from_ref(&fixed), None, &SystemClock).expect_err("not refused");
    assert!(again.message.contains("only entries the EHR refused"), "{}", again.message);

    // (b) Entered by hand in the EHR: who, when, where; closed.
    let hand = him_tv.dtk(
        Some(HIM),
        &[
            "reconcile",
            "entered-by-hand",
            &by_hand,
            "--by",
            "Dana Okafor (HIM clerk)",
            "--at",
            "2026-11-22T09:30:00-05:00",
            "--where",
            "EHR MAR, late-entry administration",
        ],
    );
    assert!(hand.status.success(), "{}", stderr(&hand));
    assert_eq!(state_of(&him_ws, &him, &by_hand), State::EnteredByHand);
    let recorded = audit_of(&him_ws, &him, "reconcile.entered_by_hand", &by_hand);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].detail["by"], "Dana Okafor (HIM clerk)");
    assert_eq!(recorded[0].detail["where"], "EHR MAR, late-entry administration");
    let closed = him_ws.reject(&him, &by_hand, "second thoughts", &SystemClock).expect_err("closed");
    assert!(closed.message.contains("entered by hand"), "{}", closed.message);
    let future = him_tv.dtk(
        Some(HIM),
        &["reconcile", "entered-by-hand", &wrong, "--by", "x", "--at", "2999-01-01T00:00:00Z", "--where", "x"],
    );
    assert_eq!(future.status.code(), Some(1), "{}", stderr(&future));
    assert!(stderr(&future).contains("in the future"), "{}", stderr(&future));

    // (c) Rejected with a reason.
    him_ws.reject(&him, &wrong, "charted on the wrong patient per unit manager", &SystemClock).expect("reject");
    assert_eq!(state_of(&him_ws, &him, &wrong), State::Rejected);
    assert_eq!(audit_of(&him_ws, &him, "reconcile.rejected", &wrong)[0].detail["from"], "refused");
    assert_eq!(summary_of(&him_ws, &him).open, 1, "only the reposted entry waits, for its export");

    // The next batch takes only the reposted entry; posting it adds nothing the EHR already holds.
    let second = him_ws.export_fhir(&him, &files.path().join("batch-2.json"), &SystemClock).expect("export again");
    assert_eq!(second.entries, 1);
    let post = him_ws.post_fhir(&him, &second.batch_id, "EHR", Credentials::None, &SystemClock).expect("post again");
    assert_eq!((post.posted.len(), post.failed.len()), (1, 0), "{:?}", post.failed);
    let now = counts(&server);
    for t in ["QuestionnaireResponse", "MedicationAdministration", "Provenance", "Encounter"] {
        assert_eq!(now[t], held[t], "{t}: a repost never adds a second copy");
    }
    // A retry of the first batch sends none of them: each was taken another way.
    let retry = him_ws.post_fhir(&him, &first.batch_id, "EHR", Credentials::None, &SystemClock).expect("retry");
    assert_eq!((retry.posted.len(), retry.failed.len(), retry.taken_another_way), (0, 0, 3));
    assert_eq!(retry.transactions, 0);
    assert_eq!(state_of(&him_ws, &him, &by_hand), State::EnteredByHand);
    let s = summary_of(&him_ws, &him);
    assert_eq!((s.by_state["posted"], s.by_state["entered-by-hand"], s.by_state["rejected"], s.open), (1, 1, 1, 0));
    let summary = him_tv.dtk(Some(HIM), &["reconcile", "summary"]);
    assert!(stdout(&summary).contains("Refused by the EHR: 0"), "{}", stdout(&summary));
    assert!(stdout(&summary).contains("Still open: 0;"), "{}", stdout(&summary));

    // The report lists the hand-entered entry with who, when and where, and the server's refusal.
    let report = him_ws.reconciliation_report(&him, &SystemClock).expect("report");
    let d = report.dispositions.iter().find(|d| d.entry_id == by_hand).expect("the hand-entered entry is listed");
    let h = d.hand_entry.as_ref().expect("who, when, where");
    assert_eq!((h.by.as_str(), h.at.as_str()), ("Dana Okafor (HIM clerk)", "2026-11-22T09:30:00-05:00"));
    assert!(d.reason.as_deref().is_some_and(|r| r.contains("conditional reference")));
    assert_eq!(d.batch_id.as_deref(), Some(first.batch_id.as_str()));
    let csv = report.to_csv();
    assert!(csv.contains("entered_where") && csv.contains("EHR MAR, late-entry administration"), "{csv}");
    let pdf = files.path().join("report.pdf");
    let made = him_tv.dtk(Some(HIM), &["reconcile", "report", "--pdf", pdf.to_str().expect("path")]);
    assert!(made.status.success(), "{}", stderr(&made));
    let text = pages_text(&pdf).join("\n").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("entered by hand in the EHR by Dana Okafor"), "{text}");
    assert_eq!(him_ws.verify(&him).expect("verify"), vec![]);
    drop(a.tv);
}

#[test]
fn a_him_vault_restored_from_an_older_copy_refuses_to_export_again() {
    let files = tempfile::tempdir().expect("dir");
    let batches = tempfile::tempdir().expect("batches");
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    chart(&mut a, &med_admin("2026-11-21T06:15:00-05:00"), true);
    chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), true);
    let a1 = export(&mut a, files.path(), "a1.dtkh");
    him_ws.import_handoff_file(&him, &a1, &SystemClock).expect("import a1");
    // The copy of the HIM vault that will be restored later: a1 imported, nothing accepted or exported yet.
    drop(him_ws);
    let old_copy = tempfile::tempdir().expect("copy");
    copy_folder(him_tv.path(), old_copy.path());

    let (mut him_ws, him) = him_tv.sign_in(HIM);
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 2);
    him_ws.export_fhir(&him, &batches.path().join("batch-1.json"), &SystemClock).expect("batch 1");
    chart(&mut a, &med_admin("2026-11-21T14:15:00-05:00"), true);
    let a2 = export(&mut a, files.path(), "a2.dtkh");
    him_ws.import_handoff_file(&him, &a2, &SystemClock).expect("import a2");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 1);
    let second = him_ws.export_fhir(&him, &batches.path().join("batch-2.json"), &SystemClock);
    assert!(second.is_ok(), "a vault that only moved on exports beside its own batches: {second:?}");
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(batches.path().join("batch-2.json")).expect("read")).expect("json");
    let resources = resources(&bundle);
    let audit = resources.iter().find(|r| r["resourceType"] == "AuditEvent").expect("the batch's AuditEvent");
    let detail = audit["entity"][0]["detail"].as_array().expect("the watermark rides in entity.detail");
    assert!(detail.contains(&json!({ "type": "dtk-batches-exported", "valueString": "2" })), "{detail:?}");
    assert!(detail.iter().any(|d| d["type"].as_str().is_some_and(|t| t.starts_with("dtk-handoff-file:"))));
    assert!(schema_errors(&resources).is_empty(), "{:?}", schema_errors(&resources));
    drop(him_ws);

    // The HIM station's disk fails; IT restores the old copy. The restored vault has forgotten both batches and a2.
    restore_folder(old_copy.path(), him_tv.path());
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 2, "a1's entries look new again");
    let third = batches.path().join("batch-3.json");
    let err = him_ws.export_fhir(&him, &third, &SystemClock).expect_err("an older vault must not export again");
    let text = err.to_string();
    assert!(text.contains("older than its own batch") && text.contains("batch-1.json"), "{text}");
    assert!(text.contains("export #1, the vault knows of 0"), "{text}");
    assert!(!third.exists(), "nothing is written when the export is refused");
    drop(him_ws);
    let o = him_tv.dtk(Some(HIM), &["export", "fhir", "--out", &third.to_string_lossy()]);
    assert!(!o.status.success() && stderr(&o).contains("restored from an older copy"), "{}", stderr(&o));
    assert!(!third.exists());
    // The same vault still exports where no batch of its own says it is behind (an EHR test folder, for example):
    // the witness is the folder the station's batches are kept in.
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let elsewhere = tempfile::tempdir().expect("elsewhere");
    him_ws.export_fhir(&him, &elsewhere.path().join("batch.json"), &SystemClock).expect("a folder with no witness");
}

#[test]
fn a_workstation_vault_rolled_back_after_its_handoff_is_caught_at_him_import() {
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    chart(&mut a, &med_admin("2026-11-21T06:15:00-05:00"), true);
    let a0 = export(&mut a, files.path(), "a0.dtkh");
    him_ws.import_handoff_file(&him, &a0, &SystemClock).expect("import a0");
    let Unit { tv, ws, .. } = a;
    drop(ws);
    let older = tempfile::tempdir().expect("copy");
    copy_folder(tv.path(), older.path());
    let reopen = |tv: TestVault| {
        let mut ws = tv.open();
        let charge = ws.sign_in(CHARGE.0, &dtk::crypto::Password::new(CHARGE.1.into()), &SystemClock).expect("c");
        let nurse = ws.sign_in(NURSE.0, &dtk::crypto::Password::new(NURSE.1.into()), &SystemClock).expect("n");
        Unit { tv, ws, charge, nurse }
    };
    let mut a = reopen(tv);
    chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), true);
    let a1 = export(&mut a, files.path(), "a1.dtkh");
    him_ws.import_handoff_file(&him, &a1, &SystemClock).expect("import a1");
    assert_eq!(summary_of(&him_ws, &him).total, 2);

    // The workstation's vault is put back to the older copy (a careless restore), and charting goes on.
    let Unit { tv, ws, .. } = a;
    drop(ws);
    restore_folder(older.path(), tv.path());
    let mut a = reopen(tv);
    chart(&mut a, &med_admin("2026-11-21T14:15:00-05:00"), true);
    let again = export(&mut a, files.path(), "a1-again.dtkh");
    let e = him_ws.import_handoff_file(&him, &again, &SystemClock).expect_err("the same file number, other content");
    assert!(e.to_string().contains("vault was rolled back"), "{e}");
    let next = export(&mut a, files.path(), "a2.dtkh");
    let e = him_ws.import_handoff_file(&him, &next, &SystemClock).expect_err("a newer file whose log forks");
    assert!(e.to_string().contains("audit row") && e.to_string().contains("vault was rolled back"), "{e}");
    assert_eq!(summary_of(&him_ws, &him).total, 2, "nothing of the forked files was imported");
}
