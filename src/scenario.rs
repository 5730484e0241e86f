//! Tabletop scenarios for drills (issue 21 item 7): the scenario file (the declaration a drill starts with and the
//! injects that reach the charge nurse at set minutes, each with what the unit is expected to do), its strict checks,
//! which injects are due at a time, and the score of a drill against it. Pure: values in, values out; the scenario
//! itself is kept as an episode event (`Event::Scenario`, its text as read) so that it travels with the drill.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::checklist::{Checklist, KNOWN_AFFECTED};
use crate::clock::{parse_stamp, stamp};
use crate::procedures::{Event, IncidentRole, Recorded};
use crate::severity::Severity;

/// The largest scenario file read (a tabletop script, not a document).
pub const MAX_SCENARIO_BYTES: usize = 64 * 1024;
/// The most injects one scenario holds.
pub const MAX_INJECTS: usize = 50;
/// The most expectations one inject holds.
pub const MAX_EXPECTATIONS: usize = 10;
/// The latest minute an inject may arrive at, and the longest an expectation may allow: a day.
pub const MAX_MINUTES: u32 = 24 * 60;

/// A tabletop scenario as its file says it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub description: String,
    pub declaration: ScenarioDeclaration,
    pub injects: Vec<Inject>,
}

/// The declaration a scenario's drill starts with: the names the charge nurse's declaration takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioDeclaration {
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// From the systems a declaration names (`KNOWN_AFFECTED`), spelled as the kit spells them.
    #[serde(default)]
    pub affected: Vec<String>,
    #[serde(default)]
    pub impact: Option<String>,
}

/// Something that happens to the unit at a set minute of the drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inject {
    /// Minutes after the drill was declared.
    pub at_minutes: u32,
    pub text: String,
    pub expect: Vec<Expectation>,
}

/// What the unit is expected to do after an inject, within `within_minutes` of it: only what the kit records, so it is
/// scored without anyone's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// The episode's severity is this one or worse (P1 is worse than P2).
    SeverityAtLeast { severity: Severity, within_minutes: u32 },
    /// A decision is recorded after the inject.
    Decision { within_minutes: u32 },
    /// A status update is kept after the inject.
    StatusUpdate { within_minutes: u32 },
    /// Someone holds the incident role.
    Role { role: IncidentRole, within_minutes: u32 },
    /// The checklist step is ticked.
    ChecklistStep { step: String, within_minutes: u32 },
    /// The episode has its first electronic entry.
    FirstEntry { within_minutes: u32 },
    /// The charge nurse marks the inject seen.
    Acknowledged { within_minutes: u32 },
}

impl Expectation {
    pub fn within_minutes(&self) -> u32 {
        match self {
            Expectation::SeverityAtLeast { within_minutes, .. }
            | Expectation::Decision { within_minutes }
            | Expectation::StatusUpdate { within_minutes }
            | Expectation::Role { within_minutes, .. }
            | Expectation::ChecklistStep { within_minutes, .. }
            | Expectation::FirstEntry { within_minutes }
            | Expectation::Acknowledged { within_minutes } => *within_minutes,
        }
    }

    /// The expectation in the words of the desk and the report.
    pub fn describe(&self, checklist: Option<&Checklist>) -> String {
        let within = self.within_minutes();
        let what = match self {
            Expectation::SeverityAtLeast { severity, .. } => format!("Severity {} or higher", severity.code()),
            Expectation::Decision { .. } => "A decision recorded".into(),
            Expectation::StatusUpdate { .. } => "A status update kept".into(),
            Expectation::Role { role, .. } => format!("{} named", role.title()),
            Expectation::ChecklistStep { step, .. } => {
                let text = checklist.and_then(|c| c.steps.iter().find(|s| &s.id == step)).map(|s| s.text.as_str());
                match text {
                    Some(t) => format!("Checklist step ticked: {}", t.trim_end_matches('.')),
                    None => format!("Checklist step ticked: {step}"),
                }
            }
            Expectation::FirstEntry { .. } => "First electronic entry".into(),
            Expectation::Acknowledged { .. } => "Inject marked seen".into(),
        };
        format!("{what} (within {within} min)")
    }
}

/// Why a scenario file was refused: the file, where in it, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", if at.is_empty() { String::new() } else { format!("{at}: ") })]
pub struct ScenarioError {
    pub file: String,
    /// Where: "" for the file as a whole, else a field path such as `injects[2].expect[0]`.
    pub at: String,
    pub reason: String,
}

/// The top of the file, read before its injects so that a problem in one inject is named by its index.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTop {
    id: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    declaration: ScenarioDeclaration,
    injects: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInject {
    at_minutes: u32,
    text: String,
    #[serde(default)]
    expect: Vec<serde_json::Value>,
}

fn plain(text: &str, max_chars: usize, newlines: bool) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max_chars {
        return Err(format!("is over {max_chars} characters"));
    }
    if text.chars().any(|c| (c.is_control() && !(newlines && c == '\n')) || crate::forms::is_bidi_control(c)) {
        return Err("holds control or text-direction characters".into());
    }
    Ok(())
}

impl Scenario {
    /// Parses and checks a scenario file. `file` only names it in errors. With `checklist`, every `checklist_step`
    /// must name one of its steps (when a drill starts); without, step ids are taken as written (a scenario read back
    /// from a drill, perhaps on a station with another checklist). The first problem found is reported.
    pub fn parse(file: &str, bytes: &[u8], checklist: Option<&Checklist>) -> Result<Scenario, ScenarioError> {
        let bad = |at: &str, reason: String| ScenarioError { file: file.into(), at: at.into(), reason };
        let value = crate::json::parse_limited(bytes, MAX_SCENARIO_BYTES, 8).map_err(|e| match e {
            crate::json::JsonError::TooLarge { .. } => {
                bad("", format!("the file is larger than {} KiB", MAX_SCENARIO_BYTES / 1024))
            }
            e => bad("", e.to_string()),
        })?;
        let top: FileTop = serde_json::from_value(value).map_err(|e| bad("", e.to_string()))?;
        let id_ok = !top.id.is_empty()
            && top.id.len() <= 64
            && top.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(bad("id", "must be 1–64 letters, digits, '-' or '_'".into()));
        }
        plain(&top.title, 200, false).map_err(|r| bad("title", r))?;
        if !top.description.is_empty() {
            plain(&top.description, 2000, true).map_err(|r| bad("description", r))?;
        }
        let mut declaration = top.declaration;
        if let Some(reason) = &declaration.reason {
            plain(reason, 500, false).map_err(|r| bad("declaration.reason", r))?;
        }
        if let Some(impact) = &declaration.impact {
            plain(impact, 2000, true).map_err(|r| bad("declaration.impact", r))?;
        }
        let mut affected = Vec::new();
        for (i, system) in declaration.affected.iter().enumerate() {
            let at = format!("declaration.affected[{i}]");
            let Some(known) = KNOWN_AFFECTED.iter().find(|k| k.eq_ignore_ascii_case(system.trim())) else {
                return Err(bad(
                    &at,
                    format!(
                        "'{}' is not one of the systems a declaration names ({})",
                        system.chars().filter(|c| !c.is_control()).take(60).collect::<String>(),
                        KNOWN_AFFECTED.join(", ")
                    ),
                ));
            };
            if affected.iter().any(|a: &String| a == known) {
                return Err(bad(&at, format!("'{known}' is given twice")));
            }
            affected.push(known.to_string());
        }
        declaration.affected = affected;
        if top.injects.is_empty() {
            return Err(bad("injects", "the scenario has no injects".into()));
        }
        if top.injects.len() > MAX_INJECTS {
            return Err(bad("injects", format!("more than {MAX_INJECTS} injects")));
        }
        let mut injects: Vec<Inject> = Vec::new();
        for (i, value) in top.injects.into_iter().enumerate() {
            let at = format!("injects[{i}]");
            let raw: FileInject = serde_json::from_value(value).map_err(|e| bad(&at, e.to_string()))?;
            if raw.at_minutes > MAX_MINUTES {
                return Err(bad(&format!("{at}.at_minutes"), format!("must be between 0 and {MAX_MINUTES}")));
            }
            if let Some(prev) = injects.last().filter(|p| p.at_minutes > raw.at_minutes) {
                return Err(bad(
                    &format!("{at}.at_minutes"),
                    format!(
                        "injects must be in order of their minute: {} comes after an inject at {}",
                        raw.at_minutes, prev.at_minutes
                    ),
                ));
            }
            plain(&raw.text, 1000, true).map_err(|r| bad(&format!("{at}.text"), r))?;
            if raw.expect.len() > MAX_EXPECTATIONS {
                return Err(bad(&format!("{at}.expect"), format!("more than {MAX_EXPECTATIONS} expectations")));
            }
            let mut expect = Vec::new();
            for (j, value) in raw.expect.into_iter().enumerate() {
                let at = format!("{at}.expect[{j}]");
                let e: Expectation = serde_json::from_value(value).map_err(|e| bad(&at, e.to_string()))?;
                if !(1..=MAX_MINUTES).contains(&e.within_minutes()) {
                    return Err(bad(&format!("{at}.within_minutes"), format!("must be between 1 and {MAX_MINUTES}")));
                }
                if let (Expectation::ChecklistStep { step, .. }, Some(list)) = (&e, checklist) {
                    if !list.steps.iter().any(|s| &s.id == step) {
                        return Err(bad(
                            &format!("{at}.step"),
                            format!(
                                "the checklist '{}' has no step '{}'",
                                list.title,
                                step.chars().filter(|c| !c.is_control()).take(64).collect::<String>()
                            ),
                        ));
                    }
                }
                expect.push(e);
            }
            injects.push(Inject { at_minutes: raw.at_minutes, text: raw.text, expect });
        }
        Ok(Scenario { id: top.id, title: top.title, description: top.description, declaration, injects })
    }
}

/// The scenario a drill was started with: the file name and text kept with it, if any.
pub fn recorded(events: &[Recorded]) -> Option<(&str, &str)> {
    events.iter().find_map(|r| match &r.event {
        Event::Scenario { file, source } => Some((file.as_str(), source.as_str())),
        _ => None,
    })
}

/// How an expectation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Met,
    Missed,
    /// The drill is still open and its time has not run out (or its inject has not arrived yet).
    Pending,
    /// Its inject never arrived: the drill ended first. Not counted in the score.
    NotReached,
}

/// An inject as it stands in a drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectState {
    /// Its place in the scenario, from 1 (as the desk and `dtk episode ack` number it).
    pub number: u32,
    pub at_minutes: u32,
    /// When it arrives (declaration + `at_minutes`).
    pub at: String,
    pub text: String,
    /// Whether its minute has come.
    pub due: bool,
    pub seen_at: Option<String>,
    pub seen_by: Option<String>,
}

/// An expectation of an inject, scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationResult {
    /// The inject it belongs to, from 1.
    pub inject: u32,
    pub what: String,
    /// When its time runs out.
    pub due_at: String,
    pub met_at: Option<String>,
    /// Minutes from the inject to when it was met.
    pub minutes: Option<i64>,
    pub outcome: Outcome,
}

/// A drill measured against its scenario at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillScore {
    pub file: String,
    pub id: String,
    pub title: String,
    pub description: String,
    pub injects: Vec<InjectState>,
    /// When the next inject arrives, if one is still to come.
    pub next_inject_at: Option<String>,
    pub expectations: Vec<ExpectationResult>,
    /// Expectations met, of `total`: those of the injects that have arrived.
    pub met: usize,
    pub total: usize,
}

impl DrillScore {
    /// "3 of 5 expectations met": the one line the desk, the CLI and the report share.
    pub fn summary(&self) -> String {
        format!("{} of {} expectations met", self.met, self.total)
    }

    /// The injects whose minute has come, newest first (as the desk lists them).
    pub fn due_newest_first(&self) -> Vec<&InjectState> {
        self.injects.iter().filter(|i| i.due).rev().collect()
    }
}

/// What a drill is scored from.
pub struct ScoreFacts<'a> {
    pub file: &'a str,
    pub scenario: &'a Scenario,
    /// The checklist, for the steps' words.
    pub checklist: Option<&'a Checklist>,
    pub declared_at: OffsetDateTime,
    pub declared_severity: Option<Severity>,
    pub events: &'a [Recorded],
    pub first_entry_at: Option<&'a str>,
    /// Now, or the end of the drill if it ended: injects after it never arrived, and time stops there.
    pub until: OffsetDateTime,
    /// The drill has ended: whatever was not met by then is missed.
    pub ended: bool,
}

/// When `holds` first became true at or after `from`: `from` itself when it already held then (judged over the events
/// up to it), else the first event after `from` that makes it hold.
fn first_holding(
    events: &[(OffsetDateTime, &Recorded)],
    from: OffsetDateTime,
    mut state: impl FnMut(&Recorded) -> Option<bool>,
    initially: bool,
) -> Option<OffsetDateTime> {
    let mut holds = initially;
    for (at, r) in events {
        if *at > from && holds {
            return Some(from);
        }
        if let Some(now) = state(r) {
            holds = now;
            if holds && *at > from {
                return Some(*at);
            }
        }
    }
    holds.then_some(from)
}

/// Scores a drill against its scenario at `f.until`: which injects have arrived (and been seen), each expectation
/// met (when) or missed, or pending while its time has not run out.
pub fn score(f: &ScoreFacts<'_>) -> DrillScore {
    let events: Vec<(OffsetDateTime, &Recorded)> =
        f.events.iter().filter_map(|r| parse_stamp(&r.at).map(|at| (at, r))).collect();
    let mut injects = Vec::new();
    let mut expectations = Vec::new();
    for (i, inject) in f.scenario.injects.iter().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let arrives = f.declared_at + time::Duration::minutes(i64::from(inject.at_minutes));
        let due = arrives <= f.until;
        let seen = events
            .iter()
            .find(|(at, r)| *at <= f.until && matches!(r.event, Event::InjectSeen { inject } if inject == number));
        injects.push(InjectState {
            number,
            at_minutes: inject.at_minutes,
            at: stamp(arrives),
            text: inject.text.clone(),
            due,
            seen_at: seen.map(|(_, r)| r.at.clone()),
            seen_by: seen.map(|(_, r)| r.actor.clone()),
        });
        for e in &inject.expect {
            let deadline = arrives + time::Duration::minutes(i64::from(e.within_minutes()));
            let happened = |want: &dyn Fn(&Event) -> bool| {
                events.iter().find(|(at, r)| *at >= arrives && want(&r.event)).map(|(at, _)| *at)
            };
            let met_at = match e {
                Expectation::SeverityAtLeast { severity, .. } => first_holding(
                    &events,
                    arrives,
                    |r| match r.event {
                        Event::Severity { severity: s, .. } => Some(s <= *severity),
                        _ => None,
                    },
                    f.declared_severity.is_some_and(|s| s <= *severity),
                ),
                Expectation::Decision { .. } => happened(&|e| matches!(e, Event::Decision { .. })),
                Expectation::StatusUpdate { .. } => happened(&|e| matches!(e, Event::StatusUpdate { .. })),
                Expectation::Role { role, .. } => first_holding(
                    &events,
                    arrives,
                    |r| match &r.event {
                        Event::Role { role: named, .. } if named == role => Some(true),
                        _ => None,
                    },
                    false,
                ),
                Expectation::ChecklistStep { step, .. } => first_holding(
                    &events,
                    arrives,
                    |r| match &r.event {
                        Event::StepDone { step: s, .. } if s == step => Some(true),
                        Event::StepUndone { step: s, .. } if s == step => Some(false),
                        _ => None,
                    },
                    false,
                ),
                Expectation::FirstEntry { .. } => f.first_entry_at.and_then(parse_stamp).map(|t| t.max(arrives)),
                Expectation::Acknowledged { .. } => {
                    happened(&|e| matches!(e, Event::InjectSeen { inject } if *inject == number))
                }
            }
            .filter(|t| *t <= f.until);
            let outcome = match met_at {
                _ if !due && f.ended => Outcome::NotReached,
                _ if !due => Outcome::Pending,
                Some(t) if t <= deadline => Outcome::Met,
                Some(_) => Outcome::Missed,
                None if deadline < f.until || f.ended => Outcome::Missed,
                None => Outcome::Pending,
            };
            expectations.push(ExpectationResult {
                inject: number,
                what: e.describe(f.checklist),
                due_at: stamp(deadline),
                minutes: met_at.map(|t| (t - arrives).whole_minutes()),
                met_at: met_at.map(stamp),
                outcome,
            });
        }
    }
    let next_inject_at = injects.iter().find(|i| !i.due).map(|i| i.at.clone());
    DrillScore {
        file: f.file.to_string(),
        id: f.scenario.id.clone(),
        title: f.scenario.title.clone(),
        description: f.scenario.description.clone(),
        met: expectations.iter().filter(|e| e.outcome == Outcome::Met).count(),
        // Only the injects that arrived count: "so far" while the drill runs, and a drill ended early is not
        // scored on what never reached the unit.
        total: expectations
            .iter()
            .filter(|e| e.outcome != Outcome::NotReached && injects[e.inject as usize - 1].due)
            .count(),
        injects,
        next_inject_at,
        expectations,
    }
}

/// The scenarios that ship with the kit (the demo unit drills with the first): file name and text.
pub const BUILT_IN: &[(&str, &str)] =
    &[("ehr-down-mass-casualty.json", include_str!("../scenarios/ehr-down-mass-casualty.json"))];

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-07 10:00 UTC);

    fn at(minutes: i64, actor: &str, event: Event) -> Recorded {
        Recorded { at: stamp(T0 + time::Duration::minutes(minutes)), actor: actor.into(), event }
    }

    fn scenario() -> Scenario {
        let text = r#"{
          "id": "lab-dark", "title": "Lab results interface dark overnight",
          "declaration": { "reason": "Lab interface down", "severity": "P3", "affected": ["lab results"] },
          "injects": [
            { "at_minutes": 0, "text": "Lab calls: results will come by phone.",
              "expect": [ { "kind": "role", "role": "commander", "within_minutes": 10 },
                          { "kind": "acknowledged", "within_minutes": 5 } ] },
            { "at_minutes": 20, "text": "A critical potassium is phoned to the wrong unit.",
              "expect": [ { "kind": "severity_at_least", "severity": "P2", "within_minutes": 10 },
                          { "kind": "decision", "within_minutes": 15 },
                          { "kind": "status_update", "within_minutes": 20 } ] }
          ]
        }"#;
        Scenario::parse("lab.json", text.as_bytes(), None).expect("the test scenario parses")
    }

    fn facts<'a>(s: &'a Scenario, events: &'a [Recorded], until: i64) -> ScoreFacts<'a> {
        ScoreFacts {
            file: "lab.json",
            scenario: s,
            checklist: None,
            declared_at: T0,
            declared_severity: s.declaration.severity,
            events,
            first_entry_at: None,
            until: T0 + time::Duration::minutes(until),
            ended: false,
        }
    }

    #[test]
    fn the_built_in_scenario_parses_against_the_built_in_checklist() {
        for (file, text) in BUILT_IN {
            let s = Scenario::parse(file, text.as_bytes(), Some(&Checklist::default_list()));
            assert!(s.is_ok(), "{s:?}");
        }
    }

    #[test]
    fn injects_arrive_at_their_minute_and_the_next_is_announced() {
        let s = scenario();
        let early = score(&facts(&s, &[], 19));
        assert_eq!(early.injects.iter().map(|i| i.due).collect::<Vec<_>>(), vec![true, false]);
        assert_eq!(early.next_inject_at.as_deref(), Some("2026-12-07T10:20:00.000Z"));
        let later = score(&facts(&s, &[], 20));
        assert_eq!(later.due_newest_first().iter().map(|i| i.number).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(later.next_inject_at, None);
    }

    #[test]
    fn each_expectation_is_met_missed_or_pending_by_the_clock() {
        let s = scenario();
        let events = vec![
            at(3, "kcharge", Event::InjectSeen { inject: 1 }),
            at(12, "kcharge", Event::Role { role: IncidentRole::Commander, name: "Dana Ruiz".into() }),
            at(25, "kcharge", Event::Severity { severity: Severity::P1, note: None }),
            at(28, "kcharge", Event::Decision { text: "Call every critical back".into() }),
        ];
        let r = score(&facts(&s, &events, 30));
        let got: Vec<(&str, Outcome, Option<i64>)> =
            r.expectations.iter().map(|e| (e.what.as_str(), e.outcome, e.minutes)).collect();
        assert_eq!(
            got,
            vec![
                ("Incident commander named (within 10 min)", Outcome::Missed, Some(12)),
                ("Inject marked seen (within 5 min)", Outcome::Met, Some(3)),
                ("Severity P2 or higher (within 10 min)", Outcome::Met, Some(5)),
                ("A decision recorded (within 15 min)", Outcome::Met, Some(8)),
                ("A status update kept (within 20 min)", Outcome::Pending, None),
            ]
        );
        assert_eq!(r.summary(), "3 of 5 expectations met");
        let end = score(&facts(&s, &events, 60));
        assert_eq!(end.expectations[4].outcome, Outcome::Missed, "its time ran out at minute 40");
        let ended_early = score(&ScoreFacts { ended: true, ..facts(&s, &events, 15) });
        let outcomes: Vec<Outcome> = ended_early.expectations.iter().map(|e| e.outcome).collect();
        assert_eq!(
            outcomes,
            vec![Outcome::Missed, Outcome::Met, Outcome::NotReached, Outcome::NotReached, Outcome::NotReached],
            "the commander was not named by the end; the second inject never arrived"
        );
        assert_eq!(ended_early.summary(), "1 of 2 expectations met");
        let open = score(&facts(&s, &[], 5));
        assert_eq!(open.summary(), "0 of 2 expectations met", "only what arrived counts so far");
        let seen = &end.injects[0];
        assert_eq!(
            (seen.seen_at.as_deref(), seen.seen_by.as_deref()),
            (Some("2026-12-07T10:03:00.000Z"), Some("kcharge"))
        );
    }

    #[test]
    fn a_state_that_already_holds_when_the_inject_arrives_is_met_at_once_and_a_tick_taken_back_is_not() {
        let mut s = scenario();
        s.injects[1].expect = vec![
            Expectation::SeverityAtLeast { severity: Severity::P3, within_minutes: 5 },
            Expectation::ChecklistStep { step: "notify-it".into(), within_minutes: 30 },
        ];
        let events = vec![
            at(5, "kcharge", Event::StepDone { step: "notify-it".into(), note: None }),
            at(6, "kcharge", Event::StepUndone { step: "notify-it".into(), reason: "ticked by mistake".into() }),
            at(31, "kcharge", Event::StepDone { step: "notify-it".into(), note: None }),
        ];
        let r = score(&facts(&s, &events, 90));
        assert_eq!((r.expectations[2].outcome, r.expectations[2].minutes), (Outcome::Met, Some(0)));
        assert_eq!((r.expectations[3].outcome, r.expectations[3].minutes), (Outcome::Met, Some(11)));
    }

    fn fail(text: &str) -> String {
        match Scenario::parse("drill.json", text.as_bytes(), Some(&Checklist::default_list())) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn fail_bad_scenarios_are_named_by_file_and_place() {
        let head = r#""id": "x", "title": "X", "declaration": { "affected": ["EHR"] }"#;
        let inject = |body: &str| format!(r#"{{ {head}, "injects": [ {{ "at_minutes": 5, "text": "A" }}, {body} ] }}"#);
        for (text, expect) in [
            (format!(r#"{{ {head}, "injects": [], "colour": "red" }}"#), "drill.json: unknown field `colour`"),
            (format!(r#"{{ {head}, "id": "y", "injects": [] }}"#), "drill.json: the key \"id\" is given twice"),
            (format!(r#"{{ {head}, "injects": [] }}"#), "drill.json: injects: the scenario has no injects"),
            (
                inject(r#"{ "at_minutes": 2, "text": "B" }"#),
                "drill.json: injects[1].at_minutes: injects must be in order of their minute: 2 comes after an inject at 5",
            ),
            (inject(r#"{ "at_minutes": 9, "text": "B", "when": 3 }"#), "drill.json: injects[1]: unknown field `when`"),
            (
                inject(r#"{ "at_minutes": 9, "text": "B", "expect": [ { "kind": "checklist_step", "step": "nope", "within_minutes": 5 } ] }"#),
                "drill.json: injects[1].expect[0].step: the checklist 'Unit downtime procedure' has no step 'nope'",
            ),
            (
                inject(r#"{ "at_minutes": 9, "text": "B", "expect": [ { "kind": "severity_at_least", "severity": "P7", "within_minutes": 5 } ] }"#),
                "drill.json: injects[1].expect[0]: unknown variant `P7`",
            ),
            (
                inject(r#"{ "at_minutes": 9, "text": "B", "expect": [ { "kind": "decision", "within_minutes": 5, "by": "x" } ] }"#),
                "drill.json: injects[1].expect[0]: unknown field `by`",
            ),
            (
                inject(r#"{ "at_minutes": 9, "text": "B", "expect": [ { "kind": "decision", "within_minutes": 0 } ] }"#),
                "drill.json: injects[1].expect[0].within_minutes: must be between 1 and 1440",
            ),
            (
                r#"{ "id": "x", "title": "X", "declaration": { "affected": ["EHR", "mainframe"] }, "injects": [] }"#
                    .to_string(),
                "drill.json: declaration.affected[1]: 'mainframe' is not one of the systems a declaration names",
            ),
        ] {
            let got = fail(&text);
            assert!(got.starts_with(expect), "expected '{expect}', got '{got}'");
        }
    }
}
