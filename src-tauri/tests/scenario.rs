//! Drill scenarios through the shell (issue 21 item 7): the desk is offered the site's scenarios and the built-in one
//! (a broken site file is named, not offered), starts a drill from one by its file name, and reads the injects that
//! have arrived in the shape the UI's generated types name, never the ones still to come.
//!
//! Every step of `tests/contract/scenario.json` runs here through the real commands;
//! `ui/src/lib/backend/scenario-contract.test.ts` runs the same steps against the in-memory backend.
use dtk::auth::Role;
use dtk_app::commands::{scenario, Shell};
use dtk_app::dto::{CommandError, DrillScenario, ScenarioOutcome};
use serde::Deserialize;

mod support;

const CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/contract/scenario.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Contract {
    #[allow(dead_code)]
    about: Vec<String>,
    file: String,
    scenario: serde_json::Value,
    offered: Vec<String>,
    before_starting: Vec<Step>,
    steps: Vec<Step>,
    then: Then,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Step {
    #[serde(rename = "as")]
    who: Option<String>,
    start: Option<String>,
    ack: Option<u32>,
    started: Option<Started>,
    seen: Option<String>,
    refused: Option<Refusal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Started {
    title: String,
    arrived: Vec<u32>,
    next_in_minutes: i64,
    met: u32,
    total: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Refusal {
    code: String,
    message: Option<String>,
    starts_with: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Then {
    arrived: Vec<Arrived>,
    outcomes: Vec<ScenarioOutcome>,
    met: u32,
    total: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arrived {
    number: u32,
    seen_by: Option<String>,
}

fn stamp_minutes(a: &str, b: &str) -> i64 {
    let p = |s: &str| dtk::clock::parse_stamp(s).expect("a stamp");
    (p(b) - p(a)).whole_minutes()
}

/// Runs one step as its user; `n` names the step in failures.
fn run(shell: &Shell, n: &str, step: &Step) {
    support::sign_in(shell, step.who.as_deref().unwrap_or("kcharge")).expect("signed in");
    let outcome: Result<Option<DrillScenario>, CommandError> = match (&step.start, step.ack) {
        (Some(file), None) => {
            scenario::start_scenario_drill(shell, file.clone(), None).and_then(|_| scenario::drill_scenario(shell))
        }
        (None, Some(number)) => scenario::acknowledge_inject(shell, number),
        _ => panic!("{n}: a step is a start or an ack"),
    };
    match (outcome, &step.refused) {
        (Ok(s), None) => {
            let s = s.unwrap_or_else(|| panic!("{n}: no drill scenario after the step"));
            if let Some(started) = &step.started {
                assert_eq!(s.title, started.title, "{n}: title");
                assert_eq!(s.injects.iter().map(|i| i.number).collect::<Vec<_>>(), started.arrived, "{n}: arrived");
                let first = s.injects.last().expect("an inject arrived");
                let next = s.next_inject_at.as_deref().expect("a next inject");
                assert_eq!(stamp_minutes(&first.at, next), started.next_in_minutes, "{n}: next inject");
                assert_eq!((s.met, s.total), (started.met, started.total), "{n}: score");
            }
            if let Some(by) = &step.seen {
                let inject = s.injects.iter().find(|i| Some(i.number) == step.ack).expect("the inject");
                assert_eq!(inject.seen_by.as_deref(), Some(by.as_str()), "{n}: seen by");
                assert!(inject.seen_at.is_some(), "{n}: seen at");
            }
        }
        (Err(e), Some(refused)) => {
            let code = serde_json::to_value(e.code).expect("code");
            assert_eq!(code, refused.code.as_str(), "{n}: refused with {} ({})", refused.code, e.message);
            if let Some(message) = &refused.message {
                assert_eq!(&e.message, message, "{n}: the refusal's words");
            }
            if let Some(start) = &refused.starts_with {
                assert!(e.message.starts_with(start.as_str()), "{n}: the refusal's words: {}", e.message);
            }
        }
        (Ok(_), Some(_)) => panic!("{n}: succeeded, but the contract refuses it"),
        (Err(e), None) => panic!("{n}: refused with {:?} ({}), but the contract allows it", e.code, e.message),
    }
}

#[test]
fn the_scenario_contract_holds_for_the_real_commands() {
    let text = std::fs::read_to_string(CONTRACT).expect("tests/contract/scenario.json is readable");
    let contract: Contract = serde_json::from_str(&text).expect("tests/contract/scenario.json matches its shape");
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    let dir = vault.path().join("scenarios");
    std::fs::create_dir(&dir).expect("scenario folder");
    std::fs::write(dir.join(&contract.file), contract.scenario.to_string()).expect("scenario");
    std::fs::write(dir.join("broken.json"), r#"{ "id": "b", "title": "B", "injects": [], "colour": 1 }"#)
        .expect("broken");
    std::fs::write(vault.path().join("site.json"), serde_json::json!({ "scenario_dir": dir }).to_string())
        .expect("site");
    let shell = Shell::open(vault.path());

    support::sign_in(&shell, "kcharge").expect("charge nurse");
    let options = scenario::drill_scenarios(&shell).expect("offered");
    assert_eq!(options.scenarios.iter().map(|c| c.file.clone()).collect::<Vec<_>>(), contract.offered);
    assert!(options.scenarios[1].built_in && !options.scenarios[0].built_in);
    assert_eq!(options.problems.len(), 1, "{:?}", options.problems);
    assert!(options.problems[0].ends_with("broken.json: unknown field `colour`, expected one of `id`, `title`, `description`, `declaration`, `injects`"), "{:?}", options.problems);

    for (i, step) in contract.before_starting.iter().enumerate() {
        run(&shell, &format!("beforeStarting[{i}]"), step);
    }
    for (i, step) in contract.steps.iter().enumerate() {
        run(&shell, &format!("steps[{i}]"), step);
    }

    support::sign_in(&shell, "dnurse").expect("a nurse reads the drill too");
    let s = scenario::drill_scenario(&shell).expect("scenario").expect("open");
    let arrived: Vec<(u32, Option<String>)> = s.injects.iter().map(|i| (i.number, i.seen_by.clone())).collect();
    let expected: Vec<(u32, Option<String>)> =
        contract.then.arrived.iter().map(|a| (a.number, a.seen_by.clone())).collect();
    assert_eq!(arrived, expected, "then: arrived");
    assert_eq!(s.expectations.iter().map(|e| e.outcome).collect::<Vec<_>>(), contract.then.outcomes);
    assert_eq!((s.met, s.total), (contract.then.met, contract.then.total));
    let wire = serde_json::to_value(&s).expect("json");
    assert_eq!(wire["injects"][0]["seenBy"], "kcharge", "{wire}");
    assert!(wire["nextInjectAt"].is_string());
    assert!(!wire.to_string().contains("potassium"), "an inject still to come never crosses: {wire}");
}
