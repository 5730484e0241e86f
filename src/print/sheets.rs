//! The two unit sheets that come from the census snapshot rather than a form: the downtime MAR (one patient's active
//! medications against a 24-hour grid) and the census sheet (one row per patient). Both are tables on landscape A4
//! whose header row repeats on every page.

use super::canvas::{a4, Page, BLACK, GREY, LIGHT, PALE, RED};
use super::codes;
use super::fonts::Weight;
use super::page::{body_bottom, body_top, PrintError, MARGIN};
use crate::census::PatientRecord;

const MED_COL: f32 = 78.0;
const MAR_ROW: f32 = 13.0;
const MAR_HEAD: f32 = 7.0;
/// Blank rows for orders given during the downtime.
const NEW_ORDER_ROWS: usize = 3;

/// The MAR body pages of one patient (the frame is added by the caller).
pub(crate) fn mar_pages(record: &PatientRecord) -> Result<Vec<Page>, PrintError> {
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
    let hour_w = (right - MARGIN - MED_COL) / 24.0;
    let draw_head = |page: &mut Page, y: f32| {
        page.rect(MARGIN, y, right - MARGIN, MAR_HEAD, Some(LIGHT), Some((0.4, BLACK)));
        page.text(MARGIN + 1.5, y + 4.8, 8.5, Weight::Bold, BLACK, "Medication · dose · route     Date: ____________");
        for hour in 0..24 {
            let x = MARGIN + MED_COL + hour as f32 * hour_w;
            page.line(x, y, x, y + MAR_HEAD, 0.3, BLACK);
            page.text_centre(x + hour_w / 2.0, y + 4.8, 8.0, Weight::Bold, BLACK, &format!("{hour:02}"));
        }
    };
    let draw_row = |page: &mut Page, y: f32, name: &str, detail: &str, shaded: bool| {
        if shaded {
            page.rect(MARGIN, y, right - MARGIN, MAR_ROW, Some(PALE), None);
        }
        page.rect(MARGIN, y, right - MARGIN, MAR_ROW, None, Some((0.3, BLACK)));
        let lines = page.wrap(name, 9.0, Weight::Bold, MED_COL - 3.0, 2);
        for (i, l) in lines.iter().enumerate() {
            page.text(MARGIN + 1.5, y + 4.0 + i as f32 * 3.8, 9.0, Weight::Bold, BLACK, l);
        }
        page.text_fit(MARGIN + 1.5, y + MAR_ROW - 1.5, MED_COL - 3.0, 7.5, Weight::Regular, GREY, detail);
        for hour in 0..24 {
            let x = MARGIN + MED_COL + hour as f32 * hour_w;
            page.line(x, y, x, y + MAR_ROW, 0.25, GREY);
        }
    };

    draw_allergies(&mut page);
    let mut y = top + 12.0;
    draw_head(&mut page, y);
    y += MAR_HEAD;
    let mut rows: Vec<(String, String, bool)> = record
        .medications
        .iter()
        .map(|m| {
            let mut detail: Vec<String> = Vec::new();
            if let Some(d) = &m.dosage {
                detail.push(d.clone());
            }
            if let Some(r) = &m.route {
                detail.push(r.clone());
            }
            let name = if m.prn { format!("{} (PRN)", m.name) } else { m.name.clone() };
            (name, detail.join(" · "), true)
        })
        .collect();
    if rows.is_empty() {
        rows.push(("No active medications in the census snapshot".into(), String::new(), false));
    }
    for _ in 0..NEW_ORDER_ROWS {
        rows.push((String::new(), "New or verbal order: medication, dose, route, prescriber".into(), false));
    }
    for (name, detail, shaded) in rows {
        if y + MAR_ROW > bottom {
            pages.push(std::mem::replace(&mut page, a4(true)?));
            draw_allergies(&mut page);
            y = top + 12.0;
            draw_head(&mut page, y);
            y += MAR_HEAD;
        }
        draw_row(&mut page, y, &name, &detail, shaded);
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

const CENSUS_ROW: f32 = 15.0;
const CENSUS_HEAD: f32 = 7.0;

/// Columns of the census sheet: title and width.
const COLUMNS: [(&str, f32); 6] =
    [("Location", 30.0), ("Patient", 68.0), ("DOB · sex", 26.0), ("MRN", 50.0), ("Allergies", 62.0), ("Notes", 37.0)];

/// The census sheet body pages.
pub(crate) fn census_pages(records: &[PatientRecord]) -> Result<Vec<Page>, PrintError> {
    let mut pages = Vec::new();
    let mut page = a4(true)?;
    let (top, bottom) = (body_top(0.0), body_bottom(page.height));
    let right = page.width - MARGIN;
    let head = |page: &mut Page, y: f32| {
        page.rect(MARGIN, y, right - MARGIN, CENSUS_HEAD, Some(LIGHT), Some((0.4, BLACK)));
        let mut x = MARGIN;
        for (title, w) in COLUMNS {
            page.text(x + 1.5, y + 4.8, 8.5, Weight::Bold, BLACK, title);
            x += w;
        }
    };
    head(&mut page, top);
    let mut y = top + CENSUS_HEAD;
    for (i, p) in records.iter().enumerate() {
        if y + CENSUS_ROW > bottom {
            pages.push(std::mem::replace(&mut page, a4(true)?));
            head(&mut page, top);
            y = top + CENSUS_HEAD;
        }
        if i % 2 == 1 {
            page.rect(MARGIN, y, right - MARGIN, CENSUS_ROW, Some(PALE), None);
        }
        page.rect(MARGIN, y, right - MARGIN, CENSUS_ROW, None, Some((0.3, BLACK)));
        let mut x = MARGIN;
        let cell = |n: usize| COLUMNS[n].1 - 3.0;
        let loc = page.wrap(p.location.as_deref().unwrap_or("—"), 8.5, Weight::Regular, cell(0), 3);
        for (k, l) in loc.iter().enumerate() {
            page.text(x + 1.5, y + 4.5 + k as f32 * 3.6, 8.5, Weight::Regular, BLACK, l);
        }
        x += COLUMNS[0].1;
        let name = page.wrap(&p.display_name(), 9.5, Weight::Bold, cell(1), 3);
        for (k, l) in name.iter().enumerate() {
            page.text(x + 1.5, y + 4.6 + k as f32 * 4.0, 9.5, Weight::Bold, BLACK, l);
        }
        x += COLUMNS[1].1;
        page.text_fit(
            x + 1.5,
            y + 4.6,
            cell(2),
            9.0,
            Weight::Regular,
            BLACK,
            p.birth_date.as_deref().unwrap_or("unknown"),
        );
        page.text_fit(x + 1.5, y + 9.0, cell(2), 8.0, Weight::Regular, GREY, p.gender.as_deref().unwrap_or(""));
        x += COLUMNS[2].1;
        page.text_fit(x + 1.5, y + 4.0, cell(3), 9.0, Weight::Bold, BLACK, &p.mrn);
        if codes::barcode(&mut page, x + 0.5, y + 5.5, cell(3) + 2.0, 8.5, &p.mrn).is_none() {
            page.text(x + 1.5, y + 9.0, 7.0, Weight::Regular, GREY, "(no barcode)");
        }
        x += COLUMNS[3].1;
        let allergies = if p.allergies.is_empty() {
            "none recorded".to_string()
        } else {
            p.allergies.iter().map(|a| a.substance.as_str()).collect::<Vec<_>>().join(", ")
        };
        let colour = if p.allergies.is_empty() { GREY } else { RED };
        for (k, l) in page.wrap(&allergies, 8.5, Weight::Bold, cell(4), 3).iter().enumerate() {
            page.text(x + 1.5, y + 4.5 + k as f32 * 3.6, 8.5, Weight::Bold, colour, l);
        }
        x += COLUMNS[4].1;
        let meds = format!("{} active medication(s)", p.medications.len());
        page.text_fit(x + 1.5, y + 4.5, cell(5), 7.5, Weight::Regular, GREY, &meds);
        // Column rules.
        let mut cx = MARGIN;
        for (_, w) in &COLUMNS[..COLUMNS.len() - 1] {
            cx += w;
            page.line(cx, y, cx, y + CENSUS_ROW, 0.25, GREY);
        }
        y += CENSUS_ROW;
    }
    pages.push(page);
    Ok(pages)
}
