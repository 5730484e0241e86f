//! Set-up, sign-in and sign-out: the commands every screen before charting needs.
use super::{from_api, session_info, Shell};
use crate::dto::{
    AppStatus, ChangePasswordRequest, CommandError, SessionInfo, SetupRequest, SetupResult, SignInRequest,
};
use dtk::api::InitRequest;
use dtk::clock::SystemClock;
use dtk::crypto::Password;

/// Set to `1` by the start-up benchmark (`scripts/bench-start.sh`): see [`startup_painted`].
pub const STARTUP_PROBE_ENV: &str = "DTK_STARTUP_PROBE";

/// The start-up benchmark's probe: the sign-in and set-up screens call this once they have painted (two animation
/// frames after mounting). With `DTK_STARTUP_PROBE=1` the app prints the wall-clock time of that paint, in
/// milliseconds since the epoch, on a line `first-paint-epoch-ms N`, and exits; the benchmark started its clock just
/// before launching it. Otherwise it does nothing.
pub fn startup_painted(_shell: &Shell) -> Result<(), CommandError> {
    if std::env::var_os(STARTUP_PROBE_ENV).is_some_and(|v| v == "1") {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        println!("first-paint-epoch-ms {ms}");
        std::process::exit(0);
    }
    Ok(())
}

pub fn app_status(shell: &Shell) -> Result<AppStatus, CommandError> {
    shell.with_state(|state| {
        let workstation = state.workstation()?;
        Ok(AppStatus { initialised: workstation.is_initialised(), unit: workstation.unit() })
    })
}

pub fn set_up(shell: &Shell, request: SetupRequest) -> Result<SetupResult, CommandError> {
    let SetupRequest { unit, admin, display_name, password, load_demo } = request;
    let clock = SystemClock;
    shell.with_state(|state| {
        let workstation = state.workstation()?;
        let password = Password::new(password);
        let again = Password::new(password.expose().to_owned());
        let recovery_key = workstation
            .init(InitRequest { unit, admin: admin.clone(), display_name, password }, &clock)
            .map_err(from_api)?;
        let recovery_key_text = recovery_key.expose().to_owned();
        drop(recovery_key);
        // Set-up has succeeded at this point; a failure to load the demo is reported beside the recovery key, never
        // instead of it, so the key is not lost.
        let demo = load_demo.then(|| {
            workstation.sign_in(&admin, &again, &clock).and_then(|session| workstation.load_demo_unit(&session, &clock))
        });
        let (demo_loaded, demo_error) = match demo {
            None => (false, None),
            Some(Ok(())) => (true, None),
            Some(Err(e)) => (false, Some(from_api(e))),
        };
        Ok(SetupResult { recovery_key: recovery_key_text, demo_loaded, demo_error })
    })
}

pub fn sign_in(shell: &Shell, request: SignInRequest) -> Result<SessionInfo, CommandError> {
    let SignInRequest { username, password } = request;
    let password = Password::new(password);
    shell.with_state(|state| {
        let session = state.workstation()?.sign_in(&username, &password, &SystemClock).map_err(from_api)?;
        let info = session_info(&session);
        state.begin(session);
        Ok(info)
    })
}

pub fn current_session(shell: &Shell) -> Result<Option<SessionInfo>, CommandError> {
    shell.with_state(|state| Ok(state.session().map(session_info)))
}

/// Dropping the session drops its keys (the core zeroizes them). The idle lock uses this command too.
pub fn sign_out(shell: &Shell) -> Result<(), CommandError> {
    shell.with_state(|state| {
        state.end();
        Ok(())
    })
}

/// The password rules the core applies, as the "choose your password" screen shows them.
pub fn password_rules(_shell: &Shell) -> Result<String, CommandError> {
    Ok(dtk::auth::password_rules())
}

/// The signed-in user replaces their password: a roster account's one-time password at first sign-in (the core
/// allows nothing else before), or their own at any time. Then the current password is needed, checked like a
/// sign-in (a wrong one counts towards the lockout), so a session left unlocked at a bedside cannot be taken over.
pub fn change_password(shell: &Shell, request: ChangePasswordRequest) -> Result<SessionInfo, CommandError> {
    let ChangePasswordRequest { current, new_password } = request;
    let current = current.map(Password::new);
    let new_password = Password::new(new_password);
    shell.with_state(|state| state.change_password(current.as_ref(), &new_password))
}

/// The person is using the app (keys, pointer, scrolling: the page reports it at most every 20 seconds), so the
/// core's idle lock counts from now; refused like any command once the session has ended.
pub fn keep_alive(shell: &Shell) -> Result<(), CommandError> {
    shell.signed_in(|_, _| Ok(()))
}
