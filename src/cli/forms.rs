//! `dtk forms`: the loaded form definitions, and checking form files before they are deployed.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::Workstation;

use super::{failed, print_json, Failure};

#[derive(Subcommand)]
pub enum FormsCmd {
    /// The loaded forms, and any that failed to load.
    List,
    /// Check form files; exit 1 listing every problem.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `dtk forms list`: the forms this workstation loaded, and the problems of those it did not.
pub fn list(ws: &Workstation, json: bool) -> Result<(), Failure> {
    let forms: Vec<serde_json::Value> = ws
        .forms()
        .forms()
        .map(|f| serde_json::json!({ "canonical": f.canonical(), "title": f.title, "clinicalTime": f.clinical_time() }))
        .collect();
    let problems: Vec<String> = ws.form_problems().iter().map(ToString::to_string).collect();
    if json {
        print_json(&serde_json::json!({ "forms": forms, "problems": problems }));
    } else {
        for f in ws.forms().forms() {
            let asks = if f.asks_clinical_time() { "  (asks for the clinical time: --clinical-time)" } else { "" };
            say!("{:<40} {}{asks}", f.title, f.canonical());
        }
        for p in &problems {
            eprintln!("NOT LOADED {p}");
        }
    }
    Ok(())
}

/// `dtk forms check`: needs no vault, so IT can check forms on any machine.
pub fn check(files: &[PathBuf], json: bool) -> Result<(), Failure> {
    let report = dtk::forms::check_files(files);
    if json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        for ((file, canonical, title), time) in report.ok.iter().zip(&report.clinical_time) {
            say!("OK   {file}: {title} ({canonical}); {time}");
        }
        for p in &report.problems {
            eprintln!("FAIL {p}");
        }
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(failed(format!("{} problem(s) in the form files", report.problems.len())))
    }
}
