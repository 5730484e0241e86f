//! `dtk user`: staff accounts (add, list, roster import, disable, unlock, break-glass emergency accounts), and
//! `dtk rekey`, which rotates the data key the accounts' wraps open.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{self, AddUserRequest, Workstation};
use dtk::auth::{Op, Role};
use dtk::clock::SystemClock;

use super::{failed, in_file, new_password, output, print_json, secret, sign_in, Failure};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a staff account (administrators; new password from DTK_NEW_PASSWORD or a prompt).
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long, value_name = "FULL NAME")]
        display: Option<String>,
    },
    /// List staff accounts.
    List,
    /// Import a roster (CSV: username, display name, role); prints one-time passwords to hand over.
    Import {
        file: PathBuf,
        /// Write the one-time passwords to this file (owner-only) instead of printing them.
        #[arg(long, value_name = "FILE")]
        passwords_out: Option<PathBuf>,
    },
    /// Disable an account (it can no longer sign in; its entries stay attributed to it).
    Disable { name: String },
    /// The site's signed roster: one account for every workstation (build by IT, import here).
    #[command(subcommand)]
    Roster(super::roster::RosterCmd),
    /// Unlock an account locked after too many failed sign-ins (administrators; charge nurses too unless the
    /// site's account_lockout is "admin").
    Unlock { name: String },
    /// Add an expiring break-glass nurse account (charge nurse; password from DTK_NEW_PASSWORD or a prompt).
    Emergency {
        name: String,
        #[arg(long, value_name = "FULL NAME")]
        display: String,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value_t = 12)]
        hours: i64,
    },
}

/// `dtk rekey`.
#[derive(clap::Args)]
pub struct RekeyArgs {
    /// The recovery key as `dtk init --recovery-key-out` wrote it (else DTK_RECOVERY_KEY or a prompt): the vault's
    /// recovery wrap is renewed around the new key.
    #[arg(long, value_name = "FILE")]
    recovery_key_file: Option<PathBuf>,
    /// Write the one-time passwords to this file (owner-only) instead of printing them.
    #[arg(long, value_name = "FILE")]
    passwords_out: Option<PathBuf>,
}

/// `dtk rekey`: rotates the data key and hands out the one-time passwords it gave every other account.
pub fn rekey(ws: &mut Workstation, args: RekeyArgs, json: bool) -> Result<(), Failure> {
    let (mut session, password) = super::sign_in_keeping_password(ws)?;
    let key = match &args.recovery_key_file {
        Some(file) => {
            let bytes = zeroize::Zeroizing::new(super::read_input(file, 4096)?);
            dtk::crypto::Password::new(String::from_utf8_lossy(&bytes).into_owned())
        }
        None => secret("DTK_RECOVERY_KEY", "Recovery key: ")?,
    };
    let done = ws.rekey(&mut session, &password, key.expose(), &SystemClock)?;
    let listing = one_time_listing(&done.reset);
    match args.passwords_out {
        Some(path) => dtk::durable::write_private(&path, listing.as_bytes())
            .map_err(|e| failed(format!("{}: {e}", path.display())))?,
        None if !json => say_raw!("{listing}"),
        None => {}
    }
    output(json, &done, || {
        format!(
            "The data key was rotated (generation {}). {} account(s) must sign in with the one-time password above and \
             choose their own; {} roster account(s) keep their password; {} key wrap(s) of disabled or expired \
             accounts removed. The recovery key is unchanged.",
            done.generation,
            done.reset.len(),
            done.roster_kept.len(),
            done.wraps_removed
        )
    });
    Ok(())
}

/// `username,role,one-time password` lines, as a roster import prints them.
fn one_time_listing(accounts: &[api::Provisioned]) -> String {
    accounts.iter().map(|p| format!("{},{},{}\n", p.username, p.role.as_str(), p.one_time_password)).collect()
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "expected one of nurse, charge, him, admin".to_string())
}

pub fn run(ws: &mut Workstation, cmd: UserCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    if let UserCmd::Roster(roster) = cmd {
        return match roster {
            super::roster::RosterCmd::Import { file } => super::roster::import(ws, &file, json),
            super::roster::RosterCmd::Build(args) => super::roster::build(args, json),
            super::roster::RosterCmd::Changes { out } => super::roster::changes(ws, &out, json),
        };
    }
    let session = sign_in(ws)?;
    match cmd {
        UserCmd::Add { name, role, display } => {
            session.require(Op::ManageUsers)?;
            let password = new_password(&name)?;
            let info = ws.add_user(
                &session,
                AddUserRequest {
                    display_name: display.unwrap_or_else(|| name.clone()),
                    username: name,
                    role,
                    password,
                },
                &clock,
            )?;
            if json {
                print_json(&serde_json::to_value(&info).unwrap_or_default());
            } else {
                say!("Added {} ({}) as {}.", info.username, info.display_name, info.role.as_str());
            }
        }
        UserCmd::List => {
            let users = ws.list_users(&session)?;
            if json {
                print_json(&serde_json::to_value(&users).unwrap_or_default());
            } else {
                let locks = ws.site().account_lockout.locks();
                for u in users {
                    let state = match (u.active, locks && u.failed_sign_ins >= dtk::auth::LOCK_AFTER_FAILURES) {
                        (false, _) => "disabled",
                        (true, true) => "locked",
                        (true, false) => "active",
                    };
                    say!("{:<20} {:<8} {:<9} {}", u.username, u.role.as_str(), state, u.display_name);
                }
            }
        }
        UserCmd::Import { file, passwords_out } => {
            let csv = std::fs::read_to_string(&file).map_err(|e| failed(format!("{}: {e}", file.display())))?;
            let result = ws.import_roster(&session, &csv, &clock).map_err(in_file(&file))?;
            let listing = one_time_listing(&result.created);
            match passwords_out {
                Some(path) => dtk::durable::write_private(&path, listing.as_bytes())
                    .map_err(|e| failed(format!("{}: {e}", path.display())))?,
                None if !json => say_raw!("{listing}"),
                None => {}
            }
            if json {
                print_json(&serde_json::to_value(&result).unwrap_or_default());
            } else {
                say!(
                    "{} account(s) created, {} already present. One-time passwords must be changed at first sign-in.",
                    result.created.len(),
                    result.skipped.len()
                );
            }
        }
        UserCmd::Disable { name } => {
            ws.disable_user(&session, &name, &clock)?;
            say!("Disabled {name}; their entries stay attributed to them.");
        }
        UserCmd::Roster(_) => return Err(super::usage("dtk user roster: handled above")),
        UserCmd::Unlock { name } => {
            ws.unlock_user(&session, &name, &clock)?;
            say!("Unlocked {name}: their own password signs them in again.");
        }
        UserCmd::Emergency { name, display, reason, hours } => {
            session.require(Op::AddEmergencyUser)?;
            let password = new_password(&name)?;
            let req = api::EmergencyUser {
                username: &name,
                display_name: &display,
                password: &password,
                reason: &reason,
                hours,
            };
            let info = ws.add_emergency_user(&session, &req, &clock)?;
            output(json, &info, || {
                format!(
                    "Emergency account {} created; it expires at {}.",
                    info.username,
                    info.expires_at.clone().unwrap_or_default()
                )
            });
        }
    }
    Ok(())
}
