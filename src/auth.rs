//! Staff accounts, roles and sign-in: per-user password wraps of the data key, a throttle that survives restarts,
//! and the role × operation matrix that every core operation checks (never the UI).

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use crate::audit::{self, action};
use crate::clock::{parse_stamp, stamp};
use crate::crypto::{self, CryptoError, DataKey, KdfParams, Keys, Password};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, Vault, VaultError};

/// Consecutive failures allowed before sign-in for that user is throttled.
pub const FAILURES_BEFORE_BACKOFF: i64 = 5;
/// First back-off; doubles with every further failure up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: i64 = 30;
pub const MAX_BACKOFF_SECS: i64 = 15 * 60;
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
    Configure,
    Verify,
    ReadAudit,
}

impl Op {
    pub const ALL: [Op; 18] = [
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
        Op::Configure,
        Op::Verify,
        Op::ReadAudit,
    ];
}

/// Errors of sign-in and account management. They name usernames (staff, not patients), never passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No account with that username on this workstation.
    #[error("there is no user named '{0}' on this workstation")]
    UnknownUser(String),
    /// The password did not unlock the account.
    #[error("wrong password for '{0}'")]
    BadPassword(String),
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

    /// The row as stored now (not as a session or a caller read it earlier), checked before it is re-sealed.
    fn reread_checked(&self, tx: &Tx<'_>) -> Result<User, VaultError> {
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
    tx.sql().execute(
        "INSERT INTO users (id, username, display_name, role, status, must_change, created_at, created_by, expires_at, emergency, mac)
         VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            user.id,
            user.username,
            user.display_name,
            user.role.as_str(),
            i64::from(user.must_change),
            user.created_at,
            user.created_by,
            user.expires_at,
            i64::from(user.emergency),
            user.mac
        ],
    )?;
    store_wrap(tx, dek, &user, new.password, params)?;
    tx.audit(
        action::USER_ADDED,
        &format!("users:{}", user.id),
        &serde_json::json!({ "username": user.username, "role": user.role.as_str(), "emergency": user.emergency, "expires_at": user.expires_at }),
    )?;
    Ok(user)
}

fn wrap_id(user: &User) -> String {
    format!("user:{}", user.id)
}

fn store_wrap(
    tx: &mut Tx<'_>,
    dek: &DataKey,
    user: &User,
    password: &Password,
    params: KdfParams,
) -> Result<(), AuthError> {
    let wid = wrap_id(user);
    let wrap = crypto::wrap_with_password(dek, password, params, &wid, &user.id, tx).map_err(crypto_to_vault)?;
    let p = params;
    // Every column is given, so replacing an earlier wrap keeps nothing of it unchecked.
    tx.insert(
        OnConflict::Replace,
        "key_wraps",
        &[
            ("id", &wid),
            ("kind", &"user"),
            ("user_id", &user.id),
            ("kdf_m", &p.m_kib),
            ("kdf_t", &p.t),
            ("kdf_p", &p.p),
            ("salt", &wrap.salt.as_slice()),
            ("wrapped", &wrap.wrapped),
        ],
    )?;
    Ok(())
}

/// The id and owner of the one wrap of the data key under the recovery key printed at set-up.
pub const RECOVERY_WRAP: &str = "recovery";

/// Wraps the data key under the recovery key and stores it (at set-up).
pub fn store_recovery_wrap(tx: &mut Tx<'_>, dek: &DataKey, recovery: &crypto::RecoveryKey) -> Result<(), VaultError> {
    let wrap = crypto::wrap_with_recovery(dek, recovery, RECOVERY_WRAP, tx);
    let none: Option<i64> = None;
    tx.insert(
        OnConflict::Abort,
        "key_wraps",
        &[
            ("id", &RECOVERY_WRAP),
            ("kind", &"recovery"),
            ("user_id", &none),
            ("kdf_m", &none),
            ("kdf_t", &none),
            ("kdf_p", &none),
            ("salt", &wrap.salt.as_slice()),
            ("wrapped", &wrap.wrapped),
        ],
    )?;
    Ok(())
}

/// The data key's wrap under the recovery key.
pub fn load_recovery_wrap(conn: &rusqlite::Connection) -> Result<crypto::Wrap, VaultError> {
    let (salt, wrapped): (Vec<u8>, Vec<u8>) =
        conn.query_row("SELECT salt, wrapped FROM key_wraps WHERE id = ?1", [RECOVERY_WRAP], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut s = [0u8; 16];
    if salt.len() == 16 {
        s.copy_from_slice(&salt);
    }
    Ok(crypto::Wrap { salt: s, params: None, wrapped })
}

/// Forgets a user's failed sign-ins and lifts the lock-out (a successful sign-in, a recovery-key reset).
pub fn clear_lockout(tx: &mut Tx<'_>, user_id: &str) -> Result<(), VaultError> {
    tx.sql().execute("UPDATE users SET failed_count = 0, locked_until = NULL WHERE id = ?1", [user_id])?;
    Ok(())
}

fn crypto_to_vault(e: CryptoError) -> VaultError {
    match e {
        CryptoError::WeakKdf { .. } | CryptoError::BadKdf(_) => VaultError::Integrity(e.to_string()),
        other => VaultError::Integrity(other.to_string()),
    }
}

fn load_wrap(conn: &rusqlite::Connection, user: &User) -> Result<crypto::Wrap, VaultError> {
    conn.query_row(
        "SELECT kdf_m, kdf_t, kdf_p, salt, wrapped FROM key_wraps WHERE id = ?1 AND kind = 'user' AND user_id = ?2",
        params![wrap_id(user), user.id],
        |r| {
            let salt: Vec<u8> = r.get(3)?;
            let mut s = [0u8; 16];
            if salt.len() == 16 {
                s.copy_from_slice(&salt);
            }
            Ok(crypto::Wrap {
                salt: s,
                params: Some(KdfParams { m_kib: r.get(0)?, t: r.get(1)?, p: r.get(2)? }),
                wrapped: r.get(4)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| VaultError::Integrity(format!("key_wraps: no key wrap for user '{}'", user.username)))
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
    /// The sign-in could not be appended to the audit chain because the chain was changed outside the application.
    pub audit_damaged: bool,
}

/// Checks a password. On failure the per-user counter (kept in the vault, so it survives a restart) goes up and the
/// failure is staged for the audit chain; nothing else changes and nothing is decrypted.
pub fn sign_in(
    vault: &mut Vault,
    username: &str,
    password: &Password,
    now: OffsetDateTime,
) -> Result<Unlocked, AuthError> {
    let target = format!("users:{username}");
    let Some(user) = find_user(vault.conn(), username)? else {
        stage_or_read_only(
            vault.write_unkeyed(|tx| audit::stage(tx, now, username, action::SIGN_IN_FAILED, "users:unknown")),
        )?;
        return Err(AuthError::UnknownUser(username.to_string()));
    };
    if let Some(until) = user.locked_until.as_deref().and_then(parse_stamp) {
        if until > now {
            let wait = (until - now).whole_seconds().max(1);
            stage_or_read_only(
                vault.write_unkeyed(|tx| audit::stage(tx, now, username, action::SIGN_IN_REFUSED, &target)),
            )?;
            return Err(AuthError::Throttled { user: username.to_string(), retry_after_secs: wait });
        }
    }
    let wrap = load_wrap(vault.conn(), &user)?;
    let dek = match crypto::unwrap_with_password(&wrap, password, &wrap_id(&user), &user.id) {
        Ok(dek) => dek,
        Err(CryptoError::WeakKdf { .. }) => {
            return Err(AuthError::Vault(VaultError::Integrity(format!(
                "key_wraps user:{}: the stored key-derivation parameters are below the floor (m=64 MiB, t=3)",
                user.id
            ))))
        }
        Err(_) => {
            let failures = user.failed_count + 1;
            let locked_until = (failures >= FAILURES_BEFORE_BACKOFF).then(|| {
                let doublings = (failures - FAILURES_BEFORE_BACKOFF).min(10) as u32;
                let secs = (FIRST_BACKOFF_SECS << doublings).min(MAX_BACKOFF_SECS);
                stamp(now + time::Duration::seconds(secs))
            });
            stage_or_read_only(vault.write_unkeyed(|tx| {
                tx.execute(
                    "UPDATE users SET failed_count = ?1, locked_until = ?2 WHERE id = ?3",
                    params![failures, locked_until, user.id],
                )?;
                audit::stage(tx, now, username, action::SIGN_IN_FAILED, &target)
            }))?;
            return Err(AuthError::BadPassword(username.to_string()));
        }
    };
    let keys = dek.keys();
    user.check_row(&keys)?;
    if !user.active {
        return Err(AuthError::Disabled(username.to_string()));
    }
    if let Some(exp) = user.expires_at.as_deref().and_then(parse_stamp) {
        if exp <= now {
            return Err(AuthError::Expired(username.to_string()));
        }
    }
    let recorded = vault.write(&keys, username, now, |tx| -> Result<(), VaultError> {
        // The first keyed sign-in after the upgrade that added row MACs gives the existing rows theirs.
        tx.establish_row_macs()?;
        fold_pending(tx)?;
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
    Ok(Unlocked { user, dek, audit_damaged })
}

/// Replaces a user's password (and clears the must-change flag). Floor enforced on the new wrap.
pub fn change_password(
    tx: &mut Tx<'_>,
    dek: &DataKey,
    user: &User,
    new_password: &Password,
) -> Result<User, AuthError> {
    check_password(&user.username, new_password)?;
    let mut updated = user.reread_checked(tx)?;
    updated.must_change = false;
    updated.mac = updated.compute_mac(tx.keys());
    tx.sql().execute("UPDATE users SET must_change = 0, mac = ?1 WHERE id = ?2", params![updated.mac, updated.id])?;
    store_wrap(tx, dek, &updated, new_password, KdfParams::FLOOR)?;
    tx.audit(action::PASSWORD_CHANGED, &format!("users:{}", user.id), &serde_json::json!({}))?;
    Ok(updated)
}

/// Replaces a user's password with a one-time password an administrator hands over in person (a forgotten password):
/// as [`change_password`], but the must-change flag is set, so the user chooses their own at the next sign-in.
pub fn reset_password(tx: &mut Tx<'_>, dek: &DataKey, user: &User, one_time: &Password) -> Result<User, AuthError> {
    check_password(&user.username, one_time)?;
    let mut updated = user.reread_checked(tx)?;
    updated.must_change = true;
    updated.mac = updated.compute_mac(tx.keys());
    tx.sql().execute("UPDATE users SET must_change = 1, mac = ?1 WHERE id = ?2", params![updated.mac, updated.id])?;
    store_wrap(tx, dek, &updated, one_time, KdfParams::FLOOR)?;
    tx.audit(action::PASSWORD_RESET, &format!("users:{}", user.id), &serde_json::json!({ "username": user.username }))?;
    Ok(updated)
}

/// Disables an account: it can no longer sign in, and everything it wrote stays attributed to it.
pub fn disable_user(tx: &mut Tx<'_>, user: &User) -> Result<(), AuthError> {
    let mut updated = user.reread_checked(tx)?;
    updated.active = false;
    updated.mac = updated.compute_mac(tx.keys());
    tx.sql()
        .execute("UPDATE users SET status = 'disabled', mac = ?1 WHERE id = ?2", params![updated.mac, updated.id])?;
    tx.audit(action::USER_DISABLED, &format!("users:{}", user.id), &serde_json::json!({ "username": user.username }))?;
    Ok(())
}

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
}
