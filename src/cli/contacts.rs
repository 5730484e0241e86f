//! `dtk episode contacts`: the escalation ladder and contacts as the site's file gives them, where the ladder stands
//! in the open episode (who to call now, the next escalation due), and the one-page contact sheet (`--out`).

use std::path::Path;

use dtk::api::{Session, Workstation};
use dtk::clock::SystemClock;
use dtk::escalation::LevelStatus;

use super::{output, Failure};

fn hhmm(stamp: &str) -> String {
    dtk::clock::parse_stamp(stamp)
        .map_or_else(|| stamp.to_string(), |t| format!("{:02}:{:02} UTC", t.hour(), t.minute()))
}

/// A level as listed: number, title, which outages, minutes, where it stands in the open episode, its calls.
type Row = (usize, String, Option<String>, Option<i64>, Option<LevelStatus>, Vec<String>);

pub fn show(ws: &mut Workstation, session: &Session, out: Option<&Path>, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    if let Some(out) = out {
        let pdf = ws.contact_sheet(session, &clock)?;
        dtk::api::save_pdf(out, &pdf.bytes)?;
        output(json, &serde_json::json!({ "out": out, "pages": pdf.pages }), || {
            format!(
                "Contact sheet written to {} ({} page{}).",
                out.display(),
                pdf.pages,
                if pdf.pages == 1 { "" } else { "s" }
            )
        });
        return Ok(());
    }
    let view = ws.escalation_status(session, &clock)?;
    output(json, &view, || {
        let mut t = String::new();
        let Some(file) = &view.escalation else {
            match &view.file {
                None => t.push_str(
                    "No escalation file is configured (escalation_file in site.json): no contacts to show.\n",
                ),
                Some(f) => {
                    t.push_str(&format!("The escalation file {f} was not used; charting goes on. Problems:\n"));
                    for p in &view.problems {
                        t.push_str(&format!("  {p}\n"));
                    }
                }
            }
            return t;
        };
        t.push_str(&format!("{} (version {})\n", file.title, file.version));
        match &view.ladder {
            None => t.push_str("No downtime episode is open: the whole ladder.\n"),
            Some(l) => match (l.current, &l.acknowledged) {
                (_, Some(a)) => t.push_str(&format!(
                    "Acknowledged by {} at {} (recorded by {}): no further escalation needed.\n",
                    a.name,
                    hhmm(&a.at),
                    a.by
                )),
                (Some(n), None) => {
                    let level = &l.levels[n - 1];
                    let mut line = format!("Call now: level {n}, {}", level.title);
                    if l.overdue {
                        line.push_str(" - OVERDUE");
                    }
                    if !l.call_now {
                        line = format!("Level {n}, {}: called, waiting for an acknowledgement", level.title);
                    }
                    t.push_str(&line);
                    t.push_str(&match &l.next_escalation_due {
                        Some(d) => format!("; next escalation due {}.\n", hhmm(d)),
                        None => "; this is the last level for this outage.\n".to_string(),
                    });
                }
                (None, None) => t.push_str("No level of the ladder is for this outage.\n"),
            },
        }
        let levels: Vec<Row> = match &view.ladder {
            Some(l) => l
                .levels
                .iter()
                .map(|s| {
                    let calls = s
                        .calls
                        .iter()
                        .map(|c| {
                            let what = if c.acknowledged { "acknowledged" } else { "called" };
                            format!("{} {what} at {} (recorded by {})", c.name, hhmm(&c.at), c.by)
                        })
                        .collect();
                    (s.number, s.title.clone(), s.applies_to.clone(), s.after_minutes, Some(s.status), calls)
                })
                .collect(),
            None => file
                .ladder
                .iter()
                .enumerate()
                .map(|(i, l)| (i + 1, l.title(i + 1), l.applies_to(), l.after_minutes, None, Vec::new()))
                .collect(),
        };
        for (n, title, applies_to, after, status, calls) in levels {
            let status = match status {
                Some(LevelStatus::Current) => " [NOW]",
                Some(LevelStatus::Acknowledged) => " [acknowledged]",
                Some(LevelStatus::NoAnswer) => " [no answer]",
                Some(LevelStatus::NotForThisOutage) => " [not for this outage]",
                Some(LevelStatus::Waiting) | None => "",
            };
            t.push_str(&format!(
                "Level {n}: {title} ({}; {}){status}\n",
                applies_to.map_or_else(|| "every outage".to_string(), |a| format!("only {a}")),
                after.map_or_else(
                    || "last level".to_string(),
                    |m| format!("next level after {m} min without an answer")
                )
            ));
            let ids = &file.ladder[n - 1].contacts;
            for c in ids.iter().filter_map(|id| file.contact(id)) {
                let phones: Vec<String> = c.phones.iter().map(|p| format!("{} ({})", p.number, p.label)).collect();
                t.push_str(&format!("  {:<20} {:<32} {}\n", c.id, c.name, phones.join(", ")));
            }
            for c in calls {
                t.push_str(&format!("    {c}\n"));
            }
        }
        t
    });
    Ok(())
}
