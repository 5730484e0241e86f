//! The nurse's path: census, patient banner, downtime registration, forms, entries (check, save, sign, amend,
//! entered-in-error), drafts, and the DOWNTIME banner's status. Each command converts, calls `dtk::api`, converts.
use super::{blocking, from_api, Shell};
use crate::dto::{
    Allergy, Census, CheckResult, CommandError, DowntimeStatus, DraftInfo, DraftSaved, EntryDetail, EntryRequest,
    EntrySaved, EntryStatus, EntrySummary, EntryVersion, EpisodeInfo, EpisodeKind, ErrorCode, Finding, FindingSeverity,
    FormInfo, LastSave, PatientInfo, Registration, SafetyKind, SafetyWarning,
};
use dtk::api::{self, EntryOptions, Session, Workstation};
use dtk::clock::SystemClock;
use std::sync::{Arc, Mutex};
use tauri::State;

/// The outcome of the last save since sign-in, for the banner's "last save durable" indicator. Kept beside the
/// session (not in the web view) so a reload of the window cannot make an unsaved state look saved.
#[derive(Default)]
pub struct LastSaveState(Mutex<Option<LastSave>>);

impl LastSaveState {
    fn set(&self, value: Option<LastSave>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = value;
        }
    }

    fn get(&self) -> Option<LastSave> {
        self.0.lock().ok().and_then(|guard| guard.clone())
    }

    /// Forgets the last save (a new sign-in starts with none).
    pub fn clear(&self) {
        self.set(None);
    }
}

/// Runs `work` with the workstation and the signed-in session, or fails with `not_signed_in`.
fn with_session<T>(
    shell: &Shell,
    work: impl FnOnce(&mut Workstation, &Session) -> Result<T, api::ApiError>,
) -> Result<T, CommandError> {
    let session = shell.session()?;
    let session = session
        .as_ref()
        .ok_or_else(|| CommandError::new(ErrorCode::NotSignedIn, "Nobody is signed in on this workstation."))?;
    let mut workstation = shell.workstation()?;
    work(&mut workstation, session).map_err(from_api)
}

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
    }
}

/// Records the outcome of a save for the banner, and passes the result on.
fn remember(shell: &Shell, result: Result<EntrySaved, CommandError>) -> Result<EntrySaved, CommandError> {
    let state = shell.last_save();
    match &result {
        Ok(s) => state.set(Some(LastSave { durable: true, stored_at: Some(s.stored_at.clone()) })),
        // Refusals that change nothing on disk (a finding, a safety question) say nothing about durability.
        Err(e) if matches!(e.code, ErrorCode::InvalidInput | ErrorCode::SafetyCheck) => {}
        Err(_) => state.set(Some(LastSave { durable: false, stored_at: None })),
    }
    result
}

#[tauri::command]
pub async fn census(shell: State<'_, Arc<Shell>>) -> Result<Census, CommandError> {
    blocking(&shell, |shell| {
        with_session(shell, |ws, session| {
            let patients = ws.patients(session)?;
            let snapshot = ws.census_snapshot(session)?;
            Ok(Census {
                patients: patients.iter().map(patient).collect(),
                snapshot_time: snapshot.map(|s| s.snapshot_time),
            })
        })
    })
    .await
}

/// Finds a patient by MRN (typed or scanned from a wristband); audited as a view by the core.
#[tauri::command]
pub async fn find_patient(shell: State<'_, Arc<Shell>>, mrn: String) -> Result<PatientInfo, CommandError> {
    blocking(&shell, move |shell| {
        with_session(shell, |ws, session| ws.find_patient(session, &mrn, &SystemClock).map(|p| patient(&p)))
    })
    .await
}

#[tauri::command]
pub async fn register_patient(
    shell: State<'_, Arc<Shell>>,
    request: Registration,
) -> Result<PatientInfo, CommandError> {
    blocking(&shell, move |shell| {
        let reg = dtk::patients::Registration {
            family: request.family,
            given: request.given.split_whitespace().map(str::to_string).collect(),
            birth_date: request.birth_date.filter(|d| !d.trim().is_empty()),
            gender: request.gender.filter(|g| !g.trim().is_empty()),
            location: request.location.filter(|l| !l.trim().is_empty()),
        };
        with_session(shell, |ws, session| ws.register_patient(session, &reg, &SystemClock).map(|p| patient(&p)))
    })
    .await
}

#[tauri::command]
pub async fn forms(shell: State<'_, Arc<Shell>>) -> Result<Vec<FormInfo>, CommandError> {
    blocking(&shell, |shell| {
        with_session(shell, |ws, _session| {
            let mut forms: Vec<FormInfo> = ws
                .forms()
                .forms()
                .map(|f| FormInfo { canonical: f.canonical(), title: f.title.clone(), questionnaire: f.source.clone() })
                .collect();
            forms.sort_by(|a, b| a.title.cmp(&b.title));
            Ok(forms)
        })
    })
    .await
}

#[tauri::command]
pub async fn patient_entries(shell: State<'_, Arc<Shell>>, mrn: String) -> Result<Vec<EntrySummary>, CommandError> {
    blocking(&shell, move |shell| {
        with_session(shell, |ws, session| {
            ws.list_entries(session, Some(&mrn), &SystemClock).map(|list| list.iter().map(summary).collect())
        })
    })
    .await
}

#[tauri::command]
pub async fn entry(shell: State<'_, Arc<Shell>>, id: String) -> Result<EntryDetail, CommandError> {
    blocking(&shell, move |shell| {
        with_session(shell, |ws, session| {
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
                        response: v.body.response,
                    })
                    .collect(),
            })
        })
    })
    .await
}

/// Validates a response and runs the safety checks without saving (the form screen calls it before saving).
/// `entry_id` is the entry being edited or amended, which is never its own duplicate.
#[tauri::command]
pub async fn check_entry(
    shell: State<'_, Arc<Shell>>,
    request: EntryRequest,
    entry_id: Option<String>,
) -> Result<CheckResult, CommandError> {
    blocking(&shell, move |shell| {
        with_session(shell, |ws, session| {
            let checked =
                ws.check_entry(session, &request.response, &options(&request), entry_id.as_deref(), &SystemClock)?;
            Ok(CheckResult {
                findings: checked.findings.iter().map(finding).collect(),
                warnings: checked.warnings.iter().map(warning).collect(),
            })
        })
    })
    .await
}

/// Saves a new entry; resolves only after the core reports the commit durable.
#[tauri::command]
pub async fn save_entry(shell: State<'_, Arc<Shell>>, request: EntryRequest) -> Result<EntrySaved, CommandError> {
    blocking(&shell, move |shell| {
        let result = with_session(shell, |ws, session| {
            ws.add_entry(session, &request.response, &options(&request), &SystemClock).map(saved)
        });
        remember(shell, result)
    })
    .await
}

/// Replaces the content of one of the user's unsigned entries.
#[tauri::command]
pub async fn update_entry(
    shell: State<'_, Arc<Shell>>,
    id: String,
    request: EntryRequest,
) -> Result<EntrySaved, CommandError> {
    blocking(&shell, move |shell| {
        let result = with_session(shell, |ws, session| {
            ws.update_entry(session, &id, &request.response, &options(&request), &SystemClock).map(saved)
        });
        remember(shell, result)
    })
    .await
}

#[tauri::command]
pub async fn sign_entry(
    shell: State<'_, Arc<Shell>>,
    id: String,
    confirm_not_duplicate: bool,
) -> Result<EntrySaved, CommandError> {
    blocking(&shell, move |shell| {
        let result = with_session(shell, |ws, session| {
            ws.sign_entry(session, &id, confirm_not_duplicate, &SystemClock).map(saved)
        });
        remember(shell, result)
    })
    .await
}

/// Amends a signed entry: a new signed version; the earlier ones stay.
#[tauri::command]
pub async fn amend_entry(
    shell: State<'_, Arc<Shell>>,
    id: String,
    request: EntryRequest,
) -> Result<EntrySaved, CommandError> {
    blocking(&shell, move |shell| {
        let result = with_session(shell, |ws, session| {
            ws.amend_entry(session, &id, &request.response, &options(&request), &SystemClock).map(saved)
        });
        remember(shell, result)
    })
    .await
}

#[tauri::command]
pub async fn enter_in_error(
    shell: State<'_, Arc<Shell>>,
    id: String,
    reason: String,
) -> Result<EntrySaved, CommandError> {
    blocking(&shell, move |shell| {
        let result =
            with_session(shell, |ws, session| ws.enter_in_error(session, &id, &reason, &SystemClock).map(saved));
        remember(shell, result)
    })
    .await
}

/// Saves (creates or replaces) one of the user's encrypted drafts; resolves once durable.
#[tauri::command]
pub async fn save_draft(
    shell: State<'_, Arc<Shell>>,
    id: Option<String>,
    body: serde_json::Value,
) -> Result<DraftSaved, CommandError> {
    blocking(&shell, move |shell| {
        with_session(shell, |ws, session| {
            let durable = ws.save_draft(session, id.as_deref(), &body, &SystemClock)?;
            let stored_at = dtk::clock::stamp(durable.committed_at());
            Ok(DraftSaved { id: durable.into_value(), stored_at })
        })
    })
    .await
}

/// The signed-in user's own drafts (the core never returns another user's).
#[tauri::command]
pub async fn my_drafts(shell: State<'_, Arc<Shell>>) -> Result<Vec<DraftInfo>, CommandError> {
    blocking(&shell, |shell| {
        with_session(shell, |ws, session| {
            Ok(ws
                .my_drafts(session)?
                .into_iter()
                .map(|d| DraftInfo { id: d.id, updated_at: d.updated_at, body: d.body })
                .collect())
        })
    })
    .await
}

#[tauri::command]
pub async fn discard_draft(shell: State<'_, Arc<Shell>>, id: String) -> Result<(), CommandError> {
    blocking(&shell, move |shell| with_session(shell, |ws, session| ws.discard_draft(session, &id, &SystemClock))).await
}

/// What the DOWNTIME banner shows: unit, open episode, census snapshot time, last save, read-only, idle timeout.
#[tauri::command]
pub async fn downtime_status(shell: State<'_, Arc<Shell>>) -> Result<DowntimeStatus, CommandError> {
    blocking(&shell, |shell| {
        let last_save = shell.last_save().get();
        with_session(shell, |ws, session| {
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
            });
            // Admins and HIM may not read the unit's census; the banner then simply has no snapshot age.
            let snapshot_time = ws.census_snapshot(session).ok().flatten().map(|s| s.snapshot_time);
            Ok(DowntimeStatus {
                unit: ws.unit(),
                episode,
                snapshot_time,
                last_save,
                read_only: ws.is_read_only(),
                idle_timeout_secs: u32::try_from(ws.site().idle_timeout_secs).unwrap_or(u32::MAX),
            })
        })
    })
    .await
}
