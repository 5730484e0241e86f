//! The escalation ladder through the shell (issue 21 item 1): `escalation_status` sends the site's ladder with who to
//! call now and the next escalation due in the shape the UI's generated types name, `record_contact` records a call
//! and an acknowledgement (the ladder stops), a nurse sees the phones but records nothing, no file configured is said
//! plainly with no phone number, and the print centre prints the one-page contact sheet.
use dtk::auth::Role;
use dtk_app::commands::{charge, escalation, Shell};
use dtk_app::dto::{ErrorCode, PrintJob, PrintRequest};

mod support;

const DEMO_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/escalation-demo.json");

#[test]
fn the_charge_desk_shows_who_to_call_now_and_records_calls_and_the_acknowledgement() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    std::fs::copy(DEMO_FILE, vault.path().join("escalation.json")).expect("file");
    std::fs::write(vault.path().join("site.json"), r#"{ "escalation_file": "escalation.json" }"#).expect("site");
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse");

    let before = serde_json::to_value(escalation::escalation_status(&shell).expect("status")).expect("json");
    assert_eq!(before["episodeOpen"], false, "{before}");
    assert_eq!(before["levels"][0]["contacts"][0]["phones"][0]["number"], "555-0100");
    assert_eq!(before["levels"][0]["status"], "waiting");

    support::declare_episode(&shell, "EHR down");
    let st = serde_json::to_value(escalation::escalation_status(&shell).expect("status")).expect("json");
    assert_eq!(st["episodeOpen"], true);
    assert_eq!(st["current"], 1, "{st}");
    assert_eq!(st["callNow"], true);
    assert!(st["nextEscalationDue"].is_string());
    assert_eq!(st["levels"][0]["status"], "current");
    assert_eq!(st["levels"][0]["afterMinutes"], 15);

    let st = escalation::record_contact(&shell, "help-desk".into(), false).expect("called");
    let wire = serde_json::to_value(&st).expect("json");
    assert_eq!(wire["callNow"], false);
    assert_eq!(wire["levels"][0]["calls"][0]["name"], "IT help desk");
    assert_eq!(wire["levels"][0]["calls"][0]["by"], "kcharge");
    let st = escalation::record_contact(&shell, "help-desk".into(), true).expect("acknowledged");
    let wire = serde_json::to_value(&st).expect("json");
    assert_eq!(wire["acknowledged"]["contact"], "help-desk", "{wire}");
    assert_eq!(wire["current"], serde_json::Value::Null);
    assert_eq!(wire["levels"][0]["status"], "acknowledged");

    let t = serde_json::to_value(charge::episode_timeline(&shell).expect("timeline")).expect("json");
    assert_eq!(t["contacts"][0]["name"], "IT help desk", "{t}");
    assert_eq!(t["contacts"][1]["acknowledged"], true);

    let unknown = escalation::record_contact(&shell, "nobody".into(), false).expect_err("unknown");
    assert_eq!(unknown.code, ErrorCode::NotFound);
    assert!(unknown.message.contains("no contact 'nobody'"), "{}", unknown.message);

    let out = tempfile::tempdir().expect("dir");
    let request = PrintRequest { job: PrintJob::ContactSheet, folder: out.path().display().to_string() };
    let files = charge::print_document(&shell, request, tauri::ipc::Channel::new(|_| Ok(()))).expect("printed");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].pages, 1, "one page");

    support::sign_in(&shell, "dnurse").expect("nurse");
    let seen = escalation::escalation_status(&shell).expect("a nurse sees the phones");
    assert_eq!(seen.levels[0].contacts[0].phones[0].number, "555-0100");
    let refused = escalation::record_contact(&shell, "help-desk".into(), false).expect_err("a nurse");
    assert_eq!(refused.code, ErrorCode::Forbidden);
}

#[test]
fn without_an_escalation_file_the_desk_says_so_and_shows_no_number() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge)], &census);
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse");
    support::declare_episode(&shell, "EHR down");
    let st = escalation::escalation_status(&shell).expect("status");
    assert!(st.file.is_none() && st.levels.is_empty() && st.problems.is_empty());
    let e = escalation::record_contact(&shell, "help-desk".into(), false).expect_err("no file");
    assert!(e.message.contains("no escalation file is configured"), "{}", e.message);
}
