//! Finding a form's clinical time (when it happened, not when it was typed) once every item is read: the item marked
//! with our extension, else an item whose definition names the effective or occurrence time, else the one required
//! top-level dateTime item, else nobody's, and the app asks for it (ARCHITECTURE.md "Forms: the clinical time").
//!
//! A form written elsewhere never carries our extension, so the standard signals come first after it; a signal
//! that points at an item unable to hold the time (optional, conditional, repeating) is refused naming the item,
//! because guessing past it would chart the time in two places. The extension stays the explicit override either
//! way: `true` on an item, `false` on an item to keep it from being taken, `false` on the questionnaire to always ask.

use serde_json::{Map, Value};

use super::item::{Pending, TimeCandidate};
use super::model::{ClinicalTime, FoundBy, EXT_CLINICAL_TIME};
use super::problem::{short, Loader};

/// The clinical-time extension on the questionnaire itself: only `false` ("ask for the time") means something there.
pub(crate) fn questionnaire_mark(loader: &mut Loader, exts: &[(String, &Map<String, Value>)]) -> Option<bool> {
    let (_, m) = exts.iter().find(|(url, _)| url == EXT_CLINICAL_TIME)?;
    match m.get("valueBoolean").and_then(Value::as_bool) {
        Some(false) => Some(false),
        Some(true) => {
            loader.problem(
                None,
                "clinical-time on the questionnaire can only be false (no item holds the clinical time: ask for it); \
                 mark the item that holds it instead",
            );
            None
        }
        None => {
            loader.problem(None, "clinical-time needs valueBoolean");
            None
        }
    }
}

/// Where the clinical time comes from, reporting every reason the form's own signals cannot be used.
pub(crate) fn resolve(loader: &mut Loader, pending: &Pending, form_mark: Option<bool>) -> ClinicalTime {
    let marked: Vec<&TimeCandidate> = pending.time_candidates.iter().filter(|c| c.marked == Some(true)).collect();
    if let Some((first, rest)) = marked.split_first() {
        for c in &marked {
            report_unfit(loader, c, "");
        }
        for r in rest {
            loader.problem(
                Some(r.link_id.as_str()),
                format!("a second clinical-time item (the first is '{}')", first.link_id),
            );
        }
        if form_mark == Some(false) {
            loader.problem(
                None,
                format!(
                    "clinical-time false on the questionnaire says no item holds the clinical time, but item '{}' is \
                     marked as holding it",
                    short(&first.link_id)
                ),
            );
        }
        return ClinicalTime::Item { link_id: first.link_id.clone(), found_by: FoundBy::Extension };
    }
    if form_mark == Some(false) {
        return ClinicalTime::Asked;
    }
    let pool = || pending.time_candidates.iter().filter(|c| c.marked.is_none());
    let defined: Vec<&TimeCandidate> = pool().filter(|c| c.by_definition.is_some()).collect();
    if let Some((first, rest)) = defined.split_first() {
        let element = first.by_definition.as_deref().unwrap_or_default();
        let why = format!(
            " (its definition {} says it holds the clinical time: fix the item, or mark it with the clinical-time \
             extension valueBoolean false so that the app asks for the time)",
            short(element)
        );
        report_unfit(loader, first, &why);
        for r in rest {
            loader.problem(
                Some(r.link_id.as_str()),
                format!(
                    "a second item whose definition says it holds the clinical time (the first is '{}'): mark the \
                     one that does with the clinical-time extension",
                    first.link_id
                ),
            );
        }
        return ClinicalTime::Item { link_id: first.link_id.clone(), found_by: FoundBy::Definition };
    }
    let top: Vec<&TimeCandidate> = pool().filter(|c| c.top_level && c.unfit.is_empty()).collect();
    match top.as_slice() {
        [only] => ClinicalTime::Item { link_id: only.link_id.clone(), found_by: FoundBy::TopLevelItem },
        // None, or several with nothing to choose between them: the nurse says when it happened.
        _ => ClinicalTime::Asked,
    }
}

/// Each reason `c` cannot hold the clinical time, named by its linkId, with `why` after each.
fn report_unfit(loader: &mut Loader, c: &TimeCandidate, why: &str) {
    let link = Some(c.link_id.as_str());
    for reason in &c.unfit {
        loader.problem(link, format!("{reason}{why}"));
    }
    if let Some(group) = &c.optional_group {
        loader.problem(
            link,
            format!(
                "the clinical-time item sits in group '{}', which a response may leave out: make that group \
                 required, without enableWhen{why}",
                short(group)
            ),
        );
    }
}
