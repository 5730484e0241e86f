//! The DTOs of set-up and sign-in.
use super::{add, Bindings, CommandError, Role};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<AppStatus>(out);
    add::<SetupRequest>(out);
    add::<SetupResult>(out);
    add::<SignInRequest>(out);
    add::<ChangePasswordRequest>(out);
    add::<SessionInfo>(out);
}

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

/// "Choose your password": the current one is needed unless the session signed in with a one-time password.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current: Option<String>,
    pub new_password: String,
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
