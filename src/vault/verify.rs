//! The check of every sealed column that `dtk verify` runs beside the audit chain's own check: each value must
//! open under the vault's key at its own place (table, row, column, format), so a changed, truncated or moved
//! ciphertext is named by table and row.

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
