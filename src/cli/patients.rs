//! `dtk patient`: the unit's patients, and registering a patient who is not in the census.

use std::io::Write;

use clap::Subcommand;
use dtk::api::Workstation;
use dtk::clock::SystemClock;

use super::{output, print_json, sign_in, Failure};

#[derive(Subcommand)]
pub enum PatientCmd {
    /// The unit's patients: name, date of birth and MRN together.
    List,
    /// Register a patient who is not in the census (takes the next temporary MRN of this workstation).
    Register {
        #[arg(long)]
        family: String,
        #[arg(long)]
        given: Vec<String>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        birth_date: Option<String>,
        #[arg(long)]
        gender: Option<String>,
        #[arg(long)]
        location: Option<String>,
    },
}

pub fn run(ws: &mut Workstation, cmd: PatientCmd, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    match cmd {
        PatientCmd::List => {
            let patients = ws.patients(&session)?;
            if json {
                print_json(&serde_json::to_value(&patients).unwrap_or_default());
            } else {
                for p in &patients {
                    say!(
                        "{:<32} DOB {:<10} MRN {:<12} {}",
                        p.display_name(),
                        p.record.birth_date.as_deref().unwrap_or("unknown"),
                        p.record.mrn,
                        p.record.location.as_deref().unwrap_or("")
                    );
                }
            }
        }
        PatientCmd::Register { family, given, birth_date, gender, location } => {
            let reg = dtk::patients::Registration { family, given, birth_date, gender, location };
            let p = ws.register_patient(&session, &reg, &SystemClock)?;
            output(json, &p, || format!("Registered {} with temporary MRN {}.", p.display_name(), p.record.mrn));
        }
    }
    Ok(())
}
