//! The clinical heart, as nurses, charge nurses and IT meet it: roles, the entry lifecycle with every version kept,
//! the census snapshot, temporary MRNs, allergy and duplicate checks, provisioning, and the whole journey in `dtk`.

use dtk::api::{ApiError, EntryOptions, ErrorCode, Session, Workstation};
use dtk::clock::{FixedClock, SystemClock};
use dtk::crypto::Password;
use dtk::episodes::Kind;
use dtk::patients::Registration;
use serde_json::json;

use crate::support::*;

fn code<T>(r: Result<T, ApiError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code)
}

fn opts(sign: bool) -> EntryOptions {
    EntryOptions { sign, ..Default::default() }
}

fn with_block(tv: &TestVault, prefix: &str, first: u32, last: u32) {
    let cfg = json!({ "temp_mrn_block": { "prefix": prefix, "first": first, "last": last } });
    std::fs::write(tv.path().join("site.json"), cfg.to_string()).expect("site.json");
}

fn codeine(r: serde_json::Value) -> serde_json::Value {
    answer(
        r,
        "medication",
        // Not in the form's list, so typed as free text, as a nurse would for an unlisted drug.
        json!([{ "valueString": "Codeine phosphate" }]),
    )
}

fn given_at(r: serde_json::Value, when: &str) -> serde_json::Value {
    answer(r, "time-given", json!([{ "valueDateTime": when }]))
}

/// Every operation tried by every role. The expected column is written out here, independently of the matrix in
/// `auth.rs`, so that a change there that widens a role fails this test.
#[test]
fn role_operation_matrix() {
    let tv = TestVault::charting();
    with_block(&tv, "T9-", 1, 99);
    let (mut ws, admin) = tv.sign_in(ADMIN);
    for name in ["victim-1", "victim-2", "victim-3", "victim-4"] {
        ws.add_user(
            &admin,
            dtk::api::AddUserRequest {
                username: name.into(),
                display_name: name.into(),
                role: dtk::auth::Role::Nurse,
                password: Password::new("victim-pass-1".into()),
            },
            &SystemClock,
        )
        .expect("victim");
    }
    type Op = fn(&mut Workstation, &Session, usize) -> Result<(), ApiError>;
    let ops: Vec<(&str, Op, [bool; 4])> = vec![
        //                                                         nurse  charge him    admin
        (
            "import census",
            |ws, s, _| ws.import_census(s, &census_bytes(), &SystemClock).map(drop),
            [false, true, false, true],
        ),
        (
            "end and start episode",
            |ws, s, _| {
                ws.end_episode(s, &SystemClock)?;
                ws.start_episode(s, Kind::Real, Default::default(), &SystemClock).map(drop)
            },
            [false, true, false, true],
        ),
        (
            "register patient",
            |ws, s, _| {
                let reg = Registration {
                    family: "Doe".into(),
                    given: vec!["Jan".into()],
                    birth_date: None,
                    gender: None,
                    location: None,
                };
                ws.register_patient(s, &reg, &SystemClock).map(drop)
            },
            [true, true, false, false],
        ),
        ("list patients", |ws, s, _| ws.patients(s).map(drop), [true, true, true, false]),
        ("find patient", |ws, s, _| ws.find_patient(s, "DEV2003", &SystemClock).map(drop), [true, true, true, false]),
        (
            "chart an entry",
            |ws, s, i| {
                let r = for_patient(
                    given_at(
                        sample_response("medication-administration"),
                        &format!("2026-11-21T{:02}:00:00Z", i * 5 + 1),
                    ),
                    "DEV2004",
                );
                ws.add_entry(s, &r, &opts(true), &SystemClock).map(drop)
            },
            [true, true, false, false],
        ),
        ("list entries", |ws, s, _| ws.list_entries(s, None, &SystemClock).map(drop), [true, true, true, false]),
        (
            "add user",
            |ws, s, i| {
                ws.add_user(
                    s,
                    dtk::api::AddUserRequest {
                        username: format!("new-{i}"),
                        display_name: "New".into(),
                        role: dtk::auth::Role::Nurse,
                        password: Password::new("new-pass-12".into()),
                    },
                    &SystemClock,
                )
                .map(drop)
            },
            [false, false, false, true],
        ),
        (
            "import roster",
            |ws, s, i| ws.import_roster(s, &format!("roster-{i},Roster {i},nurse\n"), &SystemClock).map(drop),
            [false, false, false, true],
        ),
        (
            "disable user",
            |ws, s, i| ws.disable_user(s, &format!("victim-{}", i + 1), &SystemClock),
            [false, false, false, true],
        ),
        (
            "add emergency user",
            |ws, s, i| {
                let pw = Password::new("agency-pass-1".into());
                let name = format!("agency-{i}");
                let req = dtk::api::EmergencyUser {
                    username: &name,
                    display_name: "Agency Nurse",
                    password: &pw,
                    reason: "float pool cover",
                    hours: 8,
                };
                ws.add_emergency_user(s, &req, &SystemClock).map(drop)
            },
            [false, true, false, true],
        ),
        ("verify", |ws, s, _| ws.verify(s).map(drop), [false, true, true, true]),
        ("list users", |ws, s, _| ws.list_users(s).map(drop), [false, false, false, true]),
        (
            "tick a checklist step",
            |ws, s, _| ws.tick_step(s, "confirm-scope", None, &SystemClock).map(drop),
            [false, true, false, true],
        ),
        (
            "change severity",
            |ws, s, _| ws.change_severity(s, dtk::procedures::Severity::P2, None, &SystemClock).map(drop),
            [false, true, false, true],
        ),
        (
            "draft a status update",
            |ws, s, _| ws.draft_status_update(s, &SystemClock).map(drop),
            [false, true, false, true],
        ),
        ("print the census sheet", |ws, s, _| ws.print_census(s, &SystemClock).map(drop), [false, true, false, false]),
        (
            "print a blank form for one patient",
            |ws, s, _| {
                ws.print_blank(s, "vital-signs", dtk::api::BlankFor::Patient("DEV2003"), &SystemClock, &mut |_| {})
                    .map(drop)
            },
            [true, true, true, false],
        ),
        (
            "reconciliation worklist",
            |ws, s, _| ws.worklist(s, &dtk::api::WorklistQuery::default()).map(drop),
            [false, false, true, false],
        ),
        ("reconciliation summary", |ws, s, _| ws.reconcile_summary(s).map(drop), [false, false, true, false]),
    ];
    let mut failures = Vec::new();
    for (i, who) in [NURSE, CHARGE, HIM, ADMIN].into_iter().enumerate() {
        let (mut ws, s) = tv.sign_in(who);
        for (name, op, allowed) in &ops {
            let result = op(&mut ws, &s, i);
            let ok = match (&result, allowed[i]) {
                (Ok(()), true) => true,
                (Err(e), false) => e.code == ErrorCode::Forbidden,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{} / {name}: allowed={} got {:?}",
                    who.0,
                    allowed[i],
                    result.err().map(|e| (e.code, e.message))
                ));
            }
        }
    }
    assert!(failures.is_empty(), "role matrix mismatches:\n{}", failures.join("\n"));
}

#[test]
fn amend_keeps_every_version_and_signed_versions_never_change() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let first = sample_response("medication-administration");
    let saved = ws.add_entry(&nurse, &first, &opts(true), &SystemClock).expect("add signed");
    let id = saved.saved.id.clone();
    assert!(!saved.stored_at.is_empty());

    // A signed version cannot be changed through any API.
    assert_eq!(code(ws.update_entry(&nurse, &id, &first, &opts(false), &SystemClock)), Some(ErrorCode::Conflict));
    assert_eq!(code(ws.sign_entry(&nurse, &id, false, &SystemClock)), Some(ErrorCode::Conflict));
    // Nor through SQL behind the application's back.
    let sql = tv.raw().execute("UPDATE entry_versions SET body = x'00' WHERE entry_id = ?1", [&id]);
    assert!(sql.is_err_and(|e| e.to_string().contains("signed entry versions are immutable")));
    let del = tv.raw().execute("DELETE FROM entry_versions WHERE entry_id = ?1", [&id]);
    assert!(del.is_err_and(|e| e.to_string().contains("never deleted")));

    // Another nurse cannot amend it.
    let (mut ws_charge, charge) = tv.sign_in(CHARGE);
    let corrected = answer(
        first.clone(),
        "dose",
        json!([{ "valueQuantity": { "value": 4, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg" } }]),
    );
    let amend_opts =
        EntryOptions { reason: Some("dose was 4 mg".into()), confirm_not_duplicate: true, ..Default::default() };
    assert_eq!(
        code(ws_charge.amend_entry(&charge, &id, &corrected, &amend_opts, &SystemClock)),
        Some(ErrorCode::Forbidden)
    );

    let amended = ws.amend_entry(&nurse, &id, &corrected, &amend_opts, &SystemClock).expect("amend");
    assert_eq!((amended.saved.version, amended.saved.status), (2, dtk::entries::Status::Amended));
    let detail = ws.entry(&nurse, &id, &SystemClock).expect("detail");
    assert_eq!(detail.versions.len(), 2);
    let dose = |v: &dtk::entries::Version| {
        v.body.response["item"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["linkId"] == "dose"))
            .map(|i| i["answer"][0]["valueQuantity"]["value"].clone())
    };
    assert_eq!(dose(&detail.versions[0]), Some(json!(2)), "the original version is kept as it was signed");
    assert_eq!(dose(&detail.versions[1]), Some(json!(4)));
    assert_eq!(detail.versions[1].body.reason.as_deref(), Some("dose was 4 mg"));

    // A charge nurse may mark it entered-in-error; the earlier versions stay readable.
    assert_eq!(code(ws_charge.enter_in_error(&charge, &id, " ", &SystemClock)), Some(ErrorCode::InvalidInput));
    ws_charge.enter_in_error(&charge, &id, "charted on the wrong patient", &SystemClock).expect("eie");
    let detail = ws.entry(&nurse, &id, &SystemClock).expect("detail");
    assert_eq!(detail.versions.len(), 3);
    assert_eq!(detail.summary.status, dtk::entries::Status::EnteredInError);
    assert_eq!(detail.versions[2].body.response["status"], "entered-in-error");
    assert_eq!(detail.versions[0].body.response["status"], "completed");
    assert_eq!(code(ws.amend_entry(&nurse, &id, &corrected, &amend_opts, &SystemClock)), Some(ErrorCode::Conflict));

    // An amendment may not move the entry to another patient.
    let other =
        ws.add_entry(&nurse, &sample_response("nursing-note"), &opts(true), &SystemClock).expect("note").saved.id;
    let moved = for_patient(sample_response("nursing-note"), "DEV2002");
    assert_eq!(code(ws.amend_entry(&nurse, &other, &moved, &amend_opts, &SystemClock)), Some(ErrorCode::InvalidInput));
    assert!(ws.verify(&charge).expect("verify").is_empty());
}

#[test]
fn drafts_can_change_until_signed_by_their_author() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let r = sample_response("vital-signs");
    let id = ws.add_entry(&nurse, &r, &opts(false), &SystemClock).expect("draft").saved.id;
    let changed = answer(r, "heart-rate", json!([{ "valueInteger": 88 }]));
    let up = ws.update_entry(&nurse, &id, &changed, &opts(false), &SystemClock).expect("update draft");
    assert_eq!((up.saved.version, up.saved.status), (1, dtk::entries::Status::Draft));
    let (mut ws2, charge) = tv.sign_in(CHARGE);
    assert_eq!(
        code(ws2.sign_entry(&charge, &id, false, &SystemClock)),
        Some(ErrorCode::Forbidden),
        "only the author signs"
    );
    let signed = ws.sign_entry(&nurse, &id, false, &SystemClock).expect("sign");
    assert_eq!(signed.saved.status, dtk::entries::Status::Signed);
    let detail = ws.entry(&nurse, &id, &SystemClock).expect("detail");
    assert_eq!(detail.versions.len(), 1);
    assert!(detail.versions[0].signed_at.is_some());
}

#[test]
fn census_import_keeps_patients_apart_and_never_touches_entries() {
    let tv = TestVault::charting();
    with_block(&tv, "T5E-", 100, 199);
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let patients = ws.patients(&nurse).expect("patients");
    assert_eq!(patients.len(), 12);
    let smiths: Vec<_> = patients.iter().filter(|p| p.display_name() == "SMITH, Anna").collect();
    assert_eq!(smiths.len(), 2);
    assert_ne!(smiths[0].record.birth_date, smiths[1].record.birth_date);
    assert_ne!(smiths[0].record.mrn, smiths[1].record.mrn);
    assert!(patients.iter().any(|p| p.display_name() == "FITZGERALD-O'NEILL, Siobhán"));
    assert!(patients.iter().any(|p| p.display_name() == "PETROVIĆ, Dragan"));
    let garcia = ws.find_patient(&nurse, "DEV2001", &SystemClock).expect("garcia");
    assert_eq!(garcia.record.allergies[0].substance, "Codeine");
    assert!(!garcia.record.medications.is_empty());

    let entry =
        ws.add_entry(&nurse, &sample_response("nursing-note"), &opts(true), &SystemClock).expect("entry").saved.id;
    let reg = Registration {
        family: "Unknown".into(),
        given: vec!["Male".into()],
        birth_date: None,
        gender: Some("male".into()),
        location: Some("ED bay 3".into()),
    };
    let registered = ws.register_patient(&nurse, &reg, &SystemClock).expect("register");

    // Re-import a census from which Garcia has been discharged.
    let mut bundle: serde_json::Value = serde_json::from_slice(&census_bytes()).expect("json");
    bundle["timestamp"] = json!("2026-11-21T11:00:00Z");
    let garcia_url = bundle["entry"][0]["fullUrl"].clone();
    bundle["entry"].as_array_mut().expect("entries").retain(|e| {
        e["fullUrl"] != garcia_url
            && e["resource"]["subject"]["reference"] != garcia_url
            && e["resource"]["patient"]["reference"] != garcia_url
    });
    let (mut wsc, charge) = tv.sign_in(CHARGE);
    let summary = wsc.import_census(&charge, bundle.to_string().as_bytes(), &SystemClock).expect("re-import");
    assert_eq!(summary.patients, 11);
    assert_eq!(summary.snapshot.snapshot_time, "2026-11-21T11:00:00Z");
    let after = ws.patients(&nurse).expect("patients");
    assert_eq!(after.len(), 12, "11 census patients + the registration, which a re-import never removes");
    assert!(after.iter().any(|p| p.record.mrn == registered.record.mrn));
    let kept = ws.entry(&nurse, &entry, &SystemClock).expect("entry survives re-import");
    assert_eq!(kept.summary.patient.name, "GARCIA, Elena", "the entry keeps the patient as identified");
    let imports: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'census.imported'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(imports, 2, "both imports are audited");
}

#[test]
fn fail_malformed_census_bundles_with_clear_errors() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let patient_no_mrn = json!({ "resourceType": "Bundle", "type": "collection", "entry": [
        { "resource": { "resourceType": "Patient", "name": [{ "family": "X" }], "identifier": [{ "system": "urn:other", "value": "1" }] } } ] });
    let bad_birth = json!({ "resourceType": "Bundle", "type": "collection", "entry": [
        { "resource": { "resourceType": "Patient", "name": [{ "family": "X" }], "birthDate": "12/04/1957",
          "identifier": [{ "system": "http://hospital.example.org/mrn", "value": "1" }] } } ] });
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"\x00\x01PK garbage".to_vec(), "not valid JSON"),
        ("not a bundle", br#"{"resourceType":"Patient"}"#.to_vec(), "not a FHIR Bundle"),
        (
            "wrong bundle type",
            br#"{"resourceType":"Bundle","type":"document","entry":[]}"#.to_vec(),
            "Bundle.type 'document'",
        ),
        (
            "entry not a list",
            br#"{"resourceType":"Bundle","type":"collection","entry":{}}"#.to_vec(),
            "entry must be a list",
        ),
        ("no patients", br#"{"resourceType":"Bundle","type":"collection","entry":[]}"#.to_vec(), "no Patient"),
        (
            "resource without type",
            br#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"id":"x"}}]}"#.to_vec(),
            "entry 1 (?): resource has no resourceType",
        ),
        ("missing identifier", patient_no_mrn.to_string().into_bytes(), "entry 1 (Patient): no MRN identifier"),
        ("bad birth date", bad_birth.to_string().into_bytes(), "entry 1 (Patient): birthDate is not a FHIR date"),
        ("deeply nested", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(), "nested deeper than 64"),
        ("oversized", vec![b' '; dtk::census::MAX_BYTES + 1], "larger than the 64 MiB limit"),
    ];
    for (what, bytes, expect) in cases {
        let err = ws.import_census(&charge, &bytes, &SystemClock).err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(err.code, ErrorCode::InvalidInput, "{what}");
        assert!(err.message.contains(expect), "{what}: expected '{expect}' in '{}'", err.message);
        assert!(!err.message.contains('X') || what == "wrong bundle type", "{what}: no patient content in the message");
    }
    assert!(ws.patients(&charge).expect("list").is_empty(), "nothing was imported");
}

#[test]
fn temporary_mrns_never_collide_across_workstations_and_run_out_clearly() {
    let reg = Registration {
        family: "Doe".into(),
        given: vec!["Jane".into()],
        birth_date: Some("1980-01-01".into()),
        gender: None,
        location: None,
    };
    let mut issued = Vec::new();
    for (prefix, first) in [("T", 1000), ("T", 2000)] {
        let tv = TestVault::new();
        with_block(&tv, prefix, first, first + 2);
        let (mut ws, nurse) = tv.sign_in(NURSE);
        for _ in 0..3 {
            issued.push(ws.register_patient(&nurse, &reg, &SystemClock).expect("register").record.mrn);
        }
        let err = ws.register_patient(&nurse, &reg, &SystemClock).expect_err("block used up");
        assert!(
            err.message.contains(&format!("{prefix}{first}–{prefix}{} of this workstation is used up", first + 2)),
            "{}",
            err.message
        );
        assert_eq!(
            ws.find_patient(&nurse, &format!("{prefix}{first}"), &SystemClock).expect("found").record.family,
            "Doe"
        );
    }
    let unique: std::collections::HashSet<_> = issued.iter().collect();
    assert_eq!(unique.len(), 6, "two workstations with different blocks issued distinct numbers: {issued:?}");

    let tv = TestVault::new();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let err = ws.register_patient(&nurse, &reg, &SystemClock).expect_err("no block");
    assert!(err.message.contains("no block of temporary MRNs"), "{}", err.message);
}

#[test]
fn allergy_warning_needs_an_override_reason() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    // Garcia (DEV2001) has an active codeine allergy in the census.
    let r = codeine(sample_response("medication-administration"));
    let err = ws.add_entry(&nurse, &r, &opts(true), &SystemClock).expect_err("refused");
    assert_eq!(err.code, ErrorCode::SafetyCheck, "{err:?}");
    assert!(
        err.findings.iter().any(|f| f.message.contains("ALLERGY") && f.message.contains("Codeine")),
        "{:?}",
        err.findings
    );
    let checked = ws.check_entry(&nurse, &r, &opts(true), None, &SystemClock).expect("check");
    assert_eq!(checked.warnings.len(), 1);

    let with_reason = EntryOptions {
        sign: true,
        allergy_override: Some("prescriber confirmed: nausea only, premedicated".into()),
        ..Default::default()
    };
    let saved = ws.add_entry(&nurse, &r, &with_reason, &SystemClock).expect("override saves");
    let overrides: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'entry.allergy_override'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(overrides, 1);
    let detail = ws.entry(&nurse, &saved.saved.id, &SystemClock).expect("detail");
    assert!(detail.versions[0].body.allergy_override.is_some());

    // Negative cases: a different drug for Garcia; codeine for a patient without the allergy.
    assert!(ws
        .check_entry(&nurse, &sample_response("medication-administration"), &opts(true), None, &SystemClock)
        .expect("check")
        .warnings
        .is_empty());
    let okafor = for_patient(codeine(sample_response("medication-administration")), "DEV2007");
    assert!(ws
        .check_entry(&nurse, &okafor, &opts(true), None, &SystemClock)
        .expect("check")
        .warnings
        .iter()
        .all(|w| w.kind != dtk::api::SafetyKind::Allergy));
}

/// A clock that runs `then` once, on its `at`-th reading (1-based): a save reads the clock before its checks and again
/// for its commit, so this puts another writer at each point of a save in turn.
struct Interrupting {
    readings: std::sync::atomic::AtomicUsize,
    at: usize,
    then: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl dtk::clock::Clock for Interrupting {
    fn now(&self) -> time::OffsetDateTime {
        let n = self.readings.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n == self.at {
            let then = self.then.lock().map(|mut t| t.take()).unwrap_or(None);
            if let Some(then) = then {
                then();
            }
        }
        time::OffsetDateTime::now_utc()
    }
}

/// How often a save of `response` reads the clock: each reading is a moment another writer can be put at.
fn clock_readings_of_a_save(response: &serde_json::Value) -> usize {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let counting = Interrupting { readings: 0.into(), at: 0, then: std::sync::Mutex::new(None) };
    ws.add_entry(&nurse, response, &opts(true), &counting).expect("a save");
    let readings = counting.readings.into_inner();
    assert!(readings >= 2, "a save reads the clock before its checks and for its commit: {readings}");
    readings
}

/// Issue 19: the duplicate and allergy look-ups ran outside the write transaction that then committed, so a second
/// process (the CLI beside the app, a second window) could chart the same dose between the check and the commit, and
/// both were saved unflagged. Another writer is put at every reading of the clock a save makes; the second dose is
/// refused as a possible duplicate each time.
#[test]
fn a_dose_charted_elsewhere_while_a_save_runs_is_still_flagged_as_a_duplicate() {
    let dose = || {
        let mut r = given_at(sample_response("medication-administration"), "2026-11-21T10:15:00-05:00");
        r.as_object_mut().expect("object").remove("id");
        r
    };
    let readings = clock_readings_of_a_save(&dose());
    for at in 1..=readings {
        let tv = TestVault::charting();
        let (mut here, nurse) = tv.sign_in(NURSE);
        let (mut elsewhere, charge) = tv.sign_in(CHARGE);
        let first = dose();
        let clock = Interrupting {
            readings: 0.into(),
            at,
            then: std::sync::Mutex::new(Some(Box::new(move || {
                elsewhere.add_entry(&charge, &first, &opts(true), &SystemClock).expect("charted elsewhere first");
            }))),
        };
        let second = here.add_entry(&nurse, &dose(), &opts(true), &clock);
        let err = second.expect_err(&format!("saved unflagged beside a dose charted at the save's clock reading {at}"));
        assert_eq!(err.code, ErrorCode::SafetyCheck, "{err:?}");
        let listed = here.list_entries(&nurse, Some("DEV2001"), &SystemClock).expect("entries");
        assert_eq!(listed.len(), 1, "only the dose charted elsewhere is saved (reading {at})");
    }
}

/// Issue 19: the open episode a save charts into was read before validation, outside the write, so a charge nurse
/// ending the episode from another window while the save ran left an entry in an episode already ended. The end is
/// put at every reading of the clock a save makes; the save is refused each time and nothing is charted.
#[test]
fn an_episode_ended_elsewhere_while_a_save_runs_takes_no_entry() {
    let dose = || {
        let mut r = given_at(sample_response("medication-administration"), "2026-11-21T10:15:00-05:00");
        r.as_object_mut().expect("object").remove("id");
        r
    };
    for at in 1..=clock_readings_of_a_save(&dose()) {
        let tv = TestVault::charting();
        let (mut here, nurse) = tv.sign_in(NURSE);
        let (mut elsewhere, charge) = tv.sign_in(CHARGE);
        let clock = Interrupting {
            readings: 0.into(),
            at,
            then: std::sync::Mutex::new(Some(Box::new(move || {
                elsewhere.end_episode(&charge, &SystemClock).expect("ended elsewhere");
            }))),
        };
        let err = here
            .add_entry(&nurse, &dose(), &opts(true), &clock)
            .expect_err(&format!("charted into an episode ended at the save's clock reading {at}"));
        assert_eq!(err.code, ErrorCode::NoEpisode, "{err:?}");
        let (mut reader, charge) = tv.sign_in(CHARGE);
        assert!(reader.list_entries(&charge, None, &SystemClock).expect("entries").is_empty(), "reading {at}");
    }
}

#[test]
fn possible_duplicates_are_flagged_before_signing() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let (mut ws2, charge) = tv.sign_in(CHARGE);
    let first = given_at(sample_response("medication-administration"), "2026-11-21T10:15:00-05:00");
    let first_id = ws.add_entry(&nurse, &first, &opts(true), &SystemClock).expect("first").saved.id;

    // The same dose 20 minutes later, charted by someone else: flagged, and signing needs a confirmation.
    let again = given_at(sample_response("medication-administration"), "2026-11-21T10:35:00-05:00");
    let err = ws2.add_entry(&charge, &again, &opts(true), &SystemClock).expect_err("flagged");
    assert_eq!(err.code, ErrorCode::SafetyCheck);
    assert!(err.findings.iter().any(|f| f.message.contains(&first_id)), "{:?}", err.findings);
    let draft = ws2.add_entry(&charge, &again, &opts(false), &SystemClock).expect("saving a draft is allowed");
    assert!(
        draft
            .warnings
            .iter()
            .any(|w| w.kind == dtk::api::SafetyKind::PossibleDuplicate
                && w.entry_id.as_deref() == Some(first_id.as_str()))
    );
    assert_eq!(code(ws2.sign_entry(&charge, &draft.saved.id, false, &SystemClock)), Some(ErrorCode::SafetyCheck));
    ws2.sign_entry(&charge, &draft.saved.id, true, &SystemClock).expect("confirmed different event");

    // An amendment of the first entry (the dose time corrected by ten minutes) is not a duplicate of itself; it is
    // still flagged against the other nurse's dose half an hour away.
    let corrected = given_at(sample_response("medication-administration"), "2026-11-21T10:05:00-05:00");
    let as_new = ws.check_entry(&nurse, &corrected, &opts(true), None, &SystemClock).expect("check");
    assert!(as_new.warnings.iter().any(|w| w.entry_id.as_deref() == Some(first_id.as_str())), "{:?}", as_new.warnings);
    let as_amendment = ws.check_entry(&nurse, &corrected, &opts(true), Some(&first_id), &SystemClock).expect("check");
    assert!(
        as_amendment.warnings.iter().all(|w| w.entry_id.as_deref() != Some(first_id.as_str())),
        "an entry is never its own duplicate: {:?}",
        as_amendment.warnings
    );
    assert!(
        as_amendment.warnings.iter().any(|w| w.entry_id.as_deref() == Some(draft.saved.id.as_str())),
        "the other nurse's dose is still flagged: {:?}",
        as_amendment.warnings
    );

    // Not flagged: three hours apart, another patient, another medication.
    let later = given_at(sample_response("medication-administration"), "2026-11-21T13:40:00-05:00");
    assert!(ws.check_entry(&nurse, &later, &opts(true), None, &SystemClock).expect("check").warnings.is_empty());
    let other_patient = for_patient(first.clone(), "DEV2002");
    assert!(ws
        .check_entry(&nurse, &other_patient, &opts(true), None, &SystemClock)
        .expect("check")
        .warnings
        .is_empty());
    let other_drug = answer(
        first.clone(),
        "medication",
        json!([{ "valueCoding": { "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "161", "display": "acetaminophen" } }]),
    );
    assert!(ws.check_entry(&nurse, &other_drug, &opts(true), None, &SystemClock).expect("check").warnings.is_empty());
}

#[test]
fn fail_entries_that_cannot_be_bound_or_timed() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    let r = sample_response("nursing-note");
    assert_eq!(
        code(ws.add_entry(&charge, &r, &opts(true), &SystemClock)),
        Some(ErrorCode::NoEpisode),
        "no entry outside an episode"
    );
    ws.start_episode(&charge, Kind::Real, Default::default(), &SystemClock).expect("episode");
    let err = ws
        .add_entry(&charge, &for_patient(r.clone(), "NOPE999"), &opts(true), &SystemClock)
        .expect_err("unknown patient");
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(!err.message.contains("NOPE999"), "the message does not echo the MRN");
    let mut no_form = r.clone();
    no_form["questionnaire"] = json!("http://example.org/unknown|1");
    assert_eq!(code(ws.add_entry(&charge, &no_form, &opts(true), &SystemClock)), Some(ErrorCode::InvalidInput));
    let future = (time::OffsetDateTime::now_utc() + time::Duration::hours(3))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("fmt");
    let err = ws
        .add_entry(&charge, &given_at(sample_response("medication-administration"), &future), &opts(true), &SystemClock)
        .expect_err("future");
    assert!(
        err.findings.iter().any(|f| f.link_id.as_deref() == Some("time-given") && f.message.contains("future")),
        "{:?}",
        err.findings
    );
    let missing = answer(sample_response("medication-administration"), "dose", json!([]));
    let err = ws.add_entry(&charge, &missing, &opts(true), &SystemClock).expect_err("invalid");
    assert!(err.findings.iter().any(|f| f.link_id.as_deref() == Some("dose")), "{:?}", err.findings);
    assert!(ws.list_entries(&charge, None, &SystemClock).expect("list").is_empty(), "nothing was saved");
}

#[test]
fn roster_accounts_change_their_one_time_password_and_disabled_accounts_stay_attributed() {
    let tv = TestVault::charting();
    let (mut ws, admin) = tv.sign_in(ADMIN);
    let bad = ws.import_roster(&admin, "asmith,Anna Smith,nurse\nbroken line\n", &SystemClock).err().expect("bad line");
    assert!(bad.message.contains("roster line 2"), "{}", bad.message);
    assert!(dtk::auth::find_user(ws.vault().expect("v").conn(), "asmith").expect("q").is_none(), "all or nothing");
    let roster = "username,display name,role\nasmith,\"Smith, Anna\",nurse\nbjones,Bo Jones,charge\n";
    let result = ws.import_roster(&admin, roster, &SystemClock).expect("roster");
    assert_eq!(result.created.len(), 2);
    let again = ws.import_roster(&admin, roster, &SystemClock).expect("again");
    assert_eq!((again.created.len(), again.skipped.len()), (0, 2), "re-importing a roster is safe");

    let otp = Password::new(result.created[0].one_time_password.clone());
    let mut s = ws.sign_in("asmith", &otp, &SystemClock).expect("one-time password signs in");
    assert!(s.must_change_password());
    assert_eq!(code(ws.patients(&s)), Some(ErrorCode::MustChangePassword));
    ws.change_password(&mut s, &Password::new("anna-new-pass-1".into()), &SystemClock).expect("change");
    let entry = ws
        .add_entry(&s, &sample_response("nursing-note"), &opts(true), &SystemClock)
        .expect("charts after the change")
        .saved
        .id;

    ws.disable_user(&admin, "asmith", &SystemClock).expect("disable");
    assert_eq!(
        code(ws.sign_in("asmith", &Password::new("anna-new-pass-1".into()), &SystemClock)),
        Some(ErrorCode::BadCredentials)
    );
    let (mut wsn, nurse) = tv.sign_in(NURSE);
    assert_eq!(wsn.entry(&nurse, &entry, &SystemClock).expect("entry").summary.author, "asmith");
    assert_eq!(code(ws.disable_user(&admin, ADMIN.0, &SystemClock)), Some(ErrorCode::InvalidInput));
}

#[test]
fn emergency_accounts_need_a_reason_are_flagged_and_expire() {
    let tv = TestVault::charting();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    let pw = Password::new("agency-pass-1".into());
    let mut req = dtk::api::EmergencyUser {
        username: "agency1",
        display_name: "Agency Nurse",
        password: &pw,
        reason: " ",
        hours: 8,
    };
    assert_eq!(code(ws.add_emergency_user(&charge, &req, &SystemClock)), Some(ErrorCode::InvalidInput));
    req.reason = "agency nurse without an account";
    req.hours = 72;
    assert_eq!(code(ws.add_emergency_user(&charge, &req, &SystemClock)), Some(ErrorCode::InvalidInput));
    req.hours = 8;
    let info = ws.add_emergency_user(&charge, &req, &SystemClock).expect("created");
    assert!(info.emergency && info.expires_at.is_some());
    let flagged: i64 = tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'user.emergency_added'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(flagged, 1);
    let s = ws.sign_in("agency1", &pw, &SystemClock).expect("signs in now");
    assert_eq!(s.role(), dtk::auth::Role::Nurse);
    let tomorrow = FixedClock::new(time::OffsetDateTime::now_utc() + time::Duration::hours(9));
    let err = ws.sign_in("agency1", &pw, &tomorrow).err().expect("expired");
    assert!(err.message.contains("expired"), "{}", err.message);
}

/// The whole nurse journey of docs/design.md "Users and their tasks" through `dtk`.
#[test]
fn cli_journey_init_users_census_episode_add_sign_amend_list_verify() {
    let dir = tempfile::tempdir().expect("tmp");
    let vault = dir.path().join("vault");
    let run = |who: Option<(&str, &str)>, new_pw: Option<&str>, args: &[&str]| {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", &vault).args(args);
        if let Some((u, p)) = who {
            cmd.env("DTK_USER", u).env("DTK_PASSWORD", p);
        }
        if let Some(p) = new_pw {
            cmd.env("DTK_NEW_PASSWORD", p);
        }
        cmd.output().expect("dtk")
    };
    let ok = |o: std::process::Output, what: &str| {
        assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
        stdout(&o)
    };
    ok(run(None, Some(ADMIN.1), &["init", "--admin", ADMIN.0, "--unit", "5 East"]), "init");
    ok(
        run(Some(ADMIN), Some(CHARGE.1), &["user", "add", CHARGE.0, "--role", "charge", "--display", "Kim Charge"]),
        "add charge",
    );
    ok(
        run(Some(ADMIN), Some(NURSE.1), &["user", "add", NURSE.0, "--role", "nurse", "--display", "Jo Nurse"]),
        "add nurse",
    );
    let census = format!("{}/tests/data/census-5-east.json", env!("CARGO_MANIFEST_DIR"));
    let out = ok(run(Some(CHARGE), None, &["census", "import", &census]), "census");
    assert!(out.contains("12 patients"), "{out}");
    let out = run(Some(NURSE), None, &["episode", "start"]);
    assert_eq!(out.status.code(), Some(1), "a nurse cannot declare an episode");
    ok(run(Some(CHARGE), None, &["episode", "start", "--reason", "EHR unavailable"]), "episode");
    let patients = ok(run(Some(NURSE), None, &["patient", "list"]), "patients");
    assert!(
        patients.contains("SMITH, Anna") && patients.contains("DOB 1975-02-28") && patients.contains("DOB 1990-10-05")
    );

    let responses = format!("{}/tests/data/forms/responses", env!("CARGO_MANIFEST_DIR"));
    let id =
        ok(run(Some(NURSE), None, &["entry", "add", "--response", &format!("{responses}/vital-signs.json")]), "add")
            .trim()
            .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "prints the new entry id: {id}");
    ok(run(Some(NURSE), None, &["entry", "sign", &id]), "sign");
    let fix = dir.path().join("amended.json");
    let amended = answer(sample_response("vital-signs"), "heart-rate", json!([{ "valueInteger": 91 }]));
    std::fs::write(&fix, amended.to_string()).expect("write");
    let out = run(
        Some(NURSE),
        None,
        &["entry", "amend", &id, "--response", fix.to_str().expect("path"), "--reason", "typo in heart rate"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("version 2"), "{}", stderr(&out));
    let list = ok(run(Some(NURSE), None, &["entry", "list", "--patient", "DEV2001"]), "list");
    assert!(
        list.contains(&id) && list.contains("amended") && list.contains("v2") && list.contains("GARCIA, Elena"),
        "{list}"
    );
    let show: serde_json::Value =
        serde_json::from_str(&ok(run(Some(NURSE), None, &["entry", "show", &id]), "show")).expect("json");
    assert_eq!(show["versions"].as_array().map(Vec::len), Some(2));
    let bad = run(Some(NURSE), None, &["entry", "add", "--response", &census]);
    assert_eq!(bad.status.code(), Some(1), "a census file is not a response");
    assert!(stderr(&bad).contains("not a FHIR QuestionnaireResponse"), "{}", stderr(&bad));
    let out = run(Some(CHARGE), None, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(None, None, &["entry", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn demo_unit_gives_a_newcomer_everything_to_try() {
    let tv = TestVault::new();
    let (mut ws, admin) = tv.sign_in(ADMIN);
    ws.load_demo_unit(&admin, &SystemClock).expect("demo");
    let mut ws = Workstation::open(tv.path()).expect("reopen picks up the demo's site.json");
    let nurse =
        ws.sign_in("demo.nurse", &Password::new(dtk::api::DEMO_PASSWORD.into()), &SystemClock).expect("demo nurse");
    let patients = ws.patients(&nurse).expect("patients");
    assert_eq!(patients.len(), 14);
    assert!(patients.iter().any(|p| p.record.family == "Müller-Øster" && p.record.given == ["Łukasz"]));
    assert!(patients.iter().any(|p| p.record.family == "김"));
    let episode = ws.current_episode(&nurse).expect("q").expect("open");
    assert_eq!(episode.kind, Kind::Drill, "demo charting is a drill and can never be exported");
    let reg =
        Registration { family: "Doe".into(), given: vec!["Jo".into()], birth_date: None, gender: None, location: None };
    assert_eq!(ws.register_patient(&nurse, &reg, &SystemClock).expect("register").record.mrn, "DEMO-1");
    ws.add_entry(&nurse, &for_patient(sample_response("vital-signs"), "DEV2013"), &opts(true), &SystemClock)
        .expect("chart");
    assert_eq!(code(ws.load_demo_unit(&nurse, &SystemClock)), Some(ErrorCode::Forbidden));
}

/// `dtk init --demo` without `--unit` once named the unit "Unit" on every printed page; the demo unit is 5 East, as
/// the README says.
#[test]
fn regression_demo_init_without_unit_prints_5_east() {
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
    assert!(stdout(&out).contains("for unit 5 East"), "{}", stdout(&out));
    let pdf = dir.path().join("blank.pdf");
    let nurse = ("demo.nurse", dtk::api::DEMO_PASSWORD);
    let out = run(Some(nurse), &["print", "blank", "--form", "vital-signs", "--out", pdf.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pages = pages_text(&pdf);
    assert!(pages[0].contains("5 East"), "the printed page names the demo unit: {}", pages[0]);
}

/// Adding a form is dropping a file: a Questionnaire written only for the tests, put in a forms folder, is checked
/// by `dtk forms check` and charted with `dtk entry add`, with no code change.
#[test]
fn a_form_dropped_into_the_forms_folder_works_end_to_end() {
    let tv = TestVault::charting();
    let forms = tempfile::tempdir().expect("forms dir");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/forms");
    for f in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("forms")).expect("forms") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, forms.path().join(f.file_name().expect("name"))).expect("copy");
    }
    let new_form = forms.path().join("test-wound-assessment.json");
    std::fs::copy(data.join("test-wound-assessment.json"), &new_form).expect("drop the new form in");
    let with_forms = |who: Option<(&str, &str)>, args: &[&str]| {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", tv.path()).env("DTK_FORMS", forms.path()).args(args);
        if let Some((u, p)) = who {
            cmd.env("DTK_USER", u).env("DTK_PASSWORD", p);
        }
        cmd.output().expect("dtk")
    };
    let out = with_forms(None, &["forms", "check", new_form.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = with_forms(Some(NURSE), &["forms", "list"]);
    assert!(stdout(&out).contains("test-wound-assessment|1.0.0"), "{}", stdout(&out));
    let response = data.join("responses/test-wound-assessment.json");
    let out = with_forms(Some(NURSE), &["entry", "add", "--response", response.to_str().expect("path"), "--sign"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let out = with_forms(Some(NURSE), &["entry", "list", "--patient", "DEV2001"]);
    assert!(stdout(&out).contains(&id) && stdout(&out).contains("test-wound-assessment"), "{}", stdout(&out));
    // Without the folder the form is unknown, and the refusal says so.
    let out = tv.dtk(Some(NURSE), &["entry", "add", "--response", response.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not a loaded form"), "{}", stderr(&out));
    // A broken form in the folder is reported by name and does not stop the others.
    std::fs::write(forms.path().join("broken.json"), br#"{"resourceType":"Questionnaire"}"#).expect("write");
    let out = with_forms(Some(NURSE), &["forms", "list"]);
    assert!(stderr(&out).contains("NOT LOADED") && stderr(&out).contains("broken.json"), "{}", stderr(&out));
    assert!(stdout(&out).contains("Vital signs"));
}
