//! The census without a password (issue 17 item 6): the census export job signs each snapshot (`dtk census sign`),
//! a scheduled `dtk census stage` seals the newest one beside the vault with nobody signed in, and the next sign-in
//! imports it. A forged or edited file is refused by name and changes nothing.

use std::path::{Path, PathBuf};

use dtk::clock::stamp;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// Family names of the sample census: none may appear in the clear in a staged file or an output.
const NAMES: [&str; 3] = ["Garcia", "Nguyen", "Okafor"];

struct Feed {
    tv: TestVault,
    dir: tempfile::TempDir,
    key: PathBuf,
    /// The census key's public half (hex), as site.json names it.
    public: String,
}

impl Feed {
    /// A workstation whose site.json names the census key and the import folder, and the export job's key.
    fn new() -> Feed {
        let tv = TestVault::new();
        let dir = tempfile::tempdir().expect("feed dir");
        let key = dir.path().join("census.key");
        let public = create_key(&key);
        let site = json!({ "census_public_key": &public, "census_import_dir": dir.path().join("export") });
        std::fs::create_dir(dir.path().join("export")).expect("export folder");
        std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site.json");
        Feed { tv, dir, key, public }
    }

    fn export(&self) -> PathBuf {
        self.dir.path().join("export")
    }

    /// The EHR's export of the sample census taken at `when`, signed by `key` into the import folder as `name`.
    fn publish(&self, key: &Path, when: &str, name: &str) -> PathBuf {
        let bundle = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&bundle, census_taken(when)).expect("bundle");
        let out = self.export().join(name);
        let signed = dtk_cmd()
            .args(["census", "sign"])
            .arg(&bundle)
            .arg("--key")
            .arg(key)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run dtk");
        assert!(signed.status.success(), "{}", stderr(&signed));
        out
    }

    fn staged(&self) -> PathBuf {
        self.tv.path().join(dtk::census_feed::STAGED_FILE)
    }

    /// The snapshot time the workstation has after a nurse signs in (the sign-in imports what is staged).
    fn after_sign_in(&self) -> Option<String> {
        let (ws, nurse) = self.tv.sign_in(NURSE);
        ws.census_snapshot(&nurse).expect("snapshot").map(|s| s.snapshot_time)
    }
}

fn create_key(path: &Path) -> String {
    let out = dtk_cmd().args(["--json", "site", "census-key", "--create", "--out"]).arg(path).output().expect("dtk");
    assert!(out.status.success(), "{}", stderr(&out));
    let info: Value = serde_json::from_slice(&out.stdout).expect("json");
    info["census_public_key"].as_str().expect("public key").to_string()
}

fn taken(age: Duration) -> String {
    stamp(OffsetDateTime::now_utc() - age).chars().take(19).collect::<String>() + "Z"
}

fn census_taken(when: &str) -> Vec<u8> {
    let mut bundle: Value = serde_json::from_slice(&census_bytes()).expect("census json");
    bundle["timestamp"] = Value::String(when.to_string());
    bundle.to_string().into_bytes()
}

#[test]
fn a_signed_census_is_staged_with_no_password_and_imported_at_the_next_sign_in() {
    let feed = Feed::new();
    let newest = taken(Duration::hours(1));
    let _older = feed.publish(&feed.key, &taken(Duration::hours(5)), "0500.dtkcensus");
    let _newest = feed.publish(&feed.key, &newest, "0900.dtkcensus");
    let out = feed.tv.dtk(None, &["census", "stage"]);
    assert!(out.status.success(), "no password needed: {}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("Staged the census of {newest}")), "{}", stdout(&out));
    assert!(stdout(&out).contains("12 patients"), "{}", stdout(&out));
    let staged = std::fs::read(feed.staged()).expect("a staged file beside the vault");
    assert!(!NAMES.iter().any(|n| staged.windows(n.len()).any(|w| w == n.as_bytes())), "sealed, no name in the clear");

    // Readiness (no password either) counts the staged census.
    let report: Value = serde_json::from_slice(&feed.tv.dtk(None, &["--json", "readiness"]).stdout).expect("json");
    let census = report["checks"].as_array().and_then(|c| c.iter().find(|c| c["name"] == "census")).expect("census");
    assert_eq!((census["status"].as_str(), census["values"]["staged"].as_bool()), (Some("ok"), Some(true)), "{census}");
    let again = feed.tv.dtk(None, &["census", "stage"]);
    assert!(stdout(&again).starts_with("Up to date"), "{}", stdout(&again));

    assert_eq!(feed.after_sign_in(), Some(newest), "the sign-in imported the staged census");
    assert!(!feed.staged().exists(), "consumed");
    let (ws, nurse) = feed.tv.sign_in(NURSE);
    assert_eq!(ws.patients(&nurse).expect("patients").len(), 12);
}

#[test]
fn a_forged_or_edited_census_is_refused_by_name_and_changes_nothing() {
    let feed = Feed::new();
    let intruder = feed.dir.path().join("intruder.key");
    let _ = create_key(&intruder);
    let forged = feed.publish(&intruder, &taken(Duration::hours(1)), "forged.dtkcensus");
    let out = feed.tv.dtk(None, &["census", "stage"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("forged.dtkcensus") && err.contains("signature does not verify"), "{err}");
    assert!(!feed.staged().exists());

    // A good file beside it is staged, and the forged one is still named.
    let _good = feed.publish(&feed.key, &taken(Duration::hours(3)), "good.dtkcensus");
    let out = feed.tv.dtk(None, &["census", "stage"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("passed over") && stderr(&out).contains("forged.dtkcensus"), "{}", stderr(&out));

    // An administrator importing the forged file by hand, or an edited good one, is refused too.
    let charge = Some(CHARGE);
    let by_hand = feed.tv.dtk(charge, &["census", "import", forged.to_str().expect("utf-8")]);
    assert!(!by_hand.status.success() && stderr(&by_hand).contains("forged or edited"), "{}", stderr(&by_hand));
    let good = feed.export().join("good.dtkcensus");
    let mut edited = std::fs::read(&good).expect("good");
    let at = edited.len() - 40;
    edited[at] = if edited[at] == b'1' { b'2' } else { b'1' };
    let edited_path = feed.dir.path().join("edited.dtkcensus");
    std::fs::write(&edited_path, edited).expect("edited");
    let by_hand = feed.tv.dtk(charge, &["census", "import", edited_path.to_str().expect("utf-8")]);
    assert!(!by_hand.status.success() && stderr(&by_hand).contains("forged or edited"), "{}", stderr(&by_hand));
    assert!(!NAMES.iter().any(|n| stderr(&by_hand).contains(n)));
}

#[test]
fn a_damaged_staged_census_is_refused_at_sign_in_and_the_sign_in_goes_on() {
    let feed = Feed::new();
    let _ = feed.publish(&feed.key, &taken(Duration::hours(1)), "0900.dtkcensus");
    assert!(feed.tv.dtk(None, &["census", "stage"]).status.success());
    let mut staged = std::fs::read(feed.staged()).expect("staged");
    let last = staged.len() - 1;
    staged[last] ^= 1;
    std::fs::write(feed.staged(), staged).expect("damaged");
    assert_eq!(feed.after_sign_in(), None, "nothing imported from a damaged file");
    assert!(!feed.staged().exists(), "removed: readiness then shows the census as it is");
    let audit = feed
        .tv
        .raw()
        .query_row("SELECT count(*) FROM audit WHERE action = 'census.feed_refused'", [], |r| r.get::<_, i64>(0));
    assert_eq!(audit.expect("audit"), 1);
}

#[test]
fn a_census_older_than_the_imported_one_is_never_staged() {
    let feed = Feed::new();
    let (mut ws, charge) = feed.tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_taken(&taken(Duration::hours(1))), &dtk::clock::SystemClock).expect("imported");
    let _ = feed.publish(&feed.key, &taken(Duration::hours(6)), "old.dtkcensus");
    let out = feed.tv.dtk(None, &["census", "stage"]);
    assert!(stdout(&out).starts_with("Up to date"), "{}{}", stdout(&out), stderr(&out));
    assert!(!feed.staged().exists());
}

/// Regression: `dtk census status` refused the administrator (it read the snapshot, which needs `ReadUnit`), who
/// imports the census and must see its age and size. The summary names no patient.
#[test]
fn dtk_census_status_shows_the_administrator_the_age_patients_and_signer_of_a_fed_census() {
    let feed = Feed::new();
    let none = feed.tv.dtk(Some(ADMIN), &["census", "status"]);
    assert_eq!((none.status.code(), stdout(&none).trim()), (Some(0), "No census imported yet."), "{}", stderr(&none));

    let _ = feed.publish(&feed.key, &taken(Duration::hours(1)), "0900.dtkcensus");
    assert!(feed.tv.dtk(None, &["census", "stage"]).status.success());
    assert!(feed.after_sign_in().is_some(), "the sign-in imported the staged census");
    let out = feed.tv.dtk(Some(ADMIN), &["census", "status"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public: Vec<u8> = (0..feed.public.len() / 2)
        .map(|i| u8::from_str_radix(&feed.public[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let fingerprint = dtk::handoff::fingerprint(&public);
    assert!(text.contains("(12 patients), 1 h old: within the site's limit of 24 h"), "{text}");
    assert!(
        text.contains(&format!("by jnurse, from the census feed at a sign-in, signed by the census key {fingerprint}")),
        "{text}"
    );
    assert!(!NAMES.iter().any(|n| text.contains(n)), "no patient in the summary: {text}");
}

#[test]
fn dtk_census_status_names_a_stale_unsigned_census_for_the_administrator_and_the_nurse() {
    let feed = Feed::new();
    let (mut ws, charge) = feed.tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_taken(&taken(Duration::hours(30))), &dtk::clock::SystemClock).expect("imported");
    for who in [ADMIN, NURSE] {
        let out = feed.tv.dtk(Some(who), &["census", "status"]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{}: {}", who.0, stderr(&out));
        assert!(text.contains("(12 patients), 30 h old: STALE, over the site's limit of 24 h"), "{text}");
        assert!(text.contains("by kcharge, from a file, not signed."), "{text}");
    }
    let out = feed.tv.dtk(Some(ADMIN), &["--json", "census", "status"]);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((summary["patients"].as_i64(), summary["stale"].as_bool()), (Some(12), Some(true)), "{summary}");
    assert_eq!(summary["provenance"], json!({ "via": "file", "signer": null }));
}

/// Regression: the banner over "Choose your password" said "No census snapshot": the census status was held back,
/// as the unit's data is, until the one-time password was changed. The summary names no patient, so it is not.
#[test]
fn a_user_who_must_choose_a_password_sees_the_census_age_and_still_no_patient() {
    let tv = TestVault::new();
    let (mut ws, charge) = tv.sign_in(CHARGE);
    ws.import_census(&charge, &census_bytes(), &dtk::clock::SystemClock).expect("census");
    let (mut ws, admin) = tv.sign_in(ADMIN);
    let role = dtk::auth::Role::Nurse;
    let (_, password) = ws
        .add_user_with_one_time_password(&admin, "new.nurse", "New Nurse", role, &dtk::clock::SystemClock)
        .expect("added");
    let mut ws = tv.open();
    let nurse = ws.sign_in("new.nurse", &password, &dtk::clock::SystemClock).expect("one-time sign-in");
    assert!(nurse.must_change_password());
    let summary = ws.census_summary(&nurse, &dtk::clock::SystemClock).expect("summary").expect("a census");
    assert_eq!(summary.patients, 12);
    assert!(ws.patients(&nurse).is_err(), "the unit's patients wait for the person's own password");
}
