//! The printed downtime MAR (issue 16 item 4, paper): each order's due hours shaded on the 24-hour grid, from the
//! same schedule as `Workstation::mar`, for a census written with the FHIR R4 Timing examples (BID, every 8 hours,
//! timeOfDay, when) plus an as-needed order and one the schedule cannot read. Checked on the page content itself:
//! the shaded boxes' positions, not only the text.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use dtk::api::EntryOptions;
use dtk::clock::FixedClock;

use crate::support::*;

const MRN: &str = "DEV2001";
const GARCIA: &str = "urn:uuid:6d36ab97-6dfa-548b-a698-fca1bc1aba2f";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// The grid of the printed MAR (src/print/mar_grid.rs): where the hour columns and the order rows are, in mm.
const GRID_X: f32 = 12.0 + 78.0;
const HOUR_W: f32 = (297.0 - 24.0 - 78.0) / 24.0;
const FIRST_ROW_Y: f32 = 66.0 + 12.0 + 7.0;
const ROW_H: f32 = 14.0;
const ROWS_PER_PAGE: usize = 6;
const MM_PER_PT: f32 = 25.4 / 72.0;

fn request(id: &str, code: &str, name: &str, timing: Value, prn: bool) -> Value {
    let mut dosage = json!({
        "text": format!("{name} as ordered"),
        "timing": timing,
        "route": { "text": "Oral" },
        "doseAndRate": [{ "doseQuantity": { "value": 1, "unit": "tablet" } }]
    });
    if prn {
        dosage["asNeededBoolean"] = json!(true);
    }
    json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": {
        "resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
        "medicationCodeableConcept": { "coding": [{ "system": RXNORM, "code": code, "display": name }], "text": name },
        "subject": { "reference": GARCIA }, "authoredOn": "2026-11-19T09:30:00Z",
        "dosageInstruction": [dosage]
    }})
}

fn given(id: &str, code: &str, name: &str, at: &str, order: &str) -> Value {
    json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": {
        "resourceType": "MedicationAdministration", "id": id, "status": "completed",
        "medicationCodeableConcept": { "coding": [{ "system": RXNORM, "code": code, "display": name }], "text": name },
        "subject": { "reference": GARCIA }, "effectiveDateTime": at,
        "request": { "reference": format!("urn:uuid:{order}") }
    }})
}

/// The sample census with Garcia's medications replaced by the FHIR R4 Timing examples.
fn timing_census() -> Vec<u8> {
    let mut bundle: Value = serde_json::from_slice(&census_bytes()).expect("census json");
    let entries = bundle["entry"].as_array_mut().expect("entries");
    entries.retain(|e| {
        let r = &e["resource"];
        let med = matches!(r["resourceType"].as_str(), Some("MedicationRequest" | "MedicationAdministration"));
        !(med && r["subject"]["reference"] == GARCIA)
    });
    let gts = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation";
    entries.extend([
        request("a0000000-0000-4000-8000-000000000001", "6918", "Metoprolol 25 MG", json!({ "code": { "coding": [{ "system": gts, "code": "BID" }] } }), false),
        request("a0000000-0000-4000-8000-000000000002", "2193", "Ceftriaxone 1 G", json!({ "repeat": { "frequency": 1, "period": 8, "periodUnit": "h" } }), false),
        request("a0000000-0000-4000-8000-000000000003", "4603", "Furosemide 40 MG", json!({ "repeat": { "frequency": 2, "period": 1, "periodUnit": "d", "timeOfDay": ["08:00:00", "20:00:00"] } }), false),
        request("a0000000-0000-4000-8000-000000000004", "198211", "Simvastatin 40 MG", json!({ "repeat": { "when": ["HS"] } }), false),
        request("a0000000-0000-4000-8000-000000000005", "161", "Acetaminophen 325 MG", json!({ "repeat": { "frequency": 1, "period": 4, "periodUnit": "h" } }), true),
        request("a0000000-0000-4000-8000-000000000006", "311034", "Insulin regular", json!({ "code": { "text": "before meals per sliding scale" } }), false),
        given("b0000000-0000-4000-8000-000000000001", "2193", "Ceftriaxone 1 G", "2026-11-21T02:00:00Z", "a0000000-0000-4000-8000-000000000002"),
        given("b0000000-0000-4000-8000-000000000002", "161", "Acetaminophen 325 MG", "2026-11-21T04:30:00Z", "a0000000-0000-4000-8000-000000000005"),
    ]);
    let len = entries.len();
    // Its own words, as an EHR writes them: what the nurse reads for a timing the schedule cannot lay out.
    bundle["entry"][len - 3]["resource"]["dosageInstruction"][0]["text"] =
        json!("4 units subcutaneous before meals per sliding scale");
    serde_json::to_vec(&bundle).expect("json")
}

/// The shaded boxes of one page: (column, row on the page), read from the page's drawing operations.
fn shaded_cells(doc: &lopdf::Document, page: u32) -> BTreeSet<(usize, usize)> {
    let id = *doc.get_pages().get(&page).expect("page");
    let content = lopdf::content::Content::decode(&doc.get_page_content(id)).expect("decode");
    let mut fill = Vec::new();
    let mut out = BTreeSet::new();
    let num = |o: &lopdf::Object| o.as_float().expect("number");
    for op in content.operations {
        match op.operator.as_str() {
            "rg" => fill = op.operands.iter().map(num).collect(),
            // The first corner of a box is its top left: the column and row it shades.
            "m" if fill == [0.8, 0.8, 0.8] => {
                let (x, y) = (num(&op.operands[0]) * MM_PER_PT, 210.0 - num(&op.operands[1]) * MM_PER_PT);
                let col = ((x - GRID_X) / HOUR_W).round();
                let row = ((y - FIRST_ROW_Y) / ROW_H).round();
                assert!(col >= 0.0 && row >= 0.0, "a shaded box outside the grid at {x} mm, {y} mm");
                out.insert((col as usize, row as usize));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_printed_mar_shades_the_hours_the_schedule_says_a_dose_is_due() {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("site.json"), r#"{ "time_zone": "UTC" }"#).expect("site.json");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &timing_census(), &FixedClock::new(datetime!(2026-11-21 05:30 UTC))).expect("census");
    ws.start_episode(
        &charge,
        dtk::episodes::Kind::Real,
        Default::default(),
        &FixedClock::new(datetime!(2026-11-21 06:00 UTC)),
    )
    .expect("episode");
    // The 09:00 metoprolol is given at 09:05, during the episode.
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let mut r = sample_response("medication-administration");
    r = answer(
        r,
        "medication",
        json!([{ "valueCoding": { "system": RXNORM, "code": "6918", "display": "metoprolol" } }]),
    );
    r = answer(r, "time-given", json!([{ "valueDateTime": "2026-11-21T09:05:00Z" }]));
    if let Some(items) = r["item"].as_array_mut() {
        items.retain(|i| !["prn", "prn-reason", "prn-effect"].iter().any(|l| i["linkId"] == *l));
    }
    let options = EntryOptions {
        sign: true,
        allergy_override: Some("Tolerated before".into()),
        confirm_not_duplicate: true,
        ..EntryOptions::default()
    };
    let clock = FixedClock::new(datetime!(2026-11-21 09:40 UTC));
    ws.add_entry(&nurse, &for_patient(r, MRN), &options, &FixedClock::new(datetime!(2026-11-21 09:10 UTC)))
        .expect("dose charted");

    let mar = ws.mar(&nurse, MRN, &clock).expect("the MAR");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let pdf = ws.print_mar(&charge, &clock, &mut |_| {}).expect("printed MAR");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("mar.pdf");
    std::fs::write(&file, &pdf.bytes).expect("write");
    let pages = pages_text(&file);
    let first = pages.iter().position(|p| p.contains(&format!("MRN {MRN}"))).expect("Garcia's MAR") as u32 + 1;
    let doc = lopdf::Document::load_mem(&pdf.bytes).expect("a PDF");

    // What the schedule says, hour by hour of the grid (09:00 today to 08:59 tomorrow).
    let grid_start = datetime!(2026-11-21 09:00 UTC);
    let expected: Vec<BTreeSet<usize>> = mar
        .orders
        .iter()
        .map(|o| {
            o.due
                .iter()
                .filter_map(|d| d.at.as_deref().and_then(dtk::clock::parse_stamp))
                .filter(|t| *t >= grid_start && *t < grid_start + Duration::hours(24))
                .map(|t: OffsetDateTime| (t - grid_start).whole_hours() as usize)
                .collect()
        })
        .collect();
    let mut printed = vec![BTreeSet::new(); mar.orders.len()];
    for page in 0..mar.orders.len().div_ceil(ROWS_PER_PAGE) {
        for (col, row) in shaded_cells(&doc, first + page as u32) {
            let i = page * ROWS_PER_PAGE + row;
            assert!(i < printed.len(), "a shaded box on a row with no order (row {row} of page {page})");
            printed[i].insert(col);
        }
    }
    assert_eq!(printed, expected, "the shaded boxes are the schedule's due hours");

    // The FHIR R4 Timing examples in hours of the day.
    let hours_of = |name: &str| -> BTreeSet<u8> {
        let i = mar.orders.iter().position(|o| o.medication.contains(name)).unwrap_or_else(|| panic!("{name}"));
        printed[i].iter().map(|c| ((9 + c) % 24) as u8).collect()
    };
    assert_eq!(hours_of("Metoprolol"), BTreeSet::from([9, 21]), "BID");
    assert_eq!(hours_of("Ceftriaxone"), BTreeSet::from([10, 18, 2]), "every 8 hours from the 02:00 dose");
    assert_eq!(
        hours_of("Furosemide"),
        BTreeSet::from([20, 8]),
        "timeOfDay 08:00 and 20:00 (this morning's is overdue)"
    );
    assert_eq!(hours_of("Simvastatin"), BTreeSet::from([21]), "when HS");
    assert!(hours_of("Acetaminophen").is_empty() && hours_of("Insulin").is_empty(), "PRN and see-order are not shaded");

    let text = pages[first as usize - 1..].join(" ");
    for shown in [
        "PRN (as needed) · at least 4 h apart",
        "given 21 Nov 04:30 (EHR)",
        "SEE ORDER: 4 units subcutaneous before meals per sliding scale",
        "OVERDUE since 08:00",
        "given 21 Nov 02:00 (EHR)",
        "given 21 Nov 09:05",
    ] {
        assert!(text.contains(shown), "the MAR says {shown:?}: {text}");
    }
}
