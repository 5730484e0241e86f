//! Issue 14 item 6: plaintext metadata is authenticated. Lists, the worklist and the FHIR export decide from
//! plaintext columns (an entry's patient index, status, author, current version; a version's signer; the worklist
//! state), which anyone with SQLite could edit unseen. Extends `vault.rs`'s audit tampering to every column of every
//! table, generated from the schema, plus swapped and deleted rows.

use std::collections::BTreeSet;

use dtk::clock::SystemClock;
use rusqlite::types::Value;
use serde_json::json;

use crate::reconcile::{chart, export, med_admin, sample, workstation};
use crate::support::*;
use crate::vault::{assert_each_is_caught, assert_each_is_caught_as};

/// Columns that decide nothing, so no MAC covers them. Keep this short: every other column of every table is edited
/// by `fail_any_edited_column_of_any_table` and must be reported by `verify`.
const NOT_AUTHENTICATED: &[(&str, &str, &str)] = &[
    // The sign-in throttle must change while nobody holds the key (that is when passwords fail), so the user row's
    // MAC cannot cover it; an edit only changes how long the next sign-in waits.
    ("users", "failed_count", "throttle counter, written without the key"),
    ("users", "locked_until", "throttle back-off, written without the key"),
    // Failed sign-ins staged while nobody holds the key; the next sign-in folds them into the keyed chain as they
    // are. Their deletion before that is a known gap (ARCHITECTURE.md "Audit chain").
    ("audit_pending", "*", "staged without the key, folded into the chain at the next sign-in"),
    // SQLite's own next-id counter for audit_pending; an edit changes only the id of the next staged row.
    ("sqlite_sequence", "*", "SQLite's AUTOINCREMENT counter"),
];

/// Tables the fixture cannot fill, each with why; their columns are still checked against the MAC list.
const NOT_FILLED_BY_THE_FIXTURE: &[(&str, &str)] = &[
    // A conflict needs two handoff files from one workstation that disagree about a signed version, which only a
    // vault restored from an older copy and charted again produces, and its audit rows conflict first.
    ("handoff_conflicts", "needs a workstation vault rolled back and charted again"),
];

fn skipped(table: &str, column: &str) -> bool {
    NOT_AUTHENTICATED.iter().any(|(t, c, _)| *t == table && (*c == "*" || *c == column))
}

/// A workstation that charted, registered a patient, kept a draft, ticked a step and handed off, and the HIM
/// station that imported it with a second workstation's duplicate, decided, exported, posted and read back a FHIR
/// batch: together they hold a row in every table but those listed above.
fn stations() -> (TestVault, TestVault) {
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    let dose = chart(&mut a, &med_admin("2026-11-21T10:15:00-05:00"), false);
    let _vitals = chart(&mut a, &sample("vital-signs"), false);
    let opts = dtk::api::EntryOptions {
        reason: Some("dose corrected".into()),
        allergy_override: Some("benefit outweighs risk, prescriber informed".into()),
        ..Default::default()
    };
    a.ws.amend_entry(&a.nurse, &dose, &med_admin("2026-11-21T10:16:00-05:00"), &opts, &SystemClock).expect("amend");
    let reg = dtk::patients::Registration {
        family: "Tamper".into(),
        given: vec!["Test".into()],
        birth_date: Some("1990-01-01".into()),
        gender: None,
        location: None,
    };
    a.ws.register_patient(&a.nurse, &reg, &SystemClock).expect("register");
    let _draft = a.ws.save_draft(&a.nurse, None, &json!({ "note": "half written" }), &SystemClock).expect("draft");
    a.ws.tick_step(&a.charge, "confirm-scope", None, &SystemClock).expect("tick");
    let file_a = export(&mut a, files.path(), "a.dtkh");
    let mut b = workstation(&key.public_key, "T5B-", false);
    let _same_dose = chart(&mut b, &med_admin("2026-11-21T10:20:00-05:00"), false);
    // The unit share: A publishes and receives B's segment, so it holds rows of both unit tables.
    let share = tempfile::tempdir().expect("share");
    crate::unit_share::join_share(&[&b.tv, &a.tv], share.path());
    let file_b = export(&mut b, files.path(), "b.dtkh");
    for f in [&file_a, &file_b] {
        him_ws.import_handoff(&him, &std::fs::read(f).expect("file"), &SystemClock).expect("import");
    }
    assert!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept") > 0);
    let batch = him_ws.export_fhir(&him, &files.path().join("batch.json"), &SystemClock).expect("export");
    // Posted and read back from the EHR, so the read-back table has rows too.
    let server = crate::readback::ehr_with_census();
    drop(him_ws);
    let (mut him_ws, him) = crate::reconcile::him_posting_to(&him_tv, &server.base, json!({}));
    him_ws.post_fhir(&him, &batch.batch_id, "EHR", dtk::api::Credentials::None, &SystemClock).expect("post");
    him_ws.verify_in_ehr(&him, &batch.batch_id, dtk::api::Credentials::None, &SystemClock).expect("read back");
    drop(b);
    (a.tv, him_tv)
}

/// The same cell with another value of its column's type (CHECK constraints are off in the editing connection).
fn changed(value: &Value, declared: &str) -> Value {
    match (value, declared) {
        (Value::Integer(i), _) => Value::Integer(i + 1000),
        (Value::Text(t), _) => Value::Text(format!("{t}x")),
        (Value::Blob(b), _) if !b.is_empty() => {
            let mut b = b.clone();
            let last = b.len() - 1;
            b[last] ^= 1;
            Value::Blob(b)
        }
        (Value::Null, "INTEGER") => Value::Integer(1),
        (Value::Null, "TEXT") => Value::Text("x".into()),
        _ => Value::Blob(vec![0]),
    }
}

/// Edits each column of the first row of each table in turn and asks `verify` (as `who`) to name the table; restores
/// it after. Returns the tables that had a row.
fn each_column_edit_is_reported(tv: &TestVault, who: (&str, &str)) -> BTreeSet<String> {
    let raw = tv.raw();
    // An attacker with the file drops the triggers and ignores CHECK constraints; verify must not rely on either.
    let triggers: Vec<String> = {
        let mut st = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").expect("triggers");
        let rows = st.query_map([], |r| r.get(0)).expect("query");
        rows.map(|r| r.expect("name")).collect()
    };
    for t in triggers {
        raw.execute_batch(&format!("DROP TRIGGER {t}")).expect("drop trigger");
    }
    raw.execute_batch("PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;").expect("pragmas");
    let (ws, s) = tv.sign_in(who);
    assert_eq!(ws.verify(&s).expect("verify").len(), 0, "the fixture verifies before any edit");
    let tables: Vec<String> = {
        let mut st = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").expect("tables");
        let rows = st.query_map([], |r| r.get(0)).expect("query");
        rows.map(|r| r.expect("name")).collect()
    };
    let mut filled = BTreeSet::new();
    for table in tables {
        let Some(rowid) = raw
            .query_row(&format!("SELECT rowid FROM {table} ORDER BY rowid LIMIT 1"), [], |r| r.get::<_, i64>(0))
            .ok()
        else {
            continue;
        };
        filled.insert(table.clone());
        let mut edited = 0;
        let columns: Vec<(String, String, i64)> = {
            let mut st = raw.prepare(&format!("PRAGMA table_info({table})")).expect("table_info");
            let rows = st.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?))).expect("query");
            rows.map(|r| r.expect("column")).collect()
        };
        let keys = columns.iter().filter(|c| c.2 > 0).count();
        for (column, declared, pk) in &columns {
            if skipped(&table, column) {
                continue;
            }
            let old: Value = raw
                .query_row(&format!("SELECT {column} FROM {table} WHERE rowid = ?1"), [rowid], |r| r.get(0))
                .expect("cell");
            let new = changed(&old, declared);
            raw.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"), rusqlite::params![new, rowid])
                .unwrap_or_else(|e| panic!("edit {table}.{column}: {e}"));
            // An INTEGER PRIMARY KEY is the rowid itself: the row now lives under the edited value.
            let now_at = if *pk > 0 && keys == 1 && declared == "INTEGER" {
                match new {
                    Value::Integer(i) => i,
                    _ => rowid,
                }
            } else {
                rowid
            };
            let problems: Vec<String> = match ws.verify(&s) {
                Ok(p) => p.iter().map(ToString::to_string).collect(),
                Err(e) => vec![e.message],
            };
            assert!(
                problems.iter().any(|p| p.starts_with(&format!("{table} ")) || p.contains(&format!("{table} "))),
                "an edit of {table}.{column} went unnoticed by verify: {problems:?}"
            );
            raw.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"), rusqlite::params![old, now_at])
                .expect("restore");
            edited += 1;
        }
        println!("{table}: {edited} columns edited, each reported");
    }
    assert_eq!(ws.verify(&s).expect("verify").len(), 0, "restored, the vault verifies again");
    filled
}

/// Every column of every table, from the schema itself: either an edit of it makes `verify` name the table, or it
/// is in the short, commented `NOT_AUTHENTICATED` list. A column added later is edited here without anyone writing
/// a test for it; a table the fixture leaves empty must be listed with a reason, and its columns must be in the
/// MAC list.
#[test]
fn fail_any_edited_column_of_any_table() {
    let (workstation, him) = stations();
    let mut filled = each_column_edit_is_reported(&workstation, CHARGE);
    filled.extend(each_column_edit_is_reported(&him, HIM));
    let raw = him.raw();
    let mut st = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").expect("tables");
    let all: Vec<String> = st.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("name")).collect();
    let empty: Vec<&str> =
        all.iter().filter(|t| !filled.contains(*t) && !skipped(t, "*")).map(String::as_str).collect();
    let listed: Vec<&str> = NOT_FILLED_BY_THE_FIXTURE.iter().map(|(t, _)| *t).collect();
    assert_eq!(empty, listed, "every table needs a row in the fixture, or a reason in NOT_FILLED_BY_THE_FIXTURE");
    for table in empty {
        let maced = dtk::vault::schema::MACED_TABLES.iter().find(|t| t.name == table).expect("a table with row MACs");
        let mut st = raw.prepare(&format!("PRAGMA table_info({table})")).expect("table_info");
        let columns: Vec<String> = st.query_map([], |r| r.get(1)).expect("query").map(|r| r.expect("col")).collect();
        for c in columns.iter().filter(|c| *c != "mac") {
            assert!(maced.columns.contains(&c.as_str()), "{table}.{c} is outside its row MAC");
        }
    }
}

/// Two entries of two patients swap their metadata, MACs included (the same bytes under another key): both rows
/// are named, and `dtk verify` exits 3 without a patient's name or MRN in its report.
#[test]
fn fail_swapped_entry_rows() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let opts = dtk::api::EntryOptions { sign: true, ..Default::default() };
    let mut ids = Vec::new();
    for mrn in ["DEV2001", "DEV2002"] {
        let r = for_patient(sample_response("vital-signs"), mrn);
        ids.push(ws.add_entry(&nurse, &r, &opts, &SystemClock).expect("chart").saved.id);
    }
    let (a, b) = (&ids[0], &ids[1]);
    let columns = "patient_idx, form, episode_id, author, workstation, status, current_version, created_at, \
                   updated_at, med_idx, origin, dup_idx, mac";
    tv.raw()
        .execute_batch(&format!(
            "CREATE TEMP TABLE keep AS SELECT {columns} FROM entries WHERE id = '{a}';
             UPDATE entries SET ({columns}) = (SELECT {columns} FROM entries WHERE id = '{b}') WHERE id = '{a}';
             UPDATE entries SET ({columns}) = (SELECT {columns} FROM keep) WHERE id = '{b}';"
        ))
        .expect("swap");
    let out = tv.dtk(Some(CHARGE), &["verify"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "dtk verify exits 3: {text}");
    for id in [a, b] {
        assert!(text.contains(&format!("entries {id}")), "names the row {id}: {text}");
    }
    assert!(!text.contains("DEV2001") && !text.contains("DEV2002"), "no patient data in the report: {text}");
}

/// Deleted rows: an entry with its versions, a version from the middle, the newest version with the entry made to
/// point at the one before, and an entry row without its versions. Each makes `dtk verify` exit 3 naming the row.
#[test]
fn fail_deleted_entry_rows() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let opts = dtk::api::EntryOptions { sign: true, confirm_not_duplicate: true, ..Default::default() };
    let r = for_patient(sample_response("vital-signs"), "DEV2001");
    let gone = ws.add_entry(&nurse, &r, &opts, &SystemClock).expect("chart").saved.id;
    let amended = ws.add_entry(&nurse, &r, &opts, &SystemClock).expect("chart").saved.id;
    let amend =
        dtk::api::EntryOptions { reason: Some("corrected".into()), confirm_not_duplicate: true, ..Default::default() };
    for _ in 0..2 {
        ws.amend_entry(&nurse, &amended, &r, &amend, &SystemClock).expect("amend");
    }
    drop(ws);
    let episode: String = tv.raw().query_row("SELECT id FROM episodes", [], |r| r.get(0)).expect("episode");
    let keep_versions = "DROP TRIGGER entry_versions_are_kept;";
    let cases: Vec<(&str, String, String)> = vec![
        (
            "an entry and its versions deleted",
            format!("{keep_versions} DELETE FROM entry_versions WHERE entry_id = '{gone}'; DELETE FROM entries WHERE id = '{gone}'"),
            format!("entries {gone}"),
        ),
        (
            "a version from the middle deleted",
            format!("{keep_versions} DELETE FROM entry_versions WHERE entry_id = '{amended}' AND version = 2"),
            format!("entries {amended}"),
        ),
        (
            "the newest version deleted and the entry pointed at the one before",
            format!(
                "{keep_versions} DELETE FROM entry_versions WHERE entry_id = '{amended}' AND version = 3;
                 UPDATE entries SET current_version = 2 WHERE id = '{amended}'"
            ),
            format!("entries {amended}"),
        ),
        (
            "the entry row deleted, its versions kept",
            format!("PRAGMA foreign_keys = OFF; DELETE FROM entries WHERE id = '{gone}'"),
            format!("entry_versions {gone}/1"),
        ),
        ("the episode deleted", "PRAGMA foreign_keys = OFF; DELETE FROM episodes".into(), format!("episodes {episode}")),
    ];
    assert_each_is_caught(&tv, cases);
}

/// Deleted rows on the HIM station: an imported entry's worklist row (it would never be decided or exported), a
/// handoff file's record (the file could be imported again) and a FHIR batch. Each makes `dtk verify` exit 3 naming
/// the row.
#[test]
fn fail_deleted_rows_on_the_him_station() {
    let (_workstation, him) = stations();
    let raw = him.raw();
    let entry: String = raw.query_row("SELECT entry_id FROM recon ORDER BY 1 LIMIT 1", [], |r| r.get(0)).expect("row");
    let file: String = raw
        .query_row("SELECT workstation || '/' || sequence FROM handoff_files ORDER BY 1 LIMIT 1", [], |r| r.get(0))
        .expect("file");
    let batch: String = raw.query_row("SELECT id FROM export_batches", [], |r| r.get(0)).expect("batch");
    drop(raw);
    let cases: Vec<(&str, String, String)> = vec![
        ("a worklist row deleted", format!("DELETE FROM recon WHERE entry_id = '{entry}'"), format!("recon {entry}")),
        (
            "a handoff file's record deleted",
            format!("DELETE FROM handoff_files WHERE workstation || '/' || sequence = '{file}'"),
            format!("handoff_files {file}"),
        ),
        (
            "a FHIR batch deleted",
            format!(
                "PRAGMA foreign_keys = OFF; DELETE FROM export_batch_entries WHERE batch_id = '{batch}';
                 DELETE FROM export_batches WHERE id = '{batch}'"
            ),
            format!("export_batches {batch}"),
        ),
    ];
    assert_each_is_caught_as(&him, HIM, cases);
}
