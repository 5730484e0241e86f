//! The printing operations of the façade: blank forms (one patient or the whole unit), filled entries, the downtime
//! MAR and the census sheet. Each checks the role, gathers the data, lays it out with [`crate::print`], writes one
//! audit row (what, for whom; the actor is who) and returns the PDF bytes. Files are written only where the caller
//! asks, with [`save_pdf`].

use std::path::Path;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::entries::{self, EntryError};
use crate::episodes;
use crate::forms::Form;
use crate::patients::{self, Patient};
use crate::print::{self, Label, Pdf, PrintError, Progress, Stamp};

/// Actions printing writes to the audit log.
pub mod action {
    pub const BLANK: &str = "print.blank";
    pub const ENTRY: &str = "print.entry";
    pub const MAR: &str = "print.mar";
    pub const CENSUS: &str = "print.census";
}

/// Whose header a blank form carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlankFor<'a> {
    /// No patient: an empty label area to write in (nurse, charge nurse, HIM).
    Nobody,
    /// One patient, by MRN (nurse, charge nurse, HIM).
    Patient(&'a str),
    /// Every patient of the unit in one PDF, in room order (charge nurse and administrator only).
    Census,
}

impl From<PrintError> for ApiError {
    fn from(e: PrintError) -> Self {
        let code = match e {
            PrintError::Empty(_) => ErrorCode::NotFound,
            PrintError::QrTooLong => ErrorCode::InvalidInput,
            _ => ErrorCode::Io,
        };
        ApiError::new(code, e.to_string())
    }
}

/// Room order: by location, then name, then MRN, so the charge nurse's stack follows the corridor.
fn room_order(mut list: Vec<Patient>) -> Vec<Patient> {
    list.sort_by(|a, b| {
        let key = |p: &Patient| (p.record.location.clone().unwrap_or_else(|| "\u{10FFFF}".into()), p.display_name());
        key(a).cmp(&key(b)).then_with(|| a.record.mrn.cmp(&b.record.mrn))
    });
    list
}

impl Workstation {
    /// Finds a loaded form by canonical `url|version`, bare url (newest version), or short name (the url's last
    /// path segment, such as `vital-signs`).
    pub fn find_form(&self, id: &str) -> Result<&Form, ApiError> {
        let id = id.trim();
        if let Some(f) = self.forms().get(id) {
            return Ok(f);
        }
        let mut named: Vec<&Form> = self.forms().forms().filter(|f| print::short_name(&f.url) == id).collect();
        named.sort_by(|a, b| crate::forms::version_cmp(&a.version, &b.version));
        named.pop().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "no loaded form is called '{}' (dtk forms list shows them)",
                    id.chars().take(120).collect::<String>()
                ),
            )
        })
    }

    /// The stamp on every page: unit, who, when, and the open episode.
    pub(super) fn stamp(&self, session: &Session, clock: &dyn Clock) -> Result<Stamp, ApiError> {
        let episode = episodes::current(self.vault()?.conn(), session.keys())?;
        Ok(Stamp {
            unit: self.unit().unwrap_or_else(|| "Unit".into()),
            printed_by: format!("{} ({})", session.display_name(), session.username()),
            printed_at: clock.now(),
            drill: episode.as_ref().is_some_and(|e| e.kind == episodes::Kind::Drill),
            episode: episode.map(|e| e.id),
            workstation: Some(self.workstation_id()),
            record: self.record_mark(session)?,
        })
    }

    /// The short form of the audit chain head printed on every page (see [`crate::audit::printed_mark`]).
    pub(super) fn record_mark(&self, session: &Session) -> Result<String, ApiError> {
        Ok(crate::audit::printed_mark(self.vault()?.conn(), session.keys())?)
    }

    pub(super) fn audit_print(
        &mut self,
        session: &Session,
        action: &str,
        target: &str,
        detail: serde_json::Value,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        let vault = self.vault_mut()?;
        let _done =
            vault.write(session.keys(), session.username(), clock.now(), |tx| tx.audit(action, target, &detail))?;
        Ok(())
    }

    /// Prints blank copies of a form: unlabelled, for one patient, or for every patient of the unit in one PDF.
    pub fn print_blank(
        &mut self,
        session: &Session,
        form: &str,
        target: BlankFor<'_>,
        clock: &dyn Clock,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Pdf, ApiError> {
        match target {
            BlankFor::Census => session.require(Op::PrintUnit)?,
            BlankFor::Nobody | BlankFor::Patient(_) => session.require(Op::PrintEntry)?,
        }
        let form = self.find_form(form)?.clone();
        let patients: Vec<Patient> = match target {
            BlankFor::Nobody => Vec::new(),
            BlankFor::Patient(mrn) => vec![self.patient_by_mrn(session, mrn)?],
            BlankFor::Census => {
                let list = room_order(patients::list(self.vault()?.conn(), session.keys())?);
                if list.is_empty() {
                    return Err(ApiError::new(ErrorCode::NotFound, "there are no patients on this workstation yet"));
                }
                list
            }
        };
        let labels: Vec<Label> = patients.iter().map(|p| Label::from(&p.record)).collect();
        let stamp = self.stamp(session, clock)?;
        let pdf = print::blank_forms(&form, &labels, &stamp, progress)?;
        let mrns: Vec<&str> = patients.iter().map(|p| p.record.mrn.as_str()).collect();
        let target_text = match target {
            BlankFor::Patient(_) => patients.first().map(|p| format!("patients:{}", p.id)).unwrap_or_default(),
            BlankFor::Census => "unit".into(),
            BlankFor::Nobody => "unlabelled".into(),
        };
        self.audit_print(
            session,
            action::BLANK,
            &target_text,
            serde_json::json!({ "form": form.canonical(), "mrns": mrns, "pages": pdf.pages, "episode": stamp.episode }),
            clock,
        )?;
        Ok(pdf)
    }

    /// Prints a filled entry (its current version, with the history) for the paper chart.
    pub fn print_entry(&mut self, session: &Session, id: &str, clock: &dyn Clock) -> Result<Pdf, ApiError> {
        session.require(Op::PrintEntry)?;
        let conn = self.vault()?.conn();
        let detail = entries::detail(conn, session.keys(), id)?.ok_or_else(|| EntryError::NotFound(id.into()))?;
        let form = self.forms().get(&detail.summary.form).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "the entry's form is not loaded on this workstation, so it cannot be laid out",
            )
        })?;
        let mut stamp = self.stamp(session, clock)?;
        // The entry's own episode, not whichever is open now.
        let episode = episodes::get(conn, session.keys(), &detail.summary.episode_id)?;
        stamp.drill = episode.as_ref().is_some_and(|e| e.kind == episodes::Kind::Drill);
        stamp.episode = Some(detail.summary.episode_id.clone());
        let pdf = print::entry(&form, &detail, &stamp)?;
        self.audit_print(
            session,
            action::ENTRY,
            &format!("entries:{id}"),
            serde_json::json!({
                "version": detail.summary.version,
                "status": detail.summary.status.as_str(),
                "mrn": detail.summary.patient.mrn,
                "pages": pdf.pages,
            }),
            clock,
        )?;
        Ok(pdf)
    }

    /// Prints the downtime MAR for every patient of the unit (charge nurse and administrator): each order's due
    /// hours over the next 24 hours shaded, from the same schedule as [`Workstation::mar`].
    pub fn print_mar(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Pdf, ApiError> {
        session.require(Op::PrintUnit)?;
        let list = room_order(patients::list(self.vault()?.conn(), session.keys())?);
        let episode = episodes::current(self.vault()?.conn(), session.keys())?;
        let mars =
            list.iter().map(|p| self.mar_of(session, p, episode.as_ref(), clock)).collect::<Result<Vec<_>, _>>()?;
        let zone = crate::mar::LocalZone::for_site(self.site.time_zone.as_deref())
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("site configuration: time_zone: {e}")))?;
        let hours = grid_hours(&zone, clock.now());
        let sheets: Vec<print::MarSheet> = list
            .iter()
            .zip(&mars)
            .map(|(p, m)| print::MarSheet {
                record: &p.record,
                orders: &m.orders,
                unmatched: &m.unmatched_doses,
                hours: hours.clone(),
                time_zone: zone.name(),
            })
            .collect();
        let stamp = self.stamp(session, clock)?;
        let pdf = print::mar(&sheets, &stamp, progress)?;
        let mrns: Vec<&str> = list.iter().map(|p| p.record.mrn.as_str()).collect();
        self.audit_print(
            session,
            action::MAR,
            "unit",
            serde_json::json!({ "mrns": mrns, "pages": pdf.pages, "episode": stamp.episode }),
            clock,
        )?;
        Ok(pdf)
    }

    /// Prints the unit census sheet (charge nurse and administrator).
    pub fn print_census(&mut self, session: &Session, clock: &dyn Clock) -> Result<Pdf, ApiError> {
        session.require(Op::PrintUnit)?;
        let conn = self.vault()?.conn();
        let list = room_order(patients::list(conn, session.keys())?);
        let snapshot = patients::current_snapshot(conn)?;
        let records: Vec<_> = list.iter().map(|p| p.record.clone()).collect();
        let stamp = self.stamp(session, clock)?;
        let pdf = print::census_sheet(&records, snapshot.as_ref().map(|s| s.snapshot_time.as_str()), &stamp)?;
        self.audit_print(
            session,
            action::CENSUS,
            "unit",
            serde_json::json!({ "patients": records.len(), "pages": pdf.pages, "episode": stamp.episode }),
            clock,
        )?;
        Ok(pdf)
    }

    /// A patient by MRN without writing a view row (the print's own audit row says whom it was for).
    pub(super) fn patient_by_mrn(&self, session: &Session, mrn: &str) -> Result<Patient, ApiError> {
        let systems = [self.site.mrn_system.as_str(), self.site.temp_mrn_system.as_str()];
        super::unit::find_in_unit(self.vault()?.conn(), session.keys(), &systems, mrn.trim())?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no patient with this MRN on this workstation"))
    }
}

/// The printed MAR's 24 columns: the start of the hour `now` is in and of each hour after it, with the unit's
/// offset at each (so a daylight-saving change shows as a repeated or skipped hour, as a wall clock does).
fn grid_hours(zone: &crate::mar::LocalZone, now: time::OffsetDateTime) -> Vec<time::OffsetDateTime> {
    let local = zone.local(now);
    let start =
        now - time::Duration::minutes(i64::from(local.minute())) - time::Duration::seconds(i64::from(local.second()));
    let start = start.replace_nanosecond(0).unwrap_or(start);
    (0..24).map(|k| zone.local(start + time::Duration::hours(k))).collect()
}

/// Writes a PDF where the user asked through [`crate::durable`], so a crash never leaves half a document under the
/// final name.
pub fn save_pdf(path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
    crate::durable::write(path, bytes)
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("could not write the PDF: {e}")))
}

impl From<crate::printer::PrinterError> for ApiError {
    fn from(e: crate::printer::PrinterError) -> Self {
        use crate::printer::PrinterError as P;
        let code = match e {
            P::NotPdf(_) => ErrorCode::NotFound,
            P::NoCups | P::NoViewer(_) => ErrorCode::Unavailable,
            _ => ErrorCode::Io,
        };
        ApiError::new(code, e.to_string())
    }
}

impl Workstation {
    /// Where the print centre saves PDFs unless the person names another folder: the site's `print_dir`, else
    /// `Documents/Downtime Kit` of the signed-in desktop user (their home folder when there is no Documents).
    pub fn print_folder(&self) -> std::path::PathBuf {
        self.site.print_dir.clone().unwrap_or_else(|| {
            dirs::document_dir().or_else(dirs::home_dir).unwrap_or_else(std::env::temp_dir).join("Downtime Kit")
        })
    }
}

/// A file name for a print that says what it is and when, and nothing about the patient (a folder listing of
/// PDFs must not disclose who was on the unit): `downtime-mar-2026-11-21-1042.pdf`.
pub fn pdf_file_name(what: &str, at: time::OffsetDateTime) -> String {
    let what: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let what = if what.is_empty() { "print".to_string() } else { what.chars().take(60).collect() };
    let t = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{what}-{:04}-{:02}-{:02}-{:02}{:02}{:02}.pdf",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Saves a PDF into `folder` (created if missing) under `name`, never over an earlier print: a taken name gets
/// `-2`, `-3`… before `.pdf`. Returns the path written.
pub fn save_pdf_in(folder: &Path, name: &str, bytes: &[u8]) -> Result<std::path::PathBuf, ApiError> {
    std::fs::create_dir_all(folder)
        .map_err(|e| ApiError::new(ErrorCode::Io, format!("could not create the folder for PDFs: {e}")))?;
    let stem = name.strip_suffix(".pdf").unwrap_or(name);
    let mut path = folder.join(format!("{stem}.pdf"));
    let mut n = 2;
    while path.exists() {
        path = folder.join(format!("{stem}-{n}.pdf"));
        n += 1;
    }
    save_pdf(&path, bytes)?;
    Ok(path)
}
