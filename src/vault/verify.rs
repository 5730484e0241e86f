//! What `dtk verify` checks beside the audit chain's own check: every sealed column must open under the vault's key
//! at its own place (table, row, column, format), so a changed, truncated or moved ciphertext is named by table and
//! row; every row MAC (`vault::rows`); and no row the record proves existed may be gone.

use crate::audit::{blob, Broken};
use crate::crypto::{Keys, Place};
use crate::vault::error::VaultError;
use crate::vault::schema;

/// Opens every sealed column of every table; each failure names its table and row.
pub fn sealed_columns(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Broken>, VaultError> {
    let mut problems = Vec::new();
    for (table, id_col, fv_col, col) in schema::SEALED_COLUMNS {
        let sql = format!("SELECT {id_col}, {fv_col}, {col} FROM {table}");
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id = String::from_utf8_lossy(&blob(r, 0)).into_owned();
            let fv: i64 = r.get::<_, i64>(1).unwrap_or(-1);
            let sealed = blob(r, 2);
            let place = Place { table, row: &id, column: col, format: u32::try_from(fv).unwrap_or(u32::MAX) };
            if keys.open(&place, &sealed).is_err() {
                problems.push(Broken {
                    table: (*table).to_string(),
                    id,
                    reason: format!("{col} fails authentication (changed, truncated or moved from another row)"),
                });
            }
        }
    }
    Ok(problems)
}

/// Every row whose MAC does not match its columns or that has none, and a second establishment of the MACs
/// (`vault::rows`), each named by table and key.
pub fn row_macs(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Broken>, VaultError> {
    Ok(crate::vault::rows::verify(conn, keys)?
        .into_iter()
        .map(|u| Broken { table: u.table, id: u.id, reason: u.reason })
        .collect())
}

/// Rows the audit chain names as `prefix:key` and that are never deleted: each must still exist. The chain is bound
/// by its sealed head and row count, so this binds these rows' existence to it (a deleted row is named).
const AUDITED_ROWS: &[(&str, &str, &str)] = &[
    ("entries:", "entries", "id"),
    ("episodes:", "episodes", "id"),
    ("census_snapshots:", "census_snapshots", "id"),
    ("export_batches:", "export_batches", "id"),
    ("handoff:", "handoff_files", "workstation || '/' || sequence"),
];

/// Rows that are gone although the record says they existed (issue 14 item 6): a row the audit chain names
/// ([`AUDITED_ROWS`]) that no longer exists; an entry whose versions do not run 1..=current_version (a version
/// deleted from the middle or the end); a version without its entry; an entry imported from a workstation (by a
/// handoff file or a unit share's copy) with no row on the HIM worklist (it would never be decided or exported).
pub fn missing_rows(conn: &rusqlite::Connection) -> Result<Vec<Broken>, VaultError> {
    let mut problems = Vec::new();
    let mut push = |table: &str, id: String, reason: &str| {
        problems.push(Broken { table: table.to_string(), id, reason: reason.to_string() });
    };
    // One pass over the chain, each named row looked up by its key (no sort of every target).
    let missing: Vec<String> = AUDITED_ROWS
        .iter()
        .map(|(prefix, table, key)| {
            format!(
                "(substr(target, 1, {len}) = '{prefix}' AND NOT EXISTS (SELECT 1 FROM {table} WHERE {key} = substr(target, {from})))",
                len = prefix.len(),
                from = prefix.len() + 1,
            )
        })
        .collect();
    let sql = format!("SELECT DISTINCT target FROM audit WHERE {} ORDER BY 1", missing.join(" OR "));
    let mut st = conn.prepare(&sql)?;
    for target in st.query_map([], |r| r.get::<_, String>(0))? {
        let target = target?;
        if let Some((prefix, table, _)) = AUDITED_ROWS.iter().find(|(p, _, _)| target.starts_with(p)) {
            push(table, target[prefix.len()..].to_string(), "the row is gone, but the audit log records it");
        }
    }
    // Counted on the versions' primary key, one range per entry (no sort of the join).
    let mut st = conn.prepare(
        "SELECT e.id FROM entries e
          WHERE (SELECT count(*) FROM entry_versions v
                  WHERE v.entry_id = e.id AND v.version BETWEEN 1 AND e.current_version) != e.current_version
             OR EXISTS (SELECT 1 FROM entry_versions v WHERE v.entry_id = e.id AND v.version > e.current_version)
          ORDER BY e.id",
    )?;
    for id in st.query_map([], |r| r.get::<_, String>(0))? {
        push("entries", id?, "versions are missing (they must run from 1 to the current version)");
    }
    let mut st = conn.prepare(
        "SELECT v.entry_id || '/' || v.version FROM entry_versions v
          WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = v.entry_id) ORDER BY 1",
    )?;
    for id in st.query_map([], |r| r.get::<_, String>(0))? {
        push("entry_versions", id?, "the version's entry is gone");
    }
    let mut st = conn.prepare(
        "SELECT e.id FROM entries e
          WHERE e.workstation IN (SELECT workstation FROM handoff_files UNION SELECT workstation FROM handoff_audit)
            AND NOT EXISTS (SELECT 1 FROM recon r WHERE r.entry_id = e.id) ORDER BY 1",
    )?;
    for id in st.query_map([], |r| r.get::<_, String>(0))? {
        push("recon", id?, "an imported entry has no row on the worklist");
    }
    Ok(problems)
}
