//! Reports on paper: the HIM reconciliation report (issue 7 §5 with the episode timelines of issue 9 §5) and the
//! drill report (issue 9 §4). Both are flowing text and tables inside the usual page frame; values in, pages out.

use std::collections::BTreeMap;

use super::canvas::a4;
use super::canvas::{Page, Rgba, BLACK, GREY, LIGHT, PALE, RED};
use super::fonts::Weight;
use super::page::{body_bottom, body_top, PrintError, A4_SHORT, MARGIN};
use crate::episodes::Episode;
use crate::procedures::{Severity, Timeline};
use crate::reconcile::{Report, State};

/// Rows of a table cell are wrapped to at most this many lines (ids and reasons stay readable, never overflow).
const CELL_LINES: usize = 4;

/// Text and tables flowing down portrait pages, breaking where the room ends.
pub(crate) struct Flow {
    pages: Vec<Page>,
    page: Page,
    y: f32,
    width: f32,
}

impl Flow {
    pub(crate) fn new() -> Result<Flow, PrintError> {
        Ok(Flow { pages: Vec::new(), page: a4(false)?, y: body_top(0.0), width: A4_SHORT - 2.0 * MARGIN })
    }

    fn room(&self) -> f32 {
        body_bottom(self.page.height) - self.y
    }

    fn new_page(&mut self) -> Result<(), PrintError> {
        let next = a4(false)?;
        self.pages.push(std::mem::replace(&mut self.page, next));
        self.y = body_top(0.0);
        Ok(())
    }

    fn need(&mut self, h: f32) -> Result<(), PrintError> {
        if self.room() < h {
            self.new_page()?;
        }
        Ok(())
    }

    /// A section title, kept with at least a few lines of what follows it.
    pub(crate) fn heading(&mut self, text: &str) -> Result<(), PrintError> {
        // A title with room for a table header and a row or two under it.
        self.need(32.0)?;
        self.y += 6.0;
        self.page.text_fit(MARGIN, self.y, self.width, 12.0, Weight::Bold, BLACK, text);
        self.page.line(MARGIN, self.y + 1.6, MARGIN + self.width, self.y + 1.6, 0.5, BLACK);
        self.y += 6.0;
        Ok(())
    }

    /// A paragraph, wrapped to the page width.
    pub(crate) fn para(&mut self, text: &str, size: f32, weight: Weight, colour: Rgba) -> Result<(), PrintError> {
        let step = size * 0.45;
        for line in self.page.wrap(text, size, weight, self.width, usize::MAX) {
            self.need(step + 1.0)?;
            self.y += step;
            self.page.text(MARGIN, self.y, size, weight, colour, &line);
        }
        self.y += 1.5;
        Ok(())
    }

    /// A banner across the page (white bold text on a colour), for what must not be missed.
    pub(crate) fn banner(&mut self, text: &str, colour: Rgba) -> Result<(), PrintError> {
        self.need(10.0)?;
        self.page.rect(MARGIN, self.y + 1.0, self.width, 7.5, Some(colour), None);
        self.page.text_fit(
            MARGIN + 2.0,
            self.y + 6.3,
            self.width - 4.0,
            10.0,
            Weight::Bold,
            super::canvas::WHITE,
            text,
        );
        self.y += 10.0;
        Ok(())
    }

    /// A table: columns as (header, share of the width); each row's cells wrapped to a few lines. The header is
    /// repeated on every page the table continues on.
    pub(crate) fn table(&mut self, columns: &[(&str, f32)], rows: &[Vec<String>]) -> Result<(), PrintError> {
        const SIZE: f32 = 8.0;
        const STEP: f32 = 3.5;
        let total: f32 = columns.iter().map(|c| c.1).sum::<f32>().max(f32::EPSILON);
        let widths: Vec<f32> = columns.iter().map(|c| c.1 / total * self.width).collect();
        // Headers wrap to two lines rather than being cut ("needs correction" in a narrow count column).
        let titles: Vec<Vec<String>> = columns
            .iter()
            .zip(&widths)
            .map(|((title, _), w)| self.page.wrap(title, SIZE - 1.0, Weight::Bold, w - 2.4, 2))
            .collect();
        // A label/value table has no header row at all.
        let head_h = if columns.iter().all(|c| c.0.is_empty()) {
            0.0
        } else {
            titles.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * STEP + 2.0
        };
        let header = |f: &mut Flow| {
            if head_h == 0.0 {
                return;
            }
            f.page.rect(MARGIN, f.y, f.width, head_h, Some(LIGHT), None);
            let mut x = MARGIN;
            for (lines, w) in titles.iter().zip(&widths) {
                for (k, line) in lines.iter().enumerate() {
                    f.page.text(x + 1.2, f.y + 3.7 + k as f32 * STEP, SIZE - 1.0, Weight::Bold, BLACK, line);
                }
                x += w;
            }
            f.y += head_h;
        };
        let row_height = |f: &Flow, row: &[String]| {
            let lines = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| f.page.wrap(text, SIZE, Weight::Regular, w - 2.4, CELL_LINES).len())
                .max()
                .unwrap_or(1)
                .max(1);
            lines as f32 * STEP + 1.6
        };
        // The header never ends a page alone: it goes with the first row.
        let first = rows.first().map_or(STEP + 2.0, |r| row_height(self, r));
        self.need(head_h + first)?;
        header(self);
        if rows.is_empty() {
            self.page.text(MARGIN + 1.2, self.y + 3.9, SIZE, Weight::Regular, GREY, "(none)");
            self.y += 7.0;
            return Ok(());
        }
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| self.page.wrap(text, SIZE, Weight::Regular, w - 2.4, CELL_LINES))
                .collect();
            let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let h = lines as f32 * STEP + 1.6;
            if self.room() < h {
                self.new_page()?;
                header(self);
            }
            if i % 2 == 1 {
                self.page.rect(MARGIN, self.y, self.width, h, Some(PALE), None);
            }
            let mut x = MARGIN;
            for (cell, w) in cells.iter().zip(&widths) {
                for (k, line) in cell.iter().enumerate() {
                    self.page.text(x + 1.2, self.y + 3.2 + k as f32 * STEP, SIZE, Weight::Regular, BLACK, line);
                }
                x += w;
            }
            self.y += h;
            self.page.line(MARGIN, self.y, MARGIN + self.width, self.y, 0.2, GREY);
        }
        self.y += 3.0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Vec<Page> {
        self.pages.push(self.page);
        self.pages
    }
}

/// "2026-11-21 17:05 UTC" from a stored timestamp (shown as given when it is not one).
fn at(stamp: Option<&str>) -> String {
    match stamp {
        None => "—".into(),
        Some(s) => crate::clock::parse_stamp(s)
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                )
            })
            .unwrap_or_else(|| s.to_string()),
    }
}

/// "2 h 05 min" (or "45 min"); "—" when unknown.
fn minutes(m: Option<i64>) -> String {
    match m {
        None => "—".into(),
        Some(m) if m.abs() >= 60 => {
            format!("{}{} h {:02} min", if m < 0 { "-" } else { "" }, m.abs() / 60, m.abs() % 60)
        }
        Some(m) => format!("{m} min"),
    }
}

fn severity(s: Option<Severity>) -> String {
    s.map(|s| format!("{} ({})", s.code(), s.meaning())).unwrap_or_else(|| "not set".into())
}

/// The timeline and metrics of one episode (issue 9 §5), as label/value rows. A drill never reaches HIM, so its
/// rows stop at recovery.
/// The response targets as rows: what, severity, target, how long it took, when it was due, met or missed.
fn target_rows(t: &Timeline) -> Vec<Vec<String>> {
    t.targets
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                c.severity.code().into(),
                minutes(Some(c.target_minutes)),
                minutes(c.minutes),
                at(c.due_at.as_deref()),
                c.result(),
            ]
        })
        .collect()
}

fn timeline_rows(t: &Timeline) -> Vec<Vec<String>> {
    let mut rows = vec![
        vec!["Declared".into(), at(Some(&t.declared_at))],
        vec!["Severity at declaration".into(), severity(t.declared_severity)],
    ];
    for (when, s) in &t.escalations {
        rows.push(vec!["Severity changed".into(), format!("{} → {}", at(Some(when)), severity(Some(*s)))]);
    }
    for (role, a) in &t.roles {
        rows.push(vec![role.title().into(), format!("{} from {} (named by {})", a.name, at(Some(&a.at)), a.by)]);
    }
    for d in &t.decisions {
        rows.push(vec!["Decision".into(), format!("{} {} ({})", at(Some(&d.at)), d.text, d.by)]);
    }
    for c in &t.contacts {
        let what = if c.acknowledged { "Contact acknowledged" } else { "Contact called" };
        rows.push(vec![what.into(), format!("{} {} (recorded by {})", at(Some(&c.at)), c.name, c.by)]);
    }
    rows.extend([
        vec![
            "First electronic entry".into(),
            format!("{} ({} after declaration)", at(t.first_entry_at.as_deref()), minutes(t.minutes_to_first_entry)),
        ],
        vec!["Entries".into(), t.entries.to_string()],
        vec!["Entries per hour".into(), t.entries_per_hour.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())],
        vec![
            "Recovery (episode ended)".into(),
            match &t.ended_at {
                Some(e) => format!("{} (time to recovery {})", at(Some(e)), minutes(t.minutes_to_recovery)),
                None => "not yet: the episode is still open".into(),
            },
        ],
    ]);
    if !t.drill {
        rows.push(vec![
            "Handed off to HIM".into(),
            match &t.handoff_at {
                Some(h) => format!("{} ({} after recovery)", at(Some(h)), minutes(t.minutes_recovery_to_handoff)),
                None => "no handoff file yet".into(),
            },
        ]);
        rows.push(vec![
            "Fully reconciled".into(),
            match &t.reconciled_at {
                Some(r) => format!("{} ({} after recovery)", at(Some(r)), minutes(t.minutes_recovery_to_reconciled)),
                None => "not yet: entries are still open on the worklist".into(),
            },
        ]);
    }
    rows.extend([
        vec!["Status updates kept".into(), t.status_updates.to_string()],
        vec!["Forms and sheets printed".into(), t.forms_printed.to_string()],
    ]);
    rows
}

/// The charge nurse's review: the clinical impact in full (its own paragraphs), each follow-up action, who wrote it
/// and when; or, when none is written, who writes it and where.
pub(crate) fn review_section(f: &mut Flow, r: Option<&crate::review::WrittenReview>) -> Result<(), PrintError> {
    f.heading("Clinical impact and follow-up actions (the charge nurse's review)")?;
    let Some(r) = r else {
        return f.para(
            "Not written yet: the charge nurse writes it on the charge desk (Review) or with \
             `dtk episode review --impact TEXT --follow-up ACTION`.",
            9.0,
            Weight::Regular,
            GREY,
        );
    };
    f.para(
        &format!("Written by {} at {} (version {} of the review).", r.by, at(Some(&r.at)), r.versions),
        8.5,
        Weight::Regular,
        GREY,
    )?;
    f.para("Clinical impact", 9.5, Weight::Bold, BLACK)?;
    if r.review.impact.is_empty() {
        f.para("—", 9.0, Weight::Regular, BLACK)?;
    }
    for paragraph in r.review.impact.lines().filter(|l| !l.trim().is_empty()) {
        f.para(paragraph, 9.0, Weight::Regular, BLACK)?;
    }
    let rows: Vec<Vec<String>> =
        r.review.follow_ups.iter().enumerate().map(|(i, a)| vec![(i + 1).to_string(), a.clone()]).collect();
    f.table(&[("#", 0.3), ("follow-up action", 4.7)], &rows)
}

fn counts_table(
    f: &mut Flow,
    key: &str,
    map: &BTreeMap<String, BTreeMap<String, i64>>,
    short: bool,
) -> Result<(), PrintError> {
    // The two states after a post show as columns only when some entry is in them: ten count columns on a portrait
    // page would cut the headers of the usual eight ("Counts per disposition" always lists every state).
    let states: Vec<State> = State::ALL
        .into_iter()
        .filter(|s| {
            !matches!(s, State::Refused | State::EnteredByHand)
                || map.values().any(|c| c.get(s.as_str()).is_some_and(|n| *n > 0))
        })
        .collect();
    let mut cols: Vec<(&str, f32)> = vec![(key, 2.0)];
    cols.extend(states.iter().map(|s| match s {
        State::NeedsCorrection => ("needs correction", 1.0),
        State::EnteredByHand => ("by hand", 1.0),
        s => (s.as_str(), 1.0),
    }));
    cols.push(("total", 0.9));
    let rows: Vec<Vec<String>> = map
        .iter()
        .map(|(k, counts)| {
            let name =
                if short { super::page::short_name(k.split('|').next().unwrap_or(k)).to_string() } else { k.clone() };
            let mut row = vec![name];
            row.extend(states.iter().map(|s| counts.get(s.as_str()).copied().unwrap_or(0).to_string()));
            row.push(counts.values().sum::<i64>().to_string());
            row
        })
        .collect();
    f.table(&cols, &rows)
}

/// The reconciliation report's body: counts per disposition, per workstation and per form; every rejected,
/// duplicate, needs-correction or refused entry with its reason and every hand-entered one with who, when, where; the export batches with their hashes; what each
/// workstation left unsigned; the handoff files;
/// and each episode's timeline and metrics.
pub(crate) fn reconciliation(report: &Report) -> Result<Vec<Page>, PrintError> {
    let mut f = Flow::new()?;
    let s = &report.summary;
    if s.open > 0 {
        f.banner(&format!("{} entries are still open: this report is not final", s.open), RED)?;
    }
    f.heading("Counts per disposition")?;
    let rows: Vec<Vec<String>> = State::ALL
        .iter()
        .map(|st| vec![st.as_str().to_string(), s.by_state.get(st.as_str()).copied().unwrap_or(0).to_string()])
        .chain([
            vec!["total".into(), s.total.to_string()],
            vec!["still open".into(), s.open.to_string()],
            vec!["duplicate proposals to decide".into(), s.open_duplicate_proposals.to_string()],
            vec!["version conflicts".into(), s.conflicts.to_string()],
        ])
        .collect();
    f.table(&[("state", 3.0), ("entries", 1.0)], &rows)?;
    f.heading("Per workstation")?;
    counts_table(&mut f, "workstation", &report.per_workstation, false)?;
    f.heading("Per form")?;
    counts_table(&mut f, "form", &report.per_form, true)?;

    f.heading("Rejected, duplicate, needs-correction, refused and hand-entered entries")?;
    let rows: Vec<Vec<String>> = report
        .dispositions
        .iter()
        .map(|d| {
            let mut reason = match (&d.duplicate_of, &d.reason) {
                (Some(of), Some(r)) => format!("duplicate of {of}; {r}"),
                (Some(of), None) => format!("duplicate of {of}"),
                (None, Some(r)) => r.clone(),
                (None, None) => "—".into(),
            };
            if let Some(batch) = &d.batch_id {
                reason = format!("refused by the EHR (batch {batch}): {reason}");
            }
            if let Some(h) = &d.hand_entry {
                reason = format!("entered by hand in the EHR by {} at {}, {}; {reason}", h.by, h.at, h.place);
            }
            vec![
                d.entry_id.clone(),
                d.state.as_str().to_string(),
                super::page::short_name(d.form.split('|').next().unwrap_or(&d.form)).to_string(),
                reason,
                format!("{} {}", d.decided_by, at(Some(&d.decided_at))),
            ]
        })
        .collect();
    f.table(&[("entry", 2.6), ("state", 1.3), ("form", 1.6), ("reason", 3.2), ("decided by, at", 2.0)], &rows)?;

    if !report.paper.is_empty() {
        f.heading("Entries from paper")?;
        let rows: Vec<Vec<String>> = report
            .paper
            .iter()
            .map(|p| {
                vec![
                    p.entry_id.clone(),
                    p.state.as_str().to_string(),
                    super::page::short_name(p.form.split('|').next().unwrap_or(&p.form)).to_string(),
                    format!("from paper, page {}", p.page),
                ]
            })
            .collect();
        f.table(&[("entry", 2.6), ("state", 1.3), ("form", 1.6), ("from paper, page", 5.2)], &rows)?;
    }

    f.heading("FHIR export batches")?;
    let rows: Vec<Vec<String>> = report
        .batches
        .iter()
        .map(|b| {
            vec![
                b.id.clone(),
                format!("{} by {}", at(Some(&b.created_at)), b.created_by),
                b.entries.to_string(),
                format!("{} / {}", b.posted, b.failed),
                b.sha256.clone(),
            ]
        })
        .collect();
    f.table(&[("batch", 2.4), ("exported", 2.2), ("entries", 0.9), ("posted / failed", 1.2), ("SHA-256", 4.0)], &rows)?;
    // What the read-back found on the EHR's server, per batch (issue 15 item 4): the proof that the posted entries
    // are there, not only that the server said so when they were sent.
    for b in &report.batches {
        let when = b.verified_at.as_deref().map(|t| format!(" (read back {})", at(Some(t)))).unwrap_or_default();
        f.para(&format!("Batch {}: {}{when}.", b.id, b.verified_text()), 9.0, Weight::Regular, BLACK)?;
    }

    f.heading("Unsigned entries left on workstations")?;
    if report.unsigned.iter().any(|u| u.total.is_none_or(|n| n > 0)) {
        f.para(
            "Unsigned entries never leave a workstation: until they are signed and handed off again, they are in no \
             file and on no worklist.",
            9.0,
            Weight::Regular,
            BLACK,
        )?;
    }
    let rows: Vec<Vec<String>> = report
        .unsigned
        .iter()
        .map(|u| vec![format!("{} #{}", u.workstation, u.sequence), u.episode.clone(), u.describe()])
        .collect();
    f.table(&[("workstation, newest file", 2.6), ("episode", 2.6), ("unsigned entries left", 4.0)], &rows)?;

    f.heading("Handoff files imported")?;
    let rows: Vec<Vec<String>> = report
        .files
        .iter()
        .map(|h| {
            vec![
                format!("{} #{}", h.workstation, h.sequence),
                format!("{} (imported {} by {})", at(Some(&h.created_at)), at(Some(&h.imported_at)), h.imported_by),
                h.signer.clone(),
                h.sha256.clone(),
            ]
        })
        .collect();
    f.table(&[("workstation, file", 2.6), ("written (imported)", 2.8), ("signing key", 1.6), ("SHA-256", 3.6)], &rows)?;

    for e in &report.episodes {
        f.heading(&format!("Episode {} · {}", e.id, e.unit))?;
        if let Some(p) = &e.paper_only {
            let period = format!("{} to {}", at(Some(&e.started_at)), at(e.ended_at.as_deref()));
            let text = format!(
                "Paper only: created by {} at {} for paper of {period}.",
                p.created_by,
                at(Some(&p.created_at))
            );
            f.para(&text, 9.0, Weight::Bold, BLACK)?;
        }
        f.para(
            &format!(
                "{} entries from {} workstation(s); first handoff imported {}; last export {}.",
                e.entries,
                e.workstations,
                at(e.first_handoff_imported_at.as_deref()),
                at(e.last_export_at.as_deref())
            ),
            9.0,
            Weight::Regular,
            BLACK,
        )?;
        match &e.timeline {
            Some(t) => {
                f.table(&[("Timeline and metrics", 1.0), ("", 2.2)], &timeline_rows(t))?;
                if t.review.is_some() {
                    review_section(&mut f, t.review.as_ref())?;
                }
            }
            None => f.para("No timeline: the episode is not on this station.", 9.0, Weight::Regular, GREY)?,
        }
    }
    Ok(f.finish())
}

/// A kept status update, with what the printed header needs to say about the episode.
pub struct UpdateSheet<'a> {
    pub text: &'a str,
    pub kept_at: &'a str,
    pub kept_by: &'a str,
    pub severity: Option<Severity>,
    pub next_update_due: Option<&'a str>,
}

/// The status update's body: the episode at a glance (severity now, affected systems, impact, next update), then
/// the update's text as the charge nurse wrote it, paragraph by paragraph.
pub(crate) fn status_update(episode: &Episode, u: &UpdateSheet<'_>) -> Result<Vec<Page>, PrintError> {
    let mut f = Flow::new()?;
    if episode.kind == crate::episodes::Kind::Drill {
        f.banner("DRILL — practice episode; this is not a real downtime", RED)?;
    }
    let d = &episode.declaration;
    let rows = vec![
        vec!["Unit".into(), episode.unit.clone()],
        vec!["Downtime declared".into(), format!("{} by {}", at(Some(&episode.started_at)), episode.started_by)],
        vec!["Severity now".into(), severity(u.severity)],
        vec![
            "Affected systems and workflows".into(),
            if d.affected.is_empty() { "—".into() } else { d.affected.join(", ") },
        ],
        vec!["Clinical impact".into(), d.impact.clone().unwrap_or_else(|| "—".into())],
        vec!["Next update due".into(), at(u.next_update_due)],
    ];
    f.table(&[("", 1.0), ("", 2.2)], &rows)?;
    f.heading("Update")?;
    f.para(u.text.trim_end(), 10.5, Weight::Regular, BLACK)?;
    Ok(f.finish())
}

/// The drill report's body: the timeline (each checklist step and when it was done), time from declaration to the
/// first electronic entry, entries per user and per hour, forms printed, what was missed, and the tabletop scenario's
/// injects and score when the drill started from one.
pub(crate) fn drill(
    episode: &Episode,
    t: &Timeline,
    checklist_title: &str,
    scenario: Option<&crate::scenario::DrillScore>,
) -> Result<Vec<Page>, PrintError> {
    let mut f = Flow::new()?;
    f.banner("DRILL — practice episode; nothing in it is part of the patient record", RED)?;
    if t.ended_at.is_none() {
        f.banner("The drill is still open: this is an interim report", BLACK)?;
    }
    declaration(&mut f, episode)?;
    episode_body(&mut f, t, checklist_title, scenario)?;
    Ok(f.finish())
}

/// Who declared and ended the episode, why, what was affected and the impact said at the declaration.
pub(crate) fn declaration(f: &mut Flow, episode: &Episode) -> Result<(), PrintError> {
    f.heading("Declaration")?;
    let d = &episode.declaration;
    let rows = vec![
        vec!["Declared by".into(), episode.started_by.clone()],
        vec!["Reason".into(), d.reason.clone().unwrap_or_else(|| "—".into())],
        vec![
            "Affected systems and workflows".into(),
            if d.affected.is_empty() { "—".into() } else { d.affected.join(", ") },
        ],
        vec!["Clinical impact".into(), d.impact.clone().unwrap_or_else(|| "—".into())],
        vec!["Ended by".into(), episode.ended_by.clone().unwrap_or_else(|| "—".into())],
    ];
    f.table(&[("", 1.0), ("", 2.2)], &rows)
}

/// The timeline and metrics, the response targets, the checklist with times, entries per user and per hour, and
/// what was missed: the part the drill report and the review of an episode share.
pub(crate) fn episode_body(
    f: &mut Flow,
    t: &Timeline,
    checklist_title: &str,
    scenario: Option<&crate::scenario::DrillScore>,
) -> Result<(), PrintError> {
    f.heading("Timeline and metrics")?;
    f.table(&[("", 1.0), ("", 2.2)], &timeline_rows(t))?;

    if !t.targets.is_empty() {
        f.heading("Response targets")?;
        f.table(
            &[("target", 1.6), ("severity", 0.7), ("within", 0.8), ("took", 0.9), ("due", 1.7), ("result", 1.2)],
            &target_rows(t),
        )?;
    }
    if let Some(s) = scenario.map(super::scenario::section) {
        f.heading(&s.heading)?;
        if let Some(d) = &s.description {
            f.para(d, 9.5, Weight::Regular, GREY)?;
        }
        f.para(&s.score, 11.0, Weight::Bold, if s.short { RED } else { BLACK })?;
        f.table(super::scenario::INJECT_COLUMNS, &s.injects)?;
        f.table(super::scenario::EXPECTATION_COLUMNS, &s.expectations)?;
    }

    f.heading(&format!("Checklist: {checklist_title}"))?;
    let rows: Vec<Vec<String>> = t
        .steps
        .iter()
        .map(|s| {
            let done = match (&s.done_at, &s.done_by) {
                (Some(a), Some(b)) => format!("{} by {b}", at(Some(a))),
                (Some(a), None) => at(Some(a)),
                _ if !s.applies => format!("not for this outage ({})", s.step.applies_to().unwrap_or_default()),
                _ => "NOT DONE".into(),
            };
            let minutes_in = s.done_at.as_deref().and_then(|a| {
                Some((crate::clock::parse_stamp(a)? - crate::clock::parse_stamp(&t.declared_at)?).whole_minutes())
            });
            vec![
                s.step.text.clone(),
                s.step.role.as_str().to_string(),
                at(s.due_at.as_deref()),
                done,
                minutes(minutes_in),
            ]
        })
        .collect();
    f.table(&[("step", 4.2), ("owner", 0.9), ("due", 1.7), ("done", 2.4), ("after declaration", 1.2)], &rows)?;

    f.heading("Entries per user")?;
    let rows: Vec<Vec<String>> = t.entries_per_user.iter().map(|(u, n)| vec![u.clone(), n.to_string()]).collect();
    f.table(&[("user", 3.0), ("entries", 1.0)], &rows)?;

    let p = &t.entries_per_period;
    f.heading(&format!("Entries per {}", p.period))?;
    let rows: Vec<Vec<String>> = p
        .counts
        .iter()
        .map(|(start, n)| {
            let from = if crate::clock::parse_stamp(start).is_some() { at(Some(start)) } else { start.clone() };
            vec![from, n.to_string()]
        })
        .collect();
    f.table(&[(if p.period == "hour" { "hour from" } else { "day from" }, 3.0), ("entries", 1.0)], &rows)?;

    f.heading("What was missed")?;
    let mut missed: Vec<Vec<String>> = t
        .steps
        .iter()
        .filter(|s| s.applies && s.done_at.is_none())
        .map(|s| {
            let due =
                s.due_at.as_deref().map(|d| format!("due {}", at(Some(d)))).unwrap_or_else(|| "no due time".into());
            vec!["Checklist step not ticked".into(), format!("{} ({due})", s.step.text)]
        })
        .collect();
    missed.extend(
        t.missed_updates.iter().map(|d| vec!["Status update overdue".into(), format!("was due {}", at(Some(d)))]),
    );
    missed.extend(t.targets.iter().filter(|c| c.missed).map(|c| {
        vec![
            "Response target missed".into(),
            format!(
                "{} ({}: within {}, took {})",
                c.label,
                c.severity.code(),
                minutes(Some(c.target_minutes)),
                minutes(c.minutes)
            ),
        ]
    }));
    if t.entries == 0 {
        missed.push(vec!["No electronic entry".into(), "nobody charted on downtime forms during the episode".into()]);
    }
    if t.forms_printed == 0 {
        missed
            .push(vec!["Nothing printed".into(), "no census, MAR or paper form was printed during the episode".into()]);
    }
    f.table(&[("what", 1.4), ("detail", 3.6)], &missed)
}
