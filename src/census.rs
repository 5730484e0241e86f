//! Reading the unit census snapshot that the EHR exported while it was up: a FHIR R4 Bundle of Patient, Encounter,
//! Location, MedicationRequest and AllergyIntolerance. Pure: bytes in, a [`Census`] out; storing it is
//! [`crate::patients`]' job.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{self, JsonError};

/// Limits on what an import accepts.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_DEPTH: usize = 64;
pub const MAX_ENTRIES: usize = 100_000;
pub const MAX_PATIENTS: usize = 5_000;

/// The MRN identifier's type code (HL7 v2 table 0203).
const MR_TYPE: &str = "MR";

/// Why a census bundle was refused. Names entries by position and resource type, never by patient content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CensusError {
    #[error("census file: {0}")]
    Json(#[from] JsonError),
    /// Not a FHIR Bundle.
    #[error("census file: not a FHIR Bundle (resourceType must be \"Bundle\")")]
    NotABundle,
    /// A Bundle type that is not a census export.
    #[error("census file: Bundle.type '{0}' is not accepted (use collection, searchset or transaction)")]
    BundleType(String),
    /// Too many entries or patients.
    #[error("census file: more than {limit} {what}")]
    TooMany { what: &'static str, limit: usize },
    /// One entry is unusable.
    #[error("census file: entry {index} ({resource}): {reason}")]
    Entry { index: usize, resource: String, reason: String },
    /// No patient at all.
    #[error("census file: the bundle contains no Patient")]
    NoPatients,
}

/// A patient as the unit knows them during the downtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientRecord {
    pub mrn_system: String,
    pub mrn: String,
    pub family: String,
    pub given: Vec<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
    pub encounter: Option<EncounterInfo>,
    pub allergies: Vec<Allergy>,
    pub medications: Vec<ActiveMedication>,
}

impl PatientRecord {
    /// "FAMILY, Given Middle" as wristbands and lists show it.
    pub fn display_name(&self) -> String {
        let given = self.given.join(" ");
        match (self.family.is_empty(), given.is_empty()) {
            (false, false) => format!("{}, {given}", self.family.to_uppercase()),
            (false, true) => self.family.to_uppercase(),
            (true, _) => given,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncounterInfo {
    pub identifier: Option<(String, String)>,
    pub class: Option<String>,
    pub status: Option<String>,
    pub start: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allergy {
    pub substance: String,
    pub code: Option<String>,
    pub criticality: Option<String>,
    pub reaction: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveMedication {
    pub name: String,
    pub code: Option<String>,
    pub dosage: Option<String>,
    pub route: Option<String>,
    pub prn: bool,
}

/// A parsed census snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Census {
    /// When the EHR took the snapshot (Bundle.timestamp, else meta.lastUpdated), RFC 3339.
    pub snapshot_time: Option<String>,
    pub patients: Vec<PatientRecord>,
    /// Resources not used, counted by type.
    pub skipped: BTreeMap<String, usize>,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Text of a CodeableConcept: its text, else its first coding's display, else its code.
fn concept_text(cc: Option<&Value>) -> Option<String> {
    let cc = cc?;
    text(cc.get("text")).or_else(|| {
        cc.get("coding")?.as_array()?.iter().find_map(|c| text(c.get("display")).or_else(|| text(c.get("code"))))
    })
}

fn concept_code(cc: Option<&Value>) -> Option<String> {
    let c = cc?.get("coding")?.as_array()?.first()?;
    Some(format!("{}|{}", text(c.get("system")).unwrap_or_default(), text(c.get("code"))?))
}

/// Finds the MRN: the identifier typed MR, else the one in `mrn_system`.
fn mrn_of(patient: &Value, mrn_system: Option<&str>) -> Option<(String, String)> {
    let ids = patient.get("identifier")?.as_array()?;
    let typed = ids.iter().find(|id| {
        id.get("type")
            .and_then(|t| t.get("coding"))
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| c.get("code").and_then(Value::as_str) == Some(MR_TYPE)))
    });
    let by_system =
        || ids.iter().find(|id| mrn_system.is_some() && id.get("system").and_then(Value::as_str) == mrn_system);
    let id = typed.or_else(by_system)?;
    Some((text(id.get("system")).unwrap_or_default(), text(id.get("value"))?))
}

/// Parses a census bundle. `mrn_system` is the site's MRN identifier system, used when identifiers are not typed.
pub fn parse(bytes: &[u8], mrn_system: Option<&str>) -> Result<Census, CensusError> {
    let bundle = json::parse_limited(bytes, MAX_BYTES, MAX_DEPTH)?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(CensusError::NotABundle);
    }
    let btype = bundle.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(btype, "collection" | "searchset" | "transaction" | "batch") {
        return Err(CensusError::BundleType(btype.chars().take(40).collect()));
    }
    let empty = Vec::new();
    let entries = match bundle.get("entry") {
        None => &empty,
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(CensusError::Entry {
                index: 0,
                resource: "Bundle".into(),
                reason: "entry must be a list".into(),
            })
        }
    };
    if entries.len() > MAX_ENTRIES {
        return Err(CensusError::TooMany { what: "entries", limit: MAX_ENTRIES });
    }
    let snapshot_time =
        text(bundle.get("timestamp")).or_else(|| text(bundle.get("meta").and_then(|m| m.get("lastUpdated"))));

    let mut patients: Vec<PatientRecord> = Vec::new();
    // Every way an entry may refer to a patient: its fullUrl and "Patient/<id>".
    let mut by_ref: HashMap<String, usize> = HashMap::new();
    let mut locations: HashMap<String, String> = HashMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut others: Vec<(usize, &Value)> = Vec::new();

    for (index, entry) in entries.iter().enumerate() {
        let index = index + 1;
        let Some(res) = entry.get("resource").filter(|r| r.is_object()) else {
            return Err(CensusError::Entry { index, resource: "?".into(), reason: "has no resource object".into() });
        };
        let rtype = res.get("resourceType").and_then(Value::as_str).unwrap_or("");
        match rtype {
            "Patient" => {
                let bad =
                    |reason: &str| CensusError::Entry { index, resource: "Patient".into(), reason: reason.into() };
                let (sys, mrn) = mrn_of(res, mrn_system)
                    .ok_or_else(|| bad("no MRN identifier (type MR or the site's MRN system)"))?;
                let name = res.get("name").and_then(Value::as_array).and_then(|ns| {
                    ns.iter().find(|n| n.get("use").and_then(Value::as_str) == Some("official")).or_else(|| ns.first())
                });
                let family = text(name.and_then(|n| n.get("family"))).unwrap_or_default();
                let given: Vec<String> = name
                    .and_then(|n| n.get("given"))
                    .and_then(Value::as_array)
                    .map(|g| g.iter().filter_map(|x| text(Some(x))).collect())
                    .unwrap_or_default();
                if family.is_empty() && given.is_empty() {
                    return Err(bad("no name"));
                }
                let birth_date = text(res.get("birthDate"));
                if let Some(d) = &birth_date {
                    if !crate::forms::is_date(d) {
                        return Err(bad("birthDate is not a FHIR date"));
                    }
                }
                let record = PatientRecord {
                    mrn_system: sys,
                    mrn,
                    family,
                    given,
                    birth_date,
                    gender: text(res.get("gender")),
                    location: None,
                    encounter: None,
                    allergies: Vec::new(),
                    medications: Vec::new(),
                };
                if patients.iter().any(|p| p.mrn == record.mrn && p.mrn_system == record.mrn_system) {
                    return Err(bad("the same MRN appears on two Patient resources"));
                }
                let i = patients.len();
                if i >= MAX_PATIENTS {
                    return Err(CensusError::TooMany { what: "patients", limit: MAX_PATIENTS });
                }
                if let Some(full) = text(entry.get("fullUrl")) {
                    by_ref.insert(full, i);
                }
                if let Some(id) = text(res.get("id")) {
                    by_ref.insert(format!("Patient/{id}"), i);
                }
                patients.push(record);
            }
            "Location" => {
                if let (Some(id), Some(name)) = (text(res.get("id")), text(res.get("name"))) {
                    locations.insert(format!("Location/{id}"), name.clone());
                    if let Some(full) = text(entry.get("fullUrl")) {
                        locations.insert(full, name);
                    }
                }
            }
            "Encounter" | "MedicationRequest" | "AllergyIntolerance" => others.push((index, res)),
            "" => {
                return Err(CensusError::Entry {
                    index,
                    resource: "?".into(),
                    reason: "resource has no resourceType".into(),
                })
            }
            other => *skipped.entry(other.chars().take(64).collect()).or_insert(0) += 1,
        }
    }
    if patients.is_empty() {
        return Err(CensusError::NoPatients);
    }

    for (index, res) in others {
        let rtype = res.get("resourceType").and_then(Value::as_str).unwrap_or("");
        let subject_field = if rtype == "AllergyIntolerance" { "patient" } else { "subject" };
        let subject = res.get(subject_field).and_then(|s| s.get("reference")).and_then(Value::as_str);
        let Some(&pi) = subject.and_then(|r| by_ref.get(r)) else {
            // A resource about a patient who is not on this unit's census is not an error: count it.
            *skipped.entry(format!("{rtype} (patient not in census)")).or_insert(0) += 1;
            continue;
        };
        let p = &mut patients[pi];
        match rtype {
            "Encounter" => {
                let status = text(res.get("status"));
                if matches!(status.as_deref(), Some("finished" | "cancelled" | "entered-in-error")) {
                    *skipped.entry("Encounter (not current)".into()).or_insert(0) += 1;
                    continue;
                }
                let loc = res
                    .get("location")
                    .and_then(Value::as_array)
                    .and_then(|ls| ls.first())
                    .and_then(|l| l.get("location"));
                let location = loc.and_then(|l| {
                    text(l.get("display")).or_else(|| text(l.get("reference")).and_then(|r| locations.get(&r).cloned()))
                });
                let identifier = res
                    .get("identifier")
                    .and_then(Value::as_array)
                    .and_then(|ids| ids.first())
                    .and_then(|id| Some((text(id.get("system")).unwrap_or_default(), text(id.get("value"))?)));
                p.location = location.or(p.location.take());
                p.encounter = Some(EncounterInfo {
                    identifier,
                    class: res.get("class").and_then(|c| text(c.get("code"))),
                    status,
                    start: text(res.get("period").and_then(|pr| pr.get("start"))),
                });
            }
            "MedicationRequest" => {
                if text(res.get("status")).as_deref() != Some("active") {
                    *skipped.entry("MedicationRequest (not active)".into()).or_insert(0) += 1;
                    continue;
                }
                let med = res.get("medicationCodeableConcept");
                let Some(name) = concept_text(med) else {
                    return Err(CensusError::Entry {
                        index,
                        resource: "MedicationRequest".into(),
                        reason: "no medicationCodeableConcept text or display".into(),
                    });
                };
                let dosage = res.get("dosageInstruction").and_then(Value::as_array).and_then(|d| d.first());
                p.medications.push(ActiveMedication {
                    name,
                    code: concept_code(med),
                    dosage: dosage.and_then(|d| text(d.get("text"))),
                    route: dosage.and_then(|d| concept_text(d.get("route"))),
                    prn: dosage.and_then(|d| d.get("asNeededBoolean")).and_then(Value::as_bool).unwrap_or(false),
                });
            }
            _ => {
                let status = res
                    .get("clinicalStatus")
                    .and_then(|c| c.get("coding"))
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.first())
                    .and_then(|c| text(c.get("code")));
                if matches!(status.as_deref(), Some("inactive" | "resolved")) {
                    *skipped.entry("AllergyIntolerance (not active)".into()).or_insert(0) += 1;
                    continue;
                }
                let Some(substance) = concept_text(res.get("code")) else {
                    return Err(CensusError::Entry {
                        index,
                        resource: "AllergyIntolerance".into(),
                        reason: "no code text or display".into(),
                    });
                };
                let reaction = res
                    .get("reaction")
                    .and_then(Value::as_array)
                    .and_then(|r| r.first())
                    .and_then(|r| r.get("manifestation"))
                    .and_then(Value::as_array)
                    .and_then(|m| concept_text(m.first()));
                p.allergies.push(Allergy {
                    substance,
                    code: concept_code(res.get("code")),
                    criticality: text(res.get("criticality")),
                    reaction,
                });
            }
        }
    }
    Ok(Census { snapshot_time, patients, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sample_census() {
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/census-5-east.json")).expect("fixture");
        let c = parse(&bytes, None).expect("parse");
        assert_eq!(c.patients.len(), 12);
        assert_eq!(c.snapshot_time.as_deref(), Some("2026-11-21T05:00:00Z"));
        let garcia = &c.patients[0];
        assert_eq!((garcia.mrn.as_str(), garcia.display_name().as_str()), ("DEV2001", "GARCIA, Elena"));
        assert_eq!(garcia.location.as_deref(), Some("5 East room 501"));
        assert!(garcia.allergies.iter().any(|a| a.substance == "Codeine"));
        assert_eq!(c.patients.iter().map(|p| p.medications.len()).sum::<usize>(), 36);
    }
}
