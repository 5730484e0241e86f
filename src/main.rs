//! `dtk`: the command line that hospital IT and HIM use to script the core (docs/design.md "The command line (dtk)"). This file holds the global
//! options, the exit codes and the dispatch of each command group to its file in `cli/`.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cli::{Cmd, Failure};
use dtk::api::{self, Workstation};

/// The allocator (Cargo.toml says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Exit codes: 0 success and these three.
/// An operation failed (the message is on stderr).
const EXIT_FAILED: u8 = 1;
/// Bad usage: a missing flag, no password given outside a terminal, an unreadable site configuration.
const EXIT_USAGE: u8 = 2;
/// An integrity failure: a ciphertext or the audit chain does not verify.
const EXIT_INTEGRITY: u8 = 3;

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // writeln, not eprintln: a failing stderr (a full disk, an I/O error) must not turn the error into a panic.
            let mut err = std::io::stderr();
            if f.message.is_empty() {
                // The command's own output already said everything (`dtk readiness --json`: the report).
            } else if json {
                let code = f.code.map_or("usage", |c| c.as_str());
                let _ = writeln!(err, "{}", serde_json::json!({ "error": { "code": code, "message": f.message } }));
            } else {
                let _ = writeln!(err, "dtk: {}", f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    use cli::forms::FormsCmd;
    let dir = cli.vault.clone().unwrap_or_else(api::default_vault_dir);
    let json = cli.json;
    // Opened by the commands that need it: checking form files and the benchmark run without a vault.
    let open = || -> Result<Workstation, Failure> {
        let site =
            dtk::site::SiteConfig::for_vault(&dir, cli.site.as_deref()).map_err(|e| cli::usage(e.to_string()))?;
        Ok(Workstation::open_with(&dir, site, cli.forms.as_deref())?)
    };
    match cli.cmd {
        Cmd::Forms(FormsCmd::Check { files }) => cli::forms::check(&files, json),
        Cmd::Bench(args) => cli::bench::run(args, json),
        Cmd::Site(cli::roster::SiteCmd::CensusKey { create, out }) => cli::census::create_key(create, out, json),
        Cmd::Site(cmd) => cli::roster::site(cmd, json),
        // The census export job signs on its own machine: no vault, no sign-in.
        Cmd::Census(cli::census::CensusCmd::Sign { bundle, key, out }) => cli::census::sign(bundle, key, out, json),
        // IT builds a roster on its own machine: no vault, no sign-in.
        Cmd::User(cli::users::UserCmd::Roster(cli::roster::RosterCmd::Build(args))) => cli::roster::build(args, json),
        Cmd::Forms(FormsCmd::List) => cli::forms::list(&open()?, json),
        Cmd::Init(args) => cli::init::init(&mut open()?, &dir, args, json),
        Cmd::Status => cli::init::status(&open()?, &dir, json),
        Cmd::Readiness => cli::readiness::run(&open()?, json),
        Cmd::Verify(a) => cli::init::verify(&mut open()?, &a, json),
        Cmd::Backup(args) => cli::backup::backup(&mut open()?, args, json),
        Cmd::Restore(args) => cli::backup::restore(&dir, args, json),
        Cmd::Recover { user } => cli::init::recover(&mut open()?, &user),
        Cmd::Passwd => cli::init::passwd(&mut open()?),
        Cmd::Rekey(args) => cli::users::rekey(&mut open()?, args, json),
        Cmd::User(cmd) => cli::users::run(&mut open()?, cmd, json),
        Cmd::Census(cmd) => cli::census::run(&mut open()?, cmd, json),
        Cmd::Patient(cmd) => cli::patients::run(&mut open()?, cmd, json),
        Cmd::Episode(cmd) => cli::episode::run(&mut open()?, cmd, json),
        Cmd::Entry(cmd) => cli::entry::run(&mut open()?, cmd, json),
        Cmd::Mar(args) => cli::mar::run(&mut open()?, args, json),
        Cmd::Handover(args) => cli::handover::run(&mut open()?, args, json),
        Cmd::Print(cmd) => cli::print::run(&mut open()?, cmd, json),
        Cmd::Handoff(cmd) => cli::him::handoff(&mut open()?, cmd, json),
        Cmd::Reconcile(cmd) => cli::him::reconcile(&mut open()?, cmd, json),
        Cmd::Export(cmd) => cli::export::export(&mut open()?, cmd, json),
        Cmd::Unit(cmd) => cli::unit::run(&mut open()?, cmd, json),
        Cmd::Selftest(cmd) => cli::selftest::run(&mut open()?, cmd),
    }
}
