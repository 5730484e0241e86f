//! The public-forms conformance corpus (`tests/data/forms-public/`, issue 18 item 3): every Questionnaire collected
//! from outside is loaded, answered, validated, printed and extracted as it is, and `docs/forms-conformance.md` is the
//! table of the results.
//!
//! The table is generated, never edited: `DTK_UPDATE_CONFORMANCE=1 cargo test --test it forms_conformance` writes it.
//! Without the variable the test fails when the committed table is out of date, and in both modes when a form the
//! committed table says loads no longer loads (a regression of the engine, named with the loader's reasons).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dtk::forms::{self, AnswerValue, ExtractContext, Form, Item, ItemType, Severity};
use dtk::print::{self, Stamp};
use serde_json::{json, Map, Value};

/// Set to `1` to write the table instead of comparing with it.
const UPDATE_ENV: &str = "DTK_UPDATE_CONFORMANCE";
/// The command the table names; keep it in step with the test's name.
const COMMAND: &str = "DTK_UPDATE_CONFORMANCE=1 cargo test --test it forms_conformance";
const DOC: &str = "docs/forms-conformance.md";
const CORPUS: &str = "tests/data/forms-public";
const FORMS_HEADING: &str = "## Forms";
/// The forms the core loaded, as the screen receives them (`FormInfo`: canonical, title, asksClinicalTime and the
/// Questionnaire with its answerValueSets expanded), by "source/file": what the UI's test draws.
const SCREEN_FORMS: &str = "tests/data/forms-public/screen-forms.json";
/// What the UI's test (`ui/src/lib/forms/conformance.test.ts`) saw on the form screen, by "source/file".
const SCREEN_RENDER: &str = "tests/data/forms-public/screen-render.json";
/// Regenerates the table, the screen's forms and what the screen drew, in the order they depend on each other.
const SCRIPT: &str = "scripts/forms-conformance.sh";

/// Extensions the forms engine reads when it loads a form (the constants of `dtk::forms`). Any other extension in a
/// public form is dropped without a word, which the table shows in its own column. Extend this list when the engine
/// learns to read another extension.
const READ_EXTENSIONS: &[&str] = &[
    forms::EXT_CLINICAL_TIME,
    forms::EXT_CLINICAL_RULE,
    forms::EXT_IDENTIFIER_SYSTEM,
    forms::EXT_MIN_VALUE,
    forms::EXT_MAX_VALUE,
    forms::EXT_UNIT,
    forms::EXT_UNIT_OPTION,
    forms::EXT_OBSERVATION_EXTRACT,
    forms::EXT_OBSERVATION_CATEGORY,
    forms::EXT_EXTRACTION_CONTEXT,
    forms::EXT_ORDINAL_VALUE,
    forms::EXT_ITEM_WEIGHT,
    // Read by the form screen (ui/src/lib/forms/questionnaire.ts), which draws what they say; the core has no use
    // for them (a hidden item is still validated and extracted, a slider's answer is an integer like any other).
    "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl",
    "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden",
    "http://hl7.org/fhir/StructureDefinition/entryFormat",
    "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue",
    forms::EXT_VARIABLE,
    forms::EXT_ENABLE_WHEN_EXPRESSION,
    forms::EXT_CALCULATED_EXPRESSION,
    forms::EXT_INITIAL_EXPRESSION,
    forms::EXT_ANSWER_EXPRESSION,
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One check of one form: passed or not, and the text of its cell.
#[derive(Debug, Clone)]
struct Check {
    ok: bool,
    text: String,
}

impl Check {
    fn pass(text: impl Into<String>) -> Check {
        Check { ok: true, text: text.into() }
    }

    fn fail(text: impl Into<String>) -> Check {
        Check { ok: false, text: text.into() }
    }

    /// A check that could not run because an earlier one failed.
    fn not_run() -> Check {
        Check::fail("—")
    }
}

/// The results of one form file.
#[derive(Debug, Clone)]
struct Row {
    source: String,
    file: String,
    name: String,
    items: Option<usize>,
    /// Every distinct reason the loader gave, with the first linkId it named and how many items it named.
    refused: Vec<(String, Option<String>, usize)>,
    validates: Check,
    prints: Check,
    extracts: Check,
    /// Whether the form screen drew every item (from [`SCREEN_RENDER`]).
    ui: Check,
    unread: Vec<String>,
    /// The form as the screen receives it, when it loads.
    screen: Option<Value>,
}

impl Row {
    fn loads(&self) -> bool {
        self.refused.is_empty()
    }
}

/// The form files of the corpus, as (source folder, file name, path), sorted.
fn corpus_files(dir: &Path) -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    let sources = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for source in sources {
        let source = source.expect("a corpus folder entry").path();
        if !source.is_dir() {
            continue;
        }
        let name = source.file_name().expect("a folder name").to_string_lossy().to_string();
        for file in std::fs::read_dir(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display())) {
            let path = file.expect("a corpus file entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let file = path.file_name().expect("a file name").to_string_lossy().to_string();
                out.push((name.clone(), file, path));
            }
        }
    }
    out.sort();
    out
}

/// Runs every check on one file. Nothing here depends on the clock or the machine, so the table is reproducible.
fn check_form(source: &str, file: &str, path: &Path) -> Row {
    let raw: Option<Value> = std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let name = raw
        .as_ref()
        .and_then(|v| v.get("title").or_else(|| v.get("name")))
        .and_then(Value::as_str)
        .map_or_else(|| file.trim_end_matches(".json").to_string(), str::to_string);
    let items = raw.as_ref().map(count_items);
    let unread = raw.as_ref().map(unread_extensions).unwrap_or_default();
    let mut row = Row {
        source: source.to_string(),
        file: file.to_string(),
        name,
        items,
        refused: Vec::new(),
        validates: Check::not_run(),
        prints: Check::not_run(),
        extracts: Check::not_run(),
        ui: Check::not_run(),
        unread,
        screen: None,
    };
    let form = match forms::load_file(path) {
        Ok(form) => form,
        Err(problems) => {
            for p in problems {
                match row.refused.iter_mut().find(|(r, _, _)| *r == p.reason) {
                    Some((_, _, n)) => *n += 1,
                    None => row.refused.push((p.reason, p.link_id, 1)),
                }
            }
            return row;
        }
    };
    row.screen = Some(json!({
        "canonical": form.canonical(),
        "title": form.title,
        "asksClinicalTime": form.asks_clinical_time(),
        "questionnaire": form.source,
    }));
    row.prints = match print::blank_forms(&form, &[], &stamp(), &mut |_| {}) {
        Ok(pdf) => Check::pass(format!("yes ({} page{})", pdf.pages, if pdf.pages == 1 { "" } else { "s" })),
        Err(e) => Check::fail(format!("no: {e}")),
    };
    let (response, checked) = fill(&form);
    if let Some(f) = checked.findings.iter().find(|f| f.severity == Severity::Error) {
        let at = f.link_id.as_deref().map(|l| format!(" (linkId '{l}')")).unwrap_or_default();
        row.validates = Check::fail(format!("no: {}{at}", f.message));
        return row;
    }
    row.validates = Check::pass("yes");
    row.extracts = match forms::extract(&form, &response, &extract_context()) {
        Ok(resources) if resources.is_empty() && !defines_extraction(&form) => Check::pass("n/a (defines none)"),
        Ok(resources) if resources.is_empty() => Check::fail("no: nothing extracted"),
        Ok(resources) => {
            let types: BTreeSet<&str> =
                resources.iter().filter_map(|r| r.get("resourceType").and_then(Value::as_str)).collect();
            let types: Vec<&str> = types.into_iter().collect();
            Check::pass(format!("yes ({} {})", resources.len(), types.join(", ")))
        }
        Err(e) => Check::fail(format!("no: {e}")),
    };
    row
}

/// Items at every level of the raw JSON (groups and display items included), so refused forms are counted too.
fn count_items(v: &Value) -> usize {
    v.get("item").and_then(Value::as_array).map_or(0, |a| a.len() + a.iter().map(count_items).sum::<usize>())
}

/// The absolute extension URLs anywhere in the file that the engine does not read, by their last path segment.
fn unread_extensions(v: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for key in ["extension", "modifierExtension"] {
                    for e in m.get(key).and_then(Value::as_array).into_iter().flatten() {
                        let Some(url) = e.get("url").and_then(Value::as_str) else { continue };
                        if url.contains("://") && !READ_EXTENSIONS.contains(&url) {
                            out.insert(url.rsplit('/').next().unwrap_or(url).to_string());
                        }
                    }
                }
                m.values().for_each(|c| walk(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut out);
    out.into_iter().collect()
}

/// Does the form ask for any extraction (observation-based or definition-based)? An item marked for observation
/// extraction (often by a questionnaire-wide `observationExtract`) gives an Observation only if it has a code (SDC:
/// "if they have a code present"), so a form whose marked items have none defines no extraction.
fn defines_extraction(form: &Form) -> bool {
    form.extraction_context.is_some()
        || form.all_items().iter().any(|i| {
            i.extraction_context.is_some()
                || ((i.observation_extract || i.observation_component) && !i.code.is_empty())
                || i.definition.is_some()
        })
}

fn stamp() -> Stamp {
    Stamp {
        unit: "5 East".into(),
        printed_by: "Conformance Test (conformance)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: None,
        drill: false,
        workstation: None,
        record: String::new(),
    }
}

fn extract_context() -> ExtractContext<'static> {
    ExtractContext {
        entry_id: "5d0c3b9e-7a41-4f1e-9b2d-6c8e0f1a2b3c",
        subject: json!({"reference": "Patient?identifier=http://hospital.example.org/mrn|DEV0001"}),
        encounter: None,
        author: Some(json!({"display": "Synthetic Nurse, RN"})),
        recorded: "2026-11-21T10:42:05-05:00",
        // Read only for a form that asks "When did this happen?" (no item holds the clinical time).
        clinical_time: Some("2026-11-21T10:30:00-05:00"),
    }
}

/// Which items the generated response answers beyond the required ones, and which it leaves out.
#[derive(Default)]
struct Plan {
    /// Items the validator said are required (enabled by an answer, or a required group that needs content).
    extra: BTreeSet<String>,
    /// Items the validator said are disabled by their enableWhen.
    skip: BTreeSet<String>,
}

/// A minimal response: every enabled required item, and every item the form extracts from, answered with a valid
/// value of its type. The engine's own
/// findings decide what is enabled: answer the required items, then add what it still calls required and drop what
/// it calls disabled, until it accepts the response or nothing changes.
fn fill(form: &Form) -> (Value, forms::Checked) {
    let mut plan = Plan::default();
    loop {
        let response = json!({
            "resourceType": "QuestionnaireResponse",
            "questionnaire": form.canonical(),
            "status": "completed",
            "subject": {"identifier": {"system": "http://hospital.example.org/mrn", "value": "DEV0001"}},
            "authored": "2026-11-21T10:42:00-05:00",
            "item": items_json(form.items(), &plan),
        });
        let checked = forms::validate_response(form, &response);
        let mut changed = false;
        for f in checked.findings.iter().filter(|f| f.severity == Severity::Error) {
            let Some(link) = &f.link_id else { continue };
            if f.message == "required" {
                changed |= plan.extra.insert(link.clone());
            } else if f.message.starts_with("answered, but the question is disabled") {
                changed |= plan.skip.insert(link.clone());
            }
        }
        if checked.is_valid() || !changed {
            return (response, checked);
        }
    }
}

/// Required items, what the validator asked for, and the items extraction reads (without them a minimal response of a
/// form that extracts would extract nothing, and the extract column would say nothing about extraction).
fn wanted(item: &Item, plan: &Plan) -> bool {
    item.required
        || plan.extra.contains(&item.link_id)
        || item.observation_extract
        || item.observation_component
        || item.definition.is_some()
}

fn items_json(items: &[Item], plan: &Plan) -> Vec<Value> {
    items.iter().filter_map(|i| item_json(i, plan)).collect()
}

fn item_json(item: &Item, plan: &Plan) -> Option<Value> {
    if plan.skip.contains(&item.link_id) {
        return None;
    }
    match item.kind {
        ItemType::Display => None,
        ItemType::Group => {
            let mut children = items_json(&item.items, plan);
            if children.is_empty() && wanted(item, plan) {
                // A group that must be there needs some content: its first question.
                children.extend(first_answer(&item.items, plan));
            }
            (!children.is_empty()).then(|| json!({"linkId": item.link_id, "item": children}))
        }
        _ if wanted(item, plan) => {
            let a = answer(item)?;
            Some(json!({"linkId": item.link_id, "answer": [a]}))
        }
        _ => None,
    }
}

/// The first question below `items` answered, wrapped in the groups on the way to it.
fn first_answer(items: &[Item], plan: &Plan) -> Option<Value> {
    items.iter().filter(|i| !plan.skip.contains(&i.link_id)).find_map(|i| match i.kind {
        ItemType::Display => None,
        ItemType::Group => first_answer(&i.items, plan).map(|c| json!({"linkId": i.link_id, "item": [c]})),
        _ => answer(i).map(|a| json!({"linkId": i.link_id, "answer": [a]})),
    })
}

/// One valid answer: the first listed option, else a value of the item's type inside its limits.
fn answer(item: &Item) -> Option<Value> {
    if let Some(o) = item.answer_options.first() {
        return Some(value_json(&o.value));
    }
    let number = 1.0_f64.max(item.min.unwrap_or(f64::MIN)).min(item.max.unwrap_or(f64::MAX));
    let text: String = "Synthetic answer".chars().take(item.max_length.map_or(usize::MAX, |n| n as usize)).collect();
    let value = match item.kind {
        ItemType::Group | ItemType::Display => return None,
        ItemType::Boolean => AnswerValue::Boolean(true),
        ItemType::Decimal => AnswerValue::Decimal(number),
        ItemType::Integer => AnswerValue::Integer(number.ceil() as i64),
        ItemType::Date => AnswerValue::Date("2026-11-21".into()),
        ItemType::DateTime => AnswerValue::DateTime("2026-11-21T10:30:00-05:00".into()),
        ItemType::Time => AnswerValue::Time("10:30:00".into()),
        ItemType::String | ItemType::Text | ItemType::Choice | ItemType::OpenChoice => AnswerValue::String(text),
        ItemType::Quantity => AnswerValue::Quantity(forms::Quantity {
            value: number,
            unit: item.units.first().map(|u| u.label().to_string()),
            system: item.units.first().and_then(|u| u.system.clone()),
            code: item.units.first().and_then(|u| u.code.clone()),
        }),
    };
    Some(value_json(&value))
}

/// `{"value<Type>": …}` as a QuestionnaireResponse answer carries it.
fn value_json(v: &AnswerValue) -> Value {
    let inner = match v {
        AnswerValue::Boolean(b) => json!(b),
        AnswerValue::Decimal(d) => json!(d),
        AnswerValue::Integer(i) => json!(i),
        AnswerValue::Date(s) | AnswerValue::DateTime(s) | AnswerValue::Time(s) | AnswerValue::String(s) => json!(s),
        AnswerValue::Coding(c) => serde_json::to_value(c).expect("a Coding serialises"),
        AnswerValue::Quantity(q) => serde_json::to_value(q).expect("a Quantity serialises"),
    };
    let mut m = Map::new();
    m.insert(format!("value{}", v.suffix()), inner);
    Value::Object(m)
}

/// A table cell: one line, with the characters that would break a Markdown table escaped.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

/// How the loader's reasons read in a cell: each distinct reason once, with the first linkId it named.
fn refused_text(refused: &[(String, Option<String>, usize)]) -> String {
    let shown: Vec<String> = refused
        .iter()
        .map(|(reason, link, n)| match (link, n) {
            (Some(l), 1) => format!("{reason} (linkId '{l}')"),
            (Some(l), n) => format!("{reason} (linkId '{l}' and {} more)", n - 1),
            (None, _) => reason.clone(),
        })
        .collect();
    format!("no: {}", shown.join("; "))
}

/// How many rows pass `f`.
fn count(rows: &[Row], f: impl Fn(&Row) -> bool) -> usize {
    rows.iter().filter(|r| f(r)).count()
}

/// Most frequent first, then alphabetical.
fn by_count(m: BTreeMap<&str, usize>) -> Vec<(&str, usize)> {
    let mut v: Vec<(&str, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// The whole document, from the rows.
fn render(rows: &[Row]) -> String {
    let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unread: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        r.refused.iter().for_each(|(reason, _, _)| *reasons.entry(reason).or_default() += 1);
        r.unread.iter().for_each(|u| *unread.entry(u).or_default() += 1);
    }

    let mut d = String::new();
    d.push_str("# Public forms conformance\n\n");
    d.push_str(
        "Which real-world FHIR R4 Questionnaires Downtime Kit takes as they are. The forms are in \
         `tests/data/forms-public/`, one folder per source; `tests/data/forms-public/SOURCES.md` gives each file's \
         source and licence.\n\n",
    );
    d.push_str(
        "This file is generated by the test `forms_conformance` (tests/it/forms_conformance.rs); do not edit it. ",
    );
    d.push_str("Regenerate it with:\n\n");
    d.push_str(&format!("    {SCRIPT}\n\n"));
    d.push_str(&format!(
        "(the core's part alone is `{COMMAND}`; the script also runs the UI test that fills the UI column).\n\n"
    ));
    d.push_str(
        "The test fails when this file is out of date, and when a form this file says loads no longer loads \
         (run the command again to accept a change that was meant).\n\n",
    );
    d.push_str("What the columns mean:\n\n");
    d.push_str(
        "- **loads**: `dtk forms check` accepts the file unchanged (`forms::load_file`); otherwise each distinct \
         reason the loader gives, with the first linkId it names.\n",
    );
    d.push_str(
        "- **validates**: a response the test writes (every enabled required item, and every item the form extracts \
         from, answered with its first listed option or a value of its type inside its limits) passes \
         `forms::validate_response`.\n",
    );
    d.push_str("- **prints**: the blank paper form renders to PDF (`print::blank_forms`).\n");
    d.push_str(
        "- **extracts**: `forms::extract` gives FHIR resources from that response, or the form defines no \
         extraction (n/a).\n",
    );
    d.push_str(
        "- **UI**: the app's form screen, opened on the form as the core hands it over, shows every item with its \
         control (`ui/src/lib/forms/conformance.test.ts`, run by `npm run ui:test`): how many items it showed, how \
         many wait for their enableWhen (or enableWhenExpression) to hold, and how many are hidden \
         (questionnaire-hidden); \"no\" names the items missing from the screen.\n",
    );
    d.push_str(
        "- **extensions not read**: extensions in the file that neither the forms engine nor the form screen \
         reads, by the last part of their URL. A form can load while these are dropped without a word.\n\n",
    );

    d.push_str("## Totals\n\n| check | forms |\n| --- | --- |\n");
    d.push_str(&format!("| in the corpus | {} from {} sources |\n", rows.len(), sources.len()));
    d.push_str(&format!("| load | {} |\n", count(rows, |r| r.loads())));
    d.push_str(&format!("| validate | {} |\n", count(rows, |r| r.validates.ok)));
    d.push_str(&format!("| print | {} |\n", count(rows, |r| r.prints.ok)));
    d.push_str(&format!("| extract (or define no extraction) | {} |\n", count(rows, |r| r.extracts.ok)));
    d.push_str(&format!(
        "| all four | {} |\n",
        count(rows, |r| r.loads() && r.validates.ok && r.prints.ok && r.extracts.ok)
    ));
    d.push_str(&format!("| UI renders every item | {} |\n", count(rows, |r| r.ui.ok)));
    d.push_str(&format!(
        "| all five | {} |\n\n",
        count(rows, |r| r.loads() && r.validates.ok && r.prints.ok && r.extracts.ok && r.ui.ok)
    ));

    d.push_str("## Why forms are refused\n\nEach reason the loader gave, and how many forms it refused.\n\n");
    d.push_str("| reason | forms |\n| --- | --- |\n");
    for (reason, n) in by_count(reasons) {
        d.push_str(&format!("| {} | {n} |\n", cell(reason)));
    }
    d.push_str("\n## Extensions not read\n\n| extension | forms |\n| --- | --- |\n");
    for (ext, n) in by_count(unread) {
        d.push_str(&format!("| {} | {n} |\n", cell(ext)));
    }

    d.push_str(&format!("\n{FORMS_HEADING}\n\n"));
    d.push_str("| source | file | name | items | loads | validates | prints | extracts | UI | extensions not read |\n");
    d.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for r in rows {
        let loads = if r.loads() { "yes".to_string() } else { refused_text(&r.refused) };
        d.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.source,
            r.file,
            cell(&r.name),
            r.items.map_or("—".to_string(), |n| n.to_string()),
            cell(&loads),
            cell(&r.validates.text),
            cell(&r.prints.text),
            cell(&r.extracts.text),
            cell(&r.ui.text),
            cell(&r.unread.join(", ")),
        ));
    }

    d.push_str(&format!(
        "\n## How the UI column is made\n\nThis test writes `{SCREEN_FORMS}` (each loaded form as the core hands it \
         to the screen); the UI test draws each one on the real form screen and writes `{SCREEN_RENDER}`, which \
         this test reads. `{SCRIPT}` runs the three steps in order. The screen is only offered forms the core \
         loaded, so a refused form never reaches it.\n"
    ));
    d
}

/// (source, file) of each form the table at `text` says loads.
fn loading_in(text: &str) -> BTreeSet<(String, String)> {
    let Some(start) = text.find(FORMS_HEADING) else { return BTreeSet::new() };
    text[start..]
        .lines()
        .filter(|l| l.starts_with("| "))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells.len() > 4 && cells[4] == "yes").then(|| (cells[0].to_string(), cells[1].to_string()))
        })
        .collect()
}

fn all_rows() -> Vec<Row> {
    let rendered: Map<String, Value> = std::fs::read(root().join(SCREEN_RENDER))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut rows: Vec<Row> =
        corpus_files(&root().join(CORPUS)).iter().map(|(source, file, path)| check_form(source, file, path)).collect();
    for row in rows.iter_mut().filter(|r| r.loads()) {
        row.ui = ui_check(rendered.get(&format!("{}/{}", row.source, row.file)));
    }
    rows
}

/// The UI column of one loaded form, from what the UI test saw.
fn ui_check(seen: Option<&Value>) -> Check {
    let Some(seen) = seen else { return Check::fail(format!("not drawn yet: run {SCRIPT}")) };
    let list = |key: &str| -> Vec<String> {
        seen.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let missing = list("missing");
    if !missing.is_empty() {
        return Check::fail(format!("no: not on screen: {}", missing.join(", ")));
    }
    let shown = seen.get("shown").and_then(Value::as_u64).unwrap_or(0);
    let mut text = format!("yes ({shown} shown");
    for (key, what) in [("conditional", "shown when their condition holds"), ("hidden", "hidden")] {
        let n = list(key).len();
        if n > 0 {
            text.push_str(&format!(", {n} {what}"));
        }
    }
    text.push(')');
    Check::pass(text)
}

/// The forms the core loaded, as the screen receives them, keyed by "source/file" ([`SCREEN_FORMS`]).
fn screen_forms(rows: &[Row]) -> String {
    let map: Map<String, Value> =
        rows.iter().filter_map(|r| Some((format!("{}/{}", r.source, r.file), r.screen.clone()?))).collect();
    let mut text = serde_json::to_string_pretty(&Value::Object(map)).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn forms_conformance_table_is_current_and_no_form_stopped_loading() {
    let rows = all_rows();
    let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    assert!(
        rows.len() >= 30 && sources.len() >= 4,
        "the corpus has {} forms from {} sources",
        rows.len(),
        sources.len()
    );
    let doc_path = root().join(DOC);
    let committed = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let fresh = render(&rows);
    let screen_path = root().join(SCREEN_FORMS);
    let screen_committed = std::fs::read_to_string(&screen_path).unwrap_or_default();
    let screen_fresh = screen_forms(&rows);
    if std::env::var(UPDATE_ENV).as_deref() == Ok("1") {
        std::fs::write(&doc_path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
        std::fs::write(&screen_path, &screen_fresh).unwrap_or_else(|e| panic!("{}: {e}", screen_path.display()));
    }
    let stopped: Vec<String> = loading_in(&committed)
        .into_iter()
        .filter_map(|(source, file)| {
            let row = rows.iter().find(|r| r.source == source && r.file == file)?;
            (!row.loads()).then(|| format!("{source}/{file}: {}", refused_text(&row.refused)))
        })
        .collect();
    assert!(
        stopped.is_empty(),
        "forms that {DOC} says load no longer load:\n{}\n(if that was meant, run `{COMMAND}` again)",
        stopped.join("\n")
    );
    assert!(
        committed == fresh || std::env::var(UPDATE_ENV).as_deref() == Ok("1"),
        "{DOC} is out of date with the corpus results: run `{SCRIPT}` and commit it"
    );
    assert!(
        screen_committed == screen_fresh || std::env::var(UPDATE_ENV).as_deref() == Ok("1"),
        "{SCREEN_FORMS} is out of date with what the core loads: run `{SCRIPT}` and commit it"
    );
}

/// The runner itself, on the forms the app ships: they load, and the response it writes validates, prints and
/// extracts. So a "no" in the table is the engine's answer about that form, not a fault of the generated response.
#[test]
fn forms_conformance_runner_passes_every_shipped_form() {
    let dir = root().join("forms");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("forms/ readable")
        .map(|e| e.expect("a forms/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the shipped forms were found");
    for path in files {
        let file = path.file_name().expect("a file name").to_string_lossy().to_string();
        let row = check_form("forms", &file, &path);
        assert!(row.loads(), "{file}: {}", refused_text(&row.refused));
        for (what, c) in [("validates", &row.validates), ("prints", &row.prints), ("extracts", &row.extracts)] {
            assert!(c.ok, "{file} {what}: {}", c.text);
        }
    }
}

#[test]
fn forms_conformance_reads_back_which_forms_load_from_the_table() {
    let rows = vec![
        Row {
            source: "a".into(),
            file: "x.json".into(),
            name: "X | Y".into(),
            items: Some(2),
            refused: Vec::new(),
            validates: Check::pass("yes"),
            prints: Check::pass("yes (1 page)"),
            extracts: Check::pass("n/a (defines none)"),
            ui: Check::pass("yes (2 shown)"),
            screen: None,
            unread: vec!["itemControl".into()],
        },
        Row {
            source: "b".into(),
            file: "z.json".into(),
            name: "Z".into(),
            items: None,
            refused: vec![("answerValueSet is not supported".into(), Some("q|1".into()), 3)],
            validates: Check::not_run(),
            prints: Check::not_run(),
            extracts: Check::not_run(),
            ui: Check::not_run(),
            screen: None,
            unread: Vec::new(),
        },
    ];
    let doc = render(&rows);
    assert_eq!(loading_in(&doc), BTreeSet::from([("a".to_string(), "x.json".to_string())]));
    assert!(doc.contains("answerValueSet is not supported (linkId 'q\\|1' and 2 more)"), "{doc}");
    assert!(doc.contains(SCRIPT), "the table names the command that regenerates it");
}
