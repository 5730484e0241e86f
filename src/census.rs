//! Reading the unit census snapshot that the EHR exported while it was up: a FHIR R4 Bundle of Patient, Encounter,
//! Location, MedicationRequest (with its timing, for the MAR), MedicationAdministration (the last doses before the
//! outage) and AllergyIntolerance. Pure: bytes in, a [`Census`] out; storing it is [`crate::patients`]' job.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{self, JsonError};
use crate::mar::timing::Timing;

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
    /// Doses given (or not) before the outage, from MedicationAdministration. Absent in records stored before
    /// issue 16.
    #[serde(default)]
    pub administrations: Vec<Administration>,
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
    /// The dosage instruction's own words (what the MAR shows as "see order" when it cannot schedule the timing).
    pub dosage: Option<String>,
    pub route: Option<String>,
    pub prn: bool,
    // The fields below came with the MAR (issue 16); records stored before it have none of them.
    /// `MedicationRequest.id`, which the census administrations refer to.
    #[serde(default)]
    pub id: Option<String>,
    /// `MedicationRequest.status`: active or on-hold (the others are not kept).
    #[serde(default)]
    pub status: Option<String>,
    /// The dose, such as "40 mg" (`doseAndRate.doseQuantity`, or a dose range).
    #[serde(default)]
    pub dose: Option<String>,
    /// `dosageInstruction.timing`, as read.
    #[serde(default)]
    pub timing: Option<Timing>,
    /// `asNeededCodeableConcept`: why as needed.
    #[serde(default)]
    pub prn_reason: Option<String>,
    #[serde(default)]
    pub authored_on: Option<String>,
}

/// A dose the EHR recorded before the outage (MedicationAdministration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Administration {
    pub medication: String,
    pub code: Option<String>,
    /// `MedicationAdministration.request.reference`: the order it was given for.
    pub request: Option<String>,
    /// completed, not-done, in-progress…
    pub status: String,
    /// `effectiveDateTime` (or `effectivePeriod.start`), RFC 3339.
    pub at: String,
    /// `statusReason`, for a dose not given.
    pub reason: Option<String>,
    pub dose: Option<String>,
    pub route: Option<String>,
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

/// "40 mg" from a Quantity.
fn quantity_text(q: Option<&Value>) -> Option<String> {
    let q = q?;
    let value = q.get("value").and_then(Value::as_f64)?;
    let unit = text(q.get("unit")).or_else(|| text(q.get("code"))).unwrap_or_default();
    Some(format!("{value} {unit}").trim().to_string())
}

/// The dose of a dosage instruction: its first dose quantity, else its dose range ("1–2 tablets").
fn dose_text(dosage: &Value) -> Option<String> {
    let rate = dosage.get("doseAndRate")?.as_array()?.first()?;
    quantity_text(rate.get("doseQuantity")).or_else(|| {
        let range = rate.get("doseRange")?;
        let (low, high) = (quantity_text(range.get("low"))?, quantity_text(range.get("high"))?);
        Some(format!("{low} to {high}"))
    })
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
                    administrations: Vec::new(),
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
            "Encounter" | "MedicationRequest" | "MedicationAdministration" | "AllergyIntolerance" => {
                others.push((index, res))
            }
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
        // AllergyIntolerance names its patient in `patient`; Encounter, MedicationRequest and MedicationAdministration
        // in `subject`.
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
                let status = text(res.get("status"));
                if !matches!(status.as_deref(), Some("active" | "on-hold")) {
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
                let as_needed_reason = dosage.and_then(|d| concept_text(d.get("asNeededCodeableConcept")));
                let as_needed = dosage.and_then(|d| d.get("asNeededBoolean")).and_then(Value::as_bool);
                p.medications.push(ActiveMedication {
                    name,
                    code: concept_code(med),
                    dosage: dosage.and_then(|d| text(d.get("text"))),
                    route: dosage.and_then(|d| concept_text(d.get("route"))),
                    prn: as_needed.unwrap_or(false) || as_needed_reason.is_some(),
                    id: text(res.get("id")),
                    status,
                    dose: dosage.and_then(dose_text),
                    timing: dosage.and_then(|d| d.get("timing")).map(Timing::from_fhir),
                    prn_reason: as_needed_reason,
                    authored_on: text(res.get("authoredOn")),
                });
            }
            "MedicationAdministration" => {
                let status = text(res.get("status")).unwrap_or_default();
                let at = text(res.get("effectiveDateTime"))
                    .or_else(|| text(res.get("effectivePeriod").and_then(|p| p.get("start"))))
                    .filter(|t| crate::clock::parse_stamp(t).is_some());
                let med = res.get("medicationCodeableConcept");
                let name =
                    concept_text(med).or_else(|| text(res.get("medicationReference").and_then(|r| r.get("display"))));
                let (Some(at), Some(medication)) = (at, name) else {
                    // A dose the MAR cannot place in time or name is counted, not guessed.
                    *skipped.entry("MedicationAdministration (no time or medication)".into()).or_insert(0) += 1;
                    continue;
                };
                if status == "entered-in-error" {
                    *skipped.entry("MedicationAdministration (entered in error)".into()).or_insert(0) += 1;
                    continue;
                }
                let dosage = res.get("dosage");
                p.administrations.push(Administration {
                    medication,
                    code: concept_code(med),
                    request: text(res.get("request").and_then(|r| r.get("reference"))),
                    status,
                    at,
                    reason: res.get("statusReason").and_then(Value::as_array).and_then(|r| concept_text(r.first())),
                    dose: dosage.and_then(|d| quantity_text(d.get("dose"))),
                    route: dosage.and_then(|d| concept_text(d.get("route"))),
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
