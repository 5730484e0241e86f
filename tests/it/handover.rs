//! The shift handover sheet (issue 16 item 5) on a fixed clock: last vitals, doses given since the last handover
//! and due in the next 12 hours (the MAR's schedule), notes since the last handover, unsigned entries; recording a
//! handover moves "since"; and `dtk handover` shows it, writes it as a PDF with the patient on every page, records it.

use serde_json::json;
use time::macros::datetime;
use time::OffsetDateTime;

use dtk::api::{EntryOptions, Session, Workstation};
use dtk::clock::FixedClock;

use crate::support::*;

const MRN: &str = "DEV2001";

fn at(t: OffsetDateTime) -> String {
    dtk::clock::stamp(t)
}

fn chart(
    ws: &mut Workstation,
    nurse: &Session,
    response: serde_json::Value,
    sign: bool,
    when: OffsetDateTime,
) -> String {
    let options = EntryOptions {
        sign,
        allergy_override: Some("Tolerated before".into()),
        confirm_not_duplicate: true,
        ..EntryOptions::default()
    };
    ws.add_entry(nurse, &for_patient(response, MRN), &options, &FixedClock::new(when)).expect("charted").saved.id
}

fn vitals(ws: &mut Workstation, nurse: &Session, taken: OffsetDateTime, heart_rate: i64) -> String {
    let mut r = answer(sample_response("vital-signs"), "measured-at", json!([{ "valueDateTime": at(taken) }]));
    r = answer(r, "heart-rate", json!([{ "valueInteger": heart_rate }]));
    chart(ws, nurse, r, true, taken)
}

fn note(ws: &mut Workstation, nurse: &Session, observed: OffsetDateTime, text: &str, sign: bool) -> String {
    let mut r = answer(sample_response("nursing-note"), "observed-at", json!([{ "valueDateTime": at(observed) }]));
    r = answer(r, "narrative", json!([{ "valueString": text }]));
    chart(ws, nurse, r, sign, observed)
}

fn enoxaparin(ws: &mut Workstation, nurse: &Session, given: OffsetDateTime) -> String {
    let mut r = sample_response("medication-administration");
    r = answer(
        r,
        "medication",
        json!([{ "valueCoding": { "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "67108", "display": "enoxaparin" } }]),
    );
    r = answer(r, "time-given", json!([{ "valueDateTime": at(given) }]));
    if let Some(items) = r["item"].as_array_mut() {
        items.retain(|i| !["prn", "prn-reason", "prn-effect"].iter().any(|l| i["linkId"] == *l));
    }
    chart(ws, nurse, r, true, given)
}

/// The census imported at 05:30, the episode declared at 06:00 (UTC), and the morning's charting.
fn morning() -> (TestVault, Workstation, Session) {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), r#"{ "time_zone": "UTC" }"#).expect("site.json");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &FixedClock::new(datetime!(2026-11-21 05:30 UTC))).expect("census");
    let declared = FixedClock::new(datetime!(2026-11-21 06:00 UTC));
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &declared).expect("episode");
    let (ws, nurse) = tv.sign_in(NURSE);
    (tv, ws, nurse)
}

#[test]
fn the_handover_sheet_lists_what_happened_since_the_last_handover_and_what_is_due_in_the_next_12_hours() {
    let (_tv, mut ws, nurse) = morning();
    let early_vitals = vitals(&mut ws, &nurse, datetime!(2026-11-21 07:00 UTC), 88);
    let early_note = note(&mut ws, &nurse, datetime!(2026-11-21 08:00 UTC), "Slept well overnight.", true);
    let draft = note(&mut ws, &nurse, datetime!(2026-11-21 08:30 UTC), "Family called", false);

    // Before any handover: everything since the downtime began.
    let sheet = ws.handover(&nurse, MRN, &FixedClock::new(datetime!(2026-11-21 08:40 UTC))).expect("sheet");
    assert_eq!((sheet.last_handover.as_ref(), sheet.since.as_str()), (None, "2026-11-21T06:00:00Z"));
    assert_eq!(sheet.vitals.as_ref().map(|v| v.entry_id.as_str()), Some(early_vitals.as_str()));
    assert_eq!(sheet.notes.iter().map(|n| n.entry_id.as_str()).collect::<Vec<_>>(), [early_note.as_str()]);
    assert!(sheet.notes[0].text.contains("Slept well overnight."), "{:?}", sheet.notes[0]);
    assert_eq!(sheet.unsigned.iter().map(|u| u.entry_id.as_str()).collect::<Vec<_>>(), [draft.as_str()]);

    let handed =
        ws.record_handover(&nurse, MRN, &FixedClock::new(datetime!(2026-11-21 08:45 UTC))).expect("handed over");
    let dose = enoxaparin(&mut ws, &nurse, datetime!(2026-11-21 09:05 UTC));
    let late_note = note(&mut ws, &nurse, datetime!(2026-11-21 10:00 UTC), "Walked the corridor twice.", true);
    let late_vitals = vitals(&mut ws, &nurse, datetime!(2026-11-21 10:05 UTC), 102);

    let sheet = ws.handover(&nurse, MRN, &FixedClock::new(datetime!(2026-11-21 10:30 UTC))).expect("sheet");
    assert_eq!(sheet.last_handover.as_ref(), Some(&handed));
    assert_eq!(sheet.since, "2026-11-21T08:45:00Z", "the unit's clock, as the due times");
    let v = sheet.vitals.as_ref().expect("vitals");
    assert_eq!(v.entry_id, late_vitals, "the newest vitals");
    assert!(v.values.iter().any(|a| a.value == "102"), "the heart rate as charted: {:?}", v.values);
    assert!(!v.values.iter().any(|a| a.value.contains("2026-11-21")), "the time is the sheet's, not an answer");
    assert_eq!(sheet.notes.iter().map(|n| n.entry_id.as_str()).collect::<Vec<_>>(), [late_note.as_str()], "only since");
    let given: Vec<(&str, Option<&str>)> =
        sheet.given.iter().map(|d| (d.medication.as_str(), d.entry_id.as_deref())).collect();
    assert_eq!(given.len(), 1, "{given:?}");
    assert!(given[0].0.starts_with("Enoxaparin") && given[0].1 == Some(dose.as_str()), "{given:?}");
    // Due in the next 12 hours (to 22:30): tonight's simvastatin, and this morning's 09:00 dose still not given;
    // tomorrow's 09:00 doses are beyond it.
    let due: Vec<(String, String)> = sheet
        .due
        .iter()
        .map(|d| {
            (
                d.medication.split(' ').next().unwrap_or("").to_string(),
                format!("{} {}", d.status, d.at.as_deref().unwrap_or("")),
            )
        })
        .collect();
    assert!(due.iter().any(|(m, s)| m == "Simvastatin" && s == "scheduled 2026-11-21T21:00:00Z"), "{due:?}");
    assert!(due.iter().any(|(_, s)| s == "overdue 2026-11-21T09:00:00Z"), "{due:?}");
    assert!(!due.iter().any(|(_, s)| s.contains("2026-11-22")), "{due:?}");
    assert!(!due.iter().any(|(m, _)| m == "Enoxaparin"), "given at 09:05: not due again today: {due:?}");
}

#[test]
fn dtk_handover_shows_prints_with_the_patient_on_every_page_and_records_the_handover() {
    let (tv, mut ws, nurse) = morning();
    vitals(&mut ws, &nurse, datetime!(2026-11-21 07:00 UTC), 88);
    for i in 0..25 {
        note(
            &mut ws,
            &nurse,
            datetime!(2026-11-21 07:30 UTC) + time::Duration::minutes(i),
            &"A long note. ".repeat(30),
            true,
        );
    }
    drop(ws);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("handover.pdf");
    let out = tv.dtk(Some(NURSE), &["handover", "--patient", MRN, "--out", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages = pages_text(&file);
    assert!(pages.len() > 1, "25 long notes take more than a page");
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains("GARCIA, Elena") && page.contains("MRN DEV2001"), "page {} names the patient", i + 1);
    }
    assert!(pages[0].contains("Last vital signs") && pages[0].contains("No handover recorded"), "{}", pages[0]);

    let out = tv.dtk(Some(NURSE), &["handover", "--patient", MRN, "--record"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Handover recorded at") && stdout(&out).contains("Unsigned entries:"));
    let out = tv.dtk(Some(NURSE), &["handover", "--patient", MRN, "--json"]);
    let sheet: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(sheet["last_handover"]["by"].as_str().is_some_and(|b| b.contains(NURSE.0)), "{sheet}");
    assert_eq!(sheet["notes"].as_array().map(Vec::len), Some(0), "nothing since the handover just recorded");

    let unknown = tv.dtk(Some(NURSE), &["handover", "--patient", "NOPE999"]);
    assert!(!unknown.status.success());
    assert!(!stderr(&unknown).contains("NOPE999"), "no MRN in the error: {}", stderr(&unknown));
}
