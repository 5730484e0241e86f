//! The DTOs of drill scenarios on the charge desk (issue 21 item 7): the scenarios a drill can start from, and the
//! open drill's injects that have arrived with the score so far. Injects still to come never cross: they are the
//! drill's surprises.
use super::{add, Bindings};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<ScenarioChoice>(out);
    add::<ScenarioOptions>(out);
    add::<DrillInject>(out);
    add::<ScenarioOutcome>(out);
    add::<ScenarioExpectation>(out);
    add::<DrillScenario>(out);
}

/// A scenario a drill can start from.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioChoice {
    /// Its file name: what `start_scenario_drill` takes.
    pub file: String,
    pub title: String,
    pub description: String,
    pub injects: u32,
    pub built_in: bool,
}

/// The scenarios offered, and why any of the site's files is not (file, place, reason).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioOptions {
    pub scenarios: Vec<ScenarioChoice>,
    pub problems: Vec<String>,
}

/// An inject that has arrived.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DrillInject {
    /// Its number in the scenario, from 1.
    pub number: u32,
    pub at_minutes: u32,
    /// When it arrived.
    pub at: String,
    pub text: String,
    pub seen_at: Option<String>,
    pub seen_by: Option<String>,
}

/// How an expectation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ScenarioOutcome {
    Met,
    Missed,
    Pending,
}

/// An expectation of an inject that has arrived.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioExpectation {
    pub inject: u32,
    /// In words: "Severity P1 or higher (within 10 min)".
    pub what: String,
    pub due_at: String,
    pub met_at: Option<String>,
    /// Minutes from the inject to when it was met.
    pub minutes: Option<i32>,
    pub outcome: ScenarioOutcome,
}

/// The open drill's scenario: the injects that have arrived (newest first), when the next arrives, and the score.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DrillScenario {
    pub file: String,
    pub title: String,
    pub description: String,
    pub injects: Vec<DrillInject>,
    /// When the next inject arrives (its text stays hidden until then), if one is still to come.
    pub next_inject_at: Option<String>,
    pub expectations: Vec<ScenarioExpectation>,
    pub met: u32,
    pub total: u32,
}
