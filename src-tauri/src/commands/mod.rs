//! The IPC commands: each converts its DTO, calls `dtk::api`, and converts the answer or error back. No decisions.
//!
//! One submodule per area of the app (session: set-up, sign-in, lock; the others per role's screens), each a plain
//! function per command taking `&Shell`; `registry` turns the command list in `lib.rs` into the Tauri commands and
//! the generated `commands.ts`. This module holds what they share: the app state behind its one lock, the one
//! signed-in check, the error conversion and the off-UI-thread runner.
pub mod admin;
pub mod charge;
pub mod escalation;
pub mod him;
pub mod him_share;
mod mar;
pub mod nurse;
pub mod readiness;
pub mod registry;
pub mod review;
pub mod scenario;
pub mod session;
pub mod unit;

use crate::dto::{CommandError, ErrorCode, LastSave, Role, SessionInfo};
use dtk::api::{self, Session, Workstation};
use std::sync::{Arc, Mutex};

/// What the app holds between commands, behind ONE lock: the open workstation (or why it could not be opened), the
/// signed-in session and the outcome of the last save.
///
/// One lock and not one per field, because commands need the workstation and the session together: with two locks,
/// one command taking them in one order and another in the other order (the banner's timer polls while the nurse
/// saves) can wait on each other forever. With one, no lock order exists to get wrong. Core calls are short next to a
/// person's pace, so serialising them costs nothing anyone notices.
pub struct Shell {
    state: Mutex<State>,
    /// How far the running FHIR post has come, for the HIM desk to poll. Atomics, not a second lock: a post takes the
    /// one lock only for each short step and never while a transaction is on the network (`commands/him.rs`).
    pub(crate) post_progress: PostProgress,
}

/// The running (or last) post's counts: entries sent, accepted, refused, not yet answered; `running` while it runs.
#[derive(Default)]
pub(crate) struct PostProgress {
    pub running: std::sync::atomic::AtomicBool,
    pub sent: std::sync::atomic::AtomicUsize,
    pub accepted: std::sync::atomic::AtomicUsize,
    pub refused: std::sync::atomic::AtomicUsize,
    pub remaining: std::sync::atomic::AtomicUsize,
}

/// The shell's state; reached only through [`Shell::with_state`] or [`Shell::signed_in`], which hold the lock.
pub struct State {
    workstation: Result<Workstation, CommandError>,
    session: Option<Session>,
    /// The outcome of the last save since sign-in, for the banner's "last save durable" indicator. Kept beside the
    /// session (not in the web view) so a reload of the window cannot make an unsaved state look saved.
    last_save: Option<LastSave>,
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
        let state = State { workstation: workstation.map_err(from_api), session: None, last_save: None };
        Self { state: Mutex::new(state), post_progress: PostProgress::default() }
    }

    /// Runs `work` holding the shell's one lock. `work` must not call back into the shell (the lock is not
    /// re-entrant); every command is a single call of this or of [`Shell::signed_in`].
    pub fn with_state<T>(&self, work: impl FnOnce(&mut State) -> Result<T, CommandError>) -> Result<T, CommandError> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        work(&mut state)
    }

    /// Runs `work` with the workstation and the signed-in session, holding the one lock; see [`State::signed_in`].
    pub fn signed_in<T>(
        &self,
        work: impl FnOnce(&mut Workstation, &Session) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        self.with_state(|state| state.signed_in(work))
    }

    /// As [`Shell::signed_in`] for a screen refreshing itself on a timer: checked, but not counted as activity.
    pub fn signed_in_passive<T>(
        &self,
        work: impl FnOnce(&mut Workstation, &Session) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        self.with_state(|state| state.signed_in_as(api::Activity::Poll, work))
    }
}

impl State {
    /// The open workstation, or the error it failed to open with.
    pub fn workstation(&mut self) -> Result<&mut Workstation, CommandError> {
        self.workstation.as_mut().map_err(|error| error.clone())
    }

    /// The one signed-in check of the shell: runs `work` with the workstation and the signed-in session, or fails
    /// with the workstation's open error, else with `not_signed_in`. Every nurse, charge and HIM command goes through
    /// here, so the text is the same on every screen.
    ///
    /// First the core checks the session (`Workstation::check_session`): one idle longer than the site allows, or
    /// of an emergency account past its end, is dropped here with its keys and the command refused
    /// (`session_ended`); the app then shows the lock screen.
    pub fn signed_in<T>(
        &mut self,
        work: impl FnOnce(&mut Workstation, &Session) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        self.signed_in_as(api::Activity::User, work)
    }

    /// [`State::signed_in`], saying whether the command is the person's doing or a screen's timer.
    pub fn signed_in_as<T>(
        &mut self,
        activity: api::Activity,
        work: impl FnOnce(&mut Workstation, &Session) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let checked = {
            let (workstation, session) = self.signed_in_mut()?;
            workstation.check_session(session, activity, &dtk::clock::SystemClock)
        };
        if let Err(ended) = checked {
            self.end();
            return Err(from_api(ended));
        }
        let (workstation, session) = self.signed_in_mut()?;
        work(workstation, session)
    }

    /// The workstation and the signed-in session, both mutable (a password change updates the session).
    fn signed_in_mut(&mut self) -> Result<(&mut Workstation, &mut Session), CommandError> {
        let State { workstation, session, .. } = self;
        let workstation = workstation.as_mut().map_err(|error| error.clone())?;
        let session = session
            .as_mut()
            .ok_or_else(|| CommandError::new(ErrorCode::NotSignedIn, "Nobody is signed in on this workstation."))?;
        Ok((workstation, session))
    }

    /// Changes the signed-in user's password (see `session::change_password`): the current one is checked first
    /// unless the session signed in with a one-time password.
    pub(crate) fn change_password(
        &mut self,
        current: Option<&dtk::crypto::Password>,
        new_password: &dtk::crypto::Password,
    ) -> Result<SessionInfo, CommandError> {
        let (workstation, session) = self.signed_in_mut()?;
        if !session.must_change_password() {
            let current = current
                .filter(|p| !p.expose().is_empty())
                .ok_or_else(|| CommandError::new(ErrorCode::InvalidInput, "Type your current password first."))?;
            let username = session.username().to_owned();
            workstation.sign_in(&username, current, &dtk::clock::SystemClock).map_err(from_api)?;
        }
        workstation.change_password(session, new_password, &dtk::clock::SystemClock).map_err(from_api)?;
        Ok(session_info(session))
    }

    /// Starts a session: the previous one (and its keys) is dropped, and the banner forgets the last save.
    pub(crate) fn begin(&mut self, session: Session) {
        self.session = Some(session);
        self.last_save = None;
    }

    /// Ends the session, if any (the core zeroizes its keys on drop), and forgets the last save.
    pub(crate) fn end(&mut self) {
        self.session = None;
        self.last_save = None;
    }

    pub(crate) fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    pub(crate) fn last_save(&self) -> Option<LastSave> {
        self.last_save.clone()
    }

    pub(crate) fn set_last_save(&mut self, value: LastSave) {
        self.last_save = Some(value);
    }
}

pub(crate) fn poisoned() -> CommandError {
    CommandError::new(
        ErrorCode::Internal,
        "An earlier operation failed unexpectedly. Restart Downtime Kit; nothing saved before is lost.",
    )
}

impl From<api::ApiError> for CommandError {
    fn from(error: api::ApiError) -> Self {
        from_api(error)
    }
}

pub(crate) fn from_api(error: api::ApiError) -> CommandError {
    use api::ErrorCode as E;
    let code = match error.code {
        E::NotInitialised => ErrorCode::NotInitialised,
        E::AlreadyInitialised => ErrorCode::AlreadyInitialised,
        E::BadCredentials => ErrorCode::BadCredentials,
        E::Throttled => ErrorCode::Throttled,
        E::AccountLocked => ErrorCode::AccountLocked,
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
        E::UnsignedEntries => ErrorCode::UnsignedEntries,
        E::SessionEnded => ErrorCode::SessionEnded,
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

/// Runs a command's plain function off the UI thread: core work blocks (Argon2id takes a few hundred milliseconds by
/// design, and every command may wait for the shell's one lock).
pub(crate) async fn blocking<T: Send + 'static>(
    shell: &Arc<Shell>,
    work: impl FnOnce(&Shell) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn_blocking(move || work(&shell)).await.map_err(|_| poisoned())?
}
