//! The audit log: one row per action, in the same transaction as the change it records, chained by a keyed MAC
//! (each row's MAC covers the previous row's MAC), with the chain head sealed under the data key in `meta`.
//!
//! What this detects, and what it does not, is stated in ARCHITECTURE.md ("Audit chain").

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use crate::clock::stamp;
use crate::crypto::{Keys, Place, Random};
use crate::vault::error::VaultError;

/// Actions written to the audit log. Stable strings: reports and HIM filters depend on them.
pub mod action {
    pub const VAULT_CREATED: &str = "vault.created";
    pub const USER_ADDED: &str = "user.added";
    pub const USER_DISABLED: &str = "user.disabled";
    pub const PASSWORD_CHANGED: &str = "user.password_changed";
    pub const SIGN_IN: &str = "sign_in.succeeded";
    pub const SIGN_IN_FAILED: &str = "sign_in.failed";
    pub const SIGN_IN_REFUSED: &str = "sign_in.throttled";
    pub const RECOVERY_USED: &str = "vault.recovery_key_used";
    pub const DRAFT_STARTED: &str = "draft.started";
    pub const DRAFT_DISCARDED: &str = "draft.discarded";
}

/// The newest link of the chain.
#[derive(Clone)]
pub struct Head {
    pub seq: i64,
    pub mac: [u8; 32],
}

pub(crate) struct NewRow<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a serde_json::Value,
}

const HEAD_PLACE: Place<'static> = Place { table: "meta", row: "audit_head", column: "value", format: 1 };

fn genesis(conn: &rusqlite::Connection, keys: &Keys) -> Result<Head, VaultError> {
    let vault_id: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'vault_id'", [], |r| r.get(0))
        .optional()?
        .ok_or_else(|| VaultError::Integrity("meta: vault_id is missing".into()))?;
    Ok(Head { seq: 0, mac: keys.audit_mac(&[b"dtk-audit-genesis-v1", &vault_id]) })
}

/// Reads the sealed chain head (or the genesis link of an empty log).
pub(crate) fn load_head(conn: &rusqlite::Connection, keys: &Keys) -> Result<Head, VaultError> {
    let sealed: Option<Vec<u8>> =
        conn.query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| r.get(0)).optional()?;
    match sealed {
        None => genesis(conn, keys),
        Some(s) => {
            let plain = keys
                .open(&HEAD_PLACE, &s)
                .map_err(|_| VaultError::Integrity("meta audit_head: sealed chain head fails authentication".into()))?;
            if plain.len() != 40 {
                return Err(VaultError::Integrity("meta audit_head: wrong length".into()));
            }
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&plain[..8]);
            let mut mac = [0u8; 32];
            mac.copy_from_slice(&plain[8..]);
            Ok(Head { seq: i64::from_be_bytes(seq), mac })
        }
    }
}

pub(crate) fn store_head(
    conn: &rusqlite::Connection,
    keys: &Keys,
    head: &Head,
    rng: &mut (dyn Random + Send),
) -> Result<(), VaultError> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(40));
    plain.extend_from_slice(&head.seq.to_be_bytes());
    plain.extend_from_slice(&head.mac);
    let sealed = keys.seal(&HEAD_PLACE, &plain, rng);
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_head', ?1)", [sealed])?;
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
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, target, detail, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, at, row.actor, row.action, row.target, detail, mac.to_vec()],
    )
    .map_err(|e| match e.sqlite_error_code() {
        // A row already sits where the sealed head says the next one goes: someone added rows (or removed the
        // head) outside the application. Never overwrite evidence; refuse and let `verify` name the rows.
        Some(rusqlite::ErrorCode::ConstraintViolation) => VaultError::Integrity(format!(
            "audit {seq}: the audit log has rows beyond its sealed head; it was changed outside Downtime Kit (run dtk verify)"
        )),
        _ => VaultError::from(e),
    })?;
    Ok(Head { seq, mac })
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

/// Checks the whole chain: contiguous sequence numbers, every MAC, every detail ciphertext, and that the newest row
/// is the sealed head (so deleting the newest rows is caught).
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
        prev = Head { seq, mac: m };
    }
    match load_head(conn, keys) {
        Ok(head) => {
            if head.seq > prev.seq {
                problems.push(broken(
                    "audit",
                    prev.seq + 1,
                    format!(
                        "the newest rows were deleted: the sealed head is at {}, the log ends at {}",
                        head.seq, prev.seq
                    ),
                ));
            } else if head.seq < prev.seq {
                problems.push(broken(
                    "audit",
                    head.seq + 1,
                    format!("rows after the sealed head ({}) were added outside the application", head.seq),
                ));
            } else if head.mac != prev.mac {
                problems.push(broken("audit", prev.seq, "the newest row does not match the sealed chain head"));
            }
        }
        Err(e) => problems.push(broken("meta", "audit_head", e.to_string())),
    }
    Ok(problems)
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
    mut f: impl FnMut(PlainRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut st = conn
        .prepare("SELECT seq, at, actor, action, target, detail FROM audit ORDER BY seq")
        .map_err(VaultError::from)?;
    let mut rows = st.query([]).map_err(VaultError::from)?;
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
