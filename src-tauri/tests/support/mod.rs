//! What the shell's integration tests share: a vault made with the core API, and signing in through the shell.
// Each test file uses its own part of this module; what one of them does not use is not dead code.
#![allow(dead_code)]
use dtk::api::{AddUserRequest, InitRequest, Workstation};
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk_app::commands::{charge, session, Shell};
use dtk_app::dto::{CommandError, DeclareEpisodeRequest, SignInRequest};

/// Every account's password in these tests.
pub const PASSWORD: &str = "a-long-pass-12";

/// A vault made with the core API: set up with an admin, one account per `(username, role)` with [`PASSWORD`], and
/// `census` (a FHIR Bundle) imported.
pub fn vault(unit: &str, users: &[(&str, Role)], census: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("vault dir");
    let mut ws = Workstation::open(dir.path()).expect("open");
    let clock = SystemClock;
    let request = InitRequest {
        unit: unit.into(),
        admin: "it.admin".into(),
        display_name: "IT Admin".into(),
        password: Password::new("admin-pass-1".into()),
    };
    ws.init(request, &clock).expect("init");
    let admin = ws.sign_in("it.admin", &Password::new("admin-pass-1".into()), &clock).expect("admin");
    for &(name, role) in users {
        let request = AddUserRequest {
            username: name.into(),
            display_name: name.into(),
            role,
            password: Password::new(PASSWORD.into()),
        };
        ws.add_user(&admin, request, &clock).expect("user");
    }
    ws.import_census(&admin, census, &clock).expect("census imported");
    dir
}

/// Signs `username` in through the shell, as the sign-in screen does.
pub fn sign_in(shell: &Shell, username: &str) -> Result<(), CommandError> {
    let request = SignInRequest { username: username.into(), password: PASSWORD.into() };
    session::sign_in(shell, request).map(|_| ())
}

/// Declares a downtime episode (not a drill) as the signed-in charge nurse, so that nurses may chart.
pub fn declare_episode(shell: &Shell, reason: &str) {
    let episode = DeclareEpisodeRequest {
        drill: false,
        severity: None,
        affected: vec![],
        impact: None,
        reason: Some(reason.into()),
        next_update_minutes: Some(30),
        began_minutes_ago: None,
    };
    charge::declare_episode(shell, episode).expect("episode declared");
}

/// An HIM station with its handoff key (`lhim` signed in through the core) and a unit (`kcharge`, `dnurse`) whose
/// site.json names that key, with its charge nurse signed in through the shell and an episode declared.
pub struct Stations {
    pub him_dir: tempfile::TempDir,
    pub him_ws: Workstation,
    pub analyst: dtk::api::Session,
    pub unit_dir: tempfile::TempDir,
    pub unit: Shell,
}

pub fn stations() -> Stations {
    let census = std::fs::read(repo("tests/data/census-5-east.json")).expect("census");
    let him_dir = vault("HIM", &[("lhim", Role::Him)], &census);
    let mut him_ws = Workstation::open(him_dir.path()).expect("open HIM");
    let analyst = him_ws.sign_in("lhim", &Password::new(PASSWORD.into()), &SystemClock).expect("HIM");
    let key = him_ws.handoff_keygen(&analyst, &SystemClock).expect("keygen").public_key;
    let unit_dir = vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    std::fs::write(unit_dir.path().join("site.json"), serde_json::json!({ "him_public_key": key }).to_string())
        .expect("site.json");
    let unit = Shell::open(unit_dir.path());
    sign_in(&unit, "kcharge").expect("charge nurse signs in");
    declare_episode(&unit, "EHR outage");
    Stations { him_dir, him_ws, analyst, unit_dir, unit }
}

/// A path in the repository.
pub fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// What the contract files under `tests/contract/` share: a text as typed, and a refusal.
pub mod contract {
    use dtk_app::dto::CommandError;
    use serde::Deserialize;

    /// A text as typed: plain, or one string written `times` times.
    #[derive(Deserialize)]
    #[serde(untagged, deny_unknown_fields)]
    pub enum Text {
        Plain(String),
        Repeated { repeat: String, times: usize },
    }

    impl Text {
        pub fn text(&self) -> String {
            match self {
                Text::Plain(s) => s.clone(),
                Text::Repeated { repeat, times } => repeat.repeat(*times),
            }
        }
    }

    /// How a step is refused: the error code and, when given, exactly the message.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Refusal {
        pub code: String,
        pub message: Option<String>,
    }

    impl Refusal {
        /// Checks `e` is this refusal, and that its message repeats none of `typed` (ignoring texts under `min`
        /// characters, which any message may contain by chance); `n` names the step in failures.
        pub fn check(&self, n: &str, e: &CommandError, typed: &[String], min: usize) {
            let code = serde_json::to_value(e.code).expect("code");
            assert_eq!(code, self.code.as_str(), "{n}: refused with {} ({})", self.code, e.message);
            if let Some(message) = &self.message {
                assert_eq!(&e.message, message, "{n}: the refusal's words");
            }
            for t in typed {
                let t = t.trim();
                assert!(t.len() < min || !e.message.contains(t), "{n}: the refusal repeats the text");
            }
        }
    }
}

/// A medication-administration response: `medication` given by mouth to `mrn` at `at`.
pub fn dose_now(mrn: &str, medication: &str, at: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://downtimekit.example.org/fhir/Questionnaire/medication-administration|1.0.0",
        "status": "completed",
        "subject": { "identifier": { "system": "http://hospital.example.org/mrn", "value": mrn } },
        "item": [
            { "linkId": "medication", "answer": [{ "valueString": medication }] },
            { "linkId": "dose", "answer": [{ "valueQuantity": { "value": 25, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg" } }] },
            { "linkId": "route", "answer": [{ "valueCoding": { "system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route" } }] },
            { "linkId": "time-given", "answer": [{ "valueDateTime": at }] },
            { "linkId": "outcome", "answer": [{ "valueCoding": { "system": "http://terminology.hl7.org/CodeSystem/medication-admin-status", "code": "completed", "display": "Given" } }] }
        ]
    })
}
