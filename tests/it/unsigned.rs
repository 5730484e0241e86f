//! Unsigned entries never leave the workstation, and now everybody is told (issue 14, item 1): the handoff file
//! carries how many entries each author left unsigned.

use dtk::api::{EntryOptions, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::handoff::{HimKey, UnsignedCount};
use serde_json::json;

use crate::support::*;

/// An HIM station with its handoff key, and a charting workstation whose site configuration names that key.
struct Stations {
    #[allow(dead_code)]
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

#[test]
fn the_handoff_file_carries_how_many_entries_each_author_left_unsigned() {
    let mut s = stations();
    chart_with_drafts(&mut s.ws);
    let out = s.unit.path().join("handoff.dtkh");
    let charge = s.ws.sign_in(CHARGE.0, &dtk::crypto::Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    let summary = s.ws.export_handoff(&charge, &out, None, &SystemClock).expect("export");
    let counts = |a: &str, n| UnsignedCount { author: a.into(), entries: n };
    let expected = vec![counts("jnurse", 2), counts("kcharge", 1)];
    assert_eq!(summary.unsigned, expected);
    let bytes = std::fs::read(&out).expect("file");
    let (_, payload) = dtk::handoff::read_payload(bytes.as_slice(), &s.him_key()).expect("reads back");
    assert_eq!(payload.unsigned, Some(expected), "the end record's count");
    assert_eq!(payload.entries.len(), 1, "drafts still never leave the workstation");
}

/// A file that carries no count (as a workstation wrote before issue 14) stays readable.
#[test]
fn a_file_without_the_count_still_reads() {
    let s = stations();
    let file = crate::him_desk::empty_handoff(&s.him_public_key(), dtk::episodes::Kind::Real);
    let (_, payload) = dtk::handoff::read_payload(file.as_slice(), &s.him_key()).expect("reads");
    assert_eq!(payload.unsigned, None);
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

impl Stations {
    fn him_public_key(&self) -> String {
        self.him_key().public_hex()
    }
}
