//! Readiness for the admin desk (issue 17 item 6): the shell's `readiness` answers without a sign-in with the core's
//! report, every check named, its level in the same words as `dtk readiness --json`.
use dtk::auth::Role;
use dtk_app::commands::{readiness, Shell};

mod support;

#[test]
fn readiness_answers_without_a_sign_in_and_names_what_is_not_ready() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge)], &census);
    let site = serde_json::json!({ "temp_mrn_block": { "prefix": "T5E-", "first": 1, "last": 9 } });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());

    let report = readiness::readiness(&shell).expect("no sign-in needed");
    assert!(!report.ready, "{report:?}");
    assert!(report.not_ready.contains(&"him_key".to_owned()), "{:?}", report.not_ready);
    assert_eq!(report.checks.len(), 12, "the escalation file is the twelfth check");
    let json = serde_json::to_value(&report).expect("json");
    let him = json["checks"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "him_key")).expect("him_key");
    assert_eq!((him["status"].as_str(), json["notReady"].is_array()), (Some("not-ready"), true), "{json}");
}
