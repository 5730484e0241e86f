//! The vault's stored keys: each user's and the recovery key's wrap of the data key (`key_wraps`: a password wrap
//! of kind `user`, or a site roster user's wrap of kind `roster`, src/roster), the chain of older data keys after a
//! rekey (`meta` `key_chain.N`), and the decoy an unknown username is checked against.

use rusqlite::{params, OptionalExtension};

use crate::crypto::{self, CryptoError, DataKey, KdfParams, Password};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

/// The id and owner of the one wrap of the data key under the recovery key printed at set-up.
pub const RECOVERY_WRAP: &str = "recovery";

/// The `key_wraps` id of a user's password wrap.
pub fn wrap_id(user_id: &str) -> String {
    format!("user:{user_id}")
}

fn crypto_to_vault(e: CryptoError) -> VaultError {
    VaultError::Integrity(e.to_string())
}

/// Wraps the data key under a user's password (Argon2id at `params`, floor enforced) and stores it, replacing the
/// user's earlier wrap.
pub fn store_wrap(
    tx: &mut Tx<'_>,
    dek: &DataKey,
    user_id: &str,
    password: &Password,
    params: KdfParams,
) -> Result<(), VaultError> {
    let wid = wrap_id(user_id);
    let wrap = crypto::wrap_with_password(dek, password, params, &wid, user_id, tx).map_err(crypto_to_vault)?;
    let p = params;
    // Every column is given, so replacing an earlier wrap keeps nothing of it unchecked.
    tx.insert(
        OnConflict::Replace,
        "key_wraps",
        &[
            ("id", &wid),
            ("kind", &"user"),
            ("user_id", &user_id),
            ("kdf_m", &p.m_kib),
            ("kdf_t", &p.t),
            ("kdf_p", &p.p),
            ("salt", &wrap.salt.as_slice()),
            ("wrapped", &wrap.wrapped),
        ],
    )?;
    Ok(())
}

/// Deletes a user's wrap, of either kind (a disabled or expired account): with it gone, this vault holds nothing
/// the user's password (or, for a roster user, their secret) opens. Returns whether there was one.
pub fn remove_wrap(conn: &rusqlite::Connection, user_id: &str) -> Result<bool, VaultError> {
    let n = conn.execute("DELETE FROM key_wraps WHERE kind IN ('user', 'roster') AND user_id = ?1", [user_id])?;
    Ok(n > 0)
}

/// How a user's wrap opens the data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapKind {
    /// `user`: the data key wrapped under the password (a local account).
    Password,
    /// `roster`: the user's X25519 secret wrapped under the password, the data key wrapped to its public half
    /// (a site roster user, src/roster; `dtk rekey` re-wraps the new key to it without knowing the password).
    Roster,
}

/// A user's wrap and its kind; `None` once it was removed (the account was disabled or expired).
pub fn load_wrap(conn: &rusqlite::Connection, user_id: &str) -> Result<Option<(WrapKind, crypto::Wrap)>, VaultError> {
    Ok(conn
        .query_row(
            "SELECT kdf_m, kdf_t, kdf_p, salt, wrapped, kind FROM key_wraps
             WHERE id = ?1 AND kind IN ('user', 'roster') AND user_id = ?2",
            params![wrap_id(user_id), user_id],
            |r| {
                let salt: Vec<u8> = r.get(3)?;
                let kind = if r.get::<_, String>(5)? == "roster" { WrapKind::Roster } else { WrapKind::Password };
                let params = Some(KdfParams { m_kib: r.get(0)?, t: r.get(1)?, p: r.get(2)? });
                Ok((kind, crypto::Wrap { salt: salt16(&salt), params, wrapped: r.get(4)? }))
            },
        )
        .optional()?)
}

/// Opens a user's wrap with their password: the data key, and a roster user's secret (kept by the session, so a
/// password change can re-wrap it; `None` for a local account).
pub fn open_wrap(
    kind: WrapKind,
    wrap: &crypto::Wrap,
    username: &str,
    user_id: &str,
    password: &Password,
) -> Result<(DataKey, Option<crypto::UserSecret>), CryptoError> {
    let wid = wrap_id(user_id);
    if kind == WrapKind::Password {
        return crypto::unwrap_with_password(wrap, password, &wid, user_id).map(|dek| (dek, None));
    }
    let params = wrap.params.ok_or(CryptoError::Authentication)?;
    params.check_floor()?;
    let roster = crypto::RosterWrap::from_row(wrap.salt, params, &wrap.wrapped)?;
    roster.open(username, &wid, password).map(|(dek, secret)| (dek, Some(secret)))
}

fn salt16(salt: &[u8]) -> [u8; 16] {
    let mut s = [0u8; 16];
    if salt.len() == 16 {
        s.copy_from_slice(salt);
    }
    s
}

/// Wraps the data key under the recovery key and stores it (at set-up, and again when the data key is rotated).
pub fn store_recovery_wrap(tx: &mut Tx<'_>, dek: &DataKey, recovery: &crypto::RecoveryKey) -> Result<(), VaultError> {
    let wrap = crypto::wrap_with_recovery(dek, recovery, RECOVERY_WRAP, tx);
    let none: Option<i64> = None;
    tx.insert(
        OnConflict::Replace,
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
    Ok(crypto::Wrap { salt: salt16(&salt), params: None, wrapped })
}

/// A wrap no password opens, at the KDF parameters of the vault's newest user wrap (the floor if there is none, or
/// if they were lowered), for an unknown name to spend the same work on as a real account.
pub fn decoy_wrap(conn: &rusqlite::Connection) -> Result<crypto::Wrap, VaultError> {
    let newest = conn
        .query_row(
            "SELECT kdf_m, kdf_t, kdf_p FROM key_wraps WHERE kind = 'user' ORDER BY rowid DESC LIMIT 1",
            [],
            |r| Ok(KdfParams { m_kib: r.get(0)?, t: r.get(1)?, p: r.get(2)? }),
        )
        .optional()?;
    let params = newest.filter(|p| p.check_floor().is_ok()).unwrap_or(KdfParams::FLOOR);
    // The length of a real wrap (nonce, data key, tag), so the AES-GCM open costs the same too.
    let wrapped = vec![0u8; crypto::NONCE_LEN + crypto::KEY_LEN + 16];
    Ok(crypto::Wrap { salt: [0u8; 16], params: Some(params), wrapped })
}

/// `meta` rows `key_chain.N` (N ≥ 2): generation N−1 of the data key sealed under generation N, written by
/// `dtk rekey`. The chain runs one way only: the newest key opens every older one, an older key opens nothing newer.
const CHAIN_PREFIX: &str = "key_chain.";

fn chain_link(generation: u32) -> String {
    format!("{CHAIN_PREFIX}{generation}")
}

/// The chain's links, newest first.
fn chain(conn: &rusqlite::Connection) -> Result<Vec<(u32, Vec<u8>)>, VaultError> {
    let mut st = conn.prepare("SELECT key, value FROM meta WHERE key LIKE 'key_chain.%'")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    let mut links = Vec::new();
    for row in rows {
        let (key, value) = row?;
        // LIKE's `_` matches any character: only the exact prefix counts.
        let Some(number) = key.strip_prefix(CHAIN_PREFIX) else { continue };
        let generation: u32 =
            number.parse().map_err(|_| VaultError::Integrity(format!("meta {key}: not a key-chain link")))?;
        links.push((generation, value));
    }
    links.sort_by_key(|link| std::cmp::Reverse(link.0));
    Ok(links)
}

/// The generation of the vault's newest data key: 1 until the first `dtk rekey`.
pub fn newest_generation(conn: &rusqlite::Connection) -> Result<u32, VaultError> {
    Ok(chain(conn)?.first().map_or(1, |(g, _)| *g))
}

/// The working keys for `dek`, which must be the newest generation: `None` when it is an older one (a wrap from
/// before a rekey, put back). A link that does not open is an integrity error naming it.
pub fn keys_for(conn: &rusqlite::Connection, dek: &DataKey) -> Result<Option<crypto::Keys>, VaultError> {
    let links = chain(conn)?;
    let mut older: Vec<DataKey> = Vec::new();
    for (i, (generation, sealed)) in links.iter().enumerate() {
        let opener = older.last().unwrap_or(dek);
        let link = chain_link(*generation);
        match opener.open_older(sealed, &link) {
            Ok(key) => older.push(key),
            // Only the newest link tells an older key apart; further down, a link that fails is damage.
            Err(_) if i == 0 => return Ok(None),
            Err(_) => return Err(VaultError::Integrity(format!("meta {link}: the key chain does not open"))),
        }
    }
    Ok(Some(dek.keys_with_older(&older)))
}

/// Adds generation `newest_generation + 1`: `older` (the current data key) sealed under `newer`.
pub fn add_generation(tx: &mut Tx<'_>, newer: &DataKey, older: &DataKey) -> Result<u32, VaultError> {
    let generation = newest_generation(tx.sql())? + 1;
    let link = chain_link(generation);
    let sealed = newer.seal_older(older, &link, tx);
    tx.insert_meta(&link, &sealed)?;
    Ok(generation)
}

/// The newest data key and the working keys, opened with the recovery key: `None` when the key does not open this
/// vault. A recovery wrap from before a rekey (put back) opens an older key, and is reported like damage.
pub fn open_with_recovery(
    conn: &rusqlite::Connection,
    recovery: &crypto::RecoveryKey,
) -> Result<Option<(DataKey, crypto::Keys)>, VaultError> {
    let Ok(dek) = crypto::unwrap_with_recovery(&load_recovery_wrap(conn)?, recovery, RECOVERY_WRAP) else {
        return Ok(None);
    };
    let keys = keys_for(conn, &dek)?.ok_or_else(|| {
        VaultError::Integrity("key_wraps recovery: the wrap opens a data key from before the last rekey".into())
    })?;
    Ok(Some((dek, keys)))
}
