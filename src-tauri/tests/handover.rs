//! The shift handover through the shell (issue 16 item 5): `handover` answers the sheet in the shape the UI's
//! generated types name (camelCase, `lastHandover`, `printFolder`), `record_handover` moves "since" to the
//! handover, the print path (`print_document`, job `handover`) saves a PDF in the print folder, and an unknown MRN is
//! refused with `not_found` without repeating the MRN.
use dtk::auth::Role;
use dtk_app::commands::{charge, nurse, Shell};
use dtk_app::dto::{ErrorCode, PrintJob, PrintRequest};
use tauri::ipc::Channel;

mod support;

#[test]
fn a_nurse_reads_records_and_prints_the_handover_sheet_through_the_shell() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    let folder = vault.path().join("prints");
    std::fs::write(vault.path().join("site.json"), serde_json::json!({ "print_dir": folder }).to_string())
        .expect("site.json");
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse");
    support::declare_episode(&shell, "EHR down");
    support::sign_in(&shell, "dnurse").expect("nurse");

    let sheet = nurse::handover(&shell, "DEV2001".into()).expect("sheet");
    let wire = serde_json::to_value(&sheet).expect("json");
    assert!(wire["lastHandover"].is_null() && wire["dueUntil"].is_string(), "{wire}");
    assert_eq!(wire["printFolder"].as_str(), folder.to_str());
    assert!(wire["due"].as_array().is_some_and(|d| !d.is_empty()), "the census's orders are due: {wire}");

    let done = nurse::record_handover(&shell, "DEV2001".into()).expect("recorded");
    assert!(done.by.contains("dnurse"), "{done:?}");
    let again = nurse::handover(&shell, "DEV2001".into()).expect("sheet");
    assert_eq!(again.last_handover.map(|h| h.at), Some(done.at));

    let request = PrintRequest { job: PrintJob::Handover { mrn: "DEV2001".into() }, folder: sheet.print_folder };
    let files = charge::print_document(&shell, request, Channel::new(|_| Ok(()))).expect("printed");
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0].path).expect("the PDF is saved");
    assert!(bytes.starts_with(b"%PDF-") && files[0].pages >= 1);
    assert!(!files[0].path.contains("DEV2001"), "no MRN in the file name: {}", files[0].path);

    let unknown = nurse::handover(&shell, "NOPE999".into()).expect_err("unknown MRN");
    assert_eq!(unknown.code, ErrorCode::NotFound);
    assert!(!unknown.message.contains("NOPE999"), "{}", unknown.message);
}
