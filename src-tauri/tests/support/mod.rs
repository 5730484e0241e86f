//! What the shell's integration tests share: a vault made with the core API, and signing in through the shell.
use dtk::api::{AddUserRequest, InitRequest, Workstation};
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk_app::commands::{charge, session, Shell};
use dtk_app::dto::{CommandError, DeclareEpisodeRequest, SignInRequest};

/// Every account's password in these tests.
pub const PASSWORD: &str = "a-long-pass-12";

/// A vault made with the core API: set up with an admin, one account per `(username, role)` with [`PASSWORD`], and
/// `census` (a FHIR Bundle) imported.
pub fn vault(unit: &str, users: &[(&str, Role)], census: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("vault dir");
    let mut ws = Workstation::open(dir.path()).expect("open");
    let clock = SystemClock;
    let request = InitRequest {
        unit: unit.into(),
        admin: "it.admin".into(),
        display_name: "IT Admin".into(),
        password: Password::new("admin-pass-1".into()),
    };
    ws.init(request, &clock).expect("init");
    let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &clock).expect("admin");
    for &(name, role) in users {
        let request = AddUserRequest {
            username: name.into(),
            display_name: name.into(),
            role,
            password: Password::new(PASSWORD.into()),
        };
        ws.add_user(&admin, request, &clock).expect("user");
    }
    ws.import_census(&admin, census, &clock).expect("census imported");
    dir
}

/// Signs `username` in through the shell, as the sign-in screen does.
pub fn sign_in(shell: &Shell, username: &str) -> Result<(), CommandError> {
    let request = SignInRequest { username: username.into(), password: PASSWORD.into() };
    session::sign_in(shell, request).map(|_| ())
}

/// Declares a downtime episode (not a drill) as the signed-in charge nurse, so that nurses may chart.
pub fn declare_episode(shell: &Shell, reason: &str) {
    let episode = DeclareEpisodeRequest {
        drill: false,
        severity: None,
        affected: vec![],
        impact: None,
        reason: Some(reason.into()),
        next_update_minutes: Some(30),
    };
    charge::declare_episode(shell, episode).expect("episode declared");
}
