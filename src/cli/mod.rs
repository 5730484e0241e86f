//! The `dtk` commands, one file per command group, each with its clap enum beside its handler; this file holds what
//! they share: the [`Failure`] that carries an exit code, output (`say!`, [`output`], [`print_json`]), reading input
//! files, sign-in and password prompts.

use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::Subcommand;
use dtk::api::{ApiError, ErrorCode, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;

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

pub mod backup;
pub mod bench;
pub mod census;
pub mod contacts;
pub mod entry;
pub mod episode;
pub mod export;
pub mod forms;
pub mod handover;
pub mod him;
pub mod init;
pub mod mar;
pub mod patients;
pub mod print;
pub mod readiness;
pub mod roster;
pub mod scenario;
pub mod selftest;
pub mod unit;
pub mod users;

/// The command groups; `main` sends each to its file.
#[derive(Subcommand)]
pub enum Cmd {
    /// Set up this workstation's vault and its first administrator (password from DTK_NEW_PASSWORD or a prompt).
    Init(init::InitArgs),
    /// Staff accounts.
    #[command(subcommand)]
    User(users::UserCmd),
    /// The site's keys kept by hospital IT (the IT key that signs staff rosters). No vault needed.
    #[command(subcommand)]
    Site(roster::SiteCmd),
    /// Check every ciphertext and the whole audit chain (exit 3 naming what is broken).
    Verify(init::VerifyArgs),
    /// This workstation: unit, whether it is set up, read-only or not, forms and checklist loaded, the last backup
    /// and whether it is overdue (no sign-in).
    Status,
    /// Is this workstation ready for the next downtime? Census age, forms, HIM key, printer, temporary MRNs, last
    /// verify, free disk, last backup, version, last drill; no sign-in. Exit 0 ready (warnings alone included),
    /// 1 not ready, naming every check that is not.
    Readiness,
    /// Write an interim backup of the vault now (charge nurse or administrator): --out DIR, else the site's
    /// backup_dir. It stays encrypted: it opens only with this vault's passwords or its recovery key.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty vault folder (--vault) on a new workstation, with the recovery key file.
    Restore(backup::RestoreArgs),
    /// Form definitions.
    #[command(subcommand)]
    Forms(forms::FormsCmd),
    /// The unit census snapshot.
    #[command(subcommand)]
    Census(census::CensusCmd),
    /// Patients of the unit.
    #[command(subcommand)]
    Patient(patients::PatientCmd),
    /// Downtime episodes (charge nurse).
    #[command(subcommand)]
    Episode(episode::EpisodeCmd),
    /// Entries: filled forms.
    #[command(subcommand)]
    Entry(entry::EntryCmd),
    /// A patient's downtime MAR: each order's due times for the episode with their status (given, not-given, due,
    /// overdue, scheduled; prn for as-needed orders) and the entry that covers each.
    Mar(mar::MarArgs),
    /// A patient's shift handover sheet: last vitals, doses given since the last handover and due in the next 12
    /// hours, notes since the last handover, unsigned entries; `--out` writes it as a PDF, `--record` records the
    /// handover.
    Handover(handover::HandoverArgs),
    /// Paper: blank forms, filled entries, the downtime MAR and the census sheet, as PDF.
    #[command(subcommand)]
    Print(print::PrintCmd),
    /// Handoff files: HIM key, a workstation's export, HIM's import.
    #[command(subcommand)]
    Handoff(him::HandoffCmd),
    /// The HIM reconciliation worklist.
    #[command(subcommand)]
    Reconcile(him::ReconcileCmd),
    /// FHIR R4 export and posting of reconciled entries.
    #[command(subcommand)]
    Export(export::ExportCmd),
    /// The unit share: this workstation's key, one sync with the unit's other workstations, each peer's freshness.
    #[command(subcommand)]
    Unit(unit::UnitCmd),
    /// Set a new password for a user with the recovery key (key from DTK_RECOVERY_KEY or a prompt).
    Recover {
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Change your own password (new password from DTK_NEW_PASSWORD or a prompt).
    Passwd,
    /// Rotate the data key (administrators): nothing written from now on opens with a copy of an old key wrap. Every
    /// other account gets a one-time password to hand over, as after a roster import.
    Rekey(users::RekeyArgs),
    /// Workstation qualification benchmark (docs/design.md "Performance budgets"): builds a synthetic four-week vault in a scratch folder and
    /// measures saves, sign-in, opening, lists, verify, handoff, the HIM worklist, FHIR export and printing.
    /// Needs no vault and touches none: everything it writes stays in its scratch folder.
    Bench(bench::BenchArgs),
    /// Self-tests used by the crash-safety suite.
    #[command(hide = true, subcommand)]
    Selftest(selftest::SelftestCmd),
}

/// A failure with its exit code.
pub struct Failure {
    pub exit: u8,
    pub message: String,
    pub code: Option<ErrorCode>,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let exit = if e.code == ErrorCode::Integrity { crate::EXIT_INTEGRITY } else { crate::EXIT_FAILED };
        Failure { exit, message: e.message, code: Some(e.code) }
    }
}

/// Names the input file in front of the API's message (the message names the key, line or field inside it).
pub fn in_file(path: &Path) -> impl Fn(ApiError) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from(e);
        f.message = format!("{}: {}", path.display(), f.message);
        f
    }
}

pub fn usage(message: impl Into<String>) -> Failure {
    Failure { exit: crate::EXIT_USAGE, message: message.into(), code: None }
}

pub fn failed(message: impl Into<String>) -> Failure {
    Failure { exit: crate::EXIT_FAILED, message: message.into(), code: None }
}

/// Reads a secret from the environment (automation) or a prompt on the terminal.
pub fn secret(env: &str, prompt: &str) -> Result<Password, Failure> {
    if let Ok(v) = std::env::var(env) {
        return Ok(Password::new(v));
    }
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(prompt).map_err(|e| failed(format!("could not read the password: {e}")))?;
        return Ok(Password::new(v));
    }
    Err(usage(format!("no password given: set {env} or run dtk in a terminal")))
}

pub fn new_password(prompt_for: &str) -> Result<Password, Failure> {
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

pub fn sign_in(ws: &mut Workstation) -> Result<Session, Failure> {
    Ok(sign_in_keeping_password(ws)?.0)
}

/// Signs in and keeps the password for a command that wraps a key under it again (`dtk rekey`).
pub fn sign_in_keeping_password(ws: &mut Workstation) -> Result<(Session, Password), Failure> {
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
    let session = ws.sign_in(&user, &password, &SystemClock)?;
    Ok((session, password))
}

pub fn print_json(value: &serde_json::Value) {
    say!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints `value` as JSON with `--json`, else the text `text` makes.
pub fn output<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        print_json(&serde_json::to_value(value).unwrap_or_default());
    } else {
        say!("{}", text());
    }
}

/// Reads an input file, refusing anything over `limit` before reading it whole.
pub fn read_input(path: &Path, limit: usize) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    if meta.len() > limit as u64 {
        return Err(failed(format!("{}: larger than the {} MiB limit", path.display(), limit / (1024 * 1024))));
    }
    std::fs::read(path).map_err(|e| failed(format!("{}: {e}", path.display())))
}

/// Reads a filled form (a QuestionnaireResponse JSON file).
pub fn read_response(path: &Path) -> Result<serde_json::Value, Failure> {
    let bytes = read_input(path, dtk::forms::MAX_BYTES)?;
    dtk::forms::parse_response(&bytes).map_err(|e| failed(format!("{}: {e}", path.display())))
}
