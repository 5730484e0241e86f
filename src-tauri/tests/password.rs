//! First sign-in in the app (issue 17 item 1): a roster account's one-time password leads to "choose your password",
//! every other command is refused until then, the core's rules apply; and "Change my password" needs the current one.
use dtk::api::Workstation;
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk_app::commands::{nurse, session, Shell};
use dtk_app::dto::{ChangePasswordRequest, ErrorCode, SignInRequest};

mod support;

fn sign_in(shell: &Shell, username: &str, password: &str) -> Result<bool, dtk_app::dto::CommandError> {
    let request = SignInRequest { username: username.into(), password: password.into() };
    session::sign_in(shell, request).map(|s| s.must_change_password)
}

fn change(shell: &Shell, current: Option<&str>, new: &str) -> Result<bool, dtk_app::dto::CommandError> {
    let request = ChangePasswordRequest { current: current.map(str::to_owned), new_password: new.into() };
    session::change_password(shell, request).map(|s| s.must_change_password)
}

#[test]
fn a_one_time_password_must_be_replaced_in_the_app_before_anything_else_and_a_change_needs_the_current_one() {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge)], &census);
    let one_time = {
        let mut ws = Workstation::open(vault.path()).expect("open");
        let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &SystemClock).expect("admin");
        let roster = ws.import_roster(&admin, "rpatel,Ravi Patel,nurse\n", &SystemClock).expect("roster");
        roster.created[0].one_time_password.clone()
    };
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse signs in");
    support::declare_episode(&shell, "EHR down");
    session::sign_out(&shell).expect("sign out");

    assert!(sign_in(&shell, "rpatel", &one_time).expect("one-time sign-in"), "the session says: choose a password");
    let refused = nurse::census(&shell).expect_err("nothing before the password is chosen");
    assert_eq!(refused.code, ErrorCode::MustChangePassword);
    assert_eq!(session::password_rules(&shell).expect("rules"), "At least 8 characters, and not your username.");

    let weak = change(&shell, None, "short").expect_err("the core's rules apply");
    assert_eq!(weak.code, ErrorCode::InvalidInput);
    assert!(weak.message.contains("at least 8 characters"), "{}", weak.message);
    assert!(!change(&shell, None, "bedside lamp 42").expect("chosen"), "no longer on a one-time password");
    nurse::census(&shell).expect("the desk works now");

    // "Change my password": the current one is needed, and a wrong one is refused and changes nothing.
    let missing = change(&shell, None, "night shift 0300").expect_err("the current password is needed");
    assert_eq!(missing.code, ErrorCode::InvalidInput);
    let wrong = change(&shell, Some("not my password"), "night shift 0300").expect_err("wrong current password");
    assert_eq!(wrong.code, ErrorCode::BadCredentials);
    assert!(!change(&shell, Some("bedside lamp 42"), "night shift 0300").expect("changed"));

    session::sign_out(&shell).expect("sign out");
    let old = sign_in(&shell, "rpatel", "bedside lamp 42").expect_err("the old password no longer opens");
    assert_eq!(old.code, ErrorCode::BadCredentials);
    assert!(!sign_in(&shell, "rpatel", "night shift 0300").expect("the new one does"));
    assert_eq!(sign_in(&shell, "rpatel", &one_time).expect_err("nor the one-time one").code, ErrorCode::BadCredentials);
}
