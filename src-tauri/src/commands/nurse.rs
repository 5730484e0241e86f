//! The nurse's path: census, patient banner, downtime registration, forms, entries (check, save, sign, amend,
//! entered-in-error), drafts, and the DOWNTIME banner's status. Each command converts, calls `dtk::api`, converts.
use super::{from_api, Shell};
use crate::dto::{
    Allergy, BackupInfo, Census, CheckResult, CommandError, DowntimeStatus, DraftInfo, DraftSaved, EntryDetail,
    EntryRequest, EntrySaved, EntryStatus, EntrySummary, EntryVersion, EpisodeInfo, EpisodeKind, ErrorCode, Finding,
    FindingSeverity, FormInfo, HandedOver, HandoverAnswer, HandoverDue, HandoverGiven, HandoverNote, HandoverSheet,
    HandoverUnsigned, HandoverVitals, LastSave, MarView, PatientInfo, Registration, SafetyKind, SafetyWarning,
};
use dtk::api::{self, EntryOptions, Session, Workstation};
use dtk::clock::SystemClock;

fn patient(p: &dtk::patients::Patient) -> PatientInfo {
    let r = &p.record;
    PatientInfo {
        id: p.id.clone(),
        name: p.display_name(),
        mrn: r.mrn.clone(),
        mrn_system: r.mrn_system.clone(),
        temporary: p.source == dtk::patients::Source::Registration,
        birth_date: r.birth_date.clone(),
        gender: r.gender.clone(),
        location: r.location.clone(),
        allergies: r
            .allergies
            .iter()
            .map(|a| Allergy {
                substance: a.substance.clone(),
                reaction: a.reaction.clone(),
                criticality: a.criticality.clone(),
            })
            .collect(),
    }
}

fn status(s: dtk::entries::Status) -> EntryStatus {
    use dtk::entries::Status as S;
    match s {
        S::Draft => EntryStatus::Draft,
        S::Signed => EntryStatus::Signed,
        S::Amended => EntryStatus::Amended,
        S::EnteredInError => EntryStatus::EnteredInError,
    }
}

/// Versions are small counters; one that did not fit would be a damaged row, shown as 0 rather than failing a list.
fn version(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(0)
}

fn summary(s: &dtk::entries::Summary) -> EntrySummary {
    EntrySummary {
        id: s.id.clone(),
        form: s.form.clone(),
        status: status(s.status),
        version: version(s.version),
        author: s.author.clone(),
        created_at: s.created_at.clone(),
        updated_at: s.updated_at.clone(),
        clinical_time: s.clinical_time.clone(),
        medication: s.medication.clone(),
        patient_mrn: s.patient.mrn.clone(),
        patient_name: s.patient.name.clone(),
    }
}

fn warning(w: &api::SafetyWarning) -> SafetyWarning {
    SafetyWarning {
        kind: match w.kind {
            api::SafetyKind::Allergy => SafetyKind::Allergy,
            api::SafetyKind::PossibleDuplicate => SafetyKind::PossibleDuplicate,
        },
        message: w.message.clone(),
        entry_id: w.entry_id.clone(),
    }
}

pub(super) fn finding(f: &dtk::forms::Finding) -> Finding {
    Finding {
        link_id: f.link_id.clone(),
        severity: match f.severity {
            dtk::forms::Severity::Error => FindingSeverity::Error,
            _ => FindingSeverity::Warning,
        },
        message: f.message.clone(),
    }
}

fn saved(s: api::EntrySaved) -> EntrySaved {
    EntrySaved {
        id: s.saved.id,
        version: version(s.saved.version),
        status: status(s.saved.status),
        stored_at: s.stored_at,
        warnings: s.warnings.iter().map(warning).collect(),
    }
}

fn options(request: &EntryRequest) -> EntryOptions {
    EntryOptions {
        sign: request.sign,
        allergy_override: request.allergy_override.clone(),
        confirm_not_duplicate: request.confirm_not_duplicate,
        reason: request.reason.clone(),
        clinical_time: request.clinical_time.clone(),
    }
}

/// Runs a save and records its outcome for the banner, under the same lock as the save itself (so a sign-out in
/// between cannot attach one user's save to the next user's banner).
fn save(
    shell: &Shell,
    work: impl FnOnce(&mut Workstation, &Session) -> Result<api::EntrySaved, api::ApiError>,
) -> Result<EntrySaved, CommandError> {
    shell.with_state(|state| {
        let result = state.signed_in(|ws, session| work(ws, session).map(saved).map_err(from_api));
        match &result {
            Ok(s) => state.set_last_save(LastSave { durable: true, stored_at: Some(s.stored_at.clone()) }),
            // Refusals that change nothing on disk (a finding, a safety question) say nothing about durability.
            Err(e) if matches!(e.code, ErrorCode::InvalidInput | ErrorCode::SafetyCheck) => {}
            Err(_) => state.set_last_save(LastSave { durable: false, stored_at: None }),
        }
        result
    })
}

pub fn census(shell: &Shell) -> Result<Census, CommandError> {
    shell.signed_in(|ws, session| {
        let patients = ws.patients(session)?;
        let snapshot = ws.census_snapshot(session)?;
        Ok(Census {
            patients: patients.iter().map(patient).collect(),
            snapshot_time: snapshot.map(|s| s.snapshot_time),
        })
    })
}

/// Finds a patient by MRN (typed or scanned from a wristband); audited as a view by the core.
pub fn find_patient(shell: &Shell, mrn: String) -> Result<PatientInfo, CommandError> {
    shell.signed_in(|ws, session| Ok(patient(&ws.find_patient(session, &mrn, &SystemClock)?)))
}

pub fn register_patient(shell: &Shell, request: Registration) -> Result<PatientInfo, CommandError> {
    let reg = dtk::patients::Registration {
        family: request.family,
        given: request.given.split_whitespace().map(str::to_string).collect(),
        birth_date: request.birth_date.filter(|d| !d.trim().is_empty()),
        gender: request.gender.filter(|g| !g.trim().is_empty()),
        location: request.location.filter(|l| !l.trim().is_empty()),
    };
    shell.signed_in(|ws, session| Ok(patient(&ws.register_patient(session, &reg, &SystemClock)?)))
}

pub fn forms(shell: &Shell) -> Result<Vec<FormInfo>, CommandError> {
    shell.signed_in(|ws, _session| {
        let mut forms: Vec<FormInfo> = ws
            .forms()
            .forms()
            .map(|f| FormInfo {
                canonical: f.canonical(),
                title: f.title.clone(),
                asks_clinical_time: f.asks_clinical_time(),
                questionnaire: f.source.clone(),
            })
            .collect();
        forms.sort_by(|a, b| a.title.cmp(&b.title));
        Ok(forms)
    })
}

pub fn patient_entries(shell: &Shell, mrn: String) -> Result<Vec<EntrySummary>, CommandError> {
    shell.signed_in(|ws, session| Ok(ws.list_entries(session, Some(&mrn), &SystemClock)?.iter().map(summary).collect()))
}

/// A patient's MAR for the open episode (the chart's MAR tab). Audited in the core as a view of the patient.
pub fn patient_mar(shell: &Shell, mrn: String) -> Result<MarView, CommandError> {
    shell.signed_in(|ws, session| Ok(super::mar::view(ws.mar(session, &mrn, &SystemClock)?)))
}

pub fn entry(shell: &Shell, id: String) -> Result<EntryDetail, CommandError> {
    shell.signed_in(|ws, session| {
        let detail = ws.entry(session, &id, &SystemClock)?;
        Ok(EntryDetail {
            summary: summary(&detail.summary),
            versions: detail
                .versions
                .into_iter()
                .map(|v| EntryVersion {
                    version: version(v.version),
                    kind: v.kind,
                    author: v.author,
                    recorded_at: v.recorded_at,
                    signed_at: v.signed_at,
                    signed_by: v.signed_by,
                    reason: v.body.reason,
                    allergy_override: v.body.allergy_override,
                    clinical_time: v.body.clinical_time,
                    response: v.body.response,
                })
                .collect(),
        })
    })
}

/// Validates a response and runs the safety checks without saving (the form screen calls it before saving).
/// `entry_id` is the entry being edited or amended, which is never its own duplicate.
pub fn check_entry(
    shell: &Shell,
    request: EntryRequest,
    entry_id: Option<String>,
) -> Result<CheckResult, CommandError> {
    shell.signed_in(|ws, session| {
        let checked =
            ws.check_entry(session, &request.response, &options(&request), entry_id.as_deref(), &SystemClock)?;
        Ok(CheckResult {
            findings: checked.findings.iter().map(finding).collect(),
            warnings: checked.warnings.iter().map(warning).collect(),
        })
    })
}

/// Saves a new entry; resolves only after the core reports the commit durable.
pub fn save_entry(shell: &Shell, request: EntryRequest) -> Result<EntrySaved, CommandError> {
    save(shell, |ws, session| ws.add_entry(session, &request.response, &options(&request), &SystemClock))
}

/// Replaces the content of one of the user's unsigned entries.
pub fn update_entry(shell: &Shell, id: String, request: EntryRequest) -> Result<EntrySaved, CommandError> {
    save(shell, |ws, session| ws.update_entry(session, &id, &request.response, &options(&request), &SystemClock))
}

pub fn sign_entry(shell: &Shell, id: String, confirm_not_duplicate: bool) -> Result<EntrySaved, CommandError> {
    save(shell, |ws, session| ws.sign_entry(session, &id, confirm_not_duplicate, &SystemClock))
}

/// Amends a signed entry: a new signed version; the earlier ones stay.
pub fn amend_entry(shell: &Shell, id: String, request: EntryRequest) -> Result<EntrySaved, CommandError> {
    save(shell, |ws, session| ws.amend_entry(session, &id, &request.response, &options(&request), &SystemClock))
}

pub fn enter_in_error(shell: &Shell, id: String, reason: String) -> Result<EntrySaved, CommandError> {
    save(shell, |ws, session| ws.enter_in_error(session, &id, &reason, &SystemClock))
}

/// Saves (creates or replaces) one of the user's encrypted drafts; resolves once durable.
pub fn save_draft(shell: &Shell, id: Option<String>, body: serde_json::Value) -> Result<DraftSaved, CommandError> {
    shell.signed_in(|ws, session| {
        let durable = ws.save_draft(session, id.as_deref(), &body, &SystemClock)?;
        let stored_at = dtk::clock::stamp(durable.committed_at());
        Ok(DraftSaved { id: durable.into_value(), stored_at })
    })
}

/// The signed-in user's own drafts (the core never returns another user's).
pub fn my_drafts(shell: &Shell) -> Result<Vec<DraftInfo>, CommandError> {
    shell.signed_in(|ws, session| {
        Ok(ws
            .my_drafts(session)?
            .into_iter()
            .map(|d| DraftInfo { id: d.id, updated_at: d.updated_at, body: d.body })
            .collect())
    })
}

pub fn discard_draft(shell: &Shell, id: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, session| Ok(ws.discard_draft(session, &id, &SystemClock)?))
}

/// What the DOWNTIME banner shows: unit, open episode, census snapshot time, last save, read-only, idle timeout.
pub fn downtime_status(shell: &Shell) -> Result<DowntimeStatus, CommandError> {
    shell.with_state(|state| {
        let last_save = state.last_save();
        // The banner's 30-second timer: checked (an ended session shows the lock screen), never counted as activity.
        state.signed_in_as(dtk::api::Activity::Poll, |ws, session| {
            let roles = ws.incident_roles(session)?;
            let episode = ws.current_episode(session)?.map(|e| EpisodeInfo {
                id: e.id,
                kind: match e.kind {
                    dtk::episodes::Kind::Drill => EpisodeKind::Drill,
                    _ => EpisodeKind::Real,
                },
                started_at: e.started_at,
                started_by: e.started_by,
                severity: e
                    .declaration
                    .severity
                    .and_then(|s| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string))),
                reason: e.declaration.reason,
                commander: roles.commander.map(|a| a.name),
                liaison: roles.liaison.map(|a| a.name),
            });
            // The summary (no patient), which every role may see: the administrator imports the census too.
            let snapshot_time = ws.census_summary(session, &SystemClock).ok().flatten().map(|s| s.snapshot_time);
            // The banner's refresh is the app's clock for interim backups: the core starts one when due, on a
            // thread of its own, and reports a failure here rather than as an error of any command.
            let backup = ws.backup_tick(session, &SystemClock);
            Ok(DowntimeStatus {
                unit: ws.unit(),
                episode,
                snapshot_time,
                last_save,
                backup: BackupInfo {
                    last_folder: backup.last_file.as_deref().and_then(|f| f.parent()).map(|d| d.display().to_string()),
                    last_at: backup.last_at,
                    overdue: backup.overdue,
                    running: backup.running,
                    failure: backup.failure,
                    interval_hours: backup.interval_hours,
                },
                read_only: ws.is_read_only(),
                idle_timeout_secs: u32::try_from(ws.site().idle_timeout_secs).unwrap_or(u32::MAX),
            })
        })
    })
}

fn handed_over(h: dtk::handover::HandedOver) -> HandedOver {
    HandedOver { at: h.at, by: h.by }
}

/// The patient's shift handover sheet (audited as a view of the patient).
pub fn handover(shell: &Shell, mrn: String) -> Result<HandoverSheet, CommandError> {
    shell.signed_in(|ws, session| {
        let h = ws.handover(session, &mrn, &SystemClock)?;
        let answer = |a: dtk::handover::Answer| HandoverAnswer { label: a.label, value: a.value };
        Ok(HandoverSheet {
            mrn: h.mrn,
            name: h.name,
            drill: h.drill,
            now: h.now,
            last_handover: h.last_handover.map(handed_over),
            since: h.since,
            due_until: h.due_until,
            vitals: h.vitals.map(|v| HandoverVitals {
                entry_id: v.entry_id,
                at: v.at,
                author: v.author,
                values: v.values.into_iter().map(answer).collect(),
            }),
            given: h
                .given
                .into_iter()
                .map(|d| HandoverGiven {
                    medication: d.medication,
                    at: d.at,
                    given: d.given,
                    reason: d.reason,
                    entry_id: d.entry_id,
                })
                .collect(),
            due: h
                .due
                .into_iter()
                .map(|d| HandoverDue {
                    medication: d.medication,
                    dose: d.dose,
                    route: d.route,
                    at: d.at,
                    status: d.status,
                    timing: d.timing,
                    last_dose_at: d.last_dose_at,
                })
                .collect(),
            notes: h
                .notes
                .into_iter()
                .map(|n| HandoverNote { entry_id: n.entry_id, form: n.form, at: n.at, author: n.author, text: n.text })
                .collect(),
            unsigned: h
                .unsigned
                .into_iter()
                .map(|u| HandoverUnsigned {
                    entry_id: u.entry_id,
                    form: u.form,
                    author: u.author,
                    saved_at: u.saved_at,
                })
                .collect(),
            print_folder: ws.print_folder().display().to_string(),
        })
    })
}

/// Records that the signed-in nurse handed the patient over now.
pub fn record_handover(shell: &Shell, mrn: String) -> Result<HandedOver, CommandError> {
    shell.signed_in(|ws, session| Ok(handed_over(ws.record_handover(session, &mrn, &SystemClock)?)))
}
