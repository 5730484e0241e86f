//! The façade's shift handover (issue 16 item 5): a patient's handover sheet — last vitals, doses given since the
//! last handover and due in the next 12 hours (from [`Workstation::mar`]'s schedule), notes since the last handover,
//! unsigned entries — and recording a handover ("Hand over", `dtk handover --record`), which is what "the last
//! handover" means (ARCHITECTURE.md, "Shift handover").

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{parse_stamp, stamp, Clock};
use crate::entries::{self, Status};
use crate::forms::Form;
use crate::handover::{Answer, DoseDue, DoseGiven, HandedOver, Handover, Note, Unsigned, Vitals, DUE_AHEAD_HOURS};
use crate::mar::{DueStatus, OrderKind};
use crate::patients::{self, Patient};
use crate::print::{self, Pdf};
use crate::{audit, episodes};

/// Actions the handover writes to the audit log.
pub mod action {
    /// A nurse handed the patient over (the sheet's "since the last handover" counts from the newest one).
    pub const HANDED_OVER: &str = "handover.given";
    pub const PRINT: &str = "print.handover";
}

/// The form whose newest entry is the sheet's "last vitals".
const VITALS_FORM: &str = "vital-signs";
/// Forms shown in their own sections (doses and orders are on the MAR part), not among the notes.
const NOT_NOTES: [&str; 3] = [VITALS_FORM, crate::reconcile::mar::DOSE_FORM, super::mar::ORDER_FORM];

fn target(p: &Patient) -> String {
    format!("patients:{}", p.id)
}

/// An entry's answers in words, with the questions' texts; the clinical time item is left out (the sheet prints it
/// as the time).
fn answers(form: Option<&Form>, items: &Value, out: &mut Vec<Answer>) {
    let Some(items) = items.as_array() else { return };
    for it in items {
        let link = it.get("linkId").and_then(Value::as_str).unwrap_or_default();
        if form.is_some_and(|f| f.clinical_time_item() == Some(link)) {
            continue;
        }
        if let Some(list) = it.get("answer").and_then(Value::as_array) {
            let value: Vec<String> =
                list.iter().map(print::answer_text).filter(|t| !t.trim().is_empty()).collect::<Vec<_>>();
            if !value.is_empty() {
                let label = form.and_then(|f| f.item(link)).and_then(|i| i.text.clone()).unwrap_or(link.to_string());
                out.push(Answer { label, value: value.join(", ") });
            }
            for a in list {
                if let Some(nested) = a.get("item") {
                    answers(form, nested, out);
                }
            }
        }
        if let Some(children) = it.get("item") {
            answers(form, children, out);
        }
    }
}

impl Workstation {
    /// The handover sheet of the patient `mrn` in the open episode (else the newest). Audited as a view.
    pub fn handover(&mut self, session: &Session, mrn: &str, clock: &dyn Clock) -> Result<Handover, ApiError> {
        session.require(Op::ReadUnit)?;
        let patient = self.find_patient(session, mrn, clock)?;
        self.handover_of(session, &patient, clock)
    }

    /// Records that the signed-in nurse handed the patient `mrn` over now: the next sheet's notes and doses given
    /// count from here. Only in an open episode.
    pub fn record_handover(&mut self, session: &Session, mrn: &str, clock: &dyn Clock) -> Result<HandedOver, ApiError> {
        session.require(Op::ChartEntry)?;
        let patient = self.patient_by_mrn(session, mrn)?;
        let episode = episodes::current(self.vault()?.conn(), session.keys())?.ok_or_else(|| {
            ApiError::new(ErrorCode::NoEpisode, "no downtime episode is open: a handover is recorded during one")
        })?;
        let done =
            HandedOver { at: stamp(clock.now()), by: format!("{} ({})", session.display_name(), session.username()) };
        let detail = json!({ "at": done.at, "by": done.by, "episode": episode.id });
        let target = target(&patient);
        let vault = self.vault_mut()?;
        let _done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(action::HANDED_OVER, &target, &detail)
        })?;
        Ok(done)
    }

    /// The handover sheet as a PDF, the patient's name and MRN on every page (nurse, charge nurse, HIM).
    pub fn print_handover(&mut self, session: &Session, mrn: &str, clock: &dyn Clock) -> Result<Pdf, ApiError> {
        session.require(Op::PrintEntry)?;
        let patient = self.patient_by_mrn(session, mrn)?;
        let sheet = self.handover_of(session, &patient, clock)?;
        let stamp = self.stamp(session, clock)?;
        let pdf = print::handover(&sheet, &stamp)?;
        let detail = json!({ "mrn": sheet.mrn, "pages": pdf.pages, "episode": sheet.episode_id });
        self.audit_print(session, action::PRINT, &target(&patient), detail, clock)?;
        Ok(pdf)
    }

    fn handover_of(&self, session: &Session, patient: &Patient, clock: &dyn Clock) -> Result<Handover, ApiError> {
        let episode = self.mar_episode(session)?;
        let mar = self.mar_of(session, patient, Some(&episode), clock)?;
        let conn = self.vault()?.conn();
        let keys = session.keys();
        let now = clock.now();
        let bad_time = || ApiError::new(ErrorCode::Integrity, "the episode's start time is not a time");
        let started = parse_stamp(&episode.started_at).ok_or_else(bad_time)?;

        // The newest handover recorded for this patient in this episode (one of an earlier episode does not count).
        let last_handover = audit::newest_detail(conn, keys, action::HANDED_OVER, &target(patient))?
            .filter(|d| d.get("episode").and_then(Value::as_str) == Some(episode.id.as_str()))
            .and_then(|d| {
                let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
                Some(HandedOver { at: text("at")?, by: text("by")? })
            });
        let since = last_handover.as_ref().and_then(|h| parse_stamp(&h.at)).unwrap_or(started).max(started);
        let until = now + Duration::hours(DUE_AHEAD_HOURS);
        let recent = now - Duration::hours(DUE_AHEAD_HOURS);
        // The sheet's times in the unit's clock, as the MAR's due times are.
        let zone = crate::mar::LocalZone::for_site(self.site.time_zone.as_deref())
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("site configuration: time_zone: {e}")))?;
        let local = |t: OffsetDateTime| {
            zone.local(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| stamp(t))
        };
        let after = |at: &str| parse_stamp(at).is_some_and(|t| t >= since);

        let mut given = Vec::new();
        let mut due = Vec::new();
        for o in &mar.orders {
            for d in &o.due {
                match d.status {
                    DueStatus::Given | DueStatus::NotGiven => {
                        if let Some(at) = d.given_at.as_deref().filter(|a| after(a)) {
                            given.push(DoseGiven {
                                medication: o.medication.clone(),
                                at: at.to_string(),
                                given: d.status == DueStatus::Given,
                                reason: d.reason.clone(),
                                entry_id: d.entry_id.clone(),
                            });
                        }
                    }
                    DueStatus::Due | DueStatus::Overdue | DueStatus::Scheduled => {
                        // Due in the next 12 hours, or missed in the last 12: older misses are the MAR's to show.
                        let soon = d.at.as_deref().and_then(parse_stamp).is_some_and(|t| t <= until && t >= recent);
                        if soon {
                            due.push(DoseDue {
                                medication: o.medication.clone(),
                                dose: o.dose.clone(),
                                route: o.route.clone(),
                                at: d.at.clone(),
                                status: d.status.as_str().to_string(),
                                timing: o.timing.clone(),
                                last_dose_at: None,
                            });
                        }
                    }
                    DueStatus::Prn => {}
                }
            }
            for d in o.other_doses.iter().filter(|d| after(&d.at)) {
                given.push(DoseGiven {
                    medication: o.medication.clone(),
                    at: d.at.clone(),
                    given: d.given,
                    reason: d.reason.clone(),
                    entry_id: d.entry_id.clone(),
                });
            }
            let line = |status: &str, at: Option<String>, last: Option<String>| DoseDue {
                medication: o.medication.clone(),
                dose: o.dose.clone(),
                route: o.route.clone(),
                at,
                status: status.to_string(),
                timing: o.timing.clone(),
                last_dose_at: last,
            };
            match o.kind {
                OrderKind::Prn => {
                    let p = o.prn.as_ref();
                    due.push(line(
                        "prn",
                        p.and_then(|p| p.next_allowed_at.clone()),
                        p.and_then(|p| p.last_dose_at.clone()),
                    ))
                }
                OrderKind::SeeOrder => due.push(line("see-order", None, None)),
                OrderKind::Scheduled | OrderKind::OnHold => {}
            }
        }
        for d in mar.unmatched_doses.iter().filter(|d| after(&d.at)) {
            given.push(DoseGiven {
                medication: "(no matching order)".into(),
                at: d.at.clone(),
                given: d.given,
                reason: d.reason.clone(),
                entry_id: d.entry_id.clone(),
            });
        }
        let when = |at: &Option<String>| at.as_deref().and_then(parse_stamp);
        given.sort_by_key(|d| parse_stamp(&d.at));
        // Timed doses first, in time order (overdue ones lead); then as-needed and see-order lines as listed.
        due.sort_by_key(|d| (d.status == "prn" || d.status == "see-order", when(&d.at).filter(|_| d.status != "prn")));

        let filter = entries::Filter {
            patient_idx: Some(patients::mrn_token(keys, &patient.record.mrn_system, &patient.record.mrn)),
            episode_id: Some(episode.id.clone()),
            ..entries::Filter::default()
        };
        let mut vitals: Option<(OffsetDateTime, Vitals)> = None;
        let mut notes = Vec::new();
        let mut unsigned = Vec::new();
        for s in entries::list(conn, keys, &filter)? {
            let form = self.forms().get(&s.form);
            let title = form.map(|f| f.title.clone()).unwrap_or_else(|| print::short_name(&s.form).to_string());
            let short = print::short_name(s.form.split('|').next().unwrap_or_default());
            if s.status == Status::Draft {
                unsigned.push(Unsigned {
                    entry_id: s.id.clone(),
                    form: title,
                    author: s.author.clone(),
                    saved_at: s.updated_at.clone(),
                });
                continue;
            }
            if !matches!(s.status, Status::Signed | Status::Amended) {
                continue;
            }
            let at = s.clinical_time.clone().unwrap_or_else(|| s.created_at.clone());
            let at_time = parse_stamp(&at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let is_vitals = short == VITALS_FORM && vitals.as_ref().is_none_or(|(t, _)| at_time > *t);
            let is_note = !NOT_NOTES.contains(&short) && at_time >= since;
            if !is_vitals && !is_note {
                continue;
            }
            let Some(detail) = entries::detail(conn, keys, &s.id)? else { continue };
            let Some(current) = detail.versions.iter().find(|v| v.version == s.version) else { continue };
            let mut values = Vec::new();
            answers(form, current.body.response.get("item").unwrap_or(&Value::Null), &mut values);
            if is_vitals {
                let v = Vitals { entry_id: s.id.clone(), at, author: s.author.clone(), values };
                vitals = Some((at_time, v));
            } else {
                let text = values.iter().map(|a| format!("{}: {}", a.label, a.value)).collect::<Vec<_>>().join("\n");
                notes.push(Note { entry_id: s.id.clone(), form: title, at, author: s.author.clone(), text });
            }
        }
        notes.sort_by_key(|n| parse_stamp(&n.at));
        unsigned.sort_by(|a, b| a.saved_at.cmp(&b.saved_at));

        let record = &patient.record;
        Ok(Handover {
            mrn: record.mrn.clone(),
            mrn_system: record.mrn_system.clone(),
            name: patient.display_name(),
            birth_date: record.birth_date.clone(),
            location: record.location.clone(),
            allergies: record.allergies.clone(),
            episode_id: episode.id.clone(),
            drill: episode.kind == episodes::Kind::Drill,
            now: mar.now.clone(),
            last_handover,
            since: local(since),
            due_until: local(until),
            vitals: vitals.map(|(_, v)| v),
            given,
            due,
            notes,
            unsigned,
        })
    }
}
