//! `dtk bench`: the workstation qualification benchmark hospital IT runs on a candidate PC (issue 8, docs/design.md "Performance budgets").
//!
//! One run builds everything it measures in a scratch folder, from nothing, with synthetic patients only:
//! a workstation and an HIM station, a 40-patient census, timed saves side by side with bare SQLite inserts, a
//! synthetic four-week vault of N entries, the workstation's queries and `verify`, the real handoff to HIM, one
//! worklist page, a FHIR export of up to 100,000 accepted entries and a 500-patient print. Every figure is a
//! measurement of the façade's own calls; nothing here is asserted, because budgets belong to benchmarks.
//!
//! The synthetic vault goes through the real code paths (form validation once per patient and form, then
//! `entries::create` with its encryption, blind indexes and audit rows) but many entries per transaction, so that
//! generating 160,000 entries takes a minute rather than the hours 160,000 single commits would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{AddUserRequest, ApiError, EntryOptions, ErrorCode, InitRequest, Session, WorklistQuery, Workstation};
use crate::auth::Role;
use crate::clock::{Clock, FixedClock};
use crate::crypto::Password;
use crate::entries::{self, NewEntry, Origin};
use crate::site::SiteConfig;
use crate::vault::VaultError;

/// Patients of the synthetic unit (a 40-bed unit).
pub const PATIENTS: usize = 40;
/// Days of the synthetic outage.
pub const DAYS: i64 = 28;
/// Entries exported to FHIR at most (docs/design.md "Performance budgets": export of 100,000 entries).
pub const EXPORT_ENTRIES: usize = 100_000;
/// Patients on the benchmark print (docs/design.md "Performance budgets": 500 prefilled forms).
pub const PRINT_PATIENTS: usize = 500;
/// Entries per transaction while generating the synthetic vault.
const BATCH: usize = 500;
/// Timed saves on the empty vault (each side by side with a bare SQLite insert) and on the full one.
const SAVES: usize = 200;
const SAVES_AT_SCALE: usize = 50;
const SIGN_INS: usize = 5;
const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";

const VITALS: &str = include_str!("../../tests/data/forms/responses/vital-signs.json");
const NOTE: &str = include_str!("../../tests/data/forms/responses/nursing-note.json");
const MEDICATION: &str = include_str!("../../tests/data/forms/responses/medication-administration.json");

/// What to run.
pub struct Options {
    /// Entries in the synthetic vault.
    pub entries: usize,
    /// The scratch folder (created; must not hold a vault yet). Everything the run writes stays inside it.
    pub dir: PathBuf,
}

/// Called with (phase, done, total) while a long phase runs, so a terminal can show a progress bar.
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Latency samples of one repeated operation, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(mut d: Vec<Duration>) -> Latency {
        d.sort();
        let ms = |x: Duration| (x.as_secs_f64() * 1e6).round() / 1e3;
        let n = d.len();
        if n == 0 {
            return Latency { samples: 0, p50_ms: 0.0, p99_ms: 0.0, max_ms: 0.0 };
        }
        Latency { samples: n, p50_ms: ms(d[n / 2]), p99_ms: ms(d[((n * 99) / 100).min(n - 1)]), max_ms: ms(d[n - 1]) }
    }
}

/// One timed step that runs once: wall time and, on Linux, the peak resident memory of the process during it.
#[derive(Debug, Clone, Serialize)]
pub struct Total {
    pub seconds: f64,
    pub peak_rss_mib: Option<f64>,
    /// What the step produced (entries, bytes, pages…), for the reader.
    pub detail: Value,
}

/// The durable-save comparison of docs/design.md "Performance budgets".
#[derive(Debug, Clone, Serialize)]
pub struct SaveComparison {
    /// Bytes of one save that a bare insert writes too: the sealed version body plus the save's audit rows.
    pub bytes_per_save: usize,
    pub encrypted_save: Latency,
    pub bare_sqlite_insert: Latency,
    /// encrypted p50 / bare p50 (goal: at most 1.5).
    pub ratio_p50: f64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub entries: usize,
    pub patients: usize,
    pub days: i64,
    pub save: SaveComparison,
    pub sign_in: Latency,
    pub generate: Total,
    pub vault_bytes: u64,
    pub open_vault: Latency,
    /// A typical save (validation, patient and duplicate checks, encryption, audit, commit) with N entries stored.
    pub save_at_scale: Latency,
    /// The newest 50 entries of one patient (each of the 40 in turn).
    pub patient_page: Latency,
    /// Every entry of one patient.
    pub patient_all: Total,
    pub verify: Total,
    pub handoff_export: Result<Total, String>,
    pub handoff_import: Result<Total, String>,
    /// One page of 100 rows of the HIM worklist, at 10 offsets across it.
    pub worklist_page: Result<Latency, String>,
    /// The worklist filtered to one patient's MRN.
    pub worklist_patient_page: Result<Latency, String>,
    pub accept: Result<Total, String>,
    pub fhir_export: Result<Total, String>,
    pub print: Total,
}

fn fail(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Io, format!("benchmark step '{what}' failed: {e}"))
}

/// Resets the kernel's peak-RSS counter of this process (Linux ≥ 4.0), so the next reading covers one step only.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set (VmHWM) since the last reset, in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

fn total<T>(f: impl FnOnce() -> Result<(T, Value), ApiError>) -> Result<(T, Total), ApiError> {
    let tracked = reset_peak();
    let t = Instant::now();
    let (value, detail) = f()?;
    let seconds = (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok((value, Total { seconds, peak_rss_mib: if tracked { peak_mib() } else { None }, detail }))
}

fn timed<T>(samples: &mut Vec<Duration>, f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    let t = Instant::now();
    let v = f()?;
    samples.push(t.elapsed());
    Ok(v)
}

fn password(user: &str) -> Password {
    Password::new(format!("{user}-bench-pass-1"))
}

fn mrn(patient: usize) -> String {
    format!("BENCH{:04}", 1000 + patient)
}

const GIVEN: [&str; 8] = ["Elena", "Łukasz", "Åsa", "Éloïse", "Chidi", "Siobhán", "Thanh Van", "Dragan"];
const FAMILY: [&str; 8] =
    ["Garcia", "Müller-Øster", "Lindqvist", "Dubois", "Okafor", "Fitzgerald-O'Neill", "Nguyen", "Petrović"];

/// A census Bundle of `n` synthetic patients, each with an inpatient encounter; every fifth has an allergy.
pub fn synthetic_census(n: usize, at: OffsetDateTime) -> Vec<u8> {
    let mut entries = Vec::new();
    for i in 0..n {
        let pid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("bench-patient-{i}").as_bytes());
        let purl = format!("urn:uuid:{pid}");
        entries.push(json!({ "fullUrl": purl, "resource": {
            "resourceType": "Patient", "id": pid.to_string(),
            "identifier": [{ "system": MRN_SYSTEM, "value": mrn(i) }],
            "name": [{ "family": FAMILY[i % 8], "given": [GIVEN[(i / 8) % 8]] }],
            "gender": if i % 2 == 0 { "female" } else { "male" },
            "birthDate": format!("19{:02}-{:02}-{:02}", 30 + i % 60, 1 + i % 12, 1 + i % 28),
        }}));
        let eid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("bench-encounter-{i}").as_bytes());
        entries.push(json!({ "fullUrl": format!("urn:uuid:{eid}"), "resource": {
            "resourceType": "Encounter", "id": eid.to_string(), "status": "in-progress",
            "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP" },
            "subject": { "reference": purl },
            "location": [{ "location": { "display": format!("5 East room {}", 501 + i) } }],
        }}));
        if i % 5 == 0 {
            let aid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("bench-allergy-{i}").as_bytes());
            entries.push(json!({ "fullUrl": format!("urn:uuid:{aid}"), "resource": {
                "resourceType": "AllergyIntolerance", "id": aid.to_string(),
                "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" }] },
                "code": { "text": "Penicillin" },
                "patient": { "reference": purl },
            }}));
        }
    }
    let bundle = json!({
        "resourceType": "Bundle", "type": "collection",
        "timestamp": crate::clock::stamp(at), "entry": entries,
    });
    serde_json::to_vec(&bundle).unwrap_or_default()
}

/// Sets the answer of item `link_id` (at any depth) to `answer`.
fn set_answer(items: &mut Value, link_id: &str, answer: Value) -> bool {
    let Some(list) = items.as_array_mut() else { return false };
    for item in list {
        if item.get("linkId").and_then(Value::as_str) == Some(link_id) {
            item["answer"] = json!([answer]);
            return true;
        }
        if let Some(children) = item.get_mut("item") {
            if set_answer(children, link_id, answer.clone()) {
                return true;
            }
        }
    }
    false
}

/// The form templates: (response, clinical-time item) per form, and how often each is charted (out of 20).
fn templates() -> Result<Vec<(Value, usize)>, ApiError> {
    let parse = |s: &str| serde_json::from_str::<Value>(s).map_err(|e| fail("templates", e));
    Ok(vec![(parse(VITALS)?, 12), (parse(NOTE)?, 5), (parse(MEDICATION)?, 3)])
}

fn fhir_time(t: OffsetDateTime) -> String {
    crate::clock::stamp(t)
}

fn response_for(template: &Value, patient: usize) -> Value {
    let mut r = template.clone();
    r["subject"]["identifier"] = json!({ "system": MRN_SYSTEM, "value": mrn(patient) });
    r
}

fn new_station(
    dir: &Path,
    site: SiteConfig,
    clock: &dyn Clock,
    users: &[(&str, Role)],
) -> Result<Workstation, ApiError> {
    let mut ws = Workstation::open_with(dir, site, None)?;
    let init = InitRequest {
        unit: "5 East (benchmark)".into(),
        admin: "admin".into(),
        display_name: "Bench Admin".into(),
        password: password("admin"),
    };
    let _recovery = ws.init(init, clock)?;
    let admin = ws.sign_in("admin", &password("admin"), clock)?;
    for (name, role) in users {
        let req = AddUserRequest {
            username: (*name).into(),
            display_name: format!("Bench {name}"),
            role: *role,
            password: password(name),
        };
        ws.add_user(&admin, req, clock)?;
    }
    Ok(ws)
}

/// A bare SQLite database with the vault's durability settings, for the side-by-side insert.
fn bare_db(path: &Path) -> Result<rusqlite::Connection, ApiError> {
    let c = rusqlite::Connection::open(path).map_err(VaultError::from)?;
    let setup = || -> rusqlite::Result<()> {
        let _: String = c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "secure_delete", "ON")?;
        c.execute_batch("CREATE TABLE IF NOT EXISTS bare (id TEXT PRIMARY KEY, body BLOB NOT NULL) STRICT")
    };
    setup().map_err(VaultError::from)?;
    Ok(c)
}

fn bare_insert(c: &rusqlite::Connection, bytes: &[u8]) -> Result<(), ApiError> {
    let run = || -> rusqlite::Result<()> {
        c.execute_batch("BEGIN IMMEDIATE")?;
        c.execute(
            "INSERT INTO bare (id, body) VALUES (?1, ?2)",
            rusqlite::params![uuid::Uuid::new_v4().to_string(), bytes],
        )?;
        c.execute_batch("COMMIT")
    };
    run().map_err(|e| ApiError::from(VaultError::from(e)))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Runs the whole benchmark. `progress` hears about the long phases.
pub fn run(opts: &Options, progress: Progress<'_>) -> Result<Report, ApiError> {
    if opts.entries == 0 {
        return Err(ApiError::new(ErrorCode::InvalidInput, "--entries must be at least 1"));
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| fail("scratch folder", e))?;
    let ws_dir = opts.dir.join("workstation");
    let him_dir = opts.dir.join("him");
    for d in [&ws_dir, &him_dir] {
        if crate::vault::Vault::exists(d) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("{} already holds a vault; give the benchmark an empty folder", d.display()),
            ));
        }
    }
    // Time is scripted: the outage starts at `start`; the clock stands just after its last day.
    let start = time::macros::datetime!(2026-11-01 00:00 UTC);
    let end = start + time::Duration::days(DAYS);
    let clock = FixedClock::new(end + time::Duration::hours(1));

    progress("setting up the HIM station and the workstation", 0, 1);
    let mut him_ws = new_station(&him_dir, SiteConfig::default(), &clock, &[("him", Role::Him)])?;
    let him = him_ws.sign_in("him", &password("him"), &clock)?;
    let him_key = him_ws.handoff_keygen(&him, &clock)?;
    let site = SiteConfig { him_public_key: Some(him_key.public_key.clone()), ..SiteConfig::default() };
    let mut ws = new_station(&ws_dir, site.clone(), &clock, &[("nurse", Role::Nurse), ("charge", Role::Charge)])?;

    let mut sign_ins = Vec::new();
    for _ in 0..SIGN_INS {
        let _s = timed(&mut sign_ins, || ws.sign_in("nurse", &password("nurse"), &clock))?;
    }
    let charge = ws.sign_in("charge", &password("charge"), &clock)?;
    let nurse = ws.sign_in("nurse", &password("nurse"), &clock)?;
    ws.import_census(&charge, &synthetic_census(PATIENTS, start), &clock)?;
    ws.start_episode(&charge, crate::episodes::Kind::Real, Default::default(), &clock)?;

    let templates = templates()?;
    let save = save_comparison(&mut ws, &nurse, &templates[0].0, &opts.dir, start, &clock, progress)?;

    let (_, generate) = total(|| {
        let n = generate(&mut ws, &nurse, &templates, opts.entries, start, &clock, progress)?;
        Ok(((), json!({ "entries": n, "per_transaction": BATCH })))
    })?;
    let mut save_at_scale = Vec::new();
    for i in 0..SAVES_AT_SCALE {
        let at = start + time::Duration::minutes(37 + 61 * i as i64);
        let mut r = response_for(&templates[0].0, i % PATIENTS);
        set_answer(&mut r["item"], "measured-at", json!({ "valueDateTime": fhir_time(at) }));
        let opts = EntryOptions { sign: true, confirm_not_duplicate: true, ..Default::default() };
        timed(&mut save_at_scale, || ws.add_entry(&nurse, &r, &opts, &clock))?;
    }
    drop(nurse);
    drop(charge);
    drop(ws);
    let vault_bytes = dir_bytes(&ws_dir);

    let mut opens = Vec::new();
    let mut ws = None;
    for _ in 0..5 {
        ws = Some(timed(&mut opens, || Workstation::open_with(&ws_dir, site.clone(), None))?);
    }
    let mut ws = ws.ok_or_else(|| fail("open", "no workstation"))?;
    let charge = ws.sign_in("charge", &password("charge"), &clock)?;

    let mut pages = Vec::new();
    for p in 0..PATIENTS {
        timed(&mut pages, || ws.list_entries_page(&charge, Some(&mrn(p)), Some(50), 0, &clock))?;
    }
    let (_, patient_all) = total(|| {
        let all = ws.list_entries(&charge, Some(&mrn(0)), &clock)?;
        Ok(((), json!({ "entries": all.len() })))
    })?;
    progress("verify", 0, 1);
    let (_, verify) = total(|| {
        let problems = ws.verify(&charge)?;
        Ok(((), json!({ "problems": problems.len() })))
    })?;

    // The HIM side: the real handoff file, imported; then the worklist, acceptance and the FHIR export.
    let file = opts.dir.join("handoff.dtkh");
    progress("handoff export", 0, 1);
    let handoff_export = total(|| {
        let s = ws.export_handoff(&charge, &file, None, false, &clock)?;
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        Ok(((), json!({ "entries": s.entries, "audit_rows": s.audit_rows, "bytes": bytes })))
    })
    .map(|(_, t)| t);
    drop(charge);
    drop(ws);
    let handoff_import = match &handoff_export {
        Ok(_) => {
            progress("handoff import", 0, 1);
            total(|| {
                let r = him_ws.import_handoff_file(&him, &file, &clock)?;
                Ok(((), json!({ "new_entries": r.new_entries, "new_versions": r.new_versions })))
            })
            .map(|(_, t)| t)
            .map_err(|e| e.message)
        }
        Err(e) => Err(format!("no handoff file: {}", e.message)),
    };
    let _ = std::fs::remove_file(&file);
    let handoff_export = handoff_export.map_err(|e| e.message);
    let (worklist_page, worklist_patient_page, accept, fhir_export) = if handoff_import.is_ok() {
        him_side(&mut him_ws, &him, &opts.dir, &clock, progress)
    } else {
        let why = "skipped: the handoff did not reach the HIM station".to_string();
        (Err(why.clone()), Err(why.clone()), Err(why.clone()), Err(why))
    };

    progress("print", 0, 1);
    let (_, print) = total(|| {
        let pdf = print_forms(&him_ws)?;
        Ok(((), json!({ "patients": PRINT_PATIENTS, "pages": pdf.pages, "bytes": pdf.bytes.len() })))
    })?;

    Ok(Report {
        entries: opts.entries,
        patients: PATIENTS,
        days: DAYS,
        save,
        sign_in: Latency::of(sign_ins),
        generate,
        vault_bytes,
        open_vault: Latency::of(opens),
        save_at_scale: Latency::of(save_at_scale),
        patient_page: Latency::of(pages),
        patient_all,
        verify,
        handoff_export,
        handoff_import,
        worklist_page,
        worklist_patient_page,
        accept,
        fhir_export,
        print,
    })
}

/// Only the side-by-side saves of [`run`], on a fresh workstation (`dtk bench --save-only`): what issue 19's goal is
/// measured on, quick enough to repeat and small enough to profile (`valgrind --tool=callgrind`, BENCHMARKS.md).
pub fn run_saves(dir: &Path, progress: Progress<'_>) -> Result<SaveComparison, ApiError> {
    std::fs::create_dir_all(dir).map_err(|e| fail("scratch folder", e))?;
    let ws_dir = dir.join("workstation");
    if crate::vault::Vault::exists(&ws_dir) {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("{} already holds a vault; give the benchmark an empty folder", ws_dir.display()),
        ));
    }
    let start = time::macros::datetime!(2026-11-01 00:00 UTC);
    let clock = FixedClock::new(start + time::Duration::days(DAYS) + time::Duration::hours(1));
    progress("setting up the workstation", 0, 1);
    let mut ws =
        new_station(&ws_dir, SiteConfig::default(), &clock, &[("nurse", Role::Nurse), ("charge", Role::Charge)])?;
    let charge = ws.sign_in("charge", &password("charge"), &clock)?;
    let nurse = ws.sign_in("nurse", &password("nurse"), &clock)?;
    ws.import_census(&charge, &synthetic_census(PATIENTS, start), &clock)?;
    ws.start_episode(&charge, crate::episodes::Kind::Real, Default::default(), &clock)?;
    save_comparison(&mut ws, &nurse, &templates()?[0].0, dir, start, &clock, progress)
}

/// Typical saves (a signed vital-signs entry through `add_entry`) on the fresh vault, each followed by a bare
/// SQLite insert+commit of the same bytes into a database beside it with the same durability settings, so both
/// see the same disk at the same moment.
fn save_comparison(
    ws: &mut Workstation,
    nurse: &Session,
    vitals: &Value,
    dir: &Path,
    start: OffsetDateTime,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> Result<SaveComparison, ApiError> {
    let opts = EntryOptions { sign: true, ..Default::default() };
    let response = |i: usize| {
        let mut r = response_for(vitals, i % PATIENTS);
        // Two hours apart per patient: never a possible duplicate.
        let at = start + time::Duration::minutes(120 * (i / PATIENTS) as i64 + 7);
        set_answer(&mut r["item"], "measured-at", json!({ "valueDateTime": fhir_time(at) }));
        r
    };
    let first = ws.add_entry(nurse, &response(SAVES), &opts, clock)?;
    let conn = ws.vault()?.conn();
    let body: i64 = conn
        .query_row("SELECT length(body) FROM entry_versions WHERE entry_id = ?1", [&first.saved.id], |r| r.get(0))
        .map_err(VaultError::from)?;
    let audit: i64 = conn
        .query_row(
            "SELECT coalesce(sum(length(at) + length(actor) + length(action) + length(target) + length(detail) + length(mac)), 0)
               FROM audit WHERE target = ?1",
            [format!("entries:{}", first.saved.id)],
            |r| r.get(0),
        )
        .map_err(VaultError::from)?;
    let bytes_per_save = (body + audit).max(0) as usize;
    let mut payload = vec![0u8; bytes_per_save];
    crate::crypto::Random::fill(&mut crate::crypto::OsRandom, &mut payload);
    let bare = bare_db(&dir.join("bare-sqlite.sqlite3"))?;
    let (mut enc, mut raw) = (Vec::new(), Vec::new());
    for i in 0..SAVES {
        progress("durable saves vs bare SQLite inserts", i as u64, SAVES as u64);
        let r = response(i);
        timed(&mut enc, || ws.add_entry(nurse, &r, &opts, clock))?;
        timed(&mut raw, || bare_insert(&bare, &payload))?;
    }
    let encrypted_save = Latency::of(enc);
    let bare_sqlite_insert = Latency::of(raw);
    let ratio_p50 = if bare_sqlite_insert.p50_ms > 0.0 {
        (encrypted_save.p50_ms / bare_sqlite_insert.p50_ms * 100.0).round() / 100.0
    } else {
        0.0
    };
    Ok(SaveComparison { bytes_per_save, encrypted_save, bare_sqlite_insert, ratio_p50 })
}

/// Fills the vault with `n` signed entries across the patients and the outage's days, `BATCH` per transaction.
/// Each (patient, form) is validated and checked once through the façade; each entry is then that body with its own
/// clinical time and values, stored by `entries::create` (encrypted, blind-indexed, audited) like any save.
fn generate(
    ws: &mut Workstation,
    nurse: &Session,
    templates: &[(Value, usize)],
    n: usize,
    start: OffsetDateTime,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> Result<usize, ApiError> {
    let opts = EntryOptions {
        sign: true,
        allergy_override: Some("benchmark: synthetic entry".into()),
        confirm_not_duplicate: false,
        reason: None,
        clinical_time: None,
    };
    // prepared[patient][form]
    let mut prepared = Vec::new();
    for p in 0..PATIENTS {
        let mut per_form = Vec::new();
        for (t, _) in templates {
            per_form.push(ws.prepare(nurse, &response_for(t, p), &opts, None, clock)?);
        }
        prepared.push(per_form);
    }
    let clinical_items: Vec<String> = prepared[0]
        .iter()
        .map(|p| ws.forms().get(&p.form).and_then(|f| f.clinical_time_item()).unwrap_or_default().to_string())
        .collect();
    let schedule: Vec<usize> =
        templates.iter().enumerate().flat_map(|(i, (_, w))| std::iter::repeat_n(i, *w)).collect();
    let episode = ws.open_episode_for_charting(nurse)?;
    let workstation = ws.workstation_id();
    let span = (DAYS * 24 * 3600) as f64;
    let mut done = 0;
    while done < n {
        let upto = (done + BATCH).min(n);
        let at_of = |i: usize| start + time::Duration::seconds((span * i as f64 / n as f64) as i64);
        let batch_at = at_of(upto - 1) + time::Duration::minutes(5);
        let vault = ws.vault_mut()?;
        let _ = vault.write(nurse.keys(), nurse.username(), batch_at, |tx| -> Result<(), ApiError> {
            for i in done..upto {
                let patient = i % PATIENTS;
                let form = schedule[(i / PATIENTS) % schedule.len()];
                let p = &prepared[patient][form];
                let mut body = p.body.clone();
                let when = fhir_time(at_of(i));
                set_answer(&mut body.response["item"], &clinical_items[form], json!({ "valueDateTime": when }));
                if form == 0 {
                    set_answer(&mut body.response["item"], "heart-rate", json!({ "valueInteger": 60 + (i % 50) }));
                }
                body.clinical_time = Some(when);
                let id = tx.new_id().to_string();
                if let Some(obj) = body.response.as_object_mut() {
                    obj.insert("id".into(), Value::String(id.clone()));
                }
                let new = NewEntry {
                    form: &p.form,
                    episode_id: &episode.id,
                    workstation: &workstation,
                    patient: &p.patient,
                    body,
                    sign: true,
                    origin: Origin::Electronic,
                    author: None,
                };
                entries::create(tx, &id, new)?;
            }
            Ok(())
        })?;
        done = upto;
        progress("generating the synthetic vault", done as u64, n as u64);
    }
    Ok(n)
}

type HimResults = (Result<Latency, String>, Result<Latency, String>, Result<Total, String>, Result<Total, String>);

fn him_side(
    him_ws: &mut Workstation,
    him: &Session,
    dir: &Path,
    clock: &dyn Clock,
    progress: Progress<'_>,
) -> HimResults {
    let pages = (|| -> Result<Latency, ApiError> {
        let total = him_ws.worklist(him, &WorklistQuery { limit: 1, ..Default::default() })?.total.max(1) as usize;
        let mut d = Vec::new();
        for k in 0..10 {
            let q = WorklistQuery { limit: 100, offset: total * k / 10, ..Default::default() };
            timed(&mut d, || him_ws.worklist(him, &q))?;
        }
        Ok(Latency::of(d))
    })()
    .map_err(|e| e.message);
    let patient = (|| -> Result<Latency, ApiError> {
        let mut d = Vec::new();
        for p in 0..10 {
            let q = WorklistQuery { limit: 100, mrn: Some(mrn(p)), ..Default::default() };
            timed(&mut d, || him_ws.worklist(him, &q))?;
        }
        Ok(Latency::of(d))
    })()
    .map_err(|e| e.message);
    progress("accept", 0, 1);
    let accept = total(|| {
        let ids: Vec<String> = {
            let conn = him_ws.vault()?.conn();
            let mut st = conn
                .prepare("SELECT entry_id FROM recon WHERE state = 'matched' ORDER BY entry_id LIMIT ?1")
                .map_err(VaultError::from)?;
            let rows = st.query_map([EXPORT_ENTRIES as i64], |r| r.get(0)).map_err(VaultError::from)?;
            rows.collect::<Result<_, _>>().map_err(VaultError::from)?
        };
        let n = him_ws.accept(him, &ids, clock)?;
        Ok(((), json!({ "entries": n })))
    })
    .map(|(_, t)| t)
    .map_err(|e| e.message);
    progress("FHIR export", 0, 1);
    let out = dir.join("fhir-export.json");
    let export = total(|| {
        let b = him_ws.export_fhir(him, &out, clock)?;
        Ok(((), json!({ "entries": b.entries, "bytes": b.bytes })))
    })
    .map(|(_, t)| t)
    .map_err(|e| e.message);
    let _ = std::fs::remove_file(&out);
    (pages, patient, accept, export)
}

fn print_forms(ws: &Workstation) -> Result<crate::print::Pdf, ApiError> {
    let form = ws.find_form("vital-signs")?;
    let labels: Vec<crate::print::Label> = (0..PRINT_PATIENTS)
        .map(|i| crate::print::Label {
            name: format!("{}, {}", FAMILY[i % 8].to_uppercase(), GIVEN[(i / 8) % 8]),
            birth_date: Some(format!("19{:02}-{:02}-{:02}", 30 + i % 60, 1 + i % 12, 1 + i % 28)),
            mrn_system: MRN_SYSTEM.into(),
            mrn: mrn(i),
            location: Some(format!("5 East room {}", 501 + i % 40)),
        })
        .collect();
    let stamp = crate::print::Stamp {
        unit: "5 East (benchmark)".into(),
        printed_by: "Bench Charge (charge)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: None,
        drill: false,
        workstation: Some("T5A-BENCH".into()),
        // The figure is the render alone; a real print adds the chain head read in one sealed-row look-up.
        record: "123456·3fa2c1d0".into(),
    };
    crate::print::blank_forms(form, &labels, &stamp, &mut |_| {}).map_err(|e| fail("print", e))
}
