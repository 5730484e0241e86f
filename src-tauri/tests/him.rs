//! The HIM desk's command path (the functions the Tauri commands call, with their DTO conversion) refuses drill
//! episodes: a drill handoff file is refused at import with its reason, a paper page of a drill episode is refused
//! at back-entry, and nothing reaches the worklist or a FHIR export. A back-entry whose answers the core refuses comes
//! back as findings by linkId (not an error), and the reconciliation report is written as a PDF with its SHA-256.
//! Paper from a total outage goes through the same command: a MAR page naming no episode is put into a paper-only
//! episode for its unit, one entry per dose, each worklist row saying which page it came from. "Verify in the EHR"
//! is HIM only and names a batch it does not know.
use dtk::api::{AddUserRequest, InitRequest, Workstation};
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk_app::commands::him;
use dtk_app::dto::{ErrorCode, PaperDose, PaperEntryRequest, WorklistQuery};

mod support;

const FORM: &str = "http://downtimekit.example.org/fhir/Questionnaire/medication-administration|1.0.0";

fn drill_file(him_public_key: &str) -> Vec<u8> {
    let payload = dtk::handoff::Payload {
        workstation: "0b7d5f0e-5a4c-4a77-9b0e-3f1d2c7a9e11".into(),
        episode: dtk::handoff::EpisodeRecord {
            id: "6c2e9d41-1f0b-4c8e-a7d3-5b9f0e2a4c68".into(),
            unit: "5 East".into(),
            kind: Kind::Drill,
            started_at: "2026-11-21T09:00:00.000Z".into(),
            started_by: "kcharge".into(),
            ended_at: None,
            ended_by: None,
            declaration: Declaration::default(),
        },
        staff: vec![],
        registrations: vec![],
        entries: vec![],
        audit: vec![],
        events: vec![],
        unsigned: None,
    };
    let recipient = dtk::handoff::parse_public_key(him_public_key).expect("key");
    dtk::handoff::seal(&payload, 1, "2026-11-21T12:00:00.000Z", &[5; 32], &recipient, &mut dtk::crypto::OsRandom)
        .expect("seal")
}

/// A fresh station with an HIM analyst (`lhim`) and a charge nurse (`kcharge`).
fn station() -> (tempfile::TempDir, Workstation) {
    let dir = tempfile::tempdir().expect("vault dir");
    let mut ws = Workstation::open(dir.path()).expect("open");
    ws.init(
        InitRequest {
            unit: "5 East".into(),
            admin: "it.admin".into(),
            display_name: "IT Admin".into(),
            password: Password::new("admin-pass-1".into()),
        },
        &SystemClock,
    )
    .expect("init");
    let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &SystemClock).expect("admin");
    for (name, role) in [("lhim", Role::Him), ("kcharge", Role::Charge)] {
        let request = AddUserRequest {
            username: name.into(),
            display_name: name.into(),
            role,
            password: Password::new("a-long-pass-12".into()),
        };
        ws.add_user(&admin, request, &SystemClock).expect("user");
    }
    (dir, ws)
}

/// A request with no answers, no doses and no assignment yet: the fields a form page fills come after `..`.
fn form_page(author: &str) -> PaperEntryRequest {
    PaperEntryRequest {
        qr: String::new(),
        response: None,
        author: Some(author.into()),
        clinical_time: None,
        doses: None,
        episode: None,
        paper_episode_unit: None,
        period: None,
    }
}

fn dose(medication: &str, amount: &str, time: &str) -> PaperDose {
    PaperDose {
        medication: medication.into(),
        dose: amount.into(),
        route: "Oral".into(),
        time: time.into(),
        initials: "JN".into(),
        name: None,
    }
}

/// A downtime MAR page from a total outage names no episode: through the command it is refused as it stands, then
/// put into a paper-only episode created for its unit, one entry per dose, each worklist row saying its page.
#[test]
fn a_mar_page_with_no_episode_goes_into_a_paper_only_episode_through_the_command() {
    let (_dir, mut ws) = station();
    let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &SystemClock).expect("admin");
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    ws.import_census(&admin, &census, &SystemClock).expect("census imported");
    let him_session = ws.sign_in("lhim", &Password::new("a-long-pass-12".into()), &SystemClock).expect("him");
    let qr = dtk::paper::Payload {
        form: dtk::paper::MAR_FORM.into(),
        mrn_system: Some("http://hospital.example.org/mrn".into()),
        mrn: Some("DEV2001".into()),
        unit: Some("5 East".into()),
        ..Default::default()
    }
    .to_text();
    let doses = || {
        Some(vec![
            dose("acetaminophen", "650 mg", "2026-11-21T08:00:00-05:00"),
            dose("acetaminophen", "650 mg", "2026-11-21T14:00:00-05:00"),
        ])
    };
    let page = |episode_unit: Option<&str>| PaperEntryRequest {
        qr: qr.clone(),
        author: None,
        doses: doses(),
        paper_episode_unit: episode_unit.map(Into::into),
        ..form_page("")
    };

    let err = him::back_enter(&mut ws, &him_session, page(None)).expect_err("no episode to put it in");
    assert!(err.message.contains("names no downtime episode"), "{}", err.message);
    assert_eq!(him::summary(&mut ws, &him_session).expect("summary").total, 0);

    let outcome = him::back_enter(&mut ws, &him_session, page(Some("5 East"))).expect("entered");
    let entered = outcome.entered.expect("stored, no findings");
    assert_eq!(entered.entries.len(), 2, "one entry per dose");
    let episode = entered.paper_episode.expect("a paper-only episode was created");
    assert!(episode.paper_only);
    assert_eq!((episode.unit.as_str(), episode.id.as_str()), ("5 East", entered.episode_id.as_str()));
    let listed = him::episodes(&mut ws, &him_session).expect("episodes");
    assert!(listed.iter().any(|e| e.id == episode.id && e.paper_only), "offered for the next page: {listed:?}");

    let query = WorklistQuery { state: None, mrn: None, form: None, workstation: None, limit: 50, offset: 0 };
    let rows = him::worklist(&mut ws, &him_session, query).expect("worklist").items;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert!(row.paper, "{row:?}");
        assert_eq!(row.episode_id, episode.id);
        assert_eq!(row.paper_page.as_deref(), Some(entered.page.as_str()), "{row:?}");
    }
}

#[test]
fn the_him_commands_refuse_drill_episodes() {
    let (dir, mut ws) = station();
    let him_session = ws.sign_in("lhim", &Password::new("a-long-pass-12".into()), &SystemClock).expect("him");
    let key = him::keygen(&mut ws, &him_session).expect("key");
    assert!(key.created);

    // A drill handoff file, correctly signed and encrypted for this station, is refused with its reason.
    let file = dir.path().join("drill.dtkh");
    std::fs::write(&file, drill_file(&key.public_key)).expect("file");
    let outcomes = him::import_files(&mut ws, &him_session, vec![file.display().to_string()]);
    assert_eq!(outcomes.len(), 1);
    let refused = outcomes[0].refused.as_ref().expect("refused");
    assert!(outcomes[0].imported.is_none());
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(refused.message.contains("DRILL"), "{}", refused.message);

    // A paper page printed during a drill on this station is refused at back-entry.
    let charge = ws.sign_in("kcharge", &Password::new("a-long-pass-12".into()), &SystemClock).expect("charge");
    let drill = ws.start_episode(&charge, Kind::Drill, Declaration::default(), &SystemClock).expect("drill");
    let qr = dtk::paper::Payload { form: FORM.into(), episode: Some(drill.id), ..Default::default() }.to_text();
    let request = PaperEntryRequest {
        qr,
        response: Some(
            serde_json::json!({ "resourceType": "QuestionnaireResponse", "questionnaire": FORM, "status": "completed" }),
        ),
        ..form_page("Dana Rivera, RN")
    };
    let err = him::back_enter(&mut ws, &him_session, request).expect_err("drill paper refused");
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("DRILL"), "{}", err.message);

    // Nothing reached the worklist, and nothing can be exported.
    let summary = him::summary(&mut ws, &him_session).expect("summary");
    assert_eq!((summary.total, summary.open, summary.acceptable), (0, 0, 0));
    let query = WorklistQuery { state: None, mrn: None, form: None, workstation: None, limit: 50, offset: 0 };
    assert_eq!(him::worklist(&mut ws, &him_session, query).expect("worklist").total, 0);
    let out = dir.path().join("batch.json");
    let err = him::export_fhir(&mut ws, &him_session, &out.display().to_string()).expect_err("nothing to export");
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(!out.exists(), "no file is written");
}

#[test]
fn back_entry_findings_come_back_by_link_id_and_the_report_is_written_as_pdf() {
    let (dir, mut ws) = station();
    let charge = ws.sign_in("kcharge", &Password::new("a-long-pass-12".into()), &SystemClock).expect("charge");
    let real = ws.start_episode(&charge, Kind::Real, Declaration::default(), &SystemClock).expect("episode");
    let him_session = ws.sign_in("lhim", &Password::new("a-long-pass-12".into()), &SystemClock).expect("him");

    // No answers at all: the core refuses the response, and the command returns its findings by linkId.
    let qr = dtk::paper::Payload { form: FORM.into(), episode: Some(real.id), ..Default::default() }.to_text();
    let request = PaperEntryRequest {
        qr,
        response: Some(
            serde_json::json!({ "resourceType": "QuestionnaireResponse", "questionnaire": FORM, "status": "completed", "item": [] }),
        ),
        ..form_page("Dana Rivera, RN")
    };
    let outcome = him::back_enter(&mut ws, &him_session, request).expect("findings, not an error");
    assert!(outcome.entered.is_none());
    assert!(!outcome.findings.is_empty());
    assert!(outcome.findings.iter().any(|f| f.link_id.is_some()), "{:?}", outcome.findings);

    // The report PDF: written where asked, with the SHA-256 of the bytes on disk.
    let out = dir.path().join("reconciliation.pdf");
    let written = him::report_pdf(&mut ws, &him_session, &out.display().to_string()).expect("pdf");
    let bytes = std::fs::read(&out).expect("written");
    assert!(bytes.starts_with(b"%PDF"));
    assert_eq!(written.bytes, bytes.len() as u64);
    assert_eq!(written.sha256, dtk::crypto::sha256_hex(&bytes));
    assert_eq!(written.path, out.display().to_string());
    let err = him::report_pdf(&mut ws, &him_session, "  ").expect_err("a path is needed");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    // A nurse cannot write the report.
    let nurse = ws.sign_in("kcharge", &Password::new("a-long-pass-12".into()), &SystemClock).expect("charge");
    let other = dir.path().join("other.pdf");
    let err = him::report_pdf(&mut ws, &nurse, &other.display().to_string()).expect_err("HIM only");
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(!other.exists());
}

/// "Verify in the EHR" through the command: HIM only, and a batch that does not exist is named (the read-back
/// itself, against a FHIR server, is `tests/it/readback.rs` in the core; without the lock, `tests/posting.rs`).
#[test]
fn verify_in_the_ehr_is_him_only_and_names_an_unknown_batch() {
    let (dir, ws) = station();
    drop(ws);
    let shell = dtk_app::commands::Shell::open(dir.path());
    support::sign_in(&shell, "lhim").expect("him");
    let err = him::him_verify_fhir(&shell, "no-such-batch".into(), None).expect_err("no batch");
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("no-such-batch"), "{}", err.message);
    dtk_app::commands::session::sign_out(&shell).expect("sign out");
    support::sign_in(&shell, "kcharge").expect("charge");
    let err = him::him_verify_fhir(&shell, "no-such-batch".into(), None).expect_err("HIM only");
    assert_eq!(err.code, ErrorCode::Forbidden);
}
