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

/// RFC 3339 text of a time, the one format the vault stores (UTC, millisecond precision, sortable as text).
pub fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses RFC 3339 text written by [`stamp`] (or any FHIR `instant`).
pub fn parse_stamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}
