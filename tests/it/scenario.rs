//! Tabletop prompts for drills (issue 21 item 7): a drill started from a scenario file, its injects reaching the
//! charge nurse at set minutes, marked seen, the unit's response scored in `dtk episode …` and the drill report, all
//! audited; a bad scenario starts nothing.

use dtk::api::{ErrorCode, Workstation};
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk::procedures::{IncidentRole, Severity};
use dtk::scenario::Outcome;
use serde_json::{json, Value};
use time::macros::datetime;
use time::Duration;

use crate::support::*;

/// A lab scenario: one inject at once, one at minute 30.
const LAB: &str = r#"{
  "id": "lab-dark",
  "title": "Lab results interface dark overnight",
  "description": "The lab results interface stops; results come by phone.",
  "declaration": { "reason": "DRILL: lab interface down", "severity": "P3", "affected": ["lab results"] },
  "injects": [
    { "at_minutes": 0, "text": "Lab calls: the results interface is down; results come by phone.",
      "expect": [ { "kind": "acknowledged", "within_minutes": 5 },
                  { "kind": "role", "role": "commander", "within_minutes": 10 } ] },
    { "at_minutes": 30, "text": "A critical potassium of 6.8 is phoned to the wrong unit.",
      "expect": [ { "kind": "severity_at_least", "severity": "P2", "within_minutes": 10 },
                  { "kind": "decision", "within_minutes": 15 },
                  { "kind": "checklist_step", "step": "lab-phone-all-results", "within_minutes": 20 } ] }
  ]
}"#;

/// Audit rows of `action`, details decrypted.
fn audited(ws: &Workstation, session: &dtk::api::Session, action: &str) -> Vec<Value> {
    dtk::audit::plain_rows(ws.vault().expect("vault").conn(), session.keys())
        .expect("audit rows")
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| json!({ "actor": r.actor, "target": r.target, "detail": r.detail }))
        .collect()
}

#[test]
fn a_drill_from_a_scenario_gets_its_injects_at_their_minutes_and_is_scored_by_what_the_unit_recorded() {
    let tv = TestVault::new();
    let clock = FixedClock::new(datetime!(2026-12-07 02:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let ep = ws.start_scenario_drill(&charge, "lab.json", "lab.json", LAB.as_bytes(), None, &clock).expect("start");
    assert_eq!(ep.kind, Kind::Drill, "a scenario always starts a drill");
    assert_eq!(ep.declaration.severity, Some(Severity::P3), "the scenario's declaration is the drill's");
    assert_eq!(ep.declaration.affected, vec!["lab results".to_string()]);
    assert_eq!(ep.declaration.reason.as_deref(), Some("DRILL: lab interface down"));

    let s = ws.drill_scenario(&charge, &clock).expect("scenario").expect("the drill has one");
    assert_eq!(s.title, "Lab results interface dark overnight");
    let due: Vec<u32> = s.due_newest_first().iter().map(|i| i.number).collect();
    assert_eq!(due, vec![1], "only the first inject has arrived");
    assert_eq!(s.next_inject_at.as_deref(), Some("2026-12-07T02:30:00.000Z"));
    let e = ws.acknowledge_inject(&charge, 2, &clock).expect_err("not arrived yet");
    assert!(
        e.message.contains("inject 2 has not arrived yet (it arrives at 2026-12-07T02:30:00.000Z)"),
        "{}",
        e.message
    );

    clock.advance(Duration::minutes(2));
    let seen = ws.acknowledge_inject(&charge, 1, &clock).expect("seen");
    assert_eq!(seen.actor, CHARGE.0);
    let again = ws.acknowledge_inject(&charge, 1, &clock).expect_err("seen once");
    assert_eq!(again.code, ErrorCode::Conflict);
    clock.advance(Duration::minutes(13));
    ws.assign_role(&charge, IncidentRole::Commander, "Dana Ruiz", &clock).expect("commander, late");
    clock.advance(Duration::minutes(15));
    let s = ws.drill_scenario(&charge, &clock).expect("scenario").expect("scenario");
    assert_eq!(s.due_newest_first().iter().map(|i| i.number).collect::<Vec<_>>(), vec![2, 1], "newest first");
    assert_eq!(s.next_inject_at, None);
    clock.advance(Duration::minutes(4));
    ws.change_severity(&charge, Severity::P2, None, &clock).expect("escalate");
    clock.advance(Duration::minutes(6));
    ws.record_decision(&charge, "Every result is read back to the lab", &clock).expect("decision");

    let s = ws.drill_scenario(&charge, &clock).expect("scenario").expect("scenario");
    let got: Vec<(u32, &str, Outcome, Option<i64>)> =
        s.expectations.iter().map(|e| (e.inject, e.what.as_str(), e.outcome, e.minutes)).collect();
    assert_eq!(
        got,
        vec![
            (1, "Inject marked seen (within 5 min)", Outcome::Met, Some(2)),
            (1, "Incident commander named (within 10 min)", Outcome::Missed, Some(15)),
            (2, "Severity P2 or higher (within 10 min)", Outcome::Met, Some(4)),
            (2, "A decision recorded (within 15 min)", Outcome::Met, Some(10)),
            (
                2,
                "Checklist step ticked: Agree with the lab that every result, not only critical ones, is phoned to the unit and read back until the results interface is back (within 20 min)",
                Outcome::Pending,
                None
            ),
        ]
    );
    assert_eq!(s.summary(), "3 of 5 expectations met");
    ws.end_episode(&charge, &clock).expect("end");
    clock.advance(Duration::hours(2));
    let after = ws.scenario_score(&charge, None, &clock).expect("score").expect("scenario");
    assert_eq!(after.expectations[4].outcome, Outcome::Missed, "the drill ended before the step was ticked");
    assert_eq!(after.summary(), "3 of 5 expectations met");

    let started = audited(&ws, &charge, "episode.scenario");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["detail"], json!({ "kind": "scenario", "file": "lab.json" }), "the audit names the file");
    assert_eq!(started[0]["target"], format!("episodes:{}", ep.id));
    let seen = audited(&ws, &charge, "episode.inject_seen");
    assert_eq!(seen.len(), 1, "the refused second mark is not kept");
    assert_eq!(seen[0]["detail"]["inject"], 1);
    assert_eq!(seen[0]["actor"], CHARGE.0);
}

#[test]
fn fail_a_bad_scenario_starts_no_drill_and_names_the_file_and_the_place() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let out_of_order = LAB.replace("\"at_minutes\": 30", "\"at_minutes\": 30, \"colour\": \"red\"");
    let e = ws
        .start_scenario_drill(
            &charge,
            "lab.json",
            "/site/scenarios/lab.json",
            out_of_order.as_bytes(),
            None,
            &SystemClock,
        )
        .expect_err("unknown field");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.starts_with("/site/scenarios/lab.json: injects[1]: unknown field `colour`"), "{}", e.message);
    let bad_step = LAB.replace("lab-phone-all-results", "call-the-mayor");
    let e = ws
        .start_scenario_drill(&charge, "lab.json", "lab.json", bad_step.as_bytes(), None, &SystemClock)
        .expect_err("unknown step");
    assert!(e.message.contains("lab.json: injects[1].expect[2].step: the checklist"), "{}", e.message);
    assert!(ws.current_episode(&charge).expect("episodes").is_none(), "nothing started");

    let (mut wsn, nurse) = tv.sign_in(NURSE);
    let e = wsn
        .start_scenario_drill(&nurse, "lab.json", "lab.json", LAB.as_bytes(), None, &SystemClock)
        .expect_err("a nurse");
    assert_eq!(e.code, ErrorCode::Forbidden);

    ws.start_episode(&charge, Kind::Real, Declaration::default(), &SystemClock).expect("a real episode");
    assert!(ws.drill_scenario(&charge, &SystemClock).expect("status").is_none(), "a real episode has no scenario");
    let e = ws.acknowledge_inject(&charge, 1, &SystemClock).expect_err("no scenario");
    assert_eq!(e.code, ErrorCode::NotFound);
}

#[test]
fn dtk_starts_a_drill_from_a_scenario_file_lists_due_injects_marks_them_seen_and_prints_the_score() {
    let tv = TestVault::new();
    let ok = |o: &std::process::Output| assert!(o.status.success(), "{}", stderr(o));
    let scenarios = tv.path().join("scenarios");
    std::fs::create_dir(&scenarios).expect("folder");
    std::fs::write(scenarios.join("lab.json"), LAB).expect("scenario");
    std::fs::write(scenarios.join("broken.json"), r#"{ "id": "b", "title": "B", "injects": [], "id": "c" }"#)
        .expect("broken");
    std::fs::write(tv.path().join("site.json"), json!({ "scenario_dir": scenarios }).to_string()).expect("site");

    let o = tv.dtk(Some(CHARGE), &["episode", "scenarios"]);
    ok(&o);
    let list = stdout(&o);
    assert!(list.contains("lab.json") && list.contains("Lab results interface dark overnight (2 injects)"), "{list}");
    assert!(list.contains("EHR down during a mass casualty event (4 injects, built in)"), "the kit ships one: {list}");
    assert!(stderr(&o).contains("broken.json: the key \"id\" is given twice"), "{}", stderr(&o));

    let file = scenarios.join("lab.json");
    let file = file.to_str().expect("path");
    let o = tv.dtk(Some(CHARGE), &["episode", "start", "--scenario", file]);
    assert!(!o.status.success(), "only a drill starts from a scenario");
    assert!(stderr(&o).contains("--drill"), "{}", stderr(&o));
    let bad = tv.path().join("bad.json");
    std::fs::write(&bad, LAB.replace("\"P3\"", "\"P9\"")).expect("bad");
    let o = tv.dtk(Some(CHARGE), &["episode", "start", "--drill", "--scenario", bad.to_str().expect("path")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.json: unknown variant `P9`"), "{}", stderr(&o));

    let o = tv.dtk(Some(CHARGE), &["episode", "start", "--drill", "--scenario", file]);
    ok(&o);
    assert!(stdout(&o).contains("from scenario lab.json"), "{}", stdout(&o));

    let status = stdout(&tv.dtk(Some(CHARGE), &["episode", "status"]));
    assert!(
        status.contains("DRILL scenario: Lab results interface dark overnight - 0 of 2 expectations met so far"),
        "{status}"
    );
    assert!(status.contains("DRILL inject 1 (minute 0, "), "{status}");
    assert!(status.contains("not yet seen: dtk episode ack 1"), "{status}");
    assert!(!status.contains("potassium"), "an inject still to come is not shown: {status}");
    assert!(status.contains("Next inject at "), "{status}");

    let o = tv.dtk(Some(CHARGE), &["episode", "ack", "2"]);
    assert!(!o.status.success() && stderr(&o).contains("inject 2 has not arrived yet"), "{}", stderr(&o));
    let o = tv.dtk(Some(CHARGE), &["episode", "ack", "1"]);
    ok(&o);
    assert!(stdout(&o).starts_with("Inject 1 marked seen at "), "{}", stdout(&o));

    let o = tv.dtk(Some(CHARGE), &["episode", "injects"]);
    ok(&o);
    let all = stdout(&o);
    assert!(all.contains("1. minute 0 (") && all.contains("arrived, seen at "), "{all}");
    assert!(all.contains("2. minute 30 (") && all.contains("): not yet\n   A critical potassium"), "{all}");
    assert!(all.contains("- Inject marked seen (within 5 min): met after 0 min"), "{all}");
    assert!(all.contains("- Incident commander named (within 10 min): pending, due "), "{all}");
    assert!(all.contains("Score: 1 of 2 expectations met."), "{all}");

    ok(&tv.dtk(Some(CHARGE), &["episode", "end"]));
    let pdf = tv.path().join("drill.pdf");
    let o = tv.dtk(Some(CHARGE), &["episode", "drill-report", "--out", pdf.to_str().expect("path")]);
    ok(&o);
    assert!(
        stdout(&o).contains("Scenario \"Lab results interface dark overnight\": 1 of 2 expectations met."),
        "{}",
        stdout(&o)
    );
    let text = squash(&pages_text(&pdf).join(" "));
    for expect in [
        "Scenario: Lab results interface dark overnight",
        "Score: 1 of 2 expectations met",
        "Lab calls: the results interface is down; results come by phone.",
        "A critical potassium of 6.8 is phoned to the wrong unit. never arrived",
        "Inject marked seen (within 5 min)",
        "Incident commander named (within 10 min)",
        "MISSED",
        "Severity P2 or higher (within 10 min)",
        "inject never arrived",
    ] {
        assert!(text.contains(expect), "'{expect}' not in the drill report:\n{text}");
    }

    let o = tv.dtk(Some(CHARGE), &["episode", "start", "--drill", "--scenario", "ehr-down-mass-casualty.json"]);
    ok(&o);
    let status = stdout(&tv.dtk(Some(CHARGE), &["episode", "status"]));
    assert!(
        status.contains("DRILL scenario: EHR down during a mass casualty event - 0 of 3"),
        "the built-in one, by name: {status}"
    );
    assert!(status.contains("severity P2"), "{status}");
}

#[test]
fn a_drill_without_a_scenario_reports_as_before_and_a_scenario_drill_is_never_handed_off() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.start_episode(&charge, Kind::Drill, Declaration::default(), &SystemClock).expect("plain drill");
    assert!(ws.drill_scenario(&charge, &SystemClock).expect("status").is_none());
    let pdf = ws.drill_report(&charge, None, &SystemClock).expect("report");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.pdf");
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let text = pages_text(&file).join(" ");
    assert!(!text.contains("Scenario") && !text.contains("expectations met"), "{text}");
    ws.end_episode(&charge, &SystemClock).expect("end");

    let him_tv = TestVault::new();
    let (mut him, him_session) = him_tv.sign_in(HIM);
    let public_key = him.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": public_key }).to_string()).expect("site");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let ep =
        ws.start_scenario_drill(&charge, "lab.json", "lab.json", LAB.as_bytes(), None, &SystemClock).expect("drill");
    ws.acknowledge_inject(&charge, 1, &SystemClock).expect("seen");
    ws.end_episode(&charge, &SystemClock).expect("end");
    let out = tv.path().join("drill.dtkh");
    let e = ws.export_handoff(&charge, &out, Some(&ep.id), false, &SystemClock).expect_err("a drill stays here");
    assert_eq!(e.code, ErrorCode::Forbidden, "{}", e.message);
    assert!(!out.exists(), "no handoff file of a drill");
}

/// A drill never goes to HIM, so its scenario travels the way the drill does: in the vault's backups. Restored on a
/// new PC, the drill still has its scenario, the mark "seen" and the same score, and its report prints them.
#[test]
fn a_scenario_drill_comes_back_whole_from_a_backup_on_another_workstation() {
    let (tv, key) = TestVault::with_recovery_key();
    let clock = FixedClock::new(datetime!(2026-12-07 03:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    ws.start_scenario_drill(&charge, "lab.json", "lab.json", LAB.as_bytes(), None, &clock).expect("drill");
    clock.advance(Duration::minutes(3));
    ws.acknowledge_inject(&charge, 1, &clock).expect("seen");
    ws.end_episode(&charge, &clock).expect("end");
    let before = ws.scenario_score(&charge, None, &clock).expect("score").expect("scenario");
    let stick = tempfile::tempdir().expect("stick");
    ws.backup(&charge, Some(stick.path()), &SystemClock).expect("backup");
    drop(ws);

    let keys = tempfile::tempdir().expect("key folder");
    let key_file = keys.path().join("recovery-key.txt");
    dtk::durable::write_private(&key_file, format!("{}\n", key.expose()).as_bytes()).expect("key file");
    let new = tempfile::tempdir().expect("new workstation");
    let out = dtk_cmd()
        .env("DTK_VAULT", new.path())
        .args(["restore", "--from", stick.path().to_str().expect("path"), "--recovery-key-file"])
        .arg(&key_file)
        .output()
        .expect("run dtk");
    assert!(out.status.success(), "{}", stderr(&out));

    let mut ws = Workstation::open(new.path()).expect("restored");
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let after = ws.scenario_score(&charge, None, &clock).expect("score").expect("the scenario came back");
    assert_eq!(after, before, "the same injects, marks and score");
    assert_eq!(after.injects[0].seen_by.as_deref(), Some(CHARGE.0));
    let pdf = ws.drill_report(&charge, None, &clock).expect("report");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.pdf");
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let text = squash(&pages_text(&file).join(" "));
    assert!(text.contains("Scenario: Lab results interface dark overnight"), "{text}");
    assert!(text.contains(&format!("Score: {}", before.summary())), "{text}");
    assert!(text.contains("2026-12-07 03:03 UTC by kcharge"), "{text}");
}
