//! The charge desk's handoff through the app's command path (issue 14, item 1): `handoff_info` lists the episode's
//! unsigned entries (author, form, age), `export_handoff` is refused with `unsigned_entries` naming the count per
//! author until the request carries the charge nurse's confirmation, and the HIM desk's import result says what the
//! workstation left unsigned.
use dtk::api::{EntryOptions, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk_app::commands::{charge, him};
use dtk_app::dto::{ErrorCode, HandoffExportRequest, UserCount};
use support::{repo, PASSWORD};

mod support;

#[test]
fn the_charge_desk_lists_unsigned_entries_and_exports_only_once_the_charge_nurse_confirms() {
    // The HIM station, with its key; the unit: an episode, and a nursing note left as a draft by the nurse.
    let support::Stations { him_dir: _him_dir, mut him_ws, analyst, unit_dir: dir, unit: shell } = support::stations();
    {
        // The nurse's draft, saved through the core on the same vault (the nurse's own screens are not under test).
        let mut ws = Workstation::open(dir.path()).expect("open unit");
        let nurse = ws.sign_in("dnurse", &Password::new(PASSWORD.into()), &SystemClock).expect("nurse");
        let note: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo("tests/data/forms/responses/nursing-note.json")).expect("sample"),
        )
        .expect("json");
        let opts = EntryOptions { sign: false, ..Default::default() };
        ws.add_entry(&nurse, &note, &opts, &SystemClock).expect("draft saved");
    }
    let info = charge::handoff_info(&shell).expect("handoff info");
    assert_eq!(info.unsigned_total, 1);
    assert_eq!(info.unsigned.len(), 1);
    assert_eq!((info.unsigned[0].author.as_str(), info.unsigned[0].form_title.as_str()), ("dnurse", "Nursing note"));
    let stick = tempfile::tempdir().expect("stick");
    let folder = stick.path().display().to_string();

    let refused =
        charge::export_handoff(&shell, HandoffExportRequest { folder: folder.clone(), include_unsigned: false })
            .expect_err("refused while an entry is unsigned");
    assert_eq!(refused.code, ErrorCode::UnsignedEntries);
    assert!(refused.message.contains("1 entries of this episode are still unsigned (dnurse 1)"), "{}", refused.message);
    assert_eq!(std::fs::read_dir(stick.path()).expect("stick").count(), 0, "no file written");

    let written = charge::export_handoff(&shell, HandoffExportRequest { folder, include_unsigned: true })
        .expect("written once confirmed");
    assert_eq!(written.entries, 0);
    assert_eq!(
        written.unsigned_left.iter().map(|c| (c.user.as_str(), c.count)).collect::<Vec<_>>(),
        vec![("dnurse", 1)]
    );

    // The HIM desk's import says what the workstation left behind.
    let outcomes = him::import_files(&mut him_ws, &analyst, vec![written.path.clone()]);
    let imported = outcomes[0].imported.as_ref().unwrap_or_else(|| panic!("imported: {:?}", outcomes[0].refused));
    let left: Vec<(String, u32)> =
        imported.unsigned_left.iter().flatten().map(|UserCount { user, count }| (user.clone(), *count)).collect();
    assert_eq!(left, vec![("dnurse".to_string(), 1)]);
}
