//! The unit's downtime procedure as data: severity on a healthcare scale, the hospital's checklist (a JSON file
//! beside the forms, validated like them), the plain-language status update for leaders, and the episode timeline
//! for after-action review. Pure: values in, values out; storage is in `episodes`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::Role;
use crate::clock::parse_stamp;

/// Severity of a downtime, from the clinician's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Clinicians cannot reach information needed for care now, with no workaround.
    P1,
    /// Workflow disrupted, a workaround is available.
    P2,
    /// Degraded, no direct patient impact.
    P3,
    /// Minor.
    P4,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P1" => Some(Severity::P1),
            "P2" => Some(Severity::P2),
            "P3" => Some(Severity::P3),
            "P4" => Some(Severity::P4),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }

    /// What the level means, in the words shown on the banner and in updates.
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::P1 => "clinicians cannot reach information needed for care now; no workaround",
            Severity::P2 => "workflow disrupted; a workaround is available",
            Severity::P3 => "degraded; no direct patient impact",
            Severity::P4 => "minor",
        }
    }
}

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

impl Step {
    /// Whether the step is for an outage of this severity that affects these systems. While no severity is
    /// declared every severity's steps apply: a step is never hidden for want of a fact.
    pub fn applies(&self, severity: Option<Severity>, affected: &[String]) -> bool {
        let severity_ok = self.severities.is_empty() || severity.is_none_or(|s| self.severities.contains(&s));
        let systems_ok = self.systems.is_empty()
            || self.systems.iter().any(|want| affected.iter().any(|a| a.trim().eq_ignore_ascii_case(want)));
        severity_ok && systems_ok
    }

    /// Which outages the step is for, in words ("P1, P2 · when EHR or MAR is affected"), or `None` for every one.
    pub fn applies_to(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.severities.is_empty() {
            parts.push(self.severities.iter().map(|s| s.code()).collect::<Vec<_>>().join(", "));
        }
        if !self.systems.is_empty() {
            parts.push(format!("when {} is affected", self.systems.join(" or ")));
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
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

/// Where a step stands in an episode.
#[derive(Debug, Clone, Serialize)]
pub struct StepState {
    pub step: Step,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
    /// When it should be done by, if it has a due time.
    pub due_at: Option<String>,
    pub overdue: bool,
    /// Whether the step is for this outage (its severity now, the systems declared); one that is not is shown as
    /// such and is never overdue or missed.
    pub applies: bool,
}

/// Something that happened in an episode (stored sealed in `episode_events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Severity {
        severity: Severity,
        note: Option<String>,
    },
    StepDone {
        step: String,
        note: Option<String>,
    },
    StepUndone {
        step: String,
        reason: String,
    },
    StatusUpdate {
        text: String,
        next_update_due: Option<String>,
    },
    /// A decision the unit took ("switched to paper MAR for ICU"), for the review. Never edited or deleted: a
    /// correction is a new decision.
    Decision {
        text: String,
    },
    /// Who holds an incident role from now on (a name in words: the person may have no account here).
    Role {
        role: IncidentRole,
        name: String,
    },
}

/// The named roles of an incident (issue 21 item 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentRole {
    /// Runs the response: declares, escalates, decides.
    Commander,
    /// Speaks for the clinical side: the bridge between the unit's staff and the incident commander.
    Liaison,
}

impl IncidentRole {
    pub fn parse(s: &str) -> Option<IncidentRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "commander" => Some(IncidentRole::Commander),
            "liaison" => Some(IncidentRole::Liaison),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentRole::Commander => "commander",
            IncidentRole::Liaison => "liaison",
        }
    }

    /// The role in the words of the banner, the timeline and the updates.
    pub fn title(self) -> &'static str {
        match self {
            IncidentRole::Commander => "Incident commander",
            IncidentRole::Liaison => "Clinical liaison",
        }
    }
}

/// The longest decision kept, in characters: a line or two for the review, not a narrative.
pub const MAX_DECISION_CHARS: usize = 500;
/// The longest name of a role holder, in characters.
pub const MAX_ROLE_NAME_CHARS: usize = 100;

/// A decision with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// Who holds a role, since when, and who said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assigned {
    pub name: String,
    pub at: String,
    pub by: String,
}

/// The incident roles as they stand (the latest assignment of each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncidentRoles {
    pub commander: Option<Assigned>,
    pub liaison: Option<Assigned>,
}

impl IncidentRoles {
    /// "Incident commander: Dana Ruiz; Clinical liaison: not named", with " (since 09:05 UTC)" after each name when
    /// `since`: the one line the status-update draft and `dtk episode status` share.
    pub fn summary(&self, since: bool) -> String {
        let who = |a: &Option<Assigned>| match a {
            Some(a) if since => format!("{} (since {})", a.name, hhmm(&a.at)),
            Some(a) => a.name.clone(),
            None => "not named".into(),
        };
        format!(
            "{}: {}; {}: {}",
            IncidentRole::Commander.title(),
            who(&self.commander),
            IncidentRole::Liaison.title(),
            who(&self.liaison)
        )
    }
}

/// The decisions of an episode, oldest first.
pub fn decisions(events: &[Recorded]) -> Vec<Decision> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            Event::Decision { text } => Some(Decision { at: r.at.clone(), by: r.actor.clone(), text: text.clone() }),
            _ => None,
        })
        .collect()
}

/// Every role assignment of an episode, oldest first.
pub fn role_changes(events: &[Recorded]) -> Vec<(IncidentRole, Assigned)> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            Event::Role { role, name } => {
                Some((*role, Assigned { name: name.clone(), at: r.at.clone(), by: r.actor.clone() }))
            }
            _ => None,
        })
        .collect()
}

/// The roles as they stand: the latest assignment of each.
pub fn incident_roles(events: &[Recorded]) -> IncidentRoles {
    let mut roles = IncidentRoles::default();
    for (role, a) in role_changes(events) {
        match role {
            IncidentRole::Commander => roles.commander = Some(a),
            IncidentRole::Liaison => roles.liaison = Some(a),
        }
    }
    roles
}

/// Why an event cannot be kept, if it cannot: oversized, or control or text-direction characters. Checked when
/// the charge nurse records it and again when HIM imports it, so whatever a workstation keeps can be handed off.
pub fn event_problem(event: &Event) -> Option<&'static str> {
    let plain = |t: &str, max: usize| {
        t.len() <= max
            && !t
                .chars()
                .any(|c| (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || crate::forms::is_bidi_control(c))
    };
    let ok = match event {
        Event::Severity { note, .. } => note.as_deref().is_none_or(|n| plain(n, 2_000)),
        Event::StepDone { step, note } => plain(step, 64) && note.as_deref().is_none_or(|n| plain(n, 2_000)),
        Event::StepUndone { step, reason } => plain(step, 64) && plain(reason, 2_000),
        Event::StatusUpdate { text, next_update_due } => {
            plain(text, 20_000) && next_update_due.as_deref().is_none_or(|t| parse_stamp(t).is_some())
        }
        Event::Decision { text } => {
            !text.trim().is_empty()
                && text.chars().count() <= MAX_DECISION_CHARS
                && plain(text, 4 * MAX_DECISION_CHARS)
                && !text.contains(['\n', '\r'])
        }
        Event::Role { name, .. } => {
            !name.trim().is_empty()
                && name.chars().count() <= MAX_ROLE_NAME_CHARS
                && plain(name, 4 * MAX_ROLE_NAME_CHARS)
                && !name.contains(['\n', '\r'])
        }
    };
    (!ok).then_some("oversized, or holds control or text-direction characters")
}

/// An event with when and who.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub at: String,
    pub actor: String,
    pub event: Event,
}

/// Folds the events into the checklist's state at `now`. A step counts as done by its latest tick unless undone
/// afterwards. A step applies while the outage's current severity and declared systems are ones it is for; its due
/// time counts from when it first applied (the declaration, or the severity change that brought it in).
pub fn checklist_state(
    list: &Checklist,
    declared_at: OffsetDateTime,
    outage: Outage<'_>,
    events: &[Recorded],
    now: OffsetDateTime,
) -> Vec<StepState> {
    // The severity over time: the declaration's, then each change.
    let mut history = vec![(declared_at, outage.declared_severity)];
    for r in events {
        if let (Event::Severity { severity, .. }, Some(at)) = (&r.event, parse_stamp(&r.at)) {
            history.push((at, Some(*severity)));
        }
    }
    let current = current_severity(outage.declared_severity, events);
    list.steps
        .iter()
        .map(|s| {
            let mut done: Option<(&str, &str)> = None;
            for r in events {
                match &r.event {
                    Event::StepDone { step, .. } if step == &s.id => done = Some((&r.at, &r.actor)),
                    Event::StepUndone { step, .. } if step == &s.id => done = None,
                    _ => {}
                }
            }
            let applies = s.applies(current, outage.affected);
            let since = history.iter().find(|(_, sev)| s.applies(*sev, outage.affected)).map(|(at, _)| *at);
            let due =
                if applies { s.due_minutes.zip(since).map(|(m, at)| at + time::Duration::minutes(m)) } else { None };
            StepState {
                step: s.clone(),
                done_at: done.map(|d| d.0.to_string()),
                done_by: done.map(|d| d.1.to_string()),
                due_at: due.map(crate::clock::stamp),
                overdue: done.is_none() && due.is_some_and(|d| d < now),
                applies,
            }
        })
        .collect()
}

/// The current severity: the latest change, else the declaration's.
pub fn current_severity(declared: Option<Severity>, events: &[Recorded]) -> Option<Severity> {
    events
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::Severity { severity, .. } => Some(*severity),
            _ => None,
        })
        .or(declared)
}

/// The time the next status update is due: the latest update's, else the declaration's.
pub fn next_update_due(declared: Option<&str>, events: &[Recorded]) -> Option<String> {
    events
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::StatusUpdate { next_update_due, .. } => Some(next_update_due.clone()),
            _ => None,
        })
        .unwrap_or_else(|| declared.map(str::to_string))
}

/// What the status-update draft is made from.
pub struct UpdateFacts<'a> {
    pub unit: &'a str,
    pub drill: bool,
    pub declared_at: &'a str,
    pub severity: Option<Severity>,
    pub affected: &'a [String],
    pub impact: Option<&'a str>,
    pub steps: &'a [StepState],
    pub entries: usize,
    pub next_update_due: Option<&'a str>,
    pub roles: &'a IncidentRoles,
    /// The episode's decisions, oldest first.
    pub decisions: &'a [Decision],
    pub now: OffsetDateTime,
}

fn hhmm(stamp: &str) -> String {
    parse_stamp(stamp).map(|t| format!("{:02}:{:02} UTC", t.hour(), t.minute())).unwrap_or_else(|| stamp.to_string())
}

/// A plain-language status update for nursing leadership, drafted from the episode's data for the charge nurse to
/// edit. Says what is affected, the patient-safety risk, what staff are doing now, and the next update time.
pub fn draft_status_update(f: &UpdateFacts<'_>) -> String {
    let mut s = String::new();
    if f.drill {
        s.push_str("DRILL - PRACTICE EPISODE, NOT A REAL OUTAGE\n\n");
    }
    let sev = f.severity.map(|v| format!("{} ({})", v.code(), v.meaning())).unwrap_or_else(|| "not set".into());
    s.push_str(&format!("Downtime status update - {} - {}\n", f.unit, hhmm(&crate::clock::stamp(f.now))));
    s.push_str(&format!("Severity: {sev}\n"));
    s.push_str(&format!("Declared: {}\n", hhmm(f.declared_at)));
    let affected = if f.affected.is_empty() { "not recorded".to_string() } else { f.affected.join(", ") };
    s.push_str(&format!("Affected systems and workflows: {affected}\n"));
    let risk = match f.severity {
        Some(Severity::P1) => "High: staff cannot see information needed for care; every order, result and dose is being checked by phone and paper.",
        Some(Severity::P2) => "Moderate: care continues on downtime forms; delays in results and orders are likely.",
        Some(Severity::P3) | Some(Severity::P4) => "Low: no direct patient impact expected.",
        None => "Not yet assessed.",
    };
    s.push_str(&format!("Patient-safety risk: {risk}\n"));
    if let Some(i) = f.impact.filter(|i| !i.trim().is_empty()) {
        s.push_str(&format!("Clinical impact: {}\n", i.trim()));
    }
    s.push_str(&format!("{}\n", f.roles.summary(false)));
    // Only the steps for this outage count: a lab-interface step is not left undone in an EHR outage.
    let applicable = f.steps.iter().filter(|st| st.applies).count();
    let done = f.steps.iter().filter(|st| st.applies && st.done_at.is_some()).count();
    s.push_str(&format!(
        "What staff are doing now: charting on downtime forms ({} so far); checklist {done} of {applicable} steps done.\n",
        if f.entries == 1 { "1 entry".to_string() } else { format!("{} entries", f.entries) },
    ));
    let overdue: Vec<&str> = f.steps.iter().filter(|st| st.overdue).map(|st| st.step.text.as_str()).collect();
    if !overdue.is_empty() {
        s.push_str("Overdue:\n");
        for o in overdue {
            s.push_str(&format!("  - {o}\n"));
        }
    }
    if !f.decisions.is_empty() {
        s.push_str("Decisions:\n");
        for d in f.decisions {
            s.push_str(&format!("  - {} {} ({})\n", hhmm(&d.at), d.text, d.by));
        }
    }
    s.push_str(&format!("Next update: {}\n", f.next_update_due.map(hhmm).unwrap_or_else(|| "not set".into())));
    s
}

/// The episode's timeline and metrics for after-action review (drill report and reconciliation report).
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub declared_at: String,
    /// The severity given at the declaration (later changes are in `escalations`).
    pub declared_severity: Option<Severity>,
    pub ended_at: Option<String>,
    pub drill: bool,
    pub escalations: Vec<(String, Severity)>,
    pub first_entry_at: Option<String>,
    pub minutes_to_first_entry: Option<i64>,
    pub entries: usize,
    pub entries_per_hour: Option<f64>,
    pub entries_per_user: BTreeMap<String, usize>,
    pub forms_printed: usize,
    pub steps: Vec<StepState>,
    pub missed: Vec<String>,
    pub minutes_to_recovery: Option<i64>,
    pub handoff_at: Option<String>,
    pub minutes_recovery_to_handoff: Option<i64>,
    /// When every entry of the episode had left the open worklist states (rejected, duplicate, exported or
    /// posted): the HIM station only, and only once nothing is open.
    pub reconciled_at: Option<String>,
    pub minutes_recovery_to_reconciled: Option<i64>,
    pub status_updates: usize,
    /// Status-update due times that passed without an update (an overdue update counts once).
    pub missed_updates: Vec<String>,
    /// The site's response targets, each met or missed (issue 21 item 3).
    pub targets: Vec<TargetCheck>,
    /// Every incident role assignment, oldest first.
    pub roles: Vec<(IncidentRole, Assigned)>,
    /// The decisions, oldest first.
    pub decisions: Vec<Decision>,
}

/// What the timeline is computed from.
pub struct TimelineFacts<'a> {
    pub declared_at: &'a str,
    pub declared_severity: Option<Severity>,
    /// The systems the declaration names (which checklist steps apply).
    pub affected: &'a [String],
    /// When the outage began, as the declaration says (the start of "time to declare").
    pub began_at: Option<&'a str>,
    /// The site's response targets.
    pub targets: &'a BTreeMap<Severity, crate::site::ResponseTarget>,
    pub ended_at: Option<&'a str>,
    pub drill: bool,
    pub events: &'a [Recorded],
    pub checklist: &'a Checklist,
    /// (recorded time, author) of every entry of the episode.
    pub entries: &'a [(String, String)],
    pub forms_printed: usize,
    pub handoff_at: Option<&'a str>,
    /// When the first status update was due (from the declaration).
    pub first_update_due: Option<&'a str>,
    pub reconciled_at: Option<&'a str>,
    pub now: OffsetDateTime,
}

/// Due times of status updates that passed (before the end of the episode, or now) with no update kept by then.
fn missed_updates(first_due: Option<&str>, events: &[Recorded], end: OffsetDateTime) -> Vec<String> {
    let mut missed = Vec::new();
    let mut due = first_due.map(str::to_string);
    for r in events {
        if let Event::StatusUpdate { next_update_due, .. } = &r.event {
            if let (Some(d), Some(at)) = (due.as_deref().and_then(parse_stamp), parse_stamp(&r.at)) {
                if at > d {
                    missed.extend(due.take());
                }
            }
            due = next_update_due.clone();
        }
    }
    if due.as_deref().and_then(parse_stamp).is_some_and(|d| d < end) {
        missed.extend(due);
    }
    missed
}

fn minutes_between(a: &str, b: &str) -> Option<i64> {
    Some((parse_stamp(b)? - parse_stamp(a)?).whole_minutes())
}

pub fn timeline(f: &TimelineFacts<'_>) -> Timeline {
    let declared = parse_stamp(f.declared_at).unwrap_or(f.now);
    let end_or_now = f.ended_at.and_then(parse_stamp).unwrap_or(f.now);
    let outage = Outage { declared_severity: f.declared_severity, affected: f.affected };
    let steps = checklist_state(f.checklist, declared, outage, f.events, end_or_now);
    let missed = steps.iter().filter(|s| s.applies && s.done_at.is_none()).map(|s| s.step.id.clone()).collect();
    let first_entry_at = f.entries.iter().map(|e| e.0.clone()).min();
    let mut per_user = BTreeMap::new();
    for (_, author) in f.entries {
        *per_user.entry(author.clone()).or_insert(0) += 1;
    }
    let hours = (end_or_now - declared).as_seconds_f64() / 3600.0;
    let targets = response_targets(&TargetFacts {
        targets: f.targets,
        declared_at: declared,
        declared_severity: f.declared_severity,
        began_at: f.began_at,
        events: f.events,
        first_entry_at: first_entry_at.as_deref(),
        until: end_or_now,
    });
    Timeline {
        declared_at: f.declared_at.to_string(),
        declared_severity: f.declared_severity,
        ended_at: f.ended_at.map(str::to_string),
        drill: f.drill,
        escalations: f
            .events
            .iter()
            .filter_map(|r| match r.event {
                Event::Severity { severity, .. } => Some((r.at.clone(), severity)),
                _ => None,
            })
            .collect(),
        minutes_to_first_entry: first_entry_at.as_deref().and_then(|t| minutes_between(f.declared_at, t)),
        first_entry_at,
        entries: f.entries.len(),
        entries_per_hour: (hours > 0.0).then(|| (f.entries.len() as f64 / hours * 10.0).round() / 10.0),
        entries_per_user: per_user,
        forms_printed: f.forms_printed,
        steps,
        missed,
        minutes_to_recovery: f.ended_at.and_then(|e| minutes_between(f.declared_at, e)),
        handoff_at: f.handoff_at.map(str::to_string),
        minutes_recovery_to_handoff: f.ended_at.zip(f.handoff_at).and_then(|(e, h)| minutes_between(e, h)),
        reconciled_at: f.reconciled_at.map(str::to_string),
        minutes_recovery_to_reconciled: f.ended_at.zip(f.reconciled_at).and_then(|(e, r)| minutes_between(e, r)),
        status_updates: f.events.iter().filter(|r| matches!(r.event, Event::StatusUpdate { .. })).count(),
        missed_updates: missed_updates(f.first_update_due, f.events, end_or_now),
        targets,
        roles: role_changes(f.events),
        decisions: decisions(f.events),
    }
}

/// One response target measured (issue 21 item 3): what it is, its target, when it was due and met, whether missed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    /// `declare`, `first_entry` or `update`.
    pub kind: &'static str,
    /// In words: "Declared", "First electronic entry", "Status update 2".
    pub label: String,
    /// The severity whose target applies.
    pub severity: Severity,
    pub target_minutes: i64,
    /// When it was due (absent when it cannot be measured: no outage start given).
    pub due_at: Option<String>,
    /// When it happened, if it has.
    pub done_at: Option<String>,
    /// Minutes from the start of the clock to `done_at` (or to now while still open).
    pub minutes: Option<i64>,
    /// Done after `due_at`, or not done and `due_at` has passed.
    pub missed: bool,
    /// Why it is not measured, if it is not.
    pub not_measured: Option<&'static str>,
}

impl TargetCheck {
    /// The outcome in words: "met", "MISSED", "open", or "not measured: why".
    pub fn result(&self) -> String {
        match (self.not_measured, self.missed, &self.done_at) {
            (Some(why), _, _) => format!("not measured: {why}"),
            (None, true, _) => "MISSED".into(),
            (None, false, Some(_)) => "met".into(),
            (None, false, None) => "open".into(),
        }
    }
}

/// What the response targets are measured on.
pub struct TargetFacts<'a> {
    pub targets: &'a BTreeMap<Severity, crate::site::ResponseTarget>,
    pub declared_at: OffsetDateTime,
    pub declared_severity: Option<Severity>,
    /// When the outage began, as the declaration says.
    pub began_at: Option<&'a str>,
    pub events: &'a [Recorded],
    /// The unit's first electronic entry of the episode.
    pub first_entry_at: Option<&'a str>,
    /// Now, or the episode's end.
    pub until: OffsetDateTime,
}

/// Measures the site's response targets on an episode: time to declare (from when the outage began), time to the
/// first electronic entry (from the declaration), and every interval between status updates, with the severity in
/// force: after an escalation the next update is due by the sooner of the old deadline and the escalation plus the
/// new severity's interval. A severity with no target (or none declared) measures nothing.
pub fn response_targets(f: &TargetFacts<'_>) -> Vec<TargetCheck> {
    let mut out = Vec::new();
    let mut changes: Vec<(OffsetDateTime, Severity)> = Vec::new();
    if let Some(s) = f.declared_severity {
        changes.push((f.declared_at, s));
    }
    for r in f.events {
        if let (Event::Severity { severity, .. }, Some(at)) = (&r.event, parse_stamp(&r.at)) {
            changes.push((at, *severity));
        }
    }
    let severity_at = |t: OffsetDateTime| changes.iter().rev().find(|(at, _)| *at <= t).map(|(_, s)| *s);
    let minutes = |from: OffsetDateTime, to: OffsetDateTime| (to - from).whole_minutes();
    let stamp = crate::clock::stamp;

    if let Some(sev) = f.declared_severity {
        if let Some(t) = f.targets.get(&sev) {
            let began = f.began_at.and_then(parse_stamp);
            let due = began.map(|b| b + time::Duration::minutes(t.declare_minutes));
            out.push(TargetCheck {
                kind: "declare",
                label: "Declared".into(),
                severity: sev,
                target_minutes: t.declare_minutes,
                due_at: due.map(stamp),
                done_at: Some(stamp(f.declared_at)),
                minutes: began.map(|b| minutes(b, f.declared_at)),
                missed: due.is_some_and(|d| f.declared_at > d),
                not_measured: began.is_none().then_some("the declaration does not say when the outage began"),
            });
            let due = f.declared_at + time::Duration::minutes(t.first_entry_minutes);
            let first = f.first_entry_at.and_then(parse_stamp);
            out.push(TargetCheck {
                kind: "first_entry",
                label: "First electronic entry".into(),
                severity: sev,
                target_minutes: t.first_entry_minutes,
                due_at: Some(stamp(due)),
                done_at: first.map(stamp),
                minutes: Some(minutes(f.declared_at, first.unwrap_or(f.until))),
                missed: first.map_or(f.until > due, |at| at > due),
                not_measured: None,
            });
        }
    }

    // Status updates: each interval from the declaration or the last update to the next one, and the open one.
    let mut updates: Vec<OffsetDateTime> = f
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::StatusUpdate { .. }))
        .filter_map(|r| parse_stamp(&r.at))
        .collect();
    updates.sort();
    let mut from = f.declared_at;
    for n in 1..=updates.len() + 1 {
        let done = updates.get(n - 1).copied();
        let end = done.unwrap_or(f.until);
        // The deadline: the interval of the severity in force at `from`, or sooner after an escalation.
        let mut due: Option<(OffsetDateTime, Severity, i64)> = None;
        let candidates =
            std::iter::once(from).chain(changes.iter().map(|(at, _)| *at).filter(|at| *at > from && *at <= end));
        for start in candidates {
            let Some(sev) = severity_at(start) else { continue };
            let Some(t) = f.targets.get(&sev) else { continue };
            let d = start + time::Duration::minutes(t.update_minutes);
            if due.is_none_or(|(best, _, _)| d < best) {
                due = Some((d, sev, t.update_minutes));
            }
        }
        if let Some((due_at, sev, target)) = due {
            out.push(TargetCheck {
                kind: "update",
                label: format!("Status update {n}"),
                severity: sev,
                target_minutes: target,
                due_at: Some(stamp(due_at)),
                done_at: done.map(stamp),
                minutes: Some(minutes(from, end)),
                missed: end > due_at,
                not_measured: None,
            });
        }
        if let Some(d) = done {
            from = d;
        }
    }
    out
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
