//! `dtk`: the command line that hospital IT and HIM use to script the core (DESIGN §8). Exit codes: 0 success,
//! 1 operation failed (message on stderr), 2 bad usage, 3 integrity failure.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dtk::api::{self, AddUserRequest, ApiError, ErrorCode, InitRequest, Session, Workstation};
use dtk::auth::Role;
use dtk::clock::{Clock, SystemClock};
use dtk::crypto::Password;

#[derive(Parser)]
#[command(
    name = "dtk",
    version,
    about = "Downtime Kit: electronic downtime forms, encrypted on this workstation"
)]
struct Cli {
    /// The vault folder (else DTK_VAULT, else the platform data folder).
    #[arg(long, global = true, env = "DTK_VAULT", value_name = "DIR")]
    vault: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Set up this workstation's vault and its first administrator (password from DTK_NEW_PASSWORD or a prompt).
    Init {
        #[arg(long, value_name = "NAME")]
        admin: String,
        #[arg(long, value_name = "NAME", default_value = "Unit")]
        unit: String,
        /// The administrator's full name.
        #[arg(long, value_name = "FULL NAME")]
        display: Option<String>,
        /// Write the recovery key to this file instead of printing it.
        #[arg(long, value_name = "FILE")]
        recovery_key_out: Option<PathBuf>,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Check every ciphertext and the whole audit chain (exit 3 naming what is broken).
    Verify,
    /// Set a new password for a user with the recovery key (key from DTK_RECOVERY_KEY or a prompt).
    Recover {
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Change your own password (new password from DTK_NEW_PASSWORD or a prompt).
    Passwd,
    /// Self-tests used by the crash-safety suite.
    #[command(hide = true)]
    Selftest {
        #[command(subcommand)]
        cmd: SelftestCmd,
    },
}

#[derive(Subcommand)]
enum UserCmd {
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
}

#[derive(Subcommand)]
enum SelftestCmd {
    /// Saves COUNT drafts one after another, printing each id only after its save returned durable.
    SaveLoop {
        #[arg(long, default_value_t = 1000)]
        count: u32,
        /// Deliberately broken: prints the id before the commit (proves the crash harness catches early acks).
        #[arg(long)]
        ack_before_commit: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "expected one of nurse, charge, him, admin".to_string())
}

/// A failure with its exit code.
struct Failure {
    exit: u8,
    message: String,
    code: Option<ErrorCode>,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let exit = if e.code == ErrorCode::Integrity { 3 } else { 1 };
        Failure {
            exit,
            message: e.message,
            code: Some(e.code),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        exit: 2,
        message: message.into(),
        code: None,
    }
}

fn failed(message: impl Into<String>) -> Failure {
    Failure {
        exit: 1,
        message: message.into(),
        code: None,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                let code = f.code.map_or("usage", |c| c.as_str());
                eprintln!(
                    "{}",
                    serde_json::json!({ "error": { "code": code, "message": f.message } })
                );
            } else {
                eprintln!("dtk: {}", f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}

/// Reads a secret from the environment (automation) or a prompt on the terminal.
fn secret(env: &str, prompt: &str) -> Result<Password, Failure> {
    if let Ok(v) = std::env::var(env) {
        return Ok(Password::new(v));
    }
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(prompt)
            .map_err(|e| failed(format!("could not read the password: {e}")))?;
        return Ok(Password::new(v));
    }
    Err(usage(format!(
        "no password given: set {env} or run dtk in a terminal"
    )))
}

fn new_password(prompt_for: &str) -> Result<Password, Failure> {
    if let Ok(v) = std::env::var("DTK_NEW_PASSWORD") {
        return Ok(Password::new(v));
    }
    let first = secret(
        "DTK_NEW_PASSWORD",
        &format!("New password for {prompt_for}: "),
    )?;
    let again = secret("DTK_NEW_PASSWORD", "Repeat the password: ")?;
    if first.expose() != again.expose() {
        return Err(failed("the two passwords differ; nothing was changed"));
    }
    Ok(first)
}

fn sign_in(ws: &mut Workstation) -> Result<Session, Failure> {
    let user = match std::env::var("DTK_USER") {
        Ok(u) => u,
        Err(_) if std::io::stdin().is_terminal() => {
            eprint!("Username: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| failed(format!("could not read the username: {e}")))?;
            line.trim().to_string()
        }
        Err(_) => {
            return Err(usage(
                "no user given: set DTK_USER or run dtk in a terminal",
            ))
        }
    };
    let password = secret("DTK_PASSWORD", &format!("Password for {user}: "))?;
    Ok(ws.sign_in(&user, &password, &SystemClock)?)
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn run(cli: Cli) -> Result<(), Failure> {
    let dir = cli.vault.clone().unwrap_or_else(api::default_vault_dir);
    let mut ws = Workstation::open(&dir)?;
    let clock = SystemClock;
    match cli.cmd {
        Cmd::Init {
            admin,
            unit,
            display,
            recovery_key_out,
        } => {
            let password = new_password(&admin)?;
            let display_name = display.unwrap_or_else(|| admin.clone());
            let key = ws.init(
                InitRequest {
                    unit: unit.clone(),
                    admin: admin.clone(),
                    display_name,
                    password,
                },
                &clock,
            )?;
            match recovery_key_out {
                Some(path) => {
                    write_private(&path, format!("{}\n", key.expose()).as_bytes())
                        .map_err(|e| failed(format!("the vault was created, but writing the recovery key to {} failed: {e}", path.display())))?;
                    if cli.json {
                        print_json(
                            &serde_json::json!({ "vault": dir, "unit": unit, "admin": admin, "recovery_key_file": path }),
                        );
                    } else {
                        println!(
                            "Vault created in {} for unit {unit}; administrator {admin}.",
                            dir.display()
                        );
                        println!("The recovery key was written to {}. Store it offline, then delete the file.", path.display());
                    }
                }
                None => {
                    if cli.json {
                        print_json(
                            &serde_json::json!({ "vault": dir, "unit": unit, "admin": admin, "recovery_key": key.expose() }),
                        );
                    } else {
                        println!(
                            "Vault created in {} for unit {unit}; administrator {admin}.",
                            dir.display()
                        );
                        println!();
                        println!("RECOVERY KEY (shown once; write it down and keep it offline):");
                        println!("  {}", key.expose());
                    }
                }
            }
        }
        Cmd::User {
            cmd:
                UserCmd::Add {
                    name,
                    role,
                    display,
                },
        } => {
            let session = sign_in(&mut ws)?;
            session.require(dtk::auth::Op::ManageUsers)?;
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
            if cli.json {
                print_json(&serde_json::to_value(&info).unwrap_or_default());
            } else {
                println!(
                    "Added {} ({}) as {}.",
                    info.username,
                    info.display_name,
                    info.role.as_str()
                );
            }
        }
        Cmd::User { cmd: UserCmd::List } => {
            let session = sign_in(&mut ws)?;
            let users = ws.list_users(&session)?;
            if cli.json {
                print_json(&serde_json::to_value(&users).unwrap_or_default());
            } else {
                for u in users {
                    let state = if u.active { "active" } else { "disabled" };
                    println!(
                        "{:<20} {:<8} {:<9} {}",
                        u.username,
                        u.role.as_str(),
                        state,
                        u.display_name
                    );
                }
            }
        }
        Cmd::Verify => {
            let session = sign_in(&mut ws)?;
            let problems = ws.verify(&session)?;
            if cli.json {
                print_json(
                    &serde_json::json!({ "intact": problems.is_empty(), "problems": problems }),
                );
            } else if problems.is_empty() {
                println!("Vault intact: every ciphertext opens and the audit chain verifies.");
            } else {
                for p in &problems {
                    eprintln!("BROKEN {p}");
                }
            }
            if !problems.is_empty() {
                return Err(Failure {
                    exit: 3,
                    message: format!("integrity check failed: {} problem(s)", problems.len()),
                    code: Some(ErrorCode::Integrity),
                });
            }
        }
        Cmd::Recover { user } => {
            let key = secret("DTK_RECOVERY_KEY", "Recovery key: ")?;
            let password = new_password(&user)?;
            ws.recover(key.expose(), &user, &password, &clock)?;
            println!("The password of {user} was reset with the recovery key.");
        }
        Cmd::Passwd => {
            let mut session = sign_in(&mut ws)?;
            let password = new_password(session.username())?;
            ws.change_password(&mut session, &password, &clock)?;
            println!("Password changed.");
        }
        Cmd::Selftest {
            cmd:
                SelftestCmd::SaveLoop {
                    count,
                    ack_before_commit,
                },
        } => {
            let session = sign_in(&mut ws)?;
            save_loop(&mut ws, &session, count, ack_before_commit)?;
        }
    }
    Ok(())
}

/// The crash harness's child: each line on stdout is a promise that the draft is durable.
fn save_loop(
    ws: &mut Workstation,
    session: &Session,
    count: u32,
    ack_before_commit: bool,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let body =
            serde_json::json!({ "note": format!("crash-cycle draft {i}"), "pad": "x".repeat(200) });
        if ack_before_commit {
            session.require(dtk::auth::Op::SaveDraft)?;
            let vault = ws.vault_mut()?;
            let _ = vault.write(
                session.keys(),
                session.username(),
                SystemClock.now(),
                |tx| -> Result<(), ApiError> {
                    let id = dtk::drafts::save(tx, session.user_id(), None, &body)?;
                    // The bug this mode exists to demonstrate: acknowledging before the commit.
                    let _ = writeln!(out, "{id}");
                    let _ = out.flush();
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    Ok(())
                },
            )?;
        } else {
            let saved = ws.save_draft(session, None, &body, &SystemClock)?;
            let _ = writeln!(out, "{}", saved.value());
            let _ = out.flush();
        }
    }
    Ok(())
}

/// Writes a secret file readable by its owner only, atomically.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
