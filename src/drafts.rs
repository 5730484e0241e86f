//! Drafts: a form in progress, autosaved encrypted so that it survives a crash, the idle lock and a restart, and
//! comes back only to the user who wrote it.

use rusqlite::{params, OptionalExtension};

use crate::audit::action;
use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

/// Record format of the draft body.
const FORMAT: u32 = 1;

/// A draft as read back by its author.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Draft {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub body: serde_json::Value,
}

fn place(id: &str) -> Place<'_> {
    Place { table: "drafts", row: id, column: "body", format: FORMAT }
}

/// Creates a draft (no id) or replaces the body of one of `user_id`'s drafts. Only the first save is audited: an
/// autosave every few seconds would otherwise bury the log.
pub fn save(
    tx: &mut Tx<'_>,
    user_id: &str,
    draft_id: Option<&str>,
    body: &serde_json::Value,
) -> Result<String, VaultError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
    let now = stamp(tx.at());
    match draft_id {
        Some(id) => {
            let owner: Option<String> =
                tx.sql().query_row("SELECT user_id FROM drafts WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            if owner.as_deref() != Some(user_id) {
                return Err(VaultError::Integrity(format!("drafts {id}: no such draft of the signed-in user")));
            }
            let sealed = tx.seal(&place(id), &plain);
            tx.update("drafts", &[&id], None, &[("body", &sealed), ("updated_at", &now), ("fv", &FORMAT)])?;
            Ok(id.to_string())
        }
        None => {
            let id = tx.new_id().to_string();
            let sealed = tx.seal(&place(&id), &plain);
            tx.insert(
                OnConflict::Abort,
                "drafts",
                &[
                    ("id", &id),
                    ("user_id", &user_id),
                    ("created_at", &now),
                    ("updated_at", &now),
                    ("fv", &FORMAT),
                    ("body", &sealed),
                ],
            )?;
            tx.audit(action::DRAFT_STARTED, &format!("drafts:{id}"), &serde_json::json!({}))?;
            Ok(id)
        }
    }
}

/// The user's drafts, newest first.
pub fn list(conn: &rusqlite::Connection, keys: &Keys, user_id: &str) -> Result<Vec<Draft>, VaultError> {
    let mut st = conn.prepare(
        "SELECT id, created_at, updated_at, fv, body FROM drafts WHERE user_id = ?1 ORDER BY updated_at DESC, id",
    )?;
    let rows = st.query_map([user_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?, r.get::<_, Vec<u8>>(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, created_at, updated_at, fv, sealed) = row?;
        let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(&id) };
        let plain = keys
            .open(&p, &sealed)
            .map_err(|_| VaultError::Integrity(format!("drafts {id}: body fails authentication")))?;
        let body = serde_json::from_slice(&plain)
            .map_err(|_| VaultError::Integrity(format!("drafts {id}: body is not JSON")))?;
        out.push(Draft { id, created_at, updated_at, body });
    }
    Ok(out)
}

/// Deletes one of the user's drafts (after it became an entry, or when the user throws it away).
pub fn discard(tx: &mut Tx<'_>, user_id: &str, draft_id: &str) -> Result<(), VaultError> {
    let n = tx.sql().execute("DELETE FROM drafts WHERE id = ?1 AND user_id = ?2", params![draft_id, user_id])?;
    if n == 0 {
        return Err(VaultError::Integrity(format!("drafts {draft_id}: no such draft of the signed-in user")));
    }
    tx.audit(action::DRAFT_DISCARDED, &format!("drafts:{draft_id}"), &serde_json::json!({}))?;
    Ok(())
}
