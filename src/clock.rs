//! Time comes in from outside: domain code takes a [`Clock`] (or a plain timestamp) and never calls `now()` itself,
//! so that tests can script whole episodes with an injected clock.

use std::sync::Mutex;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, in UTC.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to. For tests and scripted drills.
pub struct FixedClock(Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> FixedClock {
        FixedClock(Mutex::new(at))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: time::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|t| *t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// RFC 3339 text of a time, the one format the vault stores: UTC, always exactly three fractional digits, so that
/// stamps sort correctly as text (SQL compares them as strings).
pub fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses RFC 3339 text written by [`stamp`] (or any FHIR `instant`).
pub fn parse_stamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fixed_width_and_sort_as_text() {
        let a = stamp(time::macros::datetime!(2026-11-21 15:00 UTC));
        let b = stamp(time::macros::datetime!(2026-11-21 15:00:00.5 UTC));
        let c = stamp(time::macros::datetime!(2026-11-21 10:00 -05:00));
        assert_eq!((a.as_str(), b.as_str()), ("2026-11-21T15:00:00.000Z", "2026-11-21T15:00:00.500Z"));
        assert!(a < b && c == a);
        assert_eq!(parse_stamp(&b).map(stamp), Some(b));
    }
}
