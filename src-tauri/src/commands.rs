//! The IPC commands: each converts its DTO, calls `dtk::api`, and converts the answer or error back. No decisions.
use crate::dto::{AppStatus, CommandError, ErrorCode, Role, SessionInfo, SetupRequest, SetupResult, SignInRequest};
use dtk::api::{self, InitRequest, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use std::sync::{Arc, Mutex, MutexGuard};
use tauri::State;

/// What the app holds between commands: the open workstation (or why it could not be opened) and the session.
pub struct Shell {
    workstation: Result<Mutex<Workstation>, CommandError>,
    session: Mutex<Option<Session>>,
}

impl Shell {
    /// Opening can fail (a vault written by a newer version, a damaged file); the app still starts and the first
    /// command reports why, so the person at the workstation sees a message instead of a window that never opens.
    pub fn open(dir: &std::path::Path) -> Self {
        Self { workstation: Workstation::open(dir).map(Mutex::new).map_err(from_api), session: Mutex::new(None) }
    }

    fn workstation(&self) -> Result<MutexGuard<'_, Workstation>, CommandError> {
        match &self.workstation {
            Ok(lock) => lock.lock().map_err(|_| poisoned()),
            Err(error) => Err(error.clone()),
        }
    }

    fn session(&self) -> Result<MutexGuard<'_, Option<Session>>, CommandError> {
        self.session.lock().map_err(|_| poisoned())
    }
}

fn poisoned() -> CommandError {
    CommandError::new(
        ErrorCode::Internal,
        "An earlier operation failed unexpectedly. Restart Downtime Kit; nothing saved before is lost.",
    )
}

fn from_api(error: api::ApiError) -> CommandError {
    use api::ErrorCode as E;
    let code = match error.code {
        E::NotInitialised => ErrorCode::NotInitialised,
        E::AlreadyInitialised => ErrorCode::AlreadyInitialised,
        E::BadCredentials => ErrorCode::BadCredentials,
        E::UnknownUser => ErrorCode::UnknownUser,
        E::Throttled => ErrorCode::Throttled,
        E::Forbidden => ErrorCode::Forbidden,
        E::InvalidInput => ErrorCode::InvalidInput,
        E::Integrity => ErrorCode::Integrity,
        E::StorageFull => ErrorCode::StorageFull,
        E::ReadOnly => ErrorCode::ReadOnly,
        E::Io => ErrorCode::Io,
        E::TooNew => ErrorCode::TooNew,
        E::NotFound => ErrorCode::NotFound,
        E::Conflict => ErrorCode::Conflict,
        E::MustChangePassword => ErrorCode::MustChangePassword,
        E::SafetyCheck => ErrorCode::SafetyCheck,
        E::NoEpisode => ErrorCode::NoEpisode,
        // The core's codes are non-exhaustive; a code this shell does not know yet still reaches the person with
        // its message, and `internal` tells the UI not to guess what to do about it.
        _ => ErrorCode::Internal,
    };
    CommandError::new(code, error.message)
}

fn role(role: dtk::auth::Role) -> Role {
    match role {
        dtk::auth::Role::Nurse => Role::Nurse,
        dtk::auth::Role::Charge => Role::Charge,
        dtk::auth::Role::Him => Role::Him,
        dtk::auth::Role::Admin => Role::Admin,
    }
}

fn session_info(session: &Session) -> SessionInfo {
    SessionInfo {
        username: session.username().to_owned(),
        display_name: session.display_name().to_owned(),
        role: role(session.role()),
        must_change_password: session.must_change_password(),
    }
}

/// Runs blocking core work (Argon2id takes a few hundred milliseconds by design) off the UI thread.
async fn blocking<T: Send + 'static>(
    shell: &Arc<Shell>,
    work: impl FnOnce(&Shell) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn_blocking(move || work(&shell)).await.map_err(|_| poisoned())?
}

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
    // Dropping the session drops its keys (the core zeroizes them).
    *shell.session()? = None;
    Ok(())
}
