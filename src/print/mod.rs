//! Paper for when the workstations fail too (docs/design.md "Printing"): blank forms with the patient's header, filled entries,
//! the downtime MAR and the unit census sheet, as PDF bytes. Pure layout: values in, bytes out; no clock, no files.
//!
//! Every page carries the frame a nurse and HIM rely on: patient name, date of birth, MRN and location (or an empty
//! label area), a Code 128 barcode of the MRN, a QR code with the [`crate::paper::Payload`] that lets HIM match the
//! sheet back, "Page x of y" (counted per patient for batches), the unit, who printed it and when, and DRILL on
//! every page of a practice episode. Reading a scanned page back is [`read`].

mod canvas;
mod codes;
mod contacts;
mod fonts;
mod handover;
mod layout;
pub(crate) use layout::answer_text;
mod mar_grid;
pub use mar_grid::MarSheet;
mod page;
pub mod read;
mod reports;
mod scenario;
pub use reports::UpdateSheet;
mod sheets;

use time::OffsetDateTime;

use crate::census::PatientRecord;
use crate::entries::{Detail, PatientHeader};
use crate::forms::Form;
use crate::paper::Payload;

use canvas::{Page, Rgba, BLACK, GREY, RED, WATERMARK, WHITE};
use fonts::Weight;
pub use page::{short_name, PrintError};
use page::{A4_LONG, A4_SHORT, MARGIN};

/// The `form` a MAR page's QR code names (not a Questionnaire: HIM back-enters a MAR page dose by dose).
pub use crate::paper::MAR_FORM;
use crate::paper::SHEET_BASE;
/// The `form` a census sheet's QR code names.
pub const CENSUS_FORM: &str = "http://downtimekit.example.org/print/census-sheet|1";
/// The `form` the reconciliation report's QR code names.
pub const RECONCILIATION_REPORT_FORM: &str = "http://downtimekit.example.org/print/reconciliation-report|1";
/// The `form` the drill report's QR code names.
pub const DRILL_REPORT_FORM: &str = "http://downtimekit.example.org/print/drill-report|1";
/// The `form` the review of an episode's QR code names.
pub const REVIEW_FORM: &str = "http://downtimekit.example.org/print/episode-review|1";
/// The `form` a handover sheet's QR code names.
pub const HANDOVER_FORM: &str = "http://downtimekit.example.org/print/handover-sheet|1";
/// The `form` a printed status update's QR code names.
pub const STATUS_UPDATE_FORM: &str = "http://downtimekit.example.org/print/status-update|1";

/// The `form` a contact sheet's QR code names.
pub const CONTACT_SHEET_FORM: &str = "http://downtimekit.example.org/print/contact-sheet|1";

/// Side of the QR symbol without its quiet zone: large enough to decode from a 150 dpi scan.
const QR_SIZE: f32 = 34.0;

/// Who printed, where and when, and in which episode; the same on every page of one print.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    pub unit: String,
    /// The signed-in user's display name and username, as it should appear on paper.
    pub printed_by: String,
    pub printed_at: OffsetDateTime,
    /// The downtime episode the paper belongs to, if one is open (blank forms may be printed ahead of time).
    pub episode: Option<String>,
    /// A practice episode: every page is marked DRILL.
    pub drill: bool,
    /// The workstation that printed, carried in the QR code so HIM can tell whose paper it is when that
    /// workstation's handoff file never arrives.
    pub workstation: Option<String>,
    /// The vault's audit chain head when printed, short form (`512·3fa2c1d0`, see `audit::printed_mark`): any page
    /// can later be compared with the vault (`dtk verify --page`) to catch a vault rolled back or replaced since.
    /// Empty on paper not printed from a vault.
    pub record: String,
}

/// The patient identification printed on every page.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// "FAMILY, Given" as wristbands show it.
    pub name: String,
    pub birth_date: Option<String>,
    pub mrn_system: String,
    pub mrn: String,
    pub location: Option<String>,
}

impl From<&PatientRecord> for Label {
    fn from(p: &PatientRecord) -> Self {
        Label {
            name: p.display_name(),
            birth_date: p.birth_date.clone(),
            mrn_system: p.mrn_system.clone(),
            mrn: p.mrn.clone(),
            location: p.location.clone(),
        }
    }
}

impl From<&PatientHeader> for Label {
    fn from(p: &PatientHeader) -> Self {
        Label {
            name: p.name.clone(),
            birth_date: p.birth_date.clone(),
            mrn_system: p.mrn_system.clone(),
            mrn: p.mrn.clone(),
            location: p.location.clone(),
        }
    }
}

/// How far a batch has got, for the print centre's progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// A finished document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdf {
    pub bytes: Vec<u8>,
    pub pages: usize,
}

/// Blank copies of `form`: one unlabelled copy when `patients` is empty, else one copy per patient with their
/// header, in one PDF. `progress` is called after each patient.
pub fn blank_forms(
    form: &Form,
    patients: &[Label],
    stamp: &Stamp,
    progress: &mut dyn FnMut(Progress),
) -> Result<Pdf, PrintError> {
    let rows = layout::blank_rows(form, A4_SHORT - 2.0 * MARGIN)?;
    let mut pages = Vec::new();
    let targets: Vec<Option<&Label>> =
        if patients.is_empty() { vec![None] } else { patients.iter().map(Some).collect() };
    let total = targets.len();
    for (i, label) in targets.into_iter().enumerate() {
        let frame = Frame {
            title: &form.title,
            subtitle: format!("Downtime paper form · {} · version {}", short_name(&form.url), form.version),
            label,
            payload: payload(&form.canonical(), label, stamp),
            stamp,
            banner: None,
        };
        pages.extend(frame.apply(layout::paginate(&rows, A4_SHORT, A4_LONG, 0.0)?)?);
        progress(Progress { done: i + 1, total });
    }
    finish(&form.title, pages)
}

/// A filled entry: every answer of its current version, its metadata and version history, and a signature line.
/// Amended and entered-in-error entries are marked on every page.
pub fn entry(form: &Form, detail: &Detail, stamp: &Stamp) -> Result<Pdf, PrintError> {
    let summary = &detail.summary;
    let current = detail
        .versions
        .iter()
        .find(|v| v.version == summary.version)
        .or(detail.versions.last())
        .ok_or(PrintError::Empty("the entry has no version"))?;
    let label = Label::from(&current.body.patient);
    let mut p = payload(&summary.form, Some(&label), stamp);
    p.episode = Some(summary.episode_id.clone());
    p.entry = Some(summary.id.clone());
    p.version = Some(current.version);
    p.hash = Some(current.content_hash.chars().take(16).collect());
    let banner = match summary.status {
        crate::entries::Status::EnteredInError => Some((
            format!(
                "ENTERED IN ERROR — do not act on this entry{}",
                current.body.reason.as_deref().map(|r| format!(" (reason: {r})")).unwrap_or_default()
            ),
            RED,
        )),
        crate::entries::Status::Amended => Some((
            format!(
                "AMENDED — version {} replaces earlier versions{}",
                current.version,
                current.body.reason.as_deref().map(|r| format!(" (reason: {r})")).unwrap_or_default()
            ),
            BLACK,
        )),
        crate::entries::Status::Draft => Some(("DRAFT — not signed".to_string(), BLACK)),
        crate::entries::Status::Signed => None,
    };
    let rows = layout::entry_rows(form, detail, current, A4_SHORT - 2.0 * MARGIN)?;
    let extra = if banner.is_some() { 9.0 } else { 0.0 };
    let frame = Frame {
        title: &form.title,
        subtitle: format!("Filled entry · {} · version {} · {}", summary.id, current.version, summary.status.as_str()),
        label: Some(&label),
        payload: p,
        stamp,
        banner,
    };
    let pages = frame.apply(layout::paginate(&rows, A4_SHORT, A4_LONG, extra)?)?;
    finish(&form.title, pages)
}

/// The downtime MAR: for each patient, their orders against a grid of the next 24 hours with the hours a dose is due
/// shaded (the schedule of [`crate::mar`]), PRN and "see order" orders in words, the doses already given, blank rows
/// for new orders, and the allergies in a box that cannot be missed.
pub fn mar(sheets: &[MarSheet], stamp: &Stamp, progress: &mut dyn FnMut(Progress)) -> Result<Pdf, PrintError> {
    if sheets.is_empty() {
        return Err(PrintError::Empty("the census has no patients"));
    }
    let total = sheets.len();
    let mut pages = Vec::new();
    for (i, sheet) in sheets.iter().enumerate() {
        let label = &Label::from(sheet.record);
        let body = mar_grid::mar_pages(sheet)?;
        let frame = Frame {
            title: "Downtime medication administration record (MAR)",
            subtitle:
                "Shaded box: a dose is due in that hour (due time printed in it) · initial each dose in the hour \
                       given"
                    .into(),
            label: Some(label),
            payload: payload(MAR_FORM, Some(label), stamp),
            stamp,
            banner: None,
        };
        pages.extend(frame.apply(body)?);
        progress(Progress { done: i + 1, total });
    }
    finish("Downtime MAR", pages)
}

/// The shift handover sheet of one patient: last vitals, doses given and due, notes, unsigned entries; the patient's
/// label (name, MRN, barcode) on every page.
pub fn handover(sheet: &crate::handover::Handover, stamp: &Stamp) -> Result<Pdf, PrintError> {
    let label = Label {
        name: sheet.name.clone(),
        birth_date: sheet.birth_date.clone(),
        mrn_system: sheet.mrn_system.clone(),
        mrn: sheet.mrn.clone(),
        location: sheet.location.clone(),
    };
    let stamp = Stamp { episode: Some(sheet.episode_id.clone()), drill: stamp.drill || sheet.drill, ..stamp.clone() };
    let frame = Frame {
        title: "Shift handover",
        subtitle: format!("Handover sheet · {} · MRN {}", sheet.name, sheet.mrn),
        label: Some(&label),
        payload: payload(HANDOVER_FORM, Some(&label), &stamp),
        stamp: &stamp,
        banner: None,
    };
    finish("Shift handover", frame.apply(handover::pages(sheet)?)?)
}

/// The unit census sheet: one row per patient with location, name, date of birth, MRN and its barcode, allergies.
pub fn census_sheet(records: &[PatientRecord], snapshot_time: Option<&str>, stamp: &Stamp) -> Result<Pdf, PrintError> {
    if records.is_empty() {
        return Err(PrintError::Empty("the census has no patients"));
    }
    let body = sheets::census_pages(records)?;
    let frame = Frame {
        title: "Unit census",
        subtitle: format!(
            "{} patients · census snapshot taken {}",
            records.len(),
            snapshot_time.unwrap_or("(time not recorded)")
        ),
        label: None,
        payload: payload(CENSUS_FORM, None, stamp),
        stamp,
        banner: None,
    };
    let pages = frame.apply_unit(body)?;
    finish("Unit census", pages)
}

/// The HIM reconciliation report: counts per disposition, per workstation and per form, every rejected or duplicate
/// entry with its reason, the batch and file hashes, and each episode's timeline and metrics.
pub fn reconciliation_report(report: &crate::reconcile::Report, stamp: &Stamp) -> Result<Pdf, PrintError> {
    let body = reports::reconciliation(report)?;
    let frame = Frame {
        title: "Reconciliation report",
        subtitle: format!(
            "{} entries · {} still open · {} export batch(es) · {} handoff file(s)",
            report.summary.total,
            report.summary.open,
            report.batches.len(),
            report.files.len()
        ),
        label: None,
        payload: payload(RECONCILIATION_REPORT_FORM, None, stamp),
        stamp,
        banner: None,
    };
    finish("Reconciliation report", frame.apply_unit(body)?)
}

/// The drill report of a practice episode: its timeline, each checklist step and when it was done, time to the
/// first electronic entry, entries per user, forms printed and what was missed, and with `scenario` the drill's
/// score against its tabletop scenario. Every page is marked DRILL,
/// whatever the stamp says.
pub fn drill_report(
    episode: &crate::episodes::Episode,
    timeline: &crate::procedures::Timeline,
    checklist_title: &str,
    scenario: Option<&crate::scenario::DrillScore>,
    stamp: &Stamp,
) -> Result<Pdf, PrintError> {
    let stamp = Stamp { drill: true, episode: Some(episode.id.clone()), ..stamp.clone() };
    let body = reports::drill(episode, timeline, checklist_title, scenario)?;
    let frame = Frame {
        title: "Drill report",
        subtitle: format!(
            "Practice episode declared {} · {}",
            reports_when(&episode.started_at),
            match &episode.ended_at {
                Some(e) => format!("ended {}", reports_when(e)),
                None => "still open".into(),
            }
        ),
        label: None,
        payload: payload(DRILL_REPORT_FORM, None, &stamp),
        stamp: &stamp,
        banner: None,
    };
    finish("Drill report", frame.apply_unit(body)?)
}

/// The review of an episode, real or drill (issue 21 item 6): the declaration, the charge nurse's clinical impact
/// and follow-up actions, then the timeline, response targets, decisions, checklist with times, entries per user
/// and per hour, and what was missed. A drill's review is marked DRILL on every page.
pub fn episode_review(
    episode: &crate::episodes::Episode,
    timeline: &crate::procedures::Timeline,
    checklist_title: &str,
    stamp: &Stamp,
) -> Result<Pdf, PrintError> {
    let drill = episode.kind == crate::episodes::Kind::Drill;
    let stamp = Stamp { drill, episode: Some(episode.id.clone()), ..stamp.clone() };
    let mut f = reports::Flow::new()?;
    if drill {
        f.banner("DRILL — practice episode; nothing in it is part of the patient record", RED)?;
    }
    if timeline.ended_at.is_none() {
        f.banner("The episode is still open: this is an interim review", BLACK)?;
    }
    f.para(
        "A blameless review: what happened to the unit and to care, what worked and what to change; not who is to \
         blame. It names no patient; entries are named by id.",
        8.5,
        fonts::Weight::Regular,
        GREY,
    )?;
    reports::declaration(&mut f, episode)?;
    reports::review_section(&mut f, timeline.review.as_ref())?;
    reports::episode_body(&mut f, timeline, checklist_title, None)?;
    let title = if drill { "Drill review" } else { "Downtime review" };
    let frame = Frame {
        title,
        subtitle: format!(
            "{} declared {} · {}",
            if drill { "Practice episode" } else { "Downtime" },
            reports_when(&episode.started_at),
            match &episode.ended_at {
                Some(e) => format!("ended {}", reports_when(e)),
                None => "still open".into(),
            }
        ),
        label: None,
        payload: payload(REVIEW_FORM, None, &stamp),
        stamp: &stamp,
        banner: None,
    };
    finish(title, frame.apply_unit(f.finish())?)
}

/// A status update for leaders, as the charge nurse kept it: the episode's severity, affected systems and impact in
/// a header table, then the text as written. A drill's update is marked DRILL on every page.
pub fn status_update(
    episode: &crate::episodes::Episode,
    update: &reports::UpdateSheet<'_>,
    stamp: &Stamp,
) -> Result<Pdf, PrintError> {
    let stamp = Stamp { episode: Some(episode.id.clone()), ..stamp.clone() };
    let body = reports::status_update(episode, update)?;
    let frame = Frame {
        title: "Downtime status update",
        subtitle: format!("Kept {} by {}", reports_when(update.kept_at), update.kept_by),
        label: None,
        payload: payload(STATUS_UPDATE_FORM, None, &stamp),
        stamp: &stamp,
        banner: None,
    };
    finish("Downtime status update", frame.apply_unit(body)?)
}

/// The contact sheet of the site's escalation ladder: every level in order with its contacts' phone numbers in large
/// type, when to go on to the next level, which outages a level is for; the unit and when it was printed in the frame.
pub fn contact_sheet(file: &crate::escalation::Escalation, stamp: &Stamp) -> Result<Pdf, PrintError> {
    let frame = Frame {
        title: "Escalation contacts",
        subtitle: format!("{} · version {}", file.title, file.version),
        label: None,
        payload: payload(CONTACT_SHEET_FORM, None, stamp),
        stamp,
        banner: None,
    };
    finish("Escalation contacts", frame.apply_unit(contacts::pages(file)?)?)
}

fn reports_when(stamp: &str) -> String {
    crate::clock::parse_stamp(stamp).map(when).unwrap_or_else(|| stamp.to_string())
}

fn finish(title: &str, pages: Vec<Page>) -> Result<Pdf, PrintError> {
    let count = pages.len();
    Ok(Pdf { bytes: canvas::render(title, pages)?, pages: count })
}

fn payload(form: &str, label: Option<&Label>, stamp: &Stamp) -> Payload {
    Payload {
        form: form.to_string(),
        mrn_system: label.map(|l| l.mrn_system.clone()),
        mrn: label.map(|l| l.mrn.clone()),
        episode: stamp.episode.clone(),
        entry: None,
        version: None,
        hash: None,
        unit: Some(stamp.unit.clone()),
        workstation: stamp.workstation.clone(),
        printed_at: Some(qr_time(stamp.printed_at)),
        drill: stamp.drill,
    }
}

/// When a page was printed, to the minute (RFC 3339), as its QR code carries it.
fn qr_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:00Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// The frame around the body of every page of one document (one patient's copy).
struct Frame<'a> {
    title: &'a str,
    subtitle: String,
    label: Option<&'a Label>,
    payload: Payload,
    stamp: &'a Stamp,
    /// A status line under the header (amended, entered in error, draft).
    banner: Option<(String, Rgba)>,
}

impl Frame<'_> {
    /// Draws the frame on each page, numbering them "Page x of y".
    fn apply(&self, mut pages: Vec<Page>) -> Result<Vec<Page>, PrintError> {
        let of = pages.len();
        let code = codes::qr_code(&self.payload.to_text())?;
        for (i, page) in pages.iter_mut().enumerate() {
            self.draw(page, i + 1, of, &code);
        }
        Ok(pages)
    }

    /// As [`Frame::apply`], for unit-wide sheets: a unit box instead of a patient label.
    fn apply_unit(&self, pages: Vec<Page>) -> Result<Vec<Page>, PrintError> {
        self.apply(pages)
    }

    fn draw(&self, page: &mut Page, n: usize, of: usize, code: &codes::Qr) {
        let (w, h) = (page.width, page.height);
        let body = std::mem::take(&mut page.marks);
        if self.stamp.drill {
            page.text_centre(w / 2.0, h / 2.0 + 20.0, 110.0, Weight::Bold, WATERMARK, "DRILL");
        }
        if matches!(&self.banner, Some((_, c)) if *c == RED) {
            page.text_centre(w / 2.0, h / 2.0 + 50.0, 44.0, Weight::Bold, WATERMARK, "ENTERED IN ERROR");
        }
        page.marks.extend(body);

        // Top band: what this paper is, for which unit, and DRILL when it is practice.
        let band = if self.stamp.drill { RED } else { BLACK };
        page.rect(0.0, 0.0, w, 11.0, Some(band), None);
        let band_text = if self.stamp.drill {
            format!("DRILL · PRACTICE ONLY, NOT PART OF THE RECORD · {}", self.stamp.unit)
        } else {
            format!("EHR DOWNTIME · {}", self.stamp.unit)
        };
        page.text_fit(MARGIN, 7.6, w - 2.0 * MARGIN - 30.0, 11.0, Weight::Bold, WHITE, &band_text);
        page.text_right(w - MARGIN, 7.6, 11.0, Weight::Bold, WHITE, &format!("Page {n} of {of}"));

        let qr_x = w - MARGIN - QR_SIZE;
        let label_w = qr_x - 5.0 - MARGIN;
        page.text_fit(MARGIN, 18.5, label_w, 14.0, Weight::Bold, BLACK, self.title);
        page.text_fit(MARGIN, 23.5, label_w, 8.0, Weight::Regular, GREY, &self.subtitle);

        // Patient label area (or an empty one to write in or stick a label on).
        let (lx, ly, lh) = (MARGIN, 26.5, 32.0);
        page.rect(lx, ly, label_w, lh, None, Some((0.5, BLACK)));
        let inner = label_w - 6.0;
        match self.label {
            Some(l) => {
                // A long name gets a smaller size and a third line before anything is cut.
                let mut lines = page.wrap(&l.name, 12.0, Weight::Bold, inner, 2);
                let (mut size, mut step, mut y) = (12.0, 5.0, ly + 5.8);
                if lines.last().is_some_and(|l| l.ends_with('…')) {
                    lines = page.wrap(&l.name, 9.5, Weight::Bold, inner, 3);
                    (size, step, y) = (9.5, 3.9, ly + 4.6);
                }
                for line in &lines {
                    page.text(lx + 3.0, y, size, Weight::Bold, BLACK, line);
                    y += step;
                }
                let y = ly + 16.0;
                let ids = format!("DOB {}    MRN {}", l.birth_date.as_deref().unwrap_or("unknown"), l.mrn);
                page.text_fit(lx + 3.0, y, inner, 10.0, Weight::Bold, BLACK, &ids);
                let loc = format!("Location {}", l.location.as_deref().unwrap_or("—"));
                page.text_fit(lx + 3.0, y + 4.6, inner, 8.5, Weight::Regular, BLACK, &loc);
                if codes::barcode(page, lx + 1.0, ly + lh - 9.5, inner.min(95.0), 8.0, &l.mrn).is_none() {
                    page.text(lx + 3.0, ly + lh - 4.0, 7.0, Weight::Regular, GREY, "(this MRN cannot be barcoded)");
                }
            }
            // The unit's own sheets and reports (not a form about one patient): a unit box, no label to fill.
            None if self.payload.form.starts_with(SHEET_BASE) => {
                page.text(lx + 3.0, ly + 7.0, 12.0, Weight::Bold, BLACK, &format!("Unit {}", self.stamp.unit));
                page.text_fit(lx + 3.0, ly + 13.0, inner, 9.0, Weight::Regular, BLACK, &self.subtitle);
                let hint = match self.payload.form.as_str() {
                    CENSUS_FORM => {
                        "Each row's barcode is the patient's MRN. Check name, date of birth and MRN together."
                    }
                    STATUS_UPDATE_FORM => "For unit and hospital leaders: no patient is identified on these pages.",
                    REVIEW_FORM => "A blameless review for the unit and its leaders: it names no patient.",
                    _ => "A unit report: entries are named by id; no patient is identified on these pages.",
                };
                page.text_fit(lx + 3.0, ly + 19.0, inner, 8.5, Weight::Regular, GREY, hint);
            }
            None => {
                page.text(
                    lx + 3.0,
                    ly + 4.5,
                    7.0,
                    Weight::Regular,
                    GREY,
                    "Write the patient's details or affix a label",
                );
                for (i, field) in ["Name", "DOB", "MRN", "Location"].iter().enumerate() {
                    let y = ly + 11.0 + i as f32 * 6.5;
                    page.text(lx + 3.0, y, 9.0, Weight::Bold, BLACK, field);
                    page.line(lx + 22.0, y + 0.8, lx + label_w - 4.0, y + 0.8, 0.3, GREY);
                }
            }
        }

        codes::qr(page, qr_x, 13.5, QR_SIZE, code);
        page.text_centre(
            qr_x + QR_SIZE / 2.0,
            13.5 + QR_SIZE + 3.0,
            6.0,
            Weight::Regular,
            GREY,
            "Downtime Kit page code",
        );

        if let Some((text, colour)) = &self.banner {
            page.rect(MARGIN, 61.0, w - 2.0 * MARGIN, 7.5, Some(*colour), None);
            page.text_fit(MARGIN + 2.0, 66.2, w - 2.0 * MARGIN - 4.0, 10.0, Weight::Bold, WHITE, text);
        }
        page.line(MARGIN, 62.0 - 1.5, w - MARGIN, 62.0 - 1.5, 0.6, BLACK);

        // Footer: numbering, who printed it and when, the episode and the form's identity.
        let fy = h - 13.0;
        page.line(MARGIN, fy, w - MARGIN, fy, 0.4, BLACK);
        let by =
            format!("{} · printed by {} · {}", self.stamp.unit, self.stamp.printed_by, when(self.stamp.printed_at));
        page.text_fit(MARGIN, fy + 4.5, w - 2.0 * MARGIN - 40.0, 8.0, Weight::Regular, BLACK, &by);
        page.text_right(w - MARGIN, fy + 4.5, 10.0, Weight::Bold, BLACK, &format!("Page {n} of {of}"));
        let mut ident = match &self.payload.episode {
            Some(e) => format!("Episode {e}"),
            None => "No downtime episode open when printed".to_string(),
        };
        if let Some(entry) = &self.payload.entry {
            ident.push_str(&format!(" · entry {entry}"));
        }
        if !self.stamp.record.is_empty() {
            ident.push_str(&format!(" · record {}", self.stamp.record));
        }
        // The short name and version; the QR code carries the full canonical url.
        let (url, version) = self.payload.form.split_once('|').unwrap_or((&self.payload.form, ""));
        ident.push_str(&format!(
            " · form {}{}",
            short_name(url),
            if version.is_empty() { String::new() } else { format!(" version {version}") }
        ));
        page.text_fit(MARGIN, fy + 8.5, w - 2.0 * MARGIN - 20.0, 6.5, Weight::Regular, GREY, &ident);
        if self.stamp.drill {
            page.text_right(w - MARGIN, fy + 8.5, 7.5, Weight::Bold, RED, "DRILL");
        }
    }
}
