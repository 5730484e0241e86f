//! The IPC boundary's data types: what crosses between the web view and Rust, and nothing else.
//!
//! These mirror the core's types on purpose instead of re-exporting them: the core may change its internals
//! without the UI noticing, and the conversion in `commands.rs` is where we decide what the UI may see
//! (a session's name and role, never its keys). TypeScript declarations are generated from these types by ts-rs
//! into `ui/src/lib/backend/generated/`; `tests::bindings_are_fresh` fails when they are stale.
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the first screen needs to know: whether this workstation already has a vault.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub initialised: bool,
    /// The unit the vault belongs to, once set up; shown on the sign-in screen and in the banner.
    pub unit: Option<String>,
}

/// The first-run form. The password arrives as a plain string because that is what JSON carries; the command moves
/// it into the core's zeroizing `Password` at once.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupRequest {
    pub unit: String,
    pub admin: String,
    pub display_name: String,
    pub password: String,
    /// Load the synthetic demo unit right after creating the vault, so a newcomer can try everything.
    pub load_demo: bool,
}

/// What set-up returns. The recovery key is shown once and never asked for again by the UI.
#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SetupResult {
    pub recovery_key: String,
    /// Whether the demo unit was loaded (false when it was not asked for, or when loading it failed).
    pub demo_loaded: bool,
    /// Why the demo unit could not be loaded. The vault exists by then, so set-up still succeeds: failing it would
    /// lose the recovery key, which is shown only once.
    pub demo_error: Option<CommandError>,
}

/// The sign-in form.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// Who is signed in, as the UI may show it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// A roster user's one-time password must be replaced before the core allows anything else.
    pub must_change_password: bool,
}

/// A user's role; the core checks it on every command, the UI only uses it to choose what to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Nurse,
    Charge,
    Him,
    Admin,
}

/// Why a command failed, as a stable snake_case code the UI switches on. The message is for people and never
/// carries PHI; the UI never parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotInitialised,
    AlreadyInitialised,
    BadCredentials,
    UnknownUser,
    Throttled,
    Forbidden,
    InvalidInput,
    Integrity,
    StorageFull,
    ReadOnly,
    Io,
    TooNew,
    NotFound,
    Conflict,
    /// The user signed in with a one-time password and must choose their own before doing anything else.
    MustChangePassword,
    /// An allergy or duplicate warning needs the nurse's answer before the entry is saved.
    SafetyCheck,
    /// Charting needs an open downtime episode; the charge nurse starts one.
    NoEpisode,
    /// The feature exists in the UI but not yet in this version of the core.
    Unavailable,
    /// The command needs a signed-in user and there is none (the shell's own check, before calling the core).
    NotSignedIn,
    /// The shell itself failed (a poisoned lock after a panic); the message says what to do.
    Internal,
}

/// The error every command returns: `{ code, message }`.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
