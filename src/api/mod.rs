//! The façade that the `dtk` command line and the Tauri shell call. It opens the workstation's vault, signs users
//! in, checks every operation against the signed-in role, and turns the domain errors into `{ code, message }`.

mod backup;
pub mod bench;
mod census;
mod clinical;
mod escalation;
mod handoff;
mod handover;
mod him;
mod mar;
mod paper;
mod post;
mod print;
mod procedures;
mod readback;
mod readiness;
mod review;
mod roster;
mod scenario;
pub mod share_import;
mod unit;
mod unit_overview;
mod users;

use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub use crate::entries::safety::{SafetyKind, SafetyWarning};
pub use crate::fhir::http::{Credentials, Secret};
pub use backup::{restore, Restored, RestoredEpisode};
pub use census::CensusSummary;
pub use clinical::{Checked, EntryOptions, EntrySaved};
pub use escalation::EscalationView;
pub use handoff::{HimKeyInfo, UnsignedEntries, UnsignedEntry};
pub use handover::action as handover_action;
pub use him::{BatchExported, HandEntry, PostReport, Progress, WorklistQuery, POST_ENTRIES_PER_TRANSACTION};
pub use mar::{Mar, OverdueDose, UnitOverdue};
pub use paper::{Assignment, Dose, PageEntered, PaperAnswers};
pub use post::{post_planned, PostOptions};
pub use print::{action as print_action, pdf_file_name, save_pdf, save_pdf_in, BlankFor};
pub use procedures::EpisodeStatus;
pub use readback::{EntryReadback, ReadState, Readback, ResourceProblem};
pub use scenario::ScenarioChoice;
pub use unit::{PeerStatus, PeerSync, UnitKey, UnitStatus, UnitSync, STALE_AFTER_MINUTES};
pub use unit_overview::{Charted, PatientOverview, UnitOverview, UnsignedElsewhere};
pub use users::{EmergencyRequest, EmergencyUser, Provisioned, Rekeyed, RosterResult, UserInfo};
pub use users::{DEMO_OUTAGE_HOURS, DEMO_PASSWORD, DEMO_UNIT, DEMO_USERS};
pub use {review::EpisodeReview, roster::RosterApplied};

use crate::audit::{self, action, Broken};
use crate::auth::{self, AuthError, NewUser, Op, Role, User};
use crate::clock::Clock;
use crate::crypto::{self, DataKey, KdfParams, Keys, OsRandom, Password, RecoveryKey};
use crate::drafts::{self, Draft};
use crate::forms::{self, Catalog, LoadProblem};
use crate::site::SiteConfig;
use crate::vault::{schema, Durable, Vault, VaultError};

/// A stable, machine-readable error class. The UI switches on it; scripts can too (`dtk --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    NotInitialised,
    AlreadyInitialised,
    /// A wrong password or an unknown username (deliberately one code: sign-in does not tell which names exist).
    BadCredentials,
    Throttled,
    /// The account is locked after the throttle's longest delay; a charge nurse or an administrator (per the site's
    /// `account_lockout`) unlocks it. The message says whom to ask.
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
    MustChangePassword,
    /// An allergy or duplicate warning needs the nurse's answer (see `findings`).
    SafetyCheck,
    /// Charting needs an open downtime episode.
    NoEpisode,
    /// Something this needs is not installed on the workstation (CUPS `lp` for printing, a PDF viewer).
    Unavailable,
    /// A handoff export would leave unsigned entries behind and nobody confirmed it (the message names the count per
    /// author; `Workstation::unsigned_entries` lists them).
    UnsignedEntries,
    /// The session was idle longer than the site allows, or its emergency account expired: it is over, sign in again.
    SessionEnded,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::NotInitialised => "not_initialised",
            ErrorCode::AlreadyInitialised => "already_initialised",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::Throttled => "throttled",
            ErrorCode::AccountLocked => "account_locked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Integrity => "integrity",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::Io => "io",
            ErrorCode::TooNew => "too_new",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::MustChangePassword => "must_change_password",
            ErrorCode::SafetyCheck => "safety_check",
            ErrorCode::NoEpisode => "no_episode",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::UnsignedEntries => "unsigned_entries",
            ErrorCode::SessionEnded => "session_ended",
        }
    }
}

/// What crosses to the UI and the command line. `message` is for people and never contains patient data.
#[derive(Debug, Clone, serde::Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Per-field validation findings or safety warnings, for the form screen to show next to each field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::forms::Finding>,
    /// With [`ErrorCode::SafetyCheck`]: the kind of warning that refused the save, so a caller can name the answer
    /// it needs (an override reason, a confirmation) without reading `message`. Not serialised: the UI has `findings`.
    #[serde(skip)]
    pub safety: Option<SafetyKind>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), findings: Vec::new(), safety: None }
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        let code = match &e {
            VaultError::TooNew { .. } => ErrorCode::TooNew,
            VaultError::NotAVault(_) | VaultError::Integrity(_) => ErrorCode::Integrity,
            VaultError::Missing(_) => ErrorCode::NotInitialised,
            VaultError::Exists(_) => ErrorCode::AlreadyInitialised,
            VaultError::Full => ErrorCode::StorageFull,
            VaultError::ReadOnly => ErrorCode::ReadOnly,
            VaultError::Busy => ErrorCode::Conflict,
            VaultError::Durability(_) | VaultError::Io(_) | VaultError::Sqlite(_) => ErrorCode::Io,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::Locked { .. } => ErrorCode::AccountLocked,
            AuthError::BadPassword(_) | AuthError::Disabled(_) | AuthError::Expired(_) => ErrorCode::BadCredentials,
            AuthError::Throttled { .. } => ErrorCode::Throttled,
            AuthError::Forbidden { .. } => ErrorCode::Forbidden,
            AuthError::WeakPassword(_) | AuthError::BadUsername(_) => ErrorCode::InvalidInput,
            AuthError::MustChangePassword(_) => ErrorCode::MustChangePassword,
            AuthError::Vault(v) => return ApiError::from(clone_vault_error(v)),
        };
        ApiError::new(code, e.to_string())
    }
}

fn clone_vault_error(e: &VaultError) -> VaultError {
    match e {
        VaultError::TooNew { found, supported } => VaultError::TooNew { found: *found, supported: *supported },
        VaultError::Full => VaultError::Full,
        VaultError::ReadOnly => VaultError::ReadOnly,
        VaultError::Busy => VaultError::Busy,
        VaultError::Integrity(s) => VaultError::Integrity(s.clone()),
        VaultError::Missing(p) => VaultError::Missing(p.clone()),
        VaultError::Exists(p) => VaultError::Exists(p.clone()),
        VaultError::NotAVault(p) => VaultError::NotAVault(p.clone()),
        other => VaultError::Io(other.to_string()),
    }
}

/// Set-up of a new workstation vault.
pub struct InitRequest {
    pub unit: String,
    pub admin: String,
    pub display_name: String,
    pub password: Password,
}

/// A signed-in user. Holds the data key; dropping the session (sign-out, idle lock) zeroizes it.
pub struct Session {
    user: User,
    dek: DataKey,
    keys: Keys,
    audit_damaged: bool,
    /// The last time the person did something (a command, or input the app reported): the idle lock counts from it.
    last_active: OffsetDateTime,
    /// An emergency account's end: the session ends with it, not only the next sign-in.
    expires_at: Option<OffsetDateTime>,
    /// A roster user's secret (src/roster), zeroized with the session: their password change re-wraps it.
    user_secret: Option<crypto::UserSecret>,
}

/// What a command of the desktop app counts as for the idle lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Something the person did: it keeps the session alive.
    User,
    /// A screen refreshing itself on a timer (the banner, the overdue notice): checked, but it keeps nothing alive.
    Poll,
}

/// "90 s", "5 min", "2 h": the site's idle timeout as a person reads it.
fn idle_words(secs: i64) -> String {
    if secs < 120 {
        format!("{secs} s")
    } else {
        crate::backup::age_words(secs / 60)
    }
}

/// Grace the core adds to the site's idle timeout: the app's own lock, which first keeps an open form as an
/// encrypted draft, comes first; the core's refusal is the backstop for a page that does not lock.
pub const IDLE_GRACE_SECS: i64 = 60;

impl Session {
    pub fn username(&self) -> &str {
        &self.user.username
    }
    pub fn display_name(&self) -> &str {
        &self.user.display_name
    }
    pub fn role(&self) -> Role {
        self.user.role
    }
    pub fn user_id(&self) -> &str {
        &self.user.id
    }
    /// True until a roster user has replaced the one-time password.
    pub fn must_change_password(&self) -> bool {
        self.user.must_change
    }
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
    /// True when the audit chain was found changed outside the application at sign-in: only `verify` is useful.
    pub fn audit_damaged(&self) -> bool {
        self.audit_damaged
    }

    /// Refuses the operation unless the role allows it. Called first by every operation.
    pub fn require(&self, op: Op) -> Result<(), ApiError> {
        if self.user.must_change {
            return Err(AuthError::MustChangePassword(self.user.username.clone()).into());
        }
        if self.user.role.allows(op) {
            Ok(())
        } else {
            Err(AuthError::Forbidden { role: self.user.role.as_str(), op: op_words(op).into() }.into())
        }
    }
}

fn op_words(op: Op) -> &'static str {
    match op {
        Op::ChartEntry => "chart entries",
        Op::SaveDraft => "save drafts",
        Op::RegisterPatient => "register patients",
        Op::ReadUnit => "read the unit's patients and entries",
        Op::ManageEpisode => "start or end a downtime episode",
        Op::PrintUnit => "print for the whole unit",
        Op::PrintEntry => "print entries",
        Op::AddEmergencyUser => "add an emergency user",
        Op::ImportCensus => "import the census",
        Op::Reconcile => "reconcile entries",
        Op::ImportHandoff => "import handoff files",
        Op::ExportFhir => "export FHIR",
        Op::ExportHandoff => "export the handoff file",
        Op::Backup => "back up the vault",
        Op::ManageUsers => "manage users",
        Op::UnlockUser => "unlock accounts",
        Op::Configure => "change the configuration",
        Op::Verify => "verify the vault",
        Op::ReadAudit => "read the audit log",
    }
}

/// What `add_user` needs.
pub struct AddUserRequest {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: Password,
}

/// One workstation: its vault folder, its site configuration and its forms.
pub struct Workstation {
    dir: PathBuf,
    vault: Option<Vault>,
    site: SiteConfig,
    catalog: Catalog,
    form_problems: Vec<LoadProblem>,
    checklist: crate::procedures::Checklist,
    checklist_problems: Vec<crate::procedures::ChecklistProblem>,
    escalation: crate::escalation::Loaded,
    /// The app's automatic backup: the one running, the last failure (`api/backup.rs`).
    backups: crate::backup::Automatic,
}

/// The `meta` key of this workstation's id, minted at set-up.
const WORKSTATION_ID: &str = "workstation_id";

/// The standard forms built into the application, used when no forms folder is configured.
const BUNDLED_FORMS: &[(&str, &str)] = &[
    ("medication-administration.json", include_str!("../../forms/medication-administration.json")),
    ("medication-order.json", include_str!("../../forms/medication-order.json")),
    ("nursing-note.json", include_str!("../../forms/nursing-note.json")),
    ("vital-signs.json", include_str!("../../forms/vital-signs.json")),
    ("downtime-registration.json", include_str!("../../forms/downtime-registration.json")),
];

/// Loads the forms of a folder, or the built-in ones.
pub fn load_forms(dir: Option<&Path>) -> (Catalog, Vec<LoadProblem>) {
    match dir {
        Some(d) => Catalog::load_dir(d),
        None => {
            let mut problems = Vec::new();
            let forms =
                BUNDLED_FORMS.iter().filter_map(|(name, json)| match forms::parse_form(name, json.as_bytes()) {
                    Ok(f) => Some(f),
                    Err(p) => {
                        problems.extend(p);
                        None
                    }
                });
            (Catalog::from_forms(forms.collect::<Vec<_>>()), problems)
        }
    }
}

impl Workstation {
    /// Opens the vault in `dir` if there is one (a folder without a vault is an uninitialised workstation), with the
    /// site configuration found there (`site.json`) or the defaults, and the built-in forms unless it names a folder.
    pub fn open(dir: &Path) -> Result<Workstation, ApiError> {
        let site =
            SiteConfig::for_vault(dir, None).map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))?;
        Self::open_with(dir, site, None)
    }

    /// Opens with an explicit site configuration and forms folder (`--forms`, `DTK_FORMS`), which wins over the
    /// configuration's `forms_dir`.
    pub fn open_with(dir: &Path, site: SiteConfig, forms_dir: Option<&Path>) -> Result<Workstation, ApiError> {
        let vault = if Vault::exists(dir) { Some(Vault::open(dir)?) } else { None };
        let (catalog, form_problems) = load_forms(forms_dir.or(site.forms_dir.as_deref()));
        let (checklist, checklist_problems) = crate::procedures::load_checklist(site.checklist_file.as_deref());
        let escalation = crate::escalation::load(site.escalation_file.as_deref(), site.folder.as_deref());
        Ok(Workstation {
            dir: dir.to_path_buf(),
            vault,
            site,
            catalog,
            form_problems,
            checklist,
            checklist_problems,
            escalation,
            backups: Default::default(),
        })
    }

    pub fn site(&self) -> &SiteConfig {
        &self.site
    }

    /// The loaded forms.
    pub fn forms(&self) -> &Catalog {
        &self.catalog
    }

    /// Forms that failed to load (each names its file, linkId and reason); the others work regardless.
    pub fn form_problems(&self) -> &[LoadProblem] {
        &self.form_problems
    }

    /// This workstation's id, minted at set-up (names it in handoff files and on entries).
    pub fn workstation_id(&self) -> String {
        self.vault.as_ref().and_then(|v| v.meta_text(WORKSTATION_ID).ok().flatten()).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_initialised(&self) -> bool {
        self.vault.is_some()
    }

    /// True when the vault could only be opened read-only: the app shows a banner and never offers to save.
    pub fn is_read_only(&self) -> bool {
        self.vault.as_ref().is_some_and(Vault::is_read_only)
    }

    /// The unit: the site configuration's, else the one given at set-up.
    pub fn unit(&self) -> Option<String> {
        self.site.unit.clone().or_else(|| self.vault.as_ref().and_then(|v| v.meta_text("unit").ok().flatten()))
    }

    /// The open vault, for modules that read directly (and for tests).
    pub fn vault(&self) -> Result<&Vault, ApiError> {
        self.vault.as_ref().ok_or_else(not_initialised)
    }

    pub fn vault_mut(&mut self) -> Result<&mut Vault, ApiError> {
        self.vault.as_mut().ok_or_else(not_initialised)
    }

    /// Creates the vault, its data key, the recovery wrap and the first administrator, in one transaction.
    /// Returns the recovery key, to be shown exactly once.
    pub fn init(&mut self, req: InitRequest, clock: &dyn Clock) -> Result<RecoveryKey, ApiError> {
        if self.vault.is_some() || Vault::exists(&self.dir) {
            return Err(VaultError::Exists(self.dir.clone()).into());
        }
        auth::check_username(&req.admin)?;
        auth::check_password(&req.admin, &req.password)?;
        let unit = req.unit.trim();
        if unit.is_empty() || unit.chars().any(char::is_control) || unit.len() > 100 {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the unit name must be a plain name of 1–100 characters",
            ));
        }
        let mut rng = OsRandom;
        let dek = DataKey::generate(&mut rng);
        let recovery = RecoveryKey::generate(&mut rng);
        let keys = dek.keys();
        let now = clock.now();
        let mut vault = Vault::create(&self.dir)?;
        let result = vault.write(&keys, &req.admin, now, |tx| -> Result<(), ApiError> {
            let mut vault_id = [0u8; 16];
            tx.random(&mut vault_id);
            let workstation_id = tx.new_id().to_string();
            for (k, v) in [
                ("vault_id", vault_id.to_vec()),
                (WORKSTATION_ID, workstation_id.into_bytes()),
                ("unit", unit.as_bytes().to_vec()),
                ("created_at", crate::clock::stamp(now).into_bytes()),
                (crate::census_feed::INBOX_META, crate::crypto::hex(&keys.inbox_public()).into_bytes()),
            ] {
                tx.insert_meta(k, &v)?;
            }
            auth::store_recovery_wrap(tx, &dek, &recovery)?;
            tx.audit(
                action::VAULT_CREATED,
                "vault",
                &serde_json::json!({ "unit": unit, "schema": schema::SCHEMA_VERSION }),
            )?;
            auth::create_user(
                tx,
                &dek,
                &NewUser {
                    username: &req.admin,
                    display_name: &req.display_name,
                    role: Role::Admin,
                    password: &req.password,
                    must_change: false,
                    expires_at: None,
                    emergency: false,
                },
                KdfParams::FLOOR,
            )?;
            // A new vault's rows carry their MACs from the start; the marker says so.
            tx.establish_row_macs()?;
            Ok(())
        });
        match result {
            Ok(_) => {
                self.vault = Some(vault);
                Ok(recovery)
            }
            Err(e) => {
                // Nothing durable happened: remove the empty vault so that set-up can simply be tried again.
                drop(vault);
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(self.dir.join(format!("{}{suffix}", crate::vault::FILE_NAME)));
                }
                Err(e)
            }
        }
    }

    /// Signs a user in: unwraps the data key with the password (Argon2id), or counts the failure.
    pub fn sign_in(&mut self, username: &str, password: &Password, clock: &dyn Clock) -> Result<Session, ApiError> {
        self.roster_refuses(username)?;
        let lockout = self.site.account_lockout;
        let vault = self.vault_mut()?;
        let unlocked = auth::sign_in(vault, username, password, clock.now(), lockout)?;
        let expires_at = unlocked.user.expires_at.as_deref().and_then(crate::clock::parse_stamp);
        let session = Session {
            user: unlocked.user,
            dek: unlocked.dek,
            keys: unlocked.keys,
            audit_damaged: unlocked.audit_damaged,
            last_active: clock.now(),
            expires_at,
            user_secret: unlocked.user_secret,
        };
        self.roster_pick_up(&session, clock.now());
        self.census_pick_up(&session, clock.now());
        Ok(session)
    }

    /// The idle lock and an emergency account's end, enforced here rather than by the web page (issue 17): refuses
    /// (`session_ended`) a session idle longer than the site's `idle_timeout_secs` (plus [`IDLE_GRACE_SECS`]; 0
    /// turns the lock off) or past its account's expiry; otherwise a [`Activity::User`] command counts as activity.
    /// The caller drops a refused session (its keys with it).
    pub fn check_session(&self, session: &mut Session, activity: Activity, clock: &dyn Clock) -> Result<(), ApiError> {
        let now = clock.now();
        if let Some(end) = session.expires_at.filter(|end| *end <= now) {
            return Err(ApiError::new(
                ErrorCode::SessionEnded,
                format!(
                    "the emergency account '{}' expired at {}: sign in with another account",
                    session.username(),
                    crate::clock::stamp(end)
                ),
            ));
        }
        let idle = i64::try_from(self.site.idle_timeout_secs).unwrap_or(i64::MAX);
        if idle > 0 && (now - session.last_active).whole_seconds() > idle.saturating_add(IDLE_GRACE_SECS) {
            return Err(ApiError::new(
                ErrorCode::SessionEnded,
                format!("the session was locked after {} without use: sign in again", idle_words(idle)),
            ));
        }
        if activity == Activity::User {
            session.last_active = now;
        }
        Ok(())
    }

    /// Resets a user's password with the recovery key (the key printed at set-up). Audited.
    pub fn recover(
        &mut self,
        recovery_key: &str,
        username: &str,
        new_password: &Password,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        let vault = self.vault_mut()?;
        let rk =
            RecoveryKey::parse(recovery_key).map_err(|e| ApiError::new(ErrorCode::BadCredentials, e.to_string()))?;
        let (dek, keys) = crate::keyring::open_with_recovery(vault.conn(), &rk)?
            .ok_or_else(|| ApiError::new(ErrorCode::BadCredentials, "the recovery key does not open this vault"))?;
        let user = auth::find_user(vault.conn(), username)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no user named '{username}'")))?;
        let _saved = vault.write(&keys, "recovery-key", clock.now(), |tx| -> Result<(), ApiError> {
            tx.audit(
                action::RECOVERY_USED,
                &format!("users:{}", user.id),
                &serde_json::json!({ "username": username }),
            )?;
            auth::change_password(tx, &dek, &user, new_password)?;
            auth::clear_lockout(tx, &user.id)?;
            Ok(())
        })?;
        Ok(())
    }

    /// Changes the signed-in user's password (required at first sign-in for roster accounts).
    pub fn change_password(
        &mut self,
        session: &mut Session,
        new_password: &Password,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        if let Some(updated) = self.change_roster_password(session, new_password, clock.now())? {
            session.user = updated;
            return Ok(());
        }
        let vault = self.vault_mut()?;
        let (user, dek) = (session.user.clone(), session.dek.clone());
        let updated = vault
            .write(&session.keys, &user.username, clock.now(), |tx| {
                auth::change_password(tx, &dek, &user, new_password)
            })?
            .into_value();
        session.user = updated;
        Ok(())
    }

    /// Adds a staff account (administrators only).
    pub fn add_user(
        &mut self,
        session: &Session,
        req: AddUserRequest,
        clock: &dyn Clock,
    ) -> Result<UserInfo, ApiError> {
        session.require(Op::ManageUsers)?;
        let vault = self.vault_mut()?;
        let user = vault
            .write(&session.keys, session.username(), clock.now(), |tx| {
                auth::create_user(
                    tx,
                    &session.dek,
                    &NewUser {
                        username: &req.username,
                        display_name: &req.display_name,
                        role: req.role,
                        password: &req.password,
                        must_change: false,
                        expires_at: None,
                        emergency: false,
                    },
                    KdfParams::FLOOR,
                )
            })?
            .into_value();
        Ok(UserInfo::from(&user))
    }

    pub fn list_users(&self, session: &Session) -> Result<Vec<UserInfo>, ApiError> {
        session.require(Op::ManageUsers)?;
        Ok(auth::list_users(self.vault()?.conn())?.iter().map(UserInfo::from).collect())
    }

    /// Checks every ciphertext, every user row and the whole audit chain. An empty list means intact.
    pub fn verify(&self, session: &Session) -> Result<Vec<Broken>, ApiError> {
        session.require(Op::Verify)?;
        check_vault(self.vault()?.conn(), &session.keys)
    }

    /// Compares record marks read off printed pages (`512·3fa2c1d0`, the footer's `record …`) with the vault: each one
    /// the vault no longer holds is a problem, as `verify` reports them (a vault rolled back or replaced since).
    pub fn verify_printed(&self, session: &Session, marks: &[String]) -> Result<Vec<Broken>, ApiError> {
        session.require(Op::Verify)?;
        let conn = self.vault()?.conn();
        let mut problems = Vec::new();
        for m in marks {
            problems.extend(audit::check_printed(conn, m)?);
        }
        Ok(problems)
    }

    /// Saves (creates or replaces) one of the signed-in user's drafts, encrypted. Returns its id once durable.
    pub fn save_draft(
        &mut self,
        session: &Session,
        draft_id: Option<&str>,
        body: &serde_json::Value,
        clock: &dyn Clock,
    ) -> Result<Durable<String>, ApiError> {
        session.require(Op::SaveDraft)?;
        let vault = self.vault_mut()?;
        Ok(vault.write(&session.keys, session.username(), clock.now(), |tx| {
            drafts::save(tx, session.user_id(), draft_id, body)
        })?)
    }

    /// The signed-in user's own drafts, newest first. Other users' drafts are never returned.
    pub fn my_drafts(&self, session: &Session) -> Result<Vec<Draft>, ApiError> {
        session.require(Op::SaveDraft)?;
        Ok(drafts::list(self.vault()?.conn(), &session.keys, session.user_id())?)
    }

    pub fn discard_draft(&mut self, session: &Session, draft_id: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::SaveDraft)?;
        let vault = self.vault_mut()?;
        let _saved = vault.write(&session.keys, session.username(), clock.now(), |tx| {
            drafts::discard(tx, session.user_id(), draft_id)
        })?;
        Ok(())
    }
}

/// Where the vault lives when neither `--vault` nor `DTK_VAULT` says: the platform's data folder (the desktop
/// app and `dtk` agree on it).
pub fn default_vault_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("downtime-kit")
}

/// What `dtk verify` checks, for any vault whose keys are at hand (a restored backup is checked the same way).
pub(crate) fn check_vault(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Broken>, ApiError> {
    let mut problems = crate::vault::verify::sealed_columns(conn, keys)?;
    problems.extend(auth::verify_users(conn, keys)?);
    problems.extend(crate::vault::verify::row_macs(conn, keys)?);
    problems.extend(crate::vault::verify::missing_rows(conn)?);
    problems.extend(audit::verify(conn, keys)?);
    Ok(problems)
}

fn not_initialised() -> ApiError {
    ApiError::new(ErrorCode::NotInitialised, "this workstation has not been set up yet (dtk init)")
}
