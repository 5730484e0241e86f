//! How `dtk episode` shows a drill's tabletop scenario: the scenarios offered, the injects due (newest first, marked
//! DRILL) and every inject with its expectations and the score.

use dtk::api::ScenarioChoice;
use dtk::scenario::{DrillScore, Outcome};

/// The scenarios a drill can start from, one a line.
pub fn choices(list: &[ScenarioChoice]) -> String {
    let mut t = String::new();
    for c in list {
        t.push_str(&format!(
            "{:<34} {} ({} injects{})\n",
            c.file,
            c.title,
            c.injects,
            if c.built_in { ", built in" } else { "" }
        ));
    }
    if list.is_empty() {
        t.push_str("No scenario is offered on this workstation.\n");
    }
    t
}

/// The lines `dtk episode status` adds for a drill with a scenario: the injects that have arrived, newest first.
pub fn due_injects(s: &DrillScore) -> String {
    let mut t = format!("DRILL scenario: {} - {} so far.\n", s.title, s.summary());
    for i in s.due_newest_first() {
        let seen = match (&i.seen_at, &i.seen_by) {
            (Some(at), Some(by)) => format!("seen by {by} at {at}"),
            _ => format!("not yet seen: dtk episode ack {}", i.number),
        };
        t.push_str(&format!("  DRILL inject {} (minute {}, {}): {} [{seen}]\n", i.number, i.at_minutes, i.at, i.text));
    }
    match &s.next_inject_at {
        Some(at) => t.push_str(&format!("  Next inject at {at}.\n")),
        None => t.push_str("  No more injects.\n"),
    }
    t
}

/// Every inject of the scenario (arrived or not yet) with its expectations, and the score.
pub fn all_injects(s: &DrillScore) -> String {
    let mut t = format!("DRILL scenario: {} ({})\n", s.title, s.file);
    for i in &s.injects {
        let state = match (&i.seen_at, i.due) {
            (Some(at), _) => format!("arrived, seen at {at}"),
            (None, true) => "arrived, not yet seen".into(),
            (None, false) => "not yet".into(),
        };
        t.push_str(&format!("{}. minute {} ({}): {state}\n   {}\n", i.number, i.at_minutes, i.at, i.text));
        for e in s.expectations.iter().filter(|e| e.inject == i.number) {
            let result = match e.outcome {
                Outcome::Met => format!("met after {} min", e.minutes.unwrap_or_default()),
                Outcome::Missed => "MISSED".into(),
                Outcome::Pending => format!("pending, due {}", e.due_at),
                Outcome::NotReached => "not scored: the inject never arrived".into(),
            };
            t.push_str(&format!("   - {}: {result}\n", e.what));
        }
    }
    t.push_str(&format!("Score: {}.\n", s.summary()));
    t
}
