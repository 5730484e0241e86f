//! What a FHIR server says a client may do (its CapabilityStatement, `GET [base]/metadata`), read once before a post.

use serde_json::Value;

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
pub fn fetch(client: &super::http::Client) -> Option<Value> {
    let answer = client.get("metadata").ok().filter(|r| r.status == 200)?;
    serde_json::from_slice(&answer.body).ok()
}

/// True when the server's CapabilityStatement says it takes no AuditEvent from a client (see
/// [`accepts_audit_event`]): the post leaves the batch's AuditEvent out, and the read-back does not look for it.
pub fn refuses_audit_event(client: &super::http::Client) -> bool {
    fetch(client).is_some_and(|c| !accepts_audit_event(&c))
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
