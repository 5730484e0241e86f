//! The administrator's desk (issue 17 item 5) through the shell's commands: an administrator adds a user with a
//! one-time password, imports a roster from a path, resets and disables accounts, checks the forms, runs `verify`
//! (recorded for readiness) and backs up; a nurse is refused every one of them by the core.
use dtk::auth::Role;
use dtk_app::commands::{admin, readiness, session, Shell};
use dtk_app::dto::{ErrorCode, NewAccountRequest, Role as DtoRole, SignInRequest};

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
