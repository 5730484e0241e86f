//! The safety checks before an entry counts: an active allergy that the medication matches (saving needs an
//! override reason) and a possible duplicate of an entry already charted (signing needs a confirmation that it is a
//! different event). The rules live here once; the façade asks, and the desks show what it answers. The duplicate
//! check sees this workstation's entries and the ones its peers published to the unit share.

use serde::Serialize;

use super::{possible_duplicates, DuplicateQuery};
use crate::census::Allergy;
use crate::crypto::Keys;
use crate::patients::Patient;
use crate::vault::error::VaultError;

/// A warning the nurse must see before the entry counts: an allergy (needs an override reason to save) or a
/// possible duplicate (needs confirmation to sign).
#[derive(Debug, Clone, Serialize)]
pub struct SafetyWarning {
    pub kind: SafetyKind,
    pub message: String,
    /// The other entry, for duplicates.
    pub entry_id: Option<String>,
}

/// Which check a warning comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyKind {
    Allergy,
    PossibleDuplicate,
}

/// Known cross-sensitivities: an allergy to the key also applies to these medication words. Deliberately small and
/// conservative; it supplements, and never replaces, the pharmacist's check.
const CROSS_SENSITIVITY: &[(&str, &[&str])] = &[
    (
        "penicillin",
        &["amoxicillin", "ampicillin", "piperacillin", "nafcillin", "oxacillin", "dicloxacillin", "penicillin"],
    ),
    ("sulfa", &["sulfamethoxazole", "sulfasalazine", "sulfadiazine"]),
    ("nsaid", &["ibuprofen", "naproxen", "ketorolac", "diclofenac", "indomethacin", "celecoxib"]),
    ("aspirin", &["aspirin", "acetylsalicylic"]),
    ("codeine", &["codeine"]),
    ("morphine", &["morphine"]),
    ("opioid", &["morphine", "codeine", "oxycodone", "hydromorphone", "fentanyl", "tramadol"]),
];

/// The active allergies that the medication matches: a shared word of four letters or more, or a known
/// cross-sensitivity.
pub fn allergy_matches<'a>(medication: &str, allergies: &'a [Allergy]) -> Vec<&'a Allergy> {
    let med = super::normalise_medication(medication);
    let med_words: Vec<&str> = med.split(' ').filter(|w| w.len() >= 4).collect();
    allergies
        .iter()
        .filter(|a| {
            let sub = super::normalise_medication(&a.substance);
            let sub_words: Vec<&str> = sub.split(' ').filter(|w| w.len() >= 4).collect();
            let shared = sub_words.iter().any(|w| med_words.contains(w));
            let cross = CROSS_SENSITIVITY.iter().any(|(key, drugs)| {
                sub_words.iter().any(|w| w.starts_with(key))
                    && drugs.iter().any(|d| med_words.iter().any(|m| m.starts_with(d)))
            });
            shared || cross
        })
        .collect()
}

/// The entry about to be saved, as far as the checks need it: its patient, and what makes another entry the same
/// event.
pub struct Subject<'a> {
    pub patient: &'a Patient,
    pub duplicates: DuplicateQuery<'a>,
}

/// Every warning for `subject`: its allergies first, then its possible duplicates.
pub fn warnings(
    conn: &rusqlite::Connection,
    keys: &Keys,
    subject: &Subject<'_>,
) -> Result<Vec<SafetyWarning>, VaultError> {
    let mut warnings = Vec::new();
    if let Some(med) = subject.duplicates.medication {
        for a in allergy_matches(med, &subject.patient.record.allergies) {
            warnings.push(SafetyWarning {
                kind: SafetyKind::Allergy,
                message: format!(
                    "ALLERGY: the patient has an active allergy to {}{}; giving this medication needs an override reason",
                    a.substance,
                    a.reaction.as_deref().map(|r| format!(" (reaction: {r})")).unwrap_or_default()
                ),
                entry_id: None,
            });
        }
    }
    for d in possible_duplicates(conn, keys, &subject.duplicates)? {
        warnings.push(SafetyWarning {
            kind: SafetyKind::PossibleDuplicate,
            message: format!(
                "POSSIBLE DUPLICATE: entry {} by {} for the same patient and form{} at {}",
                d.id,
                d.author,
                d.medication.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
                d.clinical_time.as_deref().unwrap_or("?")
            ),
            entry_id: Some(d.id),
        });
    }
    // The unit share's entries of the other workstations (issue 20): the same dose charted on another PC of the
    // unit is flagged here before this one counts, not only at HIM after the outage.
    for d in crate::unit::store::possible_duplicates(conn, keys, &subject.duplicates)? {
        warnings.push(SafetyWarning {
            kind: SafetyKind::PossibleDuplicate,
            message: format!(
                "POSSIBLE DUPLICATE: entry {} by {} on workstation {} (received here {}) for the same patient and form{} at {}",
                d.id,
                d.author,
                crate::unit::short_id(&d.workstation),
                d.received_at,
                d.medication.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
                d.clinical_time.as_deref().unwrap_or("?")
            ),
            entry_id: Some(d.id),
        });
    }
    Ok(warnings)
}

/// The entries that `warnings` name as possible duplicates.
pub fn duplicates_of(warnings: &[SafetyWarning]) -> Vec<String> {
    warnings.iter().filter(|w| w.kind == SafetyKind::PossibleDuplicate).filter_map(|w| w.entry_id.clone()).collect()
}

/// A save the checks refuse: which check, and what the nurse must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: SafetyKind,
    pub message: &'static str,
}

/// Refuses unless every warning has its answer: an override reason for an allergy (blank counts as none); a
/// confirmation that it is not a duplicate when signing.
pub fn gate(
    warnings: &[SafetyWarning],
    allergy_override: Option<&str>,
    confirm_not_duplicate: bool,
    signing: bool,
) -> Result<(), Refusal> {
    let allergy = warnings.iter().any(|w| w.kind == SafetyKind::Allergy);
    if allergy && allergy_override.is_none_or(|r| r.trim().is_empty()) {
        return Err(Refusal {
            kind: SafetyKind::Allergy,
            message: "an allergy matches this medication: give an override reason to save",
        });
    }
    let dup = warnings.iter().any(|w| w.kind == SafetyKind::PossibleDuplicate);
    if dup && signing && !confirm_not_duplicate {
        return Err(Refusal {
            kind: SafetyKind::PossibleDuplicate,
            message: "this looks like a duplicate of another entry: confirm it is a different event to sign",
        });
    }
    Ok(())
}
