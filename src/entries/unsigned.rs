//! Entries still unsigned (drafts) of an episode: what a handoff file leaves behind on the workstation, since drafts
//! never leave it (issue 14). Counted per author for the export's refusal and the file's end record, and listed
//! (author, form, age) for the charge nurse, so they can be signed before recovery. Nothing here is patient data.

use serde::Serialize;

use crate::vault::VaultError;

/// How many entries of an episode one author left unsigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorCount {
    /// The author's username.
    pub author: String,
    pub count: u64,
}

/// One unsigned entry, as the charge desk lists it: who must sign it, which form, since when. No patient data, so
/// the list needs no key and opens no version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsigned {
    pub id: String,
    pub author: String,
    /// The form's canonical URL (`url|version`).
    pub form: String,
    /// When the draft was first saved.
    pub created_at: String,
    /// When it was last saved.
    pub updated_at: String,
}

/// The episode's unsigned entries per author, by username. Empty when every entry is signed.
pub fn by_author(conn: &rusqlite::Connection, episode_id: &str) -> Result<Vec<AuthorCount>, VaultError> {
    let mut st = conn.prepare(
        "SELECT author, count(*) FROM entries WHERE episode_id = ?1 AND status = 'draft' GROUP BY author ORDER BY author",
    )?;
    let rows = st.query_map([episode_id], |r| {
        Ok(AuthorCount { author: r.get(0)?, count: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0) })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The episode's unsigned entries, oldest first (the longest waiting is the most likely forgotten).
pub fn list(conn: &rusqlite::Connection, episode_id: &str) -> Result<Vec<Unsigned>, VaultError> {
    let mut st = conn.prepare(
        "SELECT id, author, form, created_at, updated_at FROM entries WHERE episode_id = ?1 AND status = 'draft'
          ORDER BY created_at, id",
    )?;
    let rows = st.query_map([episode_id], |r| {
        Ok(Unsigned { id: r.get(0)?, author: r.get(1)?, form: r.get(2)?, created_at: r.get(3)?, updated_at: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
