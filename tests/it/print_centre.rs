//! What the app's print centre and the charge nurse's desk add to the core: saving PDFs into a folder without
//! overwriting, file names without patient identifiers, handing a PDF to the system viewer or to CUPS `lp` (here
//! fake programs on a private PATH, so the tests never print), and break-glass accounts with a one-time password.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dtk::api::{pdf_file_name, save_pdf_in, EmergencyRequest, ErrorCode};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk::printer;
use time::macros::datetime;

use crate::support::*;

/// Writes an executable shell script named `name` into `dir`.
fn fake_program(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn pdfs_are_saved_under_names_without_patient_data_and_never_overwritten() {
    let name = pdf_file_name("Blank vital-signs / unit", datetime!(2026-11-21 10:42:07 UTC));
    assert_eq!(name, "blank-vital-signs-unit-2026-11-21-104207.pdf");
    let dir = tempfile::tempdir().expect("tmp");
    let folder = dir.path().join("Downtime Kit");
    let first = save_pdf_in(&folder, &name, b"%PDF-1.7 one").expect("first save creates the folder");
    let second = save_pdf_in(&folder, &name, b"%PDF-1.7 two").expect("second save");
    assert_ne!(first, second, "a second print gets its own file");
    assert!(second.to_string_lossy().ends_with("104207-2.pdf"), "{}", second.display());
    assert_eq!(std::fs::read(&first).expect("read"), b"%PDF-1.7 one");
}

#[test]
fn the_print_folder_is_the_sites_or_documents() {
    let tv = TestVault::new();
    let ws = tv.open();
    assert!(ws.print_folder().ends_with("Downtime Kit"));
    std::fs::write(tv.path().join("site.json"), br#"{"print_dir": "/srv/downtime-prints"}"#).expect("site");
    assert_eq!(tv.open().print_folder(), Path::new("/srv/downtime-prints"));
}

#[test]
fn printing_uses_lp_when_cups_is_there_and_says_so_plainly_when_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let pdf = dir.path().join("census.pdf");
    std::fs::write(&pdf, b"%PDF-1.7 census").expect("pdf");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");

    let none = printer::status_on(bin.as_os_str());
    assert!(!none.cups && none.default_printer.is_none());
    let err = printer::print_on(&pdf, bin.as_os_str()).expect_err("no lp");
    assert!(err.to_string().contains("no printing system"), "{err}");
    assert_eq!(dtk::api::ApiError::from(err).code, ErrorCode::Unavailable);

    let log = dir.path().join("lp.log");
    fake_program(
        &bin,
        "lp",
        &format!("echo \"$@\" > '{}'\necho 'request id is ward-5e-17 (1 file(s))'", log.display()),
    );
    fake_program(&bin, "lpstat", "echo 'system default destination: ward-5e'");
    let ready = printer::status_on(bin.as_os_str());
    assert!(ready.cups);
    assert_eq!(ready.default_printer.as_deref(), Some("ward-5e"));
    let said = printer::print_on(&pdf, bin.as_os_str()).expect("printed");
    assert!(said.contains("ward-5e-17"), "{said}");
    let args = std::fs::read_to_string(&log).expect("lp ran");
    assert_eq!(args.trim(), format!("-- {}", pdf.display()), "the file follows `--`, so a name is never an option");

    fake_program(&bin, "lp", "echo 'lp: The printer or class does not exist.' >&2; exit 1");
    let failed = printer::print_on(&pdf, bin.as_os_str()).expect_err("lp failed");
    assert!(failed.to_string().contains("does not exist"), "{failed}");
}

#[test]
fn fail_only_real_pdfs_are_opened_or_printed() {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let opened = dir.path().join("opened.log");
    fake_program(&bin, "xdg-open", &format!("echo \"$1\" > '{}'", opened.display()));
    fake_program(&bin, "lp", "exit 0");
    let script = dir.path().join("evil.desktop");
    std::fs::write(&script, b"[Desktop Entry]\nExec=rm -rf /").expect("write");
    for path in [script.as_path(), dir.path(), &dir.path().join("missing.pdf")] {
        assert!(matches!(printer::open_on(path, bin.as_os_str()), Err(printer::PrinterError::NotPdf(_))));
        assert!(matches!(printer::print_on(path, bin.as_os_str()), Err(printer::PrinterError::NotPdf(_))));
    }
    let pdf = dir.path().join("mar.pdf");
    std::fs::write(&pdf, b"%PDF-1.7 mar").expect("pdf");
    printer::open_on(&pdf, bin.as_os_str()).expect("opened");
    // The viewer is started, not waited for; give the script a moment to write.
    for _ in 0..50 {
        if opened.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&opened).expect("viewer ran").trim(), pdf.display().to_string());
}

#[test]
fn an_emergency_account_gets_a_one_time_password_that_signs_in() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let request = EmergencyRequest {
        username: "agency1",
        display_name: "Agency Nurse",
        reason: "float pool, no account",
        hours: 12,
    };
    let (info, password) =
        ws.add_emergency_user_with_one_time_password(&charge, &request, &SystemClock).expect("created");
    assert!(info.emergency && info.expires_at.is_some());
    let text = password.expose().to_string();
    assert_eq!(text.len(), 12);
    assert!(!text.chars().any(|c| "0O1lI".contains(c)), "no look-alike characters: {text}");
    let agency = ws.sign_in("agency1", &Password::new(text), &SystemClock).expect("the password works");
    assert_eq!(agency.role(), dtk::auth::Role::Nurse);

    let (mut ws, nurse) = tv.sign_in(NURSE);
    let refused = ws.add_emergency_user_with_one_time_password(&nurse, &request, &SystemClock).map(|_| ());
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::Forbidden));
    let no_reason = EmergencyRequest { reason: " ", username: "agency2", ..request };
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let refused = ws.add_emergency_user_with_one_time_password(&charge, &no_reason, &SystemClock).map(|_| ());
    assert_eq!(refused.map_err(|e| e.code), Err(ErrorCode::InvalidInput));
}

/// Every page the print centre saves during a drill says DRILL: the unit's blank forms, the MAR, the census sheet and
/// a filled entry, read back from the saved files with pdftotext.
#[test]
fn every_page_saved_in_a_drill_says_drill() {
    use dtk::api::{BlankFor, EntryOptions};
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    ws.start_episode(&charge, dtk::episodes::Kind::Drill, Default::default(), &SystemClock).expect("drill");
    let saved = ws
        .add_entry(
            &charge,
            &sample_response("vital-signs"),
            &EntryOptions { sign: true, ..Default::default() },
            &SystemClock,
        )
        .expect("entry");
    let dir = tempfile::tempdir().expect("tmp");
    let mut progress = Vec::new();
    let pdfs = [
        (
            "blank",
            ws.print_blank(&charge, "vital-signs", BlankFor::Census, &SystemClock, &mut |p| progress.push(p))
                .expect("blank"),
        ),
        ("mar", ws.print_mar(&charge, &SystemClock, &mut |_| {}).expect("mar")),
        ("census", ws.print_census(&charge, &SystemClock).expect("census sheet")),
        ("entry", ws.print_entry(&charge, &saved.saved.id, &SystemClock).expect("entry")),
    ];
    let patients = ws.patients(&charge).expect("patients").len();
    assert_eq!(progress.len(), patients, "the unit batch reports each patient");
    assert_eq!(progress.last().map(|p| (p.done, p.total)), Some((patients, patients)));
    for (what, pdf) in pdfs {
        let path =
            save_pdf_in(dir.path(), &pdf_file_name(what, datetime!(2026-11-21 10:42 UTC)), &pdf.bytes).expect("save");
        let out = std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert_eq!(pages.len(), pdf.pages, "{what}: every page read back");
        assert!(pages.iter().all(|p| p.contains("DRILL")), "{what}: every page says DRILL");
    }
}
