//! The unit census sheet (one row per patient), from the census snapshot rather than a form: a table on landscape A4
//! whose header row repeats on every page. (The downtime MAR, which also comes from the census, is `mar_grid.rs`.)

use super::canvas::{a4, Page, BLACK, GREY, LIGHT, PALE, RED};
use super::codes;
use super::fonts::Weight;
use super::page::{body_bottom, body_top, PrintError, MARGIN};
use crate::census::PatientRecord;

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
