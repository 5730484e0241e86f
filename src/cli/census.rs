//! `dtk census`: importing the unit's census snapshot (a FHIR R4 Bundle, or a file signed by the site's census key)
//! and what the current one holds; `dtk census sign` (the export job, no vault) and `dtk census stage` (a scheduled
//! job, no password) carry a snapshot to the workstation with nobody signed in (ARCHITECTURE.md, "The census without
//! a password").

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{CensusSummary, Workstation};
use dtk::census_feed::CensusKey;
use dtk::clock::{Clock, SystemClock};
use dtk::crypto::OsRandom;

use super::{failed, in_file, output, read_input, sign_in, Failure};

#[derive(Subcommand)]
pub enum CensusCmd {
    /// Import (replace) the census snapshot from a FHIR R4 Bundle or a signed census file.
    Import { file: PathBuf },
    /// When the current snapshot was taken and how many patients it has.
    Status,
    /// Sign a census bundle with the site's census key, for `census_import_dir` (the export job; needs no vault).
    Sign {
        /// The FHIR R4 Bundle the EHR exported (it must carry Bundle.timestamp).
        bundle: PathBuf,
        /// The census key file (`dtk site census-key --create`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The signed file to write (extension .dtkcensus).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Seal the newest signed census of census_import_dir beside the vault, for the next sign-in to import. Needs no
    /// password: schedule it while the EHR is up.
    Stage,
}

/// `dtk census sign`: no vault, no sign-in.
pub fn sign(bundle: PathBuf, key: PathBuf, out: PathBuf, json: bool) -> Result<(), Failure> {
    let key_bytes = read_input(&key, 64 * 1024)?;
    let census_key = CensusKey::from_file(&key_bytes).map_err(|e| failed(format!("{}: {e}", key.display())))?;
    let bytes = read_input(&bundle, dtk::census::MAX_BYTES)?;
    let signed =
        census_key.sign(&bytes, SystemClock.now()).map_err(|e| failed(format!("{}: {e}", bundle.display())))?;
    dtk::durable::write(&out, &signed).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let info = serde_json::json!({ "file": out, "signer": census_key.fingerprint() });
    output(json, &info, || format!("Signed census written to {} (key {}).", out.display(), census_key.fingerprint()));
    Ok(())
}

/// `dtk site census-key --create --out FILE`.
pub fn create_key(create: bool, out: PathBuf, json: bool) -> Result<(), Failure> {
    if !create {
        return Err(super::usage("dtk site census-key makes a new key: add --create"));
    }
    if out.exists() {
        return Err(failed(format!("{}: already exists; a census key is never replaced silently", out.display())));
    }
    let key = CensusKey::generate(&mut OsRandom);
    dtk::durable::write_private(&out, &key.to_file()).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let info =
        serde_json::json!({ "census_public_key": key.public_hex(), "fingerprint": key.fingerprint(), "file": out });
    output(json, &info, || {
        format!(
            "Census key written to {} (owner-only; only the census export job should read it).\nPut this in every workstation's site.json:\n  \"census_public_key\": \"{}\"\nFingerprint: {}",
            out.display(),
            key.public_hex(),
            key.fingerprint()
        )
    });
    Ok(())
}

pub fn run(ws: &mut Workstation, cmd: CensusCmd, json: bool) -> Result<(), Failure> {
    if let CensusCmd::Stage = cmd {
        let report = ws.stage_census(&SystemClock)?;
        for (path, why) in &report.passed_over {
            eprintln!("dtk: passed over {}: {why}", path.display());
        }
        output(json, &report, || match report.outcome {
            "staged" => format!(
                "Staged the census of {} ({} patients) from {}: imported at the next sign-in.",
                report.snapshot_time.as_deref().unwrap_or("?"),
                report.patients.unwrap_or(0),
                report.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
            ),
            _ => format!(
                "Up to date: the newest signed census ({}) is not newer than this workstation's.",
                report.snapshot_time.as_deref().unwrap_or("?")
            ),
        });
        return Ok(());
    }
    let session = sign_in(ws)?;
    match cmd {
        CensusCmd::Import { file } => {
            let bytes = read_input(&file, dtk::census::MAX_BYTES + 4096)?;
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
        // The summary, not the snapshot: the administrator imports the census but may not read the unit.
        CensusCmd::Status => match ws.census_summary(&session, &SystemClock)? {
            Some(s) => output(json, &s, || status_text(&s)),
            None => output(json, &serde_json::Value::Null, || "No census imported yet.".into()),
        },
        CensusCmd::Sign { .. } | CensusCmd::Stage => {}
    }
    Ok(())
}

/// `dtk census status` in words: when the EHR took it, its age against the site's limit, patients, who imported it
/// and whether the site's census key signed it.
fn status_text(s: &CensusSummary) -> String {
    let age = match s.age_hours {
        Some(h) => format!("{h} h old"),
        None => "age unknown".into(),
    };
    let state = if s.stale { "STALE, over" } else { "within" };
    let how = match &s.provenance {
        None => "how it came was not recorded".to_string(),
        Some(p) => {
            let via = if p.via == "feed" { "from the census feed at a sign-in" } else { "from a file" };
            match &p.signer {
                Some(fp) => format!("{via}, signed by the census key {fp}"),
                None => format!("{via}, not signed"),
            }
        }
    };
    format!(
        "Census as of {} ({} patients), {age}: {state} the site's limit of {} h (census_max_age_hours).\nImported {} by {}, {how}.",
        s.snapshot_time, s.patients, s.max_age_hours, s.imported_at, s.imported_by
    )
}
