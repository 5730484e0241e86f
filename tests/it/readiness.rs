//! Readiness (issue 17 item 6): `dtk readiness` tells hospital IT's monitoring, without a password, whether a
//! workstation is ready for the next downtime, and names each check that is not: a stale census, a missing HIM key,
//! a full disk. Exit 0 ready (warnings alone included), 1 not ready.

use dtk::clock::{stamp, FixedClock, SystemClock};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// Any 64 hex characters pass the site configuration's check; readiness shows only the key's fingerprint.
const HIM_KEY: &str = "4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a4f3c2b1a";

/// A site configuration as IT pushes it to a ready workstation, with `change` applied.
fn site(tv: &TestVault, change: impl FnOnce(&mut Value)) {
    let mut site = json!({
        "him_public_key": HIM_KEY,
        "temp_mrn_block": { "prefix": "T5E-", "first": 1000, "last": 1999 },
        "census_max_age_hours": 24,
        "readiness_min_free_mb": 1,
    });
    change(&mut site);
    std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site.json");
}

/// Imports the sample census as if the EHR had exported it `age` ago and the charge nurse imported it then.
fn census_taken(tv: &TestVault, age: Duration) {
    let then = OffsetDateTime::now_utc() - age;
    let mut bundle: Value = serde_json::from_slice(&census_bytes()).expect("census json");
    bundle["timestamp"] = Value::String(stamp(then));
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, bundle.to_string().as_bytes(), &FixedClock::new(then)).expect("census import");
}

/// A workstation IT would call ready: set up, a census of an hour ago, the HIM key and a temporary MRN block.
fn ready() -> TestVault {
    let tv = TestVault::new();
    site(&tv, |_| {});
    census_taken(&tv, Duration::hours(1));
    tv
}

fn readiness(tv: &TestVault) -> (i32, String, String) {
    let out = tv.dtk(None, &["readiness"]);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

fn readiness_json(tv: &TestVault) -> (i32, Value) {
    let out = tv.dtk(None, &["--json", "readiness"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    (out.status.code().unwrap_or(-1), report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"].as_array().and_then(|c| c.iter().find(|c| c["name"] == name)).expect("the check is listed")
}

#[test]
fn a_ready_workstation_exits_0_without_a_password_and_warnings_alone_keep_it_ready() {
    let tv = ready();
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("READY"), "{out}");
    // Never verified, no drill, no backup folder: warnings, which leave the workstation ready.
    assert!(out.contains("WARNING   last_verify") && out.contains("WARNING   last_drill"), "{out}");
    assert!(out.contains("ok        census") && out.contains("ok        him_key"), "{out}");
    assert!(!["Garcia", "Nguyen", "Okafor"].iter().any(|n| out.contains(n)), "no patient data: {out}");
}

#[test]
fn dtk_readiness_reports_a_stale_census_by_name() {
    let tv = TestVault::new();
    site(&tv, |_| {});
    census_taken(&tv, Duration::hours(30));
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("NOT READY") && out.contains("not ready: census"), "{out}");
    assert!(out.contains("NOT READY census       census is stale: taken 30 h ago"), "{out}");
    assert!(out.contains("census_max_age_hours"), "the setting is named: {out}");
    assert_eq!(err.trim(), "dtk: not ready: census", "only the census fails");
}

#[test]
fn dtk_readiness_reports_a_missing_him_key_by_name() {
    let tv = TestVault::new();
    site(&tv, |s| {
        s.as_object_mut().expect("object").remove("him_public_key");
    });
    census_taken(&tv, Duration::hours(1));
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT READY him_key") && out.contains("no him_public_key"), "{out}");
    assert_eq!(err.trim(), "dtk: not ready: him_key");
}

#[test]
fn dtk_readiness_reports_a_full_disk_by_name_from_the_vault_folders_real_free_space() {
    let tv = ready();
    let (_, before) = readiness_json(&tv);
    let free = check(&before, "free_disk")["values"]["free_mb"].as_u64().expect("free space measured");
    assert_eq!(check(&before, "free_disk")["status"], "ok");
    // Just above what the vault's file system has free: only the real query on the vault's folder can tell.
    site(&tv, |s| s["readiness_min_free_mb"] = json!(free + 1024 * 1024));
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT READY free_disk") && out.contains("disk nearly full"), "{out}");
    assert_eq!(err.trim(), "dtk: not ready: free_disk");
}

#[test]
fn several_failing_checks_are_each_named_and_an_unset_workstation_is_not_ready() {
    let tv = TestVault::new();
    site(&tv, |s| {
        s.as_object_mut().expect("object").remove("him_public_key");
        s["readiness_min_free_mb"] = json!(u64::MAX / 2);
    });
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.trim(), "dtk: not ready: census, him_key, free_disk", "{out}");

    let empty = tempfile::tempdir().expect("folder");
    let out = dtk_cmd().env("DTK_VAULT", empty.path()).arg("readiness").output().expect("run dtk");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("NOT READY vault        this workstation has not been set up"), "{}", stdout(&out));
}

#[test]
fn the_json_report_is_stable_and_carries_the_machine_values() {
    let tv = ready();
    let (code, report) = readiness_json(&tv);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ready"], true);
    assert_eq!(report["not_ready"], json!([]));
    let names: Vec<&str> =
        report["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "vault",
            "census",
            "forms",
            "him_key",
            "printer",
            "temp_mrns",
            "last_verify",
            "free_disk",
            "last_backup",
            "app_version",
            "last_drill",
            "escalation"
        ]
    );
    for c in report["checks"].as_array().expect("checks") {
        assert!(["ok", "warning", "not-ready"].contains(&c["status"].as_str().unwrap_or("")), "{c}");
        assert!(c["detail"].as_str().is_some_and(|d| !d.is_empty()) && c["values"].is_object(), "{c}");
    }
    let census = &check(&report, "census")["values"];
    assert_eq!((census["age_hours"].as_i64(), census["max_age_hours"].as_i64()), (Some(1), Some(24)), "{census}");
    assert_eq!(census["patients"], 12);
    assert_eq!(check(&report, "temp_mrns")["values"]["left"], 1000);
    assert_eq!(check(&report, "app_version")["values"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(check(&report, "free_disk")["values"]["free_mb"].as_u64().is_some());

    let stale = TestVault::new();
    site(&stale, |_| {});
    census_taken(&stale, Duration::hours(30));
    let (code, report) = readiness_json(&stale);
    assert_eq!(code, 1);
    assert_eq!((report["ready"].clone(), report["not_ready"].clone()), (json!(false), json!(["census"])));
    assert_eq!(check(&report, "census")["status"], "not-ready");
    assert_eq!(check(&report, "census")["values"]["age_hours"], 30);
}

#[test]
fn the_last_verify_and_the_last_drill_are_recorded_and_reported() {
    let tv = ready();
    let verified = tv.dtk(Some(ADMIN), &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.start_episode(&charge, dtk::episodes::Kind::Drill, Default::default(), &SystemClock).expect("drill");
    let (code, report) = readiness_json(&tv);
    assert_eq!(code, 0);
    let verify = check(&report, "last_verify");
    assert_eq!((verify["status"].as_str(), verify["values"]["intact"].as_bool()), (Some("ok"), Some(true)), "{verify}");
    let drill = check(&report, "last_drill");
    assert_eq!((drill["status"].as_str(), drill["values"]["open"].as_bool()), (Some("ok"), Some(true)), "{drill}");
}

#[test]
fn a_verify_that_found_problems_makes_the_workstation_not_ready() {
    let tv = ready();
    // An edited plaintext column (a user's role) is what verify catches; its finding is recorded for readiness.
    tv.raw().execute("UPDATE users SET role = 'admin' WHERE username = ?1", [NURSE.0]).expect("edit");
    let verified = tv.dtk(Some(ADMIN), &["verify"]);
    assert_eq!(verified.status.code(), Some(3), "{}", stderr(&verified));
    let (code, out, err) = readiness(&tv);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT READY last_verify  dtk verify found ") && out.contains("problem(s)"), "{out}");
}

#[test]
fn the_escalation_file_is_checked_missing_read_or_broken_as_a_warning_that_names_the_problem() {
    let tv = ready();
    let (code, report) = readiness_json(&tv);
    assert_eq!(code, 0, "a missing ladder never makes the workstation not ready");
    let none = check(&report, "escalation");
    assert_eq!(none["status"], "warning", "{none}");
    assert!(none["detail"].as_str().is_some_and(|d| d.contains("no escalation file (escalation_file in site.json)")));

    let demo = std::fs::read(repo_root().join("assets/demo/escalation-demo.json")).expect("demo ladder");
    std::fs::write(tv.path().join("escalation.json"), &demo).expect("write");
    site(&tv, |s| s["escalation_file"] = json!("escalation.json"));
    let (_, report) = readiness_json(&tv);
    let read = check(&report, "escalation");
    assert_eq!(read["status"], "ok", "{read}");
    assert!(read["values"]["levels"].as_u64().is_some_and(|n| n >= 1), "{read}");
    assert!(read["detail"].as_str().is_some_and(|d| d.starts_with("escalation ladder '")), "{read}");

    let mut broken: Value = serde_json::from_slice(&demo).expect("json");
    broken["contacts"][0]["phones"] = json!([]);
    std::fs::write(tv.path().join("escalation.json"), broken.to_string()).expect("write");
    let (code, report) = readiness_json(&tv);
    assert_eq!(code, 0);
    let refused = check(&report, "escalation");
    assert_eq!(refused["status"], "warning", "{refused}");
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("escalation.json refused") && detail.contains("phone"),
        "names the file and the field: {detail}"
    );
    assert!(!refused["values"]["problems"].as_array().is_some_and(Vec::is_empty), "{refused}");
}
