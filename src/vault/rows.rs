//! Row MACs: the one helper that binds every plaintext column of a row (issue 14 item 6). Lists filter on plaintext
//! columns (status, author, patient index, worklist state…), so a row is written with `mac = HMAC(row key, table ‖
//! every column's name and value)`, the key derived from the data key like the user rows' MAC. The row's own key
//! columns are among the columns, so the same bytes moved under another key (a swapped row) fail too.
//!
//! Inserts MAC the values they bind (no read); updates read the row once by its key, check its MAC before writing
//! (re-MAC'ing an edited row would make the edit valid, the lesson of the user rows in item 8), and MAC the result.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{OptionalExtension, ToSql};

use crate::crypto::Keys;
use crate::vault::error::VaultError;
use crate::vault::schema::{self, MacedTable};

/// Domain separation from the user rows' MAC, which uses the same key.
const DOMAIN: &[u8] = b"dtk-row-v1";

/// The meta row whose presence says every row of this vault carries its MAC (set-up, or the first keyed sign-in
/// after the upgrade). Without it, rows with no MAC are from before the upgrade; with it, they were cleared.
pub const ESTABLISHED: &str = "rows_authenticated";

/// The audit action that records when the row MACs were established (set-up, or the upgrade with its counts).
pub const ESTABLISHED_ACTION: &str = "vault.rows_authenticated";

/// What a row's MAC problem is, as `verify` words it (table and key only, never a value).
pub const ROW_CHANGED: &str = "row changed outside Downtime Kit (a column edited, or the row moved under another key)";
const ROW_UNMACED: &str = "row has no MAC (added, or its MAC removed, outside Downtime Kit)";

/// A row `verify` reports: its table, its key (never a value) and what is wrong. (`vault::verify` turns it into the
/// audit module's `Broken`; this file stays a leaf that the audit chain's head can use.)
pub struct Unauthentic {
    pub table: String,
    pub id: String,
    pub reason: String,
}

/// What to do when an insert meets a row with the same key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Fail (the normal case: a key is written once).
    Abort,
    /// Keep the existing row (imports that see the same record twice).
    Ignore,
    /// Replace the whole row; nothing of the old row survives, so nothing unchecked is re-MAC'ed.
    Replace,
    /// Like `Replace`, every column and the MAC new, but written over the old row where it stands (`ON CONFLICT DO
    /// UPDATE`): its key stays, so no index of the key is written again. For a row rewritten by every write
    /// transaction (the audit chain's head), where each index page written is another page in the WAL (issue 19).
    Overwrite,
}

/// A table with row MACs and its statements.
struct Table {
    t: &'static MacedTable,
    sql: &'static Statements,
}

/// The statements of one table, built once: every save inserts and updates several rows, and building their text
/// each time showed in its profile (issue 19).
struct Statements {
    /// By [`OnConflict`]: abort, ignore, replace, overwrite.
    insert: [String; 4],
    /// The row with its key: rowid, every MAC'ed column, the MAC.
    read: String,
}

impl Statements {
    fn of(t: &MacedTable) -> Statements {
        let marks: Vec<String> = (1..=t.columns.len() + 1).map(|i| format!("?{i}")).collect();
        let insert = |verb: &str| {
            format!("{verb} INTO {} ({}, mac) VALUES ({})", t.name, t.columns.join(", "), marks.join(", "))
        };
        let cond: Vec<String> = t.key.iter().enumerate().map(|(i, k)| format!("{k} = ?{}", i + 1)).collect();
        let rest: Vec<String> = t
            .columns
            .iter()
            .chain(["mac"].iter())
            .filter(|c| !t.key.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let overwrite =
            format!("{} ON CONFLICT ({}) DO UPDATE SET {}", insert("INSERT"), t.key.join(", "), rest.join(", "));
        Statements {
            insert: [insert("INSERT"), insert("INSERT OR IGNORE"), insert("INSERT OR REPLACE"), overwrite],
            read: format!("SELECT rowid, {}, mac FROM {} WHERE {}", t.columns.join(", "), t.name, cond.join(" AND ")),
        }
    }
}

fn table(name: &str) -> Result<Table, VaultError> {
    static STATEMENTS: std::sync::OnceLock<Vec<Statements>> = std::sync::OnceLock::new();
    let all = STATEMENTS.get_or_init(|| schema::MACED_TABLES.iter().map(Statements::of).collect());
    schema::MACED_TABLES
        .iter()
        .zip(all)
        .find(|(t, _)| t.name == name)
        .map(|(t, sql)| Table { t, sql })
        .ok_or_else(|| VaultError::Sqlite(format!("{name} is not a table with row MACs")))
}

fn value_ref<'a>(out: &'a ToSqlOutput<'a>) -> Result<ValueRef<'a>, VaultError> {
    match out {
        ToSqlOutput::Borrowed(v) => Ok(*v),
        ToSqlOutput::Owned(v) => Ok(ValueRef::from(v)),
        _ => Err(VaultError::Sqlite("a row MAC covers plain values only".into())),
    }
}

/// The canonical encoding: length-prefixed table name, then each non-NULL column's name, type tag and value.
fn encode_into(buf: &mut Vec<u8>, part: &[u8]) {
    buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
    buf.extend_from_slice(part);
}

struct Canonical(Vec<u8>);

impl Canonical {
    fn new(table: &str) -> Canonical {
        let mut buf = Vec::with_capacity(512);
        encode_into(&mut buf, table.as_bytes());
        Canonical(buf)
    }

    /// A NULL column is left out (the names of the others keep the encoding unambiguous): a nullable column added by
    /// a later migration is NULL in every older row, so their MACs stay valid without re-MAC'ing the vault.
    fn column(&mut self, name: &str, v: ValueRef<'_>) {
        if v == ValueRef::Null {
            return;
        }
        encode_into(&mut self.0, name.as_bytes());
        match v {
            ValueRef::Null => {}
            ValueRef::Integer(i) => {
                encode_into(&mut self.0, b"I");
                encode_into(&mut self.0, &i.to_be_bytes());
            }
            ValueRef::Real(f) => {
                encode_into(&mut self.0, b"R");
                encode_into(&mut self.0, &f.to_bits().to_be_bytes());
            }
            ValueRef::Text(t) => {
                encode_into(&mut self.0, b"T");
                encode_into(&mut self.0, t);
            }
            ValueRef::Blob(b) => {
                encode_into(&mut self.0, b"B");
                encode_into(&mut self.0, b);
            }
        }
    }

    fn mac(&self, keys: &Keys) -> [u8; 32] {
        keys.row_mac(&[DOMAIN, &self.0])
    }

    fn verify(&self, keys: &Keys, mac: &[u8]) -> bool {
        keys.verify_row_mac(&[DOMAIN, &self.0], mac)
    }
}

/// A row's key as `verify` names it: the key columns' values joined by `/` (ids and numbers, never patient data).
fn key_text(t: &MacedTable, values: &[Value]) -> String {
    t.key
        .iter()
        .filter_map(|k| t.columns.iter().position(|c| c == k))
        .map(|i| match &values[i] {
            Value::Text(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            Value::Blob(b) => crate::crypto::hex(b),
            Value::Real(f) => f.to_string(),
            Value::Null => String::new(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn canonical_of(t: &MacedTable, values: &[Value]) -> Canonical {
    let mut c = Canonical::new(t.name);
    for (name, v) in t.columns.iter().zip(values) {
        c.column(name, ValueRef::from(v));
    }
    c
}

/// Inserts one row with its MAC. `values` name every column of the table's MAC list, in its order, so a column
/// added to the table and forgotten here fails loudly instead of going unprotected.
pub fn insert(
    conn: &rusqlite::Connection,
    keys: &Keys,
    table_name: &str,
    on_conflict: OnConflict,
    values: &[(&str, &dyn ToSql)],
) -> Result<usize, VaultError> {
    let Table { t, sql } = table(table_name)?;
    if values.len() != t.columns.len() || values.iter().zip(t.columns).any(|((n, _), c)| n != c) {
        return Err(VaultError::Sqlite(format!("an insert into {table_name} does not name its columns in order")));
    }
    let outs = values.iter().map(|(_, v)| v.to_sql()).collect::<Result<Vec<_>, _>>()?;
    let mut c = Canonical::new(t.name);
    for ((name, _), out) in values.iter().zip(&outs) {
        c.column(name, value_ref(out)?);
    }
    let mac = c.mac(keys);
    let sql = match on_conflict {
        OnConflict::Abort => &sql.insert[0],
        OnConflict::Ignore => &sql.insert[1],
        OnConflict::Replace => &sql.insert[2],
        OnConflict::Overwrite => &sql.insert[3],
    };
    let mut st = conn.prepare_cached(sql)?;
    let mut params: Vec<&dyn ToSql> = values.iter().map(|(_, v)| *v).collect();
    params.push(&mac);
    Ok(st.execute(params.as_slice())?)
}

/// A row as stored: its rowid, every MAC'ed column and its MAC (if it has one).
struct Stored {
    rowid: i64,
    values: Vec<Value>,
    mac: Option<Vec<u8>>,
}

/// Reads the row with this key.
fn read(conn: &rusqlite::Connection, table: &Table, key: &[&dyn ToSql]) -> Result<Option<Stored>, VaultError> {
    let t = table.t;
    let mut st = conn.prepare_cached(&table.sql.read)?;
    let n = t.columns.len();
    Ok(st
        .query_row(key, |r| {
            let values = (1..=n).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>()?;
            let mac = match r.get::<_, Value>(n + 1)? {
                Value::Blob(b) => Some(b),
                _ => None,
            };
            Ok(Stored { rowid: r.get(0)?, values, mac })
        })
        .optional()?)
}

/// Updates the row with this key: checks its MAC first (refusing an edited row, named by table and key), sets
/// `set`, and writes the new MAC. `only_if` is a column that must hold a value for the update to happen (like a
/// `WHERE state = 'accepted'`). Returns the number of rows changed (0 or 1).
pub fn update(
    conn: &rusqlite::Connection,
    keys: &Keys,
    table_name: &str,
    key: &[&dyn ToSql],
    only_if: Option<(&str, &dyn ToSql)>,
    set: &[(&str, &dyn ToSql)],
) -> Result<usize, VaultError> {
    let found = table(table_name)?;
    let t = found.t;
    let Some(Stored { rowid, mut values, mac }) = read(conn, &found, key)? else { return Ok(0) };
    let position = |name: &str| {
        t.columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| VaultError::Sqlite(format!("{name} is not a column of {table_name} with a row MAC")))
    };
    if let Some((col, want)) = only_if {
        let out = want.to_sql()?;
        if ValueRef::from(&values[position(col)?]) != value_ref(&out)? {
            return Ok(0);
        }
    }
    let old = canonical_of(t, &values);
    if !mac.as_deref().is_some_and(|m| old.verify(keys, m)) {
        return Err(VaultError::Integrity(format!("{table_name} {}: {ROW_CHANGED}", key_text(t, &values))));
    }
    for (name, v) in set {
        let out = v.to_sql()?;
        values[position(name)?] = value_ref(&out)?.into();
    }
    let mac = canonical_of(t, &values).mac(keys);
    let assign: Vec<String> = set.iter().enumerate().map(|(i, (n, _))| format!("{n} = ?{}", i + 1)).collect();
    let sql = format!(
        "UPDATE {} SET {}, mac = ?{} WHERE rowid = ?{}",
        t.name,
        assign.join(", "),
        set.len() + 1,
        set.len() + 2
    );
    let mut st = conn.prepare_cached(&sql)?;
    let mut params: Vec<&dyn ToSql> = set.iter().map(|(_, v)| *v).collect();
    params.push(&mac);
    params.push(&rowid);
    Ok(st.execute(params.as_slice())?)
}

/// Whether the row MACs of this vault are established (set-up wrote them, or the upgrade did).
pub fn established(conn: &rusqlite::Connection) -> Result<bool, VaultError> {
    Ok(conn.query_row("SELECT count(*) FROM meta WHERE key = ?1", [ESTABLISHED], |r| r.get::<_, i64>(0))? > 0)
}

/// Trust on upgrade: gives every row without a MAC its MAC, once, when a vault from before row MACs is first
/// opened with the keys. Returns the number of rows per table it MAC'ed (for the audit row). A vault whose MACs are
/// established is left alone: a row without a MAC there was cleared by someone, and `verify` names it.
pub fn establish(
    conn: &rusqlite::Connection,
    keys: &Keys,
    at: &str,
) -> Result<Option<Vec<(&'static str, usize)>>, VaultError> {
    if established(conn)? {
        return Ok(None);
    }
    let mut counts = Vec::new();
    for t in schema::MACED_TABLES {
        let sql = format!("SELECT rowid, {} FROM {} WHERE mac IS NULL", t.columns.join(", "), t.name);
        let rows: Vec<(i64, Vec<Value>)> = {
            let mut st = conn.prepare(&sql)?;
            let n = t.columns.len();
            let rows = st.query_map([], |r| {
                Ok((r.get(0)?, (1..=n).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>()?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut st = conn.prepare(&format!("UPDATE {} SET mac = ?1 WHERE rowid = ?2", t.name))?;
        for (rowid, values) in &rows {
            st.execute(rusqlite::params![canonical_of(t, values).mac(keys).to_vec(), rowid])?;
        }
        if !rows.is_empty() {
            counts.push((t.name, rows.len()));
        }
    }
    let stamp: &dyn ToSql = &at.as_bytes();
    insert(conn, keys, "meta", OnConflict::Abort, &[("key", &ESTABLISHED), ("value", stamp)])?;
    Ok(Some(counts))
}

/// Every row whose MAC does not match its columns, or that has none; each named by table and key.
pub fn verify(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Unauthentic>, VaultError> {
    let mut problems = Vec::new();
    if !established(conn)? {
        problems.push(Unauthentic {
            table: "meta".into(),
            id: ESTABLISHED.into(),
            reason: "the row MACs were never established (sign in once on a writable vault), or the marker was removed"
                .into(),
        });
    }
    // Set-up establishes the MACs, or the first keyed sign-in after the upgrade does: once. A second time means the
    // marker was removed so that rows without a MAC (edited ones, their MAC cleared) would be given one.
    let mut st = conn.prepare(&format!(
        "SELECT seq FROM audit WHERE action = ?1 AND {} ORDER BY seq",
        schema::AUDIT_BY_ACTION_WHERE
    ))?;
    let seqs = st.query_map([ESTABLISHED_ACTION], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
    for seq in seqs.iter().skip(1) {
        problems.push(Unauthentic {
            table: "audit".into(),
            id: seq.to_string(),
            reason: "the row MACs were established a second time (their marker was removed, so rows without a MAC \
                     were given one)"
                .into(),
        });
    }
    for t in schema::MACED_TABLES {
        let sql = format!("SELECT {}, mac FROM {}", t.columns.join(", "), t.name);
        let mut st = conn.prepare(&sql)?;
        let n = t.columns.len();
        let mut rows = st.query([])?;
        // Borrowed values straight from SQLite: verify reads every row of a four-week vault, so nothing is copied
        // unless the row is reported.
        while let Some(r) = rows.next()? {
            let mut c = Canonical::new(t.name);
            for (i, name) in t.columns.iter().enumerate() {
                c.column(name, r.get_ref(i)?);
            }
            let reason = match r.get_ref(n)? {
                ValueRef::Blob(m) if c.verify(keys, m) => continue,
                ValueRef::Null => ROW_UNMACED,
                _ => ROW_CHANGED,
            };
            let values = (0..n).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>()?;
            problems.push(Unauthentic { table: t.name.to_string(), id: key_text(t, &values), reason: reason.into() });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, OsRandom};

    /// A vault's schema with the rows a vault from before row MACs holds: an entry and its signed version, no MAC.
    fn upgraded_vault() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("memory db");
        conn.pragma_update(None, "foreign_keys", "OFF").expect("pragma");
        for sql in schema::MIGRATIONS {
            conn.execute_batch(sql).expect("migration");
        }
        conn.execute_batch(
            "INSERT INTO entries (id, patient_idx, form, episode_id, author, workstation, status, current_version,
                                  created_at, updated_at)
             VALUES ('e1', x'01', 'vital-signs', 'ep1', 'jnurse', 'ws1', 'signed', 1, 't0', 't0');
             INSERT INTO entry_versions (entry_id, version, kind, author, recorded_at, signed_at, signed_by,
                                         content_hash, fv, body)
             VALUES ('e1', 1, 'original', 'jnurse', 't0', 't0', 'jnurse', 'h', 1, x'00');",
        )
        .expect("old rows");
        conn
    }

    #[test]
    fn trust_on_upgrade_macs_old_rows_once_and_then_reports_edits() {
        let conn = upgraded_vault();
        let keys = DataKey::generate(&mut OsRandom).keys();
        let counts = establish(&conn, &keys, "t1").expect("establish").expect("first time");
        assert_eq!(counts, vec![("entries", 1), ("entry_versions", 1)], "the signed version too, despite its trigger");
        assert!(verify(&conn, &keys).expect("verify").is_empty());
        assert!(establish(&conn, &keys, "t2").expect("again").is_none(), "established once");
        conn.execute("UPDATE entries SET status = 'draft' WHERE id = 'e1'", []).expect("edit");
        conn.execute_batch("DROP TRIGGER signed_versions_are_immutable").expect("drop");
        conn.execute("UPDATE entry_versions SET mac = NULL WHERE entry_id = 'e1'", []).expect("clear");
        let problems: Vec<String> = verify(&conn, &keys)
            .expect("verify")
            .iter()
            .map(|b| format!("{} {}: {}", b.table, b.id, b.reason))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("entries e1") && problems[0].contains("changed"), "{problems:?}");
        assert!(problems[1].starts_with("entry_versions e1/1") && problems[1].contains("no MAC"), "{problems:?}");
        assert!(establish(&conn, &keys, "t3").expect("no re-MAC").is_none(), "a cleared MAC is not given again");
    }

    #[test]
    fn fail_an_update_of_an_edited_row() {
        let conn = upgraded_vault();
        let keys = DataKey::generate(&mut OsRandom).keys();
        establish(&conn, &keys, "t1").expect("establish");
        conn.execute("UPDATE entries SET author = 'someone' WHERE id = 'e1'", []).expect("edit");
        let err = update(&conn, &keys, "entries", &[&"e1"], None, &[("updated_at", &"t2")]).expect_err("refused");
        assert!(err.to_string().contains("entries e1"), "{err}");
        assert!(verify(&conn, &keys).expect("verify").iter().any(|b| b.table == "entries"), "still reported");
    }
}
