//! Running the downtime like an incident (issue 21): the decision log and the incident roles, kept with the
//! episode, audited, shown by `dtk episode …`, in the status update and the reports, and handed off to HIM.

use dtk::api::ErrorCode;
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk::procedures::IncidentRole;
use serde_json::{json, Value};
use time::macros::datetime;
use time::Duration;

use crate::support::*;

const PAPER_MAR: &str = "Switched to paper MAR for ICU";
const PHARMACY: &str = "Pharmacy verifying by phone";

#[test]
fn decisions_and_roles_are_kept_with_who_and_when_audited_and_in_the_status_update() {
    let tv = TestVault::new();
    let clock = FixedClock::new(datetime!(2026-12-07 09:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let ep = ws.start_episode(&charge, Kind::Real, Declaration::default(), &clock).expect("start");
    clock.advance(Duration::minutes(5));
    ws.assign_role(&charge, IncidentRole::Commander, "  Dana Ruiz ", &clock).expect("commander");
    ws.assign_role(&charge, IncidentRole::Liaison, "Sam Okafor", &clock).expect("liaison");
    clock.advance(Duration::minutes(5));
    let r = ws.record_decision(&charge, PAPER_MAR, &clock).expect("decision");
    assert_eq!((r.at.as_str(), r.actor.as_str()), ("2026-12-07T09:10:00.000Z", CHARGE.0));
    clock.advance(Duration::minutes(10));
    ws.record_decision(&charge, PHARMACY, &clock).expect("second decision");
    ws.assign_role(&charge, IncidentRole::Commander, "Lee Chen", &clock).expect("a new commander");

    let st = ws.episode_status(&charge, &clock).expect("status").expect("open");
    let listed: Vec<(&str, &str, &str)> =
        st.decisions.iter().map(|d| (d.at.as_str(), d.by.as_str(), d.text.as_str())).collect();
    assert_eq!(
        listed,
        vec![("2026-12-07T09:20:00.000Z", CHARGE.0, PHARMACY), ("2026-12-07T09:10:00.000Z", CHARGE.0, PAPER_MAR)],
        "newest first, with who and when"
    );
    assert_eq!(st.roles.commander.as_ref().map(|a| a.name.as_str()), Some("Lee Chen"), "the latest assignment");
    assert_eq!(st.roles.liaison.as_ref().map(|a| a.name.as_str()), Some("Sam Okafor"));

    let draft = ws.draft_status_update(&charge, &clock).expect("draft");
    for expect in [
        "Incident commander: Lee Chen; Clinical liaison: Sam Okafor",
        "09:10 UTC Switched to paper MAR for ICU (kcharge)",
        "09:20 UTC Pharmacy verifying by phone (kcharge)",
    ] {
        assert!(draft.contains(expect), "missing '{expect}' in:\n{draft}");
    }

    let decisions = audited(&ws, &charge, "episode.decision");
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0]["detail"]["text"], PAPER_MAR);
    assert_eq!(decisions[0]["target"], format!("episodes:{}", ep.id));
    assert_eq!(decisions[0]["actor"], CHARGE.0);
    let roles = audited(&ws, &charge, "episode.role_assigned");
    assert_eq!(roles.len(), 3);
    assert_eq!(
        (roles[0]["detail"]["role"].as_str(), roles[0]["detail"]["name"].as_str()),
        (Some("commander"), Some("Dana Ruiz"))
    );

    let t = ws.episode_timeline(&charge, None, &clock).expect("timeline");
    assert_eq!(t.decisions.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(), vec![PAPER_MAR, PHARMACY]);
    let named: Vec<(IncidentRole, &str)> = t.roles.iter().map(|(r, a)| (*r, a.name.as_str())).collect();
    assert_eq!(
        named,
        vec![
            (IncidentRole::Commander, "Dana Ruiz"),
            (IncidentRole::Liaison, "Sam Okafor"),
            (IncidentRole::Commander, "Lee Chen")
        ],
        "every assignment stays in the timeline"
    );
}

#[test]
fn fail_a_decision_that_is_empty_too_long_or_recorded_by_a_nurse() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let none_open = ws.record_decision(&charge, PAPER_MAR, &SystemClock).expect_err("no episode");
    assert!(none_open.message.contains("no downtime episode is open"), "{}", none_open.message);
    ws.start_episode(&charge, Kind::Real, Declaration::default(), &SystemClock).expect("start");
    let long = format!("secret-{}", "x".repeat(600));
    for (text, expect) in [
        ("   ", "the decision is empty"),
        (long.as_str(), "the decision is 607 characters long; keep it to 500"),
        ("first\nsecond", "one line"),
    ] {
        let e = ws.record_decision(&charge, text, &SystemClock).expect_err(text);
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains(expect), "{}", e.message);
        assert!(!e.message.contains("secret"), "the error never repeats the text");
    }
    let e = ws.assign_role(&charge, IncidentRole::Liaison, " ", &SystemClock).expect_err("no name");
    assert!(e.message.contains("name the clinical liaison"), "{}", e.message);
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    let e = wsn.record_decision(&nurse, PAPER_MAR, &SystemClock).expect_err("a nurse");
    assert_eq!(e.code, ErrorCode::Forbidden);
    let st = ws.episode_status(&charge, &SystemClock).expect("status").expect("open");
    assert!(st.decisions.is_empty() && st.roles.commander.is_none(), "nothing refused was kept");
}

#[test]
fn dtk_episode_decision_and_role_print_what_was_recorded_and_status_and_timeline_show_them() {
    let tv = TestVault::new();
    let ok = |o: &std::process::Output| assert!(o.status.success(), "{}", stderr(o));
    ok(&tv.dtk(Some(CHARGE), &["episode", "start", "--severity", "P2"]));

    let o = tv.dtk(Some(CHARGE), &["episode", "decision", PAPER_MAR]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.starts_with("Decision recorded at ") && out.contains(&format!("by kcharge: {PAPER_MAR}")), "{out}");
    let o = tv.dtk(Some(CHARGE), &["episode", "decision", "Pharmacy", "verifying", "by", "phone"]);
    ok(&o);
    assert!(stdout(&o).contains(PHARMACY), "the words are joined: {}", stdout(&o));
    let o = tv.dtk(Some(CHARGE), &["episode", "role", "commander", "Dana", "Ruiz"]);
    ok(&o);
    assert!(stdout(&o).starts_with("Incident commander is now Dana Ruiz (recorded at "), "{}", stdout(&o));
    ok(&tv.dtk(Some(CHARGE), &["episode", "role", "liaison", "Sam Okafor"]));

    for (args, expect) in [
        (vec!["episode", "decision", ""], "the decision is empty"),
        (vec!["episode", "decision", &"y".repeat(501)], "the decision is 501 characters long; keep it to 500"),
        (vec!["episode", "role", "scribe", "Pat"], "expected commander or liaison"),
    ] {
        let o = tv.dtk(Some(CHARGE), &args);
        assert!(!o.status.success(), "{args:?} is refused");
        assert!(stderr(&o).contains(expect), "{args:?}: {}", stderr(&o));
    }
    let o = tv.dtk(Some(NURSE), &["episode", "decision", "Nurse decides"]);
    assert!(!o.status.success(), "a nurse records no decision");

    let status = stdout(&tv.dtk(Some(CHARGE), &["episode", "status"]));
    assert!(status.contains("Incident commander: Dana Ruiz (since "), "{status}");
    assert!(status.contains("Clinical liaison: Sam Okafor (since "), "{status}");
    let newest = status.find(PHARMACY).expect("the newer decision is listed");
    let older = status.find(PAPER_MAR).expect("the older decision is listed");
    assert!(newest < older, "newest first:\n{status}");
    assert!(!status.contains("Nurse decides"));

    let o = tv.dtk(Some(CHARGE), &["episode", "timeline"]);
    ok(&o);
    let t: Value = serde_json::from_slice(&o.stdout).expect("timeline JSON");
    assert_eq!(t["decisions"][0]["text"], PAPER_MAR);
    assert_eq!(t["decisions"][1]["by"], CHARGE.0);
    assert_eq!(t["roles"][0], json!(["commander", t["roles"][0][1]]));
    assert_eq!(t["roles"][0][1]["name"], "Dana Ruiz");

    let draft = stdout(&tv.dtk(Some(CHARGE), &["episode", "update", "--draft"]));
    assert!(draft.contains("Incident commander: Dana Ruiz; Clinical liaison: Sam Okafor"), "{draft}");
    assert!(draft.contains(PAPER_MAR) && draft.contains(PHARMACY), "{draft}");
}

#[test]
fn decisions_and_roles_travel_to_him_in_the_handoff_file_and_import_once() {
    let him_tv = TestVault::new();
    let (mut him, him_session) = him_tv.sign_in(HIM);
    let public_key = him.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;

    let tv = TestVault::charting();
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": public_key }).to_string()).expect("site");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.assign_role(&charge, IncidentRole::Commander, "Dana Ruiz", &SystemClock).expect("commander");
    ws.record_decision(&charge, PAPER_MAR, &SystemClock).expect("decision");
    let episode = ws.current_episode(&charge).expect("episode").expect("open").id;
    ws.end_episode(&charge, &SystemClock).expect("recovery");
    let out = tv.path().join("ws.dtkh");
    ws.export_handoff(&charge, &out, None, false, &SystemClock).expect("export");
    let bytes = std::fs::read(&out).expect("file");

    let first = him.import_handoff(&him_session, &bytes, &SystemClock).expect("import");
    assert_eq!(first.new_events, 2, "the role and the decision");
    let again = him.import_handoff(&him_session, &bytes, &SystemClock).expect("the same file again");
    assert_eq!(again.new_events, 0, "import is idempotent");

    let t = him.episode_timeline(&him_session, Some(&episode), &SystemClock).expect("timeline at HIM");
    let d: Vec<(&str, &str)> = t.decisions.iter().map(|d| (d.by.as_str(), d.text.as_str())).collect();
    assert_eq!(d, vec![(CHARGE.0, PAPER_MAR)]);
    assert_eq!(
        t.roles.iter().map(|(r, a)| (*r, a.name.as_str())).collect::<Vec<_>>(),
        vec![(IncidentRole::Commander, "Dana Ruiz")]
    );
    let audit = audited(&him, &him_session, "handoff.imported");
    assert!(!audit.is_empty(), "the import is audited");
    let carried: i64 = him_tv
        .raw()
        .query_row("SELECT count(*) FROM handoff_audit WHERE action = 'episode.decision'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(carried, 1, "the workstation's audit row of the decision came along");
}

#[test]
fn the_drill_report_prints_the_roles_and_decisions() {
    let tv = TestVault::new();
    let clock = FixedClock::new(datetime!(2026-12-07 14:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    ws.start_episode(&charge, Kind::Drill, Declaration::default(), &clock).expect("drill");
    clock.advance(Duration::minutes(3));
    ws.assign_role(&charge, IncidentRole::Liaison, "Sam Okafor", &clock).expect("liaison");
    clock.advance(Duration::minutes(4));
    ws.record_decision(&charge, PHARMACY, &clock).expect("decision");
    ws.end_episode(&charge, &clock).expect("end");
    let pdf = ws.drill_report(&charge, None, &clock).expect("report");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.pdf");
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let text = pages_text(&file).join(" ");
    for expect in [
        "Clinical liaison Sam Okafor from 2026-12-07 14:03 UTC (named by kcharge)",
        "Decision 2026-12-07 14:07 UTC Pharmacy verifying by phone (kcharge)",
    ] {
        assert!(squash(&text).contains(expect), "'{expect}' not in the drill report:\n{text}");
    }
}
