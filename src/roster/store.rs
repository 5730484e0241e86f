//! The workstation's side of the roster: applying a verified roster to the vault (accounts and their key wraps of
//! kind `roster`), the version last applied (rollback refused), and a roster user's password change on this
//! workstation. The storage file of the roster (SQL lives here).

use rusqlite::{params, OptionalExtension};

use super::{Entry, Roster, RosterError, Status};
use crate::auth::{self, AuthError, User};
use crate::crypto::{DataKey, KdfParams, Password, RosterWrap, UserSecret};
use crate::keyring;
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

const VERSION_KEY: &str = "roster_version";
const SHA_KEY: &str = "roster_sha256";

/// Actions this module writes to the audit log.
pub mod action {
    pub const IMPORTED: &str = "roster.imported";
    pub const PASSWORD_CHANGED: &str = "roster.password_changed";
    pub const CHANGES_EXPORTED: &str = "roster.changes_exported";
}

fn from_auth(e: AuthError) -> RosterError {
    match e {
        AuthError::Vault(v) => RosterError::Vault(v),
        other => RosterError::Input(other.to_string()),
    }
}

fn meta(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>, VaultError> {
    let v: Option<Vec<u8>> = conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
    Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

fn set_meta(tx: &mut Tx<'_>, key: &str, value: &str) -> Result<(), VaultError> {
    if tx.update("meta", &[&key], None, &[("value", &value.as_bytes())])? == 0 {
        tx.insert_meta(key, value.as_bytes())?;
    }
    Ok(())
}

/// The version and file hash (SHA-256, hex) of the roster last applied here.
pub fn imported(conn: &rusqlite::Connection) -> Result<Option<(u64, String)>, VaultError> {
    let version = meta(conn, VERSION_KEY)?.and_then(|v| v.parse::<u64>().ok());
    Ok(version.map(|v| (v, meta(conn, SHA_KEY).ok().flatten().unwrap_or_default())))
}

/// Whether `roster` is newer than the one applied here (`false`: the very same file again). An older version is a
/// rollback and the same version with other content a re-issue: both refused.
pub fn is_newer(conn: &rusqlite::Connection, roster: &Roster) -> Result<bool, RosterError> {
    let Some((version, sha)) = imported(conn)? else { return Ok(true) };
    let found = roster.body.version;
    if found < version {
        return Err(RosterError::Rollback { found, imported: version });
    }
    if found == version {
        return if sha == roster.sha256 { Ok(false) } else { Err(RosterError::Reissued(found)) };
    }
    Ok(true)
}

/// A user's roster wrap, if they are a roster user on this workstation.
pub fn wrap_of(conn: &rusqlite::Connection, user: &User) -> Result<Option<RosterWrap>, VaultError> {
    let row: Option<(KdfParams, Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT kdf_m, kdf_t, kdf_p, salt, wrapped FROM key_wraps WHERE id = ?1 AND kind = 'roster' AND user_id = ?2",
            params![keyring::wrap_id(&user.id), user.id],
            |r| Ok((KdfParams { m_kib: r.get(0)?, t: r.get(1)?, p: r.get(2)? }, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((params, salt, wrapped)) = row else { return Ok(None) };
    let damaged =
        || VaultError::Integrity(format!("key_wraps {}: the roster wrap is damaged", keyring::wrap_id(&user.id)));
    let salt: [u8; 16] = salt.as_slice().try_into().map_err(|_| damaged())?;
    RosterWrap::from_row(salt, params, &wrapped).map(Some).map_err(|_| damaged())
}

/// The usernames of this workstation's roster users.
fn roster_usernames(conn: &rusqlite::Connection) -> Result<Vec<String>, VaultError> {
    let mut st = conn.prepare(
        "SELECT u.username FROM key_wraps w JOIN users u ON u.id = w.user_id WHERE w.kind = 'roster' ORDER BY 1",
    )?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn put_wrap(tx: &mut Tx<'_>, user: &User, w: &RosterWrap) -> Result<(), VaultError> {
    let p = w.secret.params.unwrap_or(KdfParams::FLOOR);
    tx.insert(
        OnConflict::Replace,
        "key_wraps",
        &[
            ("id", &keyring::wrap_id(&user.id)),
            ("kind", &"roster"),
            ("user_id", &user.id),
            ("kdf_m", &p.m_kib),
            ("kdf_t", &p.t),
            ("kdf_p", &p.p),
            ("salt", &w.secret.salt.as_slice()),
            ("wrapped", &w.to_column()),
        ],
    )?;
    Ok(())
}

/// Creates a roster account's row, or brings an existing one up to the roster (a local account of that username
/// is taken over, keeping its id so what it charted stays attributed to it). Its MAC is checked before re-sealing.
fn put_user(tx: &mut Tx<'_>, e: &Entry, must_change: bool) -> Result<(User, bool), RosterError> {
    let existing = auth::find_user(tx.sql(), &e.username)?;
    let new = existing.is_none();
    let mut user = match existing {
        Some(u) => u.reread_checked(tx)?,
        None => User::for_roster(tx.new_id().to_string(), &e.username, crate::clock::stamp(tx.at())),
    };
    (user.display_name, user.role, user.active) = (e.display_name.trim().to_string(), e.role, true);
    (user.must_change, user.expires_at, user.emergency) = (must_change, e.expires_at.clone(), e.expires_at.is_some());
    user.seal(tx.keys());
    auth::put_row(tx, &user)?;
    Ok((user, new))
}

/// Disables an account and deletes its key wrap: with the wrap gone, no copy of the user's secret (an old roster,
/// an old password) opens this vault any more.
fn disable(tx: &mut Tx<'_>, user: &User) -> Result<(), RosterError> {
    if user.active {
        auth::disable_user(tx, user).map_err(from_auth)?;
    }
    keyring::remove_wrap(tx.sql(), &user.id)?;
    Ok(())
}

/// What applying a roster did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Applied {
    pub version: u64,
    /// Accounts new on this workstation.
    pub added: Vec<String>,
    /// Accounts already here, brought up to the roster.
    pub updated: Vec<String>,
    /// Accounts disabled here (disabled in the roster, or no longer listed), their wraps deleted.
    pub disabled: Vec<String>,
}

/// Applies a verified roster that [`is_newer`] accepted, in the caller's keyed transaction: each active user gets an
/// account and the data key wrapped to their public key; each disabled or no longer listed roster user is disabled
/// and their wrap deleted. A local password change newer than the roster's (a higher `secret_version`) is kept.
pub fn apply(tx: &mut Tx<'_>, dek: &DataKey, roster: &Roster) -> Result<Applied, RosterError> {
    let mut done = Applied { version: roster.body.version, ..Applied::default() };
    for e in &roster.body.users {
        let existing = auth::find_user(tx.sql(), &e.username)?;
        if e.status == Status::Disabled {
            if let Some(user) = existing {
                disable(tx, &user)?;
                done.disabled.push(e.username.clone());
            }
            continue;
        }
        let public = e.public()?;
        let here = match &existing {
            Some(u) => wrap_of(tx.sql(), u)?.filter(|w| w.public == public),
            None => None,
        };
        let local_newer = here.as_ref().is_some_and(|w| w.secret_version > e.secret_version);
        let (user, new) = put_user(tx, e, e.must_change && !local_newer)?;
        let (secret, secret_version, changed_at) = match here {
            Some(w) if local_newer => (w.secret, w.secret_version, w.changed_at),
            _ => (e.secret.to_wrap()?, e.secret_version, e.changed_at),
        };
        // The data key is wrapped afresh each time: after a `dtk rekey` the caller's key is newer than the one an
        // existing wrap holds, and only the newest opens this vault (src/keyring.rs).
        let dek = seal_to(tx, dek, &public, &user)?;
        let wrap = RosterWrap { secret, public, secret_version, changed_at, dek };
        put_wrap(tx, &user, &wrap)?;
        (if new { &mut done.added } else { &mut done.updated }).push(e.username.clone());
    }
    for name in roster_usernames(tx.sql())? {
        if roster.entry(&name).is_none() {
            if let Some(user) = auth::find_user(tx.sql(), &name)? {
                disable(tx, &user)?;
                done.disabled.push(name);
            }
        }
    }
    set_meta(tx, VERSION_KEY, &roster.body.version.to_string())?;
    set_meta(tx, SHA_KEY, &roster.sha256)?;
    tx.audit(
        action::IMPORTED,
        "roster",
        &serde_json::json!({
            "version": roster.body.version, "sha256": roster.sha256,
            "added": done.added, "updated": done.updated, "disabled": done.disabled,
        }),
    )?;
    Ok(done)
}

/// `dek` wrapped to a roster user's public key (X25519), for their `roster` wrap.
fn seal_to(tx: &mut Tx<'_>, dek: &DataKey, public: &[u8; 32], user: &User) -> Result<Vec<u8>, RosterError> {
    crate::crypto::wrap_to_user(dek, public, &keyring::wrap_id(&user.id), tx)
        .ok_or_else(|| RosterError::Malformed(format!("the public key of '{}' is not a usable key", user.username)))
}

/// After `dtk rekey`: the new data key wrapped to a roster user's public key, their secret and password untouched
/// (the key wrap needs only the public half, so the user keeps their password). Returns whether `user` is a roster
/// user here (`false`: a local account, which the caller resets to a one-time password).
pub fn rewrap_data_key(tx: &mut Tx<'_>, dek: &DataKey, user: &User) -> Result<bool, RosterError> {
    let Some(current) = wrap_of(tx.sql(), user)? else { return Ok(false) };
    let sealed = seal_to(tx, dek, &current.public, user)?;
    put_wrap(tx, user, &RosterWrap { dek: sealed, ..current })?;
    Ok(true)
}

/// Whether a newer roster (not yet applied) refuses `username` already: disabled in it, or a roster user here that
/// it no longer lists. Needs no key, so it holds before anyone has signed in since the roster arrived.
pub fn refuses(conn: &rusqlite::Connection, roster: &Roster, username: &str) -> Result<bool, VaultError> {
    Ok(match roster.entry(username) {
        Some(e) => e.status == Status::Disabled,
        None => roster_usernames(conn)?.iter().any(|n| n == username),
    })
}

/// Every roster user's secret as this workstation holds it now, for the changes file IT merges into the next
/// roster (the ones no newer than IT's are dropped there).
pub fn current_secrets(conn: &rusqlite::Connection) -> Result<Vec<super::changes::Change>, VaultError> {
    let mut out = Vec::new();
    for name in roster_usernames(conn)? {
        let Some(user) = auth::find_user(conn, &name)? else { continue };
        if let Some(w) = wrap_of(conn, &user)? {
            out.push(super::changes::Change {
                username: name,
                public_key: crate::crypto::hex(&w.public),
                secret: super::SecretWrap::from_wrap(&w.secret),
                secret_version: w.secret_version,
                changed_at: w.changed_at,
            });
        }
    }
    Ok(out)
}

/// A roster user's new password on this workstation: their secret (from the session) wrapped under it at the floor,
/// with `secret_version` one higher, so the next roster does not put the old one back unless IT carries a newer
/// change. The data key's wrap is untouched. Returns the account with its must-change flag cleared.
pub fn change_password(
    tx: &mut Tx<'_>,
    user: &User,
    secret: &UserSecret,
    new_password: &Password,
) -> Result<User, RosterError> {
    let current = wrap_of(tx.sql(), user)?
        .ok_or_else(|| RosterError::Input(format!("'{}' is not a roster user on this workstation", user.username)))?;
    let wrapped = secret
        .wrap(&user.username, new_password, KdfParams::FLOOR, tx)
        .map_err(|e| RosterError::Input(e.to_string()))?;
    let wrap = RosterWrap {
        secret: wrapped,
        secret_version: current.secret_version + 1,
        changed_at: tx.at().unix_timestamp(),
        ..current
    };
    let mut updated = user.reread_checked(tx)?;
    updated.must_change = false;
    updated.seal(tx.keys());
    auth::put_row(tx, &updated)?;
    put_wrap(tx, &updated, &wrap)?;
    tx.audit(
        action::PASSWORD_CHANGED,
        &format!("users:{}", updated.id),
        &serde_json::json!({ "secret_version": wrap.secret_version }),
    )?;
    Ok(updated)
}
