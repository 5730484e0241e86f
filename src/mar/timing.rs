//! An order's timing as the MAR schedules it: the FHIR R4 `Timing` of a `MedicationRequest.dosageInstruction` read
//! into plain data (kept in the sealed census record), and the rule it comes to — wall-clock times of the day, a fixed
//! interval, listed instants — or the reason it cannot be scheduled, in which case the order shows as "see order"
//! with its own words and is never dropped.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// More often than this is not scheduled (a continuous infusion or a typing slip): "see order".
pub const SHORTEST_INTERVAL_MINUTES: i64 = 15;
/// A period longer than this (or in months and years) is not scheduled.
const LONGEST_PERIOD_MINUTES: f64 = 366.0 * 24.0 * 60.0;
/// The most times of day one order may name.
const MAX_TIMES: usize = 48;

/// The institution's standard times (minutes after midnight) for "N times a day" without named times: the times a
/// paper MAR of the unit prints. FHIR leaves them to the institution (v3 GTSAbbreviation "at institution specified
/// time"); ARCHITECTURE.md "MAR schedule" lists them.
fn standard_times(per_day: u32) -> Option<Vec<u16>> {
    Some(match per_day {
        1 => vec![9 * 60],
        2 => vec![9 * 60, 21 * 60],
        3 => vec![9 * 60, 15 * 60, 21 * 60],
        4 => vec![9 * 60, 13 * 60, 17 * 60, 21 * 60],
        n if n <= 24 && 1440 % n == 0 => {
            let step = 1440 / n as u16;
            let first = (9 * 60) % step;
            (0..n as u16).map(|k| first + k * step).collect()
        }
        _ => return None,
    })
}

/// Meal times (minutes after midnight) the `when` codes are counted from.
const BREAKFAST: u16 = 8 * 60;
const LUNCH: u16 = 12 * 60;
const DINNER: u16 = 18 * 60;
/// Before (AC) or after (PC) a meal without an `offset`: half an hour.
const MEAL_OFFSET: u16 = 30;

/// The wall-clock times of an event code of `Timing.repeat.when` (FHIR R4 event-timing), shifted by `offset`
/// minutes (before the event for AC codes, after it otherwise). `None`: a code without a clock time (PHS, IMD…).
fn when_times(code: &str, offset: Option<u16>) -> Option<Vec<u16>> {
    let before = |meal: u16| meal.saturating_sub(offset.unwrap_or(MEAL_OFFSET));
    let after = |meal: u16| (meal + offset.unwrap_or(MEAL_OFFSET)) % 1440;
    let at = |t: u16| (t + offset.unwrap_or(0)) % 1440;
    Some(match code {
        "AC" => vec![before(BREAKFAST), before(LUNCH), before(DINNER)],
        "ACM" => vec![before(BREAKFAST)],
        "ACD" => vec![before(LUNCH)],
        "ACV" => vec![before(DINNER)],
        "PC" => vec![after(BREAKFAST), after(LUNCH), after(DINNER)],
        "PCM" => vec![after(BREAKFAST)],
        "PCD" => vec![after(LUNCH)],
        "PCV" => vec![after(DINNER)],
        "C" => vec![at(BREAKFAST), at(LUNCH), at(DINNER)],
        "CM" => vec![at(BREAKFAST)],
        "CD" => vec![at(LUNCH)],
        "CV" => vec![at(DINNER)],
        "HS" => vec![at(21 * 60)],
        "WAKE" => vec![at(6 * 60)],
        "MORN" | "MORN.early" => vec![at(8 * 60)],
        "MORN.late" => vec![at(10 * 60)],
        "NOON" => vec![at(12 * 60)],
        "AFT" | "AFT.early" => vec![at(14 * 60)],
        "AFT.late" => vec![at(16 * 60)],
        "EVE" | "EVE.early" => vec![at(18 * 60)],
        "EVE.late" => vec![at(20 * 60)],
        "NIGHT" => vec![at(22 * 60)],
        _ => return None,
    })
}

/// `Timing.code` abbreviations (v3 GTSAbbreviation) as frequency per period.
fn code_repeat(code: &str) -> Option<(u32, f64, &'static str)> {
    Some(match code {
        "QD" => (1, 1.0, "d"),
        "BID" => (2, 1.0, "d"),
        "TID" => (3, 1.0, "d"),
        "QID" => (4, 1.0, "d"),
        "QOD" => (1, 2.0, "d"),
        "Q1H" => (1, 1.0, "h"),
        "Q2H" => (1, 2.0, "h"),
        "Q3H" => (1, 3.0, "h"),
        "Q4H" => (1, 4.0, "h"),
        "Q6H" => (1, 6.0, "h"),
        "Q8H" => (1, 8.0, "h"),
        _ => return None,
    })
}

/// The parts of a FHIR `Timing` the MAR reads. Field names follow FHIR; times are kept as the text FHIR gives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timing {
    /// `Timing.event`: explicit instants.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_max: Option<f64>,
    /// s, min, h, d, wk, mo, a.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_unit: Option<String>,
    /// "hh:mm:ss" wall-clock times.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_of_day: Vec<String>,
    /// Event codes (ACM, HS…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// mon … sun.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub day_of_week: Vec<String>,
    /// How many doses in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `boundsPeriod`: FHIR dateTimes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds_end: Option<String>,
    /// `boundsDuration` in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds_minutes: Option<i64>,
    /// `Timing.code`: its GTSAbbreviation code, else its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A part of the timing the reader does not take (boundsRange, an unreadable value…): the order is "see order".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<String>,
}

/// What a timing comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Wall-clock times (minutes after midnight) every `every_days` days, on the named weekdays only (0 = Monday)
    /// when any are named.
    Clock { times: Vec<u16>, every_days: u32, weekdays: Vec<u8> },
    /// A fixed interval in minutes, counted from the last dose given.
    Interval { minutes: i64 },
    /// The listed instants.
    Events,
}

fn minutes_of(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" => 1.0 / 60.0,
        "min" => 1.0,
        "h" => 60.0,
        "d" => 1440.0,
        "wk" => 10080.0,
        _ => return None,
    })
}

/// "hh:mm[:ss]" as minutes after midnight.
fn clock_minutes(text: &str) -> Option<u16> {
    let mut parts = text.split(':');
    let h: u16 = parts.next()?.parse().ok()?;
    let m: u16 = parts.next()?.parse().ok()?;
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn weekday(code: &str) -> Option<u8> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| *d == code).and_then(|i| u8::try_from(i).ok())
}

impl Timing {
    /// Reads `dosageInstruction.timing`. Never fails: what it cannot take is named in `unread`.
    pub fn from_fhir(timing: &Value) -> Timing {
        let mut t = Timing::default();
        let mut unread: Vec<&str> = Vec::new();
        let texts = |v: Option<&Value>, what: &'static str, unread: &mut Vec<&'static str>| -> Vec<String> {
            match v {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| {
                        let s = x.as_str().map(str::trim).filter(|s| !s.is_empty());
                        if s.is_none() {
                            unread.push(what);
                        }
                        s.map(str::to_string)
                    })
                    .collect(),
                Some(_) => {
                    unread.push(what);
                    Vec::new()
                }
            }
        };
        t.event = texts(timing.get("event"), "event", &mut unread);
        if let Some(code) = timing.get("code") {
            let coded = code
                .get("coding")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find_map(|c| str_at(c.get("code"))));
            t.code = coded.or_else(|| str_at(code.get("text"))).map(str::to_string);
        }
        if let Some(r) = timing.get("repeat") {
            let count = |key: &'static str, unread: &mut Vec<&'static str>| match r.get(key) {
                None => None,
                Some(v) => {
                    let n = v.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
                    if n.is_none() {
                        unread.push(key);
                    }
                    n
                }
            };
            let decimal = |key: &'static str, unread: &mut Vec<&'static str>| match r.get(key) {
                None => None,
                Some(v) => {
                    let n = v.as_f64().filter(|n| n.is_finite() && *n > 0.0);
                    if n.is_none() {
                        unread.push(key);
                    }
                    n
                }
            };
            t.frequency = count("frequency", &mut unread);
            t.frequency_max = count("frequencyMax", &mut unread);
            t.count = count("count", &mut unread);
            t.period = decimal("period", &mut unread);
            t.period_max = decimal("periodMax", &mut unread);
            t.period_unit = str_at(r.get("periodUnit")).map(str::to_string);
            t.time_of_day = texts(r.get("timeOfDay"), "timeOfDay", &mut unread);
            t.when = texts(r.get("when"), "when", &mut unread);
            t.day_of_week = texts(r.get("dayOfWeek"), "dayOfWeek", &mut unread);
            t.offset = match r.get("offset") {
                None => None,
                Some(v) => {
                    let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
                    if n.is_none() {
                        unread.push("offset");
                    }
                    n
                }
            };
            if let Some(p) = r.get("boundsPeriod") {
                t.bounds_start = str_at(p.get("start")).map(str::to_string);
                t.bounds_end = str_at(p.get("end")).map(str::to_string);
            }
            if let Some(d) = r.get("boundsDuration") {
                let unit = str_at(d.get("code")).or_else(|| str_at(d.get("unit")));
                let minutes = d.get("value").and_then(Value::as_f64).zip(unit.and_then(minutes_of)).map(|(v, m)| v * m);
                match minutes.filter(|m| m.is_finite() && *m > 0.0 && *m <= LONGEST_PERIOD_MINUTES) {
                    Some(m) => t.bounds_minutes = Some(m.round() as i64),
                    None => unread.push("boundsDuration"),
                }
            }
            // How long one dose lasts (an infusion) does not move when it is due; a range of counts or bounds is
            // not something to guess.
            for key in ["boundsRange", "countMax"] {
                if r.get(key).is_some() {
                    unread.push(key);
                }
            }
        }
        unread.dedup();
        if !unread.is_empty() {
            t.unread = Some(unread.join(", "));
        }
        t
    }

    /// A timing of wall-clock times every day ("at bedtime", "twice daily" of a downtime order).
    pub fn daily(per_day: u32) -> Timing {
        Timing { frequency: Some(per_day), period: Some(1.0), period_unit: Some("d".into()), ..Timing::default() }
    }

    /// A timing every `hours` hours.
    pub fn every_hours(hours: u32) -> Timing {
        Timing {
            frequency: Some(1),
            period: Some(f64::from(hours)),
            period_unit: Some("h".into()),
            ..Timing::default()
        }
    }

    /// Minutes between doses: the period divided by the frequency (every 4 hours: 240; 4 times a day: 360). The
    /// minimum interval of a PRN order.
    pub fn interval_minutes(&self) -> Option<i64> {
        let (frequency, period, unit) = self.repeat()?;
        let minutes = period * minutes_of(unit)? / f64::from(frequency);
        (1.0..=LONGEST_PERIOD_MINUTES).contains(&minutes).then(|| minutes.round() as i64)
    }

    /// Frequency, period and unit, from `repeat` or else from `code`.
    fn repeat(&self) -> Option<(u32, f64, &str)> {
        match (self.period, self.period_unit.as_deref()) {
            (Some(p), Some(u)) => Some((self.frequency.unwrap_or(1), p, u)),
            _ => self.code.as_deref().and_then(code_repeat),
        }
    }

    /// The rule this timing comes to, or why the MAR cannot schedule it (shown beside "see order").
    pub fn rule(&self) -> Result<Rule, String> {
        if let Some(u) = &self.unread {
            return Err(format!("the order's timing has parts this workstation does not read ({u})"));
        }
        let mut weekdays = Vec::new();
        for d in &self.day_of_week {
            weekdays.push(weekday(d).ok_or("the order names a day of the week this workstation does not read")?);
        }
        let mut times = Vec::new();
        for t in &self.time_of_day {
            times.push(clock_minutes(t).ok_or("the order names a time of day this workstation does not read")?);
        }
        let offset = match self.offset {
            Some(o) if o < 1440 => Some(o as u16),
            Some(_) => return Err("the order's offset is a day or longer".into()),
            None => None,
        };
        for w in &self.when {
            times.extend(when_times(w, offset).ok_or_else(|| format!("the event \"{w}\" has no clock time here"))?);
        }
        if self.frequency_max.is_some() || self.period_max.is_some() {
            return Err("the order gives a range (every 4 to 6 hours, up to N times): the nurse decides".into());
        }
        let repeat = self.repeat();
        if !times.is_empty() {
            times.sort_unstable();
            times.dedup();
            if times.len() > MAX_TIMES {
                return Err("the order names too many times of day".into());
            }
            let every_days = match repeat {
                None => 1,
                Some((_, p, u)) => match whole_days(p, u) {
                    Some(d) => d,
                    None => return Err("the order names times of day and a period that is not whole days".into()),
                },
            };
            return clock_rule(times, every_days, weekdays);
        }
        let Some((frequency, period, unit)) = repeat else {
            if !self.event.is_empty() {
                return Ok(Rule::Events);
            }
            return Err("the order has no repeat pattern this workstation reads".into());
        };
        let Some(per_minute) = minutes_of(unit) else {
            return Err(format!("a period in \"{unit}\" is not scheduled here"));
        };
        let period_minutes = period * per_minute;
        if !(period_minutes.is_finite() && period_minutes <= LONGEST_PERIOD_MINUTES) {
            return Err("the order's period is longer than a year".into());
        }
        if let Some(days) = whole_days(period, unit) {
            if days == 1 || (days == 7 && !weekdays.is_empty()) {
                // Named weekdays carry the weekly pattern themselves: each named day at the standard times.
                let per_day = if days == 1 { frequency } else { 1 };
                let times = standard_times(per_day)
                    .ok_or_else(|| format!("{frequency} times a day has no standard times here"))?;
                return clock_rule(times, 1, weekdays);
            }
            if frequency == 1 {
                return clock_rule(vec![9 * 60], days, weekdays);
            }
            return Err(format!("{frequency} times every {days} days: the nurse decides which days"));
        }
        let minutes = (period_minutes / f64::from(frequency)).round() as i64;
        if minutes < SHORTEST_INTERVAL_MINUTES {
            return Err(format!("more often than every {SHORTEST_INTERVAL_MINUTES} minutes is not scheduled here"));
        }
        if !weekdays.is_empty() {
            return Err("an interval in hours on named days: the nurse decides".into());
        }
        Ok(Rule::Interval { minutes })
    }
}

/// Wall-clock times; named weekdays with a period of more than a week are not guessed.
fn clock_rule(times: Vec<u16>, every_days: u32, weekdays: Vec<u8>) -> Result<Rule, String> {
    if !weekdays.is_empty() && every_days != 1 && every_days != 7 {
        return Err("named days every few weeks: the nurse decides which weeks".into());
    }
    let every_days = if weekdays.is_empty() { every_days } else { 1 };
    Ok(Rule::Clock { times, every_days, weekdays })
}

/// A non-empty string of the JSON.
fn str_at(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The period as a whole number of days, if it is one (1 d, 2 d, 1 wk).
fn whole_days(period: f64, unit: &str) -> Option<u32> {
    let days = match unit {
        "d" => period,
        "wk" => period * 7.0,
        _ => return None,
    };
    (days.fract() == 0.0 && (1.0..=366.0).contains(&days)).then_some(days as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(timing: Value) -> Result<Rule, String> {
        Timing::from_fhir(&timing).rule()
    }

    fn clock(times: &[u16]) -> Result<Rule, String> {
        Ok(Rule::Clock { times: times.to_vec(), every_days: 1, weekdays: vec![] })
    }

    /// The common patterns of the FHIR R4 Timing datatype (datatypes.html#Timing) and its abbreviations.
    #[test]
    fn fhir_r4_timing_examples() {
        // BID, TID, QID: 2, 3, 4 per 1 d.
        let per_day = |n: u32| json!({"repeat": {"frequency": n, "period": 1, "periodUnit": "d"}});
        assert_eq!(rule(per_day(2)), clock(&[540, 1260]));
        assert_eq!(rule(per_day(3)), clock(&[540, 900, 1260]));
        assert_eq!(rule(per_day(4)), clock(&[540, 780, 1020, 1260]));
        // Q4H, every 8 hours.
        assert_eq!(
            rule(json!({"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}})),
            Ok(Rule::Interval { minutes: 240 })
        );
        assert_eq!(rule(json!({"repeat": {"period": 8, "periodUnit": "h"}})), Ok(Rule::Interval { minutes: 480 }));
        // Every 8 hours as "3 per day" is clock times; "Q8H" as a code is an interval.
        assert_eq!(
            rule(
                json!({"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "Q8H"}]}})
            ),
            Ok(Rule::Interval { minutes: 480 })
        );
        assert_eq!(rule(json!({"code": {"coding": [{"code": "BID"}]}})), clock(&[540, 1260]));
        // timeOfDay: 10 am and 6 pm.
        assert_eq!(
            rule(
                json!({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d", "timeOfDay": ["10:00:00", "18:00:00"]}})
            ),
            clock(&[600, 1080])
        );
        // when: before breakfast (ACM), at bedtime (HS); an offset of 60 minutes before breakfast.
        assert_eq!(rule(json!({"repeat": {"when": ["ACM"]}})), clock(&[450]));
        assert_eq!(rule(json!({"repeat": {"when": ["HS"]}})), clock(&[1260]));
        assert_eq!(rule(json!({"repeat": {"when": ["ACM"], "offset": 60}})), clock(&[420]));
        assert_eq!(rule(json!({"repeat": {"when": ["C"]}})), clock(&[480, 720, 1080]));
        // QOD, once a week on Monday.
        assert_eq!(
            rule(json!({"code": {"coding": [{"code": "QOD"}]}})),
            Ok(Rule::Clock { times: vec![540], every_days: 2, weekdays: vec![] })
        );
        assert_eq!(
            rule(json!({"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk", "dayOfWeek": ["mon"]}})),
            Ok(Rule::Clock { times: vec![540], every_days: 1, weekdays: vec![0] })
        );
        // boundsPeriod and boundsDuration are kept for the schedule.
        let bounded = Timing::from_fhir(
            &json!({"repeat": {"boundsPeriod": {"start": "2026-11-21T08:00:00-05:00", "end": "2026-11-24"}, "boundsDuration": {"value": 3, "code": "d"}, "frequency": 3, "period": 1, "periodUnit": "d"}}),
        );
        assert_eq!(
            (bounded.bounds_start.as_deref(), bounded.bounds_end.as_deref(), bounded.bounds_minutes),
            (Some("2026-11-21T08:00:00-05:00"), Some("2026-11-24"), Some(4320))
        );
        // PRN every 4 hours: the minimum interval.
        assert_eq!(
            Timing::from_fhir(&json!({"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}})).interval_minutes(),
            Some(240)
        );
        assert_eq!(
            Timing::from_fhir(&json!({"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}})).interval_minutes(),
            Some(360)
        );
    }

    #[test]
    fn fail_timings_the_mar_does_not_schedule_say_why() {
        for (timing, why) in [
            (json!({"repeat": {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h"}}), "range"),
            (json!({"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}}), "\"mo\""),
            (json!({"repeat": {"frequency": 1, "period": 5, "periodUnit": "min"}}), "every 15 minutes"),
            (json!({"repeat": {"frequency": 3, "period": 7, "periodUnit": "d"}}), "which days"),
            (json!({"repeat": {"when": ["PHS"]}}), "\"PHS\""),
            (json!({"repeat": {"boundsRange": {"low": {"value": 1}}}}), "boundsRange"),
            (json!({"repeat": {"frequency": "two"}}), "frequency"),
            (json!({"repeat": {"timeOfDay": ["25:00:00"]}}), "time of day"),
            (json!({"code": {"text": "per sliding scale"}}), "no repeat pattern"),
            (json!({"repeat": {"frequency": 1, "period": 1e300, "periodUnit": "h"}}), "longer than a year"),
        ] {
            let err = rule(timing.clone()).expect_err(&timing.to_string());
            assert!(err.contains(why), "{timing}: {err}");
        }
    }
}
