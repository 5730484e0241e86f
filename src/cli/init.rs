//! The workstation's vault and its keys: `dtk init`, `dtk status` (with the last backup's age), `dtk verify`, `dtk recover` and `dtk passwd`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use dtk::api::{self, ErrorCode, InitRequest, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;

use super::{failed, new_password, output, print_json, secret, sign_in, Failure};

#[derive(Args)]
pub struct InitArgs {
    #[arg(long, value_name = "NAME")]
    admin: String,
    /// The unit's name, printed on every page (default: "5 East" with --demo, else "Unit").
    #[arg(long, value_name = "NAME")]
    unit: Option<String>,
    /// The administrator's full name.
    #[arg(long, value_name = "FULL NAME")]
    display: Option<String>,
    /// Write the recovery key to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    recovery_key_out: Option<PathBuf>,
    /// Also load the demo unit: synthetic patients, demo accounts, an open DRILL episode.
    #[arg(long)]
    demo: bool,
}

/// `dtk init`: creates the vault and its first administrator, and shows the recovery key once.
pub fn init(ws: &mut Workstation, dir: &Path, args: InitArgs, json: bool) -> Result<(), Failure> {
    let InitArgs { admin, unit, display, recovery_key_out, demo } = args;
    let clock = SystemClock;
    let unit = unit.unwrap_or_else(|| if demo { api::DEMO_UNIT } else { "Unit" }.to_string());
    let password = new_password(&admin)?;
    let display_name = display.unwrap_or_else(|| admin.clone());
    let again = Password::new(password.expose().to_string());
    let key = ws.init(InitRequest { unit: unit.clone(), admin: admin.clone(), display_name, password }, &clock)?;
    if demo {
        let session = ws.sign_in(&admin, &again, &clock)?;
        ws.load_demo_unit(&session, &clock)?;
        eprintln!(
            "Demo unit loaded: accounts demo.nurse, demo.charge, demo.him (password {}), DRILL episode open.",
            api::DEMO_PASSWORD
        );
    }
    match recovery_key_out {
        Some(path) => {
            dtk::durable::write_private(&path, format!("{}\n", key.expose()).as_bytes()).map_err(|e| {
                failed(format!("the vault was created, but writing the recovery key to {} failed: {e}", path.display()))
            })?;
            if json {
                print_json(
                    &serde_json::json!({ "vault": dir, "unit": unit, "admin": admin, "recovery_key_file": path }),
                );
            } else {
                say!("Vault created in {} for unit {unit}; administrator {admin}.", dir.display());
                say!("The recovery key was written to {}. Store it offline, then delete the file.", path.display());
            }
        }
        None => {
            if json {
                print_json(
                    &serde_json::json!({ "vault": dir, "unit": unit, "admin": admin, "recovery_key": key.expose() }),
                );
            } else {
                say!("Vault created in {} for unit {unit}; administrator {admin}.", dir.display());
                say!();
                say!("RECOVERY KEY (shown once; write it down and keep it offline):");
                say!("  {}", key.expose());
            }
        }
    }
    Ok(())
}

/// `dtk status`: the workstation as it opened, without signing in.
pub fn status(ws: &Workstation, dir: &Path, json: bool) -> Result<(), Failure> {
    let (backup, backup_line) = super::backup::status_line(ws);
    let status = serde_json::json!({
        "vault": dir,
        "initialised": ws.is_initialised(),
        "read_only": ws.is_read_only(),
        "unit": ws.unit(),
        "workstation_id": ws.workstation_id(),
        "forms": ws.forms().len(),
        "form_problems": ws.form_problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "checklist": ws.checklist().id,
        "checklist_problems": ws.checklist_problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "escalation_file": ws.escalation().file,
        "escalation_problems": ws.escalation().problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "backup": backup,
    });
    output(json, &status, || {
        let mut t = format!(
            "Vault {} ({}): unit {}, {} forms, checklist {}.",
            dir.display(),
            if !ws.is_initialised() {
                "not set up"
            } else if ws.is_read_only() {
                "READ-ONLY: nothing can be saved here"
            } else {
                "read-write"
            },
            ws.unit().unwrap_or_else(|| "-".into()),
            ws.forms().len(),
            ws.checklist().id
        );
        for p in ws.form_problems() {
            t.push_str(&format!("\nform not loaded: {p}"));
        }
        for p in ws.checklist_problems() {
            t.push_str(&format!("\nchecklist not used: {p}"));
        }
        if ws.escalation().file.is_none() {
            t.push_str("\nno escalation file configured (escalation_file): the charge desk shows no contacts");
        }
        for p in &ws.escalation().problems {
            t.push_str(&format!("\nescalation file not used: {p}"));
        }
        if ws.is_initialised() {
            t.push_str(&format!("\n{backup_line}"));
        }
        t
    });
    Ok(())
}

/// `dtk verify`: every ciphertext and the audit chain; exit 3 naming each broken row.
/// `dtk verify` options.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Also compare a printed page with the vault: the mark after "record" in the page's footer (512·3fa2c1d0, or
    /// 512:3fa2c1d0). Repeat for several pages. A page the vault no longer matches means it was rolled back or
    /// replaced since the page was printed.
    #[arg(long = "page", value_name = "MARK")]
    pub pages: Vec<String>,
}

pub fn verify(ws: &mut Workstation, args: &VerifyArgs, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    let mut problems = ws.verify(&session)?;
    problems.extend(ws.verify_printed(&session, &args.pages)?);
    // What verify found is kept for `dtk readiness`; failing to record it (a read-only or damaged vault) must not
    // hide the result itself.
    if let Err(e) = ws.record_verify(&session, problems.len(), &SystemClock) {
        eprintln!("dtk: the result could not be recorded for dtk readiness: {}", e.message);
    }
    if json {
        print_json(&serde_json::json!({ "intact": problems.is_empty(), "problems": problems }));
    } else if problems.is_empty() {
        say!("Vault intact: every ciphertext opens and the audit chain verifies.");
        if !args.pages.is_empty() {
            say!("The vault holds the record each of the {} printed page(s) names.", args.pages.len());
        }
    } else {
        for p in &problems {
            eprintln!("BROKEN {p}");
        }
    }
    if !problems.is_empty() {
        return Err(Failure {
            exit: crate::EXIT_INTEGRITY,
            message: format!("integrity check failed: {} problem(s)", problems.len()),
            code: Some(ErrorCode::Integrity),
        });
    }
    Ok(())
}

/// `dtk recover`: a new password for `user` with the recovery key.
pub fn recover(ws: &mut Workstation, user: &str) -> Result<(), Failure> {
    let key = secret("DTK_RECOVERY_KEY", "Recovery key: ")?;
    let password = new_password(user)?;
    ws.recover(key.expose(), user, &password, &SystemClock)?;
    say!("The password of {user} was reset with the recovery key.");
    Ok(())
}

/// `dtk passwd`: the signed-in user changes their own password.
pub fn passwd(ws: &mut Workstation) -> Result<(), Failure> {
    let mut session = sign_in(ws)?;
    let password = new_password(session.username())?;
    ws.change_password(&mut session, &password, &SystemClock)?;
    say!("Password changed.");
    Ok(())
}
