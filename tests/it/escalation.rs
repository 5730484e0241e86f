//! The escalation ladder and contacts as data (issue 21 item 1): the site's file beside the checklist, who to call
//! now and the next escalation due (`dtk episode contacts`), calls and acknowledgements kept with the episode,
//! audited and handed off to HIM, the one-page contact sheet, a broken file reported without blocking charting, and
//! the demo unit's file.

use dtk::api::Workstation;
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk::escalation::LevelStatus;
use dtk::procedures::Severity;
use serde_json::{json, Value};
use time::macros::datetime;
use time::Duration;

use crate::support::*;

const DEMO_FILE: &str = include_str!("../../assets/demo/escalation-demo.json");

/// Puts the demo ladder beside the vault as `escalation.json` and names it (relative) in `site.json`.
fn with_ladder(tv: &TestVault, extra: Value) {
    std::fs::write(tv.path().join("escalation.json"), DEMO_FILE).expect("escalation file");
    let mut site = json!({ "escalation_file": "escalation.json" });
    if let (Some(s), Some(e)) = (site.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site");
}

fn audited(ws: &Workstation, session: &dtk::api::Session, action: &str) -> Vec<Value> {
    dtk::audit::plain_rows(ws.vault().expect("vault").conn(), session.keys())
        .expect("audit rows")
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| json!({ "actor": r.actor, "target": r.target, "detail": r.detail }))
        .collect()
}

#[test]
fn who_to_call_now_follows_the_clock_the_calls_and_the_acknowledgement() {
    let tv = TestVault::new();
    with_ladder(&tv, json!({}));
    let clock = FixedClock::new(datetime!(2026-12-07 09:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let declaration = Declaration {
        severity: Some(Severity::P2),
        affected: vec!["EHR".into(), "pharmacy".into()],
        ..Default::default()
    };
    let ep = ws.start_episode(&charge, Kind::Real, declaration, &clock).expect("start");

    let v = ws.escalation_status(&charge, &clock).expect("view");
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let l = v.ladder.expect("the ladder in the open episode");
    let statuses: Vec<LevelStatus> = l.levels.iter().map(|s| s.status).collect();
    use LevelStatus::*;
    assert_eq!(statuses, vec![Current, Waiting, NotForThisOutage, Waiting, NotForThisOutage], "no lab, no P1 level");
    assert_eq!((l.current, l.call_now, l.overdue), (Some(1), true, false));
    assert_eq!(l.next_escalation_due.as_deref(), Some("2026-12-07T09:15:00.000Z"));

    clock.advance(Duration::minutes(5));
    let r = ws.record_contact(&charge, "help-desk", false, &clock).expect("called");
    assert_eq!((r.at.as_str(), r.actor.as_str()), ("2026-12-07T09:05:00.000Z", CHARGE.0));
    // No answer in 15 minutes from the call: pharmacy is due at 09:20, and overdue while nobody calls it.
    clock.advance(Duration::minutes(16));
    let l = ws.escalation_status(&charge, &clock).expect("view").ladder.expect("ladder");
    assert_eq!((l.current, l.overdue), (Some(2), true));
    assert_eq!(l.levels[0].status, NoAnswer);
    assert_eq!(l.next_escalation_due.as_deref(), Some("2026-12-07T09:40:00.000Z"));
    ws.record_contact(&charge, "pharmacy", false, &clock).expect("pharmacy called");
    clock.advance(Duration::minutes(2));
    ws.record_contact(&charge, "pharmacy", true, &clock).expect("pharmacy acknowledged");
    let l = ws.escalation_status(&charge, &clock).expect("view").ladder.expect("ladder");
    assert_eq!((l.current, l.overdue, l.next_escalation_due.as_deref()), (None, false, None));
    assert_eq!(l.acknowledged.as_ref().map(|a| a.name.as_str()), Some("Inpatient pharmacy"));

    let called = audited(&ws, &charge, "episode.contact_called");
    assert_eq!(called.len(), 2);
    assert_eq!(
        called[0]["detail"],
        json!({ "kind": "contact_called", "contact": "help-desk", "name": "IT help desk" })
    );
    assert_eq!(called[0]["target"], format!("episodes:{}", ep.id));
    let acked = audited(&ws, &charge, "episode.contact_acknowledged");
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0]["actor"], CHARGE.0);

    let t = ws.episode_timeline(&charge, None, &clock).expect("timeline");
    let calls: Vec<(&str, bool)> = t.contacts.iter().map(|c| (c.name.as_str(), c.acknowledged)).collect();
    assert_eq!(calls, vec![("IT help desk", false), ("Inpatient pharmacy", false), ("Inpatient pharmacy", true)]);
    let draft = ws.draft_status_update(&charge, &clock).expect("draft");
    assert!(
        draft.contains("Escalation:\n  - 09:05 UTC IT help desk called (kcharge)\n")
            && draft.contains("  - 09:23 UTC Inpatient pharmacy acknowledged (kcharge)\n"),
        "leaders read who was called in the draft:\n{draft}"
    );

    let e = ws.record_contact(&charge, "the-boss", false, &clock).expect_err("not in the file");
    assert!(e.message.contains("no contact 'the-boss'; its contacts are: help-desk, "), "{}", e.message);
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    let seen = wsn.escalation_status(&nurse, &clock).expect("a nurse sees the phones");
    assert!(seen.escalation.is_some());
    let e = wsn.record_contact(&nurse, "help-desk", false, &clock).expect_err("a nurse");
    assert_eq!(e.code, dtk::api::ErrorCode::Forbidden);
}

#[test]
fn dtk_episode_contacts_lists_the_ladder_and_prints_a_one_page_sheet_with_the_phones() {
    let tv = TestVault::new();
    with_ladder(&tv, json!({ "unit": "5 East" }));
    let ok = |o: &std::process::Output| assert!(o.status.success(), "{}", stderr(o));

    let o = tv.dtk(Some(CHARGE), &["episode", "contacts"]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.contains("No downtime episode is open: the whole ladder."), "{out}");
    assert!(out.contains("555-0100 (24/7 line)") && out.contains("EHR vendor support"), "{out}");

    ok(&tv.dtk(Some(CHARGE), &["episode", "start", "--severity", "P1", "--affected", "EHR"]));
    let out = stdout(&tv.dtk(Some(CHARGE), &["episode", "contacts"]));
    assert!(out.contains("Call now: level 1, First call; next escalation due "), "{out}");
    assert!(out.contains("Level 3: Lab (only when lab results is affected; next level after 20 min"), "{out}");
    assert!(out.contains("[not for this outage]"), "{out}");

    let o = tv.dtk(Some(CHARGE), &["episode", "called", "help-desk"]);
    ok(&o);
    assert!(stdout(&o).starts_with("IT help desk called: recorded at "), "{}", stdout(&o));
    let out = stdout(&tv.dtk(Some(CHARGE), &["episode", "contacts"]));
    assert!(out.contains("Level 1, First call: called, waiting for an acknowledgement"), "{out}");
    assert!(out.contains("IT help desk called at "), "{out}");
    ok(&tv.dtk(Some(CHARGE), &["episode", "called", "help-desk", "--acknowledged"]));
    let out = stdout(&tv.dtk(Some(CHARGE), &["episode", "contacts"]));
    assert!(out.contains("Acknowledged by IT help desk at "), "{out}");

    let o = tv.dtk(Some(CHARGE), &["episode", "called", "nobody"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("the escalation file has no contact 'nobody'"), "{}", stderr(&o));
    let o = tv.dtk(Some(CHARGE), &["--json", "episode", "contacts"]);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["ladder"]["acknowledged"]["contact"], "help-desk");
    assert_eq!(v["escalation"]["contacts"][0]["phones"][0]["number"], "555-0100");

    let dir = tempfile::tempdir().expect("dir");
    let pdf = dir.path().join("contacts.pdf");
    let o = tv.dtk(Some(NURSE), &["episode", "contacts", "--out", pdf.to_str().expect("path")]);
    ok(&o);
    assert!(stdout(&o).contains("(1 page)"), "{}", stdout(&o));
    let pages = pages_text(&pdf);
    assert_eq!(pages.len(), 1, "one page");
    let text = squash(&pages[0]);
    for expect in [
        "Escalation contacts",
        "5 East",
        "1. First call · every outage · no answer in 15 min: next level",
        "only P1 ·",
        "IT help desk",
        "555-0100",
        "24/7 line",
        "Clinical IT lead on call",
        "555-0110",
        "Inpatient pharmacy",
        "555-0130",
        "Core laboratory",
        "555-0140",
        "EHR vendor support",
        "555-0150",
        "Nursing informatics",
        "555-0121",
    ] {
        assert!(text.contains(expect), "'{expect}' not on the sheet:\n{text}");
    }
    let (ws, admin) = tv.sign_in(ADMIN);
    let printed = audited(&ws, &admin, "episode.contact_sheet_printed");
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["detail"]["pages"], 1);
}

#[test]
fn a_broken_escalation_file_is_reported_by_contact_and_field_and_charting_goes_on() {
    let tv = TestVault::new();
    let broken = DEMO_FILE
        .replace(r#""number": "555-0140""#, r#""numbr": "555-0140""#)
        .replace(r#""contacts": ["help-desk"]"#, r#""contacts": ["help-desk", "helpdesk"]"#);
    std::fs::write(tv.path().join("escalation.json"), broken).expect("file");
    std::fs::write(tv.path().join("site.json"), json!({ "escalation_file": "escalation.json" }).to_string())
        .expect("site");
    let o = tv.dtk(Some(CHARGE), &["episode", "contacts"]);
    assert!(o.status.success(), "the problems are shown, not an error: {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("was not used; charting goes on"), "{out}");
    assert!(out.contains("escalation.json: contact 'lab': unknown field `numbr`"), "{out}");
    assert!(
        out.contains("escalation.json: ladder level 1: contacts: 'helpdesk' is not a contact of the file"),
        "{out}"
    );
    let status = stdout(&tv.dtk(None, &["status"]));
    assert!(status.contains("escalation file not used: "), "dtk status names it too: {status}");
    assert!(status.contains("contact 'lab': unknown field `numbr`"), "{status}");
    let o = tv.dtk(Some(CHARGE), &["episode", "contacts", "--out", tv.path().join("x.pdf").to_str().expect("p")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no contact sheet to print: the site's escalation file has problems"),
        "{}",
        stderr(&o)
    );

    // Charting goes on: the episode starts and a nurse's note is kept.
    let tv2 = TestVault::charting();
    std::fs::write(tv2.path().join("escalation.json"), "{ not json").expect("file");
    std::fs::write(tv2.path().join("site.json"), json!({ "escalation_file": "escalation.json" }).to_string())
        .expect("site");
    let (mut ws, nurse) = tv2.sign_in(NURSE);
    let id = nursing_note(&mut ws, &nurse, "DEV2001");
    assert!(!id.is_empty());
    let (ws, charge) = tv2.sign_in(CHARGE);
    let v = ws.escalation_status(&charge, &SystemClock).expect("view");
    assert!(v.escalation.is_none() && v.ladder.is_none());
    assert!(v.problems[0].contains("escalation.json: not valid JSON"), "{:?}", v.problems);

    // No file configured: said plainly, no phone numbers invented.
    let tv3 = TestVault::new();
    let out = stdout(&tv3.dtk(Some(CHARGE), &["episode", "contacts"]));
    assert!(out.contains("No escalation file is configured (escalation_file in site.json)"), "{out}");
    assert!(!out.contains("555"), "{out}");
}

#[test]
fn calls_and_acknowledgements_travel_to_him_in_the_handoff_file_and_print_in_the_drill_report() {
    let him_tv = TestVault::new();
    let (mut him, him_session) = him_tv.sign_in(HIM);
    let public_key = him.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;

    let tv = TestVault::charting();
    with_ladder(&tv, json!({ "him_public_key": public_key }));
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.record_contact(&charge, "help-desk", false, &SystemClock).expect("called");
    ws.record_contact(&charge, "clinical-it-lead", true, &SystemClock).expect("acknowledged");
    let episode = ws.current_episode(&charge).expect("episode").expect("open").id;
    ws.end_episode(&charge, &SystemClock).expect("recovery");
    let out = tv.path().join("ws.dtkh");
    ws.export_handoff(&charge, &out, None, false, &SystemClock).expect("export");
    let bytes = std::fs::read(&out).expect("file");

    let first = him.import_handoff(&him_session, &bytes, &SystemClock).expect("import");
    assert_eq!(first.new_events, 2, "the call and the acknowledgement");
    let again = him.import_handoff(&him_session, &bytes, &SystemClock).expect("again");
    assert_eq!(again.new_events, 0, "import is idempotent");
    let t = him.episode_timeline(&him_session, Some(&episode), &SystemClock).expect("timeline at HIM");
    let calls: Vec<(&str, &str, bool)> =
        t.contacts.iter().map(|c| (c.by.as_str(), c.name.as_str(), c.acknowledged)).collect();
    assert_eq!(calls, vec![(CHARGE.0, "IT help desk", false), (CHARGE.0, "Clinical IT lead on call", true)]);
    let carried: i64 = him_tv
        .raw()
        .query_row(
            "SELECT count(*) FROM handoff_audit WHERE action IN ('episode.contact_called', 'episode.contact_acknowledged')",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(carried, 2, "the workstation's audit rows came along");

    // A drill's report lists the calls.
    let tv = TestVault::new();
    with_ladder(&tv, json!({}));
    let clock = FixedClock::new(datetime!(2026-12-07 14:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    ws.start_episode(&charge, Kind::Drill, Declaration::default(), &clock).expect("drill");
    clock.advance(Duration::minutes(4));
    ws.record_contact(&charge, "help-desk", false, &clock).expect("called");
    ws.end_episode(&charge, &clock).expect("end");
    let pdf = ws.drill_report(&charge, None, &clock).expect("report");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.pdf");
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let text = squash(&pages_text(&file).join(" "));
    assert!(text.contains("Contact called 2026-12-07 14:04 UTC IT help desk (recorded by kcharge)"), "{text}");
}

#[test]
fn the_demo_unit_ships_an_escalation_file() {
    let dir = tempfile::tempdir().expect("dir");
    let vault = dir.path().join("vault");
    let run = |who: Option<(&str, &str)>, args: &[&str]| {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", &vault).env("DTK_NEW_PASSWORD", "it-admin-pass-1").args(args);
        if let Some((u, p)) = who {
            cmd.env("DTK_USER", u).env("DTK_PASSWORD", p);
        }
        cmd.output().expect("run dtk")
    };
    let key = dir.path().join("recovery.txt");
    let out = run(None, &["init", "--admin", "it.admin", "--demo", "--recovery-key-out", key.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let site: Value =
        serde_json::from_slice(&std::fs::read(vault.join("site.json")).expect("site.json")).expect("json");
    assert_eq!(site["escalation_file"], "escalation.json");
    assert!(site["temp_mrn_block"].is_object(), "the demo's MRN block is still written");
    let charge = ("demo.charge", dtk::api::DEMO_PASSWORD);
    let out = run(Some(charge), &["episode", "contacts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Call now: level 1, First call"), "the demo drill's ladder: {text}");
    assert!(text.contains("IT help desk") && text.contains("555-0100"), "{text}");
}

/// tests/contract/escalation.json: the ladder's state in each case, as the UI's in-memory double must also compute it
/// (ui/src/lib/backend/escalation-contract.test.ts).
#[test]
fn the_core_gives_every_expected_ladder_state_of_the_contract() {
    let text = std::fs::read_to_string(repo_root().join("tests/contract/escalation.json")).expect("contract");
    let contract: Value = serde_json::from_str(&text).expect("json");
    let file = dtk::escalation::Escalation::parse("contract", contract["file"].to_string().as_bytes()).expect("valid");
    let at = |v: &Value| dtk::clock::parse_stamp(v.as_str().expect("stamp")).expect("time");
    let cases = contract["cases"].as_array().expect("cases");
    assert!(cases.len() >= 7);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let severity = case["declared_severity"].as_str().map(|s| Severity::parse(s).expect("severity"));
        let changes: Vec<(time::OffsetDateTime, Severity)> = case["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| (at(&c[0]), Severity::parse(c[1].as_str().expect("s")).expect("severity")))
            .collect();
        let affected: Vec<String> = serde_json::from_value(case["affected"].clone()).expect("affected");
        let calls: Vec<dtk::procedures::ContactCall> = case["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| dtk::procedures::ContactCall {
                at: dtk::clock::stamp(at(&c["at"])),
                by: "kcharge".into(),
                contact: c["contact"].as_str().expect("contact").into(),
                name: c["contact"].as_str().expect("contact").into(),
                acknowledged: c["acknowledged"].as_bool().expect("bool"),
            })
            .collect();
        let s = dtk::escalation::ladder_state(
            &file,
            &dtk::escalation::LadderFacts {
                declared_at: at(&case["declared_at"]),
                declared_severity: severity,
                changes: &changes,
                affected: &affected,
                calls: &calls,
                now: at(&case["now"]),
            },
        );
        let e = &case["expected"];
        let statuses: Vec<Value> = s.levels.iter().map(|l| serde_json::to_value(l.status).expect("status")).collect();
        assert_eq!(Value::from(statuses), e["statuses"], "{name}");
        assert_eq!(s.current.map(|c| c as u64), e["current"].as_u64(), "{name}");
        assert_eq!(
            s.next_escalation_due.as_deref().and_then(dtk::clock::parse_stamp),
            e["next_escalation_due"].as_str().map(|d| at(&Value::from(d))),
            "{name}"
        );
        assert_eq!(s.call_now, e["call_now"].as_bool().expect("call_now"), "{name}");
        assert_eq!(s.overdue, e["overdue"].as_bool().expect("overdue"), "{name}");
        assert_eq!(s.acknowledged.map(|a| a.contact), e["acknowledged"].as_str().map(str::to_string), "{name}");
    }
}
