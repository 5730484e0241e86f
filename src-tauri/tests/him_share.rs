//! The HIM desk and a copy of a unit share, through the shell (issue 20 item 4): a workstation publishes a dose to
//! its unit share and is never heard from again; IT copies the share into the HIM station's import folder. The HIM
//! desk's `him_import_folder` lists the copy, `him_import_share` brings the dose onto the worklist, and the folder
//! listing then names the workstation whose entries came only through the share. The in-memory double
//! (`ui/src/lib/backend/memory/him-share.ts`) is held to these shapes and words.
use dtk::api::Workstation;
use dtk::auth::Role;
use dtk::clock::{stamp, Clock, SystemClock};
use dtk::crypto::Password;
use dtk_app::commands::{him, him_share, nurse, unit, Shell};
use dtk_app::dto::EntryRequest;
use serde_json::json;

mod support;

#[test]
fn the_him_desk_imports_a_share_copy_and_names_the_workstation_whose_entries_came_only_through_it() {
    let census = std::fs::read(support::repo("assets/demo/census-demo.json")).expect("census");
    let import = tempfile::tempdir().expect("import folder");
    let share = import.path().join("5E-share");
    std::fs::create_dir(&share).expect("share");

    let him_dir = support::vault("HIM", &[("lhim", Role::Him)], &census);
    let key = {
        let mut ws = Workstation::open(him_dir.path()).expect("open HIM");
        let analyst = ws.sign_in("lhim", &Password::new(support::PASSWORD.into()), &SystemClock).expect("HIM");
        ws.handoff_keygen(&analyst, &SystemClock).expect("keygen").public_key
    };
    std::fs::write(him_dir.path().join("site.json"), json!({ "handoff_import_dir": import.path() }).to_string())
        .expect("HIM site.json");

    let unit_dir = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    let site = json!({ "him_public_key": key, "unit_share_dir": share, "unit_peers": [] });
    std::fs::write(unit_dir.path().join("site.json"), site.to_string()).expect("unit site.json");
    let a = Shell::open(unit_dir.path());
    support::sign_in(&a, "kcharge").expect("charge nurse");
    support::declare_episode(&a, "EHR down");
    support::sign_in(&a, "dnurse").expect("nurse");
    let dose = EntryRequest {
        response: support::dose_now("DEV2003", "Metoprolol Tartrate 25 MG Oral Tablet", &stamp(SystemClock.now())),
        sign: true,
        allergy_override: None,
        confirm_not_duplicate: false,
        reason: None,
        clinical_time: None,
    };
    nurse::save_entry(&a, dose).expect("charted");
    assert!(unit::unit_sync(&a).expect("sync").published, "published to the share");
    drop(a);

    let h = Shell::open(him_dir.path());
    support::sign_in(&h, "lhim").expect("HIM signs in");
    let folder = him::him_import_folder(&h).expect("folder");
    assert!(folder.share_only.is_empty(), "{:?}", folder.share_only);
    let copy = folder.shares.first().expect("the copy is listed");
    assert_eq!((copy.name.as_str(), copy.workstations, copy.segments), ("5E-share", 1, 1));
    let done = him_share::him_import_share(&h, copy.path.clone()).expect("imported");
    assert!(done.problems.is_empty(), "{:?}", done.problems);
    let line = done.workstations.first().expect("one workstation");
    assert_eq!((line.segments, line.new_entries, line.unchanged_versions), (1, 1, 0), "{line:?}");

    let folder = him::him_import_folder(&h).expect("folder");
    let only = folder.share_only.first().expect("named");
    assert_eq!((only.label.as_str(), only.entries, only.newest_segment), (line.label.as_str(), 1, 1));
    assert!(
        only.message.starts_with(&format!("WS {}: 1 entry came only through the unit share", line.label))
            && only.message.ends_with("Find the PC or its backup and import its handoff file."),
        "{}",
        only.message
    );
    let again = him_share::him_import_share(&h, copy.path.clone()).expect("again");
    assert!(again.workstations.is_empty() && again.problems.is_empty(), "nothing twice: {again:?}");
}
