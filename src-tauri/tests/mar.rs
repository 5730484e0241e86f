//! The MAR tab agrees with `dtk mar --patient MRN --json` on the same vault, and charting the overdue dose through
//! the shell turns its row to given with the time and who. `dtk mar --json` prints `serde_json::to_value` of
//! `Workstation::mar` (src/cli/mar.rs), so the comparison reads that value, field by field, against the command the
//! MAR tab calls.
use dtk::api::Workstation;
use dtk::clock::{stamp, Clock, SystemClock};
use dtk::crypto::Password;
use dtk_app::commands::{charge, nurse, session, Shell};
use dtk_app::dto::{DueStatus, EntryRequest, MarView, SignInRequest};
use serde_json::{json, Value};

mod support;

const MRN: &str = "DEV2003";

/// A vault with the demo unit loaded (its practice downtime began three hours ago).
fn demo_vault() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("vault dir");
    std::fs::write(dir.path().join("site.json"), r#"{ "time_zone": "UTC" }"#).expect("site.json");
    let mut ws = Workstation::open(dir.path()).expect("open");
    let request = dtk::api::InitRequest {
        unit: "5 East".into(),
        admin: "it.admin".into(),
        display_name: "IT Admin".into(),
        password: Password::new("admin-pass-1".into()),
    };
    ws.init(request, &SystemClock).expect("init");
    let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &SystemClock).expect("admin");
    ws.load_demo_unit(&admin, &SystemClock).expect("demo");
    dir
}

fn sign_in(shell: &Shell, username: &str) {
    let request = SignInRequest { username: username.into(), password: dtk::api::DEMO_PASSWORD.into() };
    session::sign_in(shell, request).expect("signed in");
}

/// What `dtk mar --patient MRN --json` prints, on the same vault.
fn cli_json(dir: &std::path::Path) -> Value {
    let mut ws = Workstation::open(dir).expect("open");
    let nurse =
        ws.sign_in("demo.nurse", &Password::new(dtk::api::DEMO_PASSWORD.into()), &SystemClock).expect("demo nurse");
    serde_json::to_value(ws.mar(&nurse, MRN, &SystemClock).expect("MAR")).expect("JSON")
}

/// Each order's medication, timing and rows (due time, status, covering entry, time given) as both show them.
fn rows_of_screen(view: &MarView) -> Vec<Value> {
    view.orders
        .iter()
        .map(|o| {
            let due: Vec<Value> = o.due.iter().map(|d| json!([d.at, d.status, d.entry_id, d.given_at])).collect();
            json!({ "medication": o.medication, "timing": o.timing, "due": due })
        })
        .collect()
}

fn rows_of_cli(mar: &Value) -> Vec<Value> {
    mar["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            let due: Vec<Value> = o["due"]
                .as_array()
                .expect("due")
                .iter()
                .map(|d| json!([d["at"], d["status"], d["entry_id"], d["given_at"]]))
                .collect();
            json!({ "medication": o["medication"], "timing": o["timing"], "due": due })
        })
        .collect()
}

#[test]
fn the_mar_tab_shows_what_dtk_mar_json_prints_before_and_after_the_overdue_dose_is_charted() {
    let dir = demo_vault();
    let shell = Shell::open(dir.path());
    sign_in(&shell, "demo.nurse");
    let before = nurse::patient_mar(&shell, MRN.into()).expect("MAR tab");
    assert_eq!(rows_of_screen(&before), rows_of_cli(&cli_json(dir.path())));
    let overdue = before
        .orders
        .iter()
        .find(|o| o.medication.starts_with("Metoprolol"))
        .and_then(|o| o.due.first())
        .expect("the metoprolol row");
    assert_eq!(overdue.status, DueStatus::Overdue);
    assert!(before.allergies.is_empty() && before.drill, "Okafor has no allergy; the demo is a drill");

    // Charted now, through the normal save path (the allergy and duplicate checks run as for any entry).
    let given = stamp(SystemClock.now());
    let response = support::dose_now(MRN, "Metoprolol Tartrate 25 MG Oral Tablet", &given);
    let request = EntryRequest {
        response,
        sign: true,
        allergy_override: None,
        confirm_not_duplicate: false,
        reason: None,
        clinical_time: None,
    };
    let saved = nurse::save_entry(&shell, request).expect("charted");

    let after = nurse::patient_mar(&shell, MRN.into()).expect("MAR tab");
    assert_eq!(rows_of_screen(&after), rows_of_cli(&cli_json(dir.path())));
    let row = after
        .orders
        .iter()
        .find(|o| o.medication.starts_with("Metoprolol"))
        .and_then(|o| o.due.first())
        .expect("the metoprolol row");
    assert_eq!(row.status, DueStatus::Given);
    assert_eq!(row.entry_id.as_deref(), Some(saved.id.as_str()));
    assert_eq!(row.given_by.as_deref(), Some("demo.nurse"));
    assert_eq!(row.given_at.as_deref().and_then(dtk::clock::parse_stamp), dtk::clock::parse_stamp(&given));
}

#[test]
fn the_charge_nurse_sees_every_patients_overdue_doses() {
    let dir = demo_vault();
    let shell = Shell::open(dir.path());
    sign_in(&shell, "demo.charge");
    let unit = charge::unit_overdue(&shell).expect("unit view");
    // Okafor's metoprolol is overdue whenever the test runs; his evening simvastatin (21:00) is overdue too when the
    // demo's outage began before nine in the evening, so the row is picked by medication, not by position.
    let okafor = unit
        .doses
        .iter()
        .find(|d| d.mrn == MRN && d.medication.starts_with("Metoprolol"))
        .expect("Okafor's overdue metoprolol");
    assert_eq!(okafor.name, "OKAFOR, Chidi", "{okafor:?}");
    assert!(unit.unreadable.is_empty());
    let times: Vec<_> = unit.doses.iter().map(|d| dtk::clock::parse_stamp(&d.due_at)).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first: {times:?}");
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Contract {
    #[allow(dead_code)]
    about: Vec<String>,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Case {
    name: String,
    patient: String,
    medication: String,
    kind: String,
    #[serde(default)]
    chart_now: bool,
    first_due: Option<Due>,
    second_due: Option<Due>,
    prn: Option<Prn>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Due {
    minutes_after_outage: Option<i64>,
    minutes_after_charting: Option<i64>,
    status: String,
    given_by: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Prn {
    last_dose_minutes_before_outage: i64,
    min_interval_minutes: i32,
}

const MAR_CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/contract/mar.json");

/// Minutes from `from` to `to` (RFC 3339 texts).
fn minutes(from: &str, to: &str) -> i64 {
    let (a, b) = (dtk::clock::parse_stamp(from).expect("a time"), dtk::clock::parse_stamp(to).expect("a time"));
    (b - a).whole_minutes()
}

#[test]
fn the_mar_contract_holds_for_the_real_backend() {
    let contract: Contract =
        serde_json::from_str(&std::fs::read_to_string(MAR_CONTRACT).expect("contract")).expect("JSON");
    for case in contract.cases {
        let dir = demo_vault();
        let shell = Shell::open(dir.path());
        sign_in(&shell, "demo.nurse");
        let mut charted = None;
        if case.chart_now {
            let at = stamp(SystemClock.now());
            let request = EntryRequest {
                response: support::dose_now(&case.patient, &case.medication, &at),
                sign: true,
                allergy_override: None,
                confirm_not_duplicate: false,
                reason: None,
                clinical_time: None,
            };
            nurse::save_entry(&shell, request).expect("charted");
            charted = Some(at);
        }
        let view = nurse::patient_mar(&shell, case.patient.clone()).expect("MAR tab");
        let order =
            view.orders.iter().find(|o| o.medication == case.medication).unwrap_or_else(|| panic!("{}", case.name));
        assert_eq!(serde_json::to_value(order.kind).expect("kind"), case.kind.as_str(), "{}", case.name);
        for (i, expected) in [(0, &case.first_due), (1, &case.second_due)] {
            let Some(expected) = expected else { continue };
            let row = order.due.get(i).unwrap_or_else(|| panic!("{}: row {i}", case.name));
            let at = row.at.as_deref().expect("a due time");
            assert_eq!(serde_json::to_value(row.status).expect("status"), expected.status.as_str(), "{}", case.name);
            if let Some(m) = expected.minutes_after_outage {
                assert_eq!(minutes(&view.from, at), m, "{}", case.name);
            }
            if let (Some(m), Some(charted)) = (expected.minutes_after_charting, &charted) {
                assert_eq!(minutes(charted, at), m, "{}", case.name);
            }
            assert_eq!(row.given_by, expected.given_by, "{}", case.name);
        }
        if let Some(expected) = case.prn {
            let prn = order.prn.as_ref().expect("a PRN line");
            let last = prn.last_dose_at.as_deref().expect("a last dose");
            assert_eq!(minutes(last, &view.from), expected.last_dose_minutes_before_outage, "{}", case.name);
            assert_eq!(prn.min_interval_minutes, Some(expected.min_interval_minutes), "{}", case.name);
        }
    }
}
