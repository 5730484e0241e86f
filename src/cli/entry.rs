//! `dtk entry`: saving, signing, amending and listing filled forms, with the allergy and duplicate checks explained
//! to the nurse at the keyboard.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{self, ApiError, ErrorCode, SafetyKind, Workstation};
use dtk::clock::SystemClock;

use super::{print_json, read_response, sign_in, usage, Failure};

#[derive(Subcommand)]
pub enum EntryCmd {
    /// Save a filled form (a QuestionnaireResponse JSON file); prints the new entry id.
    Add {
        #[arg(long)]
        response: PathBuf,
        #[arg(long)]
        sign: bool,
        /// When it happened, for a form with no item for it (`dtk forms list` says which):
        /// YYYY-MM-DDThh:mm:ss with the UTC offset, e.g. 2026-11-21T10:15:00-05:00.
        #[arg(long, value_name = "DATETIME")]
        clinical_time: Option<String>,
        /// Reason for giving a medication despite a matching allergy.
        #[arg(long, value_name = "REASON")]
        override_allergy: Option<String>,
        /// Confirm this is a different event from a flagged possible duplicate.
        #[arg(long)]
        not_duplicate: bool,
    },
    /// Sign one of your draft entries.
    Sign {
        id: String,
        #[arg(long)]
        not_duplicate: bool,
    },
    /// Amend a signed entry: a new version; the old one is kept.
    Amend {
        id: String,
        #[arg(long)]
        response: PathBuf,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, value_name = "REASON")]
        override_allergy: Option<String>,
        #[arg(long)]
        not_duplicate: bool,
        /// When it happened, for a form with no item for it (as for `entry add`).
        #[arg(long, value_name = "DATETIME")]
        clinical_time: Option<String>,
    },
    /// Mark an entry entered-in-error (the original is kept).
    Error {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// List entries, newest first.
    List {
        #[arg(long, value_name = "MRN")]
        patient: Option<String>,
    },
    /// Show an entry with all its versions.
    Show { id: String },
}

fn print_saved(json: bool, saved: &api::EntrySaved, verb: &str) {
    for w in &saved.warnings {
        eprintln!("WARNING {}", w.message);
    }
    if json {
        print_json(&serde_json::to_value(saved).unwrap_or_default());
    } else {
        say!("{}", saved.saved.id);
        eprintln!(
            "{verb}: version {} ({}), saved on this workstation at {}.",
            saved.saved.version,
            saved.saved.status.as_str(),
            saved.stored_at
        );
    }
}

pub fn run(ws: &mut Workstation, cmd: EntryCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        EntryCmd::Add { response, sign, override_allergy, not_duplicate, clinical_time } => {
            let value = read_response(&response)?;
            check_clinical_time(ws, &value, clinical_time.as_deref())?;
            let opts = api::EntryOptions {
                sign,
                allergy_override: override_allergy,
                confirm_not_duplicate: not_duplicate,
                reason: None,
                clinical_time,
            };
            let saved = ws.add_entry(&session, &value, &opts, &clock).map_err(explain_safety)?;
            print_saved(json, &saved, if sign { "Saved and signed" } else { "Saved as draft" });
        }
        EntryCmd::Sign { id, not_duplicate } => {
            let saved = ws.sign_entry(&session, &id, not_duplicate, &clock).map_err(explain_safety)?;
            print_saved(json, &saved, "Signed");
        }
        EntryCmd::Amend { id, response, reason, override_allergy, not_duplicate, clinical_time } => {
            let value = read_response(&response)?;
            check_clinical_time(ws, &value, clinical_time.as_deref())?;
            let opts = api::EntryOptions {
                sign: true,
                allergy_override: override_allergy,
                confirm_not_duplicate: not_duplicate,
                reason,
                clinical_time,
            };
            let saved = ws.amend_entry(&session, &id, &value, &opts, &clock).map_err(explain_safety)?;
            print_saved(json, &saved, "Amended");
        }
        EntryCmd::Error { id, reason } => {
            let saved = ws.enter_in_error(&session, &id, &reason, &clock)?;
            print_saved(json, &saved, "Marked entered-in-error");
        }
        EntryCmd::List { patient } => {
            let list = ws.list_entries(&session, patient.as_deref(), &clock)?;
            if json {
                print_json(&serde_json::to_value(&list).unwrap_or_default());
            } else {
                for e in &list {
                    say!(
                        "{}  {:<16} v{} {:<28} DOB {:<10} MRN {:<10} {:<22} {} by {}",
                        e.id,
                        e.status.as_str(),
                        e.version,
                        e.patient.name,
                        e.patient.birth_date.as_deref().unwrap_or("unknown"),
                        e.patient.mrn,
                        e.clinical_time.as_deref().unwrap_or("-"),
                        e.form.rsplit('/').next().unwrap_or(&e.form),
                        e.author
                    );
                }
            }
        }
        EntryCmd::Show { id } => {
            let detail = ws.entry(&session, &id, &clock)?;
            print_json(&serde_json::to_value(&detail).unwrap_or_default());
        }
    }
    Ok(())
}

/// `--clinical-time` is given exactly when the response's form asks for the clinical time (no item of it holds it),
/// so the refusal names the flag. A response of no loaded form is left to the core, which says so.
fn check_clinical_time(ws: &Workstation, response: &serde_json::Value, given: Option<&str>) -> Result<(), Failure> {
    let canonical = response.get("questionnaire").and_then(serde_json::Value::as_str).unwrap_or("");
    let Some(form) = ws.forms().get(canonical) else { return Ok(()) };
    match (form.clinical_time_item(), given) {
        (None, None) => Err(usage(format!(
            "the form '{}' has no item for the clinical time, so it asks when it happened: give it with \
             --clinical-time, e.g. --clinical-time 2026-11-21T10:15:00-05:00 (seconds and the UTC offset)",
            form.title
        ))),
        (Some(item), Some(_)) => Err(usage(format!(
            "the form '{}' holds the clinical time in its item '{item}': answer it in the response; --clinical-time is \
             only for forms that ask for it",
            form.title
        ))),
        _ => Ok(()),
    }
}

/// Safety warnings are for the nurse at the keyboard: print each, then the refusal.
fn explain_safety(e: ApiError) -> Failure {
    for f in &e.findings {
        eprintln!(
            "{} {}: {}",
            if e.code == ErrorCode::SafetyCheck { "WARNING" } else { "PROBLEM" },
            f.link_id.as_deref().unwrap_or("-"),
            f.message
        );
    }
    // The hint names the flag that answers the warning that refused the save.
    let hint = match e.safety {
        Some(SafetyKind::Allergy) => " (after checking with the prescriber: --override-allergy REASON)",
        Some(SafetyKind::PossibleDuplicate) => " (after checking it is a different event: --not-duplicate)",
        None => "",
    };
    let mut f = Failure::from(e);
    f.message.push_str(hint);
    f
}
