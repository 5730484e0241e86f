//! Guarded reading of JSON from outside (census bundles, responses, handoff manifests, configuration): size and
//! nesting limits are checked on the bytes before serde recurses, so hostile input cannot exhaust the stack, and an
//! object that gives a key twice is refused by name (serde_json would silently keep the last value, so two readers of
//! the same file could disagree on what it says).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Why some bytes were refused. Never quotes the content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// More bytes than the limit for this kind of file.
    #[error("the file is larger than the {limit_mib} MiB limit")]
    TooLarge { limit_mib: usize },
    /// Nested deeper than the limit.
    #[error("the JSON is nested deeper than {0} levels")]
    TooDeep(usize),
    /// Not JSON at all; line and column of the first error.
    #[error("not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    /// An object gives the same key twice; `path` is the JSON pointer of that object ("" for the top level).
    #[error("the key \"{key}\" is given twice in the object at {} (line {line}, column {column})", show_path(path))]
    DuplicateKey { key: String, path: String, line: usize, column: usize },
}

fn show_path(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

/// True when `bytes` nests arrays/objects deeper than `max`. Strings are skipped so brackets inside text do not count.
pub fn too_deep(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses `bytes` as JSON within `max_bytes` and `max_depth`.
pub fn parse_limited(bytes: &[u8], max_bytes: usize, max_depth: usize) -> Result<serde_json::Value, JsonError> {
    if bytes.len() > max_bytes {
        return Err(JsonError::TooLarge { limit_mib: max_bytes / (1024 * 1024) });
    }
    if too_deep(bytes, max_depth) {
        return Err(JsonError::TooDeep(max_depth));
    }
    check_unique_keys(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| JsonError::Syntax { line: e.line(), column: e.column() })
}

/// Refuses JSON in which any object gives a key twice, naming the key and where it is. Syntax errors are reported as
/// [`JsonError::Syntax`]. One pass over the bytes that builds nothing but each object's set of keys, so callers can
/// keep deserialising straight into their own types afterwards.
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), JsonError> {
    let found = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = Unique { found: &found, path: &mut Vec::new() }.deserialize(&mut de).and_then(|()| de.end());
    match (result, found.into_inner()) {
        (Ok(()), _) => Ok(()),
        (Err(e), Some((key, path))) => Err(JsonError::DuplicateKey { key, path, line: e.line(), column: e.column() }),
        (Err(e), None) => Err(JsonError::Syntax { line: e.line(), column: e.column() }),
    }
}

/// A key shown in an error: printable characters only, at most 64 of them (the key comes from outside).
fn shown_key(key: &str) -> String {
    key.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The walker of [`check_unique_keys`]: `path` holds the keys and indices down to the current value, and `found`
/// receives the duplicate key and its object's JSON pointer when one is seen.
struct Unique<'a, 'p> {
    found: &'a std::cell::RefCell<Option<(String, String)>>,
    path: &'p mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// Objects with more keys than this are checked through a hash set instead of a scan (a hostile object with many
/// keys must not cost quadratic time).
const SCAN_KEYS: usize = 16;

impl<'de> Visitor<'de> for Unique<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            self.path.push(i.to_string());
            let next = seq.next_element_seed(Unique { found: self.found, path: &mut *self.path });
            self.path.pop();
            match next? {
                Some(()) => i += 1,
                None => return Ok(()),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let repeated = if many.is_empty() && few.len() < SCAN_KEYS {
                few.contains(&key)
            } else {
                many.extend(few.drain(..));
                many.contains(&key)
            };
            if repeated {
                let pointer: String =
                    self.path.iter().map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1"))).collect();
                *self.found.borrow_mut() = Some((shown_key(&key), shown_key(&pointer)));
                return Err(de::Error::custom("duplicate key"));
            }
            self.path.push(shown_key(&key));
            let value = map.next_value_seed(Unique { found: self.found, path: &mut *self.path });
            self.path.pop();
            value?;
            if many.is_empty() && few.len() < SCAN_KEYS {
                few.push(key);
            } else {
                many.insert(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_deep_nesting_before_parsing() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse_limited(deep.as_bytes(), 1 << 20, 64), Err(JsonError::TooDeep(64)));
        assert!(parse_limited(br#"{"a":"[[[[[[[[[[[[[["}"#, 1 << 20, 2).is_ok(), "brackets in strings do not count");
        assert_eq!(parse_limited(b"{", 10, 4), Err(JsonError::Syntax { line: 1, column: 1 }));
        assert_eq!(parse_limited(&[b' '; 2 << 20], 1 << 20, 4), Err(JsonError::TooLarge { limit_mib: 1 }));
    }

    #[test]
    fn fail_duplicate_keys_named_with_their_object() {
        let err =
            parse_limited(br#"{"a": 1, "b": {"c": [{"x": 1}, {"x": 2, "x": 3}]}}"#, 1 << 20, 8).expect_err("refused");
        assert!(matches!(&err, JsonError::DuplicateKey { key, path, .. } if key == "x" && path == "/b/c/1"), "{err:?}");
        assert_eq!(err.to_string(), r#"the key "x" is given twice in the object at /b/c/1 (line 1, column 43)"#);
        let top = parse_limited(br#"{"ep": "a", "ep": "b"}"#, 1 << 20, 8).expect_err("refused");
        assert!(top.to_string().starts_with(r#"the key "ep" is given twice in the object at the top level"#), "{top}");
        // The same key written with an escape is still the same key.
        assert!(matches!(check_unique_keys(br#"{"a": 1, "a": 2}"#), Err(JsonError::DuplicateKey { .. })));
        // A key may repeat in different objects, and a large object is checked too.
        assert!(check_unique_keys(br#"[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]"#).is_ok());
        let many: Vec<String> = (0..100).map(|i| format!(r#""k{i}": {i}"#)).collect();
        assert!(check_unique_keys(format!("{{{}}}", many.join(",")).as_bytes()).is_ok());
        let repeated = format!(r#"{{{}, "k57": 0}}"#, many.join(","));
        assert!(
            matches!(check_unique_keys(repeated.as_bytes()), Err(JsonError::DuplicateKey { key, .. }) if key == "k57")
        );
        assert!(matches!(check_unique_keys(b"{} x"), Err(JsonError::Syntax { .. })), "trailing bytes");
    }
}
