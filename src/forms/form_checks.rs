//! Checks that need the whole form, run once every item is read: enableWhen targets that exist and can be compared,
//! the partners of the verbal-order rule, and definitions that fit their extraction context and fill what the
//! resource requires. (Where the clinical time comes from is `clinical_time.rs`.)

use std::collections::HashMap;

use serde_json::Value;

use super::definition::{clinical_time_element, element_spec, parse_definition, required_elements};
use super::item::{ContextRef, Pending};
use super::model::*;
use super::problem::{short, Loader};

/// Runs every whole-form check, in the order their problems are reported.
pub(crate) fn check_whole(loader: &mut Loader, form: &Form, pending: &Pending) {
    let all = form.all_items();
    for item in &all {
        enable_when_targets(loader, form, item);
    }
    verbal_order_partners(loader, &all);
    component_parents(
        loader,
        form.items(),
        form.source.get("code").and_then(Value::as_array).is_some_and(|c| !c.is_empty()),
    );
    let used = definitions(loader, form, pending);
    contexts(loader, form, &all, &used);
}

/// An `observationExtract` `component` becomes part of the Observation of its enclosing group (or of the
/// questionnaire, for a top-level item), whose `code` is that Observation's code: without one there is nothing to
/// attach it to.
fn component_parents(loader: &mut Loader, items: &[Item], parent_coded: bool) {
    for item in items {
        if item.observation_component && !parent_coded {
            loader.problem(
                Some(item.link_id.as_str()),
                "observationExtract 'component' needs a code on the enclosing group (or on the questionnaire for a \
                 top-level item): the code of the Observation it is a component of",
            );
        }
        component_parents(loader, &item.items, !item.code.is_empty());
    }
}

/// Each enableWhen of `item` names another question of the form, with an answer of its type, and compares by order
/// only where the target's answers have one.
fn enable_when_targets(loader: &mut Loader, form: &Form, item: &Item) {
    let link = Some(item.link_id.as_str());
    for ew in &item.enable_when {
        let q = short(&ew.question);
        if ew.question == item.link_id {
            loader.problem(link, "enableWhen refers to the item itself");
            continue;
        }
        let Some(target) = form.item(&ew.question) else {
            loader.problem(link, format!("enableWhen refers to unknown linkId '{q}'"));
            continue;
        };
        if !target.kind.is_question() {
            loader
                .problem(link, format!("enableWhen refers to '{q}', a {} item that has no answer", target.kind.code()));
            continue;
        }
        if ew.operator == Operator::Exists {
            continue;
        }
        if !answer_matches_kind(&ew.answer, target.kind, &target.answer_options) {
            loader.problem(
                link,
                format!("enableWhen answer{} does not match '{q}', a {} item", ew.answer.suffix(), target.kind.code()),
            );
            continue;
        }
        let option_ordered = target
            .answer_options
            .first()
            .is_some_and(|o| matches!(o.value, AnswerValue::Integer(_) | AnswerValue::Date(_) | AnswerValue::Time(_)));
        let ordered = option_ordered
            || matches!(
                target.kind,
                ItemType::Integer
                    | ItemType::Decimal
                    | ItemType::Quantity
                    | ItemType::Date
                    | ItemType::DateTime
                    | ItemType::Time
            );
        if matches!(ew.operator, Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le) && !ordered {
            loader.problem(
                link,
                format!("enableWhen compares '{q}' with an order, but a {} item has none", target.kind.code()),
            );
        }
    }
}

/// The verbal-order rule needs exactly one prescriber and one read-back item, and answer options it can recognise.
fn verbal_order_partners(loader: &mut Loader, all: &[&Item]) {
    let count = |r: ClinicalRule| all.iter().filter(|i| i.has_rule(r)).count();
    for item in all.iter().filter(|i| i.has_rule(ClinicalRule::VerbalOrderReadback)) {
        let link = Some(item.link_id.as_str());
        if count(ClinicalRule::Prescriber) != 1 || count(ClinicalRule::ReadBack) != 1 {
            loader.problem(link, "verbal-order-readback needs exactly one prescriber item and one read-back item");
        }
        let has_codes = item.answer_options.iter().any(|o| match &o.value {
            AnswerValue::Coding(c) => is_verbal_or_telephone(c),
            _ => false,
        });
        if !has_codes {
            loader.problem(
                link,
                format!(
                    "verbal-order-readback needs answer options with codes 'verbal' or 'telephone' from {}",
                    ORDER_MODE_SYSTEM
                ),
            );
        }
    }
}

/// Element paths each extraction context fills, with whether the item filling it is required.
type Used = HashMap<ContextRef, Vec<(&'static str, bool)>>;

/// Definitions: inside a context of the same type, a supported path, a compatible item type.
fn definitions(loader: &mut Loader, form: &Form, pending: &Pending) -> Used {
    let mut used = Used::new();
    for (link_id, ctx) in &pending.definitions {
        let link = Some(link_id.as_str());
        let Some(item) = form.item(link_id) else {
            continue;
        };
        let Some(def) = &item.definition else {
            continue;
        };
        let Some((ty, ctx_link)) = ctx else {
            // A definition naming the effective time outside any context says where the clinical time is
            // (`clinical_time.rs`); nothing is extracted from it, so it needs no context.
            if clinical_time_element(def).is_some() {
                continue;
            }
            loader.problem(
                link,
                "definition without an itemExtractionContext on the questionnaire or an enclosing group",
            );
            continue;
        };
        let Some((def_ty, path)) = parse_definition(def) else {
            loader.problem(
                link,
                "definition must look like http://hl7.org/fhir/StructureDefinition/<Type>#<Type>.<element>",
            );
            continue;
        };
        if def_ty != ty {
            let d = short(def_ty);
            loader.problem(link, format!("definition is for {d} but the extraction context is {ty}"));
            continue;
        }
        let Some(spec) = element_spec(ty, path) else {
            let p = short(path);
            loader.problem(link, format!("definition element {ty}.{p} is not supported"));
            continue;
        };
        if !spec.conv.accepts(item) {
            loader.problem(link, format!("a {} item cannot fill {ty}.{path}", item.kind.code()));
            continue;
        }
        if item.repeats && !spec.is_list() {
            loader.problem(link, format!("{ty}.{path} takes one value but the item repeats"));
        }
        used.entry((ty.clone(), ctx_link.clone())).or_default().push((spec.path, item.required));
    }
    used
}

/// Contexts must be able to fill the resource's required elements.
fn contexts(loader: &mut Loader, form: &Form, all: &[&Item], used: &Used) {
    let mut contexts: Vec<(String, Option<String>)> = Vec::new();
    if let Some(t) = &form.extraction_context {
        contexts.push((t.clone(), None));
    }
    for i in all {
        if let Some(t) = &i.extraction_context {
            contexts.push((t.clone(), Some(i.link_id.clone())));
        }
    }
    for (ty, ctx_link) in contexts {
        let paths = used.get(&(ty.clone(), ctx_link.clone())).cloned().unwrap_or_default();
        for need in required_elements(&ty, &paths) {
            let ok = paths.iter().any(|(p, req)| *p == need && *req);
            if !ok {
                loader.problem(ctx_link.as_deref(), format!("{ty} extraction needs a required item with definition http://hl7.org/fhir/StructureDefinition/{ty}#{ty}.{need}"));
            }
        }
    }
}
