//! The clinical operations of the façade: census, patients, episodes, and the entry lifecycle with its safety
//! checks (validation, positive patient identification, allergy and duplicate flags).

use serde::Serialize;
use serde_json::Value;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::{Op, Role};
use crate::census;
use crate::clock::{stamp, Clock};
use crate::crypto::Keys;
use crate::entries::safety::{self, SafetyKind, SafetyWarning};
use crate::entries::{self, EntryError, NewEntry, Origin, Saved, Summary, VersionBody};
use crate::episodes::{self, Declaration, Episode, EpisodeError, Kind};
use crate::forms::{self, Finding, Severity};
use crate::patients::{self, ImportSummary, Patient, RegisterError, Registration, SnapshotInfo};
use crate::vault::Durable;

/// A clinical-time more than this far in the future is refused (clock skew and typing slips, not charting ahead).
const FUTURE_TOLERANCE_MINUTES: i64 = 10;

impl From<EpisodeError> for ApiError {
    fn from(e: EpisodeError) -> Self {
        match e {
            EpisodeError::Vault(v) => v.into(),
            other @ EpisodeError::AlreadyOpen(_) => ApiError::new(ErrorCode::Conflict, other.to_string()),
            other => ApiError::new(ErrorCode::NoEpisode, other.to_string()),
        }
    }
}

impl From<EntryError> for ApiError {
    fn from(e: EntryError) -> Self {
        let code = match &e {
            EntryError::Vault(_) => {
                if let EntryError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            EntryError::NotFound(_) => ErrorCode::NotFound,
            EntryError::NotAuthor { .. } => ErrorCode::Forbidden,
            EntryError::Signed(_) | EntryError::NotSigned(_) | EntryError::EnteredInError(_) => ErrorCode::Conflict,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Vault(v) => v.into(),
            RegisterError::Invalid(_) => ApiError::new(ErrorCode::InvalidInput, e.to_string()),
            other => ApiError::new(ErrorCode::Conflict, other.to_string()),
        }
    }
}

/// What a nurse decided about the warnings.
#[derive(Debug, Clone, Default)]
pub struct EntryOptions {
    pub sign: bool,
    /// Reason for giving a medication despite a matching allergy.
    pub allergy_override: Option<String>,
    /// The nurse confirmed this is not the same event as the flagged entry.
    pub confirm_not_duplicate: bool,
    /// Reason for an amendment.
    pub reason: Option<String>,
    /// The clinical time (a FHIR dateTime with seconds and an offset) of a form that asks for it
    /// (`Form::asks_clinical_time`: no item holds it); the nurse gives it above the form or with
    /// `dtk entry add --clinical-time`. Refused for a form whose item holds the time.
    pub clinical_time: Option<String>,
}

/// The result of checking a response without saving it (the form screen calls this as the nurse types).
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub warnings: Vec<SafetyWarning>,
    pub patient: Option<Patient>,
}

/// A durable save and what the nurse must still look at.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySaved {
    pub saved: Saved,
    /// "saved on this workstation at …": the commit time.
    pub stored_at: String,
    pub warnings: Vec<SafetyWarning>,
}

/// A response checked against its form ([`Workstation::validate`]), waiting for the look-ups that decide its save.
pub(super) struct Validated {
    form: String,
    response: Value,
    clinical_time: Option<String>,
    medication: Option<String>,
    codes: Vec<String>,
    /// The MRN systems the subject's MRN is looked up in (the response's own, else the site's two).
    systems: Vec<String>,
    mrn: String,
    window_minutes: i64,
}

impl Validated {
    /// The look-ups whose answers decide a save: the patient, then the allergy and duplicate checks against what
    /// `conn` holds. A save calls it on its write transaction (`tx.sql()`), which holds SQLite's write lock from its
    /// start (`BEGIN IMMEDIATE`), so no other writer (the CLI beside the app, a second window) can chart between the
    /// check and the commit. `exclude` is the entry being changed, never a duplicate of itself.
    pub(super) fn look_up(
        self,
        conn: &rusqlite::Connection,
        keys: &Keys,
        opts: &EntryOptions,
        exclude: Option<&str>,
    ) -> Result<Prepared, ApiError> {
        let systems: Vec<&str> = self.systems.iter().map(String::as_str).collect();
        let patient = super::unit::find_in_unit(conn, keys, &systems, &self.mrn)?.ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "the MRN in the response's subject matches no patient on this workstation (census or downtime registration, here or on the unit's other workstations)")
        })?;
        let idx = patients::mrn_token(keys, &patient.record.mrn_system, &patient.record.mrn);
        let subject = safety::Subject {
            patient: &patient,
            duplicates: entries::DuplicateQuery {
                patient_idx: &idx,
                form: &self.form,
                medication: self.medication.as_deref(),
                clinical_time: self.clinical_time.as_deref(),
                window_minutes: self.window_minutes,
                exclude,
            },
        };
        let warnings = safety::warnings(conn, keys, &subject)?;
        let distinct_from = if opts.confirm_not_duplicate { safety::duplicates_of(&warnings) } else { Vec::new() };
        Ok(Prepared {
            form: self.form,
            body: VersionBody {
                response: self.response,
                clinical_time: self.clinical_time,
                patient: (&patient).into(),
                medication: self.medication,
                codes: self.codes,
                allergy_override: opts.allergy_override.clone().filter(|r| !r.trim().is_empty()),
                duplicate_confirmed: opts.confirm_not_duplicate,
                distinct_from,
                reason: opts.reason.clone(),
                paper: None,
            },
            patient,
            warnings,
        })
    }
}

/// Everything prepared for a save.
pub(super) struct Prepared {
    pub(super) form: String,
    pub(super) body: VersionBody,
    pub(super) patient: Patient,
    pub(super) warnings: Vec<SafetyWarning>,
}

impl Workstation {
    /// Records that someone looked at a patient or an entry. On a read-only vault a view cannot be recorded, and
    /// reading must still work there (it is how a damaged or write-protected vault is used at all).
    pub(super) fn audit_view(
        &mut self,
        session: &Session,
        action: &str,
        target: &str,
        detail: Value,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        let vault = self.vault_mut()?;
        match vault.write(session.keys(), session.username(), clock.now(), |tx| tx.audit(action, target, &detail)) {
            Ok(_) | Err(crate::vault::VaultError::ReadOnly) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn mrn_systems(&self) -> Vec<&str> {
        vec![self.site.mrn_system.as_str(), self.site.temp_mrn_system.as_str()]
    }

    /// Imports (or replaces) the census snapshot: a FHIR Bundle, or a census file signed by the site's census key
    /// (checked first; ARCHITECTURE.md, "The census without a password"). Entries are never touched.
    pub fn import_census(
        &mut self,
        session: &Session,
        bytes: &[u8],
        clock: &dyn Clock,
    ) -> Result<ImportSummary, ApiError> {
        session.require(Op::ImportCensus)?;
        let (bundle, from) = self.census_bundle(bytes)?;
        let census = census::parse(bundle, Some(&self.site.mrn_system))
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| patients::import_census(tx, &census, &from))?
            .into_value())
    }

    pub fn census_snapshot(&self, session: &Session) -> Result<Option<SnapshotInfo>, ApiError> {
        session.require(Op::ReadUnit)?;
        Ok(patients::current_snapshot(self.vault()?.conn())?)
    }

    /// The unit's patients (census and registrations), by name, date of birth, MRN.
    pub fn patients(&self, session: &Session) -> Result<Vec<Patient>, ApiError> {
        session.require(Op::ReadUnit)?;
        Ok(patients::list(self.vault()?.conn(), session.keys())?)
    }

    /// Finds a patient by MRN (typed, or scanned from a wristband). Audited as a view.
    pub fn find_patient(&mut self, session: &Session, mrn: &str, clock: &dyn Clock) -> Result<Patient, ApiError> {
        session.require(Op::ReadUnit)?;
        let mrn = mrn.trim();
        let systems: Vec<String> = self.mrn_systems().into_iter().map(str::to_string).collect();
        let refs: Vec<&str> = systems.iter().map(String::as_str).collect();
        let vault = self.vault_mut()?;
        let found = super::unit::find_in_unit(vault.conn(), session.keys(), &refs, mrn)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no patient with this MRN on this workstation"))?;
        let target = format!("patients:{}", found.id);
        self.audit_view(session, patients::action::PATIENT_VIEWED, &target, serde_json::json!({ "mrn": mrn }), clock)?;
        Ok(found)
    }

    /// Registers a patient not in the census, with the next temporary MRN of this workstation's block.
    pub fn register_patient(
        &mut self,
        session: &Session,
        reg: &Registration,
        clock: &dyn Clock,
    ) -> Result<Patient, ApiError> {
        session.require(Op::RegisterPatient)?;
        let block = self.site.temp_mrn_block.clone();
        let system = self.site.temp_mrn_system.clone();
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                patients::register(tx, block.as_ref(), &system, reg)
            })?
            .into_value())
    }

    pub fn current_episode(&self, session: &Session) -> Result<Option<Episode>, ApiError> {
        Ok(episodes::current(self.vault()?.conn(), session.keys())?)
    }

    pub fn episodes(&self, session: &Session) -> Result<Vec<Episode>, ApiError> {
        session.require(Op::ReadUnit).or_else(|_| session.require(Op::ManageEpisode))?;
        Ok(episodes::list(self.vault()?.conn(), session.keys())?)
    }

    pub fn start_episode(
        &mut self,
        session: &Session,
        kind: Kind,
        declaration: Declaration,
        clock: &dyn Clock,
    ) -> Result<Episode, ApiError> {
        session.require(Op::ManageEpisode)?;
        if let Some(began) = &declaration.began_at {
            // When the outage began: before now (a clock a minute fast is no fault), at most 31 days back.
            let now = clock.now();
            let ok = crate::clock::parse_stamp(began)
                .is_some_and(|b| b <= now + time::Duration::minutes(1) && b >= now - time::Duration::days(31));
            if !ok {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "began_at: when the outage began must be a time in the last 31 days, not in the future",
                ));
            }
        }
        let unit = self.unit().unwrap_or_else(|| "Unit".into());
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                episodes::start(tx, &unit, kind, &declaration)
            })?
            .into_value())
    }

    pub fn end_episode(&mut self, session: &Session, clock: &dyn Clock) -> Result<Episode, ApiError> {
        session.require(Op::ManageEpisode)?;
        let vault = self.vault_mut()?;
        Ok(vault.write(session.keys(), session.username(), clock.now(), episodes::end)?.into_value())
    }

    /// Validates a response and runs the safety checks, without saving. Findings are per linkId for the form screen.
    /// `changing` names the entry being edited or amended, so that it is never flagged as a duplicate of itself.
    pub fn check_entry(
        &self,
        session: &Session,
        response: &Value,
        opts: &EntryOptions,
        changing: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<Checked, ApiError> {
        session.require(Op::ReadUnit)?;
        match self.prepare(session, response, opts, changing, clock) {
            Ok(p) => Ok(Checked { findings: Vec::new(), warnings: p.warnings, patient: Some(p.patient) }),
            Err(e) if !e.findings.is_empty() => {
                Ok(Checked { findings: e.findings, warnings: Vec::new(), patient: None })
            }
            Err(e) => Err(e),
        }
    }

    /// Validation and the safety look-ups in one, reading the vault as it is now: for checking a response without
    /// saving it. A save runs the two halves apart ([`Workstation::validate`] before its write transaction,
    /// [`Validated::look_up`] inside it).
    pub(super) fn prepare(
        &self,
        session: &Session,
        response: &Value,
        opts: &EntryOptions,
        exclude: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<Prepared, ApiError> {
        self.validate(response, opts, clock)?.look_up(self.vault()?.conn(), session.keys(), opts, exclude)
    }

    /// The pure half of a save: the response checked against its form, its facts and its clinical time. Reads
    /// nothing from the vault, so it runs before the write transaction and the write lock is held only for the
    /// look-ups and the write.
    pub(super) fn validate(
        &self,
        response: &Value,
        opts: &EntryOptions,
        clock: &dyn Clock,
    ) -> Result<Validated, ApiError> {
        let canonical = response.get("questionnaire").and_then(Value::as_str).unwrap_or("");
        let form = self.catalog.get(canonical).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "the response's questionnaire '{}' is not a loaded form",
                    canonical.chars().take(200).collect::<String>()
                ),
            )
        })?;
        let checked = forms::validate_response(form, response);
        let mut findings: Vec<Finding> = checked.findings.clone();
        let facts = forms::facts_of_checked(form, &checked);
        let clinical_time = clinical_time(form, &facts, opts.clinical_time.as_deref(), &mut findings)?;
        let now = clock.now();
        if let Some(t) = clinical_time.as_deref().and_then(entries::parse_fhir_time) {
            if (t - now).whole_minutes() > FUTURE_TOLERANCE_MINUTES {
                findings.push(Finding {
                    link_id: form.clinical_time_item().map(str::to_string),
                    severity: Severity::Error,
                    message: match form.clinical_time_item() {
                        Some(_) => "the time is in the future".into(),
                        None => format!("{} the time is in the future", forms::ASKED_CLINICAL_TIME_LABEL),
                    },
                });
            }
        }
        if findings.iter().any(|f| f.severity == Severity::Error) {
            let summary: Vec<String> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| format!("{}: {}", f.link_id.as_deref().unwrap_or("form"), f.message))
                .collect();
            return Err(ApiError {
                code: ErrorCode::InvalidInput,
                message: format!("the form has problems: {}", summary.join("; ")),
                findings,
                safety: None,
            });
        }
        let (system, mrn) = facts.subject_mrn.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                "the response has no patient: subject.identifier (system and MRN) is required",
            )
        })?;
        let systems = if system.is_empty() { self.mrn_systems() } else { vec![system.as_str()] };
        let mut response = checked.response;
        if let Some(obj) = response.as_object_mut() {
            obj.insert(
                "status".into(),
                Value::String(if opts.reason.is_some() { "amended" } else { "completed" }.into()),
            );
        }
        Ok(Validated {
            form: form.canonical(),
            response,
            clinical_time,
            medication: facts.medication,
            codes: facts.codes,
            systems: systems.into_iter().map(str::to_string).collect(),
            mrn,
            window_minutes: self.site.duplicate_window_minutes,
        })
    }

    /// Refuses unless every warning has its answer (`entries::safety::gate`).
    fn gate(warnings: &[SafetyWarning], opts: &EntryOptions, signing: bool) -> Result<(), ApiError> {
        safety::gate(warnings, opts.allergy_override.as_deref(), opts.confirm_not_duplicate, signing)
            .map_err(|refusal| safety_error(warnings, refusal.kind, refusal.message))
    }

    /// The clinical time a stored version carries beside its response, when its form asks for it (signing a draft
    /// checks the version again with the time it was saved with).
    fn asked_time(&self, body: &VersionBody) -> Option<String> {
        let canonical = body.response.get("questionnaire").and_then(Value::as_str).unwrap_or("");
        self.catalog.get(canonical).filter(|f| f.asks_clinical_time()).and(body.clinical_time.clone())
    }

    pub(super) fn open_episode_for_charting(&self, session: &Session) -> Result<Episode, ApiError> {
        episodes::current(self.vault()?.conn(), session.keys())?.ok_or_else(|| EpisodeError::NoneOpen.into())
    }

    /// Saves a new entry durably (draft, or signed with `opts.sign`). Returns only after the commit.
    pub fn add_entry(
        &mut self,
        session: &Session,
        response: &Value,
        opts: &EntryOptions,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::ChartEntry)?;
        let id = match response.get("id").and_then(Value::as_str) {
            Some(existing) if uuid::Uuid::parse_str(existing).is_ok() => existing.to_string(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let response = with_id(response, &id);
        let validated = self.validate(&response, opts, clock)?;
        let vault = self.vault_mut()?;
        let saved: Durable<(Saved, Vec<SafetyWarning>)> =
            vault.write(session.keys(), session.username(), clock.now(), |tx| {
                // The open episode is read in the write too: an episode ended elsewhere meanwhile takes no entry.
                let episode_id = episodes::current_id(tx.sql())?.ok_or(EpisodeError::NoneOpen)?;
                let workstation = tx.meta_text(super::WORKSTATION_ID)?.unwrap_or_default();
                if entries::exists(tx.sql(), &id)? {
                    return Err(ApiError::new(ErrorCode::Conflict, format!("entry {id} already exists")));
                }
                let prep = validated.look_up(tx.sql(), tx.keys(), opts, None)?;
                Self::gate(&prep.warnings, opts, opts.sign)?;
                let new = NewEntry {
                    form: &prep.form,
                    episode_id: &episode_id,
                    workstation: &workstation,
                    patient: &prep.patient,
                    body: prep.body,
                    sign: opts.sign,
                    origin: Origin::Electronic,
                    author: None,
                };
                Ok((entries::create(tx, &id, new)?, prep.warnings))
            })?;
        Ok(saved_with_warnings(saved))
    }

    /// Replaces the content of one of the user's unsigned entries.
    pub fn update_entry(
        &mut self,
        session: &Session,
        id: &str,
        response: &Value,
        opts: &EntryOptions,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::ChartEntry)?;
        let response = with_id(response, id);
        let validated = self.validate(&response, opts, clock)?;
        let vault = self.vault_mut()?;
        let saved = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let prep = validated.look_up(tx.sql(), tx.keys(), opts, Some(id))?;
            Self::gate(&prep.warnings, opts, false)?;
            Ok::<_, ApiError>((entries::update_draft(tx, id, &prep.body)?, prep.warnings))
        })?;
        Ok(saved_with_warnings(saved))
    }

    /// Signs one of the user's draft entries (re-running the duplicate check against everything saved since).
    pub fn sign_entry(
        &mut self,
        session: &Session,
        id: &str,
        confirm_not_duplicate: bool,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::ChartEntry)?;
        let (version, body) = {
            let conn = self.vault()?.conn();
            let summary = entries::summary(conn, session.keys(), id)?.ok_or_else(|| EntryError::NotFound(id.into()))?;
            (summary.version, entries::version_body(conn, session.keys(), id, summary.version)?)
        };
        let opts = EntryOptions {
            sign: true,
            allergy_override: body.allergy_override.clone(),
            confirm_not_duplicate,
            reason: None,
            clinical_time: self.asked_time(&body),
        };
        let validated = self.validate(&body.response, &opts, clock)?;
        let vault = self.vault_mut()?;
        let saved = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            // The draft signed is the one checked: a save of it from elsewhere since is not signed unseen.
            let now = entries::summary(tx.sql(), tx.keys(), id)?.ok_or_else(|| EntryError::NotFound(id.into()))?;
            if now.version != version {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "entry {id} was changed while it was being signed; open it again and sign what it says now"
                    ),
                ));
            }
            let prep = validated.look_up(tx.sql(), tx.keys(), &opts, Some(id))?;
            // A confirmation given when the draft was saved covers the entries it was given about, never one
            // charted since.
            let confirmed_at_save =
                safety::duplicates_of(&prep.warnings).iter().all(|d| body.distinct_from.contains(d));
            let gate_opts = EntryOptions { confirm_not_duplicate: confirm_not_duplicate || confirmed_at_save, ..opts };
            Self::gate(&prep.warnings, &gate_opts, true)?;
            Ok::<_, ApiError>((entries::sign(tx, id, confirm_not_duplicate)?, prep.warnings))
        })?;
        Ok(saved_with_warnings(saved))
    }

    /// Amends a signed entry: a new signed version; the earlier ones stay.
    pub fn amend_entry(
        &mut self,
        session: &Session,
        id: &str,
        response: &Value,
        opts: &EntryOptions,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::ChartEntry)?;
        let response = with_id(response, id);
        let opts =
            EntryOptions { reason: Some(opts.reason.clone().unwrap_or_else(|| "amended".into())), ..opts.clone() };
        let validated = self.validate(&response, &opts, clock)?;
        let vault = self.vault_mut()?;
        let saved = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let prep = validated.look_up(tx.sql(), tx.keys(), &opts, Some(id))?;
            Self::gate(&prep.warnings, &opts, true)?;
            let current =
                entries::summary(tx.sql(), tx.keys(), id)?.ok_or_else(|| EntryError::NotFound(id.into()))?;
            if current.patient.mrn != prep.body.patient.mrn || current.form != prep.form {
                return Err(ApiError::new(
                    ErrorCode::InvalidInput,
                    "an amendment must keep the same patient and form; mark the entry entered-in-error and chart a new one instead",
                ));
            }
            Ok((entries::amend(tx, id, &prep.body)?, prep.warnings))
        })?;
        Ok(saved_with_warnings(saved))
    }

    /// Marks an entry entered-in-error (its author, or a charge nurse).
    pub fn enter_in_error(
        &mut self,
        session: &Session,
        id: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::ChartEntry)?;
        if reason.trim().is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "a reason is required to mark an entry entered-in-error",
            ));
        }
        let may_override = session.role() == Role::Charge;
        let vault = self.vault_mut()?;
        let saved = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            entries::enter_in_error(tx, id, reason.trim(), may_override)
        })?;
        Ok(EntrySaved { stored_at: stamp(saved.committed_at()), saved: saved.into_value(), warnings: Vec::new() })
    }

    /// Entries, newest first; for one patient when `mrn` is given (audited as a view of that patient).
    pub fn list_entries(
        &mut self,
        session: &Session,
        mrn: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<Vec<Summary>, ApiError> {
        self.list_entries_page(session, mrn, None, 0, clock)
    }

    /// One page of [`Workstation::list_entries`]: at most `limit` entries (all with `None`) after skipping `offset`.
    /// Only the page's entries are decrypted, and a patient's page is read from an index in order (issue 8).
    pub fn list_entries_page(
        &mut self,
        session: &Session,
        mrn: Option<&str>,
        limit: Option<usize>,
        offset: usize,
        clock: &dyn Clock,
    ) -> Result<Vec<Summary>, ApiError> {
        session.require(Op::ReadUnit)?;
        let mut filter = entries::Filter { limit, offset, ..entries::Filter::default() };
        if let Some(m) = mrn {
            let patient = self.find_patient(session, m, clock)?;
            filter.patient_idx =
                Some(patients::mrn_token(session.keys(), &patient.record.mrn_system, &patient.record.mrn));
        }
        Ok(entries::list(self.vault()?.conn(), session.keys(), &filter)?)
    }

    /// One entry with all its versions (audited as a view).
    pub fn entry(&mut self, session: &Session, id: &str, clock: &dyn Clock) -> Result<entries::Detail, ApiError> {
        session.require(Op::ReadUnit)?;
        let vault = self.vault_mut()?;
        let detail =
            entries::detail(vault.conn(), session.keys(), id)?.ok_or_else(|| EntryError::NotFound(id.into()))?;
        self.audit_view(session, entries::action::VIEWED, &format!("entries:{id}"), serde_json::json!({}), clock)?;
        Ok(detail)
    }
}

/// The entry's clinical time: the answer of the form's clinical-time item, or for a form that asks for it the time
/// given beside the response (`given`), which must then be a FHIR dateTime with seconds and an offset. A missing or
/// malformed given time is a finding above the form (no linkId: no item holds it); a time given for a form whose item
/// holds it is refused, so that an entry never has two.
fn clinical_time(
    form: &forms::Form,
    facts: &forms::Facts,
    given: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Result<Option<String>, ApiError> {
    let label = forms::ASKED_CLINICAL_TIME_LABEL;
    let mut problem = |message: String| findings.push(Finding { link_id: None, severity: Severity::Error, message });
    Ok(match (form.clinical_time_item(), given.map(str::trim)) {
        (Some(item), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "this form holds the clinical time in its item '{}': answer it there; a time given beside the \
                     response is only for forms that ask for it",
                    item.chars().take(60).collect::<String>()
                ),
            ))
        }
        (Some(_), None) => facts.clinical_time.clone(),
        (None, Some(t)) if entries::parse_fhir_time(t).is_some() => Some(t.to_string()),
        (None, Some(_)) => {
            problem(format!(
                "{label} must be a date and time with seconds and a UTC offset, like 2026-11-21T10:15:00-05:00"
            ));
            None
        }
        (None, None) => {
            problem(format!("{label} is required: no item of this form holds the clinical time"));
            None
        }
    })
}

/// The response with its `id` set to the entry's id (the entry id is the QuestionnaireResponse id).
pub(super) fn with_id(response: &Value, id: &str) -> Value {
    let mut response = response.clone();
    if let Some(obj) = response.as_object_mut() {
        obj.insert("id".into(), Value::String(id.to_string()));
    }
    response
}

fn safety_error(warnings: &[SafetyWarning], refused_by: SafetyKind, message: &str) -> ApiError {
    ApiError {
        code: ErrorCode::SafetyCheck,
        message: message.to_string(),
        findings: warnings
            .iter()
            .map(|w| Finding { link_id: None, severity: Severity::Warning, message: w.message.clone() })
            .collect(),
        safety: Some(refused_by),
    }
}

/// A save's result with the warnings its look-ups gave, stamped with its commit time.
fn saved_with_warnings(saved: Durable<(Saved, Vec<SafetyWarning>)>) -> EntrySaved {
    let stored_at = stamp(saved.committed_at());
    let (saved, warnings) = saved.into_value();
    EntrySaved { saved, stored_at, warnings }
}
