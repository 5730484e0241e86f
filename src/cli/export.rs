//! The `dtk export` commands (docs/design.md "The command line (dtk)"): a FHIR batch exported, written again or
//! posted to a server of the site's allowlist, read back from it (`verify`), and the station's SMART key. Names and
//! flags are kept stable for scripts.

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{ApiError, Credentials, ErrorCode, PostOptions, Progress, Secret, Workstation};
use dtk::clock::SystemClock;

use super::{failed, output, read_input, sign_in, usage, Failure};

#[derive(Subcommand)]
pub enum ExportCmd {
    /// Export accepted entries as a FHIR R4 transaction Bundle (prints the batch id); or rewrite or post a batch.
    Fhir {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// POST the batch to this FHIR server of site.json's `fhir_servers`, by name (never a URL); posting again
        /// sends only what was not answered or was refused.
        #[arg(long, value_name = "NAME")]
        post: Option<String>,
        /// With --post: a bearer token for this post only, read from this file, or from standard input with `-`
        /// (never an argument, so it stays out of the shell's history and the process list; never stored).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// With --post: at most this many transactions on the network at once.
        #[arg(long, value_name = "N", default_value_t = dtk::fhir::POSTS_IN_FLIGHT as u64,
              value_parser = clap::value_parser!(u64).range(1..=32))]
        in_flight: u64,
        /// An existing batch: with --out, written again byte for byte; with --post, posted again.
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
        /// With --post: at most this many entries per FHIR transaction (an entry's resources are never split).
        #[arg(long, value_name = "N", default_value_t = dtk::api::POST_ENTRIES_PER_TRANSACTION as u64,
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        per_transaction: u64,
    },
    /// Read a posted batch back from the FHIR server it was posted to: every resource of every posted entry searched
    /// for by its identifier (exit 0 only when every one is there, exactly once).
    Verify {
        #[arg(long, value_name = "ID")]
        batch: String,
        /// A bearer token for the server, read from FILE or from standard input with `-` (as for --post); without
        /// one, a server configured for SMART Backend Services gets the station's key.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// HIM station (HIM or IT): print the public JWK set of the station's SMART Backend Services key, for the EHR
    /// to register this station as a backend client; `--create` makes the key, `--import FILE` takes a PKCS#8 PEM
    /// P-384 private key. The private key stays sealed in the vault.
    SmartKey {
        #[arg(long, conflicts_with = "import")]
        create: bool,
        #[arg(long, value_name = "FILE")]
        import: Option<PathBuf>,
    },
}

pub fn export(ws: &mut Workstation, cmd: ExportCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    let (out, post, batch, per_transaction, token_file, in_flight) = match cmd {
        ExportCmd::Fhir { out, post, batch, per_transaction, token_file, in_flight } => {
            (out, post, batch, per_transaction, token_file, in_flight)
        }
        ExportCmd::Verify { batch, token_file } => {
            let credentials = match &token_file {
                Some(path) => Credentials::Bearer(read_token(path)?),
                None => Credentials::None,
            };
            return verify(ws, &session, &batch, credentials, json);
        }
        ExportCmd::SmartKey { create, import } => {
            let pem = match &import {
                Some(path) => Some(zeroize::Zeroizing::new(read_input(path, 64 * 1024)?)),
                None => None,
            };
            let jwks = ws.smart_key(&session, create, pem.as_ref().map(|p| p.as_slice()), &clock)?;
            output(json, &jwks, || serde_json::to_string_pretty(&jwks).unwrap_or_default());
            return Ok(());
        }
    };
    if token_file.is_some() && post.is_none() {
        return Err(usage("--token-file goes with --post NAME"));
    }
    // The token is read before anything is exported or sent, so a missing file changes nothing.
    let credentials = match &token_file {
        Some(path) => Credentials::Bearer(read_token(path)?),
        None => Credentials::None,
    };
    let batch_id = match (&batch, &out) {
        (Some(id), Some(path)) => {
            let b = ws.regenerate_fhir(&session, id, path)?;
            output(json, &b, || {
                format!(
                    "{}\nBatch written again to {}; SHA-256 {} (as exported).",
                    b.batch_id,
                    path.display(),
                    b.sha256
                )
            });
            id.clone()
        }
        (None, Some(path)) => {
            let b = ws.export_fhir(&session, path, &clock)?;
            output(json, &b, || b.batch_id.clone());
            if !json {
                eprintln!("{} entries exported to {}; SHA-256 {}.", b.entries, path.display(), b.sha256);
            }
            b.batch_id
        }
        (Some(id), None) => id.clone(),
        (None, None) => match (&post, ws.latest_batch(&session)?) {
            (Some(_), Some(id)) => id,
            (Some(_), None) => {
                return Err(Failure::from(ApiError::new(ErrorCode::NotFound, "there is no export batch to post yet")))
            }
            (None, _) => return Err(usage("give --out FILE (a new batch), --batch ID --out FILE, or --post NAME")),
        },
    };
    if let Some(server) = post {
        let options = PostOptions {
            per_transaction: usize::try_from(per_transaction).unwrap_or(1),
            in_flight: usize::try_from(in_flight).unwrap_or(1),
        };
        let mut shown = None;
        let mut show = |p: Progress| {
            if shown != Some(p) {
                eprintln!("sent {}, accepted {}, refused {}, remaining {}", p.sent, p.accepted, p.refused, p.remaining);
                shown = Some(p);
            }
        };
        let r = ws.post_fhir_with(&session, &batch_id, &server, credentials, options, &mut show, &clock)?;
        output(json, &r, || {
            let mut s = format!(
                "Batch {} to {}: {} entries posted now, {} refused, {} posted before ({} transactions).",
                r.batch_id,
                r.server,
                r.posted.len(),
                r.failed.len(),
                r.already_posted,
                r.transactions
            );
            if r.taken_another_way > 0 {
                s.push_str(&format!(
                    "\n{} entries of the batch were taken another way since (reposted, entered by hand, rejected) \
                     and were not sent.",
                    r.taken_another_way
                ));
            }
            for (id, why) in &r.failed {
                s.push_str(&format!("\nREFUSED {id}: {why}"));
            }
            s
        });
        if !r.failed.is_empty() {
            return Err(failed(format!(
                "{} entries were refused by the server and are open on the worklist (state refused): post the \
                 batch again once the server is fixed (only those are sent), or decide each: reconcile repost, \
                 entered-by-hand or reject",
                r.failed.len()
            )));
        }
    }
    Ok(())
}

/// `dtk export verify --batch ID`: the read-back's problems per entry, the resources found per type (the same
/// figures before and after a second post prove it created nothing) and the summary line; a non-zero exit unless
/// every resource of every posted entry is on the server exactly once.
fn verify(
    ws: &mut Workstation,
    session: &dtk::api::Session,
    batch: &str,
    credentials: Credentials,
    json: bool,
) -> Result<(), Failure> {
    let r = ws.verify_in_ehr(session, batch, credentials, &SystemClock)?;
    output(json, &r, || {
        let mut lines: Vec<String> = Vec::new();
        for e in &r.problems {
            for p in &e.problems {
                lines.push(format!("{} {}: {}", e.state.as_str().to_uppercase(), e.entry_id, p.describe()));
            }
        }
        if !r.audit_event_expected {
            lines.push(
                "The server takes no AuditEvent from a client: the batch's AuditEvent was not posted, nor looked for."
                    .to_string(),
            );
        } else if r.audit_event != 1 {
            let what =
                if r.audit_event == 0 { "is missing".to_string() } else { format!("is there {} times", r.audit_event) };
            lines.push(format!("The batch's AuditEvent {what}."));
        }
        let per_type: Vec<String> = r.found_per_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
        lines.push(format!(
            "Found on {} per type: {}.",
            r.server,
            if per_type.is_empty() { "nothing".to_string() } else { per_type.join(", ") }
        ));
        if r.not_posted > 0 {
            lines.push(format!(
                "{} entries of the batch are not posted (refused or not sent): not read back.",
                r.not_posted
            ));
        }
        lines.push(format!(
            "Batch {}: verified in the EHR: {} of {} entries ({} resources).",
            r.batch_id, r.verified, r.entries, r.resources
        ));
        lines.join("\n")
    });
    if !r.all_present() {
        let missing = r.problems.iter().filter(|e| e.state == dtk::api::ReadState::Missing).count();
        let copies = r.problems.len() - missing;
        return Err(failed(format!(
            "not every resource of the batch is on the server exactly once: {missing} entries with resources \
             missing, {copies} with a resource there more than once{}",
            if r.audit_event == 1 || !r.audit_event_expected { "" } else { ", and the batch's AuditEvent" }
        )));
    }
    Ok(())
}

/// Reads a bearer token from a file, or from standard input with `-`. Held only as a [`Secret`].
fn read_token(path: &std::path::Path) -> Result<Secret, Failure> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    if path.as_os_str() == "-" {
        std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), 64 * 1024), &mut bytes)
            .map_err(|e| failed(format!("the token could not be read from standard input: {e}")))?;
    } else {
        *bytes = read_input(path, 64 * 1024)?;
    }
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| failed("the token is not text"))?;
    let token = Secret::new(text);
    if token.is_empty() {
        return Err(failed(format!(
            "{}: holds no token",
            if path.as_os_str() == "-" { "standard input" } else { "the token file" }
        )));
    }
    Ok(token)
}
