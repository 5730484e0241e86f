//! The one error type of the vault: what went wrong with the storage, worded for the person at the workstation
//! (whether the change was saved is always said). A leaf of the module graph: the audit chain and the domain storage
//! modules return it without depending on the vault's code.

use std::path::PathBuf;

use crate::crypto::CryptoError;

/// Errors of the storage layer. None of them carries patient data: they name tables, row ids and SQLite codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The vault was written by a newer Downtime Kit; opening it here could damage it.
    #[error("this vault has schema version {found}, but this Downtime Kit understands up to {supported}; use the newer version that wrote it")]
    TooNew { found: i64, supported: i64 },
    /// The file exists but is not a Downtime Kit vault.
    #[error("{0} is not a Downtime Kit vault")]
    NotAVault(PathBuf),
    /// There is no vault in the folder yet.
    #[error("there is no vault in {0}; run set-up first (dtk init)")]
    Missing(PathBuf),
    /// A vault already exists where set-up was asked to create one.
    #[error("a vault already exists in {0}")]
    Exists(PathBuf),
    /// SQLite refused the durability settings this product depends on.
    #[error("the vault could not be opened with durable settings ({0}); nothing was written")]
    Durability(String),
    /// The disk (or the vault's page quota) is full. Nothing of the failed transaction was kept.
    #[error("the disk is full: the change was NOT saved; free space and save again")]
    Full,
    /// The vault folder or file is read-only.
    #[error("the vault is read-only here: the change was NOT saved")]
    ReadOnly,
    /// Another program holds the vault locked for longer than the busy timeout.
    #[error("the vault is busy in another program: the change was NOT saved; try again")]
    Busy,
    /// An input/output error from the disk.
    #[error("a disk error stopped the save: the change was NOT saved ({0})")]
    Io(String),
    /// A row failed its integrity check.
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// Any other SQLite failure.
    #[error("storage error: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for VaultError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DiskFull) => VaultError::Full,
            Some(C::ReadOnly) => VaultError::ReadOnly,
            Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => VaultError::Busy,
            Some(C::SystemIoFailure) | Some(C::CannotOpen) => VaultError::Io(e.to_string()),
            Some(C::NotADatabase) => VaultError::Sqlite("the file is not a database".into()),
            _ => VaultError::Sqlite(e.to_string()),
        }
    }
}

impl From<CryptoError> for VaultError {
    fn from(e: CryptoError) -> Self {
        VaultError::Integrity(e.to_string())
    }
}
