//! The transaction Bundle of a batch: each entry's resources (the extracted Patient of a registration, the
//! Encounter, the QuestionnaireResponse, the other extracted resources, the Provenance) and the batch's AuditEvent,
//! streamed one entry at a time from what the batch froze.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde_json::{json, Value};
use uuid::Uuid;

use super::batch::{batch_meta, each_entry};
use super::{
    BatchMeta, ExportEntry, FhirError, Mode, ACTIVITY_SYSTEM, BATCH_SYSTEM, PAPER_SYSTEM, URN_SYSTEM,
    WORKSTATION_SYSTEM,
};
use crate::crypto::Keys;
use crate::entries::{Origin, PaperSource};
use crate::forms::{self, Catalog, ExtractContext, ID_NAMESPACE};

/// A bundle entry and the worklist entry it belongs to (none for the batch's AuditEvent).
pub struct Item {
    pub entry_id: Option<String>,
    pub value: Value,
}

fn v5(name: &str) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

fn urn(u: &Uuid) -> String {
    format!("urn:uuid:{u}")
}

/// The bundle-local fullUrl of a resource: derived from, but never equal to, its identifier value. Servers rewrite
/// every occurrence of a fullUrl inside the bundle to the resource's new id (Medplum rewrites any matching string),
/// which would corrupt an identifier that equalled it.
fn full_url(identifier: &str) -> String {
    urn(&v5(&format!("{identifier}#fullUrl")))
}

fn conditional_patient(subject: &(String, String)) -> String {
    format!("Patient?identifier={}|{}", subject.0, subject.1)
}

/// The identifier value (an urn:uuid) of a resource the forms engine extracted.
fn identifier_urn(resource: &Value) -> Option<String> {
    let ids = resource.get("identifier")?;
    let first = if ids.is_array() { ids.get(0)? } else { ids };
    (first.get("system")?.as_str()? == URN_SYSTEM).then(|| first.get("value")?.as_str().map(str::to_string))?
}

fn request(resource_type: &str, ident: &str, mode: Mode) -> Value {
    match mode {
        Mode::Create => {
            json!({ "method": "POST", "url": resource_type, "ifNoneExist": format!("identifier={URN_SYSTEM}|{ident}") })
        }
        Mode::Update => json!({ "method": "PUT", "url": format!("{resource_type}?identifier={URN_SYSTEM}|{ident}") }),
    }
}

/// The FHIR status word for the exported version (an entered-in-error version nullifies, an amendment amends).
fn entry_status(kind: &str) -> &'static str {
    match kind {
        "entered-in-error" => "entered-in-error",
        "amendment" => "amended",
        _ => "completed",
    }
}

fn apply_status(resource: &mut Value, kind: &str) {
    let ty = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(obj) = resource.as_object_mut() else { return };
    match (kind, ty.as_str()) {
        (
            "entered-in-error",
            "MedicationAdministration" | "MedicationRequest" | "Observation" | "DocumentReference" | "Encounter",
        ) => {
            obj.insert("status".into(), json!("entered-in-error"));
        }
        ("amendment", "Observation") => {
            obj.insert("status".into(), json!("amended"));
        }
        _ => {}
    }
}

/// Where each patient is referenced: the urn of a Patient created in this bundle, else conditionally by MRN.
pub type PatientUrns = HashMap<(String, String), String>;

fn subject_ref(e: &ExportEntry, patients: &PatientUrns) -> Value {
    let mut r = match patients.get(&e.frozen.subject) {
        Some(u) => json!({ "reference": u }),
        None => json!({ "reference": conditional_patient(&e.frozen.subject) }),
    };
    if !e.body.patient.name.is_empty() {
        r["display"] = json!(e.body.patient.name);
    }
    r
}

/// The resources of one entry, in bundle order: extracted Patient (registrations only, when `patients_only`), or
/// else the Encounter, the QuestionnaireResponse, the other extracted resources and the Provenance.
pub fn entry_items(
    catalog: &Catalog,
    e: &ExportEntry,
    patients: &PatientUrns,
    patients_only: bool,
) -> Result<Vec<Item>, FhirError> {
    let form = catalog
        .get(&e.form)
        .ok_or_else(|| FhirError::UnknownForm { entry: e.entry_id.clone(), form: e.form.clone() })?;
    let subject = subject_ref(e, patients);
    let ctx = ExtractContext {
        entry_id: &e.entry_id,
        subject: json!({ "reference": subject["reference"] }),
        encounter: None,
        author: Some(e.frozen.author.reference()),
        recorded: &e.signed_at,
    };
    let mut response = e.body.response.clone();
    if let Some(obj) = response.as_object_mut() {
        // Extraction refuses responses it would not validate; the stored status word is not part of that.
        obj.insert("status".into(), json!("completed"));
    }
    let extracted = forms::extract(form, &response, &ctx)
        .map_err(|x| FhirError::Extract { entry: e.entry_id.clone(), reason: x.to_string() })?;
    let tag = Some(e.entry_id.clone());
    let mut items = Vec::new();
    if patients_only {
        for mut r in extracted.into_iter().filter(|r| r["resourceType"] == "Patient") {
            let Some(ident) = identifier_urn(&r) else { continue };
            // The real EHR MRN HIM matched the registration to: found, not created again, if the EHR has it.
            if let Some(ids) = r.get_mut("identifier").and_then(Value::as_array_mut) {
                ids.retain(|i| i.get("system").and_then(Value::as_str) != Some(e.frozen.subject.0.as_str()));
                ids.push(json!({
                    "use": "usual",
                    "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number" }] },
                    "system": e.frozen.subject.0, "value": e.frozen.subject.1
                }));
            }
            let req = match e.frozen.mode {
                Mode::Create => {
                    json!({ "method": "POST", "url": "Patient", "ifNoneExist": format!("identifier={}|{}", e.frozen.subject.0, e.frozen.subject.1) })
                }
                Mode::Update => json!({ "method": "PUT", "url": conditional_patient(&e.frozen.subject) }),
            };
            items.push(Item {
                entry_id: tag.clone(),
                value: json!({ "fullUrl": full_url(&ident), "resource": r, "request": req }),
            });
        }
        return Ok(items);
    }
    let kind = e.version_kind.as_str();
    let qr_urn = urn(&Uuid::parse_str(&e.entry_id).unwrap_or_else(|_| v5(&e.entry_id)));
    let mut targets = Vec::new();
    let mut encounters = Vec::new();
    let mut others = Vec::new();
    for mut r in extracted {
        if r["resourceType"] == "Patient" {
            continue;
        }
        apply_status(&mut r, kind);
        let Some(ident) = identifier_urn(&r) else { continue };
        let ty = r["resourceType"].as_str().unwrap_or_default().to_string();
        targets.push(json!({ "reference": full_url(&ident) }));
        let item =
            json!({ "fullUrl": full_url(&ident), "resource": r, "request": request(&ty, &ident, e.frozen.mode) });
        if ty == "Encounter" {
            encounters.push(item);
        } else {
            others.push(item);
        }
    }
    let mut qr = e.body.response.clone();
    if let Some(obj) = qr.as_object_mut() {
        obj.remove("id");
        obj.insert("identifier".into(), json!({ "system": URN_SYSTEM, "value": qr_urn }));
        obj.insert("status".into(), json!(entry_status(kind)));
        obj.insert("subject".into(), subject.clone());
        obj.insert("author".into(), e.frozen.author.reference());
        if let Some(enc) = encounters.first().and_then(|i| i.get("fullUrl")).cloned() {
            obj.insert("encounter".into(), json!({ "reference": enc }));
        }
    }
    let qr_full = full_url(&qr_urn);
    let qr_item = json!({ "fullUrl": qr_full, "resource": qr, "request": request("QuestionnaireResponse", &qr_urn, e.frozen.mode) });
    items.extend(encounters.into_iter().map(|v| Item { entry_id: tag.clone(), value: v }));
    items.push(Item { entry_id: tag.clone(), value: qr_item });
    items.extend(others.into_iter().map(|v| Item { entry_id: tag.clone(), value: v }));
    targets.insert(0, json!({ "reference": qr_full }));
    items.push(Item { entry_id: tag, value: provenance(e, targets, &qr_full) });
    Ok(items)
}

fn participant(code: &str, display: &str, who: Value) -> Value {
    json!({
        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": code, "display": display }] },
        "who": who
    })
}

fn provenance(e: &ExportEntry, targets: Vec<Value>, qr_urn: &str) -> Value {
    let id = v5(&format!("{}/Provenance", e.entry_id)).to_string();
    let operation = match e.version_kind.as_str() {
        "entered-in-error" => ("NULLIFY", "nullify"),
        "amendment" => ("UPDATE", "revise"),
        _ => ("CREATE", "create"),
    };
    let mut agents = vec![participant("author", "Author", e.frozen.author.reference())];
    if let Some(enterer) = &e.frozen.enterer {
        agents.push(participant("enterer", "Enterer", enterer.reference()));
    }
    agents.push(participant("verifier", "Verifier", e.frozen.verifier.reference()));
    let entity = match (&e.origin, &e.body.paper) {
        (Origin::Paper, Some(PaperSource { qr, .. })) => json!({
            "role": "source",
            "what": {
                "identifier": { "system": PAPER_SYSTEM, "value": qr.clone().unwrap_or_else(|| e.entry_id.clone()) },
                // The page's identity in words (form, printed when and where, its episode), so the EHR's record of
                // a late entry says which sheet of paper it was typed from.
                "display": format!("From paper, page {}", crate::paper::page_label(qr.as_deref()))
            }
        }),
        _ => json!({ "role": "source", "what": { "reference": qr_urn } }),
    };
    let mut p = json!({
        "resourceType": "Provenance",
        "id": id,
        "target": targets,
        "recorded": e.signed_at,
        "activity": {
            "coding": [
                { "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": operation.0, "display": operation.1 },
                { "system": ACTIVITY_SYSTEM, "code": "downtime-late-entry", "display": "Late entry from an EHR downtime episode" }
            ],
            "text": format!("Late entry from EHR downtime episode {}", e.episode_id)
        },
        "agent": agents,
        "entity": [entity]
    });
    if let Some(t) = &e.body.clinical_time {
        p["occurredDateTime"] = json!(t);
    }
    json!({ "resource": p, "request": { "method": "PUT", "url": format!("Provenance/{id}") } })
}

/// The batch's AuditEvent: who exported how many entries, when.
pub fn audit_event(meta: &BatchMeta, count: usize) -> Value {
    let id = v5(&format!("{}/AuditEvent", meta.id)).to_string();
    let mut entity = json!({
        "what": { "identifier": { "system": BATCH_SYSTEM, "value": meta.id } },
        "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object" },
        "description": format!("Downtime reconciliation batch of {count} entries")
    });
    if let Some(w) = &meta.watermark {
        entity["detail"] = super::watermark::details(w);
    }
    json!({
        "resource": {
            "resourceType": "AuditEvent",
            "id": id,
            "type": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110106", "display": "Export" },
            "subtype": [{ "system": ACTIVITY_SYSTEM, "code": "downtime-reconciliation-export", "display": "Downtime reconciliation export" }],
            "action": "C",
            "recorded": meta.created_at,
            "outcome": "0",
            "agent": [{
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser", "display": "human user" }] },
                "who": meta.by.reference(),
                "requestor": true
            }],
            "source": {
                "observer": { "identifier": { "system": WORKSTATION_SYSTEM, "value": meta.station }, "display": "Downtime Kit HIM station" },
                "type": [{ "system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server" }]
            },
            "entity": [entity]
        },
        "request": { "method": "PUT", "url": format!("AuditEvent/{id}") }
    })
}

/// A writer that hashes what passes through it.
pub struct Hashing<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing { inner, hasher: sha2::Digest::new(), bytes: 0 }
    }
    pub fn finish(self) -> (W, String, u64) {
        let digest = sha2::Digest::finalize(self.hasher);
        (self.inner, data_encoding::HEXLOWER.encode(&digest), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A part of a batch to write on its own: one transaction of a split post, or a retry of what failed.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// The entries of the part.
    pub ids: HashSet<String>,
    /// The first and last batch position among them (so that only that range of the batch is read).
    pub positions: (i64, i64),
    /// Leave the batch's AuditEvent out: the server refuses client writes to AuditEvent (`fhir::capability`).
    pub without_audit_event: bool,
}

impl Part {
    /// A part made of `(entry id, batch position)` pairs.
    pub fn of(entries: &[(String, i64)]) -> Part {
        let first = entries.iter().map(|e| e.1).min().unwrap_or(0);
        let last = entries.iter().map(|e| e.1).max().unwrap_or(-1);
        Part {
            ids: entries.iter().map(|e| e.0.clone()).collect(),
            positions: (first, last),
            without_audit_event: false,
        }
    }
}

/// Writes the batch's transaction Bundle to `w`, streaming one entry at a time (memory stays flat as the batch
/// grows). With `only`, just those entries (one transaction of a split post, or a retry of failed posts). Returns,
/// per bundle entry, the worklist entry it belongs to.
pub fn write_bundle(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    batch_id: &str,
    only: Option<&Part>,
    w: &mut dyn Write,
) -> Result<Vec<Option<String>>, FhirError> {
    let meta = batch_meta(conn, keys, batch_id)?;
    let io = |e: std::io::Error| FhirError::Io(e.to_string());
    let head = json!({
        "resourceType": "Bundle",
        "identifier": { "system": BATCH_SYSTEM, "value": meta.id },
        "type": "transaction",
        "timestamp": meta.created_at,
    });
    let head_text = serde_json::to_string(&head).map_err(|e| FhirError::Io(e.to_string()))?;
    w.write_all(head_text.trim_end_matches('}').as_bytes()).map_err(io)?;
    w.write_all(b",\"entry\":[\n").map_err(io)?;
    let mut tags = Vec::new();
    let mut first = true;
    // Each bundle entry is serialised into one reused buffer and written with one call: serde_json writes token by
    // token, which through the hashing writer cost more than the serialisation itself.
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut emit = |w: &mut dyn Write, item: Item, tags: &mut Vec<Option<String>>| -> Result<(), FhirError> {
        buf.clear();
        if !first {
            buf.extend_from_slice(b",\n");
        }
        first = false;
        serde_json::to_writer(&mut buf, &item.value).map_err(|e| FhirError::Io(e.to_string()))?;
        w.write_all(&buf).map_err(io)?;
        tags.push(item.entry_id);
        Ok(())
    };
    let wanted = |id: &str| only.is_none_or(|p| p.ids.contains(id));
    let (from, to) = only.map_or((i64::MIN, i64::MAX), |p| p.positions);
    // Pass 1: patients registered during the downtime, so that everything referring to them comes after.
    let mut patients = PatientUrns::new();
    each_entry(conn, keys, batch_id, (from, to), &wanted, true, &mut |e| {
        for item in entry_items(catalog, &e, &patients, true)? {
            if let Some(u) = item.value.get("fullUrl").and_then(Value::as_str) {
                patients.entry(e.frozen.subject.clone()).or_insert_with(|| u.to_string());
            }
            emit(w, item, &mut tags)?;
        }
        Ok(())
    })?;
    // Pass 2: every entry's own resources and its Provenance.
    each_entry(conn, keys, batch_id, (from, to), &wanted, false, &mut |e| {
        for item in entry_items(catalog, &e, &patients, false)? {
            emit(w, item, &mut tags)?;
        }
        Ok(())
    })?;
    // The AuditEvent describes the whole batch, so every part of a split post PUTs the same resource.
    if !only.is_some_and(|p| p.without_audit_event) {
        emit(w, Item { entry_id: None, value: audit_event(&meta, meta.entries) }, &mut tags)?;
    }
    w.write_all(b"\n]}\n").map_err(io)?;
    Ok(tags)
}
