//! The IPC boundary's data types: what crosses between the web view and Rust, and nothing else.
//!
//! These mirror the core's types on purpose instead of re-exporting them: the core may change its internals
//! without the UI noticing, and the conversion in `commands/` is where we decide what the UI may see
//! (a session's name and role, never its keys). TypeScript declarations are generated from these types by ts-rs
//! into `ui/src/lib/backend/generated/`; `tests/boundary.rs` fails when they are stale.
pub mod admin;
pub mod charge;
pub mod escalation;
pub mod him;
pub mod mar;
pub mod nurse;
pub mod readiness;
pub mod review;
pub mod scenario;
pub mod session;
pub mod unit;

pub use admin::*;
pub use charge::*;
pub use escalation::*;
pub use him::*;
pub use mar::*;
pub use nurse::*;
pub use readiness::*;
pub use review::*;
pub use scenario::*;
pub use session::*;
pub use unit::*;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// Every DTO's TypeScript, keyed by its file name under `ui/src/lib/backend/generated/`.
pub type Bindings = BTreeMap<String, String>;

/// Renders one DTO's TypeScript into `out`. Each submodule lists its own DTOs in a `bindings` function.
pub fn add<T: TS + 'static>(out: &mut Bindings) {
    let cfg = ts_rs::Config::new();
    // Both calls only fail for types that cannot be exported (generic or unnamed), which the DTOs never are; the
    // freshness test would then miss the file and say which.
    if let (Some(name), Ok(text)) = (T::output_path(), T::export_to_string(&cfg)) {
        out.insert(name.to_string_lossy().into_owned(), text);
    }
}

/// The TypeScript of every DTO that crosses IPC.
pub fn bindings() -> Bindings {
    let mut out = Bindings::new();
    add::<Role>(&mut out);
    add::<ErrorCode>(&mut out);
    add::<CommandError>(&mut out);
    session::bindings(&mut out);
    him::bindings(&mut out);
    nurse::bindings(&mut out);
    mar::bindings(&mut out);
    charge::bindings(&mut out);
    readiness::bindings(&mut out);
    review::bindings(&mut out);
    admin::bindings(&mut out);
    escalation::bindings(&mut out);
    unit::bindings(&mut out);
    scenario::bindings(&mut out);
    out
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
    /// A wrong password or an unknown username: one code, so sign-in does not tell which names exist.
    BadCredentials,
    Throttled,
    /// The account is locked after too many failed sign-ins; the message says whom to ask to unlock it.
    AccountLocked,
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
    /// Something the command needs is not on this workstation (CUPS `lp`, a PDF viewer), or not yet in this
    /// version of the core; the message says which.
    Unavailable,
    /// A handoff export would leave unsigned entries behind: the charge nurse sees the counts and confirms first.
    UnsignedEntries,
    /// The core ended the session: idle longer than the site allows, or an emergency account past its end.
    SessionEnded,
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
