//! Staff accounts under attack and after they leave (issue 17): an unknown name answered like a wrong password, the
//! lock after the throttle's longest delay and who lifts it, key wraps removed with their accounts, and `dtk rekey`.

use dtk::api::{ErrorCode, Workstation};
use dtk::auth::LOCK_AFTER_FAILURES;
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use time::{Duration, OffsetDateTime};

use crate::support::*;

fn try_sign_in(ws: &mut Workstation, who: (&str, &str), clock: &FixedClock) -> Result<(), dtk::api::ApiError> {
    ws.sign_in(who.0, &Password::new(who.1.into()), clock).map(drop)
}

/// Wrong passwords for `name`, each after the previous back-off has passed (16 minutes apart on `clock`), on a fresh
/// workstation each time (the count lives in the vault). Returns the last refusal.
fn fail_until_locked(tv: &TestVault, name: &str, clock: &FixedClock) -> dtk::api::ApiError {
    let mut last = None;
    for n in 1..=LOCK_AFTER_FAILURES {
        clock.advance(Duration::minutes(16));
        let err = try_sign_in(&mut tv.open(), (name, "not-my-password"), clock).expect_err("wrong password");
        if n < LOCK_AFTER_FAILURES {
            assert_eq!(err.code, ErrorCode::BadCredentials, "failure {n}: {}", err.message);
        }
        last = Some(err);
    }
    last.expect("at least one failure")
}

fn write_site(tv: &TestVault, json: &str) {
    std::fs::write(tv.path().join("site.json"), json).expect("site.json");
}

#[test]
fn locked_after_the_longest_delay_until_a_charge_nurse_unlocks() {
    let tv = TestVault::new();
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let err = fail_until_locked(&tv, NURSE.0, &clock);
    assert_eq!(err.code, ErrorCode::AccountLocked);
    assert_eq!(
        err.message,
        format!(
            "the account 'jnurse' is locked after {LOCK_AFTER_FAILURES} failed sign-ins; ask a charge nurse or an \
             administrator to unlock it"
        )
    );

    // Long after any back-off, after a restart, the right password still does not open it.
    clock.advance(Duration::hours(12));
    let err = try_sign_in(&mut tv.open(), NURSE, &clock).expect_err("locked");
    assert_eq!(err.code, ErrorCode::AccountLocked, "{}", err.message);

    // A nurse may not unlock; the charge nurse may.
    let mut ws = tv.open();
    let other = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).map(drop);
    assert!(other.is_err());
    let him = ws.sign_in(HIM.0, &Password::new(HIM.1.into()), &clock).expect("HIM signs in");
    assert_eq!(ws.unlock_user(&him, NURSE.0, &clock).expect_err("HIM may not").code, ErrorCode::Forbidden);
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge signs in");
    ws.unlock_user(&charge, NURSE.0, &clock).expect("the charge nurse unlocks");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).expect("open again");
    assert_eq!(ws.unlock_user(&nurse, CHARGE.0, &clock).expect_err("a nurse may not").code, ErrorCode::Forbidden);
    let unlocked: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'user.unlocked' AND actor = ?1", [CHARGE.0], |r| r.get(0))
        .expect("count");
    assert_eq!(unlocked, 1, "the unlock is in the audit chain under the charge nurse's name");
}

#[test]
fn a_site_that_keeps_unlocking_to_it_refuses_the_charge_nurse() {
    let tv = TestVault::new();
    write_site(&tv, r#"{ "account_lockout": "admin" }"#);
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let err = fail_until_locked(&tv, NURSE.0, &clock);
    assert!(err.message.ends_with("ask an administrator to unlock it"), "{}", err.message);
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge signs in");
    assert_eq!(ws.unlock_user(&charge, NURSE.0, &clock).expect_err("IT only").code, ErrorCode::Forbidden);
    let admin = ws.sign_in(ADMIN.0, &Password::new(ADMIN.1.into()), &clock).expect("admin signs in");
    ws.unlock_user(&admin, NURSE.0, &clock).expect("the administrator unlocks");
    try_sign_in(&mut ws, NURSE, &clock).expect("open again");
}

#[test]
fn a_site_without_lockout_keeps_the_throttle_alone() {
    let tv = TestVault::new();
    write_site(&tv, r#"{ "account_lockout": "off" }"#);
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let err = fail_until_locked(&tv, NURSE.0, &clock);
    assert_eq!(err.code, ErrorCode::BadCredentials, "{}", err.message);
    assert_eq!(try_sign_in(&mut tv.open(), NURSE, &clock).expect_err("throttled").code, ErrorCode::Throttled);
    clock.advance(Duration::minutes(16));
    try_sign_in(&mut tv.open(), NURSE, &clock).expect("the right password after the longest delay");
}

#[test]
fn dtk_user_unlock_lets_a_locked_nurse_in_again() {
    let tv = TestVault::new();
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    fail_until_locked(&tv, NURSE.0, &clock);

    let out = tv.dtk(Some(NURSE), &["patient", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the account 'jnurse' is locked after"), "{}", stderr(&out));
    let out = tv.dtk(Some(ADMIN), &["user", "list"]);
    let line = stdout(&out).lines().find(|l| l.starts_with("jnurse")).map(str::to_owned).unwrap_or_default();
    assert!(line.contains("locked"), "the user list shows the lock: {line}");

    let out = tv.dtk(Some(NURSE), &["user", "unlock", NURSE.0]);
    assert_eq!(out.status.code(), Some(1), "a locked account cannot unlock itself");
    let out = tv.dtk(Some(CHARGE), &["user", "unlock", NURSE.0]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Unlocked jnurse"), "{}", stdout(&out));
    let out = tv.dtk(Some(NURSE), &["patient", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn dtk_answers_an_unknown_name_as_a_wrong_password() {
    let tv = TestVault::new();
    let wrong = tv.dtk(Some((NURSE.0, "not-my-password")), &["patient", "list"]);
    let unknown = tv.dtk(Some(("ghost", "not-my-password")), &["patient", "list"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(unknown.status.code(), wrong.status.code());
    assert_eq!(stderr(&unknown), stderr(&wrong), "the same words for both");
    assert!(stderr(&wrong).contains("wrong username or password"), "{}", stderr(&wrong));
    let staged: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit_pending WHERE target = 'users:unknown'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(staged, 1, "the audit log still says the name was unknown");
}

fn user_id(tv: &TestVault, name: &str) -> String {
    tv.raw().query_row("SELECT id FROM users WHERE username = ?1", [name], |r| r.get(0)).expect("user id")
}

fn wraps_of(tv: &TestVault, name: &str) -> i64 {
    let id = user_id(tv, name);
    tv.raw().query_row("SELECT count(*) FROM key_wraps WHERE user_id = ?1", [&id], |r| r.get(0)).expect("count")
}

#[test]
fn disabling_a_user_removes_their_key_wrap() {
    let tv = TestVault::new();
    assert_eq!(wraps_of(&tv, NURSE.0), 1);
    let out = tv.dtk(Some(ADMIN), &["user", "disable", NURSE.0]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(wraps_of(&tv, NURSE.0), 0, "no wrap left that the nurse's password opens");
    let err = try_sign_in(&mut tv.open(), NURSE, &FixedClock::new(OffsetDateTime::now_utc())).expect_err("disabled");
    assert_eq!(err.code, ErrorCode::BadCredentials);
    assert!(err.message.contains("is disabled"), "{}", err.message);
    let out = tv.dtk(Some(CHARGE), &["verify"]);
    assert_eq!(out.status.code(), Some(0), "the vault is intact without the wrap: {}", stderr(&out));
}

#[test]
fn an_expired_emergency_account_loses_its_key_wrap_when_the_core_notices() {
    let tv = TestVault::new();
    let clock = FixedClock::new(OffsetDateTime::now_utc());
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let password = Password::new("agency-pass-1".into());
    let request = dtk::api::EmergencyUser {
        username: "agency1",
        display_name: "Agency",
        password: &password,
        reason: "float",
        hours: 1,
    };
    ws.add_emergency_user(&charge, &request, &clock).expect("emergency account");
    assert_eq!(wraps_of(&tv, "agency1"), 1);
    clock.advance(Duration::hours(2));
    // Any sign-in notices it (audited); the account's own attempt too.
    try_sign_in(&mut tv.open(), CHARGE, &clock).expect("charge signs in");
    assert_eq!(wraps_of(&tv, "agency1"), 0);
    let removed: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'user.key_wrap_removed'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(removed, 1);
    let err = try_sign_in(&mut tv.open(), ("agency1", "agency-pass-1"), &clock).expect_err("expired");
    assert!(err.message.contains("has expired"), "{}", err.message);
}

/// A `key_wraps` row: kdf_m, kdf_t, kdf_p, salt, wrapped, mac.
type WrapRow = (i64, i64, i64, Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// The `key_wraps` row of a user, every column, as an attacker would copy it out of the file.
fn wrap_row(tv: &TestVault, id: &str) -> WrapRow {
    tv.raw()
        .query_row("SELECT kdf_m, kdf_t, kdf_p, salt, wrapped, mac FROM key_wraps WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .expect("wrap row")
}

#[test]
fn an_old_copy_of_a_key_wrap_opens_nothing_written_after_a_rekey() {
    let (tv, recovery) = TestVault::with_recovery_key();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock).expect("episode");
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let before = nursing_note(&mut ws, &nurse, "DEV2001");
    drop(ws);
    let nurse_id = user_id(&tv, NURSE.0);
    let wrap_id = format!("user:{nurse_id}");
    let old_copy = wrap_row(&tv, &wrap_id);

    // A wrong recovery key changes nothing.
    let keys = tempfile::tempdir().expect("key folder");
    let wrong = keys.path().join("wrong.txt");
    let other = dtk::crypto::RecoveryKey::generate(&mut dtk::crypto::OsRandom);
    std::fs::write(&wrong, other.expose()).expect("wrong key file");
    let out = tv.dtk(Some(ADMIN), &["rekey", "--recovery-key-file", wrong.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the recovery key does not open this vault"), "{}", stderr(&out));
    assert_eq!(wrap_row(&tv, &wrap_id), old_copy);

    let file = keys.path().join("recovery.txt");
    std::fs::write(&file, recovery.expose()).expect("key file");
    let out = tv.dtk(Some(ADMIN), &["rekey", "--recovery-key-file", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("The data key was rotated (generation 2)"), "{}", stdout(&out));
    let one_time = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("jnurse,nurse,").map(str::to_owned))
        .expect("the nurse's one-time password is listed");

    // The nurse moves to the new key with the one-time password, keeps her own password and charts.
    let mut ws = tv.open();
    let mut nurse = ws.sign_in(NURSE.0, &Password::new(one_time), &SystemClock).expect("one-time password");
    ws.change_password(&mut nurse, &Password::new(NURSE.1.into()), &SystemClock).expect("her own again");
    let after = nursing_note(&mut ws, &nurse, "DEV2002");
    for id in [&before, &after] {
        ws.entry(&nurse, id, &SystemClock).expect("the current wrap reads old and new entries");
    }
    drop(ws);

    // An attacker puts the old copy of the wrap back: with the nurse's password it opens the old key only.
    let (m, t, p, salt, wrapped, mac) = old_copy;
    tv.raw()
        .execute(
            "UPDATE key_wraps SET kdf_m = ?1, kdf_t = ?2, kdf_p = ?3, salt = ?4, wrapped = ?5, mac = ?6 WHERE id = ?7",
            rusqlite::params![m, t, p, salt, wrapped, mac, wrap_id],
        )
        .expect("put the old wrap back");
    let old = dtk::crypto::Wrap {
        salt: salt.as_slice().try_into().expect("16-byte salt"),
        params: Some(dtk::crypto::KdfParams { m_kib: m as u32, t: t as u32, p: p as u32 }),
        wrapped,
    };
    let old_key = dtk::crypto::unwrap_with_password(&old, &Password::new(NURSE.1.into()), &wrap_id, &nurse_id)
        .map_err(|e| e.to_string())
        .expect("the old copy opens the old key");
    let unreadable: Vec<String> = dtk::vault::verify::sealed_columns(&tv.raw(), &old_key.keys())
        .expect("reads")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(unreadable.iter().any(|b| b.contains(&after)), "the new entry does not open: {unreadable:?}");
    assert!(!unreadable.iter().any(|b| b.contains(&before)), "the old entry still does: {unreadable:?}");
    let err = try_sign_in(&mut tv.open(), NURSE, &FixedClock::new(OffsetDateTime::now_utc())).expect_err("refused");
    assert_eq!(err.code, ErrorCode::Integrity, "{}", err.message);
    assert!(err.message.contains("before the last rekey"), "{}", err.message);

    // The recovery key opens everything after the rekey.
    let mut ws = tv.open();
    ws.recover(recovery.expose(), CHARGE.0, &Password::new("charge-pass-2".into()), &SystemClock).expect("recover");
    let charge = ws.sign_in(CHARGE.0, &Password::new("charge-pass-2".into()), &SystemClock).expect("charge");
    for id in [&before, &after] {
        ws.entry(&charge, id, &SystemClock).expect("the recovery key reads old and new entries");
    }
}
