//! Laying out any Questionnaire of the supported subset as rows that flow down the page and onto further pages:
//! groups as sections, choices as tick boxes, free text as ruled lines, numbers and quantities as boxes with their
//! unit, repeats as several rows. Filled entries reuse the same rows with the answers in them.

use serde_json::Value;

use super::canvas::a4;
use super::canvas::{Page, Rgba, BLACK, GREY, LIGHT, PALE, RED};
use super::fonts::{Fonts, Weight};
use super::page::{body_bottom, body_top, PrintError, MARGIN};
use crate::entries::{Detail, Version};
use crate::forms::{AnswerValue, Form, Item, ItemType, Operator, ASKED_CLINICAL_TIME_LABEL};

/// Indent per level of nested group.
const INDENT: f32 = 5.0;
/// Writing boxes are sized for handwriting.
const BOX_H: f32 = 9.0;
const RULE_GAP: f32 = 8.5;
const TICK: f32 = 4.6;
const LABEL_SIZE: f32 = 10.0;
const LINE_H: f32 = 4.6;
/// How many rows a repeating question gets on a blank form, and how many copies a repeating group.
const REPEAT_ROWS: usize = 3;
const REPEAT_GROUPS: usize = 2;

/// One writing box in a row of boxes.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    before: Option<String>,
    width: f32,
    after: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Row {
    /// A group's heading: a shaded bar for top-level sections, an underlined title below.
    Section {
        lines: Vec<String>,
        depth: usize,
    },
    /// Lines of text (question labels, display items, notes).
    Text {
        lines: Vec<String>,
        depth: usize,
        size: f32,
        weight: Weight,
        color: Rgba,
    },
    /// One line of tick boxes with their labels.
    Ticks {
        options: Vec<(String, bool)>,
        depth: usize,
    },
    /// Writing boxes side by side.
    Fields {
        fields: Vec<Field>,
        depth: usize,
    },
    /// One ruled line to write on.
    Ruled {
        depth: usize,
    },
    /// A filled answer, in a pale box.
    Answer {
        lines: Vec<String>,
        depth: usize,
        missing: bool,
    },
    /// "Key: value" lines of the entry's details.
    KeyValue {
        key: String,
        lines: Vec<String>,
        color: Rgba,
    },
    /// Signature, printed name and date/time lines.
    Signature {
        caption: String,
    },
    Gap(f32),
}

impl Row {
    fn height(&self) -> f32 {
        match self {
            Row::Section { lines, depth } => lines.len() as f32 * 5.2 + if *depth == 0 { 4.0 } else { 2.5 },
            Row::Text { lines, size, .. } => lines.len() as f32 * size * 0.46 + 1.2,
            Row::Ticks { .. } => TICK + 2.6,
            Row::Fields { .. } => BOX_H + 1.5,
            Row::Ruled { .. } => RULE_GAP,
            Row::Answer { lines, .. } => lines.len() as f32 * LINE_H + 3.0,
            Row::KeyValue { lines, .. } => lines.len() as f32 * 4.2 + 0.6,
            Row::Signature { .. } => 16.0,
            Row::Gap(h) => *h,
        }
    }

    fn draw(&self, page: &mut Page, left: f32, width: f32, y: f32) {
        let x_of = |depth: usize| left + depth as f32 * INDENT;
        match self {
            Row::Section { lines, depth } => {
                let x = x_of(*depth);
                let h = self.height() - 1.5;
                if *depth == 0 {
                    page.rect(x, y, left + width - x, h, Some(LIGHT), None);
                } else {
                    page.line(x, y + h, left + width, y + h, 0.4, BLACK);
                }
                for (i, l) in lines.iter().enumerate() {
                    page.text(x + 1.5, y + 4.6 + i as f32 * 5.2, 11.0, Weight::Bold, BLACK, l);
                }
            }
            Row::Text { lines, depth, size, weight, color } => {
                for (i, l) in lines.iter().enumerate() {
                    page.text(x_of(*depth), y + size * 0.36 + i as f32 * size * 0.46, *size, *weight, *color, l);
                }
            }
            Row::Ticks { options, depth } => {
                let mut x = x_of(*depth);
                for (label, ticked) in options {
                    page.tick_box(x, y + 0.5, TICK, *ticked);
                    let weight = if *ticked { Weight::Bold } else { Weight::Regular };
                    page.text(x + TICK + 1.5, y + 4.2, 9.5, weight, BLACK, label);
                    x += tick_width(page.fonts(), label);
                }
            }
            Row::Fields { fields, depth } => {
                let mut x = x_of(*depth);
                for f in fields {
                    if let Some(b) = &f.before {
                        page.text(x, y + 6.0, 9.0, Weight::Regular, BLACK, b);
                        x += page.fonts().width(b, Weight::Regular, 9.0) + 1.5;
                    }
                    page.rect(x, y, f.width, BOX_H, None, Some((0.35, BLACK)));
                    x += f.width + 1.5;
                    if let Some(a) = &f.after {
                        page.text(x, y + 6.0, 8.5, Weight::Regular, GREY, a);
                        x += page.fonts().width(a, Weight::Regular, 8.5) + 4.0;
                    }
                }
            }
            Row::Ruled { depth } => {
                page.line(x_of(*depth), y + RULE_GAP - 1.0, left + width, y + RULE_GAP - 1.0, 0.3, GREY)
            }
            Row::Answer { lines, depth, missing } => {
                let x = x_of(*depth);
                page.rect(x, y, left + width - x, self.height() - 1.0, Some(PALE), Some((0.25, LIGHT)));
                let (weight, color) = if *missing { (Weight::Regular, GREY) } else { (Weight::Bold, BLACK) };
                for (i, l) in lines.iter().enumerate() {
                    page.text(x + 2.0, y + 4.4 + i as f32 * LINE_H, 10.0, weight, color, l);
                }
            }
            Row::KeyValue { key, lines, color } => {
                page.text(left, y + 3.2, 8.5, Weight::Bold, GREY, key);
                for (i, l) in lines.iter().enumerate() {
                    page.text(left + 38.0, y + 3.2 + i as f32 * 4.2, 9.0, Weight::Regular, *color, l);
                }
            }
            Row::Signature { caption } => {
                page.text(left, y + 4.0, 8.5, Weight::Bold, BLACK, caption);
                let cols = [("Signature", 0.0, 0.42), ("Printed name", 0.45, 0.3), ("Date and time", 0.78, 0.22)];
                for (label, start, share) in cols {
                    let x = left + width * start;
                    page.line(x, y + 11.5, x + width * share, y + 11.5, 0.4, BLACK);
                    page.text(x, y + 14.5, 7.5, Weight::Regular, GREY, label);
                }
            }
            Row::Gap(_) => {}
        }
    }
}

fn tick_width(fonts: &Fonts, label: &str) -> f32 {
    TICK + 1.5 + fonts.width(label, Weight::Regular, 9.5).max(fonts.width(label, Weight::Bold, 9.5)) + 6.0
}

/// Rows under construction: each row says whether it must stay on the same page as the next one.
struct Rows<'a> {
    rows: Vec<(Row, bool)>,
    fonts: &'static Fonts,
    width: f32,
    form: &'a Form,
}

impl<'a> Rows<'a> {
    fn new(form: &'a Form, width: f32) -> Result<Rows<'a>, PrintError> {
        Ok(Rows { rows: Vec::new(), fonts: Fonts::get()?, width, form })
    }

    fn avail(&self, depth: usize) -> f32 {
        self.width - depth as f32 * INDENT
    }

    fn push(&mut self, row: Row, keep_with_next: bool) {
        self.rows.push((row, keep_with_next));
    }

    fn wrap(&self, text: &str, weight: Weight, size: f32, depth: usize) -> Vec<String> {
        self.fonts.wrap(&super::fonts::clean(text), weight, size, self.avail(depth) - 1.0)
    }

    /// A text block, one row per line so that a very long text can itself cross a page break.
    fn text(&mut self, text: &str, depth: usize, size: f32, weight: Weight, color: Rgba, keep: bool) {
        let lines = self.wrap(text, weight, size, depth);
        let n = lines.len();
        for (i, l) in lines.into_iter().enumerate() {
            self.push(Row::Text { lines: vec![l], depth, size, weight, color }, keep || i + 1 < n);
        }
    }

    fn section(&mut self, title: &str, depth: usize) {
        let lines = self.wrap(title, Weight::Bold, 11.0, depth);
        self.push(Row::Gap(1.5), true);
        self.push(Row::Section { lines, depth }, true);
        self.push(Row::Gap(1.0), true);
    }

    /// Tick boxes, flowed over as many lines as they need.
    fn ticks(&mut self, options: Vec<(String, bool)>, depth: usize, keep_last: bool) {
        let avail = self.avail(depth);
        let mut line: Vec<(String, bool)> = Vec::new();
        let mut used = 0.0;
        let mut lines = Vec::new();
        for (label, ticked) in options {
            let label = self.fonts.fit(&super::fonts::clean(&label), Weight::Bold, 9.5, avail - TICK - 8.0);
            let w = tick_width(self.fonts, &label);
            if !line.is_empty() && used + w > avail {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            used += w;
            line.push((label, ticked));
        }
        if !line.is_empty() {
            lines.push(line);
        }
        let n = lines.len();
        for (i, options) in lines.into_iter().enumerate() {
            self.push(Row::Ticks { options, depth }, keep_last || i + 1 < n);
        }
    }

    /// The item's label: prefix, text, a star when required, and when it applies.
    fn label(&mut self, item: &Item, depth: usize, suffix: &str) {
        let mut text = String::new();
        if let Some(p) = &item.prefix {
            text.push_str(p);
            text.push(' ');
        }
        text.push_str(item.text.as_deref().unwrap_or(&item.link_id));
        if item.required {
            text.push_str(" *");
        }
        text.push_str(suffix);
        self.text(&text, depth, LABEL_SIZE, Weight::Bold, BLACK, true);
        if let Some(cond) = condition(self.form, item) {
            self.text(&cond, depth, 8.0, Weight::Regular, GREY, true);
        }
    }

    fn item_title(item: &Item) -> String {
        let mut t = String::new();
        if let Some(p) = &item.prefix {
            t.push_str(p);
            t.push(' ');
        }
        t.push_str(item.text.as_deref().unwrap_or(&item.link_id));
        t
    }

    /// The writing area of an unanswered question.
    fn blank_answer(&mut self, item: &Item, depth: usize) {
        let avail = self.avail(depth);
        let unit = item.units.first().map(|u| u.label().to_string());
        let number = |after: Option<String>| Field { before: None, width: 40.0, after };
        match item.kind {
            ItemType::Boolean => self.ticks(vec![("Yes".into(), false), ("No".into(), false)], depth, false),
            ItemType::Choice | ItemType::OpenChoice => {
                let options: Vec<(String, bool)> =
                    item.answer_options.iter().map(|o| (o.value.as_text(), false)).collect();
                let open = item.kind == ItemType::OpenChoice || options.is_empty();
                if !options.is_empty() {
                    self.ticks(options, depth, open);
                }
                if open {
                    let before = if item.answer_options.is_empty() { None } else { Some("Other:".to_string()) };
                    let width = avail - if before.is_some() { 14.0 } else { 0.0 };
                    self.push(Row::Fields { fields: vec![Field { before, width, after: None }], depth }, false);
                }
            }
            ItemType::String => {
                let width = match item.max_length {
                    Some(n) if n <= 20 => (n as f32 * 4.0).clamp(30.0, avail),
                    _ => avail,
                };
                self.push(Row::Fields { fields: vec![Field { before: None, width, after: None }], depth }, false);
            }
            ItemType::Text => {
                for i in 0..4 {
                    self.push(Row::Ruled { depth }, i < 3);
                }
            }
            ItemType::Integer | ItemType::Decimal => {
                self.push(Row::Fields { fields: vec![number(unit)], depth }, false);
            }
            ItemType::Quantity => {
                if item.units.len() > 1 {
                    self.push(Row::Fields { fields: vec![number(Some("unit:".into()))], depth }, true);
                    let units = item.units.iter().map(|u| (u.label().to_string(), false)).collect();
                    self.ticks(units, depth, false);
                } else {
                    self.push(Row::Fields { fields: vec![number(unit.or(Some("unit: ______".into())))], depth }, false);
                }
            }
            ItemType::Date => self.push(Row::Fields { fields: vec![number(Some("YYYY-MM-DD".into()))], depth }, false),
            ItemType::DateTime => self.date_time(depth),
            ItemType::Time => self.push(
                Row::Fields {
                    fields: vec![Field { before: None, width: 24.0, after: Some("HH:MM (24 h)".into()) }],
                    depth,
                },
                false,
            ),
            ItemType::Group | ItemType::Display => {}
        }
    }

    /// A date box and a 24-hour time box.
    fn date_time(&mut self, depth: usize) {
        let date = Field { before: None, width: 40.0, after: Some("date YYYY-MM-DD".into()) };
        let time = Field { before: None, width: 24.0, after: Some("time HH:MM (24 h)".into()) };
        self.push(Row::Fields { fields: vec![date, time], depth }, false);
    }

    fn blank_item(&mut self, item: &Item, depth: usize) {
        match item.kind {
            ItemType::Group => {
                let copies = if item.repeats { REPEAT_GROUPS } else { 1 };
                for k in 1..=copies {
                    let mut title = Self::item_title(item);
                    if item.repeats {
                        title.push_str(&format!(" ({k} of {copies}; add a sheet for more)"));
                    }
                    self.section(&title, depth);
                    for child in &item.items {
                        self.blank_item(child, depth + 1);
                    }
                }
            }
            ItemType::Display => {
                let text = Self::item_title(item);
                self.text(&text, depth, 9.0, Weight::Regular, GREY, false);
                self.push(Row::Gap(1.5), false);
            }
            _ => {
                let many =
                    matches!(item.kind, ItemType::Choice | ItemType::OpenChoice) && !item.answer_options.is_empty();
                let suffix = match (item.repeats, many) {
                    (true, true) => " (tick all that apply)",
                    (true, false) => " (one per row)",
                    _ => "",
                };
                self.label(item, depth, suffix);
                let rows = if item.repeats && !many && item.kind != ItemType::Text { REPEAT_ROWS } else { 1 };
                for r in 0..rows {
                    self.blank_answer(item, depth);
                    if r + 1 < rows {
                        if let Some((_, keep)) = self.rows.last_mut() {
                            *keep = true;
                        }
                    }
                }
                for child in &item.items {
                    self.blank_item(child, depth + 1);
                }
                self.push(Row::Gap(1.5), false);
            }
        }
    }

    /// An answered (or unanswered) question of a filled entry. `responses` are the response items with this linkId.
    fn filled_item(&mut self, item: &Item, responses: &[&Value], depth: usize) {
        match item.kind {
            ItemType::Group => {
                let n = responses.len();
                if n == 0 {
                    self.section(&Self::item_title(item), depth);
                    self.push(
                        Row::Answer { lines: vec!["— not answered —".into()], depth: depth + 1, missing: true },
                        false,
                    );
                    return;
                }
                for (k, r) in responses.iter().enumerate() {
                    let mut title = Self::item_title(item);
                    if n > 1 {
                        title.push_str(&format!(" ({} of {n})", k + 1));
                    }
                    self.section(&title, depth);
                    let children = child_items(r);
                    for child in &item.items {
                        self.filled_item(child, &matching(&children, &child.link_id), depth + 1);
                    }
                }
            }
            ItemType::Display => {
                let text = Self::item_title(item);
                self.text(&text, depth, 9.0, Weight::Regular, GREY, false);
            }
            _ => {
                self.label(item, depth, "");
                let answers: Vec<&Value> = responses
                    .iter()
                    .flat_map(|r| r.get("answer").and_then(Value::as_array).into_iter().flatten())
                    .collect();
                // Numbers are printed with the unit the form states, as the nurse wrote them against it.
                let unit = match item.kind {
                    ItemType::Integer | ItemType::Decimal => item.units.first().map(|u| format!(" {}", u.label())),
                    _ => None,
                };
                let texts: Vec<String> = answers
                    .iter()
                    .map(|a| answer_text(a))
                    .filter(|t| !t.is_empty())
                    .map(|t| format!("{t}{}", unit.as_deref().unwrap_or("")))
                    .collect();
                let has_options = !item.answer_options.is_empty() || item.kind == ItemType::Boolean;
                if has_options && !texts.is_empty() {
                    let options: Vec<(String, bool)> = if item.kind == ItemType::Boolean {
                        vec![
                            ("Yes".into(), texts.iter().any(|t| t == "Yes")),
                            ("No".into(), texts.iter().any(|t| t == "No")),
                        ]
                    } else {
                        item.answer_options
                            .iter()
                            .map(|o| {
                                let label = o.value.as_text();
                                let ticked = answers.iter().any(|a| option_matches(&o.value, a));
                                (label, ticked)
                            })
                            .collect()
                    };
                    let others: Vec<String> = texts
                        .iter()
                        .filter(|t| !options.iter().any(|(l, ticked)| *ticked && l == *t))
                        .cloned()
                        .collect();
                    let keep = !others.is_empty();
                    self.ticks(options, depth, keep);
                    if keep {
                        let lines = self.wrap(&format!("Other: {}", others.join("; ")), Weight::Bold, 10.0, depth + 1);
                        self.push(Row::Answer { lines, depth, missing: false }, false);
                    }
                } else if texts.is_empty() {
                    self.push(Row::Answer { lines: vec!["— not answered —".into()], depth, missing: true }, false);
                } else {
                    for t in &texts {
                        for chunk in self.wrap(t, Weight::Bold, 10.0, depth + 1).chunks(8) {
                            self.push(Row::Answer { lines: chunk.to_vec(), depth, missing: false }, false);
                        }
                    }
                }
                // Items nested under a question live in its answers (and, loosely, in the item itself).
                let mut children: Vec<&Value> = responses.iter().flat_map(|r| child_items(r)).collect();
                for a in &answers {
                    children.extend(child_items(a));
                }
                for child in &item.items {
                    self.filled_item(child, &matching(&children, &child.link_id), depth + 1);
                }
                self.push(Row::Gap(2.0), false);
            }
        }
    }
}

fn child_items(v: &Value) -> Vec<&Value> {
    v.get("item").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn matching<'v>(items: &[&'v Value], link_id: &str) -> Vec<&'v Value> {
    items.iter().copied().filter(|i| i.get("linkId").and_then(Value::as_str) == Some(link_id)).collect()
}

fn option_matches(option: &AnswerValue, answer: &Value) -> bool {
    match option {
        AnswerValue::Coding(c) => answer.get("valueCoding").is_some_and(|a| {
            let code = a.get("code").and_then(Value::as_str);
            let display = a.get("display").and_then(Value::as_str);
            match (&c.code, code) {
                (Some(x), Some(y)) => x == y,
                _ => c.display.as_deref().is_some_and(|d| Some(d) == display),
            }
        }),
        other => answer_text(answer) == other.as_text(),
    }
}

/// What a nurse reads for one FHIR answer value.
pub(crate) fn answer_text(answer: &Value) -> String {
    let Some(obj) = answer.as_object() else { return String::new() };
    for (k, v) in obj {
        let Some(kind) = k.strip_prefix("value") else { continue };
        return match (kind, v) {
            ("Boolean", Value::Bool(b)) => if *b { "Yes" } else { "No" }.into(),
            ("Coding", c) => {
                c.get("display").or_else(|| c.get("code")).and_then(Value::as_str).unwrap_or_default().to_string()
            }
            ("Quantity", q) => {
                let value = q.get("value").map(number_text).unwrap_or_default();
                let unit = q.get("unit").or_else(|| q.get("code")).and_then(Value::as_str).unwrap_or_default();
                format!("{value} {unit}").trim().to_string()
            }
            ("Decimal" | "Integer", n) => number_text(n),
            ("Attachment" | "Reference", _) => "(attachment or reference: see the electronic entry)".into(),
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
    }
    String::new()
}

fn number_text(v: &Value) -> String {
    match v.as_f64() {
        // No trailing zeros: "5", never "5.0" (a Joint Commission "do not use").
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => v.to_string(),
    }
}

/// "Answer only if …" for items with enableWhen, in words a nurse reads on paper.
fn condition(form: &Form, item: &Item) -> Option<String> {
    if item.enable_when.is_empty() {
        return None;
    }
    let parts: Vec<String> = item
        .enable_when
        .iter()
        .map(|c| {
            let q = form.item(&c.question).and_then(|i| i.text.clone()).unwrap_or_else(|| c.question.clone());
            let op = match c.operator {
                Operator::Exists => return format!("“{q}” is answered"),
                Operator::Eq => "is",
                Operator::Ne => "is not",
                Operator::Gt => ">",
                Operator::Lt => "<",
                Operator::Ge => "≥",
                Operator::Le => "≤",
            };
            format!("“{q}” {op} {}", c.answer.as_text())
        })
        .collect();
    let joiner = match item.enable_behavior {
        crate::forms::EnableBehavior::All => " and ",
        crate::forms::EnableBehavior::Any => " or ",
    };
    Some(format!("Answer only if {}", parts.join(joiner)))
}

/// The rows of a blank copy of `form`, for a body `width` mm wide.
pub(crate) fn blank_rows(form: &Form, width: f32) -> Result<Vec<(Row, bool)>, PrintError> {
    let mut rows = Rows::new(form, width)?;
    rows.text(
        "Write clearly in black ink, one character per box where boxes are given. Tick one box unless told otherwise. \
         * marks a required answer.",
        0,
        8.0,
        Weight::Regular,
        GREY,
        false,
    );
    rows.push(Row::Gap(2.0), false);
    if form.asks_clinical_time() {
        // No item holds the clinical time: the paper asks what the app asks above the form, first.
        rows.text(&format!("{ASKED_CLINICAL_TIME_LABEL} *"), 0, LABEL_SIZE, Weight::Bold, BLACK, true);
        rows.date_time(0);
        rows.push(Row::Gap(1.5), false);
    }
    for item in form.items() {
        rows.blank_item(item, 0);
    }
    rows.push(Row::Gap(3.0), true);
    rows.push(Row::Signature { caption: "Completed by".into() }, false);
    Ok(rows.rows)
}

/// The rows of a filled entry: its details, every answer of `current`, the version history and a signature line.
pub(crate) fn entry_rows(
    form: &Form,
    detail: &Detail,
    current: &Version,
    width: f32,
) -> Result<Vec<(Row, bool)>, PrintError> {
    let mut rows = Rows::new(form, width)?;
    let s = &detail.summary;
    rows.section("Entry", 0);
    let status_color = if s.status == crate::entries::Status::EnteredInError { RED } else { BLACK };
    let details: Vec<(&str, String, Rgba)> = vec![
        ("Status", s.status.as_str().to_string(), status_color),
        ("Version", format!("{} of {} ({})", current.version, detail.versions.len(), current.kind), BLACK),
        ("Author", current.author.clone(), BLACK),
        ("Clinical time", current.body.clinical_time.clone().unwrap_or_else(|| "not given".into()), BLACK),
        ("Recorded", format!("{} on workstation {}", current.recorded_at, s.workstation), BLACK),
        (
            "Signed",
            match (&current.signed_by, &current.signed_at) {
                (Some(by), Some(at)) => format!("{by} at {at}"),
                _ => "not signed".into(),
            },
            BLACK,
        ),
        ("Entry id", s.id.clone(), BLACK),
        ("Content hash", current.content_hash.chars().take(16).collect(), BLACK),
    ];
    let mut details = details;
    if let Some(r) = &current.body.reason {
        details.push(("Reason", r.clone(), status_color));
    }
    if let Some(o) = &current.body.allergy_override {
        details.push(("Allergy override", o.clone(), RED));
    }
    if let Some(p) = &current.body.paper {
        details.push(("Transcribed from paper", format!("written by {}", p.author_name), BLACK));
    }
    for (key, value, color) in details {
        let lines = rows.fonts.wrap(&super::fonts::clean(&value), Weight::Regular, 9.0, width - 40.0);
        // Long values (a reason pasted at length) continue over several rows so that a page break can fall inside.
        for (k, chunk) in lines.chunks(10).enumerate() {
            let key = if k == 0 { key.to_string() } else { String::new() };
            rows.push(Row::KeyValue { key, lines: chunk.to_vec(), color }, false);
        }
    }
    rows.push(Row::Gap(3.0), false);
    let answers: Vec<&Value> = child_items(&current.body.response);
    for item in form.items() {
        rows.filled_item(item, &matching(&answers, &item.link_id), 0);
    }
    if detail.versions.len() > 1 {
        rows.section("Versions", 0);
        for v in &detail.versions {
            let mark = if v.version == current.version { " (printed)" } else { "" };
            let text = format!(
                "{} by {}, recorded {}{} · hash {}{}",
                v.kind,
                v.author,
                v.recorded_at,
                v.body.reason.as_deref().map(|r| format!(" · reason: {r}")).unwrap_or_default(),
                v.content_hash.chars().take(16).collect::<String>(),
                mark
            );
            let lines = rows.fonts.wrap(&super::fonts::clean(&text), Weight::Regular, 9.0, width - 40.0);
            rows.push(Row::KeyValue { key: format!("Version {}", v.version), lines, color: BLACK }, false);
        }
    }
    rows.push(Row::Gap(4.0), true);
    rows.push(Row::Signature { caption: "Printed for the paper chart; reviewed by".into() }, false);
    Ok(rows.rows)
}

/// Places rows on as many pages as they need. A chain of rows marked keep-with-next moves to the next page whole
/// when it would be cut, unless it is longer than a page (then it breaks where it must).
pub(crate) fn paginate(rows: &[(Row, bool)], width: f32, height: f32, extra_top: f32) -> Result<Vec<Page>, PrintError> {
    let (top, bottom) = (body_top(extra_top), body_bottom(height));
    let left = MARGIN;
    let body_w = width - 2.0 * MARGIN;
    let mut pages = vec![a4(width > height)?];
    let mut y = top;
    let mut i = 0;
    while i < rows.len() {
        // The chain this row starts: it and every following row it must stay with.
        let mut chain = 0.0;
        let mut j = i;
        while j < rows.len() {
            chain += rows[j].0.height();
            if !rows[j].1 {
                break;
            }
            j += 1;
        }
        let h = rows[i].0.height();
        let must_break = if chain <= bottom - top { y + chain > bottom } else { y + h > bottom };
        if must_break && y > top {
            pages.push(a4(width > height)?);
            y = top;
        }
        // Gaps at the top of a page are dropped.
        if !(matches!(rows[i].0, Row::Gap(_)) && y == top) {
            if let Some(page) = pages.last_mut() {
                rows[i].0.draw(page, left, body_w, y);
            }
            y += h;
        }
        i += 1;
    }
    Ok(pages)
}
