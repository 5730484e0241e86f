//! The HIM operations of the façade: the reconciliation worklist and its decisions, paper back-entry, FHIR export
//! and posting, the reconciliation report (the handoff operations are in `handoff.rs`). The desktop app's HIM
//! screens call exactly these; every one checks the role first and calls the domain: `reconcile`, `fhir`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::handoff::io_err;
use super::paper::{Assignment, PaperAnswers};
use super::{ApiError, EntrySaved, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{stamp, Clock};
use crate::entries;
use crate::fhir::{self, FhirError, StaffRef};
pub use crate::fhir::{BatchExported, PostReport, Progress, POST_ENTRIES_PER_TRANSACTION};
use crate::paper;
use crate::reconcile::back_entry::BackEntryError;
pub use crate::reconcile::HandEntry;
use crate::reconcile::{self, Filter, Page, Proposal, ReconcileError, Report, SideBySide, State, Summary};

impl From<ReconcileError> for ApiError {
    fn from(e: ReconcileError) -> Self {
        let code = match &e {
            ReconcileError::Vault(_) => {
                if let ReconcileError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            ReconcileError::NotFound(_) => ErrorCode::NotFound,
            ReconcileError::WrongState { .. } | ReconcileError::Locked(_) | ReconcileError::OpenDuplicate { .. } => {
                ErrorCode::Conflict
            }
            ReconcileError::NoReason | ReconcileError::Invalid(_) => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<FhirError> for ApiError {
    fn from(e: FhirError) -> Self {
        match e {
            FhirError::Vault(v) => v.into(),
            e => ApiError::new(fhir_code(&e), e.to_string()),
        }
    }
}

fn fhir_code(e: &FhirError) -> ErrorCode {
    match e {
        FhirError::NoBatch(_) | FhirError::NothingToExport => ErrorCode::NotFound,
        // The server did not answer the read-back as a FHIR server should: said as the server's problem.
        FhirError::ReadBack(_) => ErrorCode::Unavailable,
        FhirError::Drill => ErrorCode::Forbidden,
        FhirError::Changed(_) => ErrorCode::Conflict,
        FhirError::Regenerates(_) | FhirError::OlderThanBatch { .. } => ErrorCode::Integrity,
        FhirError::Io(_)
        | FhirError::File(_)
        | FhirError::Unplaced { .. }
        | FhirError::BadResponse(_)
        | FhirError::Vault(_) => ErrorCode::Io,
        e => super::post::server_code(e).unwrap_or(ErrorCode::InvalidInput),
    }
}

/// What the worklist screen (and `dtk reconcile list`) filters by.
#[derive(Debug, Clone, Default)]
pub struct WorklistQuery {
    pub state: Option<State>,
    pub mrn: Option<String>,
    pub form: Option<String>,
    pub workstation: Option<String>,
    pub episode: Option<String>,
    pub status: Option<entries::Status>,
    pub limit: usize,
    pub offset: usize,
}

impl From<BackEntryError> for ApiError {
    fn from(e: BackEntryError) -> Self {
        let code = match e {
            BackEntryError::Entry(e) => return e.into(),
            BackEntryError::Reconcile(e) => return e.into(),
            BackEntryError::Vault(v) => return v.into(),
            BackEntryError::UnknownEpisode | BackEntryError::NoSuchEpisode => ErrorCode::NotFound,
            BackEntryError::Drill => ErrorCode::Forbidden,
            BackEntryError::OtherEpisode | BackEntryError::OtherUnit => ErrorCode::Conflict,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

impl Workstation {
    /// A page of the worklist.
    pub fn worklist(&self, session: &Session, q: &WorklistQuery) -> Result<Page, ApiError> {
        session.require(Op::Reconcile)?;
        let keys = session.keys();
        let mut filter = Filter {
            state: q.state,
            form: q.form.clone(),
            workstation: q.workstation.clone(),
            episode: q.episode.clone(),
            status: q.status,
            ..Filter::default()
        };
        if let Some(m) = &q.mrn {
            for system in [&self.site.mrn_system, &self.site.temp_mrn_system] {
                filter.patient_idx.push(crate::patients::mrn_token(keys, system, m));
            }
        }
        let limit = if q.limit == 0 { 100 } else { q.limit };
        Ok(reconcile::list(self.vault()?.conn(), keys, &filter, limit, q.offset)?)
    }

    /// Counts per state and what is still open.
    pub fn reconcile_summary(&self, session: &Session) -> Result<Summary, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::summary(self.vault()?.conn())?)
    }

    /// Matches the downtime registration of an entry's patient to a real MRN; every entry of the patient follows.
    pub fn match_patient(
        &mut self,
        session: &Session,
        entry_id: &str,
        mrn: &str,
        clock: &dyn Clock,
    ) -> Result<Vec<String>, ApiError> {
        session.require(Op::Reconcile)?;
        let system = self.site.mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                reconcile::match_patient(tx, entry_id, &system, mrn, window).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// Accepts the given entries, all or none.
    pub fn accept(&mut self, session: &Session, ids: &[String], clock: &dyn Clock) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                reconcile::accept(tx, ids, false).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// Accepts every matched entry that has no open duplicate proposal, in one action.
    pub fn accept_all_matched(&mut self, session: &Session, clock: &dyn Clock) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                let ids = reconcile::acceptable(tx.sql())?;
                reconcile::accept(tx, &ids, true).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// One audited reconciliation decision by an HIM analyst, in its own transaction.
    fn decide<T, E>(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
        f: impl FnOnce(&mut crate::vault::Tx<'_>) -> Result<T, E>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| f(tx).map_err(ApiError::from))?
            .into_value())
    }

    pub fn reject(&mut self, session: &Session, id: &str, reason: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::reject(tx, id, reason))
    }

    pub fn needs_correction(
        &mut self,
        session: &Session,
        id: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::needs_correction(tx, id, reason))
    }

    /// Sends entries the EHR refused again: each goes back to accepted, so the next export batch takes it
    /// (`note`: what was fixed; audited with the refusal it answers).
    pub fn repost(
        &mut self,
        session: &Session,
        ids: &[String],
        note: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<usize, ApiError> {
        self.decide(session, clock, |tx| reconcile::repost(tx, ids, note))
    }

    /// Records that an entry the EHR refused was entered by hand there: by whom, when (RFC 3339) and where.
    pub fn entered_by_hand(
        &mut self,
        session: &Session,
        id: &str,
        hand: &HandEntry,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::entered_by_hand(tx, id, &hand.by, &hand.at, &hand.place))
    }

    /// Records that `id` duplicates `of` (which is kept).
    pub fn mark_duplicate(&mut self, session: &Session, id: &str, of: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::mark_duplicate(tx, id, of))
    }

    /// Dismisses a duplicate proposal: two different events.
    pub fn dismiss_duplicate(
        &mut self,
        session: &Session,
        id: &str,
        other: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::dismiss(tx, id, other, reason))
    }

    /// Duplicate proposals (open ones only, or all with their answers).
    pub fn duplicate_proposals(&self, session: &Session, open_only: bool) -> Result<Vec<Proposal>, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::proposals(self.vault()?.conn(), open_only)?)
    }

    /// Two entries side by side (audited as a view of both).
    pub fn side_by_side(
        &mut self,
        session: &Session,
        a: &str,
        b: &str,
        clock: &dyn Clock,
    ) -> Result<SideBySide, ApiError> {
        session.require(Op::Reconcile)?;
        let view = reconcile::side_by_side(self.vault()?.conn(), session.keys(), a, b)?
            .ok_or_else(|| ReconcileError::NotFound(format!("{a} or {b}")))?;
        let vault = self.vault_mut()?;
        let _viewed = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            for id in [a, b] {
                tx.audit(
                    entries::action::VIEWED,
                    &format!("entries:{id}"),
                    &serde_json::json!({ "side_by_side": true }),
                )?;
            }
            Ok::<(), ApiError>(())
        })?;
        Ok(view)
    }

    /// Back-enters a scanned paper form from the scan itself: the QR code of page `page` (1-based; images have one)
    /// of a PNG, JPEG or PDF file is decoded to the form, patient and episode, then as [`Workstation::back_enter_paper`].
    pub fn back_enter_scan(
        &mut self,
        session: &Session,
        scan: &Path,
        page: u32,
        response: &Value,
        author_name: &str,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        let payload = self.scan_payload(session, scan, page)?;
        self.back_enter_paper(session, &payload, response, author_name, clock)
    }

    /// Back-enters a scanned paper form into the episode its QR code names: `payload` is what its QR code says (form,
    /// patient, episode), `response` the answers typed by the analyst, `author_name` the nurse named on the paper.
    /// The analyst is the enterer. [`Workstation::back_enter_page`] also takes MAR pages, paper to assign, and the
    /// time written on a form that asks "When did this happen?".
    pub fn back_enter_paper(
        &mut self,
        session: &Session,
        payload: &paper::Payload,
        response: &Value,
        author_name: &str,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        let answers =
            PaperAnswers::Form { response: response.clone(), author: author_name.to_string(), clinical_time: None };
        let page = self.back_enter_page(session, payload, &answers, &Assignment::FromQr, clock)?;
        page.entries.into_iter().next().ok_or_else(|| ApiError::new(ErrorCode::Io, "the paper form was not saved"))
    }

    /// Exports every accepted entry as a new batch (see [`fhir::export`]).
    pub fn export_fhir(&mut self, session: &Session, out: &Path, clock: &dyn Clock) -> Result<BatchExported, ApiError> {
        session.require(Op::ExportFhir)?;
        let by = StaffRef { username: session.username().to_string(), display: session.display_name().to_string() };
        let station = self.workstation_id();
        let exporter = fhir::Exporter { keys: session.keys(), by, station, catalog: &self.catalog };
        let vault = self.vault.as_mut().ok_or_else(super::not_initialised)?;
        Ok(fhir::export(vault, exporter, clock.now(), out)?)
    }

    /// Writes an existing batch again, byte for byte, and checks it against the SHA-256 recorded at export.
    pub fn regenerate_fhir(&self, session: &Session, batch_id: &str, out: &Path) -> Result<BatchExported, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(fhir::regenerate(self.vault()?.conn(), session.keys(), &self.catalog, batch_id, out)?)
    }

    /// The newest export batch, if any (what `dtk export fhir --post` without `--batch` retries).
    pub fn latest_batch(&self, session: &Session) -> Result<Option<String>, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(fhir::latest(self.vault()?.conn())?)
    }

    /// The reconciliation report's data (audited: it lists every disposition).
    pub fn reconciliation_report(&mut self, session: &Session, clock: &dyn Clock) -> Result<Report, ApiError> {
        session.require(Op::Reconcile)?;
        let unit = self.unit();
        let at = stamp(clock.now());
        let report = self.report_with_timelines(session, &at, unit, clock)?;
        let vault = self.vault_mut()?;
        let _ = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit("reconcile.report", "recon", &serde_json::json!({ "entries": report.summary.total }))
        })?;
        Ok(report)
    }

    /// The reconciliation report as a PDF (and its data): counts per disposition, per workstation and per form,
    /// every rejected or duplicate entry with its reason, the batch hashes, and each episode's timeline and metrics.
    /// Audited; the caller saves the bytes where the analyst asked.
    pub fn reconciliation_report_pdf(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
    ) -> Result<(Report, crate::print::Pdf), ApiError> {
        session.require(Op::Reconcile)?;
        let unit = self.unit();
        let at = stamp(clock.now());
        let report = self.report_with_timelines(session, &at, unit.clone(), clock)?;
        let print_stamp = crate::print::Stamp {
            unit: unit.unwrap_or_else(|| "HIM".into()),
            printed_by: format!("{} ({})", session.display_name(), session.username()),
            printed_at: clock.now(),
            episode: None,
            drill: false,
            workstation: Some(self.workstation_id()),
            record: self.record_mark(session)?,
        };
        let pdf = crate::print::reconciliation_report(&report, &print_stamp)?;
        let vault = self.vault_mut()?;
        let _ = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(
                "reconcile.report",
                "recon",
                &serde_json::json!({ "entries": report.summary.total, "pdf_pages": pdf.pages }),
            )
        })?;
        Ok((report, pdf))
    }

    fn report_with_timelines(
        &self,
        session: &Session,
        at: &str,
        unit: Option<String>,
        clock: &dyn Clock,
    ) -> Result<Report, ApiError> {
        let conn = self.vault()?.conn();
        let keys = session.keys();
        let mut report = reconcile::report(conn, keys, at, session.username(), unit)?;
        for line in &mut report.episodes {
            if let Some(episode) = crate::episodes::get(conn, keys, &line.id)? {
                line.timeline = Some(super::procedures::timeline_for(
                    conn,
                    keys,
                    &self.checklist,
                    &self.site.response_targets,
                    &episode,
                    clock.now(),
                )?);
            }
        }
        Ok(report)
    }
}

/// A report file written to disk.
#[derive(Debug, Clone, Serialize)]
pub struct FileWritten {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

impl Workstation {
    /// How many entries "accept all matched" would accept now (matched, without an open duplicate proposal), so the
    /// analyst confirms a number before the bulk action.
    pub fn acceptable_count(&self, session: &Session) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::acceptable(self.vault()?.conn())?.len())
    }

    /// Writes the reconciliation report as CSV to `out` (atomically) and says where, with its SHA-256.
    pub fn write_reconciliation_csv(
        &mut self,
        session: &Session,
        out: &Path,
        clock: &dyn Clock,
    ) -> Result<FileWritten, ApiError> {
        let report = self.reconciliation_report(session, clock)?;
        let csv = report.to_csv();
        crate::durable::write(out, csv.as_bytes()).map_err(io_err)?;
        Ok(FileWritten {
            path: out.to_path_buf(),
            sha256: crate::crypto::sha256_hex(csv.as_bytes()),
            bytes: csv.len() as u64,
        })
    }
}
