//! The contact sheet (issue 21 item 1): the escalation ladder on one portrait page inside the usual frame, level by
//! level, each contact with their phone numbers in large type (the phones work when the EHR does not), after how
//! many minutes without an acknowledgement to go on, and which outages a level is for.

use super::canvas::{a4, Page, BLACK, GREY, PALE};
use super::fonts::Weight;
use super::page::{body_bottom, body_top, PrintError, A4_SHORT, MARGIN};
use crate::escalation::Escalation;

/// Size of a phone number, in points: large enough to read at arm's length.
const PHONE_PT: f32 = 15.0;
const PHONE_STEP: f32 = 6.6;

struct Sheet {
    pages: Vec<Page>,
    page: Page,
    y: f32,
}

impl Sheet {
    fn need(&mut self, h: f32) -> Result<(), PrintError> {
        if body_bottom(self.page.height) - self.y < h {
            let next = a4(false)?;
            self.pages.push(std::mem::replace(&mut self.page, next));
            self.y = body_top(0.0);
        }
        Ok(())
    }
}

/// The sheet's body pages (the frame is added by the caller). One page for a ladder of the usual size; a longer
/// file goes on to a second page rather than being cut.
pub(crate) fn pages(file: &Escalation) -> Result<Vec<Page>, PrintError> {
    let width = A4_SHORT - 2.0 * MARGIN;
    let mut s = Sheet { pages: Vec::new(), page: a4(false)?, y: body_top(0.0) };
    let intro = "Call the first level. If nobody acknowledges within the minutes shown, call the next level. Record \
                 each call and acknowledgement (Charge desk, Escalation; or dtk episode called).";
    for line in s.page.wrap(intro, 8.5, Weight::Regular, width, 3) {
        s.y += 4.0;
        s.page.text(MARGIN, s.y, 8.5, Weight::Regular, BLACK, &line);
    }
    s.y += 2.0;
    let left = width * 0.46;
    let phone_x = MARGIN + left + 4.0;
    for (i, level) in file.ladder.iter().enumerate() {
        s.need(9.0 + 2.0 * PHONE_STEP)?;
        s.y += 2.0;
        s.page.rect(MARGIN, s.y, width, 7.0, Some(PALE), None);
        let next = match level.after_minutes {
            Some(m) if i + 1 < file.ladder.len() => format!("no answer in {m} min: next level"),
            Some(m) => format!("no answer in {m} min: tell the incident commander"),
            None => "last level".into(),
        };
        let what = format!(
            "{}. {} · {} · {}",
            i + 1,
            level.title(i + 1),
            level.applies_to().map_or_else(|| "every outage".to_string(), |a| format!("only {a}")),
            next
        );
        s.page.text_fit(MARGIN + 1.5, s.y + 5.0, width - 3.0, 10.0, Weight::Bold, BLACK, &what);
        s.y += 8.0;
        for id in &level.contacts {
            let Some(c) = file.contact(id) else { continue };
            let mut left_lines: Vec<(String, f32, Weight, super::canvas::Rgba)> = Vec::new();
            for l in s.page.wrap(&c.name, 11.0, Weight::Bold, left, 2) {
                left_lines.push((l, 11.0, Weight::Bold, BLACK));
            }
            let detail = [c.team.as_deref(), c.notes.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
            if !detail.is_empty() {
                for l in s.page.wrap(&detail, 7.5, Weight::Regular, left, 3) {
                    left_lines.push((l, 7.5, Weight::Regular, GREY));
                }
            }
            let left_h: f32 = left_lines.iter().map(|(_, size, _, _)| size * 0.42 + 0.6).sum();
            let phones_h = c.phones.len() as f32 * PHONE_STEP;
            let h = left_h.max(phones_h) + 1.5;
            s.need(h)?;
            let top = s.y;
            let mut y = top;
            for (text, size, weight, colour) in &left_lines {
                y += size * 0.42 + 0.6;
                s.page.text(MARGIN + 1.5, y, *size, *weight, *colour, text);
            }
            let mut y = top;
            for p in &c.phones {
                y += PHONE_STEP;
                s.page.text(phone_x, y, PHONE_PT, Weight::Bold, BLACK, p.number.trim());
                let label_x = phone_x + s.page.fonts().width(p.number.trim(), Weight::Bold, PHONE_PT).min(60.0) + 3.0;
                s.page.text_fit(label_x, y, MARGIN + width - label_x, 8.0, Weight::Regular, GREY, &p.label);
            }
            s.y = top + h;
            s.page.line(MARGIN, s.y, MARGIN + width, s.y, 0.2, super::canvas::LIGHT);
        }
    }
    s.pages.push(s.page);
    Ok(s.pages)
}
