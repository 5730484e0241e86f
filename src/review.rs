//! The review of an episode (issue 21 item 6): what the charge nurse writes after a downtime or a drill — the
//! clinical impact and the follow-up actions — and the entries-per-hour table the review prints beside the timeline.
//!
//! A review is kept as an episode event (sealed, audited as `episode.review_written`, handed off to HIM like every
//! event). Writing it again keeps a new version; the newest is the review, the older ones stay in the record. Pure
//! types and checks only: the façade (`api::review`) records and prints.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most characters of the clinical impact (several paragraphs).
pub const MAX_IMPACT_CHARS: usize = 4_000;
/// The most follow-up actions a review keeps.
pub const MAX_FOLLOW_UPS: usize = 30;
/// The most characters of one follow-up action (one line).
pub const MAX_FOLLOW_UP_CHARS: usize = 300;

/// What the charge nurse writes after the episode: the clinical impact and the follow-up actions, each one line
/// ("Restock paper MAR packs on 5 East — unit educator, by 12-15").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub impact: String,
    pub follow_ups: Vec<String>,
}

impl Review {
    /// The review as kept: the impact trimmed, follow-ups trimmed and empty lines dropped.
    pub fn normalised(impact: &str, follow_ups: &[String]) -> Review {
        Review {
            impact: impact.trim().to_string(),
            follow_ups: follow_ups.iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect(),
        }
    }

    /// Why this review cannot be kept, in words that never repeat what was typed; `None` when it can.
    pub fn problem(&self) -> Option<String> {
        if self.impact.trim().is_empty() && self.follow_ups.is_empty() {
            return Some("the review is empty: write the clinical impact or at least one follow-up action".into());
        }
        if self.impact.chars().count() > MAX_IMPACT_CHARS {
            return Some(format!("the clinical impact is over {MAX_IMPACT_CHARS} characters"));
        }
        if has_refused_characters(&self.impact, true) {
            return Some("the clinical impact holds control or text-direction characters".into());
        }
        if self.follow_ups.len() > MAX_FOLLOW_UPS {
            return Some(format!("a review keeps at most {MAX_FOLLOW_UPS} follow-up actions"));
        }
        for (i, f) in self.follow_ups.iter().enumerate() {
            let n = i + 1;
            if f.trim().is_empty() {
                return Some(format!("follow-up action {n} is empty"));
            }
            if f.chars().count() > MAX_FOLLOW_UP_CHARS {
                return Some(format!("follow-up action {n} is over {MAX_FOLLOW_UP_CHARS} characters"));
            }
            if f.contains(['\n', '\r']) {
                return Some(format!("follow-up action {n} is more than one line"));
            }
            if has_refused_characters(f, false) {
                return Some(format!("follow-up action {n} holds control or text-direction characters"));
            }
        }
        None
    }
}

/// A review as kept: the newest version, when and by whom it was written, and how many versions there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenReview {
    #[serde(flatten)]
    pub review: Review,
    pub at: String,
    pub by: String,
    pub versions: usize,
}

fn has_refused_characters(text: &str, lines: bool) -> bool {
    text.chars()
        .any(|c| (c.is_control() && !(lines && matches!(c, '\n' | '\r' | '\t'))) || crate::forms::is_bidi_control(c))
}

/// Entries counted per period of the episode, from its declaration to its end (or now): per clock hour for an
/// episode of up to two days, per day for a longer one (a three-week ransomware outage would otherwise print 500
/// rows). Periods with no entry are listed too: a quiet hour is part of the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntriesPerPeriod {
    /// "hour" or "day".
    pub period: &'static str,
    /// (start of the period, entries recorded in it), oldest first.
    pub counts: Vec<(String, usize)>,
}

/// The longest episode counted per hour; a longer one is counted per day.
const HOURLY_UP_TO_HOURS: i64 = 48;

/// Counts `entries` (recorded times) per hour or per day between `from` and `until`.
pub fn entries_per_period(entries: &[OffsetDateTime], from: OffsetDateTime, until: OffsetDateTime) -> EntriesPerPeriod {
    let until = until.max(from);
    let hourly = (until - from).whole_hours() <= HOURLY_UP_TO_HOURS;
    let floor = |t: OffsetDateTime| {
        let hour = if hourly { t.hour() } else { 0 };
        t.replace_time(time::Time::from_hms(hour, 0, 0).unwrap_or(time::Time::MIDNIGHT))
    };
    let step = if hourly { time::Duration::HOUR } else { time::Duration::DAY };
    let mut counts = Vec::new();
    let mut start = floor(from);
    while start <= until {
        let end = start + step;
        let n = entries.iter().filter(|t| **t >= start && **t < end).count();
        counts.push((crate::clock::stamp(start), n));
        start = end;
    }
    // Entries outside the episode's span (a clock set wrong) are not lost from the count.
    let outside = entries.iter().filter(|t| **t < floor(from) || **t >= start).count();
    if outside > 0 {
        counts.push(("outside the episode's hours".into(), outside));
    }
    EntriesPerPeriod { period: if hourly { "hour" } else { "day" }, counts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_review_names_what_is_wrong_without_repeating_it() {
        let ok = Review::normalised(
            "  Two doses given late on paper.\nNo harm.  ",
            &["  Restock MAR packs ".into(), "".into()],
        );
        assert_eq!(ok.impact, "Two doses given late on paper.\nNo harm.");
        assert_eq!(ok.follow_ups, vec!["Restock MAR packs".to_string()]);
        assert_eq!(ok.problem(), None);

        let empty = Review::normalised(" ", &[" ".into()]);
        assert!(empty.problem().is_some_and(|p| p.contains("the review is empty")));
        let long = Review::normalised(&"x".repeat(MAX_IMPACT_CHARS + 1), &[]);
        assert!(long.problem().is_some_and(|p| p.contains("over 4000")));
        let accented = Review::normalised(&"é".repeat(MAX_IMPACT_CHARS), &[]);
        assert_eq!(accented.problem(), None, "characters, not bytes");
        let two_lines = Review { impact: String::new(), follow_ups: vec!["a".into(), "secret\nline".into()] };
        let p = two_lines.problem().unwrap_or_default();
        assert!(p.contains("follow-up action 2 is more than one line") && !p.contains("secret"), "{p}");
        let bidi = Review { impact: "ok\u{202e}".into(), follow_ups: vec![] };
        assert!(bidi.problem().is_some_and(|p| p.contains("text-direction")));
        let many = Review { impact: String::new(), follow_ups: vec!["a".into(); MAX_FOLLOW_UPS + 1] };
        assert!(many.problem().is_some_and(|p| p.contains("at most 30")));
    }

    #[test]
    fn entries_are_counted_per_hour_with_quiet_hours_and_per_day_for_long_outages() {
        let from = datetime!(2026-12-01 22:40 UTC);
        let until = datetime!(2026-12-02 01:10 UTC);
        let entries =
            [datetime!(2026-12-01 22:45 UTC), datetime!(2026-12-01 22:59 UTC), datetime!(2026-12-02 01:05 UTC)];
        let p = entries_per_period(&entries, from, until);
        assert_eq!(p.period, "hour");
        let counts: Vec<usize> = p.counts.iter().map(|c| c.1).collect();
        assert_eq!(counts, vec![2, 0, 0, 1], "22:00, 23:00 (quiet), 00:00 (quiet), 01:00: {p:?}");
        assert!(p.counts[0].0.starts_with("2026-12-01T22:00"), "{:?}", p.counts[0]);

        let three_weeks = entries_per_period(&entries, from, from + time::Duration::days(21));
        assert_eq!(three_weeks.period, "day");
        assert_eq!(three_weeks.counts.len(), 22);
        assert_eq!(three_weeks.counts[0].1, 2);
        assert_eq!(three_weeks.counts[1].1, 1);

        let skewed = entries_per_period(&[datetime!(2026-11-01 08:00 UTC)], from, until);
        assert_eq!(skewed.counts.last(), Some(&("outside the episode's hours".to_string(), 1)));
    }
}
