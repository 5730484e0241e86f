//! Guarded reading of JSON from outside (census bundles, responses, handoff manifests, configuration): size and
//! nesting limits are checked on the bytes before serde recurses, so hostile input cannot exhaust the stack.

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
    serde_json::from_slice(bytes).map_err(|e| JsonError::Syntax { line: e.line(), column: e.column() })
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
}
