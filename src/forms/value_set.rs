//! `answerValueSet` without a terminology server: the ValueSets a form can name (its own `contained` ones by `#id`,
//! and ValueSet files of the forms folder by `url`), and their concepts from `expansion.contains` or from a `compose`
//! that lists its concepts.
//!
//! A downtime workstation has no network, so a ValueSet that only a terminology server could expand (a compose that
//! includes a whole code system, a filter or another ValueSet) is refused at load, naming the linkId and the
//! ValueSet, rather than shown as an empty list.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::Coding;
use super::problem::short;
use super::value::coding;

/// ValueSet files of a forms folder, by `url` (and `url|version` when they give a version), for forms that name
/// them in `answerValueSet`. A form's `contained` ValueSets are looked up in the form itself.
#[derive(Debug, Clone, Default)]
pub struct ValueSets {
    by_url: BTreeMap<String, Value>,
}

impl ValueSets {
    /// Adds a ValueSet resource. `Err` names why it cannot be used (no url, or a second file with the same url).
    pub fn insert(&mut self, vs: Value) -> Result<(), String> {
        let Some(url) = vs.get("url").and_then(Value::as_str).filter(|u| !u.trim().is_empty()).map(str::to_string)
        else {
            return Err("ValueSet has no url, so no form can name it in answerValueSet".to_string());
        };
        let version = vs.get("version").and_then(Value::as_str).map(str::to_string);
        if self.by_url.contains_key(&url) {
            return Err(format!("a second ValueSet with url '{}'; not loaded", short(&url)));
        }
        if let Some(v) = version {
            self.by_url.insert(format!("{url}|{v}"), vs.clone());
        }
        self.by_url.insert(url, vs);
        Ok(())
    }

    fn get(&self, canonical: &str) -> Option<&Value> {
        self.by_url.get(canonical)
    }
}

/// Where an item's `answerValueSet` is looked up: the questionnaire's contained resources, then the folder's files.
pub(crate) struct ValueSetSources<'a> {
    pub(crate) contained: &'a [Value],
    pub(crate) folder: &'a ValueSets,
}

/// One concept of a ValueSet: its coding, and the `ordinalValue`/`itemWeight` extension on it if any.
#[derive(Debug, Clone)]
pub(crate) struct Concept {
    pub(crate) coding: Coding,
    pub(crate) extensions: Vec<Value>,
}

impl ValueSetSources<'_> {
    /// The concepts of the ValueSet `reference` names (`#id` or a url, with or without `|version`), or why not.
    pub(crate) fn concepts(&self, reference: &str) -> Result<Vec<Concept>, String> {
        let named = || format!("answerValueSet '{}'", short(reference));
        let vs = if let Some(id) = reference.strip_prefix('#') {
            self.contained_where(|m| m.get("id").and_then(Value::as_str) == Some(id))
        } else {
            let url = reference.split('|').next().unwrap_or(reference);
            self.contained_where(|m| {
                m.get("url").and_then(Value::as_str) == Some(url)
                    && (url == reference || m.get("version").and_then(Value::as_str) == reference.split('|').nth(1))
            })
            .or_else(|| self.folder.get(reference))
        };
        let Some(vs) = vs.and_then(Value::as_object) else {
            return Err(format!(
                "{} is neither a contained ValueSet nor a ValueSet file in the forms folder \
                 (there is no terminology server)",
                named()
            ));
        };
        let concepts = expand(vs).map_err(|why| format!("{}: {why}", named()))?;
        if concepts.is_empty() {
            return Err(format!("{} has no concepts", named()));
        }
        Ok(concepts)
    }

    fn contained_where(&self, pick: impl Fn(&Map<String, Value>) -> bool) -> Option<&Value> {
        self.contained.iter().find(|c| {
            c.as_object().is_some_and(|m| m.get("resourceType").and_then(Value::as_str) == Some("ValueSet") && pick(m))
        })
    }
}

/// The concepts of a ValueSet: its `expansion.contains` if it has one, else the concepts its `compose` lists.
fn expand(vs: &Map<String, Value>) -> Result<Vec<Concept>, String> {
    if let Some(expansion) = vs.get("expansion") {
        let mut out = Vec::new();
        contains(expansion.get("contains"), &mut out)?;
        return Ok(out);
    }
    let Some(compose) = vs.get("compose").and_then(Value::as_object) else {
        return Err("the ValueSet has neither an expansion nor a compose".to_string());
    };
    let mut out = Vec::new();
    for include in listed(compose.get("include"), "compose.include")? {
        out.extend(explicit(include, "include")?);
    }
    if compose.get("exclude").is_some() {
        let excluded = listed(compose.get("exclude"), "compose.exclude")?
            .into_iter()
            .map(|e| explicit(e, "exclude"))
            .collect::<Result<Vec<_>, _>>()?;
        out.retain(|c| !excluded.iter().flatten().any(|x| x.coding.same_concept(&c.coding)));
    }
    Ok(out)
}

fn listed<'v>(v: Option<&'v Value>, what: &str) -> Result<Vec<&'v Map<String, Value>>, String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect::<Vec<_>>())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{what} must be a list of objects"))
}

/// The concepts one `compose.include` (or `exclude`) lists, with its system; a whole system, a filter or another
/// ValueSet would need a terminology server.
fn explicit(part: &Map<String, Value>, what: &str) -> Result<Vec<Concept>, String> {
    if part.contains_key("filter") || part.contains_key("valueSet") {
        return Err(format!(
            "compose.{what} uses a filter or another ValueSet, which needs a terminology server; list the concepts"
        ));
    }
    let system = part.get("system").and_then(Value::as_str);
    let concepts = part.get("concept").and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or_else(|| {
        format!(
            "compose.{what} names the whole code system '{}', which needs a terminology server; list the concepts",
            short(system.unwrap_or(""))
        )
    })?;
    concepts
        .iter()
        .map(|c| {
            let m = c.as_object().ok_or_else(|| format!("compose.{what}.concept must be objects"))?;
            let code = m.get("code").and_then(Value::as_str).filter(|s| !s.is_empty());
            let code = code.ok_or_else(|| format!("compose.{what}.concept without code"))?;
            Ok(Concept {
                coding: Coding {
                    system: system.map(str::to_string),
                    code: Some(code.to_string()),
                    display: m.get("display").and_then(Value::as_str).map(str::to_string),
                },
                extensions: extensions(m),
            })
        })
        .collect()
}

/// `expansion.contains`, depth first (nested `contains` are part of the list; abstract entries are headings, not
/// answers). The JSON depth limit of the loader bounds the recursion.
fn contains(v: Option<&Value>, out: &mut Vec<Concept>) -> Result<(), String> {
    let Some(v) = v else {
        return Ok(());
    };
    let arr = v.as_array().ok_or("expansion.contains must be a list")?;
    for c in arr {
        let m = c.as_object().ok_or("expansion.contains must be objects")?;
        if m.get("abstract").and_then(Value::as_bool) != Some(true) {
            let coding = coding(c).filter(|k| k.code.is_some()).ok_or("expansion.contains entry without code")?;
            out.push(Concept { coding, extensions: extensions(m) });
        }
        contains(m.get("contains"), out)?;
    }
    Ok(())
}

fn extensions(m: &Map<String, Value>) -> Vec<Value> {
    m.get("extension").and_then(Value::as_array).cloned().unwrap_or_default()
}
