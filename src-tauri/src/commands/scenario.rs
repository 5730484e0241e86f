//! Drill scenarios on the charge desk (issue 21 item 7): the scenarios offered, starting a drill from one (by file
//! name, never a path), the open drill's injects that have arrived with the score, and marking one seen.
use super::Shell;
use crate::dto::{
    CommandError, DrillInject, DrillScenario, EpisodeStatus, ScenarioChoice, ScenarioExpectation, ScenarioOptions,
    ScenarioOutcome,
};
use dtk::clock::SystemClock;
use dtk::scenario::{DrillScore, Outcome};

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn scenario_out(s: DrillScore) -> DrillScenario {
    let arrived: Vec<u32> = s.injects.iter().filter(|i| i.due).map(|i| i.number).collect();
    DrillScenario {
        injects: s
            .injects
            .into_iter()
            .filter(|i| i.due)
            .rev()
            .map(|i| DrillInject {
                number: i.number,
                at_minutes: i.at_minutes,
                at: i.at,
                text: i.text,
                seen_at: i.seen_at,
                seen_by: i.seen_by,
            })
            .collect(),
        expectations: s
            .expectations
            .into_iter()
            .filter(|e| arrived.contains(&e.inject))
            .map(|e| ScenarioExpectation {
                inject: e.inject,
                what: e.what,
                due_at: e.due_at,
                met_at: e.met_at,
                minutes: e.minutes.map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
                outcome: match e.outcome {
                    Outcome::Met => ScenarioOutcome::Met,
                    Outcome::Missed => ScenarioOutcome::Missed,
                    Outcome::Pending | Outcome::NotReached => ScenarioOutcome::Pending,
                },
            })
            .collect(),
        file: s.file,
        title: s.title,
        description: s.description,
        next_inject_at: s.next_inject_at,
        met: count(s.met),
        total: count(s.total),
    }
}

/// The scenarios a drill can start from (built in, and the site's `scenario_dir`), and the site's files refused.
pub fn drill_scenarios(shell: &Shell) -> Result<ScenarioOptions, CommandError> {
    shell.signed_in(|ws, _session| {
        let (list, problems) = ws.scenarios();
        Ok(ScenarioOptions {
            scenarios: list
                .into_iter()
                .map(|c| ScenarioChoice {
                    file: c.file,
                    title: c.title,
                    description: c.description,
                    injects: count(c.injects),
                    built_in: c.built_in,
                })
                .collect(),
            problems: problems.iter().map(ToString::to_string).collect(),
        })
    })
}

/// Starts a drill from an offered scenario, named by its file name.
pub fn start_scenario_drill(
    shell: &Shell,
    file: String,
    next_update_minutes: Option<u32>,
) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.start_listed_scenario(session, &file, next_update_minutes.map(i64::from), &SystemClock)?;
        super::charge::current_status(ws, session)
    })
}

/// The open drill's scenario (None when no drill with a scenario is open). Passive: the desk's timer polls it.
pub fn drill_scenario(shell: &Shell) -> Result<Option<DrillScenario>, CommandError> {
    shell.signed_in_passive(|ws, session| Ok(ws.drill_scenario(session, &SystemClock)?.map(scenario_out)))
}

/// Marks an inject of the open drill seen (its number, from 1).
pub fn acknowledge_inject(shell: &Shell, number: u32) -> Result<Option<DrillScenario>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.acknowledge_inject(session, number, &SystemClock)?;
        Ok(ws.drill_scenario(session, &SystemClock)?.map(scenario_out))
    })
}
