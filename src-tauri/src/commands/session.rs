//! Set-up, sign-in and sign-out: the commands every screen before charting needs.
use super::{blocking, from_api, session_info, Shell};
use crate::dto::{AppStatus, CommandError, SessionInfo, SetupRequest, SetupResult, SignInRequest};
use dtk::api::InitRequest;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn app_status(shell: State<'_, Arc<Shell>>) -> Result<AppStatus, CommandError> {
    blocking(&shell, |shell| {
        let workstation = shell.workstation()?;
        Ok(AppStatus { initialised: workstation.is_initialised(), unit: workstation.unit() })
    })
    .await
}

#[tauri::command]
pub async fn set_up(shell: State<'_, Arc<Shell>>, request: SetupRequest) -> Result<SetupResult, CommandError> {
    blocking(&shell, move |shell| {
        let SetupRequest { unit, admin, display_name, password, load_demo } = request;
        let clock = SystemClock;
        let mut workstation = shell.workstation()?;
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
    .await
}

#[tauri::command]
pub async fn sign_in(shell: State<'_, Arc<Shell>>, request: SignInRequest) -> Result<SessionInfo, CommandError> {
    blocking(&shell, move |shell| {
        let SignInRequest { username, password } = request;
        let password = Password::new(password);
        let session = shell.workstation()?.sign_in(&username, &password, &SystemClock).map_err(from_api)?;
        let info = session_info(&session);
        shell.last_save().clear();
        *shell.session()? = Some(session);
        Ok(info)
    })
    .await
}

#[tauri::command]
pub async fn current_session(shell: State<'_, Arc<Shell>>) -> Result<Option<SessionInfo>, CommandError> {
    Ok(shell.session()?.as_ref().map(session_info))
}

#[tauri::command]
pub async fn sign_out(shell: State<'_, Arc<Shell>>) -> Result<(), CommandError> {
    // Dropping the session drops its keys (the core zeroizes them). The idle lock uses this command too.
    *shell.session()? = None;
    shell.last_save().clear();
    Ok(())
}
