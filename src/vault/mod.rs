//! The vault: one SQLite database per workstation, in WAL mode with `synchronous=FULL`, holding only ciphertext
//! for anything about a patient. Every change goes through [`Vault::write`], which runs one transaction, appends
//! its audit rows inside it, and hands back a [`Durable`] receipt only after the commit returned.

pub mod schema;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use time::OffsetDateTime;

use crate::audit;

pub mod copy;
pub(crate) mod error;
pub mod rows;
pub mod verify;
use crate::crypto::{Keys, OsRandom, Place, Random};
pub use error::VaultError;

/// The vault file inside the vault folder.
pub const FILE_NAME: &str = "vault.sqlite3";
/// SQLite's page cache per connection, in KiB as `PRAGMA cache_size` takes it (negative). SQLite's default of 2 MiB
/// made every page of a large vault a `pread` and spilled a long transaction's dirty pages into the WAL before its
/// commit: an HIM station freezing an export of 100,000 entries spent most of its time there (BENCHMARKS.md
/// "Export speed"). 64 MiB bounds the memory still, however large the vault.
const CACHE_KIB: i64 = -65_536;

/// Proof that a change is on disk: the only way to get one is through [`Vault::write`] after a successful commit,
/// so "saved" can never be shown before the data is durable.
#[must_use]
pub struct Durable<T> {
    value: T,
    committed_at: OffsetDateTime,
}

impl<T> Durable<T> {
    pub fn value(&self) -> &T {
        &self.value
    }
    pub fn into_value(self) -> T {
        self.value
    }
    /// When the commit returned (the time shown as "saved on this workstation at …").
    pub fn committed_at(&self) -> OffsetDateTime {
        self.committed_at
    }
}

/// An open vault.
pub struct Vault {
    conn: Connection,
    dir: PathBuf,
    rng: Box<dyn Random + Send>,
    /// Opened from a folder or file this user cannot write: everything reads, nothing writes.
    read_only: bool,
}

/// Whether this process can write the vault file and create files beside it (WAL, shared memory).
fn writable(dir: &Path, file: &Path) -> bool {
    if std::fs::OpenOptions::new().append(true).open(file).is_err() {
        return false;
    }
    let probe = dir.join(".dtk-write-probe");
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

impl Vault {
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    pub fn exists(dir: &Path) -> bool {
        Self::path_in(dir).is_file()
    }

    /// Creates a new, empty vault (schema only). Set-up then adds keys and the first user in one transaction.
    pub fn create(dir: &Path) -> Result<Vault, VaultError> {
        std::fs::create_dir_all(dir).map_err(|e| VaultError::Io(e.to_string()))?;
        restrict_permissions(dir, 0o700);
        let path = Self::path_in(dir);
        if path.exists() {
            return Err(VaultError::Exists(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        restrict_permissions(&path, 0o600);
        conn.pragma_update(None, "application_id", schema::APPLICATION_ID)?;
        Self::finish_open(conn, dir)
    }

    /// Opens an existing vault, checks it is ours and not newer than this binary, applies pending migrations and
    /// checks the durability settings.
    pub fn open(dir: &Path) -> Result<Vault, VaultError> {
        let path = Self::path_in(dir);
        if !path.is_file() {
            return Err(VaultError::Missing(dir.to_path_buf()));
        }
        if !writable(dir, &path) {
            return Self::open_read_only(dir, &path);
        }
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != schema::APPLICATION_ID {
            return Err(VaultError::NotAVault(path));
        }
        Self::finish_open(conn, dir)
    }

    /// Opens a vault this user may read but not write (a read-only folder, a copy on a write-protected stick).
    /// SQLite cannot use WAL without writing beside the file, so the file is opened `immutable`; that is only
    /// correct when no committed transaction is still waiting in a WAL file, so such a vault is refused instead of
    /// being shown without its newest entries.
    fn open_read_only(dir: &Path, path: &Path) -> Result<Vault, VaultError> {
        let wal = dir.join(format!("{FILE_NAME}-wal"));
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            return Err(VaultError::Durability(
                "the vault folder is read-only and holds changes not yet merged into the vault file (after a crash); make the folder writable so they can be recovered".into(),
            ));
        }
        let uri = format!("file:{}?mode=ro&immutable=1", path.display());
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != schema::APPLICATION_ID {
            return Err(VaultError::NotAVault(path.to_path_buf()));
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > schema::SCHEMA_VERSION {
            return Err(VaultError::TooNew { found: version, supported: schema::SCHEMA_VERSION });
        }
        if version < schema::SCHEMA_VERSION {
            return Err(VaultError::Durability(
                "the vault needs an upgrade by this version, but its folder is read-only".into(),
            ));
        }
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        Ok(Vault { conn, dir: dir.to_path_buf(), rng: Box::new(OsRandom), read_only: true })
    }

    /// True when the vault was opened read-only: reads work, every write is refused with [`VaultError::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn finish_open(conn: Connection, dir: &Path) -> Result<Vault, VaultError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > schema::SCHEMA_VERSION {
            return Err(VaultError::TooNew { found: version, supported: schema::SCHEMA_VERSION });
        }
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(VaultError::Durability(format!("journal_mode is {mode}, not WAL")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
        if sync != 2 {
            return Err(VaultError::Durability(format!("synchronous is {sync}, not FULL (2)")));
        }
        // Temporary tables and sort spills stay in memory, so no temp file can ever appear beside the vault;
        // secure_delete overwrites freed pages.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        // Every insert and update of a table with row MACs runs through a cached statement (`rows`), and a handoff
        // import uses a few dozen: SQLite's default cache of 16 would prepare them again and again.
        conn.set_prepared_statement_cache_capacity(128);
        let mut vault = Vault { conn, dir: dir.to_path_buf(), rng: Box::new(OsRandom), read_only: false };
        vault.migrate(version)?;
        Ok(vault)
    }

    fn migrate(&mut self, from: i64) -> Result<(), VaultError> {
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Replaces the random source (tests use a seeded one for reproducible ciphertexts).
    pub fn set_random(&mut self, rng: Box<dyn Random + Send>) {
        self.rng = rng;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Read access for queries. Writes go through [`Vault::write`].
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Caps the database size in pages (`PRAGMA max_page_count`). Used by fault-injection tests to simulate a full
    /// disk, and available to IT to keep a vault within a quota; `None` lifts the cap.
    pub fn set_page_limit(&self, pages: Option<u32>) -> Result<(), VaultError> {
        let pages = pages.map_or(1_073_741_823_i64, i64::from);
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }

    /// A plaintext setting from `meta` (unit name, vault id, …). Never used for patient data.
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, VaultError> {
        meta_text(&self.conn, key)
    }

    /// Runs `f` inside one immediate transaction and commits. The audit rows that `f` appends are part of the same
    /// transaction, as is the sealed chain head. Returns only after the commit has returned, which with WAL and
    /// `synchronous=FULL` means the WAL frame is fsynced.
    pub fn write<T, E>(
        &mut self,
        keys: &Keys,
        actor: &str,
        at: OffsetDateTime,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<Durable<T>, E>
    where
        E: From<VaultError>,
    {
        if self.read_only {
            return Err(VaultError::ReadOnly.into());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(VaultError::from)?;
        let mut w = Tx { tx, keys, actor: actor.to_string(), at, rng: self.rng.as_mut(), head: None };
        let value = f(&mut w)?;
        if let Some(head) = w.head.take() {
            audit::store_head(&w.tx, keys, &head, w.rng).map_err(E::from)?;
        }
        w.tx.commit().map_err(VaultError::from)?;
        Ok(Durable { value, committed_at: at })
    }

    /// A transaction for writes that happen without any key (throttle counters, staged audit of failed sign-ins).
    pub fn write_unkeyed<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        if self.read_only {
            return Err(VaultError::ReadOnly);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }
}

/// A plaintext setting from `meta`, read on `conn` (the vault's connection, or a write transaction on it).
fn meta_text(conn: &Connection, key: &str) -> Result<Option<String>, VaultError> {
    let v: Option<Vec<u8>> =
        conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?;
    Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// A write transaction in progress. Dropping it without commit rolls everything back, audit rows included.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    keys: &'a Keys,
    actor: String,
    at: OffsetDateTime,
    rng: &'a mut (dyn Random + Send),
    /// The newest audit (seq, mac) appended in this transaction, sealed into meta at commit.
    head: Option<audit::Head>,
}

impl Tx<'_> {
    pub fn sql(&self) -> &rusqlite::Transaction<'_> {
        &self.tx
    }

    pub fn keys(&self) -> &Keys {
        self.keys
    }

    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// A plaintext setting from `meta`, as this transaction sees it ([`Vault::meta_text`]).
    pub fn meta_text(&self, key: &str) -> Result<Option<String>, VaultError> {
        meta_text(&self.tx, key)
    }

    /// Adds a plaintext setting to `meta` (at set-up: the vault and workstation ids, the unit). Never patient data.
    pub fn insert_meta(&mut self, key: &str, value: &[u8]) -> Result<(), VaultError> {
        self.insert(rows::OnConflict::Abort, "meta", &[("key", &key), ("value", &value)])?;
        Ok(())
    }

    /// Establishes the row MACs of this vault once: at set-up, or at the first keyed sign-in after the upgrade that
    /// added them, when every row written before gets its MAC (trust on upgrade). Audited with what it MAC'ed, so
    /// a second time (the marker removed to have edited rows re-MAC'ed) stays visible in the chain.
    pub fn establish_row_macs(&mut self) -> Result<(), VaultError> {
        let at = crate::clock::stamp(self.at);
        if let Some(counts) = rows::establish(&self.tx, self.keys, &at)? {
            let detail: serde_json::Map<String, serde_json::Value> =
                counts.into_iter().map(|(t, n)| (t.to_string(), serde_json::Value::from(n))).collect();
            self.audit(rows::ESTABLISHED_ACTION, "vault", &serde_json::Value::Object(detail))?;
        }
        Ok(())
    }

    /// Inserts one row of a table with row MACs, MAC'ed over the values it binds (`rows::insert`). Returns the
    /// number of rows written (0 when `OnConflict::Ignore` kept an existing row).
    pub fn insert(
        &self,
        on_conflict: rows::OnConflict,
        table: &str,
        values: &[(&str, &dyn rusqlite::ToSql)],
    ) -> Result<usize, VaultError> {
        rows::insert(&self.tx, self.keys, table, on_conflict, values)
    }

    /// Updates one row of a table with row MACs by its key, after checking its MAC (`rows::update`). Returns the
    /// number of rows changed (0 when there is no such row, or `only_if` does not hold).
    pub fn update(
        &self,
        table: &str,
        key: &[&dyn rusqlite::ToSql],
        only_if: Option<(&str, &dyn rusqlite::ToSql)>,
        set: &[(&str, &dyn rusqlite::ToSql)],
    ) -> Result<usize, VaultError> {
        rows::update(&self.tx, self.keys, table, key, only_if, set)
    }

    /// Encrypts `plain` for its place with a fresh nonce.
    pub fn seal(&mut self, place: &Place<'_>, plain: &[u8]) -> Vec<u8> {
        self.keys.seal(place, plain, self.rng)
    }

    /// Fresh random bytes (ids, salts).
    pub fn random(&mut self, buf: &mut [u8]) {
        self.rng.fill(buf);
    }

    /// A fresh random UUID (v4), for ids minted on this workstation.
    pub fn new_id(&mut self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// Appends one audit row in this transaction. `detail` is encrypted; it may name a patient.
    pub fn audit(&mut self, action: &str, target: &str, detail: &serde_json::Value) -> Result<i64, VaultError> {
        let actor = self.actor.clone();
        self.audit_as(&actor, self.at, action, target, detail)
    }

    /// Appends an audit row with an explicit actor and time (folding staged rows of failed sign-ins).
    pub fn audit_as(
        &mut self,
        actor: &str,
        at: OffsetDateTime,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, VaultError> {
        let prev = match self.head.take() {
            Some(h) => h,
            None => audit::load_head(&self.tx, self.keys)?,
        };
        let row = audit::NewRow { at, actor, action, target, detail };
        let head = audit::append(&self.tx, self.keys, &prev, &row, self.rng)?;
        let seq = head.seq;
        self.head = Some(head);
        Ok(seq)
    }
}

/// A transaction is also the random source for the crypto done inside it.
impl Random for Tx<'_> {
    fn fill(&mut self, buf: &mut [u8]) {
        self.rng.fill(buf);
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: the data is encrypted anyway; this keeps other local accounts from even copying it.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path, _mode: u32) {}
