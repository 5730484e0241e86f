//! The unit's escalation ladder and contacts as data (issue 21 item 1): a site file beside the checklist naming who
//! to call (help desk, clinical IT lead, nursing informatics, pharmacy, lab, the EHR vendor's support line), with
//! their phone numbers, in what order, for which severities and affected systems, and after how many minutes without
//! an acknowledgement to go to the next level. Its checks, and where the ladder stands in an episode, computed from
//! the episode's events and the clock (never stored). Pure: values in, values out.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::checklist::KNOWN_AFFECTED;
use crate::procedures::ContactCall;
use crate::severity::Severity;

/// One phone number of a contact, with what it is ("desk", "mobile", "pager", "24/7 line").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    pub label: String,
    pub number: String,
}

/// Someone to call: a person or a team's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub id: String,
    /// The name in words ("IT help desk", "Clinical IT lead on call").
    pub name: String,
    /// The team, if the name does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default)]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// One level of the ladder: who to call, and how long to wait for an acknowledgement before the next level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// A title for the level ("First call"); else "Level N".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Ids of the contacts to call, in the order to call them.
    #[serde(default)]
    pub contacts: Vec<String>,
    /// Minutes without an acknowledgement before the next level is called; none: the ladder stops here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_minutes: Option<i64>,
    /// The severities the level is for; empty: every severity (as checklist steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    /// The affected systems the level is for (names of [`KNOWN_AFFECTED`]); empty: every outage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
}

impl Level {
    /// Whether the level is for an outage of this severity affecting these systems: the meaning of
    /// `checklist::Step::applies` (no severity declared yet: every severity's levels apply).
    pub fn applies(&self, severity: Option<Severity>, affected: &[String]) -> bool {
        crate::checklist::for_outage(&self.severities, &self.systems, severity, affected)
    }

    /// Which outages the level is for, in words ("P1, P2 · when EHR or pharmacy is affected"), or `None` for every one.
    pub fn applies_to(&self) -> Option<String> {
        crate::checklist::outages_in_words(&self.severities, &self.systems)
    }

    /// "First call", or "Level 2" when the file gives no name (`number` counts from 1).
    pub fn title(&self, number: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("Level {number}"))
    }
}

/// The site's escalation file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub id: String,
    pub version: String,
    pub title: String,
    pub contacts: Vec<Contact>,
    pub ladder: Vec<Level>,
}

/// A problem with an escalation file: the file, where in it ("contact 'pharmacy'", "ladder level 2") and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", place.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct EscalationProblem {
    pub file: String,
    pub place: Option<String>,
    pub reason: String,
}

const MAX_BYTES: usize = 256 * 1024;
const MAX_CONTACTS: usize = 100;
const MAX_LEVELS: usize = 20;

/// The top level, read first so that each contact and level is read on its own and its problems can name it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    version: String,
    title: String,
    contacts: Vec<serde_json::Value>,
    ladder: Vec<serde_json::Value>,
}

fn plain(text: &str, max: usize) -> bool {
    !text.trim().is_empty()
        && text.chars().count() <= max
        && !text.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c))
}

/// A phone number as people dial it: digits with spaces, '+', '-', '.', '(', ')', and "x" or "ext" before an
/// extension; at least three digits.
fn phone_ok(number: &str) -> bool {
    let n = number.trim();
    let rest = n.replace("ext", "");
    n.chars().count() <= 40
        && n.chars().filter(char::is_ascii_digit).count() >= 3
        && rest.chars().all(|c| c.is_ascii_digit() || " +-.()x".contains(c))
}

impl Escalation {
    /// Parses and checks an escalation file; every problem is reported, each naming the contact or the level.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Escalation, Vec<EscalationProblem>> {
        let problem = |place: Option<String>, reason: String| EscalationProblem { file: file.into(), place, reason };
        let value = crate::json::parse_limited(bytes, MAX_BYTES, 16).map_err(|e| vec![problem(None, e.to_string())])?;
        let raw: Raw = serde_json::from_value(value).map_err(|e| vec![problem(None, e.to_string())])?;
        let mut problems = Vec::new();
        if !plain(&raw.id, 64) || !plain(&raw.version, 64) || !plain(&raw.title, 200) {
            problems.push(problem(None, "id, version and title must be one line each, not empty".into()));
        }
        if raw.contacts.is_empty() || raw.contacts.len() > MAX_CONTACTS {
            problems.push(problem(None, format!("contacts: give 1 to {MAX_CONTACTS} contacts")));
        }
        if raw.ladder.is_empty() || raw.ladder.len() > MAX_LEVELS {
            problems.push(problem(None, format!("ladder: give 1 to {MAX_LEVELS} levels")));
        }
        let mut contacts = Vec::new();
        for (i, v) in raw.contacts.into_iter().enumerate() {
            let id = v.get("id").and_then(|x| x.as_str()).map(str::to_string);
            let place = match &id {
                Some(id) if id.len() <= 64 => format!("contact '{id}'"),
                _ => format!("contacts[{i}]"),
            };
            let c: Contact = match serde_json::from_value(v) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(problem(Some(place), e.to_string()));
                    continue;
                }
            };
            let at = Some(place);
            let id_ok = !c.id.is_empty()
                && c.id.len() <= 64
                && c.id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
            if !id_ok {
                problems.push(problem(at.clone(), "id: 1–64 letters, digits, '-' or '_'".into()));
            }
            if contacts.iter().any(|o: &Contact| o.id == c.id) {
                problems.push(problem(at.clone(), "id: given to two contacts".into()));
            }
            if !plain(&c.name, 100) {
                problems.push(problem(at.clone(), "name: one line of 1–100 characters".into()));
            }
            if c.team.as_deref().is_some_and(|t| !plain(t, 100)) {
                problems.push(problem(at.clone(), "team: one line of 1–100 characters".into()));
            }
            if c.notes.as_deref().is_some_and(|t| !plain(t, 300)) {
                problems.push(problem(at.clone(), "notes: one line of 1–300 characters".into()));
            }
            if c.phones.is_empty() {
                problems.push(problem(at.clone(), "phones: no phone number; give at least one".into()));
            }
            if c.phones.len() > 6 {
                problems.push(problem(at.clone(), "phones: at most 6".into()));
            }
            for (n, p) in c.phones.iter().enumerate() {
                if !plain(&p.label, 40) {
                    problems.push(problem(at.clone(), format!("phones[{n}].label: one line of 1–40 characters")));
                }
                if !phone_ok(&p.number) {
                    problems.push(problem(
                        at.clone(),
                        format!(
                            "phones[{n}].number: not a phone number (digits, spaces, + - . ( ), x or ext before an extension)"
                        ),
                    ));
                }
            }
            contacts.push(c);
        }
        let mut ladder = Vec::new();
        for (i, v) in raw.ladder.into_iter().enumerate() {
            let at = Some(format!("ladder level {}", i + 1));
            let l: Level = match serde_json::from_value(v) {
                Ok(l) => l,
                Err(e) => {
                    problems.push(problem(at, e.to_string()));
                    continue;
                }
            };
            if l.name.as_deref().is_some_and(|t| !plain(t, 100)) {
                problems.push(problem(at.clone(), "name: one line of 1–100 characters".into()));
            }
            if l.contacts.is_empty() {
                problems.push(problem(at.clone(), "contacts: names no one to call".into()));
            }
            let mut seen = std::collections::HashSet::new();
            for id in &l.contacts {
                let shown: String = id.chars().take(64).collect();
                if !seen.insert(id.as_str()) {
                    problems.push(problem(at.clone(), format!("contacts: '{shown}' is given twice")));
                } else if !contacts.iter().any(|c| &c.id == id) {
                    problems.push(problem(at.clone(), format!("contacts: '{shown}' is not a contact of the file")));
                }
            }
            if l.after_minutes.is_some_and(|m| !(1..=24 * 60).contains(&m)) {
                problems.push(problem(at.clone(), "after_minutes: between 1 and 1440 (a day)".into()));
            }
            let mut severities = std::collections::BTreeSet::new();
            if l.severities.iter().any(|s| !severities.insert(*s)) {
                problems.push(problem(at.clone(), "severities: a severity is given twice".into()));
            }
            let mut systems = std::collections::HashSet::new();
            for system in &l.systems {
                match KNOWN_AFFECTED.iter().find(|k| k.eq_ignore_ascii_case(system.trim())) {
                    Some(known) if !systems.insert(*known) => {
                        problems.push(problem(at.clone(), format!("systems: '{known}' is given twice")));
                    }
                    Some(_) => {}
                    None => problems.push(problem(
                        at.clone(),
                        format!(
                            "systems: '{}' is not one of the systems a declaration names ({})",
                            system.chars().take(60).collect::<String>(),
                            KNOWN_AFFECTED.join(", ")
                        ),
                    )),
                }
            }
            ladder.push(l);
        }
        // A level with no wait before the next, followed by a level for every outage it is for, is never reached.
        for (i, l) in ladder.iter().enumerate() {
            if l.after_minutes.is_none() && i + 1 < ladder.len() && l.severities.is_empty() && l.systems.is_empty() {
                problems.push(problem(
                    Some(format!("ladder level {}", i + 1)),
                    "after_minutes: missing, so the levels after it are never reached; say how long to wait".into(),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Escalation { id: raw.id, version: raw.version, title: raw.title, contacts, ladder })
        } else {
            Err(problems)
        }
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts.iter().find(|c| c.id == id)
    }
}

/// The site's escalation file as loaded: where it is, the ladder if it could be read, and why not.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The file configured (`escalation_file`), if any.
    pub file: Option<String>,
    pub escalation: Option<Escalation>,
    pub problems: Vec<EscalationProblem>,
}

/// Reads the site's escalation file (a relative path from `folder`, the site configuration's). A broken file is
/// reported and leaves no ladder: charting goes on; nothing here panics.
pub fn load(path: Option<&std::path::Path>, folder: Option<&std::path::Path>) -> Loaded {
    let Some(path) = path else { return Loaded::default() };
    let path = match folder {
        Some(f) if path.is_relative() => f.join(path),
        _ => path.to_path_buf(),
    };
    let label = path.display().to_string();
    let parsed = std::fs::read(&path)
        .map_err(|e| {
            vec![EscalationProblem { file: label.clone(), place: None, reason: format!("cannot be read: {e}") }]
        })
        .and_then(|bytes| Escalation::parse(&label, &bytes));
    match parsed {
        Ok(e) => Loaded { file: Some(label), escalation: Some(e), problems: Vec::new() },
        Err(problems) => Loaded { file: Some(label), escalation: None, problems },
    }
}

/// Where a level of the ladder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelStatus {
    /// Not for this outage's severity or systems.
    NotForThisOutage,
    /// Not reached: an earlier level is still waiting for an answer, or acknowledged.
    Waiting,
    /// The level to call now (or called, waiting for an acknowledgement).
    Current,
    /// Called (or due) and no acknowledgement within its minutes: the ladder went on.
    NoAnswer,
    /// One of its contacts acknowledged: the ladder stops here.
    Acknowledged,
}

/// One level of the ladder in an episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelState {
    /// Its place in the file, from 1.
    pub number: usize,
    pub title: String,
    pub contacts: Vec<Contact>,
    pub after_minutes: Option<i64>,
    pub applies_to: Option<String>,
    pub status: LevelStatus,
    /// When the ladder reached it (the outage began needing it, or the level before went unanswered).
    pub reached_at: Option<String>,
    /// When it goes (or went) to the next level without an acknowledgement.
    pub escalates_at: Option<String>,
    /// Calls and acknowledgements of its contacts since the level applied, oldest first.
    pub calls: Vec<ContactCall>,
}

/// The ladder in an episode at a moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LadderState {
    pub levels: Vec<LevelState>,
    /// The number of the level to call now, if any (none: acknowledged, or no level is for this outage).
    pub current: Option<usize>,
    /// When the current level goes to the next one without an acknowledgement.
    pub next_escalation_due: Option<String>,
    /// Nobody of the current level is called yet.
    pub call_now: bool,
    /// The current level was reached because the one before went unanswered and nobody of it is called yet, or
    /// the last level went unanswered past its minutes.
    pub overdue: bool,
    /// The acknowledgement that stopped the ladder, if one did.
    pub acknowledged: Option<ContactCall>,
}

/// What the ladder's state is computed from.
pub struct LadderFacts<'a> {
    pub declared_at: OffsetDateTime,
    pub declared_severity: Option<Severity>,
    /// Severity changes after the declaration, oldest first (`procedures::severity_changes`).
    pub changes: &'a [(OffsetDateTime, Severity)],
    pub affected: &'a [String],
    /// Calls and acknowledgements, oldest first (`procedures::contact_calls`).
    pub calls: &'a [ContactCall],
    pub now: OffsetDateTime,
}

/// Where the ladder stands: walking the levels for this outage in order, a level is reached when the outage first
/// needed it (the declaration, or the severity change that brought it in) or when the level before it went
/// unanswered, whichever is later. Its minutes run from its first call (or from when it was reached while nobody of
/// it is called); an acknowledgement by any of its contacts stops the ladder there; when its minutes pass with none,
/// the next level is reached. A level without minutes, or the last one for this outage, is where the ladder ends.
pub fn ladder_state(file: &Escalation, f: &LadderFacts<'_>) -> LadderState {
    let mut history = vec![(f.declared_at, f.declared_severity)];
    history.extend(f.changes.iter().map(|(at, s)| (*at, Some(*s))));
    let current_severity = history.last().and_then(|h| h.1);
    let stamp = crate::clock::stamp;
    let applying: Vec<usize> =
        (0..file.ladder.len()).filter(|&i| file.ladder[i].applies(current_severity, f.affected)).collect();
    let mut out = LadderState {
        levels: Vec::new(),
        current: None,
        next_escalation_due: None,
        call_now: false,
        overdue: false,
        acknowledged: None,
    };
    let mut previous_due: Option<OffsetDateTime> = None;
    let mut stopped = false;
    for (i, level) in file.ladder.iter().enumerate() {
        let mut state = LevelState {
            number: i + 1,
            title: level.title(i + 1),
            contacts: level.contacts.iter().filter_map(|id| file.contact(id).cloned()).collect(),
            after_minutes: level.after_minutes,
            applies_to: level.applies_to(),
            status: LevelStatus::NotForThisOutage,
            reached_at: None,
            escalates_at: None,
            calls: Vec::new(),
        };
        let Some(pos) = applying.iter().position(|&a| a == i) else {
            out.levels.push(state);
            continue;
        };
        let since = history.iter().find(|(_, s)| level.applies(*s, f.affected)).map_or(f.declared_at, |h| h.0);
        state.calls = f
            .calls
            .iter()
            .filter(|c| level.contacts.contains(&c.contact))
            .filter(|c| crate::clock::parse_stamp(&c.at).is_some_and(|at| at >= since))
            .cloned()
            .collect();
        if stopped {
            state.status = LevelStatus::Waiting;
            out.levels.push(state);
            continue;
        }
        let reached = previous_due.map_or(since, |d| d.max(since));
        state.reached_at = Some(stamp(reached));
        if let Some(ack) = state.calls.iter().find(|c| c.acknowledged) {
            state.status = LevelStatus::Acknowledged;
            out.acknowledged = Some(ack.clone());
            stopped = true;
            out.levels.push(state);
            continue;
        }
        let first_call = state.calls.iter().filter_map(|c| crate::clock::parse_stamp(&c.at)).min();
        let due = level.after_minutes.map(|m| first_call.unwrap_or(reached) + time::Duration::minutes(m));
        state.escalates_at = due.map(stamp);
        let last = pos + 1 == applying.len();
        match due {
            Some(d) if d <= f.now && !last => {
                state.status = LevelStatus::NoAnswer;
                previous_due = Some(d);
            }
            _ => {
                state.status = LevelStatus::Current;
                out.current = Some(i + 1);
                out.next_escalation_due = if last { None } else { state.escalates_at.clone() };
                out.call_now = first_call.is_none();
                let escalated = previous_due.is_some_and(|d| d >= since);
                out.overdue = (escalated && first_call.is_none()) || (last && due.is_some_and(|d| d <= f.now));
                stopped = true;
            }
        }
        out.levels.push(state);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DEMO: &str = include_str!("../assets/demo/escalation-demo.json");

    fn problems(json: &str) -> Vec<String> {
        Escalation::parse("esc.json", json.as_bytes()).expect_err("refused").iter().map(ToString::to_string).collect()
    }

    fn call(at: &str, contact: &str, acknowledged: bool) -> ContactCall {
        ContactCall { at: at.into(), by: "kcharge".into(), contact: contact.into(), name: contact.into(), acknowledged }
    }

    #[test]
    fn the_demo_file_is_valid() {
        let e = Escalation::parse("demo", DEMO.as_bytes()).expect("valid");
        assert!(e.contacts.len() >= 6 && e.ladder.len() >= 3);
        assert!(e.contacts.iter().flat_map(|c| &c.phones).all(|p| p.number.contains("555-01")), "synthetic numbers");
    }

    #[test]
    fn problems_name_the_file_the_contact_or_level_and_the_field() {
        let ok_contact = r#"{"id":"desk","name":"Help desk","phones":[{"label":"desk","number":"555-0100"}]}"#;
        let p = problems(&format!(
            r#"{{"id":"x","version":"1","title":"T","contacts":[{ok_contact},
               {{"id":"lab","name":"Lab"}},
               {{"id":"rx","name":"Pharmacy","phones":[{{"label":"desk","number":"call Bob"}}]}},
               {{"id":"vendor","name":"Vendor","phone":"555-0101"}}],
              "ladder":[{{"contacts":["desk","nobody"],"after_minutes":0}},
                        {{"contacts":["desk"],"systems":["printers"]}},{{"contacts":[]}}]}}"#
        ));
        for expect in [
            "esc.json: contact 'lab': phones: no phone number; give at least one",
            "esc.json: contact 'rx': phones[0].number: not a phone number",
            "esc.json: contact 'vendor': unknown field `phone`",
            "esc.json: ladder level 1: contacts: 'nobody' is not a contact of the file",
            "esc.json: ladder level 1: after_minutes: between 1 and 1440",
            "esc.json: ladder level 2: systems: 'printers' is not one of the systems",
            "esc.json: ladder level 3: contacts: names no one to call",
        ] {
            assert!(p.iter().any(|x| x.starts_with(expect)), "missing '{expect}' in {p:#?}");
        }
        let twice = problems(r#"{"id":"x","id":"y","version":"1","title":"T","contacts":[],"ladder":[]}"#);
        assert!(twice[0].contains("the key \"id\" is given twice"), "{twice:?}");
        let order = problems(&format!(
            r#"{{"id":"x","version":"1","title":"T","contacts":[{ok_contact}],
               "ladder":[{{"contacts":["desk"]}},{{"contacts":["desk"],"after_minutes":10}}]}}"#
        ));
        assert!(order[0].contains("ladder level 1: after_minutes: missing, so the levels after it are never reached"));
        let dup = problems(&format!(
            r#"{{"id":"x","version":"1","title":"T","contacts":[{ok_contact},{ok_contact}],
               "ladder":[{{"contacts":["desk","desk"]}}]}}"#
        ));
        assert!(dup.iter().any(|p| p.contains("contact 'desk': id: given to two contacts")), "{dup:?}");
        assert!(dup.iter().any(|p| p.contains("ladder level 1: contacts: 'desk' is given twice")), "{dup:?}");
        assert!(problems("not json")[0].starts_with("esc.json: not valid JSON"));
    }

    #[test]
    fn a_missing_or_broken_file_loads_no_ladder_and_says_why() {
        let none = load(None, None);
        assert!(none.file.is_none() && none.escalation.is_none() && none.problems.is_empty());
        let dir = tempfile::tempdir().expect("dir");
        crate::durable::write(&dir.path().join("esc.json"), b"{").expect("write");
        let broken = load(Some(std::path::Path::new("esc.json")), Some(dir.path()));
        assert!(broken.escalation.is_none());
        assert!(broken.problems[0].to_string().contains("esc.json: not valid JSON"), "{:?}", broken.problems);
        let missing = load(Some(std::path::Path::new("gone.json")), Some(dir.path()));
        assert!(missing.problems[0].reason.starts_with("cannot be read"));
    }

    fn ladder() -> Escalation {
        Escalation::parse(
            "t",
            br#"{"id":"t","version":"1","title":"T",
              "contacts":[{"id":"desk","name":"Help desk","phones":[{"label":"24/7","number":"555-0100"}]},
                          {"id":"lead","name":"Clinical IT lead","phones":[{"label":"mobile","number":"555-0101"}]},
                          {"id":"rx","name":"Pharmacy","phones":[{"label":"desk","number":"555-0102"}]},
                          {"id":"vendor","name":"EHR vendor","phones":[{"label":"support","number":"555-0103"}]}],
              "ladder":[{"contacts":["desk"],"after_minutes":15},
                        {"contacts":["rx"],"after_minutes":20,"systems":["pharmacy"]},
                        {"contacts":["lead"],"after_minutes":30,"severities":["P1","P2"]},
                        {"contacts":["vendor"],"after_minutes":30,"severities":["P1"]}]}"#,
        )
        .expect("valid")
    }

    fn state(
        sev: Option<Severity>,
        changes: &[(OffsetDateTime, Severity)],
        calls: &[ContactCall],
        now: OffsetDateTime,
    ) -> LadderState {
        ladder_state(
            &ladder(),
            &LadderFacts {
                declared_at: datetime!(2026-12-07 09:00 UTC),
                declared_severity: sev,
                changes,
                affected: &["EHR".to_string()],
                calls,
                now,
            },
        )
    }

    #[test]
    fn the_next_escalation_runs_from_the_first_call_and_an_acknowledgement_stops_the_ladder() {
        let s = state(Some(Severity::P2), &[], &[], datetime!(2026-12-07 09:05 UTC));
        let statuses: Vec<LevelStatus> = s.levels.iter().map(|l| l.status).collect();
        use LevelStatus::*;
        assert_eq!(
            statuses,
            vec![Current, NotForThisOutage, Waiting, NotForThisOutage],
            "pharmacy and P1 do not apply"
        );
        assert_eq!(s.current, Some(1));
        assert_eq!(s.next_escalation_due.as_deref(), Some("2026-12-07T09:15:00.000Z"), "15 min from the declaration");
        assert!(!s.overdue);

        // Called at 09:05: the 15 minutes run from the call.
        let calls = [call("2026-12-07T09:05:00.000Z", "desk", false)];
        let s = state(Some(Severity::P2), &[], &calls, datetime!(2026-12-07 09:19 UTC));
        assert_eq!(s.next_escalation_due.as_deref(), Some("2026-12-07T09:20:00.000Z"));
        // No answer by 09:20: the lead is due, nobody called: overdue.
        let s = state(Some(Severity::P2), &[], &calls, datetime!(2026-12-07 09:21 UTC));
        assert_eq!((s.current, s.overdue), (Some(3), true));
        assert_eq!(s.levels[0].status, NoAnswer);
        assert_eq!(s.levels[2].reached_at.as_deref(), Some("2026-12-07T09:20:00.000Z"));
        assert_eq!(s.next_escalation_due, None, "the lead is the last level for a P2");
        // The lead called at 09:25 and acknowledged at 09:30: the ladder stops.
        let calls = [
            call("2026-12-07T09:05:00.000Z", "desk", false),
            call("2026-12-07T09:25:00.000Z", "lead", false),
            call("2026-12-07T09:30:00.000Z", "lead", true),
        ];
        let s = state(Some(Severity::P2), &[], &calls, datetime!(2026-12-07 11:00 UTC));
        assert_eq!((s.current, s.overdue, s.next_escalation_due.as_deref()), (None, false, None));
        assert_eq!(s.acknowledged.as_ref().map(|a| a.contact.as_str()), Some("lead"));
        assert_eq!(s.levels[2].status, Acknowledged);
    }

    #[test]
    fn a_severity_change_brings_levels_in_from_when_it_happened() {
        // P3 at 09:00, the desk acknowledged at 09:03; P1 at 10:00 brings in the lead and the vendor: the desk's
        // acknowledgement still stops the ladder at level 1.
        let calls = [call("2026-12-07T09:03:00.000Z", "desk", true)];
        let up = [(datetime!(2026-12-07 10:00 UTC), Severity::P1)];
        let s = state(Some(Severity::P3), &up, &calls, datetime!(2026-12-07 10:05 UTC));
        assert_eq!(s.levels[0].status, LevelStatus::Acknowledged);
        assert_eq!(s.levels[2].status, LevelStatus::Waiting);
        // Without an acknowledgement the lead's level counts from the change to P1, not from the declaration.
        let calls = [call("2026-12-07T09:03:00.000Z", "desk", false)];
        let s = state(Some(Severity::P3), &up, &calls, datetime!(2026-12-07 10:05 UTC));
        assert_eq!(s.current, Some(3));
        assert_eq!(s.levels[2].reached_at.as_deref(), Some("2026-12-07T10:00:00.000Z"));
        assert_eq!(s.next_escalation_due.as_deref(), Some("2026-12-07T10:30:00.000Z"));
        assert!(!s.overdue, "reached by the severity change at 10:00, and 09:18 was before it");
        // No severity declared yet: every severity's levels apply (never hidden for want of a fact).
        let s = state(None, &[], &[], datetime!(2026-12-07 09:01 UTC));
        assert_eq!(s.levels.iter().filter(|l| l.status != LevelStatus::NotForThisOutage).count(), 3);
    }
}
