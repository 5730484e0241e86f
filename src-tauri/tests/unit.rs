//! The unit share through the shell (issue 20): two workstations of one unit and one shared folder. A dose charted
//! on the first reaches the second after one sync each (`unit_sync`), the banner's `unit_share` names the first
//! workstation with its time, the charge nurse's `unit_overview` shows the dose with the workstation that charted
//! it, B's MAR counts the dose with A named, and a second dose of the same medication on the second is stopped as a
//! possible duplicate before it is saved.
//! With the folder gone the banner says the share is unreachable and charting goes on; a checklist tick and a status
//! update made on one workstation's charge desk show on the other's; a workstation without a unit share configured
//! shows no share at all.
use dtk::api::Workstation;
use dtk::auth::Role;
use dtk::clock::{stamp, Clock, SystemClock};
use dtk::crypto::Password;
use dtk_app::commands::{charge, nurse, unit, Shell};
use dtk_app::dto::{EntryRequest, ErrorCode};
use serde_json::{json, Value};

mod support;

const MRN: &str = "DEV2003";
const MEDICATION: &str = "Metoprolol Tartrate 25 MG Oral Tablet";

fn census() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census")
}

/// A workstation of the unit with a charge nurse and a nurse; answers its folder and its unit key.
fn station() -> (tempfile::TempDir, String) {
    let dir = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census());
    let mut ws = Workstation::open(dir.path()).expect("open");
    let nurse = ws.sign_in("dnurse", &Password::new(support::PASSWORD.into()), &SystemClock).expect("nurse");
    let key = ws.unit_key(&nurse, &SystemClock).expect("unit key").public_key;
    (dir, key)
}

fn join(dir: &std::path::Path, share: &std::path::Path, peer: &str) {
    let site = json!({ "unit_share_dir": share, "unit_peers": [peer] });
    std::fs::write(dir.join("site.json"), site.to_string()).expect("site.json");
}

fn dose(at: &str) -> EntryRequest {
    EntryRequest {
        response: support::dose_now(MRN, MEDICATION, at),
        sign: true,
        allergy_override: None,
        confirm_not_duplicate: false,
        reason: None,
        clinical_time: None,
    }
}

fn open_episode(shell: &Shell) {
    support::sign_in(shell, "kcharge").expect("charge nurse");
    support::declare_episode(shell, "EHR down");
    support::sign_in(shell, "dnurse").expect("nurse");
}

#[test]
fn a_dose_charted_on_one_workstation_shows_on_the_other_after_one_sync_and_a_second_is_stopped() {
    let share = tempfile::tempdir().expect("share");
    let share_dir = share.path().join("5-east");
    std::fs::create_dir(&share_dir).expect("share folder");
    let (a_dir, a_key) = station();
    let (b_dir, b_key) = station();
    join(a_dir.path(), &share_dir, &b_key);
    join(b_dir.path(), &share_dir, &a_key);
    let a = Shell::open(a_dir.path());
    let b = Shell::open(b_dir.path());
    open_episode(&a);
    open_episode(&b);

    let given = stamp(SystemClock.now());
    let on_a = nurse::save_entry(&a, dose(&given)).expect("charted on A");
    let synced = unit::unit_sync(&a).expect("A syncs");
    assert!(synced.published && synced.publish_problem.is_none(), "{synced:?}");
    let synced = unit::unit_sync(&b).expect("B syncs");
    assert!(synced.problems.is_empty(), "{:?}", synced.problems);
    assert_eq!(synced.received.len(), 1, "{:?}", synced.received);
    assert!(synced.received[0].starts_with("WS "), "{:?}", synced.received);

    let banner = unit::unit_share(&b).expect("banner");
    let wire = serde_json::to_value(&banner).expect("json");
    assert_eq!(wire["configured"], true);
    assert_eq!(wire["reachable"], true);
    assert_eq!(wire["peers"].as_array().map(Vec::len), Some(1), "{wire}");
    let label = banner.peers[0].label.clone();
    assert!(!banner.peers[0].stale);
    assert!(banner.peers[0].line.starts_with(&format!("WS {label}: ")), "{}", banner.peers[0].line);

    let overview = serde_json::to_value(unit::unit_overview(&b).expect("overview")).expect("json");
    let patient = overview["patients"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["mrn"] == MRN))
        .cloned()
        .unwrap_or(Value::Null);
    // The medication as the duplicate check compares it (case folded).
    let medication = patient["doses"][0]["medication"].as_str().unwrap_or_default();
    assert_eq!(medication, MEDICATION.to_lowercase(), "{patient}");
    assert_eq!(patient["doses"][0]["workstation"], label.as_str(), "charted on A, named so on B");
    assert_eq!(patient["doses"][0]["author"], "dnurse");

    // B's MAR counts the dose A gave, with A named, wherever the schedule puts it (a due time it covers, another
    // dose of its order, or a dose no order lists).
    let mar = nurse::patient_mar(&b, MRN.into()).expect("B's MAR");
    let given_by: Vec<(Option<String>, Option<String>)> = mar
        .orders
        .iter()
        .flat_map(|o| {
            let due = o.due.iter().map(|d| (d.entry_id.clone(), d.given_by.clone()));
            due.chain(o.other_doses.iter().map(|d| (d.entry_id.clone(), d.given_by.clone())))
        })
        .chain(mar.unmatched_doses.iter().map(|d| (d.entry_id.clone(), d.given_by.clone())))
        .filter(|(id, _)| id.as_deref() == Some(on_a.id.as_str()))
        .collect();
    assert_eq!(given_by, vec![(Some(on_a.id.clone()), Some(format!("dnurse (WS {label})")))], "{mar:?}");

    let again = nurse::save_entry(&b, dose(&given)).expect_err("the same dose on B");
    assert_eq!(again.code, ErrorCode::SafetyCheck, "{}", again.message);

    // The folder gone (the network share down): the banner says so plainly, and charting goes on.
    std::fs::remove_dir_all(&share_dir).expect("share removed");
    let banner = unit::unit_share(&b).expect("banner");
    assert!(banner.configured && !banner.reachable);
    assert!(banner.message.as_deref().is_some_and(|m| m.starts_with("unit share unreachable")), "{banner:?}");
    let later = stamp(SystemClock.now() + std::time::Duration::from_secs(60));
    let mut request = dose(&later);
    request.confirm_not_duplicate = true;
    nurse::save_entry(&b, request).expect("B charts on without the share");
    let synced = unit::unit_sync(&b).expect("a sync of an unreachable share answers");
    assert!(!synced.share.reachable && !synced.published, "{synced:?}");
}

#[test]
fn without_a_unit_share_the_banner_shows_none_and_a_sync_says_why() {
    let (dir, _) = station();
    let shell = Shell::open(dir.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse");
    let banner = unit::unit_share(&shell).expect("banner");
    assert!(!banner.configured && banner.peers.is_empty() && banner.message.is_none());
    let e = unit::unit_sync(&shell).expect_err("no share");
    assert!(e.message.contains("unit_share_dir"), "{}", e.message);
    let overview = unit::unit_overview(&shell).expect("the overview of this workstation alone");
    assert!(!overview.share.configured);
    assert!(overview.patients.iter().any(|p| p.mrn == MRN));
}

#[test]
fn a_checklist_tick_and_a_status_update_on_one_charge_desk_show_on_the_other() {
    let share = tempfile::tempdir().expect("share");
    let (a_dir, a_key) = station();
    let (b_dir, b_key) = station();
    join(a_dir.path(), share.path(), &b_key);
    join(b_dir.path(), share.path(), &a_key);
    let a = Shell::open(a_dir.path());
    let b = Shell::open(b_dir.path());
    for shell in [&b, &a] {
        support::sign_in(shell, "kcharge").expect("charge nurse");
        support::declare_episode(shell, "EHR down");
    }
    let before = charge::episode_status(&b).expect("status").expect("open");
    let step = before.steps[0].id.clone();
    assert!(before.steps[0].done_at.is_none());

    charge::tick_step(&a, step.clone(), None).expect("ticked on A");
    charge::save_status_update(&a, "5 East charting on the downtime kit".into(), Some(30)).expect("update on A");
    unit::unit_sync(&a).expect("A syncs");
    unit::unit_sync(&b).expect("B syncs");

    let label = unit::unit_share(&b).expect("banner").peers[0].label.clone();
    let after = charge::episode_status(&b).expect("status").expect("open");
    let ticked = after.steps.iter().find(|s| s.id == step).expect("the step");
    assert!(ticked.done_at.is_some(), "{ticked:?}");
    assert_eq!(ticked.done_by.as_deref(), Some(format!("kcharge (WS {label})").as_str()));
    let update = after.updates.iter().find(|u| u.text == "5 East charting on the downtime kit").expect("A's update");
    assert_eq!(update.actor, format!("kcharge (WS {label})"));
    assert!(!after.update_overdue);
}
