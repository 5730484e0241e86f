//! Paper back-entry on the HIM station: one scanned page at a time, a form typed in as one entry or a downtime MAR
//! page as one medication-administration entry per initialled dose, put into the episode its QR code names or, for
//! paper whose episode is missing (blank forms printed before any episode, a dead workstation), into one the analyst
//! chooses or a paper-only episode created for the unit. Every entry keeps the page's QR text, so it is shown and
//! exported as "from paper, page …".

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{ApiError, EntryOptions, EntrySaved, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{stamp, Clock};
use crate::episodes::Episode;
use crate::paper::Payload;
pub use crate::reconcile::back_entry::Assignment;
use crate::reconcile::back_entry::{self, BackEntryError, PageKind};
pub use crate::reconcile::mar::Dose;
use crate::reconcile::mar::{self, DOSE_FORM};

/// What the analyst typed from one page.
#[derive(Debug, Clone)]
pub enum PaperAnswers {
    /// A form's answers as a QuestionnaireResponse, the nurse named on the paper, and for a form with no item for
    /// the clinical time the time written in the page's "When did this happen?" box (required then, refused
    /// otherwise, as at the keyboard).
    Form { response: Value, author: String, clinical_time: Option<String> },
    /// The initialled doses read from a downtime MAR page, in the order read.
    Mar(Vec<Dose>),
}

/// What a back-entered page came to.
#[derive(Debug, Clone, Serialize)]
pub struct PageEntered {
    /// One entry for a form, one per dose for a MAR page, in order.
    pub entries: Vec<EntrySaved>,
    /// The episode the entries are in.
    pub episode_id: String,
    /// The paper-only episode created for this page, if the analyst asked for one.
    pub paper_episode: Option<Episode>,
    /// The page's identity, as the worklist and the report show it.
    pub page: String,
}

/// A scan that cannot be read is an I/O failure; one without a readable QR code is the analyst's input.
fn scan_code(e: &crate::print::read::ReadError) -> ErrorCode {
    match e {
        crate::print::read::ReadError::Io(_) => ErrorCode::Io,
        _ => ErrorCode::InvalidInput,
    }
}

impl Workstation {
    /// Decodes the QR code of a scanned paper page (PNG, JPEG, or page `page` of a PDF) to its form, patient and
    /// episode, for the analyst to confirm before back-entering it.
    pub fn read_paper_scan(&self, session: &Session, path: &Path, page: u32) -> Result<Payload, ApiError> {
        session.require(Op::Reconcile)?;
        crate::print::read::read_file(path, page).map_err(|e| ApiError::new(scan_code(&e), e.to_string()))
    }

    /// Decodes the QR code of page `page` (1-based) of a scanned PNG, JPEG or PDF; errors name the file.
    pub fn scan_payload(&self, session: &Session, scan: &Path, page: u32) -> Result<Payload, ApiError> {
        session.require(Op::Reconcile)?;
        crate::print::read::read_file(scan, page.max(1))
            .map_err(|e| ApiError::new(scan_code(&e), format!("{}: {e}", scan.display())))
    }

    /// Back-enters one paper page: `payload` is what its QR code says, `answers` what the analyst typed, `assignment`
    /// where its entries go. Everything is saved in one transaction (a paper-only episode with its entries), or
    /// nothing. Refused: drill paper, unit sheets and reports, forms this station does not know, another patient's
    /// answers, moving a page out of its own episode, or into an episode of another unit.
    pub fn back_enter_page(
        &mut self,
        session: &Session,
        payload: &Payload,
        answers: &PaperAnswers,
        assignment: &Assignment,
        clock: &dyn Clock,
    ) -> Result<PageEntered, ApiError> {
        session.require(Op::Reconcile)?;
        let kind = back_entry::page_kind(payload, self.catalog.get(&payload.form).is_some())?;
        // Drill paper is refused before its answers are looked at, whether or not its code says DRILL.
        back_entry::refuse_drill(self.vault()?.conn(), session.keys(), payload)?;
        let mut opts = EntryOptions { sign: true, confirm_not_duplicate: true, ..EntryOptions::default() };
        let typed: Vec<(Value, String)> = match (kind, answers) {
            (PageKind::Form, PaperAnswers::Form { response, author, clinical_time }) => {
                let author = back_entry::check_author(author)?;
                back_entry::check_response(payload, response)?;
                opts.clinical_time = clinical_time.clone();
                vec![(response.clone(), author.to_string())]
            }
            (PageKind::Mar, PaperAnswers::Mar(doses)) if !doses.is_empty() => {
                let form = self.find_form(DOSE_FORM)?;
                let mut out = Vec::with_capacity(doses.len());
                for (i, dose) in doses.iter().enumerate() {
                    let response = mar::dose_response(form, payload, i + 1, dose)?;
                    let named = dose.author();
                    let author = back_entry::check_author(&named).map_err(|_| BackEntryError::Dose {
                        number: i + 1,
                        problem: "the initials (and name) must be plain text".into(),
                    })?;
                    out.push((response, author.to_string()));
                }
                out
            }
            (PageKind::Mar, _) => return Err(BackEntryError::MarNeedsDoses.into()),
            (PageKind::Form, PaperAnswers::Mar(_)) => return Err(BackEntryError::DosesNeedMar.into()),
        };
        // A MAR page's refusal names the dose it is about.
        let which = |i: usize| {
            move |mut e: ApiError| {
                if kind == PageKind::Mar {
                    e.message = format!("dose {} read from the MAR page: {}", i + 1, e.message);
                }
                e
            }
        };
        let mut validated = Vec::with_capacity(typed.len());
        for (i, (response, author)) in typed.into_iter().enumerate() {
            let id = uuid::Uuid::new_v4().to_string();
            let response = super::clinical::with_id(&response, &id);
            validated.push((id, author, self.validate(&response, &opts, clock).map_err(which(i))?));
        }
        let workstation = self.workstation_id();
        let temp = self.site.temp_mrn_system.clone();
        let duplicate_window_minutes = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        let written = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let (episode_id, paper_episode) = back_entry::resolve_episode(tx, payload, assignment)?;
            let mut entries = Vec::with_capacity(validated.len());
            for (i, (id, author, valid)) in validated.into_iter().enumerate() {
                // The patient and the duplicate proposals are looked up inside the write, as for any save.
                let prep = valid.look_up(tx.sql(), tx.keys(), &opts, None).map_err(which(i))?;
                let paper = back_entry::PaperEntry {
                    id: &id,
                    form: &prep.form,
                    episode_id: &episode_id,
                    workstation: &workstation,
                    patient: &prep.patient,
                    body: prep.body,
                    author_name: &author,
                    payload,
                    temp_mrn_system: &temp,
                    duplicate_window_minutes,
                };
                entries.push((back_entry::enter(tx, paper)?, prep.warnings));
            }
            Ok::<_, ApiError>((episode_id, paper_episode, entries))
        })?;
        let stored_at = stamp(written.committed_at());
        let (episode_id, paper_episode, entries) = written.into_value();
        Ok(PageEntered {
            entries: entries
                .into_iter()
                .map(|(saved, warnings)| EntrySaved { saved, stored_at: stored_at.clone(), warnings })
                .collect(),
            episode_id,
            paper_episode,
            page: payload.page_label(),
        })
    }
}
