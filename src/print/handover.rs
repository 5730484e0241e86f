//! The printed shift handover sheet of one patient (issue 16 item 5): last vitals, doses given since the last
//! handover and due in the next 12 hours, notes since the last handover and unsigned entries, as flowing tables on
//! portrait pages inside the usual frame (the patient's name and MRN on every page).

use super::canvas::{Page, BLACK, GREY, RED};
use super::fonts::Weight;
use super::mar_grid::day_time;
use super::page::PrintError;
use super::reports::Flow;
use crate::handover::Handover;

fn opt(s: Option<&str>) -> String {
    s.unwrap_or("—").to_string()
}

/// The sheet's body pages (the frame is added by the caller).
pub(crate) fn pages(h: &Handover) -> Result<Vec<Page>, PrintError> {
    let mut f = Flow::new()?;
    let allergies = if h.allergies.is_empty() {
        "ALLERGIES: none recorded in the census snapshot — confirm with the patient".to_string()
    } else {
        let list: Vec<&str> = h.allergies.iter().map(|a| a.substance.as_str()).collect();
        format!("ALLERGIES: {}", list.join("; "))
    };
    f.para(&allergies, 10.0, Weight::Bold, RED)?;
    let since = match &h.last_handover {
        Some(last) => format!("Since the last handover, {} by {}", day_time(&last.at), last.by),
        None => format!("No handover recorded in this episode: since the downtime began, {}", day_time(&h.since)),
    };
    f.para(&since, 9.0, Weight::Regular, BLACK)?;

    f.heading("Last vital signs")?;
    match &h.vitals {
        Some(v) => {
            f.para(
                &format!("Taken {} · charted by {} · entry {}", day_time(&v.at), v.author, v.entry_id),
                8.0,
                Weight::Regular,
                GREY,
            )?;
            let rows: Vec<Vec<String>> = v.values.iter().map(|a| vec![a.label.clone(), a.value.clone()]).collect();
            f.table(&[("", 1.3), ("", 2.0)], &rows)?;
        }
        None => f.para("No vital signs charted in this downtime episode.", 9.0, Weight::Regular, GREY)?,
    }

    f.heading(&format!("Medications due until {}", day_time(&h.due_until)))?;
    let rows: Vec<Vec<String>> = h
        .due
        .iter()
        .map(|d| {
            let when = match d.status.as_str() {
                "prn" => match (&d.at, &d.last_dose_at) {
                    (Some(next), _) => format!("PRN: not before {}", day_time(next)),
                    (None, Some(_)) => "PRN: may be given now".into(),
                    (None, None) => "PRN: none given yet".into(),
                },
                "see-order" => "SEE ORDER".into(),
                _ => d.at.as_deref().map(day_time).unwrap_or_default(),
            };
            let how = [d.dose.as_deref(), d.route.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
            let mut status = d.status.to_uppercase();
            if let Some(last) = &d.last_dose_at {
                status.push_str(&format!(" (last {})", day_time(last)));
            }
            vec![when, d.medication.clone(), how, d.timing.clone(), status]
        })
        .collect();
    f.table(&[("Due", 1.1), ("Medication", 1.8), ("Dose · route", 1.1), ("Timing", 1.2), ("Status", 1.0)], &rows)?;

    f.heading("Doses given since the last handover")?;
    let rows: Vec<Vec<String>> = h
        .given
        .iter()
        .map(|d| {
            let what = if d.given { "given".to_string() } else { format!("NOT GIVEN ({})", opt(d.reason.as_deref())) };
            let source = d.entry_id.clone().unwrap_or_else(|| "before the outage (EHR)".into());
            vec![day_time(&d.at), d.medication.clone(), what, source]
        })
        .collect();
    f.table(&[("Time", 1.0), ("Medication", 2.0), ("Given", 1.2), ("Entry", 1.6)], &rows)?;

    f.heading("Notes since the last handover")?;
    let rows: Vec<Vec<String>> =
        h.notes.iter().map(|n| vec![day_time(&n.at), format!("{} · {}", n.form, n.author), n.text.clone()]).collect();
    f.table(&[("Time", 0.8), ("Form · by", 1.2), ("Note", 4.0)], &rows)?;

    f.heading("Unsigned entries (sign before the end of the shift)")?;
    let rows: Vec<Vec<String>> = h
        .unsigned
        .iter()
        .map(|u| vec![u.form.clone(), u.author.clone(), day_time(&u.saved_at), u.entry_id.clone()])
        .collect();
    f.table(&[("Form", 1.5), ("Author", 1.0), ("Last saved", 1.0), ("Entry", 1.6)], &rows)?;

    f.heading("Handed over")?;
    f.para(
        "By (signature, printed name): ________________________   To: ________________________   Time: ________",
        9.0,
        Weight::Regular,
        BLACK,
    )?;
    Ok(f.finish())
}
