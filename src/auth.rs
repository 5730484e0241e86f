//! Staff accounts, roles and sign-in: per-user password wraps of the data key, a throttle that survives restarts,
//! and the role × operation matrix that every core operation checks (never the UI).

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use crate::audit::{self, action};
use crate::clock::{parse_stamp, stamp};
use crate::crypto::{self, CryptoError, DataKey, KdfParams, Keys, Password};
use crate::keyring::{decoy_wrap, load_wrap, open_wrap, remove_wrap, store_wrap};
pub use crate::keyring::{load_recovery_wrap, store_recovery_wrap, RECOVERY_WRAP};
use crate::site::AccountLockout;
use crate::vault::{Tx, Vault, VaultError};

/// Consecutive failures allowed before sign-in for that user is throttled.
pub const FAILURES_BEFORE_BACKOFF: i64 = 5;
/// First back-off; doubles with every further failure up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: i64 = 30;
pub const MAX_BACKOFF_SECS: i64 = 15 * 60;
/// The failure that locks the account (unless the site's `account_lockout` is `off`): the first one after the
/// throttle's longest delay, [`MAX_BACKOFF_SECS`], was reached and waited out (failures 5–10 wait 30 s … 15 min).
pub const LOCK_AFTER_FAILURES: i64 = 11;
/// Shortest password accepted. Long enough to resist guessing at Argon2id cost, short enough for a 3 a.m. sign-in.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The four roles of docs/design.md "Roles and permissions".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Nurse,
    Charge,
    Him,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Nurse, Role::Charge, Role::Him, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::Charge => "charge",
            Role::Him => "him",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role × operation matrix. Every operation of the core calls this before it touches anything.
    pub fn allows(self, op: Op) -> bool {
        use Op::*;
        use Role::*;
        match op {
            // Clinical charting: nurses and charge nurses.
            ChartEntry | SaveDraft | RegisterPatient => matches!(self, Nurse | Charge),
            // Reading the unit's patients and entries: everyone who works with them.
            ReadUnit => matches!(self, Nurse | Charge | Him),
            // Unit-level control during the downtime.
            ManageEpisode | AddEmergencyUser => matches!(self, Charge | Admin),
            // Unit-wide prints carry every patient's name: clinical staff only, like reading.
            PrintUnit => matches!(self, Charge),
            PrintEntry => matches!(self, Nurse | Charge | Him),
            ImportCensus => matches!(self, Charge | Admin),
            // After recovery.
            Reconcile | ImportHandoff | ExportFhir => matches!(self, Him),
            ExportHandoff => matches!(self, Charge | Admin),
            // A copy of the whole vault leaves the workstation: the people who hand the unit's data off.
            Backup => matches!(self, Charge | Admin),
            // Hospital IT.
            ManageUsers | Configure => matches!(self, Admin),
            // A locked nurse at 3 a.m. asks the charge nurse; the site may keep it to IT (`account_lockout`).
            UnlockUser => matches!(self, Charge | Admin),
            Verify | ReadAudit => matches!(self, Charge | Him | Admin),
        }
    }
}

/// Operations that roles are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    ChartEntry,
    SaveDraft,
    RegisterPatient,
    ReadUnit,
    ManageEpisode,
    PrintUnit,
    PrintEntry,
    AddEmergencyUser,
    ImportCensus,
    Reconcile,
    ImportHandoff,
    ExportFhir,
    ExportHandoff,
    Backup,
    ManageUsers,
    UnlockUser,
    Configure,
    Verify,
    ReadAudit,
}

impl Op {
    pub const ALL: [Op; 19] = [
        Op::ChartEntry,
        Op::SaveDraft,
        Op::RegisterPatient,
        Op::ReadUnit,
        Op::ManageEpisode,
        Op::PrintUnit,
        Op::PrintEntry,
        Op::AddEmergencyUser,
        Op::ImportCensus,
        Op::Reconcile,
        Op::ImportHandoff,
        Op::ExportFhir,
        Op::ExportHandoff,
        Op::Backup,
        Op::ManageUsers,
        Op::UnlockUser,
        Op::Configure,
        Op::Verify,
        Op::ReadAudit,
    ];
}

/// Errors of sign-in and account management. They name usernames (staff, not patients), never passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The password did not unlock the account, or there is no account of that name: the two are told apart only
    /// in the audit log, so sign-in does not tell a guesser which staff ids exist.
    #[error("wrong username or password")]
    BadPassword(String),
    /// The throttle reached its longest delay and the guessing went on: only an unlock lets the account in again.
    #[error("the account '{user}' is locked after {failures} failed sign-ins; ask {who} to unlock it")]
    Locked { user: String, failures: i64, who: &'static str },
    /// Too many failed sign-ins; the account is locked for a while.
    #[error("too many failed sign-ins for '{user}': try again in {retry_after_secs} s, or ask the charge nurse")]
    Throttled { user: String, retry_after_secs: i64 },
    /// The account has been disabled by an administrator.
    #[error("the account '{0}' is disabled")]
    Disabled(String),
    /// An emergency account past its expiry.
    #[error("the emergency account '{0}' has expired")]
    Expired(String),
    /// The signed-in role may not do this.
    #[error("a {role} may not {op}")]
    Forbidden { role: &'static str, op: String },
    /// The new password is not acceptable.
    #[error("the password is not acceptable: {0}")]
    WeakPassword(String),
    /// The username is taken or malformed.
    #[error("the username is not acceptable: {0}")]
    BadUsername(String),
    /// The user's first sign-in needs a new password before anything else.
    #[error("'{0}' must choose a new password before continuing")]
    MustChangePassword(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Vault(e.into())
    }
}

/// A staff account as stored.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub must_change: bool,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub emergency: bool,
    mac: Vec<u8>,
    failed_count: i64,
    locked_until: Option<String>,
}

impl User {
    fn mac_parts(&self) -> Vec<Vec<u8>> {
        vec![
            b"dtk-user-v1".to_vec(),
            self.id.as_bytes().to_vec(),
            self.username.as_bytes().to_vec(),
            self.display_name.as_bytes().to_vec(),
            self.role.as_str().as_bytes().to_vec(),
            [u8::from(self.active), u8::from(self.must_change), u8::from(self.emergency)].to_vec(),
            self.created_at.as_bytes().to_vec(),
            self.created_by.as_bytes().to_vec(),
            self.expires_at.clone().unwrap_or_default().into_bytes(),
        ]
    }

    fn compute_mac(&self, keys: &Keys) -> Vec<u8> {
        let parts = self.mac_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        keys.row_mac(&refs).to_vec()
    }

    /// Consecutive failed sign-ins since the last good one (the throttle and the lock count them).
    pub fn failed_sign_ins(&self) -> i64 {
        self.failed_count
    }

    /// Whether the row is as the application wrote it (role, status and expiry not edited behind its back).
    pub fn mac_ok(&self, keys: &Keys) -> bool {
        let parts = self.mac_parts();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        keys.verify_row_mac(&refs, &self.mac)
    }

    /// Refuses a row that fails its MAC. Called before anything re-seals the row: re-sealing an edited row (a
    /// password reset, a disable) would make the edit valid and hide it from `verify`. Names the row by id only.
    fn check_row(&self, keys: &Keys) -> Result<(), VaultError> {
        if self.mac_ok(keys) {
            return Ok(());
        }
        Err(VaultError::Integrity(format!("users {}: {USER_ROW_CHANGED}", self.id)))
    }

    /// A new account of the site's roster (src/roster/store.rs fills in the roster's fields, seals and writes it).
    pub(crate) fn for_roster(id: String, username: &str, created_at: String) -> User {
        let (display_name, created_by) = (String::new(), ROSTER_CREATOR.to_string());
        let (mac, failed_count, locked_until, expires_at) = (Vec::new(), 0, None, None);
        User {
            id,
            username: username.to_string(),
            display_name,
            role: Role::Nurse,
            active: true,
            must_change: true,
            created_at,
            created_by,
            expires_at,
            emergency: false,
            mac,
            failed_count,
            locked_until,
        }
    }

    /// Computes the row's MAC after its fields were changed, before [`put_row`] writes it.
    pub(crate) fn seal(&mut self, keys: &Keys) {
        self.mac = self.compute_mac(keys);
    }

    /// The row as stored now (not as a session or a caller read it earlier), checked before it is re-sealed.
    pub(crate) fn reread_checked(&self, tx: &Tx<'_>) -> Result<User, VaultError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
        let current = tx
            .sql()
            .query_row(&sql, [&self.id], user_from_row)
            .optional()?
            .ok_or_else(|| VaultError::Integrity(format!("users {}: the account row is missing", self.id)))?;
        current.check_row(tx.keys())?;
        Ok(current)
    }
}

const USER_ROW_CHANGED: &str = "the account row was changed outside Downtime Kit";

const USER_COLUMNS: &str = "id, username, display_name, role, status, must_change, created_at, created_by, expires_at, emergency, mac, failed_count, locked_until";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    let status: String = r.get(4)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        // The CHECK constraint keeps role to the four names; an unknown one fails the MAC check anyway.
        role: Role::parse(&role).unwrap_or(Role::Nurse),
        active: status == "active",
        must_change: r.get::<_, i64>(5)? != 0,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
        expires_at: r.get(8)?,
        emergency: r.get::<_, i64>(9)? != 0,
        mac: r.get(10)?,
        failed_count: r.get(11)?,
        locked_until: r.get(12)?,
    })
}

pub fn find_user(conn: &rusqlite::Connection, username: &str) -> Result<Option<User>, VaultError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1");
    Ok(conn.query_row(&sql, [username], user_from_row).optional()?)
}

pub fn list_users(conn: &rusqlite::Connection) -> Result<Vec<User>, VaultError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], user_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Usernames are short identifiers typed at every sign-in: lowercase letters, digits, dot, dash, underscore.
pub fn check_username(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadUsername("use 1–64 lowercase letters, digits, '.', '-' or '_' (for example 'jsmith')".into()))
    }
}

/// The password rules as the sign-in screens show them: the same rules [`check_password`] applies.
pub fn password_rules() -> String {
    format!("At least {MIN_PASSWORD_CHARS} characters, and not your username.")
}

pub fn check_password(username: &str, password: &Password) -> Result<(), AuthError> {
    let pw = password.expose();
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword(format!("it must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    if pw.eq_ignore_ascii_case(username) {
        return Err(AuthError::WeakPassword("it must not be the username".into()));
    }
    Ok(())
}

/// What a new account needs.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password: &'a Password,
    /// True for roster imports: the one-time password must be changed at first sign-in.
    pub must_change: bool,
    /// Emergency (break-glass) accounts expire.
    pub expires_at: Option<OffsetDateTime>,
    pub emergency: bool,
}

/// Creates an account and wraps the data key for it, inside the caller's transaction (so the audit row and the
/// account land together).
pub fn create_user(tx: &mut Tx<'_>, dek: &DataKey, new: &NewUser<'_>, params: KdfParams) -> Result<User, AuthError> {
    check_username(new.username)?;
    check_password(new.username, new.password)?;
    if new.display_name.trim().is_empty() || new.display_name.chars().any(char::is_control) {
        return Err(AuthError::BadUsername("the display name must be a plain, non-empty name".into()));
    }
    if find_user(tx.sql(), new.username)?.is_some() {
        return Err(AuthError::BadUsername(format!("'{}' already exists", new.username)));
    }
    let id = tx.new_id().to_string();
    let mut user = User {
        id: id.clone(),
        username: new.username.to_string(),
        display_name: new.display_name.trim().to_string(),
        role: new.role,
        active: true,
        must_change: new.must_change,
        created_at: stamp(tx.at()),
        created_by: tx.actor().to_string(),
        expires_at: new.expires_at.map(stamp),
        emergency: new.emergency,
        mac: Vec::new(),
        failed_count: 0,
        locked_until: None,
    };
    user.mac = user.compute_mac(tx.keys());
    put_row(tx, &user)?;
    store_wrap(tx, dek, &user.id, new.password, params)?;
    tx.audit(
        action::USER_ADDED,
        &format!("users:{}", user.id),
        &serde_json::json!({ "username": user.username, "role": user.role.as_str(), "emergency": user.emergency, "expires_at": user.expires_at }),
    )?;
    Ok(user)
}

/// Writes a user row as it is (its MAC computed by the caller): a new one, or every changeable column of an
/// existing one (the site's roster brings accounts up to date, src/roster/store.rs).
pub(crate) fn put_row(tx: &Tx<'_>, user: &User) -> Result<(), VaultError> {
    tx.sql().execute(
        "INSERT INTO users (id, username, display_name, role, status, must_change, created_at, created_by, expires_at, emergency, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET display_name = ?3, role = ?4, status = ?5, must_change = ?6, expires_at = ?9,
                                        emergency = ?10, mac = ?11",
        params![
            user.id,
            user.username,
            user.display_name,
            user.role.as_str(),
            if user.active { "active" } else { "disabled" },
            i64::from(user.must_change),
            user.created_at,
            user.created_by,
            user.expires_at,
            i64::from(user.emergency),
            user.mac
        ],
    )?;
    Ok(())
}

/// Forgets a user's failed sign-ins and lifts the lock-out (a successful sign-in, a recovery-key reset).
pub fn clear_lockout(tx: &mut Tx<'_>, user_id: &str) -> Result<(), VaultError> {
    tx.sql().execute("UPDATE users SET failed_count = 0, locked_until = NULL WHERE id = ?1", [user_id])?;
    Ok(())
}

/// Records a failed sign-in where possible: on a read-only vault nothing can be recorded (not even the throttle
/// counter), and the sign-in is refused all the same.
fn stage_or_read_only(r: Result<(), VaultError>) -> Result<(), VaultError> {
    match r {
        Err(VaultError::ReadOnly) => Ok(()),
        other => other,
    }
}

/// A successful sign-in: the account and the unwrapped data key.
pub struct Unlocked {
    pub user: User,
    pub dek: DataKey,
    /// The working keys: the data key's, and those of its older generations if it was rotated.
    pub keys: Keys,
    /// The sign-in could not be appended to the audit chain because the chain was changed outside the application.
    pub audit_damaged: bool,
    /// A roster user's secret (src/roster), for re-wrapping it at a password change; `None` for a local account.
    pub user_secret: Option<crypto::UserSecret>,
}

/// Checks a password. On failure the per-user counter (kept in the vault, so it survives a restart) goes up and the
/// failure is staged for the audit chain; nothing else changes and nothing is decrypted.
pub fn sign_in(
    vault: &mut Vault,
    username: &str,
    password: &Password,
    now: OffsetDateTime,
    lockout: AccountLockout,
) -> Result<Unlocked, AuthError> {
    let target = format!("users:{username}");
    // An unknown name costs what a wrong password costs (one Argon2id derivation at the vault's parameters and one
    // AES-GCM open) and gets the same error; only the audit log says the name was unknown.
    let decoy =
        |vault: &mut Vault| decoy_wrap(vault.conn()).map(|w| crypto::unwrap_with_password(&w, password, "-", "-"));
    let Some(user) = find_user(vault.conn(), username)? else {
        let _refused = decoy(vault)?;
        stage_or_read_only(
            vault.write_unkeyed(|tx| audit::stage(tx, now, username, action::SIGN_IN_FAILED, "users:unknown")),
        )?;
        return Err(AuthError::BadPassword(username.to_string()));
    };
    let locked = |failures| AuthError::Locked { user: username.to_string(), failures, who: lockout.who_unlocks() };
    if lockout.locks() && user.failed_count >= LOCK_AFTER_FAILURES {
        stage_or_read_only(vault.write_unkeyed(|tx| audit::stage(tx, now, username, action::SIGN_IN_LOCKED, &target)))?;
        return Err(locked(user.failed_count));
    }
    if let Some(until) = user.locked_until.as_deref().and_then(parse_stamp) {
        if until > now {
            let wait = (until - now).whole_seconds().max(1);
            stage_or_read_only(
                vault.write_unkeyed(|tx| audit::stage(tx, now, username, action::SIGN_IN_REFUSED, &target)),
            )?;
            return Err(AuthError::Throttled { user: username.to_string(), retry_after_secs: wait });
        }
    }
    let expired = user.expires_at.as_deref().and_then(parse_stamp).is_some_and(|exp| exp <= now);
    if expired {
        // Noticed here, the expired account's wrap goes (the next keyed sign-in audits it, `remove_expired_wraps`).
        stage_or_read_only(vault.write_unkeyed(|tx| remove_wrap(tx, &user.id).map(drop)))?;
    }
    let Some((kind, wrap)) = load_wrap(vault.conn(), &user.id)? else {
        // Disabled and expired accounts have no wrap: nothing here opens with their password any more.
        let _refused = decoy(vault)?;
        return Err(match (user.active, expired) {
            (false, _) => AuthError::Disabled(username.to_string()),
            (true, true) => AuthError::Expired(username.to_string()),
            (true, false) => {
                AuthError::Vault(VaultError::Integrity(format!("key_wraps: no key wrap for user '{username}'")))
            }
        });
    };
    let (dek, user_secret) = match open_wrap(kind, &wrap, &user.username, &user.id, password) {
        Ok(opened) => opened,
        Err(CryptoError::WeakKdf { .. }) => {
            return Err(AuthError::Vault(VaultError::Integrity(format!(
                "key_wraps user:{}: the stored key-derivation parameters are below the floor (m=64 MiB, t=3)",
                user.id
            ))))
        }
        Err(_) => {
            let failures = user.failed_count + 1;
            let locked_until = backoff_secs(failures).map(|secs| stamp(now + time::Duration::seconds(secs)));
            stage_or_read_only(vault.write_unkeyed(|tx| {
                tx.execute(
                    "UPDATE users SET failed_count = ?1, locked_until = ?2 WHERE id = ?3",
                    params![failures, locked_until, user.id],
                )?;
                audit::stage(tx, now, username, action::SIGN_IN_FAILED, &target)
            }))?;
            if lockout.locks() && failures >= LOCK_AFTER_FAILURES {
                return Err(locked(failures));
            }
            return Err(AuthError::BadPassword(username.to_string()));
        }
    };
    let keys = crate::keyring::keys_for(vault.conn(), &dek)?.ok_or_else(|| {
        VaultError::Integrity(format!(
            "key_wraps user:{}: the wrap opens a data key from before the last rekey (an old copy put back?)",
            user.id
        ))
    })?;
    user.check_row(&keys)?;
    if !user.active {
        return Err(AuthError::Disabled(username.to_string()));
    }
    let recorded = vault.write(&keys, username, now, |tx| -> Result<(), VaultError> {
        // The first keyed sign-in after the upgrade that added row MACs gives the existing rows theirs.
        tx.establish_row_macs()?;
        fold_pending(tx)?;
        remove_expired_wraps(tx, now)?;
        clear_lockout(tx, &user.id)?;
        tx.audit(action::SIGN_IN, &format!("users:{}", user.id), &serde_json::json!({}))?;
        Ok(())
    });
    let audit_damaged = match recorded {
        Ok(_) => false,
        // A damaged chain must not lock everyone out of `verify`, which is how IT finds out what was changed.
        // The session knows, and every write it attempts fails with the same integrity error.
        Err(VaultError::Integrity(_)) => true,
        // A read-only vault can be read by whoever holds a password; the sign-in cannot be recorded (nor can
        // anything else the session attempts).
        Err(VaultError::ReadOnly) => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Unlocked { user, dek, keys, audit_damaged, user_secret })
}

/// The wait after `failures` consecutive failed sign-ins: none before [`FAILURES_BEFORE_BACKOFF`], then
/// [`FIRST_BACKOFF_SECS`] doubling up to [`MAX_BACKOFF_SECS`].
fn backoff_secs(failures: i64) -> Option<i64> {
    (failures >= FAILURES_BEFORE_BACKOFF).then(|| {
        let doublings = (failures - FAILURES_BEFORE_BACKOFF).min(10) as u32;
        (FIRST_BACKOFF_SECS << doublings).min(MAX_BACKOFF_SECS)
    })
}

/// Removes the wraps of emergency accounts past their expiry (at every keyed sign-in and at `rekey`), audited.
pub fn remove_expired_wraps(tx: &mut Tx<'_>, now: OffsetDateTime) -> Result<usize, VaultError> {
    let expired: Vec<User> = list_users(tx.sql())?
        .into_iter()
        .filter(|u| u.expires_at.as_deref().and_then(parse_stamp).is_some_and(|exp| exp <= now))
        .collect();
    let mut removed = 0;
    for u in expired {
        if remove_wrap(tx.sql(), &u.id)? {
            removed += 1;
            tx.audit(action::KEY_WRAP_REMOVED, &format!("users:{}", u.id), &serde_json::json!({ "expired": true }))?;
        }
    }
    Ok(removed)
}

/// Lifts a lock (or a throttle) on `user`'s sign-in, audited. Who may is the caller's check (the site setting).
pub fn unlock_user(tx: &mut Tx<'_>, user: &User) -> Result<(), AuthError> {
    let current = user.reread_checked(tx)?;
    clear_lockout(tx, &current.id)?;
    tx.audit(
        action::USER_UNLOCKED,
        &format!("users:{}", current.id),
        &serde_json::json!({ "username": current.username, "failed_sign_ins": current.failed_count }),
    )?;
    Ok(())
}

/// Replaces a user's password (and clears the must-change flag). Floor enforced on the new wrap.
pub fn change_password(
    tx: &mut Tx<'_>,
    dek: &DataKey,
    user: &User,
    new_password: &Password,
) -> Result<User, AuthError> {
    check_password(&user.username, new_password)?;
    let updated = set_password(tx, dek, user, new_password, false)?;
    tx.audit(action::PASSWORD_CHANGED, &format!("users:{}", user.id), &serde_json::json!({}))?;
    Ok(updated)
}

/// Replaces a user's password with a one-time password an administrator hands over in person (a forgotten password,
/// the admin desk's reset): as [`reset_to_one_time`], after the password rules, and audited. A roster user's wrap is
/// replaced by a password wrap here, on this workstation only, until the next roster (as `dtk recover`).
pub fn reset_password(tx: &mut Tx<'_>, dek: &DataKey, user: &User, one_time: &Password) -> Result<User, AuthError> {
    check_password(&user.username, one_time)?;
    let updated = set_password(tx, dek, user, one_time, true)?;
    tx.audit(action::PASSWORD_RESET, &format!("users:{}", user.id), &serde_json::json!({ "username": user.username }))?;
    Ok(updated)
}

/// Gives a user a one-time password (wrapping `dek`, the newest data key) that must be changed at the next sign-in:
/// `dtk rekey` does this for every account but the administrator's. The caller audits it.
pub fn reset_to_one_time(tx: &mut Tx<'_>, dek: &DataKey, user: &User, one_time: &Password) -> Result<User, AuthError> {
    set_password(tx, dek, user, one_time, true)
}

fn set_password(
    tx: &mut Tx<'_>,
    dek: &DataKey,
    user: &User,
    password: &Password,
    must_change: bool,
) -> Result<User, AuthError> {
    let mut updated = user.reread_checked(tx)?;
    updated.must_change = must_change;
    updated.mac = updated.compute_mac(tx.keys());
    tx.sql().execute(
        "UPDATE users SET must_change = ?1, mac = ?2 WHERE id = ?3",
        params![i64::from(must_change), updated.mac, updated.id],
    )?;
    store_wrap(tx, dek, &updated.id, password, KdfParams::FLOOR)?;
    Ok(updated)
}

/// Disables an account: it can no longer sign in, and everything it wrote stays attributed to it.
pub fn disable_user(tx: &mut Tx<'_>, user: &User) -> Result<(), AuthError> {
    let mut updated = user.reread_checked(tx)?;
    updated.active = false;
    updated.mac = updated.compute_mac(tx.keys());
    tx.sql()
        .execute("UPDATE users SET status = 'disabled', mac = ?1 WHERE id = ?2", params![updated.mac, updated.id])?;
    // Without its wrap, a copy of the user's password opens nothing in this vault from now on.
    let wrap_removed = remove_wrap(tx.sql(), &user.id)?;
    let detail = serde_json::json!({ "username": user.username, "key_wrap_removed": wrap_removed });
    tx.audit(action::USER_DISABLED, &format!("users:{}", user.id), &detail)?;
    Ok(())
}

/// The `created_by` of accounts the site's signed roster created (src/roster).
pub const ROSTER_CREATOR: &str = "it-roster";

/// Every user row whose MAC does not match (for `verify`).
pub fn verify_users(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<audit::Broken>, VaultError> {
    Ok(list_users(conn)?
        .into_iter()
        .filter(|u| !u.mac_ok(keys))
        .map(|u| audit::Broken { table: "users".into(), id: u.id, reason: USER_ROW_CHANGED.into() })
        .collect())
}

/// Moves the events staged by failed sign-ins ([`audit::stage`]) into the chain, oldest first, inside the next
/// successful sign-in's transaction.
fn fold_pending(tx: &mut crate::vault::Tx<'_>) -> Result<usize, VaultError> {
    let staged: Vec<(i64, String, String, String, String)> = {
        let mut st = tx.sql().prepare("SELECT id, at, actor, action, target FROM audit_pending ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (_, at, actor, action, target) in &staged {
        let when = crate::clock::parse_stamp(at).unwrap_or(tx.at());
        tx.audit_as(actor, when, action, target, &serde_json::json!({ "staged": true }))?;
    }
    tx.sql().execute("DELETE FROM audit_pending", [])?;
    Ok(staged.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_gives_each_role_only_its_work() {
        assert!(Role::Nurse.allows(Op::ChartEntry));
        assert!(!Role::Nurse.allows(Op::ManageUsers));
        assert!(!Role::Nurse.allows(Op::ManageEpisode));
        assert!(Role::Charge.allows(Op::ManageEpisode));
        assert!(!Role::Him.allows(Op::ChartEntry));
        assert!(Role::Him.allows(Op::ExportFhir));
        assert!(!Role::Admin.allows(Op::ChartEntry), "IT administrators do not chart");
        assert!(!Role::Admin.allows(Op::ReadUnit), "IT administrators do not read patient data");
    }

    #[test]
    fn the_lock_comes_with_the_first_failure_after_the_longest_delay() {
        assert_eq!(backoff_secs(LOCK_AFTER_FAILURES - 1), Some(MAX_BACKOFF_SECS), "the longest delay came just before");
        assert!(backoff_secs(LOCK_AFTER_FAILURES - 2) < Some(MAX_BACKOFF_SECS), "and not any earlier");
        assert_eq!(backoff_secs(FAILURES_BEFORE_BACKOFF - 1), None);
    }
}
