//! The unit's downtime procedure as data: severity on a healthcare scale, the hospital's checklist (a JSON file
//! beside the forms, validated like them), the plain-language status update for leaders, and the episode timeline
//! for after-action review. Pure: values in, values out; storage is in `episodes`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::parse_stamp;
use crate::review::{Review, WrittenReview};

pub use crate::severity::Severity;

pub use crate::checklist::*;

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
    /// The review written after the episode (issue 21 item 6): the clinical impact and the follow-up actions.
    /// Writing it again keeps a new version; the newest is the review.
    Review {
        impact: String,
        follow_ups: Vec<String>,
    },
    /// A contact of the site's escalation ladder was called (issue 21 item 1): the contact's id in the escalation
    /// file and the name it gave then, so the record reads the same where the file is not (HIM).
    ContactCalled {
        contact: String,
        name: String,
    },
    /// A contact of the escalation ladder acknowledged: the ladder stops at their level.
    ContactAcknowledged {
        contact: String,
        name: String,
    },
    /// The tabletop scenario a drill started with (issue 21 item 7): the file's name and its text as read, kept
    /// whole so that the drill is scored the same wherever it is read (src/scenario.rs).
    Scenario {
        file: String,
        source: String,
    },
    /// The charge nurse saw a drill inject (numbered from 1 in its scenario).
    InjectSeen {
        inject: u32,
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

/// A call to a contact of the escalation ladder, or their acknowledgement, with who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactCall {
    pub at: String,
    pub by: String,
    pub contact: String,
    pub name: String,
    pub acknowledged: bool,
}

/// Every call and acknowledgement of the escalation ladder in an episode, oldest first.
pub fn contact_calls(events: &[Recorded]) -> Vec<ContactCall> {
    events
        .iter()
        .filter_map(|r| {
            let (contact, name, acknowledged) = match &r.event {
                Event::ContactCalled { contact, name } => (contact, name, false),
                Event::ContactAcknowledged { contact, name } => (contact, name, true),
                _ => return None,
            };
            Some(ContactCall {
                at: r.at.clone(),
                by: r.actor.clone(),
                contact: contact.clone(),
                name: name.clone(),
                acknowledged,
            })
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
        Event::Review { impact, follow_ups } => {
            Review { impact: impact.clone(), follow_ups: follow_ups.clone() }.problem().is_none()
        }
        Event::ContactCalled { contact, name } | Event::ContactAcknowledged { contact, name } => {
            !contact.is_empty() && plain(contact, 64) && plain(name, 400) && !name.contains(['\n', '\r'])
        }
        Event::Scenario { file, source } => plain(file, 255) && !file.contains(['/', '\\']) && plain(source, 64 * 1024),
        Event::InjectSeen { inject } => *inject >= 1,
    };
    (!ok).then_some("oversized, or holds control or text-direction characters")
}

/// The newest review of the episode with when, by whom and how many versions were kept.
pub fn latest_review(events: &[Recorded]) -> Option<WrittenReview> {
    let written: Vec<&Recorded> = events.iter().filter(|r| matches!(r.event, Event::Review { .. })).collect();
    let last = written.last()?;
    let Event::Review { impact, follow_ups } = &last.event else { return None };
    Some(WrittenReview {
        review: Review { impact: impact.clone(), follow_ups: follow_ups.clone() },
        at: last.at.clone(),
        by: last.actor.clone(),
        versions: written.len(),
    })
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
    history.extend(severity_changes(events).into_iter().map(|(at, s)| (at, Some(s))));
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

/// Every severity change after the declaration, with when, oldest first (what the response targets follow).
pub fn severity_changes(events: &[Recorded]) -> Vec<(OffsetDateTime, Severity)> {
    events
        .iter()
        .filter_map(|r| match (&r.event, parse_stamp(&r.at)) {
            (Event::Severity { severity, .. }, Some(at)) => Some((at, *severity)),
            _ => None,
        })
        .collect()
}

/// When each status update was kept, oldest first.
pub fn update_times(events: &[Recorded]) -> Vec<OffsetDateTime> {
    let mut out: Vec<OffsetDateTime> = events
        .iter()
        .filter(|r| matches!(r.event, Event::StatusUpdate { .. }))
        .filter_map(|r| parse_stamp(&r.at))
        .collect();
    out.sort();
    out
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
    /// Every call and acknowledgement of the escalation ladder, oldest first (leaders ask who has been called).
    pub contacts: &'a [ContactCall],
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
    if !f.contacts.is_empty() {
        s.push_str("Escalation:\n");
        for c in f.contacts {
            let what = if c.acknowledged { "acknowledged" } else { "called" };
            s.push_str(&format!("  - {} {} {what} ({})\n", hhmm(&c.at), c.name, c.by));
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
    pub targets: Vec<crate::targets::TargetCheck>,
    /// Every incident role assignment, oldest first.
    pub roles: Vec<(IncidentRole, Assigned)>,
    /// The decisions, oldest first.
    pub decisions: Vec<Decision>,
    /// Entries per hour (per day for an episode over two days), quiet periods included.
    pub entries_per_period: crate::review::EntriesPerPeriod,
    /// The charge nurse's review (clinical impact, follow-up actions), the newest version.
    pub review: Option<WrittenReview>,
    /// Every call and acknowledgement of the escalation ladder, oldest first (issue 21 item 1).
    pub contacts: Vec<ContactCall>,
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
    let targets = crate::targets::response_targets(&crate::targets::TargetFacts {
        targets: f.targets,
        declared_at: declared,
        declared_severity: f.declared_severity,
        began_at: f.began_at,
        changes: severity_changes(f.events),
        updates: update_times(f.events),
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
        entries_per_period: crate::review::entries_per_period(
            &f.entries.iter().filter_map(|e| parse_stamp(&e.0)).collect::<Vec<_>>(),
            declared,
            end_or_now,
        ),
        review: latest_review(f.events),
        contacts: contact_calls(f.events),
    }
}
