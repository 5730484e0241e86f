//! Unsigned entries never leave the workstation, and now everybody is told (issue 14, item 1): the handoff export
//! names them per author and is refused until the charge nurse confirms (audited), the file carries the count, the
//! HIM import says "workstation X left N unsigned entries", the reconciliation report lists it per workstation (CSV
//! and PDF) from what the HIM station stored, and `dtk episode unsigned` lists them (author, form, age).

use std::path::Path;

use dtk::api::{EntryOptions, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::handoff::{HimKey, UnsignedCount};
use serde_json::json;

use crate::support::*;

/// An HIM station with its handoff key, and a charting workstation whose site configuration names that key.
struct Stations {
    him: TestVault,
    him_ws: Workstation,
    him_session: Session,
    unit: TestVault,
    ws: Workstation,
}

fn stations() -> Stations {
    let him = TestVault::new();
    let (mut him_ws, him_session) = him.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him_session, &SystemClock).expect("keygen").public_key;
    let unit = TestVault::charting();
    std::fs::write(unit.path().join("site.json"), json!({ "him_public_key": key }).to_string()).expect("site.json");
    let ws = unit.open();
    Stations { him, him_ws, him_session, unit, ws }
}

impl Stations {
    fn him_key(&self) -> HimKey {
        HimKey::load(self.him_ws.vault().expect("vault").conn(), self.him_session.keys()).expect("load").expect("key")
    }
}

/// Charts a nursing note observed `hour` hours into the day, signed or left as a draft, as `who`.
fn note(ws: &mut Workstation, who: (&str, &str), hour: i64, sign: bool) -> String {
    let session = ws.sign_in(who.0, &dtk::crypto::Password::new(who.1.into()), &SystemClock).expect("sign in");
    let mut r = sample_response("nursing-note");
    let at = time::macros::datetime!(2026-11-20 00:00 UTC) + time::Duration::hours(hour);
    edit_item(&mut r, "observed-at", |it| it["answer"] = json!([{ "valueDateTime": dtk::clock::stamp(at) }]));
    let opts = EntryOptions { sign, confirm_not_duplicate: true, ..Default::default() };
    ws.add_entry(&session, &r, &opts, &SystemClock).unwrap_or_else(|e| panic!("note at {hour}: {e:?}")).saved.id
}

/// Two drafts by the nurse, one by the charge nurse, one signed note.
fn chart_with_drafts(ws: &mut Workstation) {
    note(ws, NURSE, 1, false);
    note(ws, NURSE, 2, false);
    note(ws, CHARGE, 3, false);
    note(ws, NURSE, 4, true);
}

const BY_AUTHOR: &str = "jnurse 2, kcharge 1";

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_handoff_export_with_unsigned_entries_is_refused_naming_them_until_the_charge_nurse_confirms() {
    let mut s = stations();
    chart_with_drafts(&mut s.ws);
    let out = s.unit.path().join("handoff.dtkh");

    let refused = s.unit.dtk(Some(CHARGE), &["handoff", "export", "--out", arg(&out)]);
    assert_eq!(refused.status.code(), Some(1), "stdout {} stderr {}", stdout(&refused), stderr(&refused));
    let why = stderr(&refused);
    assert!(why.contains(&format!("3 entries of this episode are still unsigned ({BY_AUTHOR})")), "{why}");
    assert!(why.contains("--include-unsigned-count-ok"), "the refusal says how to confirm: {why}");
    assert!(!out.exists(), "a refused export writes no file");

    let ok = s.unit.dtk(Some(CHARGE), &["handoff", "export", "--out", arg(&out), "--include-unsigned-count-ok"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let said = stdout(&ok);
    assert!(said.contains("1 entries"), "only the signed entry is in the file: {said}");
    assert!(said.contains(&format!("unsigned (confirmed): 3 entries ({BY_AUTHOR})")), "{said}");

    // The confirmation is in the audit log, with the counts and no patient data.
    let (ws, charge) = s.unit.sign_in(CHARGE);
    let rows = dtk::audit::plain_rows(ws.vault().expect("vault").conn(), charge.keys()).expect("audit");
    let confirmed: Vec<_> = rows.iter().filter(|r| r.action == "handoff.unsigned_confirmed").collect();
    assert_eq!(confirmed.len(), 1, "one confirmation row");
    assert_eq!(confirmed[0].actor, CHARGE.0);
    assert_eq!(
        confirmed[0].detail,
        json!({ "unsigned": 3, "by_author": [{ "author": "jnurse", "entries": 2 }, { "author": "kcharge", "entries": 1 }] })
    );
    // The confirmation is written before the audit rows go into the file, so HIM gets it too.
    let bytes = std::fs::read(&out).expect("file");
    let (_, payload) = dtk::handoff::read_payload(bytes.as_slice(), &s.him_key()).expect("reads back");
    assert!(payload.audit.iter().any(|a| a.row.action == "handoff.unsigned_confirmed"));
}

#[test]
fn the_handoff_file_carries_the_unsigned_count_and_him_says_which_workstation_left_how_many() {
    let mut s = stations();
    chart_with_drafts(&mut s.ws);
    let out = s.unit.path().join("handoff.dtkh");
    let ok = s.unit.dtk(Some(CHARGE), &["handoff", "export", "--out", arg(&out), "--include-unsigned-count-ok"]);
    assert!(ok.status.success(), "{}", stderr(&ok));

    let bytes = std::fs::read(&out).expect("file");
    let (_, payload) = dtk::handoff::read_payload(bytes.as_slice(), &s.him_key()).expect("reads back");
    let counts = |a: &str, n| UnsignedCount { author: a.into(), entries: n };
    assert_eq!(payload.unsigned, Some(vec![counts("jnurse", 2), counts("kcharge", 1)]), "the end record's count");
    assert_eq!(payload.entries.len(), 1, "drafts still never leave the workstation");

    let workstation = s.ws.workstation_id();
    let imported = s.him.dtk(Some(HIM), &["handoff", "import", arg(&out)]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let said = stdout(&imported);
    assert!(said.contains(&format!("Workstation {workstation} left 3 unsigned entries ({BY_AUTHOR})")), "{said}");

    // The HIM station keeps the count: a later report (another process) lists it per workstation.
    let dir = tempfile::tempdir().expect("dir");
    let (csv, pdf) = (dir.path().join("report.csv"), dir.path().join("report.pdf"));
    let report = s.him.dtk(Some(HIM), &["reconcile", "report", "--csv", arg(&csv), "--pdf", arg(&pdf)]);
    assert!(report.status.success(), "{}", stderr(&report));
    let csv = std::fs::read_to_string(&csv).expect("csv");
    assert!(csv.contains("section,unsigned entries left on workstations"), "{csv}");
    let episode = &payload.episode.id;
    assert!(csv.contains(&format!("{workstation},{episode},1,3,\"{BY_AUTHOR}\"")), "{csv}");
    let text = pages_text(&pdf).join(" ");
    assert!(text.contains("Unsigned entries left on workstations"), "{text}");
    assert!(text.contains(&format!("3 ({BY_AUTHOR})")), "{text}");

    // The same file again: still says what it left.
    let again = s.him.dtk(Some(HIM), &["handoff", "import", arg(&out)]);
    assert!(
        stdout(&again).contains(&format!("Workstation {workstation} left 3 unsigned entries")),
        "{}",
        stdout(&again)
    );
}

#[test]
fn once_every_entry_is_signed_the_export_needs_no_confirmation_and_him_reads_zero() {
    let mut s = stations();
    note(&mut s.ws, NURSE, 1, true);
    let out = s.unit.path().join("handoff.dtkh");
    let ok = s.unit.dtk(Some(CHARGE), &["handoff", "export", "--out", arg(&out)]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(!stdout(&ok).contains("unsigned"), "{}", stdout(&ok));
    let imported = s.him.dtk(Some(HIM), &["handoff", "import", arg(&out)]);
    let said = stdout(&imported);
    assert!(said.contains(&format!("Workstation {} left 0 unsigned entries", s.ws.workstation_id())), "{said}");
    let r = s.him_ws.reconciliation_report(&s.him_session, &SystemClock).expect("report");
    assert_eq!(r.unsigned.iter().map(|u| u.total).collect::<Vec<_>>(), vec![Some(0)]);
}

#[test]
fn the_charge_nurse_lists_the_unsigned_entries_by_author_form_and_age() {
    let mut s = stations();
    chart_with_drafts(&mut s.ws);
    let listed = s.unit.dtk(Some(CHARGE), &["episode", "unsigned"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    assert!(text.contains(&format!("3 entries of the episode are unsigned ({BY_AUTHOR})")), "{text}");
    let lines: Vec<&str> = text.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| l.contains("Nursing note") && l.contains("unsigned for 0 min")), "{text}");
    assert_eq!(lines.iter().filter(|l| l.contains(" jnurse ")).count(), 2, "{text}");

    let (ws, charge) = s.unit.sign_in(CHARGE);
    let later = dtk::clock::FixedClock::new(time::OffsetDateTime::now_utc() + time::Duration::minutes(185));
    let u = ws.unsigned_entries(&charge, None, &later).expect("list");
    assert_eq!(u.total(), 3);
    assert!(u.entries.iter().all(|e| (184..=186).contains(&e.age_minutes)), "{:?}", u.entries);

    let nurse = s.unit.dtk(Some(NURSE), &["episode", "unsigned"]);
    assert_eq!(nurse.status.code(), Some(1), "a nurse may not: {}", stderr(&nurse));
}

/// A file that carries no count (as a workstation wrote before issue 14) stays readable; HIM says it does not know.
#[test]
fn a_file_without_the_count_imports_and_the_report_says_it_was_not_reported() {
    let mut s = stations();
    let file = crate::him_desk::empty_handoff(&s.him_public_key(), dtk::episodes::Kind::Real);
    let r = s.him_ws.import_handoff(&s.him_session, &file, &SystemClock).expect("old file imports");
    assert_eq!(r.unsigned, None);
    let report = s.him_ws.reconciliation_report(&s.him_session, &SystemClock).expect("report");
    assert_eq!(report.unsigned.len(), 1);
    assert_eq!(report.unsigned[0].describe(), "not reported (file from an older Downtime Kit)");
}

#[test]
fn fail_an_end_record_that_names_an_author_twice_or_with_no_entry() {
    let s = stations();
    let recipient = dtk::handoff::parse_public_key(&s.him_public_key()).expect("key");
    let file = crate::him_desk::empty_handoff(&s.him_public_key(), dtk::episodes::Kind::Real);
    let (_, mut payload) = dtk::handoff::read_payload(file.as_slice(), &s.him_key()).expect("reads");
    for (case, list) in [
        ("twice", vec![("jnurse", 1), ("jnurse", 2)]),
        ("no entry", vec![("jnurse", 0)]),
        ("out of order", vec![("kcharge", 1), ("jnurse", 1)]),
        ("no name", vec![("", 1)]),
    ] {
        payload.unsigned =
            Some(list.into_iter().map(|(a, n)| UnsignedCount { author: a.into(), entries: n }).collect());
        let bytes = dtk::handoff::seal(
            &payload,
            1,
            "2026-11-21T12:00:00.000Z",
            &[9; 32],
            &recipient,
            &mut dtk::crypto::OsRandom,
        )
        .expect("seal");
        let err = dtk::handoff::read_payload(bytes.as_slice(), &s.him_key()).expect_err(case);
        assert!(err.to_string().contains("the end record's unsigned entries"), "{case}: {err}");
    }
}

#[test]
fn fail_an_edited_unsigned_count_at_the_him_station_is_reported_by_verify() {
    let mut s = stations();
    chart_with_drafts(&mut s.ws);
    let out = s.unit.path().join("handoff.dtkh");
    let charge = s.ws.sign_in(CHARGE.0, &dtk::crypto::Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    s.ws.export_handoff(&charge, &out, None, true, &SystemClock).expect("export, confirmed");
    s.him_ws.import_handoff_file(&s.him_session, &out, &SystemClock).expect("import");
    drop(s.him_ws);
    let raw = s.him.raw();
    let n = raw.execute("UPDATE handoff_unsigned SET body = randomblob(length(body))", []).expect("edit");
    assert_eq!(n, 1);
    let v = s.him.dtk(Some(HIM), &["verify"]);
    assert_eq!(v.status.code(), Some(3), "{}", stdout(&v));
    assert!(format!("{}{}", stdout(&v), stderr(&v)).contains("handoff_unsigned"), "{}", stdout(&v));
}

impl Stations {
    fn him_public_key(&self) -> String {
        self.him_key().public_hex()
    }
}
