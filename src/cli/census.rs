//! `dtk census`: importing the unit's census snapshot (a FHIR R4 Bundle) and what the current one holds.

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::Workstation;
use dtk::clock::SystemClock;

use super::{in_file, output, read_input, sign_in, Failure};

#[derive(Subcommand)]
pub enum CensusCmd {
    /// Import (replace) the census snapshot from a FHIR R4 Bundle.
    Import { file: PathBuf },
    /// When the current snapshot was taken and how many patients it has.
    Status,
}

pub fn run(ws: &mut Workstation, cmd: CensusCmd, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    match cmd {
        CensusCmd::Import { file } => {
            let bytes = read_input(&file, dtk::census::MAX_BYTES)?;
            let summary = ws.import_census(&session, &bytes, &SystemClock).map_err(in_file(&file))?;
            output(json, &summary, || {
                let skipped: Vec<String> = summary.skipped.iter().map(|(k, v)| format!("{v} {k}")).collect();
                format!(
                    "Census imported: {} patients, {} allergies, {} active medications; snapshot taken {}.{}",
                    summary.patients,
                    summary.allergies,
                    summary.medications,
                    summary.snapshot.snapshot_time,
                    if skipped.is_empty() { String::new() } else { format!(" Skipped: {}.", skipped.join(", ")) }
                )
            });
        }
        CensusCmd::Status => match ws.census_snapshot(&session)? {
            Some(s) => output(json, &s, || {
                format!(
                    "Census as of {} ({} patients), imported {} by {}.",
                    s.snapshot_time, s.patient_count, s.imported_at, s.imported_by
                )
            }),
            None => output(json, &serde_json::Value::Null, || "No census imported yet.".into()),
        },
    }
    Ok(())
}
