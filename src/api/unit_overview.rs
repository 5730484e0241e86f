//! The charge nurse's unit overview (issue 20 item 3) in one call: per patient of the census, the last vitals and the
//! doses given on any workstation of the unit (this one's newest episode, and every entry the unit share brought),
//! the entries still unsigned here, and what each peer's newest segment said its authors left unsigned (drafts never
//! leave a workstation, so only their count travels). Each line says which workstation charted it.

use serde::Serialize;

use super::unit::UnitStatus;
use super::{ApiError, Session, Workstation};
use crate::auth::Op;
use crate::clock::{parse_stamp, Clock};
use crate::entries::{self, parse_fhir_time, Status};
use crate::unit::store;

/// The forms the overview picks out, by the last segment of their canonical URL.
const VITALS_FORM: &str = "vital-signs";
const DOSE_FORM: &str = crate::reconcile::mar::DOSE_FORM;

/// One entry as the overview lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charted {
    pub entry_id: String,
    /// The clinical time, else when it was charted.
    pub at: String,
    pub author: String,
    pub medication: Option<String>,
    /// The workstation that charted it; `None` for this one.
    pub workstation: Option<String>,
    /// When it arrived here through the unit share (peers' entries only).
    pub received_at: Option<String>,
}

/// One patient of the unit.
#[derive(Debug, Clone, Serialize)]
pub struct PatientOverview {
    pub mrn_system: String,
    pub mrn: String,
    pub name: String,
    pub location: Option<String>,
    /// The newest vitals charted on any workstation.
    pub last_vitals: Option<Charted>,
    /// Doses charted on any workstation, newest first.
    pub doses: Vec<Charted>,
    /// Entries of this patient still unsigned on this workstation.
    pub unsigned_here: u64,
}

/// What a peer's newest segment said one author left unsigned there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsignedElsewhere {
    pub workstation: String,
    pub label: String,
    pub author: String,
    pub entries: u64,
}

/// The unit overview: the share's status (the banner), every patient, and the unsigned counts of the peers.
#[derive(Debug, Clone, Serialize)]
pub struct UnitOverview {
    pub status: UnitStatus,
    pub patients: Vec<PatientOverview>,
    pub unsigned_elsewhere: Vec<UnsignedElsewhere>,
}

fn form_is(form: &str, short: &str) -> bool {
    crate::print::short_name(form.split('|').next().unwrap_or_default()) == short
}

fn newest_first(a: &Charted, b: &Charted) -> std::cmp::Ordering {
    let t = |c: &Charted| parse_fhir_time(&c.at).or_else(|| parse_stamp(&c.at));
    t(b).cmp(&t(a))
}

impl Workstation {
    /// The charge nurse's unit overview (not audited per patient, like the census list): one call for the screen.
    pub fn unit_overview(&self, session: &Session, clock: &dyn Clock) -> Result<UnitOverview, ApiError> {
        session.require(Op::ReadUnit)?;
        let conn = self.vault()?.conn();
        let keys = session.keys();
        let episode = crate::episodes::list(conn, keys)?.into_iter().next().map(|e| e.id);
        let peers = store::patient_entries(conn, keys, None)?;
        let mut patients = Vec::new();
        // This workstation's patients, then those registered on the unit's other workstations (not known here).
        let mut everyone = crate::patients::list(conn, keys)?;
        for (_, p) in store::peer_patients(conn, keys)? {
            let known = |q: &crate::patients::Patient| {
                q.record.mrn == p.record.mrn && q.record.mrn_system == p.record.mrn_system
            };
            if !everyone.iter().any(known) {
                everyone.push(p);
            }
        }
        for p in everyone {
            let r = &p.record;
            let mut charted: Vec<(String, Charted)> = Vec::new();
            let mut unsigned_here = 0;
            if let Some(episode) = &episode {
                let filter = entries::Filter {
                    patient_idx: Some(crate::patients::mrn_token(keys, &r.mrn_system, &r.mrn)),
                    episode_id: Some(episode.clone()),
                    ..entries::Filter::default()
                };
                for s in entries::list(conn, keys, &filter)? {
                    match s.status {
                        Status::Draft => unsigned_here += 1,
                        Status::Signed | Status::Amended => charted.push((
                            s.form.clone(),
                            Charted {
                                at: s.clinical_time.clone().unwrap_or_else(|| s.created_at.clone()),
                                entry_id: s.id,
                                author: s.author,
                                medication: s.medication,
                                workstation: None,
                                received_at: None,
                            },
                        )),
                        Status::EnteredInError => {}
                    }
                }
            }
            for (v, e) in &peers {
                let Some(version) = v.entry.versions.last() else { continue };
                let same = version.body.patient.mrn == r.mrn && version.body.patient.mrn_system == r.mrn_system;
                if !same || e.kind == "entered-in-error" {
                    continue;
                }
                charted.push((
                    e.form.clone(),
                    Charted {
                        entry_id: e.id.clone(),
                        at: e.clinical_time.clone().unwrap_or_else(|| version.recorded_at.clone()),
                        author: e.author.clone(),
                        medication: e.medication.clone(),
                        workstation: Some(e.workstation.clone()),
                        received_at: Some(e.received_at.clone()),
                    },
                ));
            }
            let mut vitals: Vec<Charted> =
                charted.iter().filter(|(f, _)| form_is(f, VITALS_FORM)).map(|(_, c)| c.clone()).collect();
            vitals.sort_by(newest_first);
            let mut doses: Vec<Charted> =
                charted.into_iter().filter(|(f, _)| form_is(f, DOSE_FORM)).map(|(_, c)| c).collect();
            doses.sort_by(newest_first);
            patients.push(PatientOverview {
                mrn_system: r.mrn_system.clone(),
                mrn: r.mrn.clone(),
                name: p.display_name(),
                location: r.location.clone(),
                last_vitals: vitals.into_iter().next(),
                doses,
                unsigned_here,
            });
        }
        let unsigned_elsewhere = store::unsigned_elsewhere(conn, keys)?
            .into_iter()
            .map(|(workstation, author, entries)| UnsignedElsewhere {
                label: crate::unit::short_id(&workstation),
                workstation,
                author,
                entries,
            })
            .collect();
        Ok(UnitOverview { status: self.unit_status(clock)?, patients, unsigned_elsewhere })
    }
}
