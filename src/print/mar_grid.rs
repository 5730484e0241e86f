//! The printed downtime MAR of one patient: each order against a grid of the next 24 clock hours, the hours a dose
//! is due shaded with the due time printed in the box, from the same schedule the MAR tab and `dtk mar` show
//! ([`crate::mar::schedule`], computed by the façade). As-needed orders say PRN with their minimum interval, timings
//! the schedule cannot read are printed as the order's words ("see order"), and doses already given (before the
//! outage or during the episode) are printed on the order's row.

use time::{Duration, OffsetDateTime};

use super::canvas::{a4, Page, Rgba, BLACK, GREY, LIGHT, RED};
use super::fonts::Weight;
use super::page::{body_bottom, body_top, PrintError, MARGIN};
use crate::census::PatientRecord;
use crate::clock::parse_stamp;
use crate::mar::{DoseLine, DueStatus, DueTime, OrderKind, OrderSchedule};

const MED_COL: f32 = 78.0;
const MAR_ROW: f32 = 14.0;
/// The band at the foot of a row for the given doses and notes; the hour boxes are above it.
const NOTE_BAND: f32 = 3.5;
const MAR_HEAD: f32 = 7.0;
/// Blank rows for orders given during the downtime.
const NEW_ORDER_ROWS: usize = 3;
/// The fill of an hour in which a dose is due: dark enough to survive a photocopy, light enough to write on.
pub(crate) const DUE_SHADE: Rgba = Rgba(0.80, 0.80, 0.80);
/// Doses already given listed on an order's row, newest last (older ones are on the screen and in `dtk mar`).
const GIVEN_LISTED: usize = 4;

/// One patient's MAR as the façade computed it.
pub struct MarSheet<'a> {
    pub record: &'a PatientRecord,
    pub orders: &'a [OrderSchedule],
    /// Doses charted for a medication the patient has no order for.
    pub unmatched: &'a [DoseLine],
    /// The start of each of the grid's 24 hours, carrying the unit's offset at that hour.
    pub hours: Vec<OffsetDateTime>,
    /// The unit's time zone, named in the grid's header.
    pub time_zone: &'a str,
}

/// What one order's row shows.
struct Row {
    name: String,
    detail: String,
    /// Given doses, overdue ones, the PRN interval: the line under the detail.
    note: String,
    /// Text across the grid instead of shaded hours (PRN, see order, on hold).
    across: Option<(String, Rgba)>,
    /// Per grid hour: the due rows falling in it.
    cells: Vec<Vec<DueTime>>,
}

/// "HH:MM" of an RFC 3339 time with its own offset (the unit's local time, as the schedule writes it).
fn clock_time(at: &str) -> String {
    parse_stamp(at).map(|t| format!("{:02}:{:02}", t.hour(), t.minute())).unwrap_or_else(|| at.to_string())
}

/// "21 Nov 14:05" of an RFC 3339 time, for doses that may be from another day.
pub(super) fn day_time(at: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    parse_stamp(at)
        .map(|t| {
            let month = MONTHS[usize::from(u8::from(t.month())).saturating_sub(1) % 12];
            format!("{} {month} {:02}:{:02}", t.day(), t.hour(), t.minute())
        })
        .unwrap_or_else(|| at.to_string())
}

fn minutes_text(m: i64) -> String {
    if m % 60 == 0 {
        format!("{} h", m / 60)
    } else {
        format!("{m} min")
    }
}

fn row(o: &OrderSchedule, hours: &[OffsetDateTime]) -> Row {
    let mut cells = vec![Vec::new(); hours.len()];
    let grid_start = hours.first().copied();
    let mut given: Vec<(String, String)> = Vec::new();
    let mut overdue = Vec::new();
    for d in &o.due {
        // An as-needed order's doses are all among its other doses.
        if let Some(g) = d.given_at.as_ref().filter(|_| d.status != DueStatus::Prn) {
            let what = if d.status == DueStatus::NotGiven { "not given" } else { "given" };
            given.push((g.clone(), format!("{what} {}{}", day_time(g), if d.from_census { " (EHR)" } else { "" })));
        }
        let Some(at) = d.at.as_deref().and_then(parse_stamp).filter(|_| d.status != DueStatus::Prn) else { continue };
        match hours.iter().position(|h| *h <= at && at < *h + Duration::HOUR) {
            Some(k) => cells[k].push(d.clone()),
            None if d.status == DueStatus::Overdue && grid_start.is_some_and(|s| at < s) => {
                overdue.push(clock_time(d.at.as_deref().unwrap_or_default()))
            }
            None => {}
        }
    }
    for d in &o.other_doses {
        let what = if d.given { "given" } else { "not given" };
        given.push((d.at.clone(), format!("{what} {}{}", day_time(&d.at), if d.from_census { " (EHR)" } else { "" })));
    }
    // Newest last, and only the last few: the row has one line for them.
    given.sort_by_key(|(at, _)| parse_stamp(at));
    let skip = given.len().saturating_sub(GIVEN_LISTED);
    let mut note: Vec<String> = Vec::new();
    if !overdue.is_empty() {
        note.push(format!("OVERDUE since {}", overdue.join(", ")));
    }
    if !given.is_empty() {
        note.push(given[skip..].iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" · "));
    }
    let across = match o.kind {
        OrderKind::Prn => {
            let p = o.prn.as_ref();
            let interval = p
                .and_then(|p| p.min_interval_minutes)
                .map(|m| format!("at least {} apart", minutes_text(m)))
                .unwrap_or_else(|| "no minimum interval in the order".into());
            let next =
                p.and_then(|p| p.next_allowed_at.as_deref()).map(|n| format!(" · next not before {}", day_time(n)));
            Some((format!("PRN (as needed) · {interval}{}", next.unwrap_or_default()), BLACK))
        }
        OrderKind::SeeOrder => Some((format!("SEE ORDER: {}", o.timing), BLACK)),
        OrderKind::OnHold => Some(("ON HOLD in the EHR: nothing is due".into(), RED)),
        OrderKind::Scheduled if o.due.is_empty() => Some(("No dose due in this period".into(), GREY)),
        OrderKind::Scheduled => None,
    };
    if let Some(stop) = &o.stops_at {
        note.push(format!("stops {}", day_time(stop)));
    }
    let mut name = o.medication.clone();
    if o.kind == OrderKind::Prn {
        name.push_str(" (PRN)");
    }
    let detail: Vec<&str> =
        [o.dose.as_deref(), o.route.as_deref(), Some(o.timing.as_str())].into_iter().flatten().collect();
    Row { name, detail: detail.join(" · "), note: note.join(" · "), across, cells }
}

/// The MAR body pages of one patient (the frame is added by the caller).
pub(crate) fn mar_pages(sheet: &MarSheet) -> Result<Vec<Page>, PrintError> {
    let record = sheet.record;
    let mut pages = Vec::new();
    let mut page = a4(true)?;
    let (w, h) = (page.width, page.height);
    let (top, bottom) = (body_top(0.0), body_bottom(h) - 14.0);
    let right = w - MARGIN;

    // Allergies first, in red, where nobody can miss them.
    let allergies: Vec<String> = record
        .allergies
        .iter()
        .map(|a| {
            let mut s = a.substance.clone();
            let extra: Vec<&str> = [a.reaction.as_deref(), a.criticality.as_deref()].into_iter().flatten().collect();
            if !extra.is_empty() {
                s.push_str(&format!(" ({})", extra.join(", ")));
            }
            s
        })
        .collect();
    let allergy_text = if allergies.is_empty() {
        "ALLERGIES: none recorded in the census snapshot — confirm with the patient before giving".to_string()
    } else {
        format!("ALLERGIES: {}", allergies.join("; "))
    };
    let draw_allergies = |page: &mut Page| {
        page.rect(MARGIN, top, right - MARGIN, 10.0, None, Some((0.9, RED)));
        let lines = page.wrap(&allergy_text, 9.5, Weight::Bold, right - MARGIN - 4.0, 2);
        for (i, l) in lines.iter().enumerate() {
            page.text(MARGIN + 2.0, top + 4.2 + i as f32 * 4.2, 9.5, Weight::Bold, RED, l);
        }
    };
    let hour_w = (right - MARGIN - MED_COL) / sheet.hours.len().max(1) as f32;
    let period = match (sheet.hours.first(), sheet.hours.last()) {
        (Some(a), Some(b)) => format!(
            "{:04}-{:02}-{:02} {:02}:00 to {:02}:59 next day ({})",
            a.year(),
            u8::from(a.month()),
            a.day(),
            a.hour(),
            b.hour(),
            sheet.time_zone
        ),
        _ => String::new(),
    };
    let draw_head = |page: &mut Page, y: f32| {
        page.rect(MARGIN, y, right - MARGIN, MAR_HEAD, Some(LIGHT), Some((0.4, BLACK)));
        page.text_fit(MARGIN + 1.5, y + 3.0, MED_COL - 3.0, 7.0, Weight::Bold, BLACK, "Medication · dose · route");
        page.text_fit(MARGIN + 1.5, y + 6.0, MED_COL - 3.0, 6.0, Weight::Regular, BLACK, &period);
        for (k, hour) in sheet.hours.iter().enumerate() {
            let x = MARGIN + MED_COL + k as f32 * hour_w;
            // Midnight gets a heavier rule: the day changes there.
            let rule = if hour.hour() == 0 && k > 0 { 1.0 } else { 0.3 };
            page.line(x, y, x, y + MAR_HEAD, rule, BLACK);
            page.text_centre(x + hour_w / 2.0, y + 4.8, 8.0, Weight::Bold, BLACK, &format!("{:02}", hour.hour()));
        }
    };
    let draw_row = |page: &mut Page, y: f32, r: &Row| {
        for (k, due) in r.cells.iter().enumerate() {
            let Some(first) = due.first() else { continue };
            let x = MARGIN + MED_COL + k as f32 * hour_w;
            page.rect(x, y, hour_w, MAR_ROW - NOTE_BAND, Some(DUE_SHADE), None);
            let at = first.at.as_deref().map(clock_time).unwrap_or_default();
            let more = if due.len() > 1 { format!("+{}", due.len() - 1) } else { String::new() };
            page.text_centre(x + hour_w / 2.0, y + 3.2, 6.5, Weight::Bold, BLACK, &format!("{at}{more}"));
            let (state, colour) = match first.status {
                DueStatus::Given => ("given", BLACK),
                DueStatus::NotGiven => ("not given", RED),
                DueStatus::Due => ("DUE", BLACK),
                DueStatus::Overdue => ("LATE", RED),
                DueStatus::Scheduled | DueStatus::Prn => ("", BLACK),
            };
            if !state.is_empty() {
                page.text_centre(x + hour_w / 2.0, y + 6.2, 5.5, Weight::Bold, colour, state);
            }
            if let Some(g) = &first.given_at {
                page.text_centre(x + hour_w / 2.0, y + 9.4, 6.0, Weight::Regular, colour, &clock_time(g));
            }
        }
        page.rect(MARGIN, y, right - MARGIN, MAR_ROW, None, Some((0.3, BLACK)));
        let lines = page.wrap(&r.name, 8.5, Weight::Bold, MED_COL - 3.0, 2);
        for (i, l) in lines.iter().enumerate() {
            page.text(MARGIN + 1.5, y + 3.6 + i as f32 * 3.3, 8.5, Weight::Bold, BLACK, l);
        }
        page.text_fit(MARGIN + 1.5, y + 9.8, MED_COL - 3.0, 7.0, Weight::Regular, GREY, &r.detail);
        let note_colour = if r.note.starts_with("OVERDUE") { RED } else { BLACK };
        page.text_fit(
            MARGIN + 1.5,
            y + MAR_ROW - 1.5,
            right - MARGIN - 3.0,
            7.0,
            Weight::Regular,
            note_colour,
            &r.note,
        );
        for (k, hour) in sheet.hours.iter().enumerate() {
            let x = MARGIN + MED_COL + k as f32 * hour_w;
            let rule = if hour.hour() == 0 && k > 0 { 0.8 } else { 0.25 };
            page.line(x, y, x, y + MAR_ROW - NOTE_BAND, rule, GREY);
        }
        if let Some((text, colour)) = &r.across {
            let x = MARGIN + MED_COL + 2.0;
            page.text_fit(x, y + 6.3, right - x - 2.0, 9.0, Weight::Bold, *colour, text);
        }
    };

    draw_allergies(&mut page);
    let mut y = top + 12.0;
    draw_head(&mut page, y);
    y += MAR_HEAD;
    let empty = |name: String, detail: &str| Row {
        name,
        detail: detail.to_string(),
        note: String::new(),
        across: None,
        cells: Vec::new(),
    };
    let mut rows: Vec<Row> = sheet.orders.iter().map(|o| row(o, &sheet.hours)).collect();
    if rows.is_empty() {
        rows.push(empty("No active medications in the census snapshot".into(), ""));
    }
    if !sheet.unmatched.is_empty() {
        let mut r = empty("Charted without a matching order".into(), "Check these doses against the orders");
        r.note = sheet
            .unmatched
            .iter()
            .map(|d| format!("{} {}", if d.given { "given" } else { "not given" }, day_time(&d.at)))
            .collect::<Vec<_>>()
            .join(" · ");
        rows.push(r);
    }
    for _ in 0..NEW_ORDER_ROWS {
        rows.push(empty(String::new(), "New or verbal order: medication, dose, route, prescriber"));
    }
    for r in &rows {
        if y + MAR_ROW > bottom {
            pages.push(std::mem::replace(&mut page, a4(true)?));
            draw_allergies(&mut page);
            y = top + 12.0;
            draw_head(&mut page, y);
            y += MAR_HEAD;
        }
        draw_row(&mut page, y, r);
        y += MAR_ROW;
    }
    // Who the initials in the grid belong to.
    let legend_y = body_bottom(h) - 11.0;
    page.text(
        MARGIN,
        legend_y + 1.0,
        8.0,
        Weight::Bold,
        BLACK,
        "Initials, signature and printed name of everyone who charts on this MAR",
    );
    let col = (right - MARGIN) / 3.0;
    for i in 0..3 {
        let x = MARGIN + i as f32 * col;
        page.line(x, legend_y + 9.0, x + col - 6.0, legend_y + 9.0, 0.35, BLACK);
        page.text(x, legend_y + 11.5, 6.5, Weight::Regular, GREY, "Initials · signature · printed name");
    }
    pages.push(page);
    Ok(pages)
}
