//! What a FHIR server says a client may do (its CapabilityStatement, `GET [base]/metadata`), read once before a post.

use serde_json::Value;

/// How long the CapabilityStatement may take: it is one small read, asked before the first transaction.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether the server lets a client write the batch's AuditEvent (a `PUT` to its deterministic id): true unless the
/// server's CapabilityStatement describes AuditEvent without the `update` interaction.
///
/// A server may keep the audit trail as its own record and refuse every client write to it; FHIR allows that, and
/// helios-hfs does (it answers 405 to a transaction holding an AuditEvent, so the whole transaction would be refused,
/// and its CapabilityStatement lists only reads and searches for AuditEvent). The Provenance of each entry still
/// says who exported what, and the HIM vault's audit log still holds the batch. A statement that does not describe
/// AuditEvent, or an answer that is not a CapabilityStatement, says nothing: the AuditEvent is sent, as before.
pub fn accepts_audit_event(capability: &Value) -> bool {
    if capability.get("resourceType").and_then(Value::as_str) != Some("CapabilityStatement") {
        return true;
    }
    let rests = capability.get("rest").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let described = rests
        .iter()
        .filter_map(|r| r.get("resource").and_then(Value::as_array))
        .flatten()
        .find(|r| r.get("type").and_then(Value::as_str) == Some("AuditEvent"));
    let Some(audit_event) = described else { return true };
    let interactions = audit_event.get("interaction").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    interactions.iter().any(|i| i.get("code").and_then(Value::as_str) == Some("update"))
}

/// The server's CapabilityStatement, or `None` when it does not answer one: the post then goes ahead and meets
/// whatever the server says to the transactions themselves.
pub fn fetch(base_url: &str) -> Option<Value> {
    let url = base_url.trim_end_matches('/').to_string() + "/metadata";
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    agent.get(&url).set("Accept", "application/fhir+json").call().ok()?.into_json().ok()
}

#[cfg(test)]
mod tests {
    use super::accepts_audit_event;
    use serde_json::json;

    fn statement(audit_event: serde_json::Value) -> serde_json::Value {
        json!({ "resourceType": "CapabilityStatement", "rest": [{ "mode": "server", "resource": [
            { "type": "Patient", "interaction": [{ "code": "create" }, { "code": "update" }] },
            audit_event
        ] }] })
    }

    #[test]
    fn an_audit_event_is_left_out_only_when_the_server_says_it_takes_no_update_of_one() {
        // helios-hfs 0.2.7's statement for AuditEvent: reads and searches only.
        let read_only = json!({ "type": "AuditEvent", "interaction": [{ "code": "read" }, { "code": "search-type" }] });
        assert!(!accepts_audit_event(&statement(read_only)));
        let writable = json!({ "type": "AuditEvent", "interaction": [{ "code": "read" }, { "code": "update" }] });
        assert!(accepts_audit_event(&statement(writable)));
        let not_described = json!({ "type": "Observation", "interaction": [{ "code": "create" }] });
        assert!(accepts_audit_event(&statement(not_described)));
        assert!(accepts_audit_event(&json!({ "resourceType": "OperationOutcome" })));
        assert!(accepts_audit_event(&json!(null)));
    }
}
