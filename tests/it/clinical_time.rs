//! Issue 18 item 1: a form written elsewhere, with no clinical-time extension of ours, loads and is charted from the
//! API and the CLI, printed and exported. The clinical time is found by the standard signals (an item whose
//! definition names the effective time, then the one required top-level dateTime item); where there is none, the
//! nurse gives it ("When did this happen?") and the entry carries it outside the response.

use std::path::{Path, PathBuf};

use dtk::api::{Assignment, BlankFor, EntryOptions, ErrorCode, PaperAnswers, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::forms::{self, ClinicalTime, FoundBy};
use serde_json::{json, Value};

use crate::reconcile::{chart, export, resources, workstation_with};
use crate::support::*;

/// When the pain was scored, as the nurse gives it.
const SCORED_AT: &str = "2026-11-21T09:40:00-05:00";
const PAIN_FORM: &str = "http://example.org/fhir/Questionnaire/pain-score|2.1";

fn standard(name: &str) -> PathBuf {
    repo_root().join("tests/data/forms/standard").join(name)
}

fn pain_response() -> Value {
    sample_response("pain-score")
}

/// A forms folder with the shipped forms and the standard pain score form dropped in.
fn forms_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("forms dir");
    for f in std::fs::read_dir(repo_root().join("forms")).expect("forms") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, dir.path().join(f.file_name().expect("name"))).expect("copy");
    }
    std::fs::copy(standard("pain-score.json"), dir.path().join("pain-score.json")).expect("drop the form in");
    dir
}

fn with_forms_folder(tv: &TestVault, forms: &Path) {
    std::fs::write(tv.path().join("site.json"), json!({ "forms_dir": forms }).to_string()).expect("site.json");
}

fn asked(time: &str, sign: bool) -> EntryOptions {
    EntryOptions { sign, clinical_time: Some(time.into()), ..Default::default() }
}

#[test]
fn a_standard_form_with_no_clinical_time_item_loads_and_asks_for_the_time() {
    let form = forms::load_file(&standard("pain-score.json")).unwrap_or_else(|p| panic!("refused: {p:#?}"));
    assert_eq!(form.clinical_time(), &ClinicalTime::Asked);
    assert!(form.asks_clinical_time());
    assert_eq!(form.clinical_time_item(), None);
    // The shipped forms keep the item they mark.
    let vitals = forms::load_file(&repo_root().join("forms/vital-signs.json")).expect("vital signs load");
    assert_eq!(
        vitals.clinical_time(),
        &ClinicalTime::Item { link_id: "measured-at".into(), found_by: FoundBy::Extension }
    );
}

/// The order of the signals, and the refusals where a signal points at an item that cannot hold the time.
#[test]
fn the_clinical_time_is_found_by_extension_then_definition_then_the_one_required_top_level_date_time() {
    const EFFECTIVE: &str = "http://hl7.org/fhir/StructureDefinition/Observation#Observation.effective[x]";
    const MARK: &str = "http://downtimekit.example.org/fhir/StructureDefinition/clinical-time";
    let when = || json!({"linkId": "when", "type": "dateTime", "required": true});
    let seen = || json!({"linkId": "seen", "type": "dateTime", "required": true, "definition": EFFECTIVE});
    let mark = |mut item: Value, on: bool| {
        item["extension"] = json!([{"url": MARK, "valueBoolean": on}]);
        item
    };
    let q = json!({"linkId": "q", "type": "integer"});
    type Found = Result<ClinicalTime, Vec<String>>;
    let found = |link: &str, by: FoundBy| -> Found { Ok(ClinicalTime::Item { link_id: link.into(), found_by: by }) };
    type Case = (&'static str, Vec<Value>, Option<bool>, Found);
    let cases: Vec<Case> = vec![
        ("the one required top-level dateTime", vec![when(), q.clone()], None, found("when", FoundBy::TopLevelItem)),
        ("an optional dateTime is no signal", vec![json!({"linkId": "when", "type": "dateTime"}), q.clone()], None, Ok(ClinicalTime::Asked)),
        ("two required dateTimes: nothing to choose by", vec![when(), json!({"linkId": "other", "type": "dateTime", "required": true})], None, Ok(ClinicalTime::Asked)),
        ("a dateTime inside a group is not top-level", vec![json!({"linkId": "g", "type": "group", "required": true, "item": [when()]})], None, Ok(ClinicalTime::Asked)),
        ("a date is not a time", vec![json!({"linkId": "day", "type": "date", "required": true}), q.clone()], None, Ok(ClinicalTime::Asked)),
        ("the definition wins over the top-level item", vec![when(), seen()], None, found("seen", FoundBy::Definition)),
        ("a definition inside a required group", vec![q.clone(), json!({"linkId": "g", "type": "group", "required": true, "item": [seen()]})], None, found("seen", FoundBy::Definition)),
        ("a definition through a profile, as effectiveDateTime", vec![json!({"linkId": "seen", "type": "dateTime", "required": true, "definition": "http://example.org/fhir/StructureDefinition/ward-vitals#Observation.effectiveDateTime"})], None, found("seen", FoundBy::Definition)),
        ("the extension wins over both", vec![seen(), mark(json!({"linkId": "given", "type": "dateTime", "required": true}), true)], None, found("given", FoundBy::Extension)),
        ("an item marked false is never taken", vec![mark(when(), false), q.clone()], None, Ok(ClinicalTime::Asked)),
        ("false on the questionnaire always asks", vec![when(), seen()], Some(false), Ok(ClinicalTime::Asked)),
        ("an optional item defined as the effective time", vec![json!({"linkId": "seen", "type": "dateTime", "definition": EFFECTIVE})], None, Err(vec!["t.json: linkId 'seen': the clinical-time item must be required (its definition Observation.effective[x] says it holds the clinical time: fix the item, or mark it with the clinical-time extension valueBoolean false so that the app asks for the time)".into()])),
        ("two items defined as the effective time", vec![seen(), json!({"linkId": "again", "type": "dateTime", "required": true, "definition": EFFECTIVE})], None, Err(vec!["t.json: linkId 'again': a second item whose definition says it holds the clinical time (the first is 'seen'): mark the one that does with the clinical-time extension".into()])),
        ("false on the questionnaire and an item marked true", vec![mark(when(), true)], Some(false), Err(vec!["t.json: clinical-time false on the questionnaire says no item holds the clinical time, but item 'when' is marked as holding it".into()])),
        ("true on the questionnaire", vec![when()], Some(true), Err(vec!["t.json: clinical-time on the questionnaire can only be false (no item holds the clinical time: ask for it); mark the item that holds it instead".into()])),
    ];
    for (name, items, on_form, expected) in cases {
        let mut v = json!({
            "resourceType": "Questionnaire", "url": "http://example.org/Questionnaire/t", "version": "1",
            "status": "active", "title": "T", "item": items
        });
        if let Some(b) = on_form {
            v["extension"] = json!([{"url": MARK, "valueBoolean": b}]);
        }
        let got = forms::parse_form("t.json", &serde_json::to_vec(&v).expect("json"))
            .map(|f| f.clinical_time().clone())
            .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>());
        assert_eq!(got, expected, "case: {name}");
    }
}

/// A workstation charting with the pain form in its forms folder.
fn charting_with_pain_form(forms: &Path) -> (TestVault, Workstation, Session) {
    let tv = TestVault::charting();
    with_forms_folder(&tv, forms);
    let (ws, nurse) = tv.sign_in(NURSE);
    assert!(ws.forms().get(PAIN_FORM).is_some(), "the pain form loads: {:?}", ws.form_problems());
    (tv, ws, nurse)
}

#[test]
fn a_form_that_asks_is_charted_with_the_time_the_nurse_gives_and_refused_without_it() {
    let forms = forms_folder();
    let (_tv, mut ws, nurse) = charting_with_pain_form(forms.path());
    let r = pain_response();

    let missing = ws.add_entry(&nurse, &r, &EntryOptions::default(), &SystemClock).expect_err("no time");
    assert_eq!(missing.code, ErrorCode::InvalidInput);
    assert_eq!(missing.findings.len(), 1, "{:?}", missing.findings);
    assert_eq!(missing.findings[0].link_id, None, "no item holds the time");
    assert_eq!(
        missing.findings[0].message,
        "When did this happen? is required: no item of this form holds the clinical time"
    );
    let sloppy = ws.add_entry(&nurse, &r, &asked("2026-11-21 09:40", false), &SystemClock).expect_err("no seconds");
    assert!(
        sloppy.message.contains("When did this happen? must be a date and time with seconds"),
        "{}",
        sloppy.message
    );
    let ahead = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    let ahead = dtk::clock::stamp(ahead);
    let future = ws.add_entry(&nurse, &r, &asked(&ahead, false), &SystemClock).expect_err("future");
    assert!(future.message.contains("the time is in the future"), "{}", future.message);

    // Saved as a draft with the time, then signed: signing checks the draft again with the time it was saved with.
    let draft = ws.add_entry(&nurse, &r, &asked(SCORED_AT, false), &SystemClock).expect("saved");
    let id = draft.saved.id.clone();
    ws.sign_entry(&nurse, &id, false, &SystemClock).expect("signed with the time it was saved with");
    let detail = ws.entry(&nurse, &id, &SystemClock).expect("entry");
    assert_eq!(detail.summary.clinical_time.as_deref(), Some(SCORED_AT));
    assert!(
        detail.versions[0].body.response["item"].as_array().is_some_and(|a| a.len() == 2),
        "the response is as sent"
    );

    // The time is the entry's: a second score five minutes later is a possible duplicate of this one.
    let again = ws.add_entry(&nurse, &r, &asked("2026-11-21T09:45:00-05:00", true), &SystemClock).expect_err("dup");
    assert_eq!(again.code, ErrorCode::SafetyCheck, "{}", again.message);

    // Amending takes a time again, and the new version carries it.
    let amended = ws.amend_entry(&nurse, &id, &r, &asked("2026-11-21T09:35:00-05:00", true), &SystemClock);
    assert_eq!(amended.expect("amended").saved.version, 2);
    let detail = ws.entry(&nurse, &id, &SystemClock).expect("entry");
    assert_eq!(detail.summary.clinical_time.as_deref(), Some("2026-11-21T09:35:00-05:00"));

    // A form whose item holds the time takes none beside the response, so no entry has two.
    let vitals = sample_response("vital-signs");
    let twice = ws.add_entry(&nurse, &vitals, &asked(SCORED_AT, true), &SystemClock).expect_err("two times");
    assert_eq!(twice.code, ErrorCode::InvalidInput);
    assert!(twice.message.contains("holds the clinical time in its item 'measured-at'"), "{}", twice.message);
}

#[test]
fn dtk_entry_add_charts_a_form_that_asks_with_clinical_time_and_names_the_flag_without_it() {
    let tv = TestVault::charting();
    let forms = forms_folder();
    let dtk = |who: Option<(&str, &str)>, args: &[&str]| {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", tv.path()).args(["--forms", forms.path().to_str().expect("path")]).args(args);
        if let Some((u, p)) = who {
            cmd.env("DTK_USER", u).env("DTK_PASSWORD", p);
        }
        cmd.output().expect("dtk")
    };
    let form = standard("pain-score.json");
    let out = dtk(None, &["forms", "check", form.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("it is asked (\"When did this happen?\")"), "{}", stdout(&out));
    let out = dtk(Some(NURSE), &["forms", "list"]);
    assert!(stdout(&out).contains("pain-score|2.1  (asks for the clinical time: --clinical-time)"), "{}", stdout(&out));

    let dir = tempfile::tempdir().expect("dir");
    let response = dir.path().join("pain.json");
    std::fs::write(&response, pain_response().to_string()).expect("write");
    let response = response.to_str().expect("path");
    let out = dtk(Some(NURSE), &["entry", "add", "--response", response, "--sign"]);
    assert_eq!(out.status.code(), Some(2), "a missing option is a usage error: {}", stderr(&out));
    assert!(stderr(&out).contains("give it with --clinical-time"), "{}", stderr(&out));
    let out = dtk(Some(NURSE), &["entry", "add", "--response", response, "--sign", "--clinical-time", SCORED_AT]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let out = dtk(Some(NURSE), &["entry", "list", "--patient", "DEV2001"]);
    let line = stdout(&out).lines().find(|l| l.starts_with(&id)).map(str::to_string).unwrap_or_default();
    assert!(line.contains(SCORED_AT) && line.contains("signed"), "{}", stdout(&out));

    let vitals = repo_root().join("tests/data/forms/responses/vital-signs.json");
    let out =
        dtk(Some(NURSE), &["entry", "add", "--response", vitals.to_str().expect("path"), "--clinical-time", SCORED_AT]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("holds the clinical time in its item 'measured-at'"), "{}", stderr(&out));
}

#[test]
fn the_export_puts_the_time_the_nurse_gave_where_the_item_would_have_put_it() {
    let forms = forms_folder();
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    with_forms_folder(&him_tv, forms.path());
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation_with(&key.public_key, "T5A-", false, json!({ "forms_dir": forms.path() }));
    let opts = asked(SCORED_AT, true);
    a.ws.add_entry(&a.nurse, &pain_response(), &opts, &SystemClock).expect("charted");
    let _vitals = chart(&mut a, &sample_response("vital-signs"), true);
    let file = export(&mut a, files.path(), "a1.dtkh");
    him_ws.import_handoff_file(&him, &file, &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), 2);
    let out = files.path().join("batch.json");
    him_ws.export_fhir(&him, &out, &SystemClock).expect("export");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).expect("bundle")).expect("json");
    let all = resources(&bundle);
    // The vital signs have a pain score of their own (same code, same text): each Observation has its entry's time.
    let mut scores: Vec<(String, i64)> = all
        .iter()
        .filter(|r| r["resourceType"] == "Observation" && r["code"]["coding"][0]["code"] == "72514-3")
        .map(|r| (r["effectiveDateTime"].as_str().unwrap_or("").to_string(), r["valueInteger"].as_i64().unwrap_or(-1)))
        .collect();
    scores.sort();
    assert!(scores.contains(&(SCORED_AT.to_string(), 6)), "the pain score form's Observation: {scores:?}");
    assert_eq!(scores.len(), 2, "{scores:?}");
    // Each entry's Provenance says when it happened: the vital signs' item, the pain score's given time.
    let mut occurred: Vec<&str> = all
        .iter()
        .filter(|r| r["resourceType"] == "Provenance")
        .filter_map(|r| r["occurredDateTime"].as_str())
        .collect();
    occurred.sort_unstable();
    assert_eq!(occurred, vec!["2026-11-21T08:00:00-05:00", SCORED_AT]);
    assert_eq!(schema_errors(&all), Vec::<String>::new());
}

#[test]
fn a_printed_form_that_asks_has_the_same_box_first() {
    let stamp = dtk::print::Stamp {
        unit: "5 East".into(),
        printed_by: "Test Nurse (jnurse)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: None,
        drill: false,
        workstation: Some("T5A-TEST".into()),
        record: "512·3fa2c1d0".into(),
    };
    let dir = tempfile::tempdir().expect("tmp");
    let text = |path: &Path| {
        let form = forms::load_file(path).expect("form loads");
        let pdf = dtk::print::blank_forms(&form, &[], &stamp, &mut |_| {}).expect("print");
        let file = dir.path().join("blank.pdf");
        std::fs::write(&file, &pdf.bytes).expect("write pdf");
        pages_text(&file).join(" ")
    };
    let pain = text(&standard("pain-score.json"));
    let asked_at = pain.find("When did this happen? *").unwrap_or_else(|| panic!("the box is printed: {pain}"));
    let first_item = pain.find("Pain score (0 = no pain").expect("the first question");
    assert!(asked_at < first_item, "the box comes before the form's own items: {pain}");
    assert!(pain[asked_at..].contains("date YYYY-MM-DD") && pain[asked_at..].contains("time HH:MM (24 h)"));
    let vitals = text(&repo_root().join("forms/vital-signs.json"));
    assert!(!vitals.contains("When did this happen?"), "a form whose item holds the time prints no box");
}

/// HIM types a paper page of a form that asks: the time written in its "When did this happen?" box is required, as at
/// the keyboard, and becomes the entry's clinical time.
#[test]
fn a_paper_page_of_a_form_that_asks_is_back_entered_with_the_time_written_in_its_box() {
    let forms = forms_folder();
    let files = tempfile::tempdir().expect("dir");
    // A workstation of the unit prints the blank pain form for DEV2001 ahead of any episode; the page is scanned.
    let (_ward, mut ws, nurse) = charting_with_pain_form(forms.path());
    let pdf = ws.print_blank(&nurse, "pain-score", BlankFor::Patient("DEV2001"), &SystemClock, &mut |_| {});
    let pdf_path = files.path().join("pain.pdf");
    std::fs::write(&pdf_path, &pdf.expect("printed").bytes).expect("pdf");
    let scan = scan_page(&pdf_path, 1, files.path());

    let him = TestVault::new();
    with_forms_folder(&him, forms.path());
    {
        let (mut ws, admin) = him.sign_in(ADMIN);
        ws.import_census(&admin, &census_bytes(), &SystemClock).expect("HIM census");
    }
    let (mut ws, analyst) = him.sign_in(HIM);
    let qr = ws.scan_payload(&analyst, &scan, 1).expect("the page's code decodes");
    assert_eq!(qr.form, PAIN_FORM);
    let into = Assignment::PaperOnly { unit: "5 East".into(), period: None };
    let page = |clinical_time: Option<&str>| PaperAnswers::Form {
        response: pain_response(),
        author: "A. Nurse, RN".into(),
        clinical_time: clinical_time.map(str::to_string),
    };

    let missing = ws.back_enter_page(&analyst, &qr, &page(None), &into, &SystemClock).expect_err("no time");
    assert_eq!(missing.code, ErrorCode::InvalidInput);
    assert!(missing.findings.iter().any(|f| f.message.starts_with("When did this happen? is required")), "{missing:?}");
    assert_eq!(ws.reconcile_summary(&analyst).expect("summary").total, 0, "nothing saved");

    let done = ws.back_enter_page(&analyst, &qr, &page(Some(SCORED_AT)), &into, &SystemClock).expect("entered");
    let id = &done.entries[0].saved.id;
    let card = dtk::reconcile::card(ws.vault().expect("vault").conn(), analyst.keys(), id).expect("card");
    assert_eq!(card.expect("on the worklist").clinical_time.as_deref(), Some(SCORED_AT));

    // The CLI takes it as --clinical-time and names the flag when it is missing.
    let response = files.path().join("pain.json");
    std::fs::write(&response, pain_response().to_string()).expect("response");
    let args = ["reconcile", "paper", "--scan", scan.to_str().expect("p"), "--response"];
    let mut args: Vec<&str> = args.to_vec();
    args.extend([response.to_str().expect("p"), "--author", "A. Nurse, RN", "--episode", &done.episode_id]);
    let refused = him.dtk(Some(HIM), &args);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("When did this happen? is required"), "{}", stderr(&refused));
    args.extend(["--clinical-time", "2026-11-21T13:10:00-05:00"]);
    let entered = him.dtk(Some(HIM), &args);
    assert!(entered.status.success(), "{}", stderr(&entered));
}
