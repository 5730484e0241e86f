//! The app takes interim backups by itself (issue 14, "a dead disk in week three"): the banner's refresh
//! (`downtime_status`) starts one on a thread of its own when the site names a `backup_dir` and none is recent, and
//! shows its age. (A failed backup on the banner, the interval and the kept three are tested in the core on a fixed
//! clock: `tests/it/backup.rs`.)
use dtk::auth::Role;
use dtk_app::commands::{nurse, Shell};
use dtk_app::dto::BackupInfo;
use std::time::{Duration, Instant};

mod support;

/// Refreshes the banner, as its 30-second timer does, until no backup is running (or a generous deadline passes).
fn settled(shell: &Shell) -> BackupInfo {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let backup = nurse::downtime_status(shell).expect("banner status").backup;
        if !backup.running || Instant::now() > deadline {
            return backup;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_banner_refresh_takes_a_backup_and_shows_its_age() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("dnurse", Role::Nurse), ("kcharge", Role::Charge)], &census);
    let stick = tempfile::tempdir().expect("stick");
    let site = serde_json::json!({ "backup_dir": stick.path(), "backup_interval_hours": 4 });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse signs in");
    support::declare_episode(&shell, "EHR down");
    support::sign_in(&shell, "dnurse").expect("nurse signs in");

    let first = nurse::downtime_status(&shell).expect("banner status").backup;
    assert!(first.running && first.last_at.is_none(), "none yet: the first refresh starts one: {first:?}");
    let done = settled(&shell);
    assert!(!done.running && !done.overdue && done.failure.is_none(), "{done:?}");
    assert!(done.last_at.is_some());
    assert_eq!(done.last_folder.as_deref(), stick.path().to_str());
    let files: Vec<_> = std::fs::read_dir(stick.path()).expect("list").filter_map(Result::ok).collect();
    assert_eq!(files.len(), 1, "one backup on the stick");
    assert!(!nurse::downtime_status(&shell).expect("status").backup.running, "not again within the interval");
}
