//! The site's response targets measured on an episode (issue 21 item 3): time to declare, time to the first electronic
//! entry, and every interval between status updates, with the severity in force. Computed on every read, never
//! stored; the UI's in-memory double ports it and tests/contract/targets.json holds the two to the same cases.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::clock::parse_stamp;
use crate::severity::Severity;
use crate::site::ResponseTarget;

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
    pub targets: &'a BTreeMap<Severity, ResponseTarget>,
    pub declared_at: OffsetDateTime,
    pub declared_severity: Option<Severity>,
    /// When the outage began, as the declaration says.
    pub began_at: Option<&'a str>,
    /// Severity changes after the declaration, oldest first (`procedures::severity_changes`).
    pub changes: Vec<(OffsetDateTime, Severity)>,
    /// When each status update was kept, oldest first (`procedures::update_times`).
    pub updates: Vec<OffsetDateTime>,
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
    changes.extend(f.changes.iter().copied());
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
    let updates = &f.updates;
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
