//! The transaction Bundle of a batch: each entry's resources (the extracted Patient of a registration, the
//! Encounter, the QuestionnaireResponse, the other extracted resources, the Provenance) and the batch's AuditEvent,
//! streamed one entry at a time from what the batch froze.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::batch::{batch_meta, each_entry, Pass, RawEntry};
use super::parallel;
use super::{
    BatchMeta, ExportEntry, FhirError, Mode, StaffRef, ACTIVITY_SYSTEM, BATCH_SYSTEM, PAPER_SYSTEM, STAFF_SYSTEM,
    URN_SYSTEM, WORKSTATION_SYSTEM,
};
use crate::crypto::Keys;
use crate::entries::{Origin, PaperSource};
use crate::forms::{self, Catalog, ExtractContext, ID_NAMESPACE};

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

/// The fullUrl of a resource `PUT` to its deterministic id (format 2): its own `urn:uuid`, which agrees with its id
/// as the FHIR Bundle rules require. No absolute URL: the server is chosen when the batch is posted, not here.
fn put_full_url(id: &str, format: u32) -> Option<String> {
    (format >= 2).then(|| format!("urn:uuid:{id}"))
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

/// One bundle entry, serialised straight from borrowed parts (no `Value` tree is built for the wrapper). Keys in
/// the order every format has always written them.
#[derive(Serialize)]
struct BundleEntry<'a, R: Serialize> {
    #[serde(rename = "fullUrl", skip_serializing_if = "Option::is_none")]
    full_url: Option<&'a str>,
    resource: R,
    request: Request,
}

#[derive(Serialize)]
struct Request {
    method: &'static str,
    url: String,
    #[serde(rename = "ifNoneExist", skip_serializing_if = "Option::is_none")]
    if_none_exist: Option<String>,
}

fn request(resource_type: &str, ident: &str, mode: Mode) -> Request {
    match mode {
        Mode::Create => Request {
            method: "POST",
            url: resource_type.to_string(),
            if_none_exist: Some(format!("identifier={URN_SYSTEM}|{ident}")),
        },
        Mode::Update => Request {
            method: "PUT",
            url: format!("{resource_type}?identifier={URN_SYSTEM}|{ident}"),
            if_none_exist: None,
        },
    }
}

/// A staff member as a logical reference, serialised as [`StaffRef::reference`] builds it.
struct Staff<'a>(&'a StaffRef);

impl Serialize for Staff<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let StaffRef { username, display } = self.0;
        if username.is_empty() {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("display", display)?;
            return m.end();
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("identifier", &Identifier { system: STAFF_SYSTEM, value: username })?;
        m.serialize_entry("display", display)?;
        m.end()
    }
}

#[derive(Serialize)]
struct Identifier<'a> {
    system: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Reference<'a> {
    reference: &'a str,
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    display: &'a str,
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
    let ty = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let status = match (kind, ty) {
        (
            "entered-in-error",
            "MedicationAdministration" | "MedicationRequest" | "Observation" | "DocumentReference" | "Encounter",
        ) => "entered-in-error",
        ("amendment", "Observation") => "amended",
        _ => return,
    };
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("status".into(), json!(status));
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

/// The bundle entries of one worklist entry, serialised into one buffer (separated, without a leading separator),
/// with the worklist entry each belongs to.
pub(super) struct Entries {
    buf: Vec<u8>,
    tags: Vec<Option<String>>,
    format: u32,
}

impl Entries {
    pub(super) fn new(format: u32) -> Entries {
        Entries { buf: Vec::with_capacity(16 * 1024), tags: Vec::new(), format }
    }

    fn push<T: Serialize>(&mut self, tag: Option<&str>, entry: &T) -> Result<(), FhirError> {
        if !self.tags.is_empty() {
            self.buf.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut self.buf, entry).map_err(|e| FhirError::Io(e.to_string()))?;
        self.tags.push(tag.map(str::to_string));
        Ok(())
    }
}

/// Where the bundle entries go, in order: one write per worklist entry (serde_json writes token by token, which
/// through the hashing writer cost more than the serialisation itself).
pub(super) struct Sink<'w> {
    w: &'w mut dyn Write,
    first: bool,
    /// Per bundle entry, the worklist entry it belongs to: kept only when a part of the batch is written (a post
    /// maps the server's answers back through it); a whole batch would hold one per resource, 900,000 at 100,000
    /// entries.
    tags: Option<Vec<Option<String>>>,
}

impl Sink<'_> {
    pub(super) fn write(&mut self, e: Entries) -> Result<(), FhirError> {
        if e.tags.is_empty() {
            return Ok(());
        }
        let io = |e: std::io::Error| FhirError::Io(e.to_string());
        if !self.first {
            self.w.write_all(b",\n").map_err(io)?;
        }
        self.first = false;
        self.w.write_all(&e.buf).map_err(io)?;
        if let Some(tags) = &mut self.tags {
            tags.extend(e.tags);
        }
        Ok(())
    }
}

fn extract(catalog: &Catalog, e: &ExportEntry, subject: &Value) -> Result<Vec<Value>, FhirError> {
    let form = catalog
        .get(&e.form)
        .ok_or_else(|| FhirError::UnknownForm { entry: e.entry_id.clone(), form: e.form.clone() })?;
    let ctx = ExtractContext {
        entry_id: &e.entry_id,
        subject: json!({ "reference": subject["reference"] }),
        encounter: None,
        author: Some(e.frozen.author.reference()),
        recorded: &e.signed_at,
        // A form that asks for the clinical time has no item holding it: the entry carries it.
        clinical_time: e.body.clinical_time.as_deref(),
    };
    // The response was validated when it was signed and is stored as validation normalised it: extracting it does
    // not validate it again (validation walks and copies the whole response).
    forms::extract_signed(form, &e.body.response, &ctx)
        .map_err(|x| FhirError::Extract { entry: e.entry_id.clone(), reason: x.to_string() })
}

/// The Patient a registration extracts, with the real MRN HIM matched it to (found, not created again, if the EHR
/// has it). Returns its fullUrl.
fn patient_items(
    catalog: &Catalog,
    e: &ExportEntry,
    patients: &PatientUrns,
    out: &mut Entries,
) -> Result<Option<String>, FhirError> {
    let subject = subject_ref(e, patients);
    let mut first = None;
    for mut r in extract(catalog, e, &subject)?.into_iter().filter(|r| r["resourceType"] == "Patient") {
        let Some(ident) = identifier_urn(&r) else { continue };
        if let Some(ids) = r.get_mut("identifier").and_then(Value::as_array_mut) {
            ids.retain(|i| i.get("system").and_then(Value::as_str) != Some(e.frozen.subject.0.as_str()));
            ids.push(json!({
                "use": "usual",
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number" }] },
                "system": e.frozen.subject.0, "value": e.frozen.subject.1
            }));
        }
        let request = match e.frozen.mode {
            Mode::Create => Request {
                method: "POST",
                url: "Patient".into(),
                if_none_exist: Some(format!("identifier={}|{}", e.frozen.subject.0, e.frozen.subject.1)),
            },
            Mode::Update => Request { method: "PUT", url: conditional_patient(&e.frozen.subject), if_none_exist: None },
        };
        let full = full_url(&ident);
        out.push(Some(&e.entry_id), &BundleEntry { full_url: Some(&full), resource: &r, request })?;
        first.get_or_insert(full);
    }
    Ok(first)
}

/// The bundle entries one entry of a batch is written as (its Patient first when `registers` says it registered
/// one), as JSON values, with the entry's id: what the read-back looks for on the server. References to patients
/// registered by other entries stay conditional, which the read-back does not look at.
pub(super) fn entry_values(
    catalog: &Catalog,
    keys: &Keys,
    batch_id: &str,
    format: u32,
    raw: RawEntry,
    registers: &dyn Fn(&str) -> bool,
) -> Result<(String, Vec<Value>), FhirError> {
    let e = raw.open(keys, batch_id)?;
    let id = e.entry_id.clone();
    let patients = PatientUrns::new();
    let mut out = Entries::new(format);
    if registers(&id) {
        let _first = patient_items(catalog, &e, &patients, &mut out)?;
    }
    entry_resources(catalog, e, &patients, &mut out)?;
    let mut text = Vec::with_capacity(out.buf.len() + 2);
    text.push(b'[');
    text.extend_from_slice(&out.buf);
    text.push(b']');
    let values = serde_json::from_slice(&text).map_err(|x| FhirError::Io(x.to_string()))?;
    Ok((id, values))
}

/// An extracted resource of an entry, ready to be written.
struct Extracted {
    resource: Value,
    ident: String,
    ty: String,
    full: String,
}

/// The resources of one entry, in bundle order: the Encounter, the QuestionnaireResponse, the other extracted
/// resources and the Provenance. The entry is consumed: its stored response becomes the QuestionnaireResponse
/// without a copy.
pub(super) fn entry_resources(
    catalog: &Catalog,
    mut e: ExportEntry,
    patients: &PatientUrns,
    out: &mut Entries,
) -> Result<(), FhirError> {
    let subject = subject_ref(&e, patients);
    let kind = e.version_kind.as_str();
    let qr_urn = urn(&Uuid::parse_str(&e.entry_id).unwrap_or_else(|_| v5(&e.entry_id)));
    let mut encounters = Vec::new();
    let mut others = Vec::new();
    for mut resource in extract(catalog, &e, &subject)? {
        if resource["resourceType"] == "Patient" {
            continue;
        }
        apply_status(&mut resource, kind);
        let Some(ident) = identifier_urn(&resource) else { continue };
        let ty = resource["resourceType"].as_str().unwrap_or_default().to_string();
        let item = Extracted { full: full_url(&ident), resource, ident, ty };
        if item.ty == "Encounter" {
            encounters.push(item);
        } else {
            others.push(item);
        }
    }
    let qr_full = full_url(&qr_urn);
    let author = e.frozen.author.reference();
    let encounter = encounters.first().map(|i| json!({ "reference": i.full }));
    let mut qr = std::mem::take(&mut e.body.response);
    if let Some(obj) = qr.as_object_mut() {
        // `remove` on the order-preserving map moves the last key into the removed one's place: the order every
        // batch was written in.
        obj.remove("id");
        obj.insert("identifier".into(), json!({ "system": URN_SYSTEM, "value": qr_urn }));
        obj.insert("status".into(), json!(entry_status(kind)));
        obj.insert("subject".into(), subject);
        obj.insert("author".into(), author);
        if let Some(enc) = encounter {
            obj.insert("encounter".into(), enc);
        }
    }
    let tag = Some(e.entry_id.as_str());
    let mode = e.frozen.mode;
    for x in &encounters {
        out.push(
            tag,
            &BundleEntry { full_url: Some(&x.full), resource: &x.resource, request: request(&x.ty, &x.ident, mode) },
        )?;
    }
    out.push(
        tag,
        &BundleEntry {
            full_url: Some(&qr_full),
            resource: &qr,
            request: request("QuestionnaireResponse", &qr_urn, mode),
        },
    )?;
    for x in &others {
        out.push(
            tag,
            &BundleEntry { full_url: Some(&x.full), resource: &x.resource, request: request(&x.ty, &x.ident, mode) },
        )?;
    }
    let targets: Vec<Reference<'_>> = std::iter::once(qr_full.as_str())
        .chain(encounters.iter().chain(&others).map(|x| x.full.as_str()))
        .map(|reference| Reference { reference })
        .collect();
    provenance(&e, targets, &qr_full, out)
}

#[derive(Serialize)]
struct Agent<'a> {
    #[serde(rename = "type")]
    ty: Codings<'a>,
    who: Staff<'a>,
}

#[derive(Serialize)]
struct Codings<'a> {
    coding: [Coding<'a>; 1],
}

fn participant<'a>(code: &'a str, display: &'a str, who: &'a StaffRef) -> Agent<'a> {
    let system = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
    Agent { ty: Codings { coding: [Coding { system, code, display }] }, who: Staff(who) }
}

#[derive(Serialize)]
struct Activity<'a> {
    coding: [Coding<'a>; 2],
    text: String,
}

/// Provenance.entity: the QuestionnaireResponse, or the paper form it was typed from.
#[derive(Serialize)]
struct Entity<'a> {
    role: &'static str,
    what: What<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum What<'a> {
    Paper { identifier: Identifier<'a>, display: String },
    Resource(Reference<'a>),
}

#[derive(Serialize)]
struct Provenance<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    id: &'a str,
    target: Vec<Reference<'a>>,
    recorded: &'a str,
    activity: Activity<'a>,
    agent: Vec<Agent<'a>>,
    entity: [Entity<'a>; 1],
    #[serde(rename = "occurredDateTime", skip_serializing_if = "Option::is_none")]
    occurred: Option<&'a str>,
}

fn provenance(e: &ExportEntry, target: Vec<Reference<'_>>, qr_full: &str, out: &mut Entries) -> Result<(), FhirError> {
    let id = v5(&format!("{}/Provenance", e.entry_id)).to_string();
    let operation = match e.version_kind.as_str() {
        "entered-in-error" => ("NULLIFY", "nullify"),
        "amendment" => ("UPDATE", "revise"),
        _ => ("CREATE", "create"),
    };
    let mut agent = vec![participant("author", "Author", &e.frozen.author)];
    if let Some(enterer) = &e.frozen.enterer {
        agent.push(participant("enterer", "Enterer", enterer));
    }
    agent.push(participant("verifier", "Verifier", &e.frozen.verifier));
    let what = match (&e.origin, &e.body.paper) {
        (Origin::Paper, Some(PaperSource { qr, .. })) => What::Paper {
            identifier: Identifier { system: PAPER_SYSTEM, value: qr.as_deref().unwrap_or(&e.entry_id) },
            // The page's identity in words (form, printed when and where, its episode), so the EHR's record of a
            // late entry says which sheet of paper it was typed from.
            display: format!("From paper, page {}", crate::paper::page_label(qr.as_deref())),
        },
        _ => What::Resource(Reference { reference: qr_full }),
    };
    let resource = Provenance {
        resource_type: "Provenance",
        id: &id,
        target,
        recorded: &e.signed_at,
        activity: Activity {
            coding: [
                Coding {
                    system: "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    code: operation.0,
                    display: operation.1,
                },
                Coding {
                    system: ACTIVITY_SYSTEM,
                    code: "downtime-late-entry",
                    display: "Late entry from an EHR downtime episode",
                },
            ],
            text: format!("Late entry from EHR downtime episode {}", e.episode_id),
        },
        agent,
        entity: [Entity { role: "source", what }],
        occurred: e.body.clinical_time.as_deref(),
    };
    let full = put_full_url(&id, out.format);
    let request = Request { method: "PUT", url: format!("Provenance/{id}"), if_none_exist: None };
    out.push(Some(&e.entry_id), &BundleEntry { full_url: full.as_deref(), resource: &resource, request })
}

/// The batch's AuditEvent entry: who exported how many entries, when.
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
    let resource = json!({
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
    });
    let mut entry = serde_json::Map::new();
    if let Some(full) = put_full_url(&id, meta.bundle_format) {
        entry.insert("fullUrl".into(), json!(full));
    }
    entry.insert("resource".into(), resource);
    entry.insert("request".into(), json!({ "method": "PUT", "url": format!("AuditEvent/{id}") }));
    Value::Object(entry)
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
/// grows). With `only`, just those entries (one transaction of a split post, or a retry of failed posts), and
/// returns, per bundle entry, the worklist entry it belongs to (nothing for the whole batch). The bundle is written
/// in the batch's own format (`BatchMeta::bundle_format`), so an old batch regenerates byte for byte.
pub fn write_bundle(
    conn: &rusqlite::Connection,
    keys: &Keys,
    catalog: &Catalog,
    batch_id: &str,
    only: Option<&Part>,
    w: &mut dyn Write,
) -> Result<Vec<Option<String>>, FhirError> {
    let meta = batch_meta(conn, keys, batch_id)?;
    let batch = Batch { conn, keys, catalog, id: batch_id, only, format: meta.bundle_format };
    let (mut sink, patients) = begin(&batch, &meta, w)?;
    // Pass 2: every entry's own resources and its Provenance, built on worker threads.
    batch.entries_in_parallel(&patients, &mut sink)?;
    end(sink, &meta, only)
}

/// Whether entries of `form` can register a patient (its form has a Patient extraction context): only those are read
/// in pass 1, and frozen first.
pub(super) fn may_register(catalog: &Catalog, form: &str) -> bool {
    catalog.get(form).is_some_and(|f| f.may_extract("Patient"))
}

/// Writes the bundle's head and pass 1: the patients registered during the downtime, so that everything referring to
/// them comes after. Only forms that can extract a Patient are read at all. Returns where pass 2 writes, and the
/// registered patients' fullUrls.
pub(super) fn begin<'w>(
    batch: &Batch<'_>,
    meta: &BatchMeta,
    w: &'w mut dyn Write,
) -> Result<(Sink<'w>, PatientUrns), FhirError> {
    let head = json!({
        "resourceType": "Bundle",
        "identifier": { "system": BATCH_SYSTEM, "value": meta.id },
        "type": "transaction",
        "timestamp": meta.created_at,
    });
    let head_text = serde_json::to_string(&head).map_err(|e| FhirError::Io(e.to_string()))?;
    let io = |e: std::io::Error| FhirError::Io(e.to_string());
    w.write_all(head_text.trim_end_matches('}').as_bytes()).map_err(io)?;
    w.write_all(b",\"entry\":[\n").map_err(io)?;
    let mut sink = Sink { w, first: true, tags: batch.only.map(|_| Vec::new()) };
    let (keys, catalog, format) = (batch.keys, batch.catalog, batch.format);
    let may_register = |form: &str| may_register(catalog, form);
    let mut patients = PatientUrns::new();
    batch.each(Pass::Registrations(&may_register), &mut |raw| {
        let e = raw.open(keys, batch.id)?;
        let mut out = Entries::new(format);
        if let Some(u) = patient_items(catalog, &e, &patients, &mut out)? {
            patients.entry(e.frozen.subject.clone()).or_insert(u);
        }
        sink.write(out)
    })?;
    Ok((sink, patients))
}

/// Writes the batch's AuditEvent (unless the part leaves it out) and closes the bundle. Returns, per bundle entry of
/// a part, the worklist entry it belongs to.
pub(super) fn end(mut sink: Sink<'_>, meta: &BatchMeta, only: Option<&Part>) -> Result<Vec<Option<String>>, FhirError> {
    // The AuditEvent describes the whole batch, so every part of a split post PUTs the same resource.
    if !only.is_some_and(|p| p.without_audit_event) {
        let mut out = Entries::new(meta.bundle_format);
        out.push(None, &audit_event(meta, meta.entries))?;
        sink.write(out)?;
    }
    let Sink { w, tags, .. } = sink;
    w.write_all(b"\n]}\n").map_err(|e| FhirError::Io(e.to_string()))?;
    Ok(tags.unwrap_or_default())
}

/// The batch being written, and which part of it.
pub(super) struct Batch<'a> {
    pub(super) conn: &'a rusqlite::Connection,
    pub(super) keys: &'a Keys,
    pub(super) catalog: &'a Catalog,
    pub(super) id: &'a str,
    pub(super) only: Option<&'a Part>,
    pub(super) format: u32,
}

impl Batch<'_> {
    fn each(&self, pass: Pass<'_>, f: &mut dyn FnMut(RawEntry) -> Result<(), FhirError>) -> Result<(), FhirError> {
        let wanted = |id: &str| self.only.is_none_or(|p| p.ids.contains(id));
        let positions = self.only.map_or((i64::MIN, i64::MAX), |p| p.positions);
        each_entry(self.conn, self.keys, self.id, positions, &wanted, pass, f)
    }

    /// Pass 2: this thread reads the rows (SQLite stays on its connection's thread) and writes the results in batch
    /// order; worker threads decrypt, extract and serialise each entry.
    fn entries_in_parallel(&self, patients: &PatientUrns, sink: &mut Sink<'_>) -> Result<(), FhirError> {
        let (keys, catalog, batch, format) = (self.keys, self.catalog, self.id, self.format);
        let build = |raw: RawEntry| -> Result<Entries, FhirError> {
            let mut out = Entries::new(format);
            entry_resources(catalog, raw.open(keys, batch)?, patients, &mut out)?;
            Ok(out)
        };
        parallel::in_order(&mut |take| self.each(Pass::All, take), &build, &mut |e| sink.write(e))
    }
}
