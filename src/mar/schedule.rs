//! Laying out each order's due times between the episode's start and its end (or a day past now), and matching the
//! doses charted to them: which dose covers which due time, which due times are due now or overdue, and where the
//! next as-needed dose stands. The rules are stated in ARCHITECTURE.md, "MAR schedule".

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time};

use super::orders::{refers_to, same_drug, same_medication, Dose, Order};
use super::timing::Rule;
use super::zone::LocalZone;
use super::{DoseLine, DueStatus, DueTime, OrderKind, OrderSchedule, PrnLine};

/// An order lists at most this many due times (104 days at the shortest interval the MAR schedules).
pub const MAX_DUE: usize = 10_000;
/// Days of wall-clock times looked at, at most (a count of doses from a start long ago).
const MAX_DAYS: i64 = 3_700;

/// The stretch of time the MAR covers and the clock.
pub struct Window<'a> {
    /// The episode's start.
    pub from: OffsetDateTime,
    /// The episode's end, or a day past now while it is open.
    pub until: OffsetDateTime,
    pub now: OffsetDateTime,
    /// How far from its due time a dose still covers it, and how long before and after it a due time is "due".
    pub tolerance: Duration,
    pub zone: &'a LocalZone,
}

impl Window<'_> {
    fn text(&self, t: OffsetDateTime) -> String {
        self.zone.local(t).format(&Rfc3339).unwrap_or_default()
    }

    fn status(&self, t: OffsetDateTime) -> DueStatus {
        if self.now < t - self.tolerance {
            DueStatus::Scheduled
        } else if self.now <= t + self.tolerance {
            DueStatus::Due
        } else {
            DueStatus::Overdue
        }
    }

    fn row(&self, t: OffsetDateTime, dose: Option<&Dose>) -> DueTime {
        let status = match dose {
            Some(d) if d.given => DueStatus::Given,
            Some(_) => DueStatus::NotGiven,
            None => self.status(t),
        };
        DueTime {
            at: Some(self.text(t)),
            status,
            entry_id: dose.and_then(|d| d.entry_id.clone()),
            given_at: dose.map(|d| self.text(d.at)),
            given_by: None,
            from_census: dose.is_some_and(|d| d.entry_id.is_none()),
            reason: dose.and_then(|d| d.reason.clone()),
        }
    }

    fn dose_line(&self, d: &Dose) -> DoseLine {
        DoseLine {
            at: self.text(d.at),
            medication: d.medication.clone(),
            given: d.given,
            reason: d.reason.clone(),
            entry_id: d.entry_id.clone(),
            given_by: None,
            from_census: d.entry_id.is_none(),
        }
    }
}

/// Every order of a patient on the MAR (discontinuing orders only stop others), and the doses that match no order.
pub fn schedule(orders: &[Order], doses: &[Dose], w: &Window) -> (Vec<OrderSchedule>, Vec<DoseLine>) {
    // When each order stops: its own end, or the first later downtime order that discontinues its medication.
    let stops: Vec<(Option<OffsetDateTime>, Option<String>)> = orders
        .iter()
        .map(|o| {
            let by = orders
                .iter()
                .filter(|d| d.discontinue && !o.discontinue && d.id != o.id && same_drug(o, d))
                .filter(|d| match (d.start, o.start) {
                    (Some(ds), Some(os)) => ds >= os,
                    _ => true,
                })
                .min_by_key(|d| d.start);
            match by {
                Some(d) if d.start.is_some() && (o.stop.is_none() || d.start < o.stop) => (d.start, Some(d.id.clone())),
                _ => (o.stop, None),
            }
        })
        .collect();
    let active_at = |i: usize, t: OffsetDateTime| {
        orders[i].start.is_none_or(|s| s - w.tolerance <= t) && stops[i].0.is_none_or(|s| t < s)
    };

    // Each dose goes to one order: the one its census record names, else an order of its medication, preferring the
    // same as-needed flag, then one running at the dose's time, then the first listed.
    let mut sorted: Vec<&Dose> = doses.iter().collect();
    sorted.sort_by_key(|d| d.at);
    let mut per_order: Vec<Vec<&Dose>> = vec![Vec::new(); orders.len()];
    let mut unmatched = Vec::new();
    for d in sorted {
        let named = d.order_ref.as_deref().and_then(|r| orders.iter().position(|o| !o.discontinue && refers_to(r, o)));
        let chosen = named.or_else(|| {
            (0..orders.len())
                .filter(|&i| !orders[i].discontinue && same_medication(&orders[i], d))
                .min_by_key(|&i| (orders[i].prn != d.prn, !active_at(i, d.at), i))
        });
        match chosen {
            Some(i) => per_order[i].push(d),
            None => unmatched.push(w.dose_line(d)),
        }
    }

    let listed = orders
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.discontinue)
        .map(|(i, o)| order_schedule(o, stops[i].0, stops[i].1.clone(), &per_order[i], w))
        .collect();
    (listed, unmatched)
}

fn order_schedule(
    o: &Order,
    stop: Option<OffsetDateTime>,
    stopped_by: Option<String>,
    doses: &[&Dose],
    w: &Window,
) -> OrderSchedule {
    let rule = o.timing.rule();
    let mut s = OrderSchedule {
        order: o.id.clone(),
        source: o.source,
        medication: o.medication.clone(),
        dose: o.dose.clone(),
        route: o.route.clone(),
        timing: match &rule {
            Ok(r) => describe(r, o),
            Err(_) => o.text.clone().or_else(|| o.timing.code.clone()).unwrap_or_else(|| "no timing given".into()),
        },
        kind: OrderKind::Scheduled,
        see_order: None,
        starts_at: o.start.map(|t| w.text(t)),
        stops_at: stop.map(|t| w.text(t)),
        stopped_by,
        prn: None,
        due: Vec::new(),
        other_doses: Vec::new(),
    };
    let mut used = vec![false; doses.len()];
    if o.on_hold {
        s.kind = OrderKind::OnHold;
    } else if o.prn {
        s.kind = OrderKind::Prn;
        let interval = o.timing.interval_minutes();
        let last = doses.iter().rev().find(|d| d.given && d.at <= w.now);
        let next = last.zip(interval).map(|(d, m)| d.at + Duration::minutes(m)).filter(|t| *t > w.now);
        s.prn = Some(PrnLine {
            last_dose_at: last.map(|d| w.text(d.at)),
            last_dose_entry_id: last.and_then(|d| d.entry_id.clone()),
            min_interval_minutes: interval,
            next_allowed_at: next.map(|t| w.text(t)),
        });
        s.due.push(DueTime {
            at: next.map(|t| w.text(t)),
            status: DueStatus::Prn,
            entry_id: last.and_then(|d| d.entry_id.clone()),
            given_at: last.map(|d| w.text(d.at)),
            given_by: None,
            from_census: last.is_some_and(|d| d.entry_id.is_none()),
            reason: None,
        });
    } else {
        match rule {
            Err(why) => {
                s.kind = OrderKind::SeeOrder;
                s.see_order = Some(why);
            }
            Ok(Rule::Interval { minutes }) => interval_due(o, stop, doses, &mut used, minutes, w, &mut s.due),
            Ok(rule) => {
                let times = fixed_times(o, stop, doses, &rule, w);
                let mut covered: Vec<Option<usize>> = vec![None; times.len()];
                for (i, &t) in times.iter().enumerate() {
                    let best = (0..doses.len())
                        .filter(|&k| !used[k] && (doses[k].at - t).abs() <= w.tolerance)
                        .min_by_key(|&k| (doses[k].at - t).abs());
                    if let Some(k) = best {
                        used[k] = true;
                    }
                    covered[i] = best;
                }
                // A dose charted after a due time's window, before the next due time's window opens, was given late
                // for it: it covers that due time (the row turns to given with the real time) rather than nothing.
                for i in 0..times.len() {
                    if covered[i].is_some() {
                        continue;
                    }
                    let t = times[i];
                    let limit = times.get(i + 1).map(|n| *n - w.tolerance).or(stop);
                    let late = (0..doses.len())
                        .filter(|&k| !used[k] && doses[k].at > t + w.tolerance)
                        .filter(|&k| limit.is_none_or(|l| doses[k].at < l))
                        .min_by_key(|&k| doses[k].at);
                    if let Some(k) = late {
                        used[k] = true;
                    }
                    covered[i] = late;
                }
                for (t, k) in times.into_iter().zip(covered) {
                    s.due.push(w.row(t, k.map(|k| doses[k])));
                }
            }
        }
    }
    if s.kind != OrderKind::Prn {
        s.other_doses = doses.iter().zip(&used).filter(|(_, u)| !**u).map(|(d, _)| w.dose_line(d)).collect();
    } else {
        s.other_doses = doses.iter().map(|d| w.dose_line(d)).collect();
    }
    s
}

/// The first and last instants an order may be due in this window.
fn bounds(o: &Order, stop: Option<OffsetDateTime>, w: &Window) -> (OffsetDateTime, OffsetDateTime) {
    let lo = o.start.map_or(w.from, |s| s.max(w.from));
    let hi = stop.map_or(w.until, |s| (s - Duration::SECOND).min(w.until));
    (lo, hi)
}

/// Due times at wall-clock times of the day, or at the order's listed instants.
fn fixed_times(
    o: &Order,
    stop: Option<OffsetDateTime>,
    doses: &[&Dose],
    rule: &Rule,
    w: &Window,
) -> Vec<OffsetDateTime> {
    let (lo, hi) = bounds(o, stop, w);
    // A count of doses counts from the order's start, so earlier ones are laid out and left off the list.
    let gen_from = if o.timing.count.is_some() { o.start.unwrap_or(lo) } else { lo };
    let mut all: Vec<OffsetDateTime> = match rule {
        Rule::Events => o
            .timing
            .event
            .iter()
            .filter_map(|e| super::orders::fhir_instant(e, w.zone))
            .filter(|t| *t >= gen_from && *t <= hi)
            .collect(),
        Rule::Clock { times, every_days, weekdays } => {
            // Every few days counts from the last dose given before the window, else from the order's start.
            let anchor = doses.iter().rev().find(|d| d.given && d.at < lo).map(|d| d.at).or(o.start).unwrap_or(lo);
            let anchor_day = w.zone.local(anchor).date();
            let first = w.zone.local(gen_from).date().previous_day().unwrap_or(Date::MIN);
            let last = w.zone.local(hi).date();
            let mut out = Vec::new();
            let mut day = first.max(last - Duration::days(MAX_DAYS));
            while day <= last && out.len() < MAX_DUE {
                let wd = day.weekday().number_days_from_monday();
                let on = if weekdays.is_empty() {
                    (day - anchor_day).whole_days().rem_euclid(i64::from((*every_days).max(1))) == 0
                } else {
                    weekdays.contains(&wd)
                };
                if on {
                    for m in times {
                        let at = Time::from_hms((m / 60) as u8, (m % 60) as u8, 0).ok();
                        if let Some(t) = at.and_then(|at| w.zone.at(day, at)) {
                            if t >= gen_from && t <= hi {
                                out.push(t);
                            }
                        }
                    }
                }
                match day.next_day() {
                    Some(d) => day = d,
                    None => break,
                }
            }
            out
        }
        Rule::Interval { .. } => Vec::new(),
    };
    all.sort();
    all.dedup();
    if let Some(n) = o.timing.count {
        all.truncate(n as usize);
    }
    all.retain(|t| *t >= lo);
    all.truncate(MAX_DUE);
    all
}

/// Due times of an interval order: each counted from the dose actually given before it (a late or early dose moves
/// the ones after it), the first from the last dose before the window, else from the order's start, else from the
/// episode's start.
fn interval_due(
    o: &Order,
    stop: Option<OffsetDateTime>,
    doses: &[&Dose],
    used: &mut [bool],
    minutes: i64,
    w: &Window,
    out: &mut Vec<DueTime>,
) {
    let (lo, hi) = bounds(o, stop, w);
    let step = Duration::minutes(minutes);
    // The dose before the window stays listed among the other doses: it is the last one the EHR knew of.
    // A dose within the window of the first due time covers it rather than counting as the one before.
    let mut anchor = doses.iter().rev().find(|d| d.given && d.at < lo - w.tolerance).map(|d| d.at);
    let mut t = match anchor {
        Some(a) => a + step,
        None => o.start.unwrap_or(lo),
    };
    let mut counted = 0usize;
    // Due times before the window were the EHR's to record: step over them in whole intervals.
    if t < lo {
        let (behind, every) = ((lo - t).whole_seconds(), minutes * 60);
        let k = behind / every + i64::from(behind % every != 0);
        t += step * (k as i32);
        counted += k as usize;
    }
    while t <= hi && out.len() < MAX_DUE {
        if o.timing.count.is_some_and(|n| counted >= n as usize) {
            break;
        }
        counted += 1;
        // A dose after this due time's window but before the next one's opens was given late for this one.
        let late_until = (t + step - w.tolerance).max(t + w.tolerance);
        let mut found = None;
        for (k, &d) in doses.iter().enumerate() {
            if used[k] || anchor.is_some_and(|a| d.at <= a) || d.at > late_until {
                continue;
            }
            used[k] = true;
            if d.given || d.at >= t - w.tolerance {
                found = Some(d);
                break;
            }
            // A dose charted as not given long before this due time covers nothing: it stays in other_doses.
            used[k] = false;
            anchor = anchor.max(Some(d.at));
        }
        out.push(w.row(t, found));
        match found {
            Some(d) if d.given => {
                anchor = Some(d.at);
                t = d.at + step;
            }
            _ => t += step,
        }
    }
}

/// The timing in words for the MAR's row header.
fn describe(rule: &Rule, o: &Order) -> String {
    let prn = if o.prn { "as needed, " } else { "" };
    let text = match rule {
        Rule::Interval { minutes } if minutes % 60 == 0 => match minutes / 60 {
            1 => "every hour".to_string(),
            h => format!("every {h} hours"),
        },
        Rule::Interval { minutes } => format!("every {minutes} minutes"),
        Rule::Events => "at set times".to_string(),
        Rule::Clock { times, every_days, weekdays } => {
            let mut s = times.iter().map(|m| format!("{:02}:{:02}", m / 60, m % 60)).collect::<Vec<_>>().join(", ");
            if *every_days > 1 {
                s.push_str(&format!(" every {every_days} days"));
            }
            if !weekdays.is_empty() {
                let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let days: Vec<&str> = weekdays.iter().filter_map(|d| names.get(*d as usize).copied()).collect();
                s.push_str(&format!(" on {}", days.join(", ")));
            }
            s
        }
    };
    format!("{prn}{text}")
}
