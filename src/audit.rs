//! The audit log: one row per action, in the same transaction as the change it records, chained by a keyed MAC
//! (each row's MAC covers the previous row's MAC), with the chain head sealed under the data key in `meta`.
//!
//! What this detects, and what it does not, is stated in ARCHITECTURE.md ("Audit chain").

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use crate::clock::stamp;
use crate::crypto::{Keys, Place, Random};
use crate::vault::error::VaultError;
use crate::vault::rows;
use crate::vault::schema::AUDIT_BY_ACTION_WHERE;

/// Actions written to the audit log. Stable strings: reports and HIM filters depend on them.
pub mod action {
    pub const VAULT_CREATED: &str = "vault.created";
    pub const USER_ADDED: &str = "user.added";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const PASSWORD_CHANGED: &str = "user.password_changed";
    /// An administrator replaced a user's password with a one-time password (the admin desk's "reset").
    pub const PASSWORD_RESET: &str = "user.password_reset";
    pub const SIGN_IN: &str = "sign_in.succeeded";
    pub const SIGN_IN_FAILED: &str = "sign_in.failed";
    pub const SIGN_IN_REFUSED: &str = "sign_in.throttled";
    /// A sign-in refused because the account is locked (after [`crate::auth::LOCK_AFTER_FAILURES`] failures).
    pub const SIGN_IN_LOCKED: &str = "sign_in.locked";
    pub const USER_UNLOCKED: &str = "user.unlocked";
    /// An expired emergency account's key wrap removed (a disabled account's is removed with `user.disabled`).
    pub const KEY_WRAP_REMOVED: &str = "user.key_wrap_removed";
    pub const RECOVERY_USED: &str = "vault.recovery_key_used";
    /// `dtk rekey`: a new data key (generation N), the accounts reset to one-time passwords, the wraps removed.
    pub const VAULT_REKEYED: &str = "vault.rekeyed";
    pub const DRAFT_STARTED: &str = "draft.started";
    pub const DRAFT_DISCARDED: &str = "draft.discarded";
    /// A `dtk verify` run; its target says what it found (`verify:intact`, `verify:broken:N`) for the readiness check.
    pub const VERIFIED: &str = "vault.verified";
}

/// The newest link of the chain, and how many rows the chain holds (so a head that is behind or ahead of the log
/// is caught even where sequence numbers alone would agree).
#[derive(Clone)]
pub struct Head {
    pub seq: i64,
    pub count: i64,
    pub mac: [u8; 32],
}

pub(crate) struct NewRow<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a serde_json::Value,
}

/// Format 1 (until issue 14): `seq ‖ mac`, sealed for this place only. Still read; never written.
const HEAD_V1: Place<'static> = Place { table: "meta", row: "audit_head", column: "value", format: 1 };
const HEAD_V1_LEN: usize = 40;
/// Format 2: `seq ‖ count ‖ mac`, sealed for a place that names the vault id, so the head is bound to this vault.
const HEAD_V2_LEN: usize = 48;

fn vault_id(conn: &rusqlite::Connection) -> Result<Vec<u8>, VaultError> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'vault_id'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .ok_or_else(|| VaultError::Integrity("meta vault_id: the vault id is missing".into()))
}

fn head_row(vault_id: &[u8]) -> String {
    format!("audit_head/{}", crate::crypto::hex(vault_id))
}

fn genesis(conn: &rusqlite::Connection, keys: &Keys) -> Result<Head, VaultError> {
    let vault_id = vault_id(conn)?;
    Ok(Head { seq: 0, count: 0, mac: keys.audit_mac(&[b"dtk-audit-genesis-v1", &vault_id]) })
}

/// Whether the vault has never been written beyond its set-up transaction's first steps. Set-up appends
/// `vault.created` before it creates the first account, and every account is created with an audit row, so a vault
/// with any account has a sealed head: its absence then means the log was removed, not that it is empty.
fn never_written(conn: &rusqlite::Connection) -> Result<bool, VaultError> {
    let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    Ok(users == 0)
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

/// Reads the sealed chain head. Only a vault that has never been written may lack one (its log starts at the genesis
/// link); anywhere else a missing head is a removed log and is refused.
pub(crate) fn load_head(conn: &rusqlite::Connection, keys: &Keys) -> Result<Head, VaultError> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'audit_head'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let Some(sealed) = sealed else {
        if never_written(conn)? {
            return genesis(conn, keys);
        }
        return Err(VaultError::Integrity(
            "meta audit_head: the sealed chain head is missing: the audit log was removed outside Downtime Kit".into(),
        ));
    };
    let row = head_row(&vault_id(conn)?);
    let v2 = Place { table: "meta", row: &row, column: "value", format: 2 };
    let mut mac = [0u8; 32];
    if let Ok(plain) = keys.open(&v2, &sealed) {
        if plain.len() != HEAD_V2_LEN {
            return Err(VaultError::Integrity("meta audit_head: wrong length".into()));
        }
        mac.copy_from_slice(&plain[16..]);
        return Ok(Head { seq: be_i64(&plain[..8]), count: be_i64(&plain[8..16]), mac });
    }
    // A head written before the count existed: its rows were contiguous from 1, so the count is its sequence number.
    // The next write replaces it with format 2.
    let plain = keys.open(&HEAD_V1, &sealed).map_err(|_| {
        VaultError::Integrity(
            "meta audit_head: sealed chain head fails authentication (or belongs to another vault)".into(),
        )
    })?;
    if plain.len() != HEAD_V1_LEN {
        return Err(VaultError::Integrity("meta audit_head: wrong length".into()));
    }
    mac.copy_from_slice(&plain[8..]);
    let seq = be_i64(&plain[..8]);
    Ok(Head { seq, count: seq, mac })
}

pub(crate) fn store_head(
    conn: &rusqlite::Connection,
    keys: &Keys,
    head: &Head,
    rng: &mut (dyn Random + Send),
) -> Result<(), VaultError> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(HEAD_V2_LEN));
    plain.extend_from_slice(&head.seq.to_be_bytes());
    plain.extend_from_slice(&head.count.to_be_bytes());
    plain.extend_from_slice(&head.mac);
    let row = head_row(&vault_id(conn)?);
    let sealed = keys.seal(&Place { table: "meta", row: &row, column: "value", format: 2 }, &plain, rng);
    // Written over the old head where it stands: the key stays, so the meta table's key index is not written again,
    // one page less in the WAL for every write transaction (issue 19). Like the replace before it, nothing of the old
    // row is kept, and its sealed value was authenticated when this transaction loaded it.
    rows::insert(conn, keys, "meta", rows::OnConflict::Overwrite, &[("key", &"audit_head"), ("value", &sealed)])?;
    Ok(())
}

/// What each row's MAC covers: the previous MAC, the row's position and every column.
fn mac_parts<'a>(
    prev: &'a [u8],
    seq: &'a [u8; 8],
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    detail: &'a [u8],
) -> [&'a [u8]; 8] {
    [b"dtk-audit-v1", prev, seq, at.as_bytes(), actor.as_bytes(), action.as_bytes(), target.as_bytes(), detail]
}

fn detail_place(seq: &str) -> Place<'_> {
    Place { table: "audit", row: seq, column: "detail", format: 1 }
}

pub(crate) fn append(
    conn: &rusqlite::Connection,
    keys: &Keys,
    prev: &Head,
    row: &NewRow<'_>,
    rng: &mut (dyn Random + Send),
) -> Result<Head, VaultError> {
    let seq = prev.seq + 1;
    let at = stamp(row.at);
    let seq_text = seq.to_string();
    let detail_json = zeroize::Zeroizing::new(serde_json::to_vec(row.detail).unwrap_or_default());
    let detail = keys.seal(&detail_place(&seq_text), &detail_json, rng);
    let mac =
        keys.audit_mac(&mac_parts(&prev.mac, &seq.to_be_bytes(), &at, row.actor, row.action, row.target, &detail));
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, target, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut st| st.execute(params![seq, at, row.actor, row.action, row.target, detail, mac.to_vec()]))
    .map_err(|e| match e.sqlite_error_code() {
        // A row already sits where the sealed head says the next one goes: someone added rows (or removed the
        // head) outside the application. Never overwrite evidence; refuse and let `verify` name the rows.
        Some(rusqlite::ErrorCode::ConstraintViolation) => VaultError::Integrity(format!(
            "audit {seq}: the audit log has rows beyond its sealed head; it was changed outside Downtime Kit (run dtk verify)"
        )),
        _ => VaultError::from(e),
    })?;
    Ok(Head { seq, count: prev.count + 1, mac })
}

/// Stages an event that happens while nobody holds the key (a failed sign-in). It carries no patient data.
pub(crate) fn stage(
    tx: &rusqlite::Transaction<'_>,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    target: &str,
) -> Result<(), VaultError> {
    tx.execute(
        "INSERT INTO audit_pending (at, actor, action, target) VALUES (?1, ?2, ?3, ?4)",
        params![stamp(at), actor, action, target],
    )?;
    Ok(())
}

/// One broken place found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    pub table: String,
    pub id: String,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.table, self.id, self.reason)
    }
}

fn broken(table: &str, id: impl ToString, reason: impl Into<String>) -> Broken {
    Broken { table: table.into(), id: id.to_string(), reason: reason.into() }
}

/// A column read as bytes whatever type an editor left in it (a tampered cell must be reported, not crash verify).
pub(crate) fn blob(r: &rusqlite::Row<'_>, i: usize) -> Vec<u8> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i) {
        Ok(ValueRef::Blob(b)) | Ok(ValueRef::Text(b)) => b.to_vec(),
        Ok(ValueRef::Integer(n)) => n.to_be_bytes().to_vec(),
        _ => Vec::new(),
    }
}

fn text(r: &rusqlite::Row<'_>, i: usize) -> String {
    String::from_utf8_lossy(&blob(r, i)).into_owned()
}

/// `AND` the condition of the partial index `audit_by_action` for a query by `action`, so that SQLite uses it; the
/// actions of entries are not in it, and a query of one of them reads the log (`AND 1`).
fn by_action(action: &str) -> &'static str {
    if action.starts_with("entry.") {
        "1"
    } else {
        AUDIT_BY_ACTION_WHERE
    }
}

/// The time and target of the newest audit row of `action` (plaintext columns: no key needed, so `dtk status` can
/// show the last backup without a sign-in), through the `audit_by_action` index.
pub fn newest(conn: &rusqlite::Connection, action: &str) -> Result<Option<(String, String)>, VaultError> {
    let sql =
        format!("SELECT at, target FROM audit WHERE action = ?1 AND {} ORDER BY seq DESC LIMIT 1", by_action(action));
    Ok(conn.query_row(&sql, [action], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
}

/// The detail of the newest audit row of `action` on `target`, decrypted (the read-back asks which server a batch
/// was posted to: the post recorded it there).
pub fn newest_detail(
    conn: &rusqlite::Connection,
    keys: &Keys,
    action: &str,
    target: &str,
) -> Result<Option<serde_json::Value>, VaultError> {
    let sql = format!(
        "SELECT seq, detail FROM audit WHERE action = ?1 AND target = ?2 AND {} ORDER BY seq DESC LIMIT 1",
        by_action(action)
    );
    let row: Option<(i64, Vec<u8>)> =
        conn.query_row(&sql, [action, target], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let Some((seq, sealed)) = row else { return Ok(None) };
    let plain = keys
        .open(&detail_place(&seq.to_string()), &sealed)
        .map_err(|_| VaultError::Integrity(format!("audit {seq}: detail ciphertext fails authentication")))?;
    Ok(Some(
        serde_json::from_slice(&plain)
            .map_err(|_| VaultError::Integrity(format!("audit {seq}: detail is not JSON")))?,
    ))
}

/// Checks the whole chain: contiguous sequence numbers, every MAC, every detail ciphertext, and that the newest row
/// and the row count are the sealed head's (so deleting the newest rows, or the whole log, is caught).
pub fn verify(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Broken>, VaultError> {
    let mut problems = Vec::new();
    let mut prev = genesis(conn, keys)?;
    let mut st = conn.prepare("SELECT seq, at, actor, action, target, detail, mac FROM audit ORDER BY seq")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let at = text(r, 1);
        let actor = text(r, 2);
        let action = text(r, 3);
        let target = text(r, 4);
        let detail = blob(r, 5);
        let mac = blob(r, 6);
        if seq != prev.seq + 1 {
            if seq > prev.seq + 1 {
                let missing = if seq == prev.seq + 2 {
                    format!("row {} is missing", prev.seq + 1)
                } else {
                    format!("rows {}..{} are missing", prev.seq + 1, seq - 1)
                };
                problems.push(broken("audit", prev.seq + 1, missing));
            } else {
                problems.push(broken("audit", seq, "out of order"));
            }
        }
        if !keys
            .verify_audit_mac(&mac_parts(&prev.mac, &seq.to_be_bytes(), &at, &actor, &action, &target, &detail), &mac)
        {
            let why = if seq == prev.seq + 1 {
                "MAC does not match: the row was edited, inserted or reordered"
            } else {
                "MAC does not match its predecessor"
            };
            problems.push(broken("audit", seq, why));
        }
        if keys.open(&detail_place(&seq.to_string()), &detail).is_err() {
            problems.push(broken("audit", seq, "detail ciphertext fails authentication"));
        }
        let mut m = [0u8; 32];
        if mac.len() == 32 {
            m.copy_from_slice(&mac);
        }
        prev = Head { seq, count: prev.count + 1, mac: m };
    }
    match load_head(conn, keys) {
        Ok(head) => problems.extend(compare_with_head(&head, &prev)),
        Err(e) => problems.push(broken("meta", "audit_head", e.to_string())),
    }
    Ok(problems)
}

/// The end of the log as walked (`end`: newest seq and MAC, rows counted) against the sealed head. A head ahead of
/// the log means rows were deleted (all of them included); a head behind it means rows were added or the head was
/// replaced by an older one (a rollback).
fn compare_with_head(head: &Head, end: &Head) -> Option<Broken> {
    let counts = format!(
        "the sealed head counts {} row(s) up to {}, the log holds {} up to {}",
        head.count, head.seq, end.count, end.seq
    );
    if head.seq > end.seq {
        Some(broken("audit", end.seq + 1, format!("the newest rows were deleted: {counts}")))
    } else if head.seq < end.seq {
        Some(broken(
            "audit",
            head.seq + 1,
            format!("rows were added outside the application, or the head was replaced by an older one: {counts}"),
        ))
    } else if head.count != end.count {
        let what = if head.count > end.count { "rows were deleted" } else { "rows were added" };
        Some(broken("audit", end.seq, format!("{what}: {counts}")))
    } else if head.mac != end.mac {
        Some(broken("audit", end.seq, "the newest row does not match the sealed chain head"))
    } else {
        None
    }
}

/// The short form of the chain head printed on every page (`record 512·3fa2c1d0`: the newest row's number and the
/// first four bytes of its MAC). A page keeps what the vault held when it was printed; [`check_printed`] tells
/// whether the vault still holds it, so a vault rolled back or replaced since is caught by comparing any page.
pub fn printed_mark(conn: &rusqlite::Connection, keys: &Keys) -> Result<String, VaultError> {
    let head = load_head(conn, keys)?;
    Ok(format!("{}·{}", head.seq, crate::crypto::hex(&head.mac[..4])))
}

/// Compares a mark read off a printed page (`512·3fa2c1d0`, or with `:` between the two parts) with the vault: the
/// row it names must exist with that MAC (and [`verify`] proves the chain it sits in). Returns what does not hold.
pub fn check_printed(conn: &rusqlite::Connection, mark: &str) -> Result<Option<Broken>, VaultError> {
    let text = mark.trim().trim_start_matches("record").trim();
    let parsed = text
        .split_once('·')
        .or_else(|| text.split_once(':'))
        .and_then(|(seq, mac)| Some((seq.trim().parse::<i64>().ok()?, mac.trim().to_ascii_lowercase())))
        .filter(|(seq, mac)| *seq >= 0 && mac.len() == 8 && mac.bytes().all(|b| b.is_ascii_hexdigit()));
    let shown: String = mark.chars().take(40).collect();
    let Some((seq, mac)) = parsed else {
        return Ok(Some(broken(
            "page",
            shown,
            "not a printed record mark: expected NUMBER·8 hex digits, as in the page's footer",
        )));
    };
    if seq == 0 {
        // Printed before anything was written: every vault holds that much.
        return Ok(None);
    }
    let stored: Option<Vec<u8>> =
        conn.query_row("SELECT mac FROM audit WHERE seq = ?1", [seq], |r| r.get(0)).optional()?;
    let problem = match stored {
        None => Some("the vault does not hold the record this page was printed after: it was rolled back, replaced or wiped since"),
        Some(m) if !crate::crypto::hex(&m).starts_with(&mac) => {
            Some("the vault's record at this number differs from the one this page was printed after: the vault was rolled back, replaced or its log rewritten since")
        }
        Some(_) => None,
    };
    Ok(problem.map(|p| broken("page", format!("record {seq}·{mac}"), p)))
}

/// One audit row with its detail opened: what a handoff file carries to the HIM station.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

/// Every audit row, oldest first, with its detail decrypted. Refuses (naming the row) if a detail does not open:
/// a handoff must never carry a log that `verify` would call broken.
pub fn plain_rows(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<PlainRow>, VaultError> {
    let mut out = Vec::new();
    for_each_plain_row(conn, keys, |row| {
        out.push(row);
        Ok::<_, VaultError>(())
    })?;
    Ok(out)
}

/// Hands every row to `f` in order, decrypted, one at a time (the handoff export streams a log of millions of rows).
pub fn for_each_plain_row<E: From<VaultError>>(
    conn: &rusqlite::Connection,
    keys: &Keys,
    f: impl FnMut(PlainRow) -> Result<(), E>,
) -> Result<(), E> {
    for_each_plain_row_after(conn, keys, 0, f)
}

/// [`for_each_plain_row`] for the rows after `seq` (a unit share segment carries the rows since the one before).
pub fn for_each_plain_row_after<E: From<VaultError>>(
    conn: &rusqlite::Connection,
    keys: &Keys,
    seq: i64,
    mut f: impl FnMut(PlainRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut st = conn
        .prepare_cached("SELECT seq, at, actor, action, target, detail FROM audit WHERE seq > ?1 ORDER BY seq")
        .map_err(VaultError::from)?;
    let mut rows = st.query([seq]).map_err(VaultError::from)?;
    while let Some(r) = rows.next().map_err(VaultError::from)? {
        let seq: i64 = r.get(0).map_err(VaultError::from)?;
        let sealed = blob(r, 5);
        let plain = keys
            .open(&detail_place(&seq.to_string()), &sealed)
            .map_err(|_| VaultError::Integrity(format!("audit {seq}: detail ciphertext fails authentication")))?;
        let detail = serde_json::from_slice(&plain)
            .map_err(|_| VaultError::Integrity(format!("audit {seq}: detail is not JSON")))?;
        f(PlainRow { seq, at: text(r, 1), actor: text(r, 2), action: text(r, 3), target: text(r, 4), detail })?;
    }
    Ok(())
}

/// Whether the log holds a row after `seq` whose action does not start with `except` (the unit share publishes a
/// segment only when something besides its own bookkeeping happened).
pub fn has_rows_after(conn: &rusqlite::Connection, seq: i64, except: &str) -> Result<bool, VaultError> {
    let pattern = format!("{}%", except.replace('%', ""));
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit WHERE seq > ?1 AND action NOT LIKE ?2)")?
        .query_row(rusqlite::params![seq, pattern], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, OsRandom};

    /// The two tables the head depends on, as the schema defines them (enough for the head's own rules).
    fn conn() -> (rusqlite::Connection, Keys) {
        let conn = rusqlite::Connection::open_in_memory().expect("memory db");
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB);
             CREATE TABLE users (id TEXT PRIMARY KEY);
             INSERT INTO meta (key, value) VALUES ('vault_id', x'00112233445566778899aabbccddeeff');",
        )
        .expect("tables");
        (conn, DataKey::generate(&mut OsRandom).keys())
    }

    #[test]
    fn a_missing_head_is_an_empty_log_only_before_the_first_account() {
        let (conn, keys) = conn();
        assert_eq!(load_head(&conn, &keys).expect("never written").seq, 0);
        conn.execute("INSERT INTO users (id) VALUES ('u1')", []).expect("user");
        let err = load_head(&conn, &keys).err().expect("a vault with an account has a head");
        assert!(err.to_string().contains("meta audit_head"), "{err}");
    }

    #[test]
    fn a_head_of_format_one_is_read_and_rewritten_as_format_two() {
        let (conn, keys) = conn();
        let mut plain = 7_i64.to_be_bytes().to_vec();
        plain.extend_from_slice(&[9u8; 32]);
        let old = keys.seal(&HEAD_V1, &plain, &mut OsRandom);
        conn.execute("INSERT INTO meta (key, value) VALUES ('audit_head', ?1)", [&old]).expect("old head");
        let head = load_head(&conn, &keys).expect("format 1 still reads");
        assert_eq!((head.seq, head.count, head.mac), (7, 7, [9u8; 32]));
        store_head(&conn, &keys, &Head { count: 8, seq: 8, ..head }, &mut OsRandom).expect("store");
        let sealed: Vec<u8> =
            conn.query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| r.get(0)).expect("head");
        assert!(keys.open(&HEAD_V1, &sealed).is_err(), "the next write uses format 2");
        let head = load_head(&conn, &keys).expect("format 2 reads");
        assert_eq!((head.seq, head.count), (8, 8));
    }

    #[test]
    fn fail_a_head_under_another_vault_id() {
        let (conn, keys) = conn();
        store_head(&conn, &keys, &Head { seq: 1, count: 1, mac: [1; 32] }, &mut OsRandom).expect("store");
        conn.execute("UPDATE meta SET value = x'ff' WHERE key = 'vault_id'", []).expect("edit id");
        let err = load_head(&conn, &keys).err().expect("bound to the vault id");
        assert!(err.to_string().contains("fails authentication"), "{err}");
    }
}
