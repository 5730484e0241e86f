//! The drill report's scenario section (issue 21 item 7) as text: the tabletop scenario the drill ran, each inject with
//! when it arrived and was seen, and each expectation met (when) or missed, under the overall "N of M expectations
//! met". `reports::drill` draws it; this file only words it, so the two never import each other.

use crate::scenario::{DrillScore, Outcome};

/// The section's words: heading, description, score line, and the rows of its two tables.
pub(crate) struct Section {
    pub heading: String,
    pub description: Option<String>,
    pub score: String,
    /// Whether an expectation was missed or is still open (the score is printed in red).
    pub short: bool,
    pub injects: Vec<Vec<String>>,
    pub expectations: Vec<Vec<String>>,
}

/// The columns of the injects table, with their relative widths.
pub(crate) const INJECT_COLUMNS: &[(&str, f32)] = &[("inject", 0.9), ("what happened", 3.3), ("seen", 1.8)];
/// The columns of the expectations table.
pub(crate) const EXPECTATION_COLUMNS: &[(&str, f32)] =
    &[("inject", 0.6), ("expected", 3.0), ("took", 0.8), ("due", 1.6), ("result", 1.0)];

/// "2026-11-21 17:05 UTC" from a stored timestamp.
fn when(stamp: &str) -> String {
    crate::clock::parse_stamp(stamp)
        .map(|t| {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        })
        .unwrap_or_else(|| stamp.to_string())
}

pub(crate) fn section(s: &DrillScore) -> Section {
    let injects = s
        .injects
        .iter()
        .map(|i| {
            let seen = match (&i.seen_at, &i.seen_by) {
                (Some(a), Some(b)) => format!("{} by {b}", when(a)),
                _ if !i.due => "never arrived".into(),
                _ => "not marked seen".into(),
            };
            vec![format!("{}. minute {}", i.number, i.at_minutes), i.text.clone(), seen]
        })
        .collect();
    let expectations = s
        .expectations
        .iter()
        .map(|e| {
            let result = match e.outcome {
                Outcome::Met => "met".to_string(),
                Outcome::Missed if e.met_at.is_some() => "MISSED (late)".into(),
                Outcome::Missed => "MISSED".into(),
                Outcome::Pending => "pending".into(),
                Outcome::NotReached => "inject never arrived".into(),
            };
            let took = e.minutes.map(|m| format!("{m} min")).unwrap_or_else(|| "—".into());
            vec![e.inject.to_string(), e.what.clone(), took, when(&e.due_at), result]
        })
        .collect();
    Section {
        heading: format!("Scenario: {}", s.title),
        description: Some(s.description.trim().to_string()).filter(|d| !d.is_empty()),
        score: format!("Score: {}", s.summary()),
        short: s.met < s.total,
        injects,
        expectations,
    }
}
