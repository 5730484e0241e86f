//! The read-back table (`export_readback`): per batch and posted entry, what the last read-back found on the EHR's
//! server (present, missing, duplicated), with the resources that were not there exactly once sealed in the body;
//! and those results' types, which the read-back (`readback.rs`) fills in.

use serde::{Deserialize, Serialize};

use super::FhirError;
use crate::clock::stamp;
use crate::crypto::Place;
use crate::vault::rows::OnConflict;
use crate::vault::Tx;

const FORMAT: u32 = 1;

/// One resource of an entry that is not on the server exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceProblem {
    pub resource_type: String,
    /// Its identifier value (or `Type/id`); `None` for a Patient, whose identifier is its MRN.
    pub identifier: Option<String>,
    /// How many resources the server holds with it: 0 (missing) or more than 1 (a copy was created).
    pub found: usize,
}

impl ResourceProblem {
    /// "QuestionnaireResponse urn:uuid:… is missing", "Patient (the registered patient's MRN) is there 2 times".
    pub fn describe(&self) -> String {
        let what = match &self.identifier {
            Some(i) => format!("{} {i}", self.resource_type),
            None => format!("{} (the registered patient's MRN)", self.resource_type),
        };
        match self.found {
            0 => format!("{what} is missing"),
            n => format!("{what} is there {n} times"),
        }
    }
}

/// What the read-back found for one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadState {
    /// Every resource of the entry is on the server, exactly once.
    Present,
    /// At least one resource is not on the server.
    Missing,
    /// Every resource is there, at least one more than once.
    Duplicated,
}

impl ReadState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadState::Present => "present",
            ReadState::Missing => "missing",
            ReadState::Duplicated => "duplicated",
        }
    }
}

/// One entry's read-back.
#[derive(Debug, Clone, Serialize)]
pub struct EntryReadback {
    pub entry_id: String,
    pub state: ReadState,
    /// Resources the entry was exported with.
    pub resources: usize,
    /// Those not on the server exactly once (none when present).
    pub problems: Vec<ResourceProblem>,
}

/// Records (or replaces) the read-back of these entries of a batch.
pub(super) fn record(tx: &mut Tx<'_>, batch_id: &str, rows: &[EntryReadback]) -> Result<(), FhirError> {
    let checked_at = stamp(tx.at());
    let checked_by = tx.actor().to_string();
    for r in rows {
        let row = format!("{batch_id}/{}", r.entry_id);
        let plain = serde_json::to_vec::<Vec<ResourceProblem>>(&r.problems).unwrap_or_default();
        let sealed = tx.seal(&Place { table: "export_readback", row: &row, column: "body", format: FORMAT }, &plain);
        tx.insert(
            OnConflict::Replace,
            "export_readback",
            &[
                ("batch_id", &batch_id),
                ("entry_id", &r.entry_id),
                ("checked_at", &checked_at),
                ("checked_by", &checked_by),
                ("state", &r.state.as_str()),
                ("resources", &(r.resources as i64)),
                ("fv", &i64::from(FORMAT)),
                ("body", &sealed),
            ],
        )?;
    }
    Ok(())
}
