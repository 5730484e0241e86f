//! The review of every episode (issue 21 item 6): the charge nurse writes the clinical impact and the follow-up
//! actions of a real downtime (not only a drill), kept with the episode as versions, audited without the words,
//! printed with the timeline, response targets, decisions, checklist with times, entries per hour and what was
//! missed (`dtk episode review --out review.pdf`), and handed off to HIM, whose reconciliation report shows it.

use dtk::api::ErrorCode;
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::{Declaration, Kind};
use dtk::procedures::Severity;
use serde_json::json;
use time::macros::datetime;
use time::Duration;

use crate::support::*;

const IMPACT: &str =
    "Two scheduled doses were given 40 minutes late while the paper MAR was found.\nNo harm reached a patient.";
const RESTOCK: &str = "Restock paper MAR packs on 5 East - unit educator, by Friday";
const DRILL_MORE: &str = "Run a night-shift drill within a month - nurse manager";

fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("review.pdf");
    std::fs::write(&file, bytes).expect("pdf");
    squash(&pages_text(&file).join(" "))
}

#[test]
fn a_real_downtime_is_reviewed_with_its_clinical_impact_and_follow_ups_kept_as_versions_and_printed() {
    let tv = TestVault::new();
    let clock = FixedClock::new(datetime!(2026-12-07 01:00 UTC));
    let mut ws = tv.open();
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &clock).expect("charge");
    let declaration = Declaration { severity: Some(Severity::P2), ..Declaration::default() };
    let ep = ws.start_episode(&charge, Kind::Real, declaration, &clock).expect("a real downtime");
    clock.advance(Duration::minutes(20));
    ws.record_decision(&charge, "Switched to paper MAR for ICU", &clock).expect("decision");
    clock.advance(Duration::hours(3));
    ws.end_episode(&charge, &clock).expect("recovery");

    let none = ws.episode_reviews(&charge).expect("reviews");
    assert_eq!(none.len(), 1);
    assert!(none[0].review.is_none() && !none[0].drill, "a real episode, no review yet");

    clock.advance(Duration::hours(10));
    let first = ws
        .write_review(&charge, None, "  First draft  ", &[format!("  {RESTOCK}  "), "   ".into()], &clock)
        .expect("first version");
    let r = first.review.expect("kept");
    assert_eq!((r.review.impact.as_str(), r.versions), ("First draft", 1), "trimmed");
    assert_eq!(r.review.follow_ups, vec![RESTOCK.to_string()], "an empty line is no action");
    clock.advance(Duration::minutes(30));
    ws.write_review(&charge, Some(&ep.id), IMPACT, &[RESTOCK.into(), DRILL_MORE.into()], &clock).expect("second");

    let listed = ws.episode_reviews(&charge).expect("reviews");
    let kept = listed[0].review.as_ref().expect("review");
    assert_eq!((kept.review.impact.as_str(), kept.versions, kept.by.as_str()), (IMPACT, 2, CHARGE.0));
    assert_eq!(kept.at, "2026-12-07T14:50:00.000Z", "after the episode ended");
    assert_eq!(kept.review.follow_ups, vec![RESTOCK.to_string(), DRILL_MORE.to_string()]);

    let rows = audited(&ws, &charge, "episode.review_written");
    assert_eq!(rows.len(), 2, "each version is audited");
    assert_eq!(rows[1]["target"], format!("episodes:{}", ep.id));
    assert_eq!(rows[1]["detail"], json!({ "kind": "review", "impact_chars": IMPACT.chars().count(), "follow_ups": 2 }));
    assert!(!rows[1].to_string().contains("paper MAR was found"), "the audit log keeps sizes, not the words");

    let pdf = ws.review_report(&charge, None, &clock).expect("review PDF");
    let text = pdf_text(&pdf.bytes);
    for expect in [
        "Downtime review",
        "A blameless review",
        "Clinical impact and follow-up actions",
        "Two scheduled doses were given 40 minutes late while the paper MAR was found.",
        "No harm reached a patient.",
        RESTOCK,
        DRILL_MORE,
        "Written by kcharge at 2026-12-07 14:50 UTC (version 2 of the review)",
        "Decision 2026-12-07 01:20 UTC Switched to paper MAR for ICU (kcharge)",
        "Response targets",
        "Entries per hour",
        "What was missed",
        "No electronic entry nobody charted on downtime forms during the episode",
    ] {
        assert!(text.contains(&squash(expect)), "'{expect}' not in the review:\n{text}");
    }
    assert!(!text.contains("DRILL"), "a real downtime's review is not marked DRILL:\n{text}");
    assert_eq!(audited(&ws, &charge, "episode.review_printed").len(), 1, "printing is audited");
}

#[test]
fn the_review_counts_entries_per_hour_and_a_drill_review_is_marked_drill() {
    let tv = TestVault::charting();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    nursing_note(&mut wsn, &nurse, "DEV2001");
    nursing_note(&mut wsn, &nurse, "DEV2002");
    let t = ws.episode_timeline(&charge, None, &SystemClock).expect("timeline");
    assert_eq!(t.entries_per_period.period, "hour");
    let counted: usize = t.entries_per_period.counts.iter().map(|c| c.1).sum();
    assert_eq!(counted, 2, "every entry is in an hour: {:?}", t.entries_per_period);
    let pdf = ws.review_report(&charge, None, &SystemClock).expect("interim review");
    let text = pdf_text(&pdf.bytes);
    assert!(text.contains("The episode is still open: this is an interim review"), "{text}");
    assert!(text.contains("Not written yet"), "{text}");
    ws.end_episode(&charge, &SystemClock).expect("end");

    ws.start_episode(&charge, Kind::Drill, Declaration::default(), &SystemClock).expect("drill");
    ws.write_review(&charge, None, "Paper forms were in the wrong drawer.", &[], &SystemClock).expect("drill review");
    let pdf = ws.review_report(&charge, None, &SystemClock).expect("drill review PDF");
    let text = pdf_text(&pdf.bytes);
    assert!(text.contains("Drill review") && text.contains("DRILL"), "{text}");
    assert!(text.contains("Paper forms were in the wrong drawer."), "{text}");
    let reviews = ws.episode_reviews(&charge).expect("reviews");
    assert_eq!(reviews.len(), 2, "newest first: the drill, then the real episode");
    assert!(reviews[0].drill && reviews[0].review.is_some() && reviews[1].review.is_none());
}

#[test]
fn fail_a_review_that_is_empty_too_long_for_no_episode_or_written_by_a_nurse() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let e = ws.write_review(&charge, None, IMPACT, &[], &SystemClock).expect_err("no episode yet");
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("there is no episode on this workstation to review"), "{}", e.message);
    ws.start_episode(&charge, Kind::Real, Declaration::default(), &SystemClock).expect("start");
    let long = format!("secret-{}", "x".repeat(4_000));
    let cases: [(&str, Vec<String>, &str); 4] = [
        (" ", vec![" ".into()], "the review is empty"),
        (long.as_str(), vec![], "the clinical impact is over 4000 characters"),
        ("", vec!["ok".into(), "secret\nsecond line".into()], "follow-up action 2 is more than one line"),
        ("", vec![format!("secret {}", "y".repeat(300))], "follow-up action 1 is over 300 characters"),
    ];
    for (impact, follow_ups, expect) in cases {
        let e = ws.write_review(&charge, None, impact, &follow_ups, &SystemClock).expect_err(expect);
        assert_eq!(e.code, ErrorCode::InvalidInput, "{expect}");
        assert!(e.message.contains(expect), "{}", e.message);
        assert!(!e.message.contains("secret"), "the error never repeats the text");
    }
    let e = ws.write_review(&charge, Some("no-such-episode"), IMPACT, &[], &SystemClock).expect_err("unknown");
    assert_eq!(e.code, ErrorCode::NotFound);
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    let e = wsn.write_review(&nurse, None, IMPACT, &[], &SystemClock).expect_err("a nurse");
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(ws.episode_reviews(&charge).expect("reviews")[0].review.is_none(), "nothing refused was kept");
}

#[test]
fn dtk_episode_review_writes_versions_carries_what_was_not_given_and_prints_the_pdf() {
    let tv = TestVault::new();
    let ok = |o: &std::process::Output| assert!(o.status.success(), "{}", stderr(o));
    ok(&tv.dtk(Some(CHARGE), &["episode", "start", "--severity", "P3", "--affected", "lab results"]));
    ok(&tv.dtk(Some(CHARGE), &["episode", "end"]));

    let o = tv.dtk(Some(CHARGE), &["episode", "review"]);
    ok(&o);
    assert!(stdout(&o).contains("no review written yet"), "{}", stdout(&o));

    let o = tv.dtk(Some(CHARGE), &["episode", "review", "--impact", "Lab results by phone for 3 hours; no harm."]);
    ok(&o);
    assert!(stdout(&o).contains("kept (version 1)"), "{}", stdout(&o));
    let o = tv.dtk(Some(CHARGE), &["episode", "review", "--follow-up", RESTOCK, "--follow-up", DRILL_MORE]);
    ok(&o);
    assert!(stdout(&o).contains("kept (version 2)"), "{}", stdout(&o));

    let shown = stdout(&tv.dtk(Some(CHARGE), &["episode", "review"]));
    assert!(shown.contains("Clinical impact: Lab results by phone for 3 hours; no harm."), "carried over: {shown}");
    assert!(shown.contains(&format!("Follow-up 1: {RESTOCK}")), "{shown}");
    assert!(shown.contains(&format!("Follow-up 2: {DRILL_MORE}")), "{shown}");

    let pdf = tv.path().join("review.pdf");
    let o = tv.dtk(Some(CHARGE), &["episode", "review", "--out", pdf.to_str().expect("path")]);
    ok(&o);
    assert!(stdout(&o).starts_with("Review written to "), "{}", stdout(&o));
    let text = squash(&pages_text(&pdf).join(" "));
    for expect in ["Downtime review", "Lab results by phone for 3 hours; no harm.", RESTOCK, "Entries per hour"] {
        assert!(text.contains(&squash(expect)), "'{expect}' not in:\n{text}");
    }
    let long = "z".repeat(301);
    let e = tv.dtk(Some(CHARGE), &["episode", "review", "--follow-up", &long]);
    assert!(!e.status.success(), "an over-long action is refused");
    assert!(stderr(&e).contains("follow-up action 1 is over 300 characters"), "{}", stderr(&e));
    let o = tv.dtk(Some(NURSE), &["episode", "review", "--impact", "Nurse writes"]);
    assert!(!o.status.success(), "a nurse writes no review");
}

#[test]
fn a_review_travels_to_him_even_when_written_after_the_first_handoff_and_the_report_shows_it() {
    let him_tv = TestVault::new();
    let (mut him, him_session) = him_tv.sign_in(HIM);
    let public_key = him.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;

    let tv = TestVault::charting();
    std::fs::write(tv.path().join("site.json"), json!({ "him_public_key": public_key }).to_string()).expect("site");
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    nursing_note(&mut wsn, &nurse, "DEV2001");
    let episode = ws.current_episode(&charge).expect("episode").expect("open").id;
    ws.end_episode(&charge, &SystemClock).expect("recovery");
    let first = tv.path().join("ws-1.dtkh");
    ws.export_handoff(&charge, &first, None, false, &SystemClock).expect("first handoff");
    him.import_handoff(&him_session, &std::fs::read(&first).expect("file"), &SystemClock).expect("import 1");

    ws.write_review(&charge, None, IMPACT, &[RESTOCK.into()], &SystemClock).expect("review after recovery");
    let second = tv.path().join("ws-2.dtkh");
    ws.export_handoff(&charge, &second, None, false, &SystemClock).expect("second handoff");
    let bytes = std::fs::read(&second).expect("file");
    let imported = him.import_handoff(&him_session, &bytes, &SystemClock).expect("import 2");
    assert_eq!(imported.new_events, 1, "only the review is new");

    let t = him.episode_timeline(&him_session, Some(&episode), &SystemClock).expect("timeline at HIM");
    let r = t.review.expect("the review reached HIM");
    assert_eq!((r.review.impact.as_str(), r.by.as_str()), (IMPACT, CHARGE.0));
    let (_, pdf) = him.reconciliation_report_pdf(&him_session, &SystemClock).expect("reconciliation report");
    let text = pdf_text(&pdf.bytes);
    assert!(text.contains("No harm reached a patient.") && text.contains(RESTOCK), "{text}");
}
