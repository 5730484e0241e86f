//! Searching a FHIR server for the resources a read-back wants (issue 15 item 4): the GET ([`FhirRead`]), the
//! searches that find each resource by the criterion that made it once, a few on the network at once, and the count
//! of what they found. `readback.rs` says what is wanted and records the results.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::FhirError;

/// Reads from a FHIR server: one GET of a search URL (or a `next` link the server gave), its JSON body returned.
pub trait FhirRead {
    fn get(&self, url: &str) -> Result<Value, FhirError>;
}

/// The plain client: `ureq` with rustls and the bundled web roots, a timeout per request, no credentials.
pub struct UreqRead {
    agent: ureq::Agent,
}

impl Default for UreqRead {
    fn default() -> Self {
        UreqRead { agent: ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(120)).build() }
    }
}

impl FhirRead for UreqRead {
    fn get(&self, url: &str) -> Result<Value, FhirError> {
        match self.agent.get(url).set("Accept", "application/fhir+json").call() {
            Ok(r) => r.into_json().map_err(|e| FhirError::ReadBack(format!("the answer is not JSON: {e}"))),
            Err(ureq::Error::Status(code, _)) => Err(FhirError::ReadBack(format!("the server answered HTTP {code}"))),
            Err(e) => Err(FhirError::Unreachable(e.to_string())),
        }
    }
}

/// The longest search URL sent: servers and proxies commonly accept 2,048 characters; ids are cut into as many
/// searches as that needs.
const MAX_URL: usize = 2000;

/// How a resource is found: by its identifier (system, value) or by its id (a `PUT` to a deterministic id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum By {
    Identifier(String, String),
    Id(String),
}

/// A resource the read-back looks for: its type and how it is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Wanted {
    pub(super) resource_type: String,
    pub(super) by: By,
}

/// Percent-encodes a search value for a query string (everything but unreserved characters and `:`), after FHIR's
/// own escaping of `\`, `,`, `$` and `|` inside a value.
fn search_value(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '$' | '|') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    encode(&escaped)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The search values of a group, as `system|value` (identifiers) or the id.
fn criterion(by: &By) -> String {
    match by {
        By::Identifier(system, value) => format!("{}%7C{}", search_value(system), search_value(value)),
        By::Id(id) => search_value(id),
    }
}

/// Searches on the network at once: each waits mostly on the server, and a few keep its workers busy without
/// looking like a flood to an EHR just back from an outage (the poster's bound, `POSTS_IN_FLIGHT`).
pub const READS_IN_FLIGHT: usize = 4;

/// Answers asked per identifier search: the resource and, in the same page, a copy of it; more copies follow the
/// server's `next` links.
const PER_IDENTIFIER: usize = 10;

/// One search the read-back sends: its first URL, the resource type it searches and how many values it names.
struct Query {
    url: String,
    resource_type: String,
    values: usize,
    /// The one resource a search by identifier looks for (what it finds counts only for that one); `None` for a
    /// search by ids.
    only: Option<Wanted>,
}

/// The searches that find every resource of `wanted`. A resource found by identifier is searched for alone
/// (`Type?identifier=system|value`): a server answers one token value from its index, whereas an OR list of values
/// can cost a scan of every index row of the type (helios-hfs: BENCHMARKS.md "Why the read-back slowed down"), which
/// on an EHR holding millions of resources is a scan of millions per search. Resources `PUT` to a deterministic id
/// are searched for several at a time (`Type?_id=a,b,…`, up to [`MAX_URL`] characters): an id is the resource's own
/// key on every server.
fn queries(base: &str, wanted: &HashSet<Wanted>) -> Vec<Query> {
    let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut sorted: Vec<&Wanted> = wanted.iter().collect();
    sorted.sort();
    for w in sorted {
        match &w.by {
            By::Id(id) => ids.entry(w.resource_type.as_str()).or_default().push(id),
            by @ By::Identifier(..) => out.push(Query {
                url: format!(
                    "{base}/{}?identifier={}&_count={PER_IDENTIFIER}&_total=none&_elements=identifier",
                    w.resource_type,
                    criterion(by)
                ),
                resource_type: w.resource_type.clone(),
                values: 1,
                only: Some(w.clone()),
            }),
        }
    }
    for (resource_type, list) in ids {
        let head = format!("{base}/{resource_type}?_id=");
        let mut values: Vec<String> = Vec::new();
        let mut length = head.len();
        let mut flush = |values: &mut Vec<String>| {
            // Twice the ids asked for, so a copy on the server comes back in the same page.
            let url =
                format!("{head}{}&_count={}&_total=none&_elements=identifier", values.join(","), values.len() * 2);
            out.push(Query { url, resource_type: resource_type.to_string(), values: values.len(), only: None });
            values.clear();
        };
        for id in list {
            let value = search_value(id);
            if !values.is_empty() && length + value.len() + 1 + 48 > MAX_URL {
                flush(&mut values);
                length = head.len();
            }
            length += value.len() + 1;
            values.push(value);
        }
        if !values.is_empty() {
            flush(&mut values);
        }
    }
    out
}

/// Runs `f` on every item, [`READS_IN_FLIGHT`] at a time on threads of their own (the client is blocking); stops
/// starting new ones after the first error, which is returned.
fn in_flight<'a, T: Sync, R: Send>(
    items: &'a [T],
    f: &(dyn Fn(&'a T) -> Result<R, FhirError> + Sync),
) -> Result<Vec<R>, FhirError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (next, failed) = (AtomicUsize::new(0), AtomicBool::new(false));
    let work = || -> Result<Vec<R>, FhirError> {
        let mut out = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
            match f(item) {
                Ok(r) => out.push(r),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(out)
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..READS_IN_FLIGHT.min(items.len())).map(|_| scope.spawn(work)).collect();
        let mut all = Vec::with_capacity(items.len());
        let mut first_error = None;
        for w in workers {
            match w.join() {
                Ok(Ok(r)) => all.extend(r),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(FhirError::ReadBack("a search thread stopped".into()));
                }
            }
        }
        first_error.map_or(Ok(all), Err)
    })
}

/// One search, followed page by page through the server's `next` links (each must stay on the same server): the
/// resources of the searched type it matched.
fn pages(reader: &dyn FhirRead, base: &str, q: &Query) -> Result<Vec<Value>, FhirError> {
    let mut url = q.url.clone();
    let mut found = Vec::new();
    let mut followed = 0;
    loop {
        let mut page = match reader.get(&url)? {
            Value::Object(o) if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") => o,
            _ => return Err(FhirError::ReadBack("the answer to a search is not a Bundle".into())),
        };
        let entries = match page.remove("entry") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        for mut entry in entries {
            if entry.pointer("/search/mode").and_then(Value::as_str).unwrap_or("match") != "match" {
                continue;
            }
            let resource = entry.get_mut("resource").map(Value::take).unwrap_or(Value::Null);
            if resource.get("resourceType").and_then(Value::as_str) == Some(q.resource_type.as_str()) {
                found.push(resource);
            }
        }
        let next = page
            .get("link")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("url"))
            .and_then(Value::as_str);
        let Some(next) = next else { return Ok(found) };
        // A next link to another server would send the search (and, with credentials, the token) elsewhere.
        if !next.starts_with(&format!("{base}/")) && !next.starts_with(&format!("{base}?")) {
            return Err(FhirError::ReadBack("the server's next page is on another server".into()));
        }
        followed += 1;
        if followed > q.values + 100 {
            return Err(FhirError::ReadBack("the server keeps giving next pages".into()));
        }
        url = next.to_string();
    }
}

/// Counts, for every wanted resource, how many resources on the server carry its identifier (or id).
pub(super) struct Search<'a> {
    reader: &'a (dyn FhirRead + Sync),
    base: &'a str,
    /// What the last [`Search::run`] found, per wanted resource.
    pub(super) found: HashMap<Wanted, usize>,
    /// Resources found per type, over every run.
    pub(super) per_type: BTreeMap<String, usize>,
}

impl<'a> Search<'a> {
    pub(super) fn new(reader: &'a (dyn FhirRead + Sync), base: &'a str) -> Search<'a> {
        Search { reader, base, found: HashMap::new(), per_type: BTreeMap::new() }
    }

    /// Searches for every resource of `wanted` ([`queries`]), [`READS_IN_FLIGHT`] searches at a time.
    pub(super) fn run(&mut self, wanted: &HashSet<Wanted>) -> Result<(), FhirError> {
        let (reader, base) = (self.reader, self.base);
        let queries = queries(base, wanted);
        let answers = in_flight(&queries, &|q| Ok((q, pages(reader, base, q)?)))?;
        for (q, resources) in answers {
            // A search by one identifier counts what it found for that identifier alone: a resource carrying two
            // wanted identifiers is found by two searches, and is still one resource for each.
            let single: HashSet<Wanted>;
            let counted = match &q.only {
                Some(one) => {
                    single = HashSet::from([one.clone()]);
                    &single
                }
                None => wanted,
            };
            for resource in &resources {
                self.count(resource, &q.resource_type, counted);
            }
        }
        Ok(())
    }

    fn count(&mut self, resource: &Value, resource_type: &str, wanted: &HashSet<Wanted>) {
        let mut keys: Vec<Wanted> = Vec::new();
        if let Some(id) = resource.get("id").and_then(Value::as_str) {
            keys.push(Wanted { resource_type: resource_type.to_string(), by: By::Id(id.to_string()) });
        }
        let identifiers = match resource.get("identifier") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => vec![],
        };
        for i in identifiers {
            if let (Some(s), Some(v)) =
                (i.get("system").and_then(Value::as_str), i.get("value").and_then(Value::as_str))
            {
                keys.push(Wanted { resource_type: resource_type.to_string(), by: By::Identifier(s.into(), v.into()) });
            }
        }
        let mut matched = false;
        for k in keys {
            if wanted.contains(&k) {
                *self.found.entry(k).or_default() += 1;
                matched = true;
            }
        }
        if matched {
            *self.per_type.entry(resource_type.to_string()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::URN_SYSTEM;
    use serde_json::json;

    #[test]
    fn search_values_escape_fhir_separators_and_percent_encode() {
        assert_eq!(
            criterion(&By::Identifier("http://h.org/mrn".into(), "A,1|x".into())),
            "http:%2F%2Fh.org%2Fmrn%7CA%5C%2C1%5C%7Cx"
        );
        assert_eq!(criterion(&By::Id("ab-1".into())), "ab-1");
    }

    /// A server that answers from a fixed list, a page of `size` at a time with `next` links.
    struct Paged {
        resources: Vec<Value>,
        size: usize,
        asked: std::sync::Mutex<Vec<String>>,
    }

    impl FhirRead for Paged {
        fn get(&self, url: &str) -> Result<Value, FhirError> {
            self.asked.lock().expect("not poisoned").push(url.to_string());
            let offset: usize = url.split("&_offset=").nth(1).and_then(|o| o.parse().ok()).unwrap_or(0);
            // The resources whose identifier the search names.
            let matching: Vec<&Value> = self
                .resources
                .iter()
                .filter(|r| r.pointer("/identifier/0/value").and_then(Value::as_str).is_some_and(|v| url.contains(v)))
                .collect();
            let page: Vec<Value> =
                matching.iter().skip(offset).take(self.size).map(|r| json!({ "resource": r })).collect();
            let mut b = json!({ "resourceType": "Bundle", "type": "searchset", "entry": page });
            if offset + self.size < matching.len() {
                let first = url.split("&_offset=").next().unwrap_or(url);
                b["link"] = json!([{ "relation": "next", "url": format!("{first}&_offset={}", offset + self.size) }]);
            }
            Ok(b)
        }
    }

    /// 300 Observations wanted by identifier and 50 Provenances by id; a seventh of the Observations missing, one
    /// there twice.
    fn server_and_wanted(size: usize) -> (Paged, HashSet<Wanted>) {
        let uuid = |i: usize| format!("urn:uuid:{i:036}");
        let mut wanted: HashSet<Wanted> = (0..300)
            .map(|i| Wanted { resource_type: "Observation".into(), by: By::Identifier(URN_SYSTEM.into(), uuid(i)) })
            .collect();
        wanted.extend((0..50).map(|i| Wanted { resource_type: "Provenance".into(), by: By::Id(format!("p{i:040}")) }));
        let mut resources: Vec<Value> = (0..300)
            .filter(|i| i % 7 != 0)
            .map(|i| json!({ "resourceType": "Observation", "identifier": [{ "system": URN_SYSTEM, "value": uuid(i) }] }))
            .collect();
        resources.push(resources[0].clone());
        (Paged { resources, size, asked: Default::default() }, wanted)
    }

    #[test]
    fn pages_are_followed_urls_stay_bounded_and_copies_are_counted() {
        let (server, wanted) = server_and_wanted(1);
        let mut s = Search::new(&server, "http://ehr");
        s.run(&wanted).expect("search");
        let asked = server.asked.lock().expect("not poisoned");
        assert!(asked.iter().all(|u| u.len() <= MAX_URL + 20), "every URL is bounded");
        assert!(asked.iter().any(|u| u.contains("_offset=")), "next links are followed");
        let count = |i: usize| {
            s.found
                .get(&Wanted {
                    resource_type: "Observation".into(),
                    by: By::Identifier(URN_SYSTEM.into(), format!("urn:uuid:{i:036}")),
                })
                .copied()
                .unwrap_or(0)
        };
        assert_eq!((count(0), count(1), count(7)), (0, 2, 0));
        assert_eq!(s.per_type["Observation"], 300 - 43 + 1);
    }

    /// An OR list of identifiers (`identifier=a,b,…`) cost helios-hfs a scan of every index row of the type, growing
    /// with everything the server holds; one identifier per search is answered from its index. Ids (a resource's own
    /// key) still go several per search.
    #[test]
    fn each_identifier_is_searched_alone_and_ids_together() {
        let (server, wanted) = server_and_wanted(10);
        let mut s = Search::new(&server, "http://ehr");
        s.run(&wanted).expect("search");
        let asked = server.asked.lock().expect("not poisoned");
        let by_identifier: Vec<&String> = asked.iter().filter(|u| u.contains("?identifier=")).collect();
        assert_eq!(by_identifier.len(), 300, "one search per identifier");
        assert!(by_identifier.iter().all(|u| !u.contains(',') && !u.contains("%2C")), "one value each");
        let by_id: Vec<&String> = asked.iter().filter(|u| u.contains("?_id=")).collect();
        assert_eq!(by_id.len(), 2, "50 ids of 42 characters in URLs of at most {MAX_URL}: {by_id:?}");
        assert!(asked.iter().all(|u| u.contains("_total=none")), "no server counts what is not asked for");
    }

    #[test]
    fn fail_a_next_link_to_another_server() {
        struct Elsewhere;
        impl FhirRead for Elsewhere {
            fn get(&self, _: &str) -> Result<Value, FhirError> {
                Ok(
                    json!({ "resourceType": "Bundle", "link": [{ "relation": "next", "url": "http://evil/Observation" }] }),
                )
            }
        }
        let wanted = HashSet::from([Wanted { resource_type: "Observation".into(), by: By::Id("a".into()) }]);
        let mut s = Search::new(&Elsewhere, "http://ehr");
        let e = s.run(&wanted).expect_err("refused");
        assert!(e.to_string().contains("another server"), "{e}");
    }
}
