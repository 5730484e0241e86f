//! The IPC commands: each converts its DTO, calls `dtk::api`, and converts the answer or error back. No decisions.
//!
//! One submodule per area of the app (session: set-up, sign-in, lock; the others per role's screens); this module
//! holds what they share: the app state, the error conversion and the off-UI-thread runner.
pub mod charge;
pub mod him;
pub mod nurse;
pub mod session;

use crate::dto::{CommandError, ErrorCode, Role, SessionInfo};
use dtk::api::{self, Session, Workstation};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the app holds between commands: the open workstation (or why it could not be opened) and the session.
pub struct Shell {
    workstation: Result<Mutex<Workstation>, CommandError>,
    session: Mutex<Option<Session>>,
    last_save: nurse::LastSaveState,
}

impl Shell {
    /// Opening can fail (a vault written by a newer version, a damaged file); the app still starts and the first
    /// command reports why, so the person at the workstation sees a message instead of a window that never opens.
    ///
    /// The site configuration is found as the `dtk` command line finds it: the file named by `DTK_SITE`, else
    /// `site.json` in the vault folder, else the defaults (so IT, and the e2e test's short idle timeout, configure
    /// the app and `dtk` alike).
    pub fn open(dir: &std::path::Path) -> Self {
        let explicit = std::env::var_os(dtk::site::SITE_ENV).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
        let workstation = dtk::site::SiteConfig::for_vault(dir, explicit.as_deref())
            .map_err(|e| api::ApiError::new(api::ErrorCode::InvalidInput, e.to_string()))
            .and_then(|site| Workstation::open_with(dir, site, None));
        Self {
            workstation: workstation.map(Mutex::new).map_err(from_api),
            session: Mutex::new(None),
            last_save: Default::default(),
        }
    }

    pub(crate) fn workstation(&self) -> Result<MutexGuard<'_, Workstation>, CommandError> {
        match &self.workstation {
            Ok(lock) => lock.lock().map_err(|_| poisoned()),
            Err(error) => Err(error.clone()),
        }
    }

    /// The outcome of the last save since sign-in (the banner's durability indicator).
    pub(crate) fn last_save(&self) -> &nurse::LastSaveState {
        &self.last_save
    }

    pub(crate) fn session(&self) -> Result<MutexGuard<'_, Option<Session>>, CommandError> {
        self.session.lock().map_err(|_| poisoned())
    }
}

pub(crate) fn poisoned() -> CommandError {
    CommandError::new(
        ErrorCode::Internal,
        "An earlier operation failed unexpectedly. Restart Downtime Kit; nothing saved before is lost.",
    )
}

pub(crate) fn from_api(error: api::ApiError) -> CommandError {
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
        E::Unavailable => ErrorCode::Unavailable,
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

pub(crate) fn session_info(session: &Session) -> SessionInfo {
    SessionInfo {
        username: session.username().to_owned(),
        display_name: session.display_name().to_owned(),
        role: role(session.role()),
        must_change_password: session.must_change_password(),
    }
}

/// Runs blocking core work (Argon2id takes a few hundred milliseconds by design) off the UI thread.
pub(crate) async fn blocking<T: Send + 'static>(
    shell: &Arc<Shell>,
    work: impl FnOnce(&Shell) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn_blocking(move || work(&shell)).await.map_err(|_| poisoned())?
}
