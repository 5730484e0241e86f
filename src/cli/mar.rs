//! `dtk mar --patient MRN [--json]`: a patient's downtime MAR — every order with its due times for the episode and
//! each one's status (given, not-given, due, overdue, scheduled; prn for as-needed orders), with the entry that
//! covers it.

use std::io::Write;

use clap::Args;
use dtk::api::{Mar, Workstation};
use dtk::clock::SystemClock;
use dtk::mar::{DoseLine, DueStatus, DueTime, OrderKind, OrderSchedule};

use super::{print_json, sign_in, Failure};

#[derive(Args)]
pub struct MarArgs {
    /// The patient's MRN (typed, or scanned from the wristband).
    #[arg(long, value_name = "MRN")]
    pub patient: String,
}

pub fn run(ws: &mut Workstation, args: MarArgs, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    let mar = ws.mar(&session, &args.patient, &SystemClock)?;
    if json {
        print_json(&serde_json::to_value(&mar).unwrap_or_default());
    } else {
        print_text(&mar);
    }
    Ok(())
}

/// "2026-11-21T09:00:00-05:00" as "2026-11-21 09:00".
fn short(t: &str) -> String {
    t.get(..16).map_or_else(|| t.to_string(), |s| s.replacen('T', " ", 1))
}

fn entry(id: Option<&str>, from_census: bool) -> String {
    match id {
        Some(id) => format!(", entry {id}"),
        None if from_census => " (before the outage, from the census)".into(),
        None => String::new(),
    }
}

fn due_line(d: &DueTime) -> String {
    let at = d.at.as_deref().map(short).unwrap_or_default();
    let given_at = d.given_at.as_deref().map(short).unwrap_or_default();
    let covered = entry(d.entry_id.as_deref(), d.from_census);
    let detail = match d.status {
        DueStatus::Given => format!("given {given_at}{covered}"),
        DueStatus::NotGiven => {
            format!("not given ({}) {given_at}{covered}", d.reason.as_deref().unwrap_or("no reason charted"))
        }
        _ => String::new(),
    };
    format!("  {at:<16}  {:<9}  {detail}", d.status.as_str()).trim_end().to_string()
}

fn dose_line(d: &DoseLine) -> String {
    let what = if d.given {
        "given".to_string()
    } else {
        format!("not given ({})", d.reason.as_deref().unwrap_or("no reason charted"))
    };
    format!("  dose {}: {what}{}", short(&d.at), entry(d.entry_id.as_deref(), d.from_census))
}

fn order_lines(o: &OrderSchedule) {
    let how = [o.dose.as_deref(), o.route.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let source = match o.source {
        dtk::mar::OrderSource::Census => "census order".to_string(),
        dtk::mar::OrderSource::Downtime => format!("downtime order {}", o.order),
    };
    say!();
    say!("{}{}{} — {} ({source})", o.medication, if how.is_empty() { "" } else { " " }, how, o.timing);
    if let Some(stop) = &o.stops_at {
        match &o.stopped_by {
            Some(by) => say!("  discontinued {} by downtime order {by}", short(stop)),
            None => say!("  stops {}", short(stop)),
        }
    }
    match o.kind {
        OrderKind::SeeOrder => say!("  see order: {}", o.see_order.as_deref().unwrap_or("the timing is not scheduled")),
        OrderKind::OnHold => say!("  on hold in the EHR: nothing is due"),
        OrderKind::Prn => {
            if let Some(p) = &o.prn {
                let last = p.last_dose_at.as_deref().map_or("none charted".to_string(), |t| {
                    format!("{}{}", short(t), entry(p.last_dose_entry_id.as_deref(), p.last_dose_entry_id.is_none()))
                });
                let interval = p.min_interval_minutes.map_or("not given".to_string(), |m| format!("{m} minutes"));
                let next = p.next_allowed_at.as_deref().map_or("now".to_string(), short);
                say!("  prn: last dose {last}; minimum interval {interval}; next dose allowed {next}");
            }
        }
        OrderKind::Scheduled => {
            for d in &o.due {
                say!("{}", due_line(d));
            }
        }
    }
    for d in &o.other_doses {
        say!("{}", dose_line(d));
    }
}

fn print_text(m: &Mar) {
    say!(
        "MAR of {} (MRN {}), born {}, {}",
        m.name,
        m.mrn,
        m.birth_date.as_deref().unwrap_or("unknown"),
        m.location.as_deref().unwrap_or("no location")
    );
    say!(
        "{}episode from {} to {} ({}); now {}; a dose covers a due time {} minutes either side",
        if m.drill { "DRILL " } else { "" },
        short(&m.from),
        short(&m.until),
        m.time_zone,
        short(&m.now),
        m.window_minutes
    );
    if m.allergies.is_empty() {
        say!("Allergies: none recorded in the census");
    } else {
        let list: Vec<String> = m
            .allergies
            .iter()
            .map(|a| match (&a.criticality, &a.reaction) {
                (Some(c), Some(r)) => format!("{} ({c}: {r})", a.substance),
                (Some(c), None) => format!("{} ({c})", a.substance),
                (None, Some(r)) => format!("{} ({r})", a.substance),
                (None, None) => a.substance.clone(),
            })
            .collect();
        say!("Allergies: {}", list.join("; "));
    }
    if m.orders.is_empty() {
        say!();
        say!("No medication orders.");
    }
    for o in &m.orders {
        order_lines(o);
    }
    if !m.unmatched_doses.is_empty() {
        say!();
        say!("Doses charted for no order of this patient:");
        for d in &m.unmatched_doses {
            say!("{}", dose_line(d));
        }
    }
}
