//! `dtk`: the command line that hospital IT and HIM use to script the core (DESIGN §8). Exit codes: 0 success,
//! 1 operation failed (message on stderr), 2 bad usage, 3 integrity failure.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "cli/him.rs"]
mod him_cli;
use dtk::api::{self, AddUserRequest, ApiError, ErrorCode, InitRequest, Session, Workstation};
use dtk::auth::Role;
use dtk::clock::{Clock, SystemClock};
use dtk::crypto::Password;
use dtk::procedures::Severity;

/// Prints a line to stdout, ignoring a closed pipe (`dtk entry list | head` must not panic).
macro_rules! say {
    () => {{
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Like [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(name = "dtk", version, about = "Downtime Kit: electronic downtime forms, encrypted on this workstation")]
struct Cli {
    /// The vault folder (else DTK_VAULT, else the platform data folder).
    #[arg(long, global = true, env = "DTK_VAULT", value_name = "DIR")]
    vault: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    /// The forms folder (else DTK_FORMS, else the site configuration's, else the built-in forms).
    #[arg(long, global = true, env = "DTK_FORMS", value_name = "DIR")]
    forms: Option<PathBuf>,
    /// The site configuration file (else DTK_SITE, else site.json in the vault folder).
    #[arg(long, global = true, env = "DTK_SITE", value_name = "FILE")]
    site: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Set up this workstation's vault and its first administrator (password from DTK_NEW_PASSWORD or a prompt).
    Init {
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
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Check every ciphertext and the whole audit chain (exit 3 naming what is broken).
    Verify,
    /// This workstation: unit, whether it is set up, read-only or not, forms and checklist loaded (no sign-in).
    Status,
    /// Form definitions.
    Forms {
        #[command(subcommand)]
        cmd: FormsCmd,
    },
    /// The unit census snapshot.
    Census {
        #[command(subcommand)]
        cmd: CensusCmd,
    },
    /// Patients of the unit.
    Patient {
        #[command(subcommand)]
        cmd: PatientCmd,
    },
    /// Downtime episodes (charge nurse).
    Episode {
        #[command(subcommand)]
        cmd: EpisodeCmd,
    },
    /// Entries: filled forms.
    Entry {
        #[command(subcommand)]
        cmd: EntryCmd,
    },
    /// Paper: blank forms, filled entries, the downtime MAR and the census sheet, as PDF.
    Print {
        #[command(subcommand)]
        cmd: PrintCmd,
    },
    /// Handoff files: HIM key, a workstation's export, HIM's import.
    Handoff {
        #[command(subcommand)]
        cmd: him_cli::HandoffCmd,
    },
    /// The HIM reconciliation worklist.
    Reconcile {
        #[command(subcommand)]
        cmd: him_cli::ReconcileCmd,
    },
    /// FHIR R4 export and posting of reconciled entries.
    Export {
        #[command(subcommand)]
        cmd: him_cli::ExportCmd,
    },
    /// Set a new password for a user with the recovery key (key from DTK_RECOVERY_KEY or a prompt).
    Recover {
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Change your own password (new password from DTK_NEW_PASSWORD or a prompt).
    Passwd,
    /// Workstation qualification benchmark (DESIGN §9): builds a synthetic four-week vault in a scratch folder and
    /// measures saves, sign-in, opening, lists, verify, handoff, the HIM worklist, FHIR export and printing.
    /// Needs no vault and touches none: everything it writes stays in its scratch folder.
    Bench {
        /// Entries in the synthetic vault (40 patients over 28 days).
        #[arg(long, default_value_t = 160_000)]
        entries: usize,
        /// The scratch folder (default: a new folder in the system's temporary folder, removed afterwards).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Keep the scratch folder (its vaults) after the run.
        #[arg(long)]
        keep: bool,
    },
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
    /// Import a roster (CSV: username, display name, role); prints one-time passwords to hand over.
    Import {
        file: PathBuf,
        /// Write the one-time passwords to this file (owner-only) instead of printing them.
        #[arg(long, value_name = "FILE")]
        passwords_out: Option<PathBuf>,
    },
    /// Disable an account (it can no longer sign in; its entries stay attributed to it).
    Disable { name: String },
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

#[derive(Subcommand)]
enum FormsCmd {
    /// The loaded forms, and any that failed to load.
    List,
    /// Check form files; exit 1 listing every problem.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CensusCmd {
    /// Import (replace) the census snapshot from a FHIR R4 Bundle.
    Import { file: PathBuf },
    /// When the current snapshot was taken and how many patients it has.
    Status,
}

#[derive(Subcommand)]
enum PatientCmd {
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

#[derive(Subcommand)]
enum EpisodeCmd {
    /// Declare a downtime episode for the unit.
    Start {
        #[arg(long)]
        reason: Option<String>,
        /// P1 (no access to information needed for care, no workaround) … P4 (minor).
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        /// Affected systems and workflows, comma separated (EHR, lab results, pharmacy, ADT…).
        #[arg(long, value_delimiter = ',')]
        affected: Vec<String>,
        /// The clinical impact in plain words.
        #[arg(long)]
        impact: Option<String>,
        /// Minutes until the first status update is due.
        #[arg(long, value_name = "MINUTES")]
        next_update: Option<i64>,
        /// A practice episode: marked DRILL everywhere, never exported.
        #[arg(long)]
        drill: bool,
    },
    /// End the open episode.
    End,
    /// The open episode: severity, checklist, overdue steps, next update.
    Status,
    /// Change the severity of the open episode.
    Severity {
        #[arg(value_parser = parse_severity)]
        level: Severity,
        #[arg(long)]
        note: Option<String>,
    },
    /// Tick a checklist step as done (or take a tick back with --undo REASON).
    Tick {
        step: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long, value_name = "REASON")]
        undo: Option<String>,
    },
    /// Draft a status update for leaders (--draft), or keep one (--text FILE) and set the next update time;
    /// --out FILE also prints the newest kept update as a PDF.
    Update {
        #[arg(long, conflicts_with_all = ["text", "out"])]
        draft: bool,
        #[arg(long, value_name = "FILE")]
        text: Option<PathBuf>,
        #[arg(long, value_name = "MINUTES")]
        next_update: Option<i64>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The episode's timeline and metrics (after-action review).
    Timeline {
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
    },
    /// The drill report (PDF) of a practice episode: timeline, checklist, entries per user, what was missed.
    DrillReport {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The drill episode (default: the newest one).
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| "expected P1, P2, P3 or P4".to_string())
}

#[derive(Subcommand)]
enum EntryCmd {
    /// Save a filled form (a QuestionnaireResponse JSON file); prints the new entry id.
    Add {
        #[arg(long)]
        response: PathBuf,
        #[arg(long)]
        sign: bool,
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

#[derive(Subcommand)]
enum PrintCmd {
    /// Blank form: unlabelled, for one patient, or for every patient of the unit (--census, charge nurse).
    Blank {
        /// Canonical url|version, bare url, or short name such as vital-signs.
        #[arg(long)]
        form: String,
        #[arg(long, value_name = "MRN", conflicts_with = "census")]
        patient: Option<String>,
        #[arg(long)]
        census: bool,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// A filled entry for the paper chart.
    Entry {
        id: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// The downtime MAR for the unit (charge nurse).
    Mar {
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// The unit census sheet (charge nurse).
    Census {
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// Read the QR code of a scanned page (PNG, JPEG, or a PDF page via pdftoppm).
    Read {
        file: PathBuf,
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
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
        /// What each step saves: a draft; a new entry then its signature; an amendment of one entry; a census import.
        #[arg(long, value_enum, default_value_t = LoopKind::Draft)]
        kind: LoopKind,
        /// The filled form (sign, amend) or census bundle (census) each step saves.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Imports handoff files in order (HIM), printing "imported SEQUENCE" after each import returned.
    ImportLoop {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// What `selftest save-loop` saves at each step; each printed line is a promise that the step is durable.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LoopKind {
    /// `ID`: a draft was saved.
    Draft,
    /// `draft ID`, then `signed ID`: an entry was saved as a draft, then signed.
    Sign,
    /// `amended ID VERSION`: one signed entry amended again and again.
    Amend,
    /// `census SNAPSHOT`: the census imported again.
    Census,
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
        Failure { exit, message: e.message, code: Some(e.code) }
    }
}

/// Names the input file in front of the API's message (the message names the key, line or field inside it).
fn in_file(path: &std::path::Path) -> impl Fn(ApiError) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from(e);
        f.message = format!("{}: {}", path.display(), f.message);
        f
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure { exit: 2, message: message.into(), code: None }
}

fn failed(message: impl Into<String>) -> Failure {
    Failure { exit: 1, message: message.into(), code: None }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // writeln, not eprintln: a failing stderr (a full disk, an I/O error) must not turn the error into a panic.
            let mut err = std::io::stderr();
            if json {
                let code = f.code.map_or("usage", |c| c.as_str());
                let _ = writeln!(err, "{}", serde_json::json!({ "error": { "code": code, "message": f.message } }));
            } else {
                let _ = writeln!(err, "dtk: {}", f.message);
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
        let v = rpassword::prompt_password(prompt).map_err(|e| failed(format!("could not read the password: {e}")))?;
        return Ok(Password::new(v));
    }
    Err(usage(format!("no password given: set {env} or run dtk in a terminal")))
}

fn new_password(prompt_for: &str) -> Result<Password, Failure> {
    if let Ok(v) = std::env::var("DTK_NEW_PASSWORD") {
        return Ok(Password::new(v));
    }
    let first = secret("DTK_NEW_PASSWORD", &format!("New password for {prompt_for}: "))?;
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
            std::io::stdin().read_line(&mut line).map_err(|e| failed(format!("could not read the username: {e}")))?;
            line.trim().to_string()
        }
        Err(_) => return Err(usage("no user given: set DTK_USER or run dtk in a terminal")),
    };
    let password = secret("DTK_PASSWORD", &format!("Password for {user}: "))?;
    Ok(ws.sign_in(&user, &password, &SystemClock)?)
}

fn print_json(value: &serde_json::Value) {
    say!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn run(cli: Cli) -> Result<(), Failure> {
    let dir = cli.vault.clone().unwrap_or_else(api::default_vault_dir);
    if let Cmd::Forms { cmd: FormsCmd::Check { files } } = &cli.cmd {
        return forms_check(files, cli.json);
    }
    if let Cmd::Bench { entries, dir, keep } = &cli.cmd {
        return bench(*entries, dir.clone(), *keep, cli.json);
    }
    let site = dtk::site::SiteConfig::for_vault(&dir, cli.site.as_deref()).map_err(|e| usage(e.to_string()))?;
    let mut ws = Workstation::open_with(&dir, site, cli.forms.as_deref())?;
    let clock = SystemClock;
    match cli.cmd {
        Cmd::Init { admin, unit, display, recovery_key_out, demo } => {
            let unit = unit.unwrap_or_else(|| if demo { api::DEMO_UNIT } else { "Unit" }.to_string());
            let password = new_password(&admin)?;
            let display_name = display.unwrap_or_else(|| admin.clone());
            let again = Password::new(password.expose().to_string());
            let key =
                ws.init(InitRequest { unit: unit.clone(), admin: admin.clone(), display_name, password }, &clock)?;
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
                    write_private(&path, format!("{}\n", key.expose()).as_bytes()).map_err(|e| {
                        failed(format!(
                            "the vault was created, but writing the recovery key to {} failed: {e}",
                            path.display()
                        ))
                    })?;
                    if cli.json {
                        print_json(
                            &serde_json::json!({ "vault": dir, "unit": unit, "admin": admin, "recovery_key_file": path }),
                        );
                    } else {
                        say!("Vault created in {} for unit {unit}; administrator {admin}.", dir.display());
                        say!(
                            "The recovery key was written to {}. Store it offline, then delete the file.",
                            path.display()
                        );
                    }
                }
                None => {
                    if cli.json {
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
        }
        Cmd::User { cmd: UserCmd::Add { name, role, display } } => {
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
                say!("Added {} ({}) as {}.", info.username, info.display_name, info.role.as_str());
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
                    say!("{:<20} {:<8} {:<9} {}", u.username, u.role.as_str(), state, u.display_name);
                }
            }
        }
        Cmd::Status => {
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
            });
            output(cli.json, &status, || {
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
                t
            });
        }
        Cmd::Verify => {
            let session = sign_in(&mut ws)?;
            let problems = ws.verify(&session)?;
            if cli.json {
                print_json(&serde_json::json!({ "intact": problems.is_empty(), "problems": problems }));
            } else if problems.is_empty() {
                say!("Vault intact: every ciphertext opens and the audit chain verifies.");
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
            say!("The password of {user} was reset with the recovery key.");
        }
        Cmd::Passwd => {
            let mut session = sign_in(&mut ws)?;
            let password = new_password(session.username())?;
            ws.change_password(&mut session, &password, &clock)?;
            say!("Password changed.");
        }
        Cmd::User { cmd: UserCmd::Import { file, passwords_out } } => {
            let session = sign_in(&mut ws)?;
            let csv = std::fs::read_to_string(&file).map_err(|e| failed(format!("{}: {e}", file.display())))?;
            let result = ws.import_roster(&session, &csv, &clock).map_err(in_file(&file))?;
            let listing: String = result
                .created
                .iter()
                .map(|p| format!("{},{},{}\n", p.username, p.role.as_str(), p.one_time_password))
                .collect();
            match passwords_out {
                Some(path) => {
                    write_private(&path, listing.as_bytes()).map_err(|e| failed(format!("{}: {e}", path.display())))?
                }
                None if !cli.json => say_raw!("{listing}"),
                None => {}
            }
            if cli.json {
                print_json(&serde_json::to_value(&result).unwrap_or_default());
            } else {
                say!(
                    "{} account(s) created, {} already present. One-time passwords must be changed at first sign-in.",
                    result.created.len(),
                    result.skipped.len()
                );
            }
        }
        Cmd::User { cmd: UserCmd::Disable { name } } => {
            let session = sign_in(&mut ws)?;
            ws.disable_user(&session, &name, &clock)?;
            say!("Disabled {name}; their entries stay attributed to them.");
        }
        Cmd::User { cmd: UserCmd::Emergency { name, display, reason, hours } } => {
            let session = sign_in(&mut ws)?;
            session.require(dtk::auth::Op::AddEmergencyUser)?;
            let password = new_password(&name)?;
            let req = api::EmergencyUser {
                username: &name,
                display_name: &display,
                password: &password,
                reason: &reason,
                hours,
            };
            let info = ws.add_emergency_user(&session, &req, &clock)?;
            output(cli.json, &info, || {
                format!(
                    "Emergency account {} created; it expires at {}.",
                    info.username,
                    info.expires_at.clone().unwrap_or_default()
                )
            });
        }
        Cmd::Forms { cmd: FormsCmd::List } => {
            let forms: Vec<serde_json::Value> = ws
                .forms()
                .forms()
                .map(|f| serde_json::json!({ "canonical": f.canonical(), "title": f.title }))
                .collect();
            let problems: Vec<String> = ws.form_problems().iter().map(ToString::to_string).collect();
            if cli.json {
                print_json(&serde_json::json!({ "forms": forms, "problems": problems }));
            } else {
                for f in ws.forms().forms() {
                    say!("{:<40} {}", f.title, f.canonical());
                }
                for p in &problems {
                    eprintln!("NOT LOADED {p}");
                }
            }
        }
        Cmd::Forms { cmd: FormsCmd::Check { .. } } => unreachable!("handled before the vault is opened"),
        Cmd::Census { cmd: CensusCmd::Import { file } } => {
            let session = sign_in(&mut ws)?;
            let bytes = read_input(&file, dtk::census::MAX_BYTES)?;
            let summary = ws.import_census(&session, &bytes, &clock).map_err(in_file(&file))?;
            output(cli.json, &summary, || {
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
        Cmd::Census { cmd: CensusCmd::Status } => {
            let session = sign_in(&mut ws)?;
            let snap = ws.census_snapshot(&session)?;
            match snap {
                Some(s) => output(cli.json, &s, || {
                    format!(
                        "Census as of {} ({} patients), imported {} by {}.",
                        s.snapshot_time, s.patient_count, s.imported_at, s.imported_by
                    )
                }),
                None => output(cli.json, &serde_json::Value::Null, || "No census imported yet.".into()),
            }
        }
        Cmd::Patient { cmd: PatientCmd::List } => {
            let session = sign_in(&mut ws)?;
            let patients = ws.patients(&session)?;
            if cli.json {
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
        Cmd::Patient { cmd: PatientCmd::Register { family, given, birth_date, gender, location } } => {
            let session = sign_in(&mut ws)?;
            let reg = dtk::patients::Registration { family, given, birth_date, gender, location };
            let p = ws.register_patient(&session, &reg, &clock)?;
            output(cli.json, &p, || format!("Registered {} with temporary MRN {}.", p.display_name(), p.record.mrn));
        }
        Cmd::Episode { cmd: EpisodeCmd::Start { reason, severity, affected, impact, next_update, drill } } => {
            let session = sign_in(&mut ws)?;
            let kind = if drill { dtk::episodes::Kind::Drill } else { dtk::episodes::Kind::Real };
            let next_update_due = next_update.map(|m| dtk::clock::stamp(clock.now() + time::Duration::minutes(m)));
            let declaration = dtk::episodes::Declaration { reason, severity, affected, impact, next_update_due };
            let ep = ws.start_episode(&session, kind, declaration, &clock)?;
            output(cli.json, &ep, || {
                format!(
                    "{} episode {} started at {} for {}.",
                    if drill { "DRILL" } else { "Downtime" },
                    ep.id,
                    ep.started_at,
                    ep.unit
                )
            });
        }
        Cmd::Episode { cmd: EpisodeCmd::End } => {
            let session = sign_in(&mut ws)?;
            let ep = ws.end_episode(&session, &clock)?;
            output(cli.json, &ep, || {
                format!("Episode {} ended at {}.", ep.id, ep.ended_at.clone().unwrap_or_default())
            });
        }
        Cmd::Episode { cmd } => episode_command(&mut ws, cmd, cli.json)?,
        Cmd::Entry { cmd } => entry_command(&mut ws, cmd, cli.json)?,
        Cmd::Print { cmd } => print_command(&mut ws, cmd, cli.json)?,
        Cmd::Handoff { cmd } => him_cli::handoff(&mut ws, cmd, cli.json)?,
        Cmd::Reconcile { cmd } => him_cli::reconcile(&mut ws, cmd, cli.json)?,
        Cmd::Export { cmd } => him_cli::export(&mut ws, cmd, cli.json)?,
        Cmd::Bench { .. } => unreachable!("handled before the vault is opened"),
        Cmd::Selftest { cmd: SelftestCmd::SaveLoop { count, ack_before_commit, kind: LoopKind::Draft, .. } } => {
            let session = sign_in(&mut ws)?;
            save_loop(&mut ws, &session, count, ack_before_commit)?;
        }
        Cmd::Selftest { cmd: SelftestCmd::SaveLoop { count, kind, input, .. } } => {
            let session = sign_in(&mut ws)?;
            let input = input.ok_or_else(|| usage("--input FILE is needed for this kind of loop"))?;
            step_loop(&mut ws, &session, count, kind, &input)?;
        }
        Cmd::Selftest { cmd: SelftestCmd::ImportLoop { files } } => {
            let session = sign_in(&mut ws)?;
            for file in files {
                let bytes = read_input(&file, 1 << 30)?;
                let report = ws.import_handoff(&session, &bytes, &clock)?;
                say!("imported {}", report.sequence);
            }
        }
    }
    Ok(())
}

fn output<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        print_json(&serde_json::to_value(value).unwrap_or_default());
    } else {
        say!("{}", text());
    }
}

/// Reads an input file, refusing anything over `limit` before reading it whole.
fn read_input(path: &std::path::Path, limit: usize) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    if meta.len() > limit as u64 {
        return Err(failed(format!("{}: larger than the {} MiB limit", path.display(), limit / (1024 * 1024))));
    }
    std::fs::read(path).map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn forms_check(files: &[PathBuf], json: bool) -> Result<(), Failure> {
    let report = dtk::forms::check_files(files);
    if json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        for (file, canonical, title) in &report.ok {
            say!("OK   {file}: {title} ({canonical})");
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

fn read_response(path: &std::path::Path) -> Result<serde_json::Value, Failure> {
    let bytes = read_input(path, dtk::forms::MAX_BYTES)?;
    dtk::forms::parse_response(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))
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

fn entry_command(ws: &mut Workstation, cmd: EntryCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        EntryCmd::Add { response, sign, override_allergy, not_duplicate } => {
            let value = read_response(&response)?;
            let opts = api::EntryOptions {
                sign,
                allergy_override: override_allergy,
                confirm_not_duplicate: not_duplicate,
                reason: None,
            };
            let saved = ws.add_entry(&session, &value, &opts, &clock).map_err(explain_safety)?;
            print_saved(json, &saved, if sign { "Saved and signed" } else { "Saved as draft" });
        }
        EntryCmd::Sign { id, not_duplicate } => {
            let saved = ws.sign_entry(&session, &id, not_duplicate, &clock).map_err(explain_safety)?;
            print_saved(json, &saved, "Signed");
        }
        EntryCmd::Amend { id, response, reason, override_allergy, not_duplicate } => {
            let value = read_response(&response)?;
            let opts = api::EntryOptions {
                sign: true,
                allergy_override: override_allergy,
                confirm_not_duplicate: not_duplicate,
                reason,
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

fn print_command(ws: &mut Workstation, cmd: PrintCmd, json: bool) -> Result<(), Failure> {
    if let PrintCmd::Read { file, page } = &cmd {
        let payload = dtk::print::read::read_file(file, *page).map_err(|e| failed(e.to_string()))?;
        output(json, &payload, || payload.to_text());
        return Ok(());
    }
    let clock = SystemClock;
    let session = sign_in(ws)?;
    // Large batches report progress on stderr (the desktop app shows a bar from the same callback).
    let mut progress = |p: dtk::print::Progress| {
        if !json && p.total > 1 && (p.done % 25 == 0 || p.done == p.total) {
            eprintln!("laid out {}/{} patients", p.done, p.total);
        }
    };
    let (pdf, out) = match cmd {
        PrintCmd::Blank { form, patient, census, out } => {
            let target = match (&patient, census) {
                (Some(mrn), _) => api::BlankFor::Patient(mrn),
                (None, true) => api::BlankFor::Census,
                (None, false) => api::BlankFor::Nobody,
            };
            (ws.print_blank(&session, &form, target, &clock, &mut progress)?, out)
        }
        PrintCmd::Entry { id, out } => (ws.print_entry(&session, &id, &clock)?, out),
        PrintCmd::Mar { out } => (ws.print_mar(&session, &clock, &mut progress)?, out),
        PrintCmd::Census { out } => (ws.print_census(&session, &clock)?, out),
        PrintCmd::Read { .. } => return Ok(()),
    };
    api::save_pdf(&out, &pdf.bytes)?;
    let summary = serde_json::json!({ "file": out, "pages": pdf.pages, "bytes": pdf.bytes.len() });
    output(json, &summary, || format!("Wrote {} ({} pages).", out.display(), pdf.pages));
    Ok(())
}

fn episode_command(ws: &mut Workstation, cmd: EpisodeCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        EpisodeCmd::Status => match ws.episode_status(&session, &clock)? {
            None => output(json, &serde_json::Value::Null, || "No downtime episode is open.".into()),
            Some(st) => output(json, &st, || {
                let mut t = format!(
                    "{}{} episode since {} ({}); severity {}; next update due {}{}.\n",
                    if st.drill { "DRILL - " } else { "" },
                    if st.drill { "practice" } else { "downtime" },
                    st.episode.started_at,
                    st.episode.unit,
                    st.severity.map(|s| format!("{} ({})", s.code(), s.meaning())).unwrap_or_else(|| "not set".into()),
                    st.next_update_due.clone().unwrap_or_else(|| "not set".into()),
                    if st.update_overdue { " - OVERDUE" } else { "" }
                );
                for s in &st.steps {
                    let mark = match (&s.done_at, s.overdue) {
                        (Some(_), _) => "[x]",
                        (None, true) => "[!]",
                        (None, false) => "[ ]",
                    };
                    let by = s
                        .done_by
                        .as_ref()
                        .map(|b| format!(" (done by {b} at {})", s.done_at.clone().unwrap_or_default()))
                        .unwrap_or_default();
                    t.push_str(&format!(
                        "{mark} {:<26} {:<7} {}{}\n",
                        s.step.id,
                        s.step.role.as_str(),
                        s.step.text,
                        by
                    ));
                }
                t
            }),
        },
        EpisodeCmd::Severity { level, note } => {
            let r = ws.change_severity(&session, level, note, &clock)?;
            output(json, &r, || format!("Severity is now {} ({}).", level.code(), level.meaning()));
        }
        EpisodeCmd::Tick { step, note, undo } => {
            let r = match undo {
                Some(reason) => ws.untick_step(&session, &step, &reason, &clock)?,
                None => ws.tick_step(&session, &step, note, &clock)?,
            };
            output(json, &r, || format!("Step {step} recorded at {} by {}.", r.at, r.actor));
        }
        EpisodeCmd::Update { draft, text, next_update, out } => {
            if let Some(path) = &text {
                let body = std::fs::read_to_string(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
                let r = ws.save_status_update(&session, &body, next_update, &clock)?;
                output(json, &r, || format!("Status update kept with the episode at {}.", r.at));
            }
            if let Some(out) = &out {
                let pdf = ws.print_status_update(&session, &clock)?;
                dtk::api::save_pdf(out, &pdf.bytes)?;
                output(json, &serde_json::json!({ "out": out, "pages": pdf.pages }), || {
                    format!("Status update written to {} ({} pages).", out.display(), pdf.pages)
                });
            }
            if draft || (text.is_none() && out.is_none()) {
                let d = ws.draft_status_update(&session, &clock)?;
                output(json, &d, || d.clone());
            }
        }
        EpisodeCmd::Timeline { episode } => {
            let t = ws.episode_timeline(&session, episode.as_deref(), &clock)?;
            print_json(&serde_json::to_value(&t).unwrap_or_default());
        }
        EpisodeCmd::DrillReport { out, episode } => {
            let pdf = ws.drill_report(&session, episode.as_deref(), &clock)?;
            dtk::api::save_pdf(&out, &pdf.bytes)?;
            output(json, &serde_json::json!({ "out": out, "pages": pdf.pages }), || {
                format!("Drill report written to {} ({} pages).", out.display(), pdf.pages)
            });
        }
        EpisodeCmd::Start { .. } | EpisodeCmd::End => unreachable!("handled with the other commands"),
    }
    Ok(())
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
    let hint = match e.code {
        ErrorCode::SafetyCheck if e.message.contains("allergy") => {
            " (after checking with the prescriber: --override-allergy REASON)"
        }
        ErrorCode::SafetyCheck => " (after checking it is a different event: --not-duplicate)",
        _ => "",
    };
    let mut f = Failure::from(e);
    f.message.push_str(hint);
    f
}

/// The crash harness's child: each line on stdout is a promise that the draft is durable.
fn save_loop(ws: &mut Workstation, session: &Session, count: u32, ack_before_commit: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let body = serde_json::json!({ "note": format!("crash-cycle draft {i}"), "pad": "x".repeat(200) });
        if ack_before_commit {
            session.require(dtk::auth::Op::SaveDraft)?;
            let vault = ws.vault_mut()?;
            let _ =
                vault.write(session.keys(), session.username(), SystemClock.now(), |tx| -> Result<(), ApiError> {
                    let id = dtk::drafts::save(tx, session.user_id(), None, &body)?;
                    // The bug this mode exists to demonstrate: acknowledging before the commit.
                    let _ = writeln!(out, "{id}");
                    let _ = out.flush();
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    Ok(())
                })?;
        } else {
            let saved = ws.save_draft(session, None, &body, &SystemClock)?;
            let _ = writeln!(out, "{}", saved.value());
            let _ = out.flush();
        }
    }
    Ok(())
}

/// `dtk bench`: runs the benchmark in a scratch folder and prints the figures (a progress bar on a terminal only).
fn bench(entries: usize, dir: Option<PathBuf>, keep: bool, json: bool) -> Result<(), Failure> {
    let scratch = dir.is_none();
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("dtk-bench-{}", std::process::id())));
    let tty = std::io::stderr().is_terminal();
    let mut last = (String::new(), 0u64);
    let mut progress = |phase: &str, done: u64, total: u64| {
        if !tty {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if phase == last.0 && pct == last.1 && done != total {
            return;
        }
        let filled = (pct / 5) as usize;
        eprint!("\r\x1b[2K{phase:<45} [{}{}] {pct:>3}% ({done}/{total})", "#".repeat(filled), ".".repeat(20 - filled));
        last = (phase.to_string(), pct);
    };
    let result = api::bench::run(&api::bench::Options { entries, dir: dir.clone() }, &mut progress);
    if tty {
        eprintln!();
    }
    if scratch && !keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("The benchmark's vaults are in {}.", dir.display());
    }
    let report = result?;
    if json {
        print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        say!("{}", bench_text(&report));
    }
    Ok(())
}

fn bench_text(r: &api::bench::Report) -> String {
    use api::bench::{Latency, Total};
    let lat = |l: &Latency| format!("p50 {:.2} ms, p99 {:.2} ms (n={})", l.p50_ms, l.p99_ms, l.samples);
    let tot = |t: &Total| {
        let mem = t.peak_rss_mib.map(|m| format!(", peak RSS {m:.0} MiB")).unwrap_or_default();
        format!("{:.2} s{mem}  {}", t.seconds, t.detail)
    };
    let or = |r: &Result<String, String>| match r {
        Ok(s) => s.clone(),
        Err(e) => format!("NOT MEASURED: {e}"),
    };
    let s = &r.save;
    let mut t = format!(
        "Downtime Kit workstation benchmark: {} entries, {} patients, {} days\n",
        r.entries, r.patients, r.days
    );
    t += &format!("durable encrypted save        {}   (DESIGN: within 1.5x of bare SQLite)\n", lat(&s.encrypted_save));
    t += &format!(
        "bare SQLite insert+commit     {}   ({} bytes, WAL, synchronous=FULL)\n",
        lat(&s.bare_sqlite_insert),
        s.bytes_per_save
    );
    t += &format!("ratio (p50)                   {:.2}x\n", s.ratio_p50);
    t += &format!("sign-in (Argon2id)            {}   (DESIGN: 150-500 ms)\n", lat(&r.sign_in));
    t += &format!("generate synthetic vault      {}\n", tot(&r.generate));
    t += &format!("vault size                    {:.1} MiB\n", r.vault_bytes as f64 / 1048576.0);
    t += &format!("open the vault                {}   (DESIGN: under 1 s)\n", lat(&r.open_vault));
    t += &format!("save with the vault full      {}\n", lat(&r.save_at_scale));
    t += &format!("a patient's entries (page 50) {}   (DESIGN: under 50 ms)\n", lat(&r.patient_page));
    t += &format!("all entries of one patient    {}\n", tot(&r.patient_all));
    t += &format!("verify                        {}   (DESIGN: under 5 s)\n", tot(&r.verify));
    t += &format!("handoff export                {}\n", or(&r.handoff_export.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!("handoff import (HIM)          {}\n", or(&r.handoff_import.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!(
        "worklist page (100 rows)      {}   (DESIGN: under 50 ms)\n",
        or(&r.worklist_page.as_ref().map(lat).map_err(Clone::clone))
    );
    t += &format!(
        "worklist page, one patient    {}\n",
        or(&r.worklist_patient_page.as_ref().map(lat).map_err(Clone::clone))
    );
    t += &format!("accept for export             {}\n", or(&r.accept.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!(
        "FHIR export                   {}   (DESIGN: 100,000 entries under 10 s)\n",
        or(&r.fhir_export.as_ref().map(tot).map_err(Clone::clone))
    );
    t += &format!("print 500 prefilled forms     {}", tot(&r.print));
    t
}

/// The crash harness's child for the entry lifecycle and census imports (see [`LoopKind`] for what each line
/// promises). Each line is printed only after the call that made it durable returned.
fn step_loop(
    ws: &mut Workstation,
    session: &Session,
    count: u32,
    kind: LoopKind,
    input: &std::path::Path,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let bytes = read_input(input, 64 << 20)?;
    let mut ack = |line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    let opts = |sign: bool, reason: Option<String>| api::EntryOptions {
        sign,
        allergy_override: Some("crash harness".into()),
        confirm_not_duplicate: true,
        reason,
    };
    let response = || read_response(input);
    let mut amended: Option<String> = None;
    for i in 0..count {
        match kind {
            LoopKind::Draft => unreachable!("drafts use save_loop"),
            LoopKind::Sign => {
                let saved = ws.add_entry(session, &response()?, &opts(false, None), &SystemClock)?;
                ack(format!("draft {}", saved.saved.id));
                let signed = ws.sign_entry(session, &saved.saved.id, true, &SystemClock)?;
                ack(format!("signed {}", signed.saved.id));
            }
            LoopKind::Amend => {
                let id = match &amended {
                    Some(id) => id.clone(),
                    None => {
                        let saved = ws.add_entry(session, &response()?, &opts(true, None), &SystemClock)?;
                        ack(format!("amended {} {}", saved.saved.id, saved.saved.version));
                        amended = Some(saved.saved.id.clone());
                        saved.saved.id
                    }
                };
                let saved =
                    ws.amend_entry(session, &id, &response()?, &opts(true, Some(format!("step {i}"))), &SystemClock)?;
                ack(format!("amended {id} {}", saved.saved.version));
            }
            LoopKind::Census => {
                let summary = ws.import_census(session, &bytes, &SystemClock)?;
                ack(format!("census {}", summary.snapshot.id));
            }
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
