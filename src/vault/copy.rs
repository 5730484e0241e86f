//! A consistent copy of the vault file for interim backups (`dtk backup`, the app's automatic backup), and the
//! checkpoint a restored copy gets before it is moved into place. The copy is SQLite's own `VACUUM INTO`: one read
//! transaction, so it is a snapshot of committed data even while the nurse goes on saving, and it carries every row
//! as stored (sealed columns, key wraps, the audit chain and its sealed head), so the vault's own encryption
//! protects it and the recovery key opens it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::error::VaultError;
use super::{schema, Vault};

/// Writes a consistent copy of the vault in `vault_dir` to `into`, a file that must not exist yet (the temporary
/// name the durable-write helper then syncs and places). It opens its own read-only connection, so it can run on a
/// thread of its own while the vault's connection goes on writing: WAL lets one reader copy while a writer commits.
pub fn snapshot(vault_dir: &Path, into: &Path) -> Result<(), VaultError> {
    let path = Vault::path_in(vault_dir);
    if !path.is_file() {
        return Err(VaultError::Missing(vault_dir.to_path_buf()));
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id != schema::APPLICATION_ID {
        return Err(VaultError::NotAVault(path));
    }
    let target = into.to_str().ok_or_else(|| VaultError::Io("the backup path is not valid text".into()))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

/// Moves everything in the write-ahead log into the vault file and empties the log, so the file alone holds the
/// whole vault (a restored copy is moved into place as one file).
pub fn checkpoint(vault: &Vault) -> Result<(), VaultError> {
    let busy: i64 = vault.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy != 0 {
        return Err(VaultError::Busy);
    }
    Ok(())
}
