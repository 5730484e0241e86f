//! The administrator's desk (issue 17 item 5) through the shell's commands: an administrator adds a user with a
//! one-time password, imports a roster from a path, resets, disables and unlocks accounts, sees the census snapshot
//! and imports a file of the site's census folder, checks the forms, runs `verify` (recorded for readiness) and backs
//! up; a nurse is refused every one of them by the core.
use dtk::api::Workstation;
use dtk::auth::{Role, LOCK_AFTER_FAILURES};
use dtk::clock::{parse_stamp, FixedClock};
use dtk::crypto::Password;
use dtk_app::commands::{admin, nurse, readiness, session, Shell};
use dtk_app::dto::{ErrorCode, NewAccountRequest, ReadinessLevel, Role as DtoRole, SignInRequest};

mod support;

fn census() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census")
}

fn sign_in_admin(shell: &Shell) {
    let request = SignInRequest { username: "it.admin".into(), password: "admin-pass-1".into() };
    session::sign_in(shell, request).expect("the administrator signs in");
}

fn sign_in_with(shell: &Shell, username: &str, password: &str) -> dtk_app::dto::SessionInfo {
    let request = SignInRequest { username: username.into(), password: password.into() };
    session::sign_in(shell, request).expect("signs in with the one-time password")
}

#[test]
fn an_administrator_manages_accounts_from_the_desk() {
    let vault = support::vault("5 East", &[("dnurse", Role::Nurse)], &census());
    let roster = vault.path().join("roster.csv");
    std::fs::write(&roster, "username,display name,role\nanew,Ann New,nurse\ndnurse,Dee Nurse,nurse\n").expect("csv");
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);

    let request =
        NewAccountRequest { username: "bcharge".into(), display_name: "Bo Charge".into(), role: DtoRole::Charge };
    let added = admin::admin_add_user(&shell, request).expect("added");
    assert_eq!((added.username.as_str(), added.password.len()), ("bcharge", 12));
    let imported = admin::admin_import_roster(&shell, roster.display().to_string()).expect("roster imported");
    assert_eq!(imported.created.iter().map(|p| p.username.as_str()).collect::<Vec<_>>(), ["anew"]);
    assert_eq!(imported.skipped, ["dnurse"]);
    let reset = admin::admin_reset_password(&shell, "dnurse".into()).expect("reset");
    admin::admin_disable_user(&shell, "anew".into()).expect("disabled");

    let users = admin::admin_users(&shell).expect("listed");
    let find = |name: &str| users.iter().find(|u| u.username == name).expect("listed user");
    assert!(find("bcharge").one_time_password_pending && find("bcharge").active);
    assert!(find("dnurse").one_time_password_pending);
    assert!(!find("anew").active);
    assert!(!find("it.admin").one_time_password_pending);

    let signed = sign_in_with(&shell, "dnurse", &reset.password);
    assert!(signed.must_change_password, "the reset password is a one-time password");
    let old = SignInRequest { username: "dnurse".into(), password: support::PASSWORD.into() };
    assert!(session::sign_in(&shell, old).is_err(), "the old password opens nothing after a reset");
    let added_session = sign_in_with(&shell, "bcharge", &added.password);
    assert_eq!((added_session.role, added_session.must_change_password), (DtoRole::Charge, true));
}

/// Issue 17 items 4 and 5: an account locked after the throttle's longest delay shows as locked on the desk, and
/// unlocking it there lets its own password in again.
#[test]
fn a_locked_account_unlocked_from_the_desk_signs_in_again() {
    let vault = support::vault("5 East", &[("dnurse", Role::Nurse)], &census());
    // Someone guessing: each wrong password an hour after the last, past every back-off (the lock counts failures,
    // the clock only spaces them). A workstation of its own each time, as the count lives in the vault.
    for n in 1..=LOCK_AFTER_FAILURES {
        let at = parse_stamp(&format!("2030-01-01T{n:02}:00:00Z")).expect("a time");
        let mut ws = Workstation::open(vault.path()).expect("open");
        let wrong = ws.sign_in("dnurse", &Password::new("not-my-password".into()), &FixedClock::new(at));
        assert!(wrong.is_err(), "failure {n} refused");
    }
    let shell = Shell::open(vault.path());
    let locked = support::sign_in(&shell, "dnurse").expect_err("locked: even the right password is refused");
    assert_eq!(locked.code, ErrorCode::AccountLocked, "{}", locked.message);

    sign_in_admin(&shell);
    let listed = |shell: &Shell| {
        let users = admin::admin_users(shell).expect("listed");
        users.into_iter().find(|u| u.username == "dnurse").expect("dnurse listed")
    };
    assert!(listed(&shell).locked && listed(&shell).active, "shown as locked");
    admin::admin_unlock_user(&shell, "dnurse".into()).expect("unlocked");
    assert!(!listed(&shell).locked, "no longer shown as locked");
    support::sign_in(&shell, "dnurse").expect("their own password signs them in again");
}

/// Issue 17 item 5: the census panel shows the snapshot's age and patients (readiness's census check) and the files of
/// `census_import_dir`; a file is imported by name, and every refusal names the file.
#[test]
fn the_census_folder_is_listed_and_a_file_imported_by_name() {
    let vault = support::vault("5 East", &[], &census());
    let folder = tempfile::tempdir().expect("census folder");
    let bundle = std::fs::read(support::repo("tests/data/census-5-east.json")).expect("census file");
    std::fs::write(folder.path().join("5east-0500.json"), &bundle).expect("census file");
    std::fs::write(folder.path().join("broken.json"), "{ not json").expect("broken file");
    std::fs::write(folder.path().join(".partial"), "").expect("hidden file");
    let site = serde_json::json!({ "census_import_dir": folder.path() });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);

    let desk = admin::admin_census(&shell).expect("census panel");
    let snapshot = desk.snapshot.expect("the demo census imported with the vault");
    assert!(snapshot.taken_at.starts_with("2026-11-21T05:00:00") && snapshot.patients == 14, "{snapshot:?}");
    assert!(snapshot.age_hours.is_some_and(|h| h >= i64::from(snapshot.max_age_hours)), "{snapshot:?}");
    assert_eq!(desk.status, ReadinessLevel::NotReady, "a census that old is stale: {}", desk.detail);
    assert_eq!(desk.folder.as_deref(), Some(folder.path().display().to_string().as_str()));
    let names: Vec<&str> = desk.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["5east-0500.json", "broken.json"], "hidden files left out");
    assert_eq!(desk.files[0].bytes, bundle.len() as u64);

    let broken = admin::admin_import_census(&shell, "broken.json".into()).expect_err("not a census");
    assert_eq!(broken.code, ErrorCode::InvalidInput);
    assert!(broken.message.starts_with("broken.json: "), "the file is named: {}", broken.message);
    for elsewhere in ["../site.json", "/etc/passwd", "..", ".partial", ""] {
        let refused = admin::admin_import_census(&shell, elsewhere.into()).expect_err("outside the folder");
        assert_eq!(refused.code, ErrorCode::InvalidInput, "{elsewhere}: {}", refused.message);
    }
    let missing = admin::admin_import_census(&shell, "gone.json".into()).expect_err("no such file");
    assert!(missing.message.starts_with("gone.json: cannot be read"), "{}", missing.message);

    let imported = admin::admin_import_census(&shell, "5east-0500.json".into()).expect("imported");
    assert_eq!((imported.file.as_str(), imported.patients), ("5east-0500.json", 12), "{imported:?}");
    let after = admin::admin_census(&shell).expect("census panel").snapshot.expect("snapshot");
    assert_eq!(after.patients, 12, "the imported file's snapshot is the current one: {after:?}");
}

/// Regression: the administrator's banner said "No census snapshot" even after a census import, because the
/// banner's status read the snapshot with the unit's patients, which the administrator may not read.
#[test]
fn the_administrators_banner_has_the_census_snapshot_after_an_import() {
    let vault = support::vault("5 East", &[], &census());
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);
    let banner = nurse::downtime_status(&shell).expect("banner status");
    assert_eq!(
        banner.snapshot_time.as_deref(),
        Some("2026-11-21T05:00:00Z"),
        "the demo census imported with the vault"
    );

    let folder = tempfile::tempdir().expect("census folder");
    let bundle = std::fs::read_to_string(support::repo("tests/data/census-5-east.json")).expect("census file");
    let bundle = bundle.replace("2026-11-21T05:00:00Z", "2026-12-01T06:00:00Z");
    std::fs::write(folder.path().join("5east.json"), bundle).expect("census file");
    let site = serde_json::json!({ "census_import_dir": folder.path() });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);
    let imported = admin::admin_import_census(&shell, "5east.json".into()).expect("imported");
    let banner = nurse::downtime_status(&shell).expect("banner status");
    assert_eq!(imported.taken_at, "2026-12-01T06:00:00Z");
    assert_eq!(banner.snapshot_time, Some(imported.taken_at), "the banner shows the imported snapshot");
}

#[test]
fn without_a_census_folder_the_panel_says_so_and_import_names_the_setting() {
    let vault = support::vault("5 East", &[], &census());
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);
    let desk = admin::admin_census(&shell).expect("census panel");
    assert!(desk.folder.is_none() && desk.files.is_empty() && desk.folder_problem.is_none(), "{desk:?}");
    let refused = admin::admin_import_census(&shell, "census.json".into()).expect_err("no folder");
    assert!(refused.message.contains("census_import_dir"), "{}", refused.message);

    drop(shell);
    let site = serde_json::json!({ "census_import_dir": vault.path().join("no-such-folder") });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);
    let desk = admin::admin_census(&shell).expect("the snapshot is shown all the same");
    let problem = desk.folder_problem.expect("the missing folder is reported");
    assert!(problem.contains("no-such-folder"), "names the folder: {problem}");
    assert!(desk.snapshot.is_some());
}

#[test]
fn forms_verify_and_backup_from_the_desk_and_verify_is_recorded_for_readiness() {
    let vault = support::vault("5 East", &[], &census());
    let stick = tempfile::tempdir().expect("stick");
    let site = serde_json::json!({ "backup_dir": stick.path() });
    std::fs::write(vault.path().join("site.json"), site.to_string()).expect("site.json");
    let shell = Shell::open(vault.path());
    sign_in_admin(&shell);

    let forms = admin::admin_forms_check(&shell).expect("forms");
    assert_eq!((forms.loaded.len(), forms.refused.len()), (5, 0), "the built-in forms");
    let verified = admin::admin_verify(&shell).expect("verify");
    assert!(verified.intact && verified.problems.is_empty() && verified.record_failure.is_none(), "{verified:?}");
    let report = readiness::readiness(&shell).expect("readiness");
    let last_verify = report.checks.iter().find(|c| c.name == "last_verify").expect("last_verify check");
    assert_eq!(
        last_verify.status,
        dtk_app::dto::ReadinessLevel::Ok,
        "recorded as dtk verify records it: {last_verify:?}"
    );

    let before = admin::admin_backup_status(&shell).expect("status");
    assert!(before.last_at.is_none() && before.overdue, "{before:?}");
    let written = admin::admin_backup_now(&shell).expect("backed up");
    assert!(written.file.starts_with(&stick.path().display().to_string()) && written.bytes > 0);
    let after = admin::admin_backup_status(&shell).expect("status");
    assert!(after.last_at.is_some() && !after.overdue, "{after:?}");
}

#[test]
fn a_nurse_is_refused_every_admin_command() {
    let vault = support::vault("5 East", &[("dnurse", Role::Nurse)], &census());
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "dnurse").expect("nurse signs in");
    let request = NewAccountRequest { username: "x".into(), display_name: "X".into(), role: DtoRole::Admin };
    let refused = [
        admin::admin_users(&shell).map(|_| ()),
        admin::admin_add_user(&shell, request).map(|_| ()),
        admin::admin_import_roster(&shell, "/nonexistent/roster.csv".into()).map(|_| ()),
        admin::admin_disable_user(&shell, "it.admin".into()),
        admin::admin_unlock_user(&shell, "it.admin".into()),
        admin::admin_census(&shell).map(|_| ()),
        admin::admin_import_census(&shell, "census.json".into()).map(|_| ()),
        admin::admin_reset_password(&shell, "it.admin".into()).map(|_| ()),
        admin::admin_forms_check(&shell).map(|_| ()),
        admin::admin_verify(&shell).map(|_| ()),
        admin::admin_backup_status(&shell).map(|_| ()),
        admin::admin_backup_now(&shell).map(|_| ()),
    ];
    for (n, outcome) in refused.into_iter().enumerate() {
        assert_eq!(outcome.expect_err("refused").code, ErrorCode::Forbidden, "command {n}");
    }
}
