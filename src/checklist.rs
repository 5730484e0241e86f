//! The unit's downtime checklist as data: the file format (steps by phase, owner, due time, and the severities and
//! affected systems a step is for), its checks, the built-in checklist, and which steps apply to an outage.

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::severity::Severity;

/// Systems and workflows a downtime commonly affects (the declaration may add others in words).
pub const KNOWN_AFFECTED: &[&str] = &[
    "EHR",
    "lab results",
    "pharmacy",
    "ADT",
    "radiology",
    "orders",
    "MAR",
    "barcode medication administration",
    "network",
    "phones",
];

/// Phases of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Declare,
    During,
    Recovery,
}

/// One step of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    pub phase: Phase,
    pub role: Role,
    pub text: String,
    /// Minutes after the declaration by which the step should be done; overdue after that. For a step that only
    /// some severities need, counted from when the episode first reached one of them.
    #[serde(default)]
    pub due_minutes: Option<i64>,
    /// The severities the step is for; empty: every severity (issue 21 item 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    /// The affected systems the step is for, from [`KNOWN_AFFECTED`]: it applies when the declaration names any of
    /// them. Empty: every outage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
}

/// Whether something for `severities` and `systems` (a checklist step, an escalation level; empty: every one) is
/// for an outage of this severity that affects these systems. While no severity is declared every severity's items
/// apply: nothing is hidden for want of a fact.
pub fn for_outage(
    severities: &[Severity],
    systems: &[String],
    severity: Option<Severity>,
    affected: &[String],
) -> bool {
    let severity_ok = severities.is_empty() || severity.is_none_or(|s| severities.contains(&s));
    let systems_ok =
        systems.is_empty() || systems.iter().any(|want| affected.iter().any(|a| a.trim().eq_ignore_ascii_case(want)));
    severity_ok && systems_ok
}

/// Which outages something for `severities` and `systems` is for, in words ("P1, P2 · when EHR or MAR is
/// affected"), or `None` for every one.
pub fn outages_in_words(severities: &[Severity], systems: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if !severities.is_empty() {
        parts.push(severities.iter().map(|s| s.code()).collect::<Vec<_>>().join(", "));
    }
    if !systems.is_empty() {
        parts.push(format!("when {} is affected", systems.join(" or ")));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

impl Step {
    /// Whether the step is for an outage of this severity that affects these systems ([`for_outage`]).
    pub fn applies(&self, severity: Option<Severity>, affected: &[String]) -> bool {
        for_outage(&self.severities, &self.systems, severity, affected)
    }

    /// Which outages the step is for, in words, or `None` for every one.
    pub fn applies_to(&self) -> Option<String> {
        outages_in_words(&self.severities, &self.systems)
    }
}

/// The facts of an outage that decide which checklist steps apply: its severity as declared (changes are events) and
/// the systems the declaration names.
#[derive(Debug, Clone, Copy)]
pub struct Outage<'a> {
    pub declared_severity: Option<Severity>,
    pub affected: &'a [String],
}

/// The hospital's checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub id: String,
    pub version: String,
    pub title: String,
    pub steps: Vec<Step>,
}

/// The checklist shipped with the application, used when the site names none.
pub const DEFAULT_CHECKLIST: &str = include_str!("../checklists/downtime-checklist.json");

/// A problem with a checklist file: file, step and reason, like form problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", step.as_ref().map(|s| format!("step '{s}': ")).unwrap_or_default())]
pub struct ChecklistProblem {
    pub file: String,
    pub step: Option<String>,
    pub reason: String,
}

const MAX_CHECKLIST_BYTES: usize = 256 * 1024;
const MAX_STEPS: usize = 200;

impl Checklist {
    /// Parses and checks a checklist; every problem is reported, each naming the step.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Checklist, Vec<ChecklistProblem>> {
        let problem = |step: Option<&str>, reason: String| ChecklistProblem {
            file: file.into(),
            step: step.map(str::to_string),
            reason,
        };
        let value = crate::json::parse_limited(bytes, MAX_CHECKLIST_BYTES, 16)
            .map_err(|e| vec![problem(None, e.to_string())])?;
        let list: Checklist = serde_json::from_value(value).map_err(|e| vec![problem(None, e.to_string())])?;
        let mut problems = Vec::new();
        if list.id.trim().is_empty() || list.version.trim().is_empty() || list.title.trim().is_empty() {
            problems.push(problem(None, "id, version and title must not be empty".into()));
        }
        if list.steps.is_empty() {
            problems.push(problem(None, "the checklist has no steps".into()));
        }
        if list.steps.len() > MAX_STEPS {
            problems.push(problem(None, format!("more than {MAX_STEPS} steps")));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &list.steps {
            let id = Some(s.id.as_str());
            let id_ok = !s.id.is_empty()
                && s.id.len() <= 64
                && s.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                problems.push(problem(id, "the id must be 1–64 letters, digits, '-' or '_'".into()));
            }
            if !seen.insert(s.id.clone()) {
                problems.push(problem(id, "duplicate step id".into()));
            }
            if s.text.trim().is_empty() || s.text.len() > 1000 {
                problems.push(problem(id, "the text must be 1–1000 characters".into()));
            }
            if s.text.chars().any(|c| (c.is_control() && c != '\n') || crate::forms::is_bidi_control(c)) {
                problems.push(problem(id, "the text contains control or text-direction characters".into()));
            }
            let mut severities = std::collections::BTreeSet::new();
            if s.severities.iter().any(|v| !severities.insert(*v)) {
                problems.push(problem(id, "a severity is given twice in severities".into()));
            }
            let mut systems = std::collections::HashSet::new();
            for system in &s.systems {
                match KNOWN_AFFECTED.iter().find(|k| k.eq_ignore_ascii_case(system.trim())) {
                    Some(known) if !systems.insert(*known) => {
                        problems.push(problem(id, format!("systems: '{known}' is given twice")));
                    }
                    Some(_) => {}
                    None => problems.push(problem(
                        id,
                        format!(
                            "systems: '{}' is not one of the systems a declaration names ({})",
                            system.chars().take(60).collect::<String>(),
                            KNOWN_AFFECTED.join(", ")
                        ),
                    )),
                }
            }
            if let Some(m) = s.due_minutes {
                if !(1..=7 * 24 * 60).contains(&m) {
                    problems.push(problem(id, "due_minutes must be between 1 and 10080 (a week)".into()));
                }
            }
        }
        if problems.is_empty() {
            Ok(list)
        } else {
            Err(problems)
        }
    }

    pub fn default_list() -> Checklist {
        // The default ships with the binary and is checked by a unit test, so this cannot fail at run time; the
        // fallback keeps the guarantee that nothing here panics.
        Self::parse("checklists/downtime-checklist.json", DEFAULT_CHECKLIST.as_bytes()).unwrap_or_else(|_| Checklist {
            id: "empty".into(),
            version: "0".into(),
            title: "Checklist".into(),
            steps: Vec::new(),
        })
    }
}

/// Loads the site's checklist, or the built-in one (reporting why a broken file was not used).
pub fn load_checklist(path: Option<&std::path::Path>) -> (Checklist, Vec<ChecklistProblem>) {
    let Some(path) = path else { return (Checklist::default_list(), Vec::new()) };
    let label = path.display().to_string();
    let parsed = std::fs::read(path)
        .map_err(|e| vec![ChecklistProblem { file: label.clone(), step: None, reason: format!("cannot be read: {e}") }])
        .and_then(|bytes| Checklist::parse(&label, &bytes));
    match parsed {
        Ok(list) => (list, Vec::new()),
        // A broken checklist must not stop charting: the built-in one is used and the problem is reported.
        Err(problems) => (Checklist::default_list(), problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_checklist_is_valid() {
        let list = Checklist::parse("default", DEFAULT_CHECKLIST.as_bytes()).expect("valid");
        assert!(list.steps.len() >= 8);
        assert_eq!(Checklist::default_list(), list);
    }
}
