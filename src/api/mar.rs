//! The façade's MAR (issue 16): a patient's orders with their due times for the episode and what became of each,
//! from the census snapshot and the episode's signed medication entries (`dtk mar`, later the MAR tab).

use serde::Serialize;
use time::Duration;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::census::Allergy;
use crate::clock::{parse_stamp, Clock};
use crate::entries::{self, Status};
use crate::mar::{self, orders, DoseLine, LocalZone, OrderSchedule, Window};
use crate::reconcile::mar::DOSE_FORM;
use crate::{episodes, patients};

/// The short name of the form of downtime orders (forms/); doses are the paper MAR's form.
pub const ORDER_FORM: &str = "medication-order";

/// How far past now an open episode's MAR looks: the rest of today and tonight's doses.
const LOOK_AHEAD_HOURS: i64 = 24;

/// A patient's MAR.
#[derive(Debug, Clone, Serialize)]
pub struct Mar {
    pub mrn: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub location: Option<String>,
    pub allergies: Vec<Allergy>,
    pub episode_id: String,
    pub drill: bool,
    /// The episode's start: due times are listed from here.
    pub from: String,
    /// The episode's end, or a day past now while it is open.
    pub until: String,
    pub now: String,
    pub time_zone: String,
    pub window_minutes: i64,
    pub orders: Vec<OrderSchedule>,
    /// Doses charted for a medication the patient has no order for.
    pub unmatched_doses: Vec<DoseLine>,
}

/// One overdue dose on the unit, for the charge nurse's view.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueDose {
    pub mrn: String,
    pub name: String,
    pub location: Option<String>,
    pub order: String,
    pub medication: String,
    pub dose: Option<String>,
    pub route: Option<String>,
    /// When it was due (RFC 3339 with the unit's offset).
    pub due_at: String,
}

/// Every patient's overdue doses: what the charge nurse chases.
#[derive(Debug, Clone, Serialize)]
pub struct UnitOverdue {
    pub now: String,
    pub time_zone: String,
    pub window_minutes: i64,
    /// Oldest first.
    pub doses: Vec<OverdueDose>,
    /// Patients whose MAR could not be laid out (a damaged entry): named so nobody takes silence for "nothing due".
    pub unreadable: Vec<String>,
}

/// The episode a MAR is of: the open one, else the newest.
fn mar_episode(conn: &rusqlite::Connection, keys: &crate::crypto::Keys) -> Result<episodes::Episode, ApiError> {
    match episodes::current(conn, keys)? {
        Some(e) => Ok(e),
        None => episodes::list(conn, keys)?.into_iter().next().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NoEpisode,
                "no downtime episode on this workstation: the MAR lists an episode's doses",
            )
        }),
    }
}

impl Workstation {
    fn mar_zone(&self) -> Result<LocalZone, ApiError> {
        LocalZone::for_site(self.site.time_zone.as_deref())
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, format!("site configuration: time_zone: {e}")))
    }

    /// The MAR of the patient `mrn` for the open episode (else the newest one). Audited as a view of the patient.
    pub fn mar(&mut self, session: &Session, mrn: &str, clock: &dyn Clock) -> Result<Mar, ApiError> {
        session.require(Op::ReadUnit)?;
        let zone = self.mar_zone()?;
        let patient = self.find_patient(session, mrn, clock)?;
        let episode = mar_episode(self.vault()?.conn(), session.keys())?;
        self.mar_at(session, &patient, Some(&episode), &zone, clock.now())
    }

    /// The episode the MAR (and the handover sheet) is about: the open one, else the newest.
    pub(super) fn mar_episode(&self, session: &Session) -> Result<episodes::Episode, ApiError> {
        mar_episode(self.vault()?.conn(), session.keys())
    }

    /// The MAR of a patient already found, without an audit row of its own (the paper MAR and the handover sheet
    /// write theirs). With no episode (paper printed ahead of an outage) it covers now to a day ahead, with the
    /// census's doses only: the same schedule the screen and `dtk mar` show once an episode is open.
    pub(super) fn mar_of(
        &self,
        session: &Session,
        patient: &patients::Patient,
        episode: Option<&episodes::Episode>,
        clock: &dyn Clock,
    ) -> Result<Mar, ApiError> {
        let zone = self.mar_zone()?;
        self.mar_at(session, patient, episode, &zone, clock.now())
    }

    /// Every patient's overdue doses in the open episode (else the newest): the charge nurse's unit view. Reads the
    /// whole unit as the census list does; each patient opened from it is audited as a view then.
    pub fn unit_overdue(&self, session: &Session, clock: &dyn Clock) -> Result<UnitOverdue, ApiError> {
        session.require(Op::ReadUnit)?;
        let zone = self.mar_zone()?;
        let conn = self.vault()?.conn();
        let episode = mar_episode(conn, session.keys())?;
        let now = clock.now();
        let mut doses = Vec::new();
        let mut unreadable = Vec::new();
        for patient in patients::list(conn, session.keys())? {
            let mar = match self.mar_at(session, &patient, Some(&episode), &zone, now) {
                Ok(m) => m,
                Err(e) if e.code == ErrorCode::Integrity => {
                    unreadable.push(patient.record.mrn.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            for o in &mar.orders {
                for d in o.due.iter().filter(|d| d.status == mar::DueStatus::Overdue) {
                    doses.push(OverdueDose {
                        mrn: mar.mrn.clone(),
                        name: mar.name.clone(),
                        location: mar.location.clone(),
                        order: o.order.clone(),
                        medication: o.medication.clone(),
                        dose: o.dose.clone(),
                        route: o.route.clone(),
                        due_at: d.at.clone().unwrap_or_default(),
                    });
                }
            }
        }
        // The offsets are the unit's and may differ across a daylight-saving change: sort by instant.
        doses.sort_by_key(|d| parse_stamp(&d.due_at));
        let text = zone.local(now).format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        Ok(UnitOverdue {
            now: text,
            time_zone: zone.name().to_string(),
            window_minutes: self.site.mar_window_minutes,
            doses,
            unreadable,
        })
    }

    fn mar_at(
        &self,
        session: &Session,
        patient: &patients::Patient,
        episode: Option<&episodes::Episode>,
        zone: &LocalZone,
        now: time::OffsetDateTime,
    ) -> Result<Mar, ApiError> {
        let conn = self.vault()?.conn();
        let keys = session.keys();
        let mut downtime = Vec::new();
        let mut doses = orders::census_doses(&patient.record);
        let mut authors = std::collections::HashMap::new();
        let charted = match episode {
            Some(episode) => {
                let filter = entries::Filter {
                    patient_idx: Some(patients::mrn_token(keys, &patient.record.mrn_system, &patient.record.mrn)),
                    episode_id: Some(episode.id.clone()),
                    ..entries::Filter::default()
                };
                entries::list(conn, keys, &filter)?
            }
            None => Vec::new(),
        };
        for s in charted {
            // Drafts are not given doses or standing orders until signed; entered-in-error ones never are.
            if !matches!(s.status, Status::Signed | Status::Amended) {
                continue;
            }
            let form = crate::print::short_name(s.form.split('|').next().unwrap_or_default());
            if form != DOSE_FORM && form != ORDER_FORM {
                continue;
            }
            let Some(detail) = entries::detail(conn, keys, &s.id)? else { continue };
            let Some(current) = detail.versions.iter().find(|v| v.version == s.version) else { continue };
            let response = &current.body.response;
            if form == ORDER_FORM {
                downtime.extend(orders::downtime_order(&s.id, response, zone));
            } else {
                doses.extend(orders::charted_dose(&s.id, response, zone));
                authors.insert(s.id.clone(), s.author.clone());
            }
        }
        // The unit share (issue 20): doses given and downtime orders written on the unit's other workstations during
        // this episode count here too, their author named with the workstation ("dnurse (WS 1a2b3c4d)").
        let since = episode.and_then(|e| parse_stamp(&e.started_at));
        let idx = patients::mrn_token(keys, &patient.record.mrn_system, &patient.record.mrn);
        for (v, e) in crate::unit::store::patient_entries(conn, keys, Some(&idx))? {
            let at = e.clinical_time.as_deref().and_then(|t| entries::parse_fhir_time(t).or_else(|| parse_stamp(t)));
            if e.kind == "entered-in-error" || since.is_none() || at.zip(since).is_some_and(|(at, since)| at < since) {
                continue;
            }
            let form = crate::print::short_name(e.form.split('|').next().unwrap_or_default());
            let Some(current) = v.entry.versions.last() else { continue };
            if form == ORDER_FORM {
                downtime.extend(orders::downtime_order(&e.id, &current.body.response, zone));
            } else if form == DOSE_FORM {
                doses.extend(orders::charted_dose(&e.id, &current.body.response, zone));
                authors.insert(e.id.clone(), format!("{} (WS {})", e.author, crate::unit::short_id(&e.workstation)));
            }
        }
        // Entries come newest first; the MAR lists downtime orders in the order they were given.
        downtime.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        let mut all = orders::census_orders(&patient.record, zone);
        all.extend(downtime);

        let bad_time = || ApiError::new(ErrorCode::Integrity, "the episode's start time is not a time");
        let from = match episode {
            Some(e) => parse_stamp(&e.started_at).ok_or_else(bad_time)?,
            None => now,
        };
        let until = match episode.and_then(|e| e.ended_at.as_deref()) {
            Some(end) => parse_stamp(end).ok_or_else(bad_time)?,
            None => now + Duration::hours(LOOK_AHEAD_HOURS),
        };
        let window = Window { from, until, now, tolerance: Duration::minutes(self.site.mar_window_minutes), zone };
        let (mut listed, mut unmatched_doses) = mar::schedule(&all, &doses, &window);
        // Who gave it is the covering entry's author: the schedule knows doses, the entries know people.
        let by = |id: &Option<String>| id.as_ref().and_then(|id| authors.get(id)).cloned();
        for o in &mut listed {
            o.due.iter_mut().for_each(|d| d.given_by = by(&d.entry_id));
            o.other_doses.iter_mut().for_each(|d| d.given_by = by(&d.entry_id));
        }
        unmatched_doses.iter_mut().for_each(|d| d.given_by = by(&d.entry_id));
        let text = |t: time::OffsetDateTime| {
            zone.local(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        };
        Ok(Mar {
            mrn: patient.record.mrn.clone(),
            name: patient.display_name(),
            birth_date: patient.record.birth_date.clone(),
            location: patient.record.location.clone(),
            allergies: patient.record.allergies.clone(),
            episode_id: episode.map(|e| e.id.clone()).unwrap_or_default(),
            drill: episode.is_some_and(|e| e.kind == episodes::Kind::Drill),
            from: text(from),
            until: text(until),
            now: text(now),
            time_zone: zone.name().to_string(),
            window_minutes: self.site.mar_window_minutes,
            orders: listed,
            unmatched_doses,
        })
    }
}
