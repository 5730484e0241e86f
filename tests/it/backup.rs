//! Interim backups (issue 14, "a dead disk in week three loses everything charted on that PC"): `dtk backup` by the
//! charge nurse, `dtk restore` on a new workstation with the recovery key, the app's automatic backup on its
//! interval, and the backup's age in `dtk status`.

use std::path::{Path, PathBuf};

use dtk::api::{EntryOptions, Workstation};
use dtk::clock::{Clock, FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::site::SiteConfig;
use time::{Duration, OffsetDateTime};

use crate::support::*;

fn signed() -> EntryOptions {
    EntryOptions { sign: true, ..Default::default() }
}

/// A charting vault (census, open episode) with the recovery key set-up showed, written to a file the way
/// `dtk init --recovery-key-out` writes it.
fn charting_with_key() -> (TestVault, tempfile::TempDir, PathBuf) {
    let (tv, key) = TestVault::with_recovery_key();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock).expect("episode");
    let keys = tempfile::tempdir().expect("key folder");
    let file = keys.path().join("recovery-key.txt");
    dtk::durable::write_private(&file, format!("{}\n", key.expose()).as_bytes()).expect("key file");
    (tv, keys, file)
}

fn backups_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".dtkbackup"))
        .collect();
    names.sort();
    names
}

fn restore(target: &Path, from: &Path, key_file: &Path) -> std::process::Output {
    dtk_cmd()
        .env("DTK_VAULT", target)
        .args(["restore", "--from", from.to_str().expect("path"), "--recovery-key-file"])
        .arg(key_file)
        .output()
        .expect("run dtk")
}

#[test]
fn a_backup_restores_every_signed_entry_after_the_vault_is_deleted() {
    let (tv, _keys, key_file) = charting_with_key();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let mut ids = Vec::new();
    for (form, mrn) in [("nursing-note", "DEV2001"), ("vital-signs", "DEV2002"), ("nursing-note", "DEV2003")] {
        let saved = ws.add_entry(&nurse, &for_patient(sample_response(form), mrn), &signed(), &SystemClock);
        ids.push(saved.expect("signed entry").saved.id);
    }
    let draft = for_patient(sample_response("vital-signs"), "DEV2004");
    ws.add_entry(&nurse, &draft, &EntryOptions::default(), &SystemClock).expect("draft");
    let before: Vec<_> = ids.iter().map(|id| ws.entry(&nurse, id, &SystemClock).expect("entry").versions).collect();
    drop(ws);

    let stick = tempfile::tempdir().expect("stick");
    let out = tv.dtk(Some(CHARGE), &["backup", "--out", stick.path().to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Backup written: "), "{}", stdout(&out));
    assert_eq!(backups_in(stick.path()).len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = stick.path().join(&backups_in(stick.path())[0]);
        let mode = std::fs::metadata(file).expect("backup").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only this account may read the backup on a share");
    }

    // The disk dies: the original vault folder is gone.
    let TestVault { dir } = tv;
    dir.close().expect("delete the original vault");

    let new = tempfile::tempdir().expect("new workstation");
    let out = restore(new.path(), stick.path(), &key_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("4 entries (3 signed, 1 drafts, 0 entered in error)"), "{said}");
    assert!(said.contains("(real, since ") && said.contains("still open"), "{said}");

    // Every signed entry is there and decrypts, version for version, for the nurse's own password.
    let mut ws = Workstation::open(new.path()).expect("restored workstation");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).expect("nurse signs in");
    for (id, versions) in ids.iter().zip(&before) {
        let detail = ws.entry(&nurse, id, &SystemClock).expect("restored entry");
        assert_eq!(detail.summary.status, dtk::entries::Status::Signed);
        assert_eq!(
            serde_json::to_value(&detail.versions).expect("json"),
            serde_json::to_value(versions).expect("json"),
            "entry {id} came back whole"
        );
    }
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    assert!(ws.verify(&charge).expect("verify").is_empty(), "the restored vault verifies");
    // The nurse charts on: the restored vault is writable and goes on as the same workstation.
    ws.add_entry(&nurse, &for_patient(sample_response("nursing-note"), "DEV2005"), &signed(), &SystemClock)
        .expect("charting goes on after the restore");
}

#[test]
fn fail_restore_with_a_wrong_key_into_a_folder_that_is_not_empty_or_from_a_damaged_backup() {
    let (tv, _keys, key_file) = charting_with_key();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    ws.add_entry(&nurse, &for_patient(sample_response("nursing-note"), "DEV2001"), &signed(), &SystemClock)
        .expect("entry");
    let stick = tempfile::tempdir().expect("stick");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let written = ws.backup(&charge, Some(stick.path()), &SystemClock).expect("backup");
    let empty_after = |dir: &Path| std::fs::read_dir(dir).expect("list").count() == 0;

    // Another vault's recovery key.
    let (_other, other_key) = TestVault::with_recovery_key();
    let wrong = tempfile::tempdir().expect("key");
    let wrong_file = wrong.path().join("key.txt");
    std::fs::write(&wrong_file, other_key.expose()).expect("key file");
    let target = tempfile::tempdir().expect("target");
    let out = restore(target.path(), stick.path(), &wrong_file);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the recovery key does not open this backup"), "{}", stderr(&out));
    assert!(empty_after(target.path()), "a refused restore leaves the folder empty");

    // A folder that already holds something.
    std::fs::write(target.path().join("notes.txt"), b"x").expect("a file");
    let out = restore(target.path(), stick.path(), &key_file);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert!(!target.path().join(dtk::vault::FILE_NAME).exists());
    std::fs::remove_file(target.path().join("notes.txt")).expect("clear");

    // A backup cut short on the stick, and one whose ciphertext was changed: refused by `verify`'s checks, exit 3.
    let bytes = std::fs::read(&written.file).expect("backup");
    let cut = tempfile::tempdir().expect("cut");
    std::fs::write(cut.path().join(written.file.file_name().expect("name")), &bytes[..bytes.len() / 2]).expect("cut");
    let changed = tempfile::tempdir().expect("changed");
    let copy = changed.path().join(written.file.file_name().expect("name"));
    std::fs::write(&copy, &bytes).expect("copy");
    rusqlite::Connection::open(&copy)
        .and_then(|c| {
            c.execute(
                "UPDATE patients SET body = zeroblob(length(body)) WHERE rowid = (SELECT min(rowid) FROM patients)",
                [],
            )
        })
        .expect("tamper");
    for damaged in [cut.path(), changed.path()] {
        let out = restore(target.path(), damaged, &key_file);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("is damaged") && stderr(&out).contains("nothing was restored"),
            "{}",
            stderr(&out)
        );
        assert!(empty_after(target.path()), "a damaged backup leaves the folder empty");
    }
}

#[test]
fn fail_a_nurse_or_him_may_not_take_a_backup() {
    let tv = TestVault::new();
    let stick = tempfile::tempdir().expect("stick");
    for who in [NURSE, HIM] {
        let out = tv.dtk(Some(who), &["backup", "--out", stick.path().to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("may not back up the vault"), "{}", stderr(&out));
    }
    assert!(backups_in(stick.path()).is_empty());
    let out = tv.dtk(Some(ADMIN), &["backup", "--out", stick.path().to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // No folder given and none in the site configuration: said, not guessed.
    let out = tv.dtk(Some(CHARGE), &["backup"]);
    assert!(stderr(&out).contains("no backup folder"), "{}", stderr(&out));
}

#[test]
fn the_app_backs_up_on_its_interval_keeps_the_newest_and_a_failure_never_stops_charting() {
    let tv = TestVault::charting();
    let stick = tempfile::tempdir().expect("stick");
    let folder = stick.path().join("dtk");
    std::fs::create_dir(&folder).expect("folder");
    let site = SiteConfig { backup_dir: Some(folder.clone()), backup_interval_hours: 4, ..SiteConfig::default() };
    let mut ws = Workstation::open_with(tv.path(), site, None).expect("open");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).expect("nurse");
    let clock = FixedClock::new(OffsetDateTime::now_utc());

    // The first refresh of the banner starts a backup; it is recorded when it finishes.
    assert!(ws.backup_tick(&nurse, &clock).running, "none yet: due at once");
    let status = ws.backup_wait(&nurse, &clock);
    assert_eq!((status.running, status.overdue, status.age_minutes), (false, false, Some(0)), "{status:?}");
    assert_eq!(backups_in(&folder).len(), 1);

    clock.advance(Duration::hours(3) + Duration::minutes(59));
    assert!(!ws.backup_tick(&nurse, &clock).running, "not due before the interval");
    clock.advance(Duration::minutes(1));
    assert!(ws.backup_tick(&nurse, &clock).running, "due after four hours");
    ws.backup_wait(&nurse, &clock);
    for _ in 0..3 {
        clock.advance(Duration::hours(4));
        ws.backup_tick(&nurse, &clock);
        ws.backup_wait(&nurse, &clock);
    }
    let kept = backups_in(&folder);
    assert_eq!(kept.len(), dtk::backup::KEEP, "{kept:?}");
    let newest = dtk::backup::file_name(&ws.workstation_id(), clock.now());
    assert_eq!(kept.last(), Some(&newest));

    // The stick is pulled: the backup fails, the banner says so, and the nurse charts on.
    std::fs::remove_dir_all(&folder).expect("unplug");
    clock.advance(Duration::hours(4));
    ws.backup_tick(&nurse, &clock);
    let status = ws.backup_wait(&nurse, &clock);
    assert!(status.failure.as_deref().is_some_and(|f| f.contains("is not there")), "{status:?}");
    assert!(status.describe().contains("the last automatic backup FAILED"), "{}", status.describe());
    ws.add_entry(&nurse, &for_patient(sample_response("nursing-note"), "DEV2001"), &signed(), &SystemClock)
        .expect("charting is never blocked by a backup");
    clock.advance(Duration::minutes(10));
    assert!(!ws.backup_tick(&nurse, &clock).running, "no new attempt within 15 minutes of a failure");
    std::fs::create_dir(&folder).expect("plugged in again");
    clock.advance(Duration::minutes(5));
    assert!(ws.backup_tick(&nurse, &clock).running);
    let status = ws.backup_wait(&nurse, &clock);
    assert_eq!((status.overdue, status.failure), (false, None));
}

#[test]
fn status_shows_the_backup_age_and_says_overdue_plainly() {
    let tv = TestVault::new();
    let out = tv.dtk(None, &["status"]);
    assert!(stdout(&out).contains("\nno backup yet"), "{}", stdout(&out));

    let stick = tempfile::tempdir().expect("stick");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let two_hours_ago = FixedClock::new(OffsetDateTime::now_utc() - Duration::hours(2) - Duration::minutes(5));
    ws.backup(&charge, Some(stick.path()), &two_hours_ago).expect("backup");
    let out = tv.dtk(None, &["status"]);
    let expected = format!("last backup: 2 h ago to {}", stick.path().display());
    assert!(stdout(&out).lines().any(|l| l == expected), "{}", stdout(&out));

    let five_hours_ago = FixedClock::new(OffsetDateTime::now_utc() - Duration::hours(5));
    std::fs::write(tv.path().join("site.json"), br#"{"backup_interval_hours": 4}"#).expect("site");
    let old = tempfile::tempdir().expect("old stick");
    ws.backup(&charge, Some(old.path()), &five_hours_ago).expect("backup");
    let out = tv.dtk(None, &["status"]);
    assert!(stdout(&out).contains("last backup: 5 h ago"), "{}", stdout(&out));
    assert!(stdout(&out).contains("OVERDUE: backups are due every 4 h"), "{}", stdout(&out));
    let out = tv.dtk(None, &["--json", "status"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["backup"]["overdue"], true);
    assert_eq!(json["backup"]["interval_hours"], 4);
}

/// The temporary MRNs a workstation issued, newest last.
fn registered(ws: &mut Workstation, session: &dtk::api::Session) -> Vec<String> {
    let reg = dtk::patients::Registration {
        family: "UNKNOWN".into(),
        given: vec!["Trauma".into()],
        birth_date: None,
        gender: None,
        location: None,
    };
    ws.register_patient(session, &reg, &SystemClock).expect("register");
    let mut mrns: Vec<String> = ws
        .patients(session)
        .expect("patients")
        .into_iter()
        .map(|p| p.record.mrn)
        .filter(|m| m.starts_with("T5E-"))
        .collect();
    mrns.sort();
    mrns
}

#[test]
fn a_restored_workstation_is_a_new_one_to_him_so_its_files_and_the_dead_pcs_last_file_both_import_once() {
    // HIM's station and its handoff key.
    let him_tv = TestVault::new();
    let (mut him, him_session) = him_tv.sign_in(HIM);
    let him_key = him.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;
    let site = serde_json::json!({
        "him_public_key": him_key,
        "temp_mrn_block": { "prefix": "T5E-", "first": 1000, "last": 1999 },
    })
    .to_string();

    let (tv, _keys, key_file) = charting_with_key();
    std::fs::write(tv.path().join("site.json"), &site).expect("site.json");
    let (mut ws, nurse) = tv.sign_in(NURSE);
    for mrn in ["DEV2001", "DEV2002"] {
        ws.add_entry(&nurse, &for_patient(sample_response("nursing-note"), mrn), &signed(), &SystemClock)
            .expect("entry before the backup");
    }
    assert_eq!(registered(&mut ws, &nurse), vec!["T5E-1000"]);
    let dead_id = ws.workstation_id();
    let stick = tempfile::tempdir().expect("stick");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.backup(&charge, Some(stick.path()), &SystemClock).expect("backup");

    // After the backup the old PC charts on, registers a patient, and hands off once before its disk dies.
    let (mut ws, nurse) = tv.sign_in(NURSE);
    ws.add_entry(&nurse, &for_patient(sample_response("vital-signs"), "DEV2003"), &signed(), &SystemClock)
        .expect("entry after the backup");
    assert_eq!(registered(&mut ws, &nurse), vec!["T5E-1000", "T5E-1001"]);
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let handoffs = tempfile::tempdir().expect("handoff folder");
    let first = handoffs.path().join("dead-pc.dtkh");
    ws.export_handoff(&charge, &first, None, false, &SystemClock).expect("the old PC's handoff");
    let imported = him.import_handoff(&him_session, &std::fs::read(&first).expect("read"), &SystemClock);
    assert_eq!(imported.expect("the old PC's file").new_entries, 3);
    drop(ws);
    let TestVault { dir } = tv;
    dir.close().expect("the disk dies");

    // The new PC: IT puts the site configuration in place and restores the backup.
    let new = tempfile::tempdir().expect("new workstation");
    std::fs::write(new.path().join("site.json"), &site).expect("site.json");
    let out = restore(new.path(), stick.path(), &key_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains(&format!("(restored from workstation {dead_id}'s backup)")), "{said}");
    assert!(said.contains("the next 100 numbers after number 1000, the last the backup had issued"), "{said}");
    let mut ws = Workstation::open(new.path()).expect("restored workstation");
    let new_id = ws.workstation_id();
    assert_ne!(new_id, dead_id, "the restored PC has an identity of its own");
    assert!(said.contains(&format!("This PC is now workstation {new_id}")), "{said}");

    // The next temporary MRN is past the numbers the old PC may have issued after the backup (it did issue 1001).
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &SystemClock).expect("nurse");
    assert_eq!(registered(&mut ws, &nurse), vec!["T5E-1000", "T5E-1101"]);
    ws.add_entry(&nurse, &for_patient(sample_response("nursing-note"), "DEV2004"), &signed(), &SystemClock)
        .expect("charting on the restored PC");
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    assert!(ws.verify(&charge).expect("verify").is_empty(), "the restored vault verifies");
    let second = handoffs.path().join("restored-pc.dtkh");
    ws.export_handoff(&charge, &second, None, false, &SystemClock).expect("the restored PC's handoff");

    // HIM takes it as a new workstation restored from the old one: the two entries from before the backup are
    // recognised (same id, same content), only the new one is added, and nothing conflicts.
    let bytes = std::fs::read(&second).expect("read");
    let report = him.import_handoff(&him_session, &bytes, &SystemClock).expect("the restored PC's file imports");
    assert_eq!(report.workstation, new_id);
    assert_eq!(report.restored_from, vec![dead_id.clone()]);
    assert_eq!((report.new_entries, report.conflicts.len()), (1, 0), "{report:?}");
    let count = |sql: &str| -> i64 { him_tv.raw().query_row(sql, [], |r| r.get(0)).expect("count") };
    assert_eq!(count("SELECT count(*) FROM entries"), 4, "every entry once");
    assert_eq!(count(&format!("SELECT count(*) FROM entries WHERE workstation = '{dead_id}'")), 3);

    // A file whose entry names a workstation its log does not record a restore from is refused (at a second HIM
    // station, so that nothing pinned from the genuine files decides it).
    let key = dtk::handoff::HimKey::load(him.vault().expect("vault").conn(), him_session.keys())
        .expect("load")
        .expect("a key");
    let (_, mut payload) = dtk::handoff::read_payload(bytes.as_slice(), &key).expect("reads");
    let other = "0b6f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e";
    let carried = payload.entries.iter_mut().find(|e| e.workstation.is_some()).expect("an entry of the old PC");
    carried.workstation = Some(other.into());
    let him2_tv = TestVault::new();
    let (mut him2, him2_session) = him2_tv.sign_in(HIM);
    let him2_key = him2.handoff_keygen(&him2_session, &SystemClock).expect("keygen").public_key;
    let recipient = dtk::handoff::parse_public_key(&him2_key).expect("key");
    let forged =
        dtk::handoff::seal(&payload, 1, "2026-12-01T00:00:00.000Z", &[7; 32], &recipient, &mut dtk::crypto::OsRandom)
            .expect("seal");
    let refused = him2.import_handoff(&him2_session, &forged, &SystemClock).expect_err("refused");
    let expected = format!("names workstation {other}, but the file's audit log does not record a restore from it");
    assert!(refused.message.contains(&expected), "{}", refused.message);
    let none: i64 = him2_tv.raw().query_row("SELECT count(*) FROM entries", [], |r| r.get(0)).expect("count");
    assert_eq!(none, 0, "a refused file adds nothing");
}
