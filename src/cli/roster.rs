//! The site's signed roster: `dtk site it-key --create` (the IT key), `dtk user roster build` (IT, no vault) and
//! `dtk user roster import` (a workstation's administrator).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use dtk::api::Workstation;
use dtk::clock::{Clock, SystemClock};
use dtk::crypto::{KdfParams, OsRandom, Password};
use dtk::roster::{self, build, ItKey};

use super::{failed, output, read_input, secret, sign_in, Failure};

#[derive(Subcommand)]
pub enum SiteCmd {
    /// The site's IT key, which signs staff rosters (passphrase from DTK_IT_PASSPHRASE or a prompt). Its public key
    /// goes in every workstation's site.json as it_public_key.
    ItKey {
        /// Make a new key (never replaces an existing file).
        #[arg(long)]
        create: bool,
        /// The key file to write (owner-only); keep it offline.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The site's census key, which the census export job signs census files with (no passphrase: the job runs
    /// unattended). Its public key goes in every workstation's site.json as census_public_key.
    CensusKey {
        /// Make a new key (never replaces an existing file).
        #[arg(long)]
        create: bool,
        /// The key file to write (owner-only).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum RosterCmd {
    /// Build the next signed roster (IT; no vault needed).
    Build(BuildArgs),
    /// Import a signed roster into this workstation (administrators).
    Import { file: PathBuf },
    /// Write this workstation's roster users' passwords, signed by its handoff key, for IT's next `roster build
    /// --changes` (administrators; the file is owner-only).
    Changes {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct BuildArgs {
    /// CSV with a header line: username, display name, role, and optionally status (active/disabled), expires at.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The IT key file (`dtk site it-key --create`).
    #[arg(long, value_name = "FILE")]
    it_key: PathBuf,
    /// The roster file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The roster this one follows: its users keep their passwords, and the version goes up by one.
    #[arg(long, value_name = "FILE")]
    previous: Option<PathBuf>,
    /// A workstation's changes file (`dtk user roster changes`) to merge (repeatable).
    #[arg(long, value_name = "FILE")]
    changes: Vec<PathBuf>,
    /// A workstation key (hex, printed by `dtk user roster changes`) whose changes files are trusted (repeatable).
    #[arg(long, value_name = "HEX")]
    workstation_key: Vec<String>,
    /// Give this user a new key pair and one-time password (repeatable).
    #[arg(long, value_name = "NAME")]
    reset: Vec<String>,
    /// Write the one-time passwords to this file (owner-only) instead of printing them.
    #[arg(long, value_name = "FILE")]
    passwords_out: Option<PathBuf>,
}

fn passphrase() -> Result<Password, Failure> {
    secret("DTK_IT_PASSPHRASE", "Passphrase of the IT key: ")
}

/// `dtk site it-key --create --out FILE`.
pub fn site(cmd: SiteCmd, json: bool) -> Result<(), Failure> {
    let SiteCmd::ItKey { create, out } = cmd else {
        return Err(super::usage("dtk site census-key: see dtk census"));
    };
    if !create {
        return Err(super::usage("dtk site it-key makes a new key: add --create"));
    }
    if out.exists() {
        return Err(failed(format!("{}: already exists; an IT key is never replaced silently", out.display())));
    }
    let pass = passphrase()?;
    let key = ItKey::generate(&mut OsRandom);
    let file = key.to_file(&pass, &mut OsRandom).map_err(|e| failed(e.to_string()))?;
    dtk::durable::write_private(&out, &file).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let info = serde_json::json!({ "it_public_key": key.public_hex(), "fingerprint": key.fingerprint(), "file": out });
    output(json, &info, || {
        format!(
            "IT key written to {} (keep it offline).\nPut this in every workstation's site.json:\n  \"it_public_key\": \"{}\"\nFingerprint: {}",
            out.display(),
            key.public_hex(),
            key.fingerprint()
        )
    });
    Ok(())
}

fn read_roster(path: &Path, key: &ItKey) -> Result<roster::Roster, Failure> {
    let bytes = read_input(path, roster::MAX_BYTES)?;
    roster::verify(&bytes, &key.public()).map_err(|e| failed(format!("{}: {e}", path.display())))
}

/// `dtk user roster build`.
pub fn build(args: BuildArgs, json: bool) -> Result<(), Failure> {
    let BuildArgs { from, it_key, out, previous, changes, workstation_key, reset, passwords_out } = args;
    let csv = std::fs::read_to_string(&from).map_err(|e| failed(format!("{}: {e}", from.display())))?;
    let lines = build::parse_csv(&csv).map_err(|e| failed(format!("{}: {e}", from.display())))?;
    let key_bytes = read_input(&it_key, 64 * 1024)?;
    let key = ItKey::from_file(&key_bytes, &passphrase()?).map_err(|e| failed(format!("{}: {e}", it_key.display())))?;
    let previous = previous.as_deref().map(|p| read_roster(p, &key)).transpose()?;
    let changes = changes
        .iter()
        .map(|p| {
            let bytes = read_input(p, roster::MAX_BYTES)?;
            roster::changes::verify(&bytes, &workstation_key).map_err(|e| failed(format!("{}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = build::Request {
        lines: &lines,
        previous: previous.as_ref(),
        reset: &reset,
        changes: &changes,
        now: SystemClock.now(),
        params: KdfParams::FLOOR,
    };
    let built = build::build(&request, &key, &mut OsRandom).map_err(|e| failed(e.to_string()))?;
    dtk::durable::write(&out, &built.bytes).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let listing: String = built.one_time_passwords.iter().map(|(u, p)| format!("{u},{}\n", p.expose())).collect();
    match &passwords_out {
        Some(path) => dtk::durable::write_private(path, listing.as_bytes())
            .map_err(|e| failed(format!("{}: {e}", path.display())))?,
        None if !json => say_raw!("{listing}"),
        None => {}
    }
    let info = serde_json::json!({
        "file": out, "version": built.version, "users": built.users,
        "one_time_passwords": built.one_time_passwords.len(),
    });
    output(json, &info, || {
        format!(
            "Roster version {} written to {} ({} users, {} new one-time passwords). Copy it next to each workstation's site.json, or import it with `dtk user roster import`.",
            built.version,
            out.display(),
            built.users,
            built.one_time_passwords.len()
        )
    });
    Ok(())
}

/// `dtk user roster import FILE`.
pub fn import(ws: &mut Workstation, file: &Path, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    // The API names the file in its refusals.
    let applied = ws.import_site_roster(&session, file, &SystemClock)?;
    output(json, &applied, || {
        if applied.added.is_empty() && applied.updated.is_empty() && applied.disabled.is_empty() {
            format!("Roster version {} is already imported here; nothing changed.", applied.version)
        } else {
            format!(
                "Roster version {} imported: {} added, {} updated, {} disabled.",
                applied.version,
                applied.added.len(),
                applied.updated.len(),
                applied.disabled.len()
            )
        }
    });
    Ok(())
}

/// `dtk user roster changes --out FILE`.
pub fn changes(ws: &mut Workstation, out: &Path, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    let (bytes, signer, users) = ws.export_roster_changes(&session, &SystemClock)?;
    dtk::durable::write_private(out, &bytes).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    let info = serde_json::json!({ "file": out, "users": users, "workstation_key": signer });
    output(json, &info, || {
        format!(
            "{users} roster user(s) written to {}. IT merges it with `dtk user roster build --changes {} --workstation-key {signer}`.",
            out.display(),
            out.display()
        )
    });
    Ok(())
}
