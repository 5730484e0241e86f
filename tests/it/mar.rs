//! `dtk mar --patient MRN [--json]` (issue 16 item 4, the command line's half): the schedule a nurse sees, run
//! through the binary on a vault where the episode began six hours ago and orders and doses were charted since.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use dtk::api::{EntryOptions, Session, Workstation};
use dtk::clock::{FixedClock, SystemClock};

use crate::support::*;

const MRN: &str = "DEV2001";

fn at(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("RFC 3339")
}

/// A medication or route coding of the standard forms.
fn coding(system: &str, code: &str, display: &str) -> Value {
    json!([{ "valueCoding": { "system": system, "code": code, "display": display } }])
}

fn drug(code: &str, name: &str) -> Value {
    coding("http://www.nlm.nih.gov/research/umls/rxnorm", code, name)
}

fn without(mut r: Value, link_ids: &[&str]) -> Value {
    if let Some(items) = r["item"].as_array_mut() {
        items.retain(|i| !link_ids.iter().any(|l| i["linkId"] == *l));
    }
    r
}

fn chart(ws: &mut Workstation, nurse: &Session, response: &Value) -> String {
    let options = EntryOptions {
        sign: true,
        allergy_override: Some("Tolerated before, prescriber aware".into()),
        confirm_not_duplicate: true,
        ..EntryOptions::default()
    };
    ws.add_entry(nurse, &for_patient(response.clone(), MRN), &options, &SystemClock)
        .expect("charted and signed")
        .saved
        .id
}

fn order(
    ws: &mut Workstation,
    nurse: &Session,
    (code, name): (&str, &str),
    frequency: &str,
    time: OffsetDateTime,
    prn: bool,
) -> String {
    let mut r = sample_response("medication-order");
    r = answer(r, "order-time", json!([{ "valueDateTime": at(time) }]));
    r = answer(r, "medication", drug(code, name));
    let display = match frequency {
        "every-4-hours" => "Every 4 hours",
        "every-6-hours" => "Every 6 hours",
        _ => "Every 8 hours",
    };
    r = answer(r, "frequency", coding("http://downtimekit.example.org/fhir/CodeSystem/frequency", frequency, display));
    if !prn {
        r = without(r, &["prn", "prn-indication"]);
    }
    chart(ws, nurse, &r)
}

fn dose(
    ws: &mut Workstation,
    nurse: &Session,
    (code, name): (&str, &str),
    time: OffsetDateTime,
    given: bool,
    prn: bool,
) -> String {
    let mut r = sample_response("medication-administration");
    r = answer(r, "medication", drug(code, name));
    r = answer(r, "time-given", json!([{ "valueDateTime": at(time) }]));
    if !prn {
        r = without(r, &["prn", "prn-reason", "prn-effect"]);
    }
    if !given {
        let status = "http://terminology.hl7.org/CodeSystem/medication-admin-status";
        r = answer(r, "outcome", coding(status, "not-done", "Not given (held or refused)"));
        let reason = json!({ "linkId": "not-given-reason", "answer": coding("http://downtimekit.example.org/fhir/CodeSystem/not-given-reason", "refused", "Refused by patient") });
        let items = r["item"].as_array_mut().expect("items");
        let after = items.iter().position(|i| i["linkId"] == "outcome").expect("outcome item") + 1;
        items.insert(after, reason);
    }
    chart(ws, nurse, &r)
}

struct Charted {
    tv: TestVault,
    now: OffsetDateTime,
    metoprolol: (String, String),
    furosemide: String,
    ondansetron: (String, String),
    morphine: (String, String),
}

/// The census of 5 East, an episode declared six hours ago, and four downtime orders of the last five hours.
fn charted() -> Charted {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), r#"{ "time_zone": "UTC" }"#).expect("site.json");
    let now = OffsetDateTime::now_utc().replace_second(0).and_then(|t| t.replace_nanosecond(0)).expect("minute");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let six_hours_ago = FixedClock::new(now - Duration::hours(6));
    ws.import_census(&charge, &census_bytes(), &six_hours_ago).expect("census");
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &six_hours_ago).expect("episode");
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let metoprolol = ("6918", "metoprolol");
    let furosemide = ("4603", "furosemide");
    let ondansetron = ("26225", "ondansetron");
    let morphine = ("7052", "morphine");
    let metoprolol_order = order(&mut ws, &nurse, metoprolol, "every-4-hours", now - Duration::hours(5), false);
    let metoprolol_dose = dose(&mut ws, &nurse, metoprolol, now - Duration::minutes(290), true, false);
    let furosemide = order(&mut ws, &nurse, furosemide, "every-8-hours", now - Duration::hours(5), false);
    let ondansetron_order = order(&mut ws, &nurse, ondansetron, "every-6-hours", now - Duration::minutes(330), false);
    let ondansetron_dose = dose(&mut ws, &nurse, ondansetron, now - Duration::minutes(320), false, false);
    let morphine_order = order(&mut ws, &nurse, morphine, "every-4-hours", now - Duration::hours(5), true);
    let morphine_dose = dose(&mut ws, &nurse, morphine, now - Duration::hours(2), true, true);
    Charted {
        tv,
        now,
        metoprolol: (metoprolol_order, metoprolol_dose),
        furosemide,
        ondansetron: (ondansetron_order, ondansetron_dose),
        morphine: (morphine_order, morphine_dose),
    }
}

fn order_of<'a>(mar: &'a Value, id: &str) -> &'a Value {
    mar["orders"].as_array().and_then(|os| os.iter().find(|o| o["order"] == id)).unwrap_or_else(|| panic!("order {id}"))
}

fn statuses(o: &Value) -> Vec<String> {
    o["due"]
        .as_array()
        .map(|d| d.iter().map(|r| r["status"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn dtk_mar_json_marks_each_due_time_given_not_given_due_overdue_or_prn_with_the_covering_entry() {
    let c = charted();
    let out = c.tv.dtk(Some(NURSE), &["mar", "--patient", MRN, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mar: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (mar["mrn"].as_str(), mar["time_zone"].as_str(), mar["window_minutes"].as_i64()),
        (Some(MRN), Some("UTC"), Some(60))
    );

    // Every 4 hours from five hours ago: given ten minutes late, so the next is due 50 minutes ago — due now.
    let m = order_of(&mar, &c.metoprolol.0);
    assert_eq!(statuses(m)[..2], ["given", "due"]);
    assert_eq!(m["due"][0]["entry_id"], c.metoprolol.1.as_str());
    assert_eq!(m["due"][0]["given_at"], at(c.now - Duration::minutes(290)).as_str());
    assert_eq!(m["due"][1]["at"], at(c.now - Duration::minutes(50)).as_str());
    // Every 8 hours, nothing given: overdue, then the next one later today.
    assert_eq!(statuses(order_of(&mar, &c.furosemide))[..2], ["overdue", "scheduled"]);
    // Refused: not given with the reason, and the next one (30 minutes from now) is due.
    let o = order_of(&mar, &c.ondansetron.0);
    assert_eq!(statuses(o)[..2], ["not-given", "due"]);
    assert_eq!(
        (o["due"][0]["reason"].as_str(), o["due"][0]["entry_id"].as_str()),
        (Some("Refused by patient"), Some(c.ondansetron.1.as_str()))
    );
    // As needed every 4 hours, last given two hours ago: the next may be given in two hours.
    let p = order_of(&mar, &c.morphine.0);
    assert_eq!((p["kind"].as_str(), statuses(p)), (Some("prn"), vec!["prn".to_string()]));
    assert_eq!(p["due"][0]["entry_id"], c.morphine.1.as_str());
    assert_eq!(p["prn"]["next_allowed_at"], at(c.now + Duration::hours(2)).as_str());
    assert_eq!(p["prn"]["min_interval_minutes"], 240);
    // The census orders are there with their timing: Garcia's simvastatin at bedtime.
    let census =
        mar["orders"].as_array().expect("orders").iter().find(|o| o["medication"] == "Simvastatin 40 MG Oral Tablet");
    assert_eq!(census.map(|o| (o["source"].as_str(), o["timing"].as_str())), Some((Some("census"), Some("21:00"))));
}

#[test]
fn a_dose_charted_now_for_an_overdue_row_turns_that_row_to_given_with_its_time() {
    let c = charted();
    let (mut ws, nurse) = c.tv.sign_in(NURSE);
    // Furosemide every 8 hours, due five hours ago and never given: charted now, late.
    let late = dose(&mut ws, &nurse, ("4603", "furosemide"), c.now, true, false);
    let out = c.tv.dtk(Some(NURSE), &["mar", "--patient", MRN, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mar: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = order_of(&mar, &c.furosemide);
    assert_eq!(statuses(f)[..2], ["given", "scheduled"]);
    assert_eq!(
        (f["due"][0]["entry_id"].as_str(), f["due"][0]["given_at"].as_str()),
        (Some(late.as_str()), Some(at(c.now).as_str()))
    );
    assert_eq!(f["due"][1]["at"], at(c.now + Duration::hours(8)).as_str());
}

#[test]
fn dtk_mar_prints_the_schedule_for_a_nurse_and_refuses_an_unknown_patient_or_an_administrator() {
    let c = charted();
    let out = c.tv.dtk(Some(NURSE), &["mar", "--patient", MRN]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "MAR of GARCIA, Elena (MRN DEV2001)",
        "Codeine",
        "overdue",
        "not given (Refused by patient)",
        "prn: last dose",
        "metoprolol",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains(&format!("entry {}", c.metoprolol.1)), "the covering entry is named:\n{text}");

    let unknown = c.tv.dtk(Some(NURSE), &["mar", "--patient", "NOPE-1"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no patient with this MRN"), "{}", stderr(&unknown));
    let admin = c.tv.dtk(Some(ADMIN), &["mar", "--patient", MRN]);
    assert_eq!(admin.status.code(), Some(1), "IT administrators read no patient data: {}", stderr(&admin));
}

/// The demo unit's practice downtime began `DEMO_OUTAGE_HOURS` before it was loaded and its census's last doses keep
/// their distance from that start, so a newcomer finds a dose overdue: Okafor's metoprolol, every 6 hours, last given
/// five hours before the outage, was due two hours ago.
#[test]
fn the_demo_unit_has_a_dose_overdue_to_practise_on() {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), r#"{ "time_zone": "UTC" }"#).expect("site.json");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("whole seconds");
    let (mut ws, admin) = tv.sign_in(ADMIN);
    ws.load_demo_unit(&admin, &FixedClock::new(now)).expect("demo");
    let nurse = ws
        .sign_in("demo.nurse", &dtk::crypto::Password::new(dtk::api::DEMO_PASSWORD.into()), &SystemClock)
        .expect("demo nurse");
    let mar = ws.mar(&nurse, "DEV2003", &FixedClock::new(now)).expect("MAR");
    let outage = now - Duration::hours(dtk::api::DEMO_OUTAGE_HOURS);
    assert_eq!(mar.from, at(outage));
    let metoprolol =
        mar.orders.iter().find(|o| o.medication.starts_with("Metoprolol")).expect("the demo's metoprolol order");
    let first = &metoprolol.due[0];
    assert_eq!((first.at.clone(), first.status.as_str()), (Some(at(outage + Duration::hours(1))), "overdue"));
    let prn = mar.orders.iter().find(|o| o.kind == dtk::mar::OrderKind::Prn).expect("acetaminophen as needed");
    assert!(prn.prn.as_ref().and_then(|p| p.last_dose_at.as_ref()).is_some(), "the PRN's last dose is shown: {prn:?}");
}
