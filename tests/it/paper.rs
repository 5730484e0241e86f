//! Paper from a total outage (issue 14 item 3): blank forms printed before any episode, a scanned downtime MAR page
//! and paper from a workstation whose handoff file never arrived were refused at back-entry, though they are what
//! paper exists for. HIM now assigns such pages to an episode of their unit or to a paper-only episode it creates,
//! enters a MAR page as one entry per initialled dose, and every such entry says which page it came from, up to the
//! reconciliation report and the FHIR export; what is truly wrong is still refused.

use std::path::Path;

use dtk::api::{Assignment, BlankFor, Dose, ErrorCode, PaperAnswers, Session, WorklistQuery, Workstation};
use dtk::clock::SystemClock;
use serde_json::Value;

use crate::reconcile::{chart, export, med_admin, resources, sample, workstation};
use crate::support::*;

/// The HIM station: the unit's census (so paper patients resolve) and its handoff key.
struct Him {
    tv: TestVault,
    ws: Workstation,
    him: Session,
    key: String,
}

fn him_station() -> Him {
    let tv = TestVault::new();
    {
        let (mut ws, admin) = tv.sign_in(ADMIN);
        ws.import_census(&admin, &census_bytes(), &SystemClock).expect("HIM census");
    }
    let (mut ws, him) = tv.sign_in(HIM);
    let key = ws.handoff_keygen(&him, &SystemClock).expect("keygen").public_key;
    Him { tv, ws, him, key }
}

/// Prints a blank form for DEV2001 on `ws` and returns the 150 dpi scan of its first page.
fn scanned_blank(ws: &mut Workstation, nurse: &Session, form: &str, dir: &Path, name: &str) -> std::path::PathBuf {
    let pdf = ws.print_blank(nurse, form, BlankFor::Patient("DEV2001"), &SystemClock, &mut |_| {}).expect("print");
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, &pdf.bytes).expect("pdf");
    let scan_dir = dir.join(name);
    std::fs::create_dir_all(&scan_dir).expect("dir");
    scan_page(&path, 1, &scan_dir)
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).expect("json")
}

/// (a) Blank forms printed ahead of any episode: the QR code names none. Refused with the way out named; put into a
/// paper-only episode HIM creates for the unit (who, when, unit, period recorded), then into that episode by id;
/// the worklist and the reconciliation report (CSV and PDF) say "from paper, page …".
#[test]
fn blank_forms_printed_before_any_episode_go_into_a_paper_only_episode() {
    let files = tempfile::tempdir().expect("dir");
    let h = him_station();
    drop(h.ws);
    // A workstation of the unit with no episode open prints blank forms ahead of time.
    let ahead = TestVault::new();
    let (mut ws, admin) = ahead.sign_in(ADMIN);
    ws.import_census(&admin, &census_bytes(), &SystemClock).expect("census");
    let station = ws.workstation_id();
    let (mut ws, nurse) = ahead.sign_in(NURSE);
    let scan = scanned_blank(&mut ws, &nurse, "vital-signs", files.path(), "ahead");
    let read = dtk::print::read::read_file(&scan, 1).expect("the scan's QR code decodes");
    assert_eq!((read.episode.as_deref(), read.unit.as_deref()), (None, Some("5 East")));
    assert_eq!(read.workstation.as_deref(), Some(station.as_str()));
    let response = files.path().join("vitals.json");
    std::fs::write(&response, sample("vital-signs").to_string()).expect("response");
    let (scan, response) = (scan.to_str().expect("p"), response.to_str().expect("p"));
    let paper = |extra: &[&str]| {
        let mut args = vec!["--json", "reconcile", "paper", "--scan", scan, "--response", response];
        args.extend_from_slice(&["--author", "A. Nurse, RN"]);
        args.extend_from_slice(extra);
        h.tv.dtk(Some(HIM), &args)
    };

    let refused = paper(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("names no downtime episode"), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--paper-episode UNIT"), "the way out is named: {}", stderr(&refused));
    let other_unit = paper(&["--paper-episode", "4 West"]);
    assert!(stderr(&other_unit).contains("printed for another unit"), "{}", stderr(&other_unit));

    let period = "2026-11-21T06:00:00Z/2026-11-21T20:00:00Z";
    let first = json_of(&paper(&["--paper-episode", "5 East", "--period", period]));
    let episode = first["paper_episode"]["id"].as_str().expect("a paper-only episode was created").to_string();
    assert_eq!(first["episode_id"], episode.as_str());
    assert_eq!(first["paper_episode"]["unit"], "5 East");
    assert_eq!(first["paper_episode"]["started_at"], "2026-11-21T06:00:00.000Z");
    assert_eq!(first["paper_episode"]["ended_at"], "2026-11-21T20:00:00.000Z");
    assert_eq!(first["paper_episode"]["paper_only"]["created_by"], HIM.0);
    let page = first["page"].as_str().expect("page").to_string();
    assert!(page.starts_with("vital-signs v1.0.0, printed "), "{page}");
    assert!(page.contains(&format!("on {station} (5 East), printed before any episode")), "{page}");
    let second = json_of(&paper(&["--episode", &episode]));
    assert_eq!(second["episode_id"], episode.as_str());
    assert!(second["paper_episode"].is_null(), "the second page joins the same episode");
    let ids: Vec<String> =
        [&first, &second].iter().map(|o| o["entries"][0]["saved"]["id"].as_str().expect("id").to_string()).collect();

    let list = h.tv.dtk(Some(HIM), &["reconcile", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(stdout(&list).matches(&format!("from paper, page {page}")).count(), 2, "{}", stdout(&list));

    let csv = files.path().join("report.csv");
    let pdf = files.path().join("report.pdf");
    let report = h
        .tv
        .dtk(Some(HIM), &["reconcile", "report", "--csv", csv.to_str().expect("p"), "--pdf", pdf.to_str().expect("p")]);
    assert!(report.status.success(), "{}", stderr(&report));
    let csv = std::fs::read_to_string(&csv).expect("csv");
    assert!(csv.contains("section,entries from paper"), "{csv}");
    for id in &ids {
        assert!(csv.contains(&format!("{id},pending,")) || csv.contains(&format!("{id},matched,")), "{csv}");
    }
    assert_eq!(csv.matches(&format!("from paper, page {page}")).count(), 2, "{csv}");
    assert!(csv.contains(&format!("created by {} at ", HIM.0)), "the paper-only episode's creator: {csv}");
    let text = squash(&pages_text(&pdf).join("\n"));
    // Long ids wrap inside table cells, so the id's first group stands for it.
    for expect in ["Entries from paper", "from paper, page vital-signs", "Paper only: created by lhim", &ids[0][..8]] {
        assert!(text.contains(&squash(expect)), "'{expect}' not in the report PDF:\n{text}");
    }
    // The paper-only episode is a row like any other: MAC'ed, so the vault still verifies.
    let verify = h.tv.dtk(Some(HIM), &["verify"]);
    assert!(verify.status.success(), "{}{}", stdout(&verify), stderr(&verify));
}

/// (c) A dead workstation: its paper names an episode whose handoff file never reached HIM. Refused as it stands,
/// with the reason; accepted into an imported episode of the same unit, the page (its workstation and episode)
/// kept on the entry. What is truly wrong is still refused: another patient, drill paper, a unit sheet, an unknown
/// form, and moving a page out of its own episode.
#[test]
fn paper_of_a_workstation_whose_handoff_never_arrived_is_assigned_to_an_episode() {
    let files = tempfile::tempdir().expect("dir");
    let mut h = him_station();
    let mut a = workstation(&h.key, "T5A-", false);
    let _dose = chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), false);
    let a1 = export(&mut a, files.path(), "a1.dtkh");
    h.ws.import_handoff(&h.him, &std::fs::read(&a1).expect("a1"), &SystemClock).expect("import A");
    let episode_a = a.ws.current_episode(&a.charge).expect("ep").expect("open").id;
    // Workstation B died in the outage: its handoff file never comes.
    let mut b = workstation(&h.key, "T5B-", false);
    let episode_b = b.ws.current_episode(&b.charge).expect("ep").expect("open").id;
    let scan = scanned_blank(&mut b.ws, &b.nurse, "vital-signs", files.path(), "dead");
    let qr = h.ws.scan_payload(&h.him, &scan, 1).expect("the dead PC's page decodes");
    assert_eq!(qr.episode.as_deref(), Some(episode_b.as_str()));

    let vitals = sample("vital-signs");
    let refused = h.ws.back_enter_scan(&h.him, &scan, 1, &vitals, "B. Nurse", &SystemClock).expect_err("unknown");
    assert_eq!(refused.code, ErrorCode::NotFound);
    assert!(refused.message.contains("handoff file never arrived"), "{}", refused.message);

    let answers = PaperAnswers::Form { response: vitals.clone(), author: "B. Nurse".into(), clinical_time: None };
    let into_a = Assignment::Episode(episode_a.clone());
    let done = h.ws.back_enter_page(&h.him, &qr, &answers, &into_a, &SystemClock).expect("assigned to episode A");
    assert_eq!(done.episode_id, episode_a);
    let id = done.entries[0].saved.id.clone();
    let page =
        h.ws.worklist(&h.him, &WorklistQuery { episode: Some(episode_a.clone()), limit: 100, ..Default::default() })
            .expect("worklist");
    let item = page.items.iter().find(|i| i.entry_id == id).expect("on the worklist in episode A");
    assert_eq!(item.origin, dtk::entries::Origin::Paper);
    let label = item.paper_page.as_deref().expect("marked as from paper");
    assert!(label.contains(&format!("on {}", b.ws.workstation_id())), "{label}");
    assert!(label.contains(&format!("episode {episode_b}")), "the page's own episode is kept: {label}");
    let card = dtk::reconcile::card(h.ws.vault().expect("vault").conn(), h.him.keys(), &id).expect("card");
    assert_eq!(card.expect("card").paper_page.as_deref(), Some(label));

    // Still refused, whatever the analyst assigns.
    let mut other_patient = vitals.clone();
    other_patient["subject"]["identifier"]["value"] = "DEV2002".into();
    let wrong = PaperAnswers::Form { response: other_patient, author: "B. Nurse".into(), clinical_time: None };
    let err = h.ws.back_enter_page(&h.him, &qr, &wrong, &into_a, &SystemClock).expect_err("other patient");
    assert!(err.message.contains("differs from the patient printed"), "{}", err.message);
    let paper_only = Assignment::PaperOnly { unit: "5 East".into(), period: None };
    let mut drill = qr.clone();
    drill.drill = true;
    let err = h.ws.back_enter_page(&h.him, &drill, &answers, &paper_only, &SystemClock).expect_err("drill");
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("DRILL"), "{}", err.message);
    let census =
        dtk::paper::Payload::parse("DTK1;form=http://downtimekit.example.org/print/census-sheet|1;unit=5%20East")
            .expect("census sheet code");
    let err = h.ws.back_enter_page(&h.him, &census, &answers, &paper_only, &SystemClock).expect_err("a unit sheet");
    assert!(err.message.contains("not a form with answers"), "{}", err.message);
    let unknown = dtk::paper::Payload { form: "http://example.org/Questionnaire/wound-care|3.0".into(), ..qr.clone() };
    let err = h.ws.back_enter_page(&h.him, &unknown, &answers, &paper_only, &SystemClock).expect_err("unknown form");
    assert!(err.message.contains("form is not loaded on this station"), "{}", err.message);
    let a_page = dtk::paper::Payload { episode: Some(episode_a.clone()), ..qr.clone() };
    let err = h.ws.back_enter_page(&h.him, &a_page, &answers, &paper_only, &SystemClock).expect_err("own episode");
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(err.message.contains("page's own episode is on this station"), "{}", err.message);
    let summary = h.ws.reconcile_summary(&h.him).expect("summary");
    assert_eq!(summary.total, 2, "the dose from A and the one page: nothing refused was saved");
    assert!(h.tv.path().exists());
}

fn dose(medication: &str, amount: &str, route: &str, time: &str, initials: &str) -> Dose {
    Dose {
        medication: medication.into(),
        dose: amount.into(),
        route: route.into(),
        time: time.into(),
        initials: initials.into(),
        name: None,
    }
}

/// (b) A scanned downtime MAR page: its QR code names the MAR, not a form. Each initialled dose the analyst reads
/// from it becomes its own medication-administration entry (all or none), marked with the page, and the FHIR
/// export carries the page in each entry's Provenance and stays valid for an independent validator.
#[test]
fn a_mar_page_is_entered_as_one_entry_per_initialled_dose() {
    let files = tempfile::tempdir().expect("dir");
    let mut h = him_station();
    let mut a = workstation(&h.key, "T5A-", false);
    let mar = a.ws.print_mar(&a.charge, &SystemClock, &mut |_| {}).expect("print the MAR");
    let pdf = files.path().join("mar.pdf");
    std::fs::write(&pdf, &mar.bytes).expect("pdf");
    let scan = scan_page(&pdf, 1, files.path());
    let a1 = export(&mut a, files.path(), "a1.dtkh");
    h.ws.import_handoff(&h.him, &std::fs::read(&a1).expect("a1"), &SystemClock).expect("import A");
    let qr = h.ws.scan_payload(&h.him, &scan, 1).expect("the MAR page decodes");
    assert_eq!(qr.form, dtk::paper::MAR_FORM);

    // Typed as a form, or with no doses, a MAR page is refused with what to do instead.
    let as_form = h.ws.back_enter_scan(&h.him, &scan, 1, &med_admin("2026-11-21T08:00:00-05:00"), "JN", &SystemClock);
    assert!(as_form.expect_err("a MAR is not a form").message.contains("dose by dose"));
    let doses = vec![
        dose("acetaminophen", "650 mg", "Oral", "2026-11-21T08:00:00-05:00", "JN"),
        Dose {
            name: Some("Jo Nurse".into()),
            ..dose("heparin", "5000 units", "Subcutaneous", "2026-11-21T09:00:00-05:00", "JN")
        },
        dose("ondansetron", "4 mg", "intravenous", "2026-11-21T14:00:00-05:00", "KC"),
    ];
    let mut bad = doses.clone();
    bad[1].route = "by osmosis".into();
    let err =
        h.ws.back_enter_page(&h.him, &qr, &PaperAnswers::Mar(bad), &Assignment::FromQr, &SystemClock)
            .expect_err("a dose with an unknown route");
    assert!(err.message.contains("dose 2 read from the MAR page: the route"), "{}", err.message);
    let before = h.ws.reconcile_summary(&h.him).expect("summary").total;

    // The analyst's way: the doses read from the page in a file, then `dtk reconcile paper --scan … --doses …`.
    let doses_file = files.path().join("doses.json");
    std::fs::write(&doses_file, serde_json::to_string(&doses).expect("json")).expect("doses");
    let Him { tv, ws, .. } = h;
    drop(ws);
    let (scan, doses_file) = (scan.to_str().expect("p"), doses_file.to_str().expect("p"));
    let done = json_of(&tv.dtk(Some(HIM), &["--json", "reconcile", "paper", "--scan", scan, "--doses", doses_file]));
    let (mut ws, him) = tv.sign_in(HIM);
    let entries = done["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "one entry per initialled dose");
    assert_eq!(ws.reconcile_summary(&him).expect("summary").total, before + 3);
    let page_label = done["page"].as_str().expect("page").to_string();
    assert!(page_label.starts_with("downtime-mar v1, printed "), "{page_label}");
    let ids: Vec<String> = entries.iter().map(|e| e["saved"]["id"].as_str().expect("id").to_string()).collect();
    let page = ws.worklist(&him, &WorklistQuery { limit: 100, ..Default::default() }).expect("worklist");
    let items: Vec<_> = page.items.iter().filter(|i| ids.contains(&i.entry_id)).collect();
    assert_eq!(items.len(), 3);
    let mut seen: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            assert!(i.form.contains("/medication-administration|"), "{}", i.form);
            assert_eq!(i.paper_page.as_deref(), Some(page_label.as_str()));
            (i.clinical_time.clone().unwrap_or_default(), i.medication.clone().unwrap_or_default(), i.author.clone())
        })
        .collect();
    seen.sort();
    let meds: Vec<(&str, &str)> = seen.iter().map(|(_, m, a)| (m.as_str(), a.as_str())).collect();
    assert_eq!(meds, vec![("acetaminophen", "JN"), ("heparin", "Jo Nurse (JN)"), ("ondansetron", "KC")]);

    // Accepted and exported: each dose's Provenance names the page; every validator agrees.
    for id in &ids {
        for p in ws.duplicate_proposals(&him, true).expect("proposals") {
            if &p.entry_id == id || &p.other_id == id {
                ws.dismiss_duplicate(&him, &p.entry_id, &p.other_id, "different doses", &SystemClock).expect("dismiss");
            }
        }
    }
    ws.accept(&him, &ids, &SystemClock).expect("accept the doses");
    let out = files.path().join("batch.json");
    ws.export_fhir(&him, &out, &SystemClock).expect("export");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).expect("bundle")).expect("json");
    assert_eq!(dtk::fhir::check_bundle(&bundle), Vec::<String>::new());
    let all = resources(&bundle);
    let from_page: Vec<&Value> = all
        .iter()
        .filter(|r| r["resourceType"] == "Provenance")
        .filter(|r| r["entity"][0]["what"]["display"] == format!("From paper, page {page_label}").as_str())
        .collect();
    assert_eq!(from_page.len(), 3, "each dose's Provenance names the page");
    let mut checked = all.clone();
    checked.push(bundle.clone());
    assert_eq!(schema_errors(&checked), Vec::<String>::new());
    let (ok, report) = fhir_resources_errors(&checked);
    assert!(ok, "fhir.resources: {report}");
}
