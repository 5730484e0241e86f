//! One account for the site's workstations (issue 17 item 2): IT signs a roster once; every workstation with the
//! site's `it_public_key` imports it (by `dtk user roster import`, or by itself from `site.json`'s folder at the next
//! sign-in), and the same password opens each of them. Forged, edited and older rosters are refused.

use std::path::{Path, PathBuf};
use std::process::Output;

use dtk::api::{ErrorCode, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk::site::SiteConfig;

use crate::support::{census_bytes, dtk_cmd, nursing_note, stderr, stdout, TestVault, ADMIN, CHARGE, NURSE};

const PASSPHRASE: &str = "the site's IT passphrase";

/// A site: its folder with `site.json` (trusting one IT key) and the rosters, IT's key file, and two workstations.
struct Site {
    it: tempfile::TempDir,
    folder: tempfile::TempDir,
    a: TestVault,
    b: TestVault,
    recovery_a: dtk::crypto::RecoveryKey,
}

fn it_cmd(args: &[&str], dir: &Path) -> Output {
    dtk_cmd().current_dir(dir).env("DTK_IT_PASSPHRASE", PASSPHRASE).args(args).output().expect("run dtk")
}

fn make_key(dir: &Path, name: &str) -> String {
    let out = it_cmd(&["--json", "site", "it-key", "--create", "--out", name], dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    info["it_public_key"].as_str().expect("public key").to_string()
}

impl Site {
    fn new() -> Site {
        let it = tempfile::tempdir().expect("it dir");
        let folder = tempfile::tempdir().expect("site folder");
        let public = make_key(it.path(), "it.key");
        let site = serde_json::json!({ "unit": "5 East", "it_public_key": public });
        std::fs::write(folder.path().join("site.json"), site.to_string()).expect("site.json");
        let (a, recovery_a) = TestVault::with_recovery_key();
        Site { it, folder, a, b: TestVault::new(), recovery_a }
    }

    fn site_json(&self) -> PathBuf {
        self.folder.path().join("site.json")
    }

    /// IT builds a roster from `csv` (after `previous`, if given) into the site's folder; returns its one-time
    /// passwords by username.
    fn build(&self, name: &str, csv: &str, previous: Option<&str>) -> Vec<(String, String)> {
        let passwords = self.build_on_stick(name, csv, previous);
        std::fs::copy(self.it.path().join(name), self.folder.path().join(name)).expect("copy to the site's folder");
        passwords
    }

    /// The same, onto IT's stick only (the site's folder does not have it).
    fn build_on_stick(&self, name: &str, csv: &str, previous: Option<&str>) -> Vec<(String, String)> {
        std::fs::write(self.it.path().join("users.csv"), csv).expect("csv");
        let out_path = self.it.path().join(name);
        let out = out_path.to_str().expect("utf-8");
        let mut args = vec!["user", "roster", "build", "--from", "users.csv", "--it-key", "it.key", "--out", out];
        let prev;
        if let Some(p) = previous {
            prev = self.it.path().join(p);
            args.extend(["--previous", prev.to_str().expect("utf-8")]);
        }
        args.extend(["--passwords-out", "otp.csv"]);
        let o = it_cmd(&args, self.it.path());
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(self.it.path().join("otp.csv")).expect("passwords");
        text.lines().filter_map(|l| l.split_once(',')).map(|(u, p)| (u.to_string(), p.to_string())).collect()
    }

    fn open(&self, vault: &TestVault) -> Workstation {
        let site = SiteConfig::load(&self.site_json()).expect("site.json");
        Workstation::open_with(vault.path(), site, None).expect("open")
    }

    fn dtk(&self, vault: &TestVault, who: (&str, &str), args: &[&str]) -> Output {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", vault.path()).env("DTK_SITE", self.site_json());
        cmd.env("DTK_USER", who.0).env("DTK_PASSWORD", who.1).args(args).output().expect("run dtk")
    }

    fn sign_in(&self, vault: &TestVault, user: &str, password: &str) -> Result<dtk::api::Session, dtk::api::ApiError> {
        self.open(vault).sign_in(user, &Password::new(password.into()), &SystemClock)
    }
}

const STAFF: &str = "username,display name,role\nanurse,Anna Nurse,nurse\nbcharge,Bo Charge,charge\n";

fn otp<'a>(passwords: &'a [(String, String)], user: &str) -> &'a str {
    passwords.iter().find(|(u, _)| u == user).map(|(_, p)| p.as_str()).expect("one-time password")
}

fn roster_wraps(vault: &TestVault, user: &str) -> i64 {
    vault
        .raw()
        .query_row(
            "SELECT count(*) FROM key_wraps w JOIN users u ON u.id = w.user_id WHERE u.username = ?1",
            [user],
            |r| r.get(0),
        )
        .expect("count")
}

#[test]
fn a_user_provisioned_once_signs_in_on_two_workstations_and_a_disabled_one_is_refused_on_both() {
    let site = Site::new();
    let passwords = site.build_on_stick("roster-1.dtkroster", STAFF, None);
    let anna = otp(&passwords, "anurse").to_string();

    // Workstation A: the administrator imports the file from IT's stick; workstation B picks it up by itself from
    // the site's folder at the next sign-in.
    let stick = site.it.path().join("roster-1.dtkroster").display().to_string();
    let imported = site.dtk(&site.a, ADMIN, &["user", "roster", "import", &stick]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(stdout(&imported).contains("Roster version 1 imported: 2 added"), "{}", stdout(&imported));
    let refused = site.sign_in(&site.b, "anurse", &anna).map(|_| ()).expect_err("B has no roster yet");
    assert_eq!(refused.code, ErrorCode::BadCredentials, "an unknown name is answered as a wrong password");
    std::fs::copy(&stick, site.folder.path().join("roster-1.dtkroster")).expect("copy to the site's folder");
    site.sign_in(&site.b, ADMIN.0, ADMIN.1).expect("B's administrator signs in (and applies the roster)");

    for ws in [&site.a, &site.b] {
        let s = site.sign_in(ws, "anurse", &anna).expect("the one-time password opens both workstations");
        assert!(s.must_change_password(), "a one-time password must be replaced first");
        let wrong = site.sign_in(ws, "anurse", "not her password").map(|_| ()).expect_err("wrong password");
        assert_eq!(wrong.code, ErrorCode::BadCredentials);
    }

    // Her own password, chosen on A, opens A; B opens with the one-time password until the next roster.
    let changed = {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", site.a.path()).env("DTK_SITE", site.site_json());
        cmd.env("DTK_USER", "anurse").env("DTK_PASSWORD", &anna).env("DTK_NEW_PASSWORD", "anna-own-pass");
        cmd.arg("passwd").output().expect("passwd")
    };
    assert!(changed.status.success(), "{}", stderr(&changed));
    let s = site.sign_in(&site.a, "anurse", "anna-own-pass").expect("her own password on A");
    assert!(!s.must_change_password());
    site.sign_in(&site.b, "anurse", &anna).expect("B has not heard of the change yet");

    // IT disables her in the next roster, which lands in the site's folder: refused on both at once, before anyone
    // has applied it; Bo keeps his password (his key pair is carried over).
    let bo = otp(&passwords, "bcharge").to_string();
    let disabled =
        "username,display name,role,status\nanurse,Anna Nurse,nurse,disabled\nbcharge,Bo Charge,charge,active\n";
    let second = site.build("roster-2.dtkroster", disabled, Some("roster-1.dtkroster"));
    assert!(second.is_empty(), "nobody new, nobody reset: no one-time password");
    for (ws, password) in [(&site.a, "anna-own-pass"), (&site.b, anna.as_str())] {
        let refused = site.sign_in(ws, "anurse", password).map(|_| ()).expect_err("disabled");
        assert_eq!(refused.code, ErrorCode::BadCredentials);
        assert_eq!(refused.message, "the account 'anurse' is disabled");
    }
    for ws in [&site.a, &site.b] {
        site.sign_in(ws, "bcharge", &bo).expect("Bo signs in (and the roster is applied)");
        assert_eq!(roster_wraps(ws, "anurse"), 0, "a disabled user's key wrap is deleted");
        let refused = site.sign_in(ws, "anurse", "anna-own-pass").map(|_| ()).expect_err("still disabled");
        assert_eq!(refused.message, "the account 'anurse' is disabled");
    }

    // The vault's own model stands: verify is clean and the recovery key still opens it.
    let verify = site.dtk(&site.a, ADMIN, &["verify"]);
    assert!(verify.status.success(), "{}{}", stdout(&verify), stderr(&verify));
    let mut ws = site.open(&site.a);
    ws.recover(site.recovery_a.expose(), ADMIN.0, &Password::new("admin-pass-2".into()), &SystemClock)
        .expect("the recovery key opens the vault");
    site.sign_in(&site.a, ADMIN.0, "admin-pass-2").expect("new administrator password");
}

#[test]
fn fail_forged_edited_and_older_rosters_name_the_file_and_change_nothing() {
    let site = Site::new();
    site.build("roster-1.dtkroster", STAFF, None);
    let second = "username,display name,role\nanurse,Anna Nurse,nurse\nbcharge,Bo Charge,charge\ncnew,Cy New,nurse\n";
    site.build("roster-2.dtkroster", second, Some("roster-1.dtkroster"));
    let path = |n: &str| site.it.path().join(n).display().to_string();
    let users = |ws: &TestVault| stdout(&site.dtk(ws, ADMIN, &["user", "list"]));

    // Signed by another key (kept outside the site's folder until it is imported by hand).
    make_key(site.it.path(), "other.key");
    std::fs::write(site.it.path().join("users.csv"), STAFF.replace("nurse\n", "admin\n")).expect("csv");
    let forged = site.it.path().join("forged.dtkroster");
    let o = it_cmd(
        &["user", "roster", "build", "--from", "users.csv", "--it-key", "other.key", "--out", "forged.dtkroster"],
        site.it.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before = users(&site.a);
    let o = site.dtk(&site.a, ADMIN, &["user", "roster", "import", &forged.display().to_string()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&forged.display().to_string())
            && err.contains("forged roster refused: it is not signed by this site's IT key"),
        "{err}"
    );

    // Edited after signing: Anna made an administrator.
    let bytes = std::fs::read(path("roster-1.dtkroster")).expect("roster");
    let text = String::from_utf8(bytes).expect("utf-8").replacen("\"role\": \"nurse\"", "\"role\": \"admin\"", 1);
    let edited = site.it.path().join("edited.dtkroster");
    std::fs::write(&edited, text).expect("edited");
    let o = site.dtk(&site.a, ADMIN, &["user", "roster", "import", &edited.display().to_string()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("edited.dtkroster: forged roster refused"), "{}", stderr(&o));

    // A file that is not a roster.
    let o = site.dtk(
        &site.a,
        ADMIN,
        &["user", "roster", "import", &site.it.path().join("users.csv").display().to_string()],
    );
    assert!(stderr(&o).contains("users.csv: this is not a Downtime Kit roster file"), "{}", stderr(&o));
    assert_eq!(users(&site.a), before, "a refused roster changes nothing");

    // Version 2 imported, then version 1 again: a rollback.
    let o = site.dtk(&site.a, ADMIN, &["user", "roster", "import", &path("roster-2.dtkroster")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = site.dtk(&site.a, ADMIN, &["user", "roster", "import", &path("roster-1.dtkroster")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "roster-1.dtkroster: rollback refused: this roster is version 1, older than version 2 already imported"
        ),
        "{}",
        stderr(&o)
    );
    assert!(users(&site.a).contains("cnew"), "version 2 stays");

    // A forged roster dropped in the site's folder is never applied, and does not stop anyone signing in.
    std::fs::copy(&forged, site.folder.path().join("roster-9.dtkroster")).expect("copy");
    site.sign_in(&site.b, ADMIN.0, ADMIN.1).expect("sign-in goes on");
    let on_b = users(&site.b);
    let anna = on_b.lines().find(|l| l.starts_with("anurse")).expect("anurse listed");
    assert!(on_b.contains("cnew") && anna.contains(" nurse "), "{on_b}");
}

#[test]
fn fail_roster_csv_with_a_username_given_twice() {
    let site = Site::new();
    std::fs::write(
        site.it.path().join("users.csv"),
        "username,display name,role\nanurse,Anna,nurse\nbo,Bo,charge\nanurse,Anna N,charge\n",
    )
    .expect("csv");
    let o = it_cmd(
        &["user", "roster", "build", "--from", "users.csv", "--it-key", "it.key", "--out", "r.dtkroster"],
        site.it.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("users.csv: the username 'anurse' is given twice (line 2 and line 4)"),
        "{}",
        stderr(&o)
    );
    assert!(!site.it.path().join("r.dtkroster").exists(), "nothing is written");
}

#[test]
fn a_password_changed_on_one_workstation_travels_to_the_others_in_the_next_roster() {
    let site = Site::new();
    let passwords = site.build("roster-1.dtkroster", STAFF, None);
    let anna = otp(&passwords, "anurse").to_string();
    site.sign_in(&site.a, ADMIN.0, ADMIN.1).expect("A applies the roster");
    site.sign_in(&site.b, ADMIN.0, ADMIN.1).expect("B applies the roster");
    let mut cmd = dtk_cmd();
    cmd.env("DTK_VAULT", site.a.path()).env("DTK_SITE", site.site_json());
    cmd.env("DTK_USER", "anurse").env("DTK_PASSWORD", &anna).env("DTK_NEW_PASSWORD", "anna-own-pass");
    let changed = cmd.arg("passwd").output().expect("passwd");
    assert!(changed.status.success(), "{}", stderr(&changed));

    // A's administrator writes the changes file; IT merges it, trusting A's key only.
    let file = site.it.path().join("a.dtkchanges").display().to_string();
    let o = site.dtk(&site.a, ADMIN, &["--json", "user", "roster", "changes", "--out", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let a_key = info["workstation_key"].as_str().expect("key").to_string();
    std::fs::write(site.it.path().join("users.csv"), STAFF).expect("csv");
    let build = |key: &str| {
        let args =
            ["user", "roster", "build", "--from", "users.csv", "--it-key", "it.key", "--out", "roster-2.dtkroster"];
        let more = ["--previous", "roster-1.dtkroster", "--changes", "a.dtkchanges", "--workstation-key", key];
        it_cmd(&[&args[..], &more[..]].concat(), site.it.path())
    };
    let untrusted = build(&"ab".repeat(32));
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(stderr(&untrusted).contains("a.dtkchanges: changes file refused"), "{}", stderr(&untrusted));
    let merged = build(&a_key);
    assert!(merged.status.success(), "{}", stderr(&merged));
    std::fs::copy(site.it.path().join("roster-2.dtkroster"), site.folder.path().join("roster-2.dtkroster"))
        .expect("copy");

    // B, once it has applied roster 2, opens with her own password and no longer with the one-time one.
    site.sign_in(&site.b, ADMIN.0, ADMIN.1).expect("B applies roster 2");
    let s = site.sign_in(&site.b, "anurse", "anna-own-pass").expect("her own password travelled to B");
    assert!(!s.must_change_password());
    let old = site.sign_in(&site.b, "anurse", &anna).map(|_| ()).expect_err("the one-time password is spent");
    assert_eq!(old.code, ErrorCode::BadCredentials);
    site.sign_in(&site.a, "anurse", "anna-own-pass").expect("A keeps it");
}

#[test]
fn a_roster_user_keeps_their_password_across_a_rekey_and_reads_what_was_written_after() {
    let site = Site::new();
    let passwords = site.build("roster-1.dtkroster", STAFF, None);
    let mut ws = site.open(&site.a);
    let charge = ws.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &SystemClock).expect("charge (applies roster)");
    ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock).expect("episode");
    let mut anna = ws.sign_in("anurse", &Password::new(otp(&passwords, "anurse").into()), &SystemClock).expect("otp");
    ws.change_password(&mut anna, &Password::new("anna-own-pass".into()), &SystemClock).expect("her own password");
    let before = nursing_note(&mut ws, &anna, "DEV2001");
    drop(ws);

    let keys = tempfile::tempdir().expect("key folder");
    let file = keys.path().join("recovery.txt");
    std::fs::write(&file, site.recovery_a.expose()).expect("key file");
    let out = site.dtk(&site.a, ADMIN, &["rekey", "--recovery-key-file", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("The data key was rotated (generation 2)"), "{said}");
    assert!(said.contains("2 roster account(s) keep their password"), "{said}");
    assert!(!said.contains("anurse") && !said.contains("bcharge"), "no one-time password for roster users: {said}");
    let one_time = said.lines().find_map(|l| l.strip_prefix("jnurse,nurse,")).expect("the local nurse is reset");

    // A local nurse charts under the new key with her one-time password.
    let mut ws = site.open(&site.a);
    let mut nurse = ws.sign_in(NURSE.0, &Password::new(one_time.into()), &SystemClock).expect("one-time password");
    ws.change_password(&mut nurse, &Password::new(NURSE.1.into()), &SystemClock).expect("her own again");
    let after = nursing_note(&mut ws, &nurse, "DEV2002");
    drop(ws);

    // Anna's own password opens the new key: she reads the entry sealed after the rekey, and her own from before.
    let mut ws = site.open(&site.a);
    let anna = ws.sign_in("anurse", &Password::new("anna-own-pass".into()), &SystemClock).expect("same password");
    assert!(!anna.must_change_password(), "nothing to change after a rekey");
    for id in [&before, &after] {
        ws.entry(&anna, id, &SystemClock).expect("the roster user reads old and new entries");
    }
    drop(ws);

    // A roster applied after the rekey wraps the newest key, for a new user and for those already here.
    let more = format!("{STAFF}cnew,Cy New,nurse\n");
    let second = site.build("roster-2.dtkroster", &more, Some("roster-1.dtkroster"));
    let mut ws = site.open(&site.a);
    let anna = ws.sign_in("anurse", &Password::new("anna-own-pass".into()), &SystemClock).expect("applies roster 2");
    ws.entry(&anna, &after, &SystemClock).expect("still the newest key");
    let mut cy = ws.sign_in("cnew", &Password::new(otp(&second, "cnew").into()), &SystemClock).expect("new user");
    ws.change_password(&mut cy, &Password::new("cy-own-pass-1".into()), &SystemClock).expect("his own password");
    ws.entry(&cy, &after, &SystemClock).expect("a user added after the rekey opens the newest key");
    let verify = site.dtk(&site.a, ADMIN, &["verify"]);
    assert!(verify.status.success(), "{}{}", stdout(&verify), stderr(&verify));
}
