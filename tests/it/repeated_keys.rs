//! Outside input that gives a key twice is refused, naming the file and the key (issue 13): serde_json keeps the
//! last of two values silently, so a form, census, response or configuration could say one thing to one reader and
//! another to the next. Each test puts one key twice into a real fixture and runs the product on it.

use std::path::{Path, PathBuf};

use crate::support::*;

/// `fixture` with the first occurrence of `needle` replaced by `replacement` (which repeats a key), written to `dir`.
fn with_repeated_key(fixture: &[u8], needle: &str, replacement: &str, dir: &Path, name: &str) -> PathBuf {
    let text = String::from_utf8(fixture.to_vec()).expect("fixture is UTF-8");
    assert!(text.contains(needle), "the fixture holds {needle}");
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(needle, replacement, 1)).expect("write the edited fixture");
    path
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(repo_root().join(rel)).expect("read fixture")
}

#[test]
fn fail_form_with_a_key_twice_names_file_and_key() {
    let dir = tempfile::tempdir().expect("dir");
    let form = with_repeated_key(
        &fixture("tests/data/forms/test-wound-assessment.json"),
        r#""linkId": "has-wound","#,
        r#""linkId": "has-wound", "linkId": "no-wound","#,
        dir.path(),
        "wound.json",
    );
    let out = dtk_cmd().args(["forms", "check", form.to_str().expect("utf-8")]).output().expect("run dtk");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("wound.json"), "names the file: {said}");
    assert!(said.contains(r#"the key "linkId" is given twice in the object at /item/1"#), "names key and item: {said}");
}

#[test]
fn fail_census_with_a_key_twice_names_file_and_key_and_imports_nothing() {
    let tv = TestVault::charting();
    let dir = tempfile::tempdir().expect("dir");
    let census = with_repeated_key(
        &census_bytes(),
        r#""birthDate": "1957-04-12""#,
        r#""birthDate": "1957-04-12", "birthDate": "1975-04-12""#,
        dir.path(),
        "census-twice.json",
    );
    let out = tv.dtk(Some(CHARGE), &["census", "import", census.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("census-twice.json"), "names the file: {said}");
    assert!(said.contains(r#"the key "birthDate" is given twice"#), "names the key: {said}");
    assert!(!said.contains("1957") && !said.contains("1975"), "quotes no patient data: {said}");
}

#[test]
fn fail_response_with_a_key_twice_names_file_and_key_and_saves_nothing() {
    let tv = TestVault::charting();
    let dir = tempfile::tempdir().expect("dir");
    let response = serde_json::to_vec_pretty(&for_patient(sample_response("vital-signs"), "DEV2013")).expect("json");
    let path = with_repeated_key(
        &response,
        r#""status": "#,
        r#""status": "in-progress", "status": "#,
        dir.path(),
        "vitals-twice.json",
    );
    let out = tv.dtk(Some(NURSE), &["entry", "add", "--response", path.to_str().expect("utf-8"), "--sign"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("vitals-twice.json") && said.contains(r#"the key "status" is given twice"#), "{said}");
    let (mut ws, nurse) = tv.sign_in(NURSE);
    assert!(ws.list_entries(&nurse, None, &dtk::clock::SystemClock).expect("list").is_empty(), "nothing was saved");
}

#[test]
fn fail_site_configuration_and_checklist_with_a_key_twice() {
    let site = dtk::site::SiteConfig::parse("/etc/dtk/site.json", br#"{"unit": "5 East", "unit": "ICU"}"#)
        .expect_err("refused");
    assert_eq!(
        site.to_string(),
        r#"/etc/dtk/site.json: the key "unit" is given twice in the object at the top level (line 1, column 25)"#
    );
    let list = fixture("checklists/downtime-checklist.json");
    let text = String::from_utf8(list).expect("utf-8");
    let twice = text.replacen(r#""title": "#, r#""title": "Other title", "title": "#, 1);
    let problems = dtk::procedures::Checklist::parse("checklist.json", twice.as_bytes()).expect_err("refused");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, "checklist.json");
    assert!(problems[0].reason.starts_with(r#"the key "title" is given twice"#), "{problems:?}");
}

#[test]
fn fail_roster_with_a_column_twice_names_file_and_column() {
    let tv = TestVault::charting();
    let dir = tempfile::tempdir().expect("dir");
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "username,role,role\nasmith,nurse,charge\n").expect("write roster");
    let out = tv.dtk(Some(ADMIN), &["user", "import", roster.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("roster.csv") && said.contains("the column 'role' is given twice"), "{said}");
}
