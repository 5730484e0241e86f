//! The downtime procedure: severity, the unit's checklist as data, status updates and the episode timeline, with a
//! scripted clock so the times in the report are exactly the times of the script.

use dtk::api::{EntryOptions, ErrorCode, Workstation};
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk::procedures::{Checklist, Severity};
use serde_json::json;
use time::macros::datetime;
use time::Duration;

use crate::support::*;

#[test]
fn fail_broken_checklists_with_the_step_and_reason() {
    let cases = [
        (r#"{"id":"x","version":"1","title":"T","steps":[]}"#, "the checklist has no steps"),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"charge","text":"Do"},{"id":"a","phase":"during","role":"nurse","text":"Again"}]}"#,
            "step 'a': duplicate step id",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"janitor","text":"Do"}]}"#,
            "unknown variant `janitor`",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"later","role":"charge","text":"Do"}]}"#,
            "unknown variant `later`",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a b","phase":"declare","role":"charge","text":"Do"}]}"#,
            "step 'a b': the id must be",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"charge","text":" "}]}"#,
            "step 'a': the text must be",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"charge","text":"Do","due_minutes":0}]}"#,
            "step 'a': due_minutes",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"charge","text":"Do \u202e evil"}]}"#,
            "text-direction",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"declare","role":"charge","text":"Do","colour":"red"}]}"#,
            "unknown field `colour`",
        ),
        (r#"{"id":"x""#, "not valid JSON"),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"during","role":"charge","text":"Do","systems":["lab result"]}]}"#,
            "step 'a': systems: 'lab result' is not one of the systems a declaration names (EHR, lab results,",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"during","role":"charge","text":"Do","systems":["EHR","ehr"]}]}"#,
            "step 'a': systems: 'EHR' is given twice",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"during","role":"charge","text":"Do","severities":["P1","P1"]}]}"#,
            "step 'a': a severity is given twice",
        ),
        (
            r#"{"id":"x","version":"1","title":"T","steps":[{"id":"a","phase":"during","role":"charge","text":"Do","severities":["P5"]}]}"#,
            "unknown variant `P5`",
        ),
    ];
    for (json, expect) in cases {
        let problems = Checklist::parse("unit-checklist.json", json.as_bytes()).expect_err(json);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.starts_with("unit-checklist.json: ") && t.contains(expect)), "{json}: {text:?}");
    }
}

#[test]
fn a_hospital_checklist_needs_no_code_change_and_a_broken_one_falls_back() {
    let tv = TestVault::new();
    let own = tv.path().join("our-checklist.json");
    std::fs::write(
        &own,
        json!({ "id": "icu", "version": "2", "title": "ICU downtime", "steps": [
            { "id": "call-bed-board", "phase": "declare", "role": "charge", "text": "Call the bed board.", "due_minutes": 10 },
            { "id": "paper-flowsheets", "phase": "during", "role": "nurse", "text": "Start paper flowsheets." } ] })
        .to_string(),
    )
    .expect("write");
    std::fs::write(tv.path().join("site.json"), json!({ "checklist_file": own }).to_string()).expect("site");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    assert_eq!(ws.checklist().id, "icu");
    ws.start_episode(&charge, Kind::Real, Declaration::default(), &SystemClock).expect("start");
    ws.tick_step(&charge, "call-bed-board", None, &SystemClock).expect("tick a step the hospital wrote");
    assert_eq!(
        ws.tick_step(&charge, "confirm-scope", None, &SystemClock).err().map(|e| e.code),
        Some(ErrorCode::NotFound)
    );

    std::fs::write(&own, b"{ broken").expect("break it");
    let ws = Workstation::open(tv.path()).expect("a broken checklist does not stop the workstation");
    assert_eq!(ws.checklist().id, "unit-downtime", "the built-in checklist is used");
    assert!(ws.checklist_problems()[0].to_string().contains("our-checklist.json: not valid JSON"));
}

/// Issue 21 item 4: a step for some severities or some affected systems applies only to those outages. In a P3 EHR
/// outage the lab and the P1 steps are "not for this outage": never overdue, not counted in the update, not missed in
/// the review; an escalation to P1 brings the P1 step in, due from the escalation.
#[test]
fn checklist_steps_apply_only_to_the_outages_they_are_for() {
    let tv = TestVault::new();
    let own = tv.path().join("our-checklist.json");
    std::fs::write(
        &own,
        json!({ "id": "icu", "version": "3", "title": "ICU downtime", "steps": [
            { "id": "confirm-scope", "phase": "declare", "role": "charge", "text": "Confirm the scope.", "due_minutes": 15 },
            { "id": "lab-by-phone", "phase": "during", "role": "charge", "due_minutes": 30, "systems": ["lab results"],
              "text": "Agree with the lab that every result is phoned." },
            { "id": "call-command-centre", "phase": "during", "role": "charge", "due_minutes": 30,
              "severities": ["P1"], "systems": ["EHR", "network"], "text": "Call the hospital command centre." } ] })
        .to_string(),
    )
    .expect("write");
    std::fs::write(tv.path().join("site.json"), json!({ "checklist_file": own }).to_string()).expect("site");
    let t0 = datetime!(2026-11-21 17:00 UTC);
    let clock = FixedClock::new(t0);
    let mut ws = Workstation::open(tv.path()).expect("open");
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    assert!(ws.checklist_problems().is_empty(), "{:?}", ws.checklist_problems());
    let declaration = Declaration { severity: Some(Severity::P3), affected: vec!["ehr".into()], ..Default::default() };
    ws.start_episode(&charge, Kind::Real, declaration, &clock).expect("declare a P3 EHR outage");
    clock.advance(Duration::minutes(45));
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    let state = |id: &str| {
        let s = status.steps.iter().find(|s| s.step.id == id).expect(id);
        (s.applies, s.overdue, s.due_at.clone())
    };
    assert_eq!(state("confirm-scope"), (true, true, Some("2026-11-21T17:15:00.000Z".into())));
    assert_eq!(state("lab-by-phone"), (false, false, None), "the lab is not affected");
    assert_eq!(state("call-command-centre"), (false, false, None), "a P1 step in a P3 outage");
    assert_eq!(status.overdue_steps, 1);
    let draft = ws.draft_status_update(&charge, &clock).expect("draft");
    assert!(draft.contains("checklist 0 of 1 steps done"), "{draft}");

    // The CLI marks them and says what they are for.
    let out = tv.dtk(Some(CHARGE), &["episode", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("[-] lab-by-phone")
                && l.contains("(not for this outage: when lab results is affected)")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("[!] confirm-scope")), "{text}");

    // Escalated to P1 at +45: the P1 step applies from now, due 30 minutes later.
    ws.change_severity(&charge, Severity::P1, None, &clock).expect("escalate");
    clock.advance(Duration::minutes(20));
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    let p1 = status.steps.iter().find(|s| s.step.id == "call-command-centre").expect("step");
    assert!(p1.applies && !p1.overdue, "due at +75, it is +65");
    assert_eq!(p1.due_at.as_deref(), Some("2026-11-21T18:15:00.000Z"));
    clock.advance(Duration::minutes(15));
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    assert!(status.steps.iter().any(|s| s.step.id == "call-command-centre" && s.overdue));

    ws.end_episode(&charge, &clock).expect("recovery");
    let t = ws.episode_timeline(&charge, None, &clock).expect("timeline");
    assert_eq!(
        t.missed,
        vec!["confirm-scope".to_string(), "call-command-centre".to_string()],
        "the lab step is not missed"
    );
}

/// Issue 21 item 3: the site's response targets per severity are measured on the episode (time to declare from when
/// the outage began, time to the first electronic entry, every interval between status updates, sooner after an
/// escalation); the status counts the missed ones, the CLI and the drill report name them.
#[test]
fn response_targets_per_severity_are_measured_and_the_missed_ones_shown() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("site.json"),
        json!({ "response_targets": {
            "P1": { "declare_minutes": 10, "update_minutes": 30, "first_entry_minutes": 10 },
            "P2": { "declare_minutes": 30, "update_minutes": 60, "first_entry_minutes": 20 } } })
        .to_string(),
    )
    .expect("site");
    let t0 = datetime!(2026-11-21 17:00 UTC);
    let clock = FixedClock::new(t0);
    let mut ws = Workstation::open(tv.path()).expect("open");
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).expect("nurse");
    ws.import_census(&charge, &census_bytes(), &clock).expect("census");
    let declaration = |began: &str| Declaration {
        severity: Some(Severity::P2),
        affected: vec!["EHR".into()],
        began_at: Some(began.into()),
        ..Default::default()
    };
    let future = ws.start_episode(&charge, Kind::Drill, declaration("2026-11-21T17:30:00.000Z"), &clock);
    assert_eq!(future.err().map(|e| e.code), Some(ErrorCode::InvalidInput), "an outage that begins in the future");
    // The EHR went down at 16:15; declared at 17:00: 45 minutes against P2's 30.
    ws.start_episode(&charge, Kind::Drill, declaration("2026-11-21T16:15:00.000Z"), &clock).expect("declare");
    clock.advance(Duration::minutes(25));
    ws.add_entry(&nurse, &sample_response("vital-signs"), &EntryOptions { sign: true, ..Default::default() }, &clock)
        .expect("first entry at +25, against 20");
    clock.advance(Duration::minutes(25));
    ws.save_status_update(&charge, "Update one", None, &clock).expect("update at +50, within 60");
    clock.advance(Duration::minutes(20));
    ws.change_severity(&charge, Severity::P1, None, &clock).expect("escalate at +70: the next update is due at +100");
    clock.advance(Duration::minutes(25));

    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    let seen = |targets: &[dtk::targets::TargetCheck]| -> Vec<(String, bool, Option<String>, Option<i64>)> {
        targets.iter().map(|c| (c.label.clone(), c.missed, c.due_at.clone(), c.minutes)).collect()
    };
    let at = |t: &str| Some(format!("2026-11-21T{t}:00.000Z"));
    assert_eq!(
        seen(&status.targets),
        vec![
            ("Declared".to_string(), true, at("16:45"), Some(45)),
            ("First electronic entry".to_string(), true, at("17:20"), Some(25)),
            ("Status update 1".to_string(), false, at("18:00"), Some(50)),
            ("Status update 2".to_string(), false, at("18:40"), Some(45)),
        ],
        "at +95 the second update is not yet due (+100)"
    );
    assert_eq!(status.missed_targets, 2);
    clock.advance(Duration::minutes(10));
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    assert!(status.targets.iter().any(|c| c.label == "Status update 2" && c.missed && c.severity == Severity::P1));
    assert_eq!(status.missed_targets, 3);

    let out = tv.dtk(Some(CHARGE), &["episode", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("target: Declared within 30 min (P2): MISSED, took 45 min"), "{text}");
    assert!(text.contains("target: Status update 1 within 60 min (P2): met, took 50 min"), "{text}");

    ws.end_episode(&charge, &clock).expect("recovery at +105");
    let pdf = ws.drill_report(&charge, None, &clock).expect("drill report");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("drill.pdf");
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let text = pages_text(&file).join(" ");
    for expect in ["Response targets", "Response target missed", "Declared (P2: within 30 min, took 45 min)"] {
        assert!(text.contains(expect), "'{expect}' not in the drill report:\n{text}");
    }

    // Without a start given, time to declare is shown as not measured, never as met.
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.start_episode(&charge, Kind::Real, Declaration { severity: Some(Severity::P3), ..Default::default() }, &clock)
        .expect("declare");
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    let declared = status.targets.iter().find(|c| c.kind == "declare").expect("declare target (built-in P3)");
    assert_eq!(declared.not_measured, Some("the declaration does not say when the outage began"));
    assert!(!declared.missed);
}

/// tests/contract/targets.json: the core's measurement of the built-in response targets, case by case (the UI's
/// in-memory double runs the same file).
#[test]
fn response_targets_agree_with_the_contract() {
    use dtk::targets::{response_targets, TargetFacts};
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("tests/contract/targets.json")).expect("file"))
            .expect("json");
    let time = |v: &serde_json::Value| v.as_str().and_then(dtk::clock::parse_stamp);
    let severity = |v: &serde_json::Value| v.as_str().and_then(Severity::parse);
    let targets = dtk::site::default_response_targets();
    let mut wrong = Vec::new();
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let changes: Vec<(time::OffsetDateTime, Severity)> = case["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| (time(&c[0]).expect("at"), severity(&c[1]).expect("severity")))
            .collect();
        let mut updates: Vec<time::OffsetDateTime> =
            case["updates"].as_array().expect("updates").iter().map(|u| time(u).expect("at")).collect();
        updates.sort();
        let first = case["first_entry_at"].as_str().map(|t| dtk::clock::stamp(dtk::clock::parse_stamp(t).expect("t")));
        let began = case["began_at"].as_str().map(|t| dtk::clock::stamp(dtk::clock::parse_stamp(t).expect("t")));
        let got = response_targets(&TargetFacts {
            targets: &targets,
            declared_at: time(&case["declared_at"]).expect("declared"),
            declared_severity: severity(&case["declared_severity"]),
            began_at: began.as_deref(),
            changes,
            updates,
            first_entry_at: first.as_deref(),
            until: time(&case["until"]).expect("until"),
        });
        let got: Vec<serde_json::Value> = got
            .iter()
            .map(|c| {
                json!({"kind": c.kind, "label": c.label, "severity": c.severity.code(), "target_minutes": c.target_minutes,
                       "due_at": c.due_at.as_deref().and_then(dtk::clock::parse_stamp).map(|t| t.unix_timestamp()),
                       "done_at": c.done_at.as_deref().and_then(dtk::clock::parse_stamp).map(|t| t.unix_timestamp()),
                       "minutes": c.minutes, "missed": c.missed})
            })
            .collect();
        let want: Vec<serde_json::Value> = case["expected"]
            .as_array()
            .expect("expected")
            .iter()
            .map(|e| {
                let mut e = e.clone();
                for k in ["due_at", "done_at"] {
                    e[k] = json!(time(&e[k]).map(|t| t.unix_timestamp()));
                }
                e
            })
            .collect();
        if got != want {
            wrong.push(format!("{name}:\n  core: {got:?}\n  case: {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn status_update_draft_says_severity_affected_workflows_and_next_update() {
    let tv = TestVault::new();
    let clock = FixedClock::new(datetime!(2026-11-21 15:00 UTC));
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let declaration = Declaration {
        reason: Some("ransomware".into()),
        severity: Some(Severity::P2),
        affected: vec!["EHR".into(), "lab results".into(), "pharmacy".into()],
        impact: Some("Results by phone only; medication history unavailable.".into()),
        next_update_due: Some("2026-11-21T15:30:00Z".into()),
        began_at: None,
    };
    ws.start_episode(&charge, Kind::Real, declaration, &clock).expect("start");
    clock.advance(Duration::minutes(20));
    let draft = ws.draft_status_update(&charge, &clock).expect("draft");
    for expect in [
        "Severity: P2 (workflow disrupted; a workaround is available)",
        "EHR, lab results, pharmacy",
        "Next update: 15:30 UTC",
        "Results by phone only",
        "Patient-safety risk: Moderate",
    ] {
        assert!(draft.contains(expect), "missing '{expect}' in:\n{draft}");
    }
    assert!(!draft.contains("DRILL"));
    let nothing_kept = ws.print_status_update(&charge, &clock).expect_err("nothing kept yet");
    assert_eq!(nothing_kept.code, ErrorCode::NotFound, "only a kept update is printed: {}", nothing_kept.message);
    ws.change_severity(&charge, Severity::P1, Some("pharmacy system also down".into()), &clock).expect("escalate");
    let edited = format!("{draft}\nCharge nurse: pharmacy runner assigned.");
    ws.save_status_update(&charge, &edited, Some(60), &clock).expect("keep");

    // Printed for leaders: what was kept, with the severity now and the next update time, on every page's frame.
    let pdf = ws.print_status_update(&charge, &clock).expect("print the kept update");
    let dir = tempfile::tempdir().expect("dir");
    let file = match std::env::var_os("DTK_KEEP_REPORTS") {
        Some(keep) => std::path::PathBuf::from(keep).join("status-update.pdf"),
        None => dir.path().join("update.pdf"),
    };
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let pages = pages_text(&file);
    assert_eq!(pages.len(), pdf.pages);
    let text = squash(&pages.join(" "));
    for expect in [
        "Downtime status update",
        "Severity now P1",
        "EHR, lab results, pharmacy",
        "Next update due 2026-11-21 16:20 UTC",
        "Charge nurse: pharmacy runner assigned.",
        "Results by phone only",
        "Page 1 of",
    ] {
        assert!(text.contains(expect), "'{expect}' not in the printed update:\n{text}");
    }
    assert!(!text.contains("DRILL"), "a real episode's update is not marked DRILL");
    let printed: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'episode.status_update_printed'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(printed, 1, "printing the update is audited");
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    assert_eq!(status.severity, Some(Severity::P1), "the banner shows the escalation");
    assert_eq!(status.next_update_due.as_deref(), Some("2026-11-21T16:20:00.000Z"));
    assert_eq!(status.updates.len(), 1);
    assert!(!status.update_overdue);
    clock.advance(Duration::minutes(61));
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    assert!(status.update_overdue, "a status update past its time is visible");
    let changes: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'episode.severity_changed'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(changes, 1, "every severity change is audited");
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    assert_eq!(wsn.tick_step(&nurse, "confirm-scope", None, &clock).err().map(|e| e.code), Some(ErrorCode::Forbidden));
    assert!(wsn.episode_status(&nurse, &clock).expect("nurses see the episode").is_some());
}

/// A scripted drill from declaration to recovery: the timeline has exactly the script's times.
#[test]
fn drill_timeline_has_the_scripted_times() {
    let tv = TestVault::new();
    let t0 = datetime!(2026-11-21 17:00 UTC);
    let clock = FixedClock::new(t0);
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let nurse = ws.sign_in(NURSE.0, &Password::new(NURSE.1.into()), &clock).expect("nurse");
    ws.import_census(&charge, &census_bytes(), &clock).expect("census");
    let declaration = Declaration {
        severity: Some(Severity::P3),
        affected: vec!["EHR".into()],
        next_update_due: Some("2026-11-21T17:30:00.000Z".into()),
        ..Default::default()
    };
    ws.start_episode(&charge, Kind::Drill, declaration, &clock).expect("drill");
    clock.advance(Duration::minutes(5));
    ws.tick_step(&charge, "confirm-scope", None, &clock).expect("tick");
    ws.print_census(&charge, &clock).expect("census sheet printed at +5");
    clock.advance(Duration::minutes(10));
    ws.add_entry(&nurse, &sample_response("vital-signs"), &EntryOptions { sign: true, ..Default::default() }, &clock)
        .expect("first entry at +15");
    clock.advance(Duration::minutes(5));
    ws.change_severity(&charge, Severity::P2, None, &clock).expect("escalate at +20");
    ws.tick_step(&charge, "declare-severity", None, &clock).expect("tick at +20");
    clock.advance(Duration::minutes(25));
    ws.add_entry(&charge, &sample_response("nursing-note"), &EntryOptions { sign: true, ..Default::default() }, &clock)
        .expect("entry at +45");
    let status = ws.episode_status(&charge, &clock).expect("status").expect("open");
    assert!(status.drill);
    assert!(status.steps.iter().any(|s| s.step.id == "print-census-mar" && s.overdue), "due at +30, not done at +45");
    clock.advance(Duration::minutes(75));
    ws.end_episode(&charge, &clock).expect("recovery at +120");

    let t = ws.episode_timeline(&charge, None, &clock).expect("timeline");
    assert!(t.drill);
    assert_eq!(t.declared_at, "2026-11-21T17:00:00.000Z");
    assert_eq!(t.first_entry_at.as_deref(), Some("2026-11-21T17:15:00.000Z"));
    assert_eq!(t.minutes_to_first_entry, Some(15));
    assert_eq!(t.escalations, vec![("2026-11-21T17:20:00.000Z".to_string(), Severity::P2)]);
    assert_eq!(t.minutes_to_recovery, Some(120));
    assert_eq!(t.entries, 2);
    assert_eq!(t.entries_per_user.get(NURSE.0), Some(&1));
    assert_eq!(t.entries_per_user.get(CHARGE.0), Some(&1));
    assert_eq!(t.entries_per_hour, Some(1.0));
    let done: Vec<(&str, Option<&str>)> =
        t.steps.iter().filter(|s| s.done_at.is_some()).map(|s| (s.step.id.as_str(), s.done_at.as_deref())).collect();
    assert_eq!(
        done,
        vec![
            ("confirm-scope", Some("2026-11-21T17:05:00.000Z")),
            ("declare-severity", Some("2026-11-21T17:20:00.000Z"))
        ]
    );
    assert!(t.missed.contains(&"print-census-mar".to_string()) && t.missed.contains(&"handoff-to-him".to_string()));
    assert_eq!(t.forms_printed, 1);
    assert_eq!(t.missed_updates, vec!["2026-11-21T17:30:00.000Z".to_string()], "no update was kept");

    // The drill report: the same times on paper, DRILL on every page.
    clock.advance(Duration::minutes(10));
    let pdf = ws.drill_report(&charge, None, &clock).expect("drill report");
    let dir = tempfile::tempdir().expect("dir");
    let file = match std::env::var_os("DTK_KEEP_REPORTS") {
        Some(keep) => std::path::PathBuf::from(keep).join("drill-report.pdf"),
        None => dir.path().join("drill.pdf"),
    };
    std::fs::write(&file, &pdf.bytes).expect("pdf");
    let pages = pages_text(&file);
    assert_eq!(pages.len(), pdf.pages);
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains("DRILL") && page.contains("Drill report"), "page {i}: {page}");
        assert!(page.contains(&format!("Page {} of {}", i + 1, pages.len())), "page {i}");
    }
    let text = pages.join(" ");
    let list = ws.checklist().clone();
    let step = |id: &str| list.steps.iter().find(|s| s.id == id).map(|s| squash(&s.text)).expect("step");
    for expect in [
        "2026-11-21 17:00 UTC".to_string(),
        "2026-11-21 17:15 UTC (15 min after declaration)".into(),
        "2026-11-21 17:20 UTC → P2".into(),
        "2026-11-21 19:00 UTC (time to recovery 2 h 00 min)".into(),
        "2026-11-21 17:05 UTC by kcharge".into(),
        "2026-11-21 17:20 UTC by kcharge".into(),
        "Status update overdue".into(),
        "was due 2026-11-21 17:30 UTC".into(),
        "Checklist step not ticked".into(),
        step("confirm-scope"),
        step("print-census-mar"),
        "Forms and sheets printed 1".into(),
    ] {
        assert!(text.contains(&expect), "'{expect}' not in the drill report:\n{text}");
    }
    let per_user = text.split("Entries per user").nth(1).expect("entries per user section");
    assert!(per_user.contains("jnurse") && per_user.contains("kcharge"), "{per_user}");
    assert!(!text.contains("Handed off to HIM"), "a drill never reaches HIM");
    let audited: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'episode.drill_report'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(audited, 1);
    let real_unit = TestVault::charting();
    let (mut real, real_charge) = real_unit.sign_in(CHARGE);
    let none = real.drill_report(&real_charge, None, &clock).expect_err("no drill here");
    assert_eq!(none.code, ErrorCode::NotFound);
    let episode = real.current_episode(&real_charge).expect("episode").expect("open").id;
    let refused = real.drill_report(&real_charge, Some(&episode), &clock).expect_err("a real episode");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
}
