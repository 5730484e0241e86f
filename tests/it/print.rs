//! Printing, checked with real tools the way paper is checked: poppler's `pdftotext` reads what a nurse reads,
//! `pdftoppm` renders pages as a 150 dpi scan would see them, and our reader and `zbarimg` decode the QR code and the
//! MRN barcode from those images. Needs the Debian packages poppler-utils and zbar-tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dtk::api::{BlankFor, EntryOptions, ErrorCode, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::episodes::{Declaration, Kind};
use dtk::paper::Payload;
use dtk::print::{self, read, Label, Progress, Stamp};

use crate::support::{
    copy_folder, pages_text, restore_folder, scan_page, squash, stderr, stdout, tool, TestVault, CHARGE, HIM, NURSE,
};

const LUKASZ: &str = "MÜLLER-ØSTER, Łukasz";
const HANGUL: &str = "김, 민준";
const LONG_FAMILY: &str = "Müller-Øster-Wiśniewska-Kowalczyk-Zielińska-Szczepańska-Dąbrowska-Lewandowska-Grabowska";
const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";

/// The synthetic 5 East census plus three patients whose names test the fonts and the wrapping.
fn census_bytes() -> Vec<u8> {
    let raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/census-5-east.json")).expect("census");
    let mut bundle: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    let entries = bundle["entry"].as_array_mut().expect("entries");
    let template = entries.iter().find(|e| e["resource"]["resourceType"] == "Patient").expect("a patient").clone();
    for (id, family, given, dob) in [
        ("p-lukasz", "Müller-Øster", vec!["Łukasz"], "1961-03-14"),
        ("p-kim", "김", vec!["민준"], "1988-07-01"),
        ("p-long", LONG_FAMILY, vec!["Bartholomäus", "Maximilian", "Józef"], "1944-02-29"),
    ] {
        let mut e = template.clone();
        e["fullUrl"] = format!("urn:uuid:{id}").into();
        let r = &mut e["resource"];
        r["id"] = id.into();
        r["name"] = serde_json::json!([{ "use": "official", "family": family, "given": given }]);
        r["birthDate"] = dob.into();
        let mrn = match id {
            "p-lukasz" => "DEV3001",
            "p-kim" => "DEV3002",
            _ => "DEV3003",
        };
        r["identifier"] = serde_json::json!([{
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR" }] },
            "system": MRN_SYSTEM, "value": mrn
        }]);
        entries.push(e);
    }
    serde_json::to_vec(&bundle).expect("bytes")
}

/// A vault with the census imported and an episode open (a drill when asked).
fn unit(kind: Kind) -> TestVault {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census import");
    ws.start_episode(&charge, kind, Declaration { reason: Some("test".into()), ..Default::default() }, &SystemClock)
        .expect("episode");
    tv
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write pdf");
    p
}

/// Every symbol zbarimg finds, as (type, text).
fn zbar(png: &Path) -> Vec<(String, String)> {
    let out = tool("zbarimg", &["--quiet", "--raw", "-Sbinary=0", png.to_str().expect("p")]);
    let typed = tool("zbarimg", &["--quiet", png.to_str().expect("p")]);
    let _ = out;
    String::from_utf8_lossy(&typed.stdout)
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, v)| (t.to_string(), v.to_string())))
        .collect()
}

/// Checks a rendered page: our reader and zbarimg both read the QR code, zbarimg reads the MRN barcode.
fn check_codes(png: &Path, expect_mrn: Option<&str>) -> Payload {
    let ours = read::read_file(png, 1).expect("our reader decodes the page's QR code");
    let symbols = zbar(png);
    let qr: Vec<&String> = symbols.iter().filter(|(t, _)| t == "QR-Code").map(|(_, v)| v).collect();
    assert_eq!(qr, vec![&ours.to_text()], "zbarimg reads the same QR code");
    if let Some(mrn) = expect_mrn {
        assert!(
            symbols.iter().any(|(t, v)| t == "CODE-128" && v == mrn),
            "the Code 128 barcode reads as the MRN {mrn}: {symbols:?}"
        );
    }
    ours
}

/// Every word pdftotext places must lie within the page.
fn assert_inside_page(pdf: &Path, dir: &Path) {
    let html = dir.join("bbox.html");
    let out = tool("pdftotext", &["-bbox", pdf.to_str().expect("p"), html.to_str().expect("p")]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&html).expect("bbox");
    let mut page = (0.0f64, 0.0f64);
    let attr = |l: &str, name: &str| -> f64 {
        let key = format!("{name}=\"");
        let start = l.find(&key).map(|i| i + key.len()).expect("attribute");
        l[start..].split('"').next().and_then(|v| v.parse().ok()).expect("number")
    };
    let mut words = 0;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with("<page ") {
            page = (attr(l, "width"), attr(l, "height"));
        } else if l.starts_with("<word ") {
            words += 1;
            let (x0, y0, x1, y1) = (attr(l, "xMin"), attr(l, "yMin"), attr(l, "xMax"), attr(l, "yMax"));
            assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= page.0 + 0.5 && y1 <= page.1 + 0.5, "text outside the page: {l}");
        }
    }
    assert!(words > 50, "pdftotext found the words");
}

fn question_texts(form: &dtk::forms::Form) -> Vec<String> {
    form.all_items().iter().filter_map(|i| i.text.clone()).map(|t| squash(&t)).collect()
}

fn labels(ws: &Workstation, s: &Session) -> BTreeMap<String, (String, Option<String>)> {
    ws.patients(s)
        .expect("patients")
        .into_iter()
        .map(|p| (p.record.mrn.clone(), (p.display_name(), p.record.birth_date.clone())))
        .collect()
}

#[test]
fn blank_forms_for_the_whole_unit_carry_each_patients_header_and_codes() {
    let tv = unit(Kind::Real);
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let episode = ws.current_episode(&charge).expect("episode").expect("open").id;
    let mut seen = Vec::new();
    let pdf = ws
        .print_blank(&charge, "vital-signs", BlankFor::Census, &SystemClock, &mut |p: Progress| seen.push(p))
        .expect("print");
    assert_eq!(seen.len(), 15, "progress after each patient");
    assert_eq!(seen.last(), Some(&Progress { done: 15, total: 15 }));
    let dir = tempfile::tempdir().expect("tmp");
    let file = write(dir.path(), "blank.pdf", &pdf.bytes);
    let pages = pages_text(&file);
    assert_eq!(pages.len(), pdf.pages);
    let per_patient = pdf.pages / 15;
    assert!(per_patient >= 1 && pdf.pages % 15 == 0, "every patient gets the same number of pages");
    let form = ws.find_form("vital-signs").expect("form").clone();
    let people = labels(&ws, &charge);
    for (mrn, (name, dob)) in &people {
        let index = pages.iter().position(|p| p.contains(&format!("MRN {mrn}"))).expect("a page for every patient");
        let copy = &pages[index..index + per_patient];
        for (k, page) in copy.iter().enumerate() {
            assert!(page.contains(&format!("MRN {mrn}")), "every page names the MRN");
            assert!(page.contains(&format!("DOB {}", dob.as_deref().unwrap_or("unknown"))));
            assert!(page.contains(&format!("Page {} of {per_patient}", k + 1)), "numbered per patient");
            assert!(page.contains("5 East") && page.contains("printed by kcharge"));
        }
        if !name.starts_with("MÜLLER-ØSTER-WI") {
            assert!(copy[0].contains(name.as_str()), "the name {name} prints as is");
        }
        let all = copy.join(" ");
        for q in question_texts(&form) {
            assert!(all.contains(&q), "question '{q}' printed for {mrn}");
        }
    }
    assert!(pages.iter().any(|p| p.contains(LUKASZ)), "diacritics survive");
    assert!(pages.iter().any(|p| p.contains(HANGUL)), "Hangul prints through the fallback font");
    assert_inside_page(&file, dir.path());

    // The pages of Łukasz and of the Hangul name, scanned: the codes give back what was printed.
    for mrn in ["DEV3001", "DEV3002", "DEV3003"] {
        let index = pages.iter().position(|p| p.contains(&format!("MRN {mrn}"))).expect("page");
        let png = scan_page(&file, index + 1, dir.path());
        let payload = check_codes(&png, Some(mrn));
        assert_eq!(payload.form, form.canonical());
        assert_eq!(payload.mrn.as_deref(), Some(mrn));
        assert_eq!(payload.mrn_system.as_deref(), Some(MRN_SYSTEM));
        assert_eq!(payload.episode.as_deref(), Some(episode.as_str()));
        assert_eq!(payload.entry, None);
    }
    // The long name wraps inside the label rather than running off it.
    let long = pages.iter().find(|p| p.contains("MRN DEV3003")).expect("long name page");
    assert!(long.contains("MÜLLER-ØSTER-WIŚNIEWSKA") && long.contains("Bartholomäus Maximilian Józef"), "{long}");
}

#[test]
fn a_nurse_prints_for_one_patient_but_not_for_the_unit_and_every_print_is_audited() {
    let tv = unit(Kind::Real);
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let forbidden = |e: dtk::api::ApiError| assert_eq!(e.code, ErrorCode::Forbidden, "{}", e.message);
    forbidden(ws.print_blank(&nurse, "vital-signs", BlankFor::Census, &SystemClock, &mut |_| {}).expect_err("unit"));
    forbidden(ws.print_mar(&nurse, &SystemClock, &mut |_| {}).expect_err("mar"));
    forbidden(ws.print_census(&nurse, &SystemClock).expect_err("census"));
    let one = ws
        .print_blank(
            &nurse,
            "http://downtimekit.example.org/fhir/Questionnaire/vital-signs",
            BlankFor::Patient("DEV2004"),
            &SystemClock,
            &mut |_| {},
        )
        .expect("one patient");
    assert!(one.bytes.starts_with(b"%PDF-"));
    let unlabelled =
        ws.print_blank(&nurse, "nursing-note", BlankFor::Nobody, &SystemClock, &mut |_| {}).expect("blank");
    let dir = tempfile::tempdir().expect("tmp");
    let text = pages_text(&write(dir.path(), "u.pdf", &unlabelled.bytes)).join(" ");
    assert!(text.contains("Write the patient's details or affix a label") && !text.contains("MRN DEV"));
    let e = ws.print_blank(&nurse, "no-such-form", BlankFor::Nobody, &SystemClock, &mut |_| {}).expect_err("unknown");
    assert_eq!(e.code, ErrorCode::NotFound);
    let e =
        ws.print_blank(&nurse, "vital-signs", BlankFor::Patient("NOPE1"), &SystemClock, &mut |_| {}).expect_err("mrn");
    assert_eq!(e.code, ErrorCode::NotFound);
    let (mut ws, him) = tv.sign_in(HIM);
    forbidden(ws.print_census(&him, &SystemClock).expect_err("him census"));

    let rows: Vec<(String, String, String)> = {
        let raw = tv.raw();
        let mut st = raw
            .prepare("SELECT action, actor, target FROM audit WHERE action LIKE 'print.%' ORDER BY seq")
            .expect("sql");
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("rows");
        rows.map(|r| r.expect("row")).collect()
    };
    assert_eq!(rows.len(), 2, "only the prints that happened are audited: {rows:?}");
    assert!(rows.iter().all(|(a, who, _)| a == "print.blank" && who == NURSE.0));
    assert!(rows[0].2.starts_with("patients:") && rows[1].2 == "unlabelled");
    let (ws, admin) = tv.sign_in(crate::support::ADMIN);
    assert!(ws.verify(&admin).expect("verify").is_empty(), "the audit chain still verifies");
}

fn vital_signs_response(mrn: &str) -> serde_json::Value {
    let raw =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/forms/responses/vital-signs.json")).expect("r");
    let mut v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    v["subject"]["identifier"]["value"] = mrn.into();
    v
}

#[test]
fn a_filled_entry_prints_every_answer_its_versions_and_ids_and_marks_amendments_and_errors() {
    let tv = unit(Kind::Real);
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let response = vital_signs_response("DEV3001");
    let saved = ws
        .add_entry(&nurse, &response, &EntryOptions { sign: true, ..Default::default() }, &SystemClock)
        .expect("entry")
        .saved;
    let dir = tempfile::tempdir().expect("tmp");
    let form = ws.find_form("vital-signs").expect("form").clone();

    let signed = ws.print_entry(&nurse, &saved.id, &SystemClock).expect("print entry");
    let file = write(dir.path(), "entry.pdf", &signed.bytes);
    let pages = pages_text(&file);
    let all = pages.join(" ");
    assert!(pages[0].contains(LUKASZ) && pages[0].contains("MRN DEV3001") && pages[0].contains("DOB 1961-03-14"));
    assert!(pages[0].contains(&format!("Page 1 of {}", pages.len())));
    for q in question_texts(&form) {
        assert!(all.contains(&q), "question '{q}' on the printed entry");
    }
    for needle in ["Author jnurse", "Clinical time 2026-11-21T08:00:00-05:00", "Status signed", "Signature", &saved.id]
    {
        assert!(all.contains(needle), "'{needle}' on the printed entry: {all}");
    }
    assert!(!all.contains("AMENDED") && !all.contains("ENTERED IN ERROR"));
    let payload = check_codes(&scan_page(&file, 1, dir.path()), Some("DEV3001"));
    assert_eq!(payload.entry.as_deref(), Some(saved.id.as_str()));
    assert_eq!(payload.version, Some(1));
    assert_eq!(payload.hash.as_deref(), Some(&saved.content_hash[..16]));

    // Amended: the new version is printed and marked, and the history lists both.
    let mut changed = response.clone();
    changed["authored"] = "2026-11-21T10:50:00-05:00".into();
    let amended = ws
        .amend_entry(
            &nurse,
            &saved.id,
            &changed,
            &EntryOptions { reason: Some("wrong pulse".into()), ..Default::default() },
            &SystemClock,
        )
        .expect("amend")
        .saved;
    let file = write(dir.path(), "amended.pdf", &ws.print_entry(&nurse, &saved.id, &SystemClock).expect("print").bytes);
    let all = pages_text(&file).join(" ");
    assert!(
        all.contains("AMENDED — version 2")
            && all.contains("wrong pulse")
            && all.contains("Version 1")
            && all.contains("(printed)")
    );
    let payload = check_codes(&scan_page(&file, 1, dir.path()), Some("DEV3001"));
    assert_eq!((payload.version, payload.hash.as_deref()), (Some(2), Some(&amended.content_hash[..16])));

    // Entered in error: marked on every page.
    ws.enter_in_error(&nurse, &saved.id, "wrong patient", &SystemClock).expect("error");
    let file = write(dir.path(), "error.pdf", &ws.print_entry(&nurse, &saved.id, &SystemClock).expect("print").bytes);
    for page in pages_text(&file) {
        assert!(page.contains("ENTERED IN ERROR"), "every page is marked: {page}");
    }
    let audited: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'print.entry' AND actor = ?1", [NURSE.0], |r| r.get(0))
        .expect("count");
    assert_eq!(audited, 3);
}

#[test]
fn a_long_general_form_with_nested_groups_and_repeats_flows_over_pages() {
    let form = dtk::forms::load_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/print/print-layout-test.json"
    )))
    .expect("the test form loads");
    assert!(form.all_items().len() >= 40);
    let stamp = Stamp {
        unit: "5 East".into(),
        printed_by: "Test Charge (kcharge)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: Some("ep-test".into()),
        drill: true,
        workstation: Some("T5A-TEST".into()),
        record: "512·3fa2c1d0".into(),
    };
    let label = Label {
        name: format!("{}, Łukasz Bartholomäus", LONG_FAMILY.to_uppercase()),
        birth_date: Some("1944-02-29".into()),
        mrn_system: MRN_SYSTEM.into(),
        mrn: "DEV3003".into(),
        location: Some("5 East room 512, bed by the window next to the nurses' station".into()),
    };
    let pdf = print::blank_forms(&form, &[label], &stamp, &mut |_| {}).expect("print");
    assert!(pdf.pages >= 3, "a long form flows onto further pages ({} pages)", pdf.pages);
    let dir = tempfile::tempdir().expect("tmp");
    let file = write(dir.path(), "long.pdf", &pdf.bytes);
    let pages = pages_text(&file);
    // The DRILL watermark is text too: pdftotext may read it in the middle of a question.
    let all = pages.join(" ").replace(" DRILL ", " ");
    for q in question_texts(&form) {
        assert!(all.contains(&q), "question '{q}' printed");
    }
    for (k, page) in pages.iter().enumerate() {
        assert!(page.contains(&format!("Page {} of {}", k + 1, pages.len())));
        assert!(page.contains("DRILL"), "a drill is marked on every page");
        assert!(page.contains("MRN DEV3003"));
    }
    assert!(
        all.contains("(1 of 2; add a sheet for more)") && all.contains("(2 of 2; add a sheet for more)"),
        "repeating group"
    );
    assert!(all.contains("Visitors present (one name per row)"), "repeating question");
    assert!(all.contains("Answer only if “Was the deterioration escalated?” is yes"), "enableWhen in words");
    assert!(all.contains("…"), "the over-long title is shortened");
    assert_inside_page(&file, dir.path());
    let last = scan_page(&file, pages.len(), dir.path());
    let payload = check_codes(&last, Some("DEV3003"));
    assert_eq!(payload.form, form.canonical());
    assert_eq!(payload.episode.as_deref(), Some("ep-test"));
}

#[test]
fn the_mar_and_the_census_sheet_list_the_unit_with_barcodes() {
    let tv = unit(Kind::Drill);
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let dir = tempfile::tempdir().expect("tmp");
    let mut calls = 0;
    let mar = ws.print_mar(&charge, &SystemClock, &mut |_| calls += 1).expect("mar");
    assert_eq!(calls, 15);
    let file = write(dir.path(), "mar.pdf", &mar.bytes);
    let pages = pages_text(&file);
    let garcia = pages.iter().find(|p| p.contains("MRN DEV2001")).expect("Garcia's MAR");
    assert!(garcia.contains("GARCIA, Elena") && garcia.contains("ALLERGIES: Codeine"), "{garcia}");
    let census = dtk::census::parse(&census_bytes(), None).expect("census");
    let elena = census.patients.iter().find(|p| p.mrn == "DEV2001").expect("Elena");
    for m in &elena.medications {
        assert!(garcia.contains(&squash(&m.name)), "medication {} on the MAR", m.name);
    }
    assert!(garcia.contains(":59 next day") && (0..24).all(|h| garcia.contains(&format!("{h:02}"))), "a 24-hour grid");
    assert!(pages.iter().all(|p| p.contains("DRILL")), "drill marked on every MAR page");
    assert!(pages.iter().any(|p| p.contains(HANGUL)));
    let png = scan_page(&file, pages.iter().position(|p| p.contains("MRN DEV3002")).expect("kim") + 1, dir.path());
    assert_eq!(check_codes(&png, Some("DEV3002")).form, print::MAR_FORM);

    let sheet = ws.print_census(&charge, &SystemClock).expect("census sheet");
    let file = write(dir.path(), "census.pdf", &sheet.bytes);
    let text = pages_text(&file).join(" ");
    for p in &census.patients {
        assert!(text.contains(&p.mrn), "MRN {} listed", p.mrn);
    }
    assert!(text.contains(LUKASZ) && text.contains(HANGUL) && text.contains(&format!("Page 1 of {}", sheet.pages)));
    assert_inside_page(&file, dir.path());
    let png = scan_page(&file, 1, dir.path());
    let payload = check_codes(&png, None);
    assert_eq!((payload.form.as_str(), payload.mrn.as_deref()), (print::CENSUS_FORM, None));
    let barcodes: Vec<String> = zbar(&png).into_iter().filter(|(t, _)| t == "CODE-128").map(|(_, v)| v).collect();
    assert!(barcodes.len() >= 5, "the rows' barcodes scan: {barcodes:?}");
    assert!(barcodes.iter().all(|b| census.patients.iter().any(|p| &p.mrn == b)));
    let audited: Vec<String> = {
        let raw = tv.raw();
        let mut st = raw.prepare("SELECT action FROM audit WHERE action LIKE 'print.%' ORDER BY seq").expect("sql");
        let rows = st.query_map([], |r| r.get(0)).expect("rows");
        rows.map(|r| r.expect("row")).collect()
    };
    assert_eq!(audited, vec!["print.mar", "print.census"]);
}

#[test]
fn the_command_line_prints_and_reads_paper_back() {
    let tv = unit(Kind::Real);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("vs.pdf");
    let o = tv.dtk(
        Some(CHARGE),
        &["print", "blank", "--form", "vital-signs", "--patient", "DEV2004", "--out", out.to_str().expect("p")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Wrote") && out.exists());
    assert!(pages_text(&out)[0].contains("LINDQVIST, Åsa"));
    let o = tv.dtk(None, &["print", "read", out.to_str().expect("p")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let payload = Payload::parse(stdout(&o).trim()).expect("the payload");
    assert_eq!(payload.mrn.as_deref(), Some("DEV2004"));

    let census_out = dir.path().join("census.pdf");
    let o = tv.dtk(Some(NURSE), &["print", "census", "--out", census_out.to_str().expect("p")]);
    assert_eq!(o.status.code(), Some(1), "a nurse may not print for the unit");
    assert!(!census_out.exists(), "nothing written when refused");
    for args in
        [vec!["print", "mar"], vec!["print", "census"], vec!["print", "blank", "--form", "nursing-note", "--census"]]
    {
        let f = dir.path().join("unit.pdf");
        let mut a = args.clone();
        a.extend(["--out", f.to_str().expect("p")]);
        let o = tv.dtk(Some(CHARGE), &a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(std::fs::read(&f).expect("pdf").starts_with(b"%PDF-"));
    }
    let o = tv.dtk(None, &["print", "read", dir.path().join("missing.png").to_str().expect("p")]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn fail_reading_pages_that_are_not_ours_or_have_no_code() {
    let code = qrcode::QrCode::new(b"https://example.org/not-a-downtime-form").expect("qr");
    let n = code.width();
    let scale = 6;
    let size = (n + 8) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; size * size];
    for y in 0..size {
        for x in 0..size {
            let (mx, my) = ((x / scale).wrapping_sub(4), (y / scale).wrapping_sub(4));
            if mx < n && my < n && colors[my * n + mx] == qrcode::Color::Dark {
                pixels[y * size + x] = 0;
            }
        }
    }
    assert!(matches!(read::read_luma(size, size, &pixels), Err(read::ReadError::NotOurs(_))));
    assert!(matches!(read::read_luma(size, size, &vec![255; size * size]), Err(read::ReadError::NoCode)));
    let dir = tempfile::tempdir().expect("tmp");
    let junk = write(dir.path(), "junk.png", b"\x89PNG\r\n\x1a\nbroken");
    assert!(matches!(read::read_file(&junk, 1), Err(read::ReadError::Unreadable)));
    let fake_pdf = write(dir.path(), "fake.pdf", b"%PDF-1.7 nothing here");
    assert!(matches!(read::read_file(&fake_pdf, 1), Err(read::ReadError::Render(_))));
}

/// The record mark in a page's text: what follows "record " in the footer (`512·3fa2c1d0`).
fn record_mark(page: &str) -> Option<String> {
    let at = page.find("record ")?;
    let mark: String = page[at + 7..].chars().take_while(|c| c.is_ascii_hexdigit() || *c == '·').collect();
    (mark.contains('·')).then_some(mark)
}

#[test]
fn every_page_carries_the_vaults_record_and_a_rolled_back_or_replaced_vault_no_longer_matches_it() {
    let tv = unit(Kind::Real);
    let older = tempfile::tempdir().expect("copy");
    copy_folder(tv.path(), older.path());
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let pdf = ws.print_blank(&charge, "vital-signs", BlankFor::Census, &SystemClock, &mut |_| {}).expect("print");
    drop(ws);
    let dir = tempfile::tempdir().expect("tmp");
    let pages = pages_text(&write(dir.path(), "blank.pdf", &pdf.bytes));
    let marks: Vec<String> =
        pages.iter().map(|p| record_mark(p).unwrap_or_else(|| panic!("a page without its record: {p}"))).collect();
    assert!(marks.iter().all(|m| *m == marks[0]), "one print, one record: {marks:?}");
    let mark = marks[0].clone();

    let holds = tv.dtk(Some(CHARGE), &["verify", "--page", &mark, "--page", &mark.replace('·', ":")]);
    assert!(holds.status.success(), "{}", stderr(&holds));
    assert!(stdout(&holds).contains("holds the record each of the 2 printed page(s) names"), "{}", stdout(&holds));

    // The vault is rolled back to the copy taken before the print: on its own it verifies, the page catches it.
    restore_folder(older.path(), tv.path());
    assert!(tv.dtk(Some(CHARGE), &["verify"]).status.success(), "a rolled-back vault is consistent in itself");
    let rolled = tv.dtk(Some(CHARGE), &["verify", "--page", &mark]);
    assert_eq!(rolled.status.code(), Some(3), "{}", stderr(&rolled));
    // (Signing in to check writes rows again, so the number is there by then, with another MAC.)
    assert!(stderr(&rolled).contains("printed after: the vault was rolled back"), "{}", stderr(&rolled));

    // A vault set up afresh and used for longer holds a row of that number, with another MAC.
    let other = unit(Kind::Real);
    let (mut ows, ocharge) = other.sign_in(CHARGE);
    for _ in 0..3 {
        ows.print_blank(&ocharge, "vital-signs", BlankFor::Nobody, &SystemClock, &mut |_| {}).expect("print");
    }
    drop(ows);
    let replaced = other.dtk(Some(CHARGE), &["verify", "--page", &mark]);
    assert_eq!(replaced.status.code(), Some(3), "{}", stderr(&replaced));
    assert!(stderr(&replaced).contains("differs from the one this page was printed after"), "{}", stderr(&replaced));

    let ahead = other.dtk(Some(CHARGE), &["verify", "--page", "999999·3fa2c1d0"]);
    assert_eq!(ahead.status.code(), Some(3));
    assert!(stderr(&ahead).contains("does not hold the record"), "{}", stderr(&ahead));

    let typo = other.dtk(Some(CHARGE), &["verify", "--page", "512-3fa2"]);
    assert_eq!(typo.status.code(), Some(3));
    assert!(stderr(&typo).contains("not a printed record mark"), "{}", stderr(&typo));
}
