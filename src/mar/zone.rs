//! The unit's local time zone: the MAR's clock times ("09:00 and 21:00") are wall-clock times where the patient is,
//! and they move against UTC when daylight saving starts or ends. `time` has no time-zone database, so the rules come
//! from jiff (the system's tz database, bundled on Windows); this file is the only one that uses it, and it hands
//! back plain `time` values.

use time::{Date, OffsetDateTime, Time, UtcOffset};

/// A time zone the workstation can use: the site's `time_zone` (an IANA name such as "America/New_York", or a POSIX
/// TZ rule such as "EST5EDT,M3.2.0,M11.1.0" for a workstation without a tz database), else the workstation's own.
#[derive(Debug, Clone)]
pub struct LocalZone {
    tz: jiff::tz::TimeZone,
    name: String,
}

impl LocalZone {
    /// The zone a site names. The error says what was wrong without echoing more than the name.
    pub fn named(name: &str) -> Result<LocalZone, String> {
        let name = name.trim();
        let tz = jiff::tz::TimeZone::get(name).or_else(|_| jiff::tz::TimeZone::posix(name)).map_err(|_| {
            format!("\"{name}\" is neither a time zone name (such as \"America/New_York\") nor a POSIX TZ rule")
        })?;
        Ok(LocalZone { tz, name: name.to_string() })
    }

    /// The workstation's own zone; UTC when the system does not say.
    pub fn system() -> LocalZone {
        let tz = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
        let name = tz.iana_name().unwrap_or("the workstation's local time").to_string();
        LocalZone { tz, name }
    }

    /// UTC itself.
    pub fn utc() -> LocalZone {
        LocalZone { tz: jiff::tz::TimeZone::UTC, name: "UTC".into() }
    }

    /// The site's setting when there is one, else the workstation's zone.
    pub fn for_site(setting: Option<&str>) -> Result<LocalZone, String> {
        match setting {
            Some(name) => LocalZone::named(name),
            None => Ok(LocalZone::system()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same instant, carrying the zone's offset at that instant (what a nurse's clock shows).
    pub fn local(&self, t: OffsetDateTime) -> OffsetDateTime {
        let offset = jiff::Timestamp::from_second(t.unix_timestamp())
            .map(|ts| self.tz.to_offset(ts).seconds())
            .ok()
            .and_then(|s| UtcOffset::from_whole_seconds(s).ok())
            .unwrap_or(UtcOffset::UTC);
        t.to_offset(offset)
    }

    /// The instant a wall-clock time of a day happens. A time skipped when the clocks go forward is taken after the
    /// gap (02:30 becomes 03:30); a time that happens twice when they go back is the first of the two.
    pub fn at(&self, date: Date, time: Time) -> Option<OffsetDateTime> {
        let civil = jiff::civil::DateTime::new(
            i16::try_from(date.year()).ok()?,
            i8::try_from(u8::from(date.month())).ok()?,
            i8::try_from(date.day()).ok()?,
            i8::try_from(time.hour()).ok()?,
            i8::try_from(time.minute()).ok()?,
            i8::try_from(time.second()).ok()?,
            0,
        )
        .ok()?;
        let ts = self.tz.to_timestamp(civil).ok()?;
        OffsetDateTime::from_unix_timestamp(ts.as_second()).ok().map(|t| self.local(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    #[test]
    fn wall_clock_times_follow_daylight_saving() {
        let ny = LocalZone::named("EST5EDT,M3.2.0,M11.1.0").expect("POSIX rule");
        // 2026-11-01: clocks go back at 02:00 EDT. 09:00 is 14:00 UTC that day, 13:00 UTC the day before.
        assert_eq!(ny.at(date!(2026 - 10 - 31), time!(09:00)), Some(datetime!(2026-10-31 09:00 -04:00)));
        assert_eq!(ny.at(date!(2026 - 11 - 01), time!(09:00)), Some(datetime!(2026-11-01 09:00 -05:00)));
        // The offset a nurse's clock shows, not only the instant.
        let offset = |t: Option<OffsetDateTime>| t.map(|t| t.offset().whole_hours());
        assert_eq!(offset(ny.at(date!(2026 - 11 - 01), time!(09:00))), Some(-5));
        assert_eq!(offset(ny.at(date!(2026 - 11 - 01), time!(01:30))), Some(-4));
        // 01:30 happens twice: the first one (still EDT).
        assert_eq!(ny.at(date!(2026 - 11 - 01), time!(01:30)), Some(datetime!(2026-11-01 01:30 -04:00)));
        // 2026-03-08: 02:30 does not exist; it is taken after the gap.
        assert_eq!(ny.at(date!(2026 - 03 - 08), time!(02:30)), Some(datetime!(2026-03-08 03:30 -04:00)));
        assert_eq!(ny.local(datetime!(2026-11-01 06:00 UTC)), datetime!(2026-11-01 01:00 -05:00));
        let err = LocalZone::named("Mars/Olympus").expect_err("unknown zone");
        assert!(err.contains("Mars/Olympus"), "{err}");
    }
}
