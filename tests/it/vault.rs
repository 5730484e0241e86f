//! The vault issue's guarantees, tested as a user (or an attacker with the file) would meet them: tampering is
//! reported by `dtk verify`, wrong credentials decrypt nothing, a crash never loses an acknowledged save, a full
//! disk never reports a false "saved", and no plaintext reaches the vault folder.

use dtk::api::{ErrorCode, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use serde_json::json;

use crate::support::*;

/// Saves `n` drafts as `who` and returns their ids.
fn save_drafts(tv: &TestVault, who: (&str, &str), n: usize, text: &str) -> Vec<String> {
    let (mut ws, s) = tv.sign_in(who);
    (0..n)
        .map(|i| {
            ws.save_draft(&s, None, &json!({ "note": format!("{text} {i}") }), &SystemClock).expect("save").into_value()
        })
        .collect()
}

fn verify_problems(tv: &TestVault) -> Vec<String> {
    let (ws, s) = tv.sign_in(CHARGE);
    ws.verify(&s).expect("verify runs").iter().map(ToString::to_string).collect()
}

/// Hash of everything in the vault that a failed sign-in must not change (the throttle counter and the staged
/// audit rows of failed sign-ins are the only things it may write).
fn fingerprint(tv: &TestVault) -> String {
    let c = tv.raw();
    let mut all = String::new();
    for (table, cols) in [
        ("meta", "key, hex(value)"),
        ("key_wraps", "id, hex(salt), hex(wrapped), kdf_m, kdf_t, kdf_p"),
        ("users", "id, username, role, status, hex(mac)"),
        ("audit", "seq, action, hex(mac)"),
        ("drafts", "id, hex(body)"),
    ] {
        let mut st = c.prepare(&format!("SELECT {cols} FROM {table} ORDER BY 1")).expect("prepare");
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).map(|v| format!("{v:?}"))))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .expect("query");
        for row in rows {
            all.push_str(&row.expect("row"));
            all.push('\n');
        }
    }
    dtk::crypto::sha256_hex(all.as_bytes())
}

#[test]
fn fail_thousands_of_random_bit_flips_in_ciphertexts() {
    let tv = TestVault::new();
    save_drafts(&tv, NURSE, 8, "bit flip canvas");
    let (ws, s) = tv.sign_in(CHARGE);
    assert!(ws.verify(&s).expect("verify").is_empty(), "a fresh vault verifies");
    let raw = tv.raw();
    let cells: Vec<(String, String, Vec<u8>)> = {
        let mut st = raw
            .prepare("SELECT 'drafts', id, body FROM drafts UNION ALL SELECT 'audit', seq, detail FROM audit")
            .expect("prepare");
        let rows =
            st.query_map([], |r| Ok((r.get(0)?, r.get::<_, rusqlite::types::Value>(1)?, r.get(2)?))).expect("query");
        rows.map(|r| {
            let (t, id, body) = r.expect("row");
            let id = match id {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(s) => s,
                other => panic!("unexpected id {other:?}"),
            };
            (t, id, body)
        })
        .collect()
    };
    let mut rng = Lcg(2026);
    let flips = 2000;
    for _ in 0..flips {
        let (table, id, body) = &cells[rng.below(cells.len() as u64) as usize];
        let bit = rng.below(body.len() as u64 * 8) as usize;
        let mut bad = body.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let (sql_set, sql_back) = match table.as_str() {
            "drafts" => ("UPDATE drafts SET body = ?1 WHERE id = ?2", "UPDATE drafts SET body = ?1 WHERE id = ?2"),
            _ => ("UPDATE audit SET detail = ?1 WHERE seq = ?2", "UPDATE audit SET detail = ?1 WHERE seq = ?2"),
        };
        // An attacker can drop the append-only triggers; verify must not rely on them.
        raw.execute_batch("DROP TRIGGER IF EXISTS audit_no_update;").expect("drop trigger");
        raw.execute(sql_set, rusqlite::params![bad, id]).expect("flip");
        let problems: Vec<String> = ws.verify(&s).expect("verify").iter().map(ToString::to_string).collect();
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{table} {id}"))),
            "flip of bit {bit} in {table} {id} went unnoticed: {problems:?}"
        );
        raw.execute(sql_back, rusqlite::params![body, id]).expect("restore");
    }
    assert!(ws.verify(&s).expect("verify").is_empty(), "restored vault verifies again");
}

#[test]
fn fail_ciphertext_moved_to_another_row() {
    let tv = TestVault::new();
    let ids = save_drafts(&tv, NURSE, 2, "swap");
    let raw = tv.raw();
    raw.execute_batch(&format!(
        "UPDATE drafts SET body = (SELECT body FROM drafts WHERE id = '{b}') WHERE id = '{a}';",
        a = ids[0],
        b = ids[1]
    ))
    .expect("swap");
    let problems = verify_problems(&tv);
    assert!(problems.iter().any(|p| p.starts_with(&format!("drafts {}", ids[0]))), "{problems:?}");
    let out = tv.dtk(Some(CHARGE), &["verify"]);
    assert_eq!(out.status.code(), Some(3), "dtk verify exits 3: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("drafts {}", ids[0])), "names the row: {}", stderr(&out));
}

/// Each kind of audit tampering, applied to a fresh copy of the same vault, must make `dtk verify` exit 3 and
/// name the row.
#[test]
fn fail_every_kind_of_audit_tampering() {
    let tv = TestVault::new();
    save_drafts(&tv, NURSE, 4, "audit");
    let ok = tv.dtk(Some(CHARGE), &["verify"]);
    assert_eq!(ok.status.code(), Some(0), "intact vault verifies: {}", stderr(&ok));
    let last: i64 = tv.raw().query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).expect("max");
    let cases: Vec<(&str, String, String)> = vec![
        ("edited", "UPDATE audit SET actor = 'someone-else' WHERE seq = 3".into(), "audit 3".into()),
        ("edited action", "UPDATE audit SET action = 'vault.created' WHERE seq = 5".into(), "audit 5".into()),
        ("deleted", "DELETE FROM audit WHERE seq = 4".into(), "audit 4".into()),
        (
            "inserted",
            "UPDATE audit SET seq = seq + 1000 WHERE seq >= 6; UPDATE audit SET seq = seq - 999 WHERE seq >= 1006; \
             INSERT INTO audit (seq, at, actor, action, target, detail, mac) SELECT 6, at, actor, action, target, detail, mac FROM audit WHERE seq = 2"
                .into(),
            "audit 6".into(),
        ),
        (
            "reordered",
            "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1".into(),
            "audit 3".into(),
        ),
        ("newest deleted", format!("DELETE FROM audit WHERE seq >= {}", last - 1), format!("audit {}", last - 1)),
        ("head removed", "DELETE FROM meta WHERE key = 'audit_head'".into(), "audit".into()),
    ];
    assert_each_is_caught(&tv, cases);
}

/// Applies each case's SQL (audit triggers dropped) to a fresh copy of `tv`'s vault and asserts that `dtk verify`
/// exits 3 naming `expect`.
pub(crate) fn assert_each_is_caught(tv: &TestVault, cases: Vec<(&str, String, String)>) {
    assert_each_is_caught_as(tv, CHARGE, cases);
}

/// The same, with `dtk verify` run as `who`.
pub(crate) fn assert_each_is_caught_as(tv: &TestVault, who: (&str, &str), cases: Vec<(&str, String, String)>) {
    for (what, sql, expect) in cases {
        let copy = tempfile::tempdir().expect("tmp");
        std::fs::copy(tv.db(), copy.path().join(dtk::vault::FILE_NAME)).expect("copy");
        let raw = rusqlite::Connection::open(copy.path().join(dtk::vault::FILE_NAME)).expect("raw");
        raw.execute_batch(&format!("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {sql}")).expect(what);
        drop(raw);
        let out = dtk_cmd()
            .env("DTK_VAULT", copy.path())
            .env("DTK_USER", who.0)
            .env("DTK_PASSWORD", who.1)
            .arg("verify")
            .output()
            .expect("dtk");
        assert_eq!(out.status.code(), Some(3), "{what}: dtk verify must exit 3; stderr: {}", stderr(&out));
        assert!(stderr(&out).contains(&expect), "{what}: expected '{expect}' in: {}", stderr(&out));
    }
}

/// Issue 14 item 5: deleting the whole audit log (rows and sealed head) passed `verify`, a missing head being taken
/// as an empty log. Set-up writes audit rows, so a vault with accounts always has a head. Each way of emptying,
/// truncating or rolling back the log must make `dtk verify` exit 3.
#[test]
fn fail_audit_log_wiped_emptied_truncated_or_rolled_back() {
    let tv = TestVault::new();
    save_drafts(&tv, NURSE, 2, "before");
    let head = |tv: &TestVault| -> (i64, String) {
        let raw = tv.raw();
        let seq = raw.query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).expect("max");
        let hex =
            raw.query_row("SELECT hex(value) FROM meta WHERE key = 'audit_head'", [], |r| r.get(0)).expect("head");
        (seq, hex)
    };
    let (old_seq, old_head) = head(&tv);
    save_drafts(&tv, NURSE, 2, "after");
    let (last, _) = head(&tv);
    let cases: Vec<(&str, String, String)> = vec![
        (
            "the whole log and its head deleted",
            "DELETE FROM audit; DELETE FROM meta WHERE key = 'audit_head'".into(),
            "meta audit_head".into(),
        ),
        ("every row deleted", "DELETE FROM audit".into(), "audit 1".into()),
        ("the head deleted", "DELETE FROM meta WHERE key = 'audit_head'".into(), "meta audit_head".into()),
        (
            "the newest rows deleted",
            format!("DELETE FROM audit WHERE seq > {old_seq}"),
            format!("audit {}", old_seq + 1),
        ),
        (
            "the head replaced by an older sealed head",
            format!("UPDATE meta SET value = X'{old_head}' WHERE key = 'audit_head'"),
            format!("audit {}", old_seq + 1),
        ),
    ];
    assert!(last > old_seq + 1, "the later drafts were audited");
    assert_each_is_caught(&tv, cases);
}

#[test]
fn fail_role_escalation_by_editing_the_users_table() {
    let tv = TestVault::new();
    tv.raw().execute("UPDATE users SET role = 'admin' WHERE username = ?1", [NURSE.0]).expect("escalate");
    let mut ws = tv.open();
    let err = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).err().expect("refused");
    assert_eq!(err.code, ErrorCode::Integrity, "{}", err.message);
    let out = tv.dtk(Some(NURSE), &["user", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(verify_problems(&tv).iter().any(|p| p.starts_with("users ")), "verify names the row");
}

/// The user row of `who` as an attacker with the file would leave it: role raised to admin behind the MAC.
fn escalate(raw: &rusqlite::Connection, who: &str) -> String {
    raw.execute("UPDATE users SET role = 'admin' WHERE username = ?1", [who]).expect("escalate");
    raw.query_row("SELECT id FROM users WHERE username = ?1", [who], |r| r.get(0)).expect("id")
}

fn audit_rows(raw: &rusqlite::Connection) -> i64 {
    raw.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)).expect("count")
}

/// Issue 14 item 8: resetting a password with the recovery key re-sealed the user row without checking it, so an
/// edited role became valid. The reset must be refused, audited nowhere, and `verify` must still name the row.
#[test]
fn fail_recovery_reset_of_an_edited_user_row() {
    let (tv, key) = TestVault::with_recovery_key();
    let raw = tv.raw();
    let id = escalate(&raw, NURSE.0);
    let before = audit_rows(&raw);
    let mut ws = tv.open();
    let err = ws
        .recover(key.expose(), NURSE.0, &Password::new("brand-new-pass-3".into()), &SystemClock)
        .expect_err("the reset of an edited row is refused");
    assert_eq!(err.code, ErrorCode::Integrity, "{}", err.message);
    assert!(err.message.contains(&format!("users {id}")), "names the row: {}", err.message);
    assert_eq!(audit_rows(&raw), before, "nothing audited for a reset that did not happen");
    let err = ws.sign_in(NURSE.0, &Password::new("brand-new-pass-3".into()), &SystemClock).err().expect("no");
    assert_eq!(err.code, ErrorCode::BadCredentials, "the password was not changed: {}", err.message);
    let admin = ws.sign_in(ADMIN.0, &Password::new(ADMIN.1.into()), &SystemClock).expect("admin");
    let problems: Vec<String> = ws.verify(&admin).expect("verify").iter().map(ToString::to_string).collect();
    assert!(problems.iter().any(|p| p.starts_with(&format!("users {id}"))), "verify still names the row: {problems:?}");
}

/// Issue 14 item 8: disabling an account re-sealed its row without checking it first.
#[test]
fn fail_disable_of_an_edited_user_row() {
    let tv = TestVault::new();
    let id = escalate(&tv.raw(), NURSE.0);
    let before = audit_rows(&tv.raw());
    let out = tv.dtk(Some(ADMIN), &["user", "disable", NURSE.0]);
    assert_eq!(out.status.code(), Some(3), "dtk exits with the integrity code: {}", stderr(&out));
    assert!(stderr(&out).contains(&format!("users {id}")), "names the row: {}", stderr(&out));
    // The admin's sign-in is audited; the disable is not.
    let disabled: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'user.disabled'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(disabled, 0, "no disable audited");
    assert!(audit_rows(&tv.raw()) > before);
    let status: String =
        tv.raw().query_row("SELECT status FROM users WHERE id = ?1", [&id], |r| r.get(0)).expect("status");
    assert_eq!(status, "active", "the row was not touched");
    assert!(verify_problems(&tv).iter().any(|p| p.starts_with(&format!("users {id}"))), "verify still names the row");
    let out = tv.dtk(Some(CHARGE), &["verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn wrong_password_unknown_user_and_throttle_are_clear_and_change_nothing() {
    let tv = TestVault::new();
    save_drafts(&tv, NURSE, 2, "secret draft");
    let before = fingerprint(&tv);

    let out = tv.dtk(Some((NURSE.0, "not-my-password")), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong username or password"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("secret draft") && !stderr(&out).contains("secret draft"));

    let out = tv.dtk(Some(("ghost", "whatever-1")), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wrong username or password"),
        "the same words as a wrong password: {}",
        stderr(&out)
    );

    // Four more failures reach the limit of five; then even the right password is refused for a while.
    for _ in 0..4 {
        let out = tv.dtk(Some((NURSE.0, "still-wrong")), &["verify"]);
        assert_eq!(out.status.code(), Some(1));
    }
    let out = tv.dtk(Some(NURSE), &["user", "list"]);
    assert_eq!(out.status.code(), Some(1), "throttled even with the right password");
    assert!(stderr(&out).contains("too many failed sign-ins for 'jnurse'"), "{}", stderr(&out));
    assert_eq!(fingerprint(&tv), before, "nothing but the throttle counter and staged audit rows changed");

    // Other users are not affected, and the staged failures enter the chain at the next good sign-in.
    let (ws, s) = tv.sign_in(CHARGE);
    assert!(ws.verify(&s).expect("verify").is_empty());
    let failed: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action IN ('sign_in.failed', 'sign_in.throttled')", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(failed, 7, "5 wrong passwords + 1 unknown user + 1 throttled attempt are in the audit chain");
}

#[test]
fn throttle_survives_a_restart() {
    let tv = TestVault::new();
    for _ in 0..5 {
        // A fresh Workstation each time: the counter lives in the vault, not in memory.
        let mut ws = tv.open();
        assert_eq!(
            ws.sign_in(NURSE.0, &Password::new("wrong-wrong".into()), &SystemClock).err().map(|e| e.code),
            Some(ErrorCode::BadCredentials)
        );
    }
    let mut ws = tv.open();
    let err = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).err().expect("throttled");
    assert_eq!(err.code, ErrorCode::Throttled);
    // After the back-off, the right password works again and resets the counter.
    let later = dtk::clock::FixedClock::new(time::OffsetDateTime::now_utc() + time::Duration::minutes(2));
    assert!(ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &later).is_ok());
}

#[test]
fn fail_kdf_parameters_lowered_in_the_vault() {
    let tv = TestVault::new();
    tv.raw()
        .execute(
            "UPDATE key_wraps SET kdf_m = 1024, kdf_t = 1 WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
            [NURSE.0],
        )
        .expect("lower");
    let mut ws = tv.open();
    let err = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).err().expect("refused");
    assert_eq!(err.code, ErrorCode::Integrity);
    assert!(err.message.contains("below the floor"), "{}", err.message);
}

#[test]
fn fail_weak_new_passwords_and_bad_usernames() {
    let tv = TestVault::new();
    let (mut ws, admin) = tv.sign_in(ADMIN);
    for (user, pw, why) in [
        ("ok.name", "short", "at least 8"),
        ("Bad Name", "long-enough-1", "lowercase"),
        ("samepass", "samepass", "not be the username"),
    ] {
        let err = ws
            .add_user(
                &admin,
                dtk::api::AddUserRequest {
                    username: user.into(),
                    display_name: "X".into(),
                    role: dtk::auth::Role::Nurse,
                    password: Password::new(pw.into()),
                },
                &SystemClock,
            )
            .expect_err("refused");
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains(why), "{}", err.message);
    }
}

#[test]
fn recovery_key_resets_a_forgotten_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let key_file = dir.path().join("recovery.txt");
    let vault = dir.path().join("vault");
    let out = dtk_cmd()
        .env("DTK_VAULT", &vault)
        .env("DTK_NEW_PASSWORD", "first-pass-1")
        .args(["init", "--admin", "boss", "--unit", "5 East", "--recovery-key-out"])
        .arg(&key_file)
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains(std::fs::read_to_string(&key_file).expect("key").trim()),
        "key not printed when written to a file"
    );
    let key = std::fs::read_to_string(&key_file).expect("key");
    let out = dtk_cmd()
        .env("DTK_VAULT", &vault)
        .env("DTK_RECOVERY_KEY", "AAAA-BBBB")
        .env("DTK_NEW_PASSWORD", "second-pass-2")
        .args(["recover", "--user", "boss"])
        .output()
        .expect("recover");
    assert_eq!(out.status.code(), Some(1), "a wrong recovery key is refused");
    let out = dtk_cmd()
        .env("DTK_VAULT", &vault)
        .env("DTK_RECOVERY_KEY", key.trim())
        .env("DTK_NEW_PASSWORD", "second-pass-2")
        .args(["recover", "--user", "boss"])
        .output()
        .expect("recover");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut ws = Workstation::open(&vault).expect("open");
    assert!(ws.sign_in("boss", &Password::new("first-pass-1".into()), &SystemClock).is_err());
    let s = ws.sign_in("boss", &Password::new("second-pass-2".into()), &SystemClock).expect("new password works");
    assert!(ws.verify(&s).expect("verify").is_empty());
}

#[test]
fn fail_a_vault_written_by_a_newer_version() {
    let tv = TestVault::new();
    tv.raw().pragma_update(None, "user_version", 99).expect("bump");
    let before = std::fs::read(tv.db()).expect("read");
    let err = Workstation::open(tv.path()).err().expect("refused");
    assert_eq!(err.code, ErrorCode::TooNew);
    assert!(err.message.contains("schema version 99"), "{}", err.message);
    assert_eq!(std::fs::read(tv.db()).expect("read"), before, "the newer vault is left untouched");
    let out = tv.dtk(Some(ADMIN), &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("newer"), "{}", stderr(&out));
}

#[test]
fn fail_a_file_that_is_not_a_vault() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join(dtk::vault::FILE_NAME), b"garbage bytes, not SQLite").expect("write");
    assert!(Workstation::open(dir.path()).is_err());
}

#[test]
fn durability_settings_are_checked_at_open() {
    let tv = TestVault::new();
    let ws = tv.open();
    let conn = ws.vault().expect("vault").conn();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("mode");
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).expect("sync");
    assert_eq!((mode.as_str(), sync), ("wal", 2));
}

#[test]
fn disk_full_refuses_the_save_keeps_what_was_saved_and_recovers() {
    let tv = TestVault::new();
    let (mut ws, s) = tv.sign_in(NURSE);
    let kept = ws
        .save_draft(&s, None, &json!({ "note": "saved before the disk filled" }), &SystemClock)
        .expect("save")
        .into_value();
    let pages: u32 = ws.vault().expect("v").conn().pragma_query_value(None, "page_count", |r| r.get(0)).expect("pages");
    ws.vault().expect("v").set_page_limit(Some(pages)).expect("limit");
    let big = json!({ "note": "x".repeat(64 * 1024) });
    let err = ws.save_draft(&s, None, &big, &SystemClock).err().expect("full disk refuses the save");
    assert_eq!(err.code, ErrorCode::StorageFull);
    assert!(err.message.contains("NOT saved"), "{}", err.message);
    let drafts = ws.my_drafts(&s).expect("read");
    assert_eq!(drafts.len(), 1, "the failed save left nothing behind");
    assert_eq!(drafts[0].id, kept);
    ws.vault().expect("v").set_page_limit(None).expect("unlimit");
    let _saved = ws.save_draft(&s, None, &big, &SystemClock).expect("saves again once space is back");
    assert!(verify_problems(&tv).is_empty());
}

#[test]
fn no_plaintext_canary_anywhere_in_the_vault_folder() {
    let tv = TestVault::new();
    let canary = "CANARY-Zbigniew-Kowalski-DEV2006";
    let (mut ws, s) = tv.sign_in(NURSE);
    for i in 0..50 {
        let _saved = ws
            .save_draft(&s, None, &json!({ "patient": canary, "note": format!("{canary} note {i}") }), &SystemClock)
            .expect("save");
    }
    // Look while the vault is still open (WAL and shared-memory files present) and after it is closed.
    let scan = |when: &str| {
        for entry in std::fs::read_dir(tv.path()).expect("ls") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
            assert!(!found, "{when}: plaintext canary found in {}", path.display());
        }
    };
    scan("open");
    drop(s);
    drop(ws);
    scan("closed");
}

#[test]
fn drafts_belong_to_their_author_only() {
    let tv = TestVault::new();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let id = ws.save_draft(&nurse, None, &json!({ "note": "mine" }), &SystemClock).expect("save").into_value();
    let _saved = ws.save_draft(&nurse, Some(&id), &json!({ "note": "mine, edited" }), &SystemClock).expect("update");
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    assert!(ws.my_drafts(&charge).expect("list").is_empty());
    assert!(ws.save_draft(&charge, Some(&id), &json!({ "note": "hijack" }), &SystemClock).is_err());
    let mine = ws.my_drafts(&nurse).expect("list");
    assert_eq!(mine[0].body, json!({ "note": "mine, edited" }));
}

/// The idle lock and an emergency account's end are the core's (issue 17 item 3), not only the web page's timer:
/// on a fixed clock, a session idle past the site's timeout (plus the grace that lets the page lock first) is
/// refused, a timer's refresh keeps nothing alive, and an emergency session ends at its account's expiry.
#[test]
fn the_core_ends_an_idle_session_and_an_expired_emergency_session() {
    use dtk::api::{Activity, IDLE_GRACE_SECS};
    use dtk::clock::FixedClock;
    let tv = TestVault::charting();
    std::fs::write(tv.path().join("site.json"), r#"{ "idle_timeout_secs": 300 }"#).expect("site.json");
    let clock = FixedClock::new(time::macros::datetime!(2026-11-20 03:00 UTC));
    let mut ws = tv.open();
    let mut nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).expect("nurse");
    let limit = time::Duration::seconds(300 + IDLE_GRACE_SECS);

    clock.advance(limit);
    ws.check_session(&mut nurse, Activity::User, &clock).expect("within the limit, and it counts as activity");
    clock.advance(limit);
    ws.check_session(&mut nurse, Activity::Poll, &clock).expect("still within the limit from the last activity");
    clock.advance(time::Duration::seconds(1));
    let ended = ws.check_session(&mut nurse, Activity::Poll, &clock).expect_err("idle too long");
    assert_eq!(ended.code, ErrorCode::SessionEnded);
    assert_eq!(ended.message, "the session was locked after 5 min without use: sign in again");
    let again = ws.check_session(&mut nurse, Activity::User, &clock).expect_err("a poll kept nothing alive");
    assert_eq!(again.code, ErrorCode::SessionEnded);

    // An emergency account made for 1 hour: its session ends at that hour, although it is in use all along.
    let mut charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let password = Password::new("float-nurse-2026".into());
    let request = dtk::api::EmergencyUser {
        username: "float1",
        display_name: "Float Nurse",
        password: &password,
        reason: "agency nurse, no account",
        hours: 1,
    };
    ws.add_emergency_user(&charge, &request, &clock).expect("emergency account");
    let mut float = ws.sign_in("float1", &password, &clock).expect("float nurse");
    for _ in 0..11 {
        clock.advance(time::Duration::minutes(5));
        ws.check_session(&mut float, Activity::User, &clock).expect("in use within the hour");
        ws.check_session(&mut charge, Activity::User, &clock).expect("the charge nurse is active too");
    }
    clock.advance(time::Duration::minutes(5));
    let expired = ws.check_session(&mut float, Activity::User, &clock).expect_err("the hour is over");
    assert_eq!(expired.code, ErrorCode::SessionEnded);
    assert!(
        expired.message.starts_with("the emergency account 'float1' expired at 2026-11-20T04:12:01"),
        "{}",
        expired.message
    );
    ws.check_session(&mut charge, Activity::User, &clock).expect("an ordinary account goes on");
}
