//! `dtk selftest` (hidden): the crash harness's children. Each line one prints is a promise that what it names is
//! durable, so the harness can kill it at any moment and check every promise against the vault.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{self, ApiError, Session, Workstation};
use dtk::clock::{Clock, SystemClock};

use super::{read_input, read_response, sign_in, usage, Failure};

#[derive(Subcommand)]
pub enum SelftestCmd {
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
pub enum LoopKind {
    /// `ID`: a draft was saved.
    Draft,
    /// `draft ID`, then `signed ID`: an entry was saved as a draft, then signed.
    Sign,
    /// `amended ID VERSION`: one signed entry amended again and again.
    Amend,
    /// `census SNAPSHOT`: the census imported again.
    Census,
}

pub fn run(ws: &mut Workstation, cmd: SelftestCmd) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    match cmd {
        SelftestCmd::SaveLoop { count, ack_before_commit, kind: LoopKind::Draft, .. } => {
            save_loop(ws, &session, count, ack_before_commit)
        }
        SelftestCmd::SaveLoop { count, kind, input, .. } => {
            let input = input.ok_or_else(|| usage("--input FILE is needed for this kind of loop"))?;
            step_loop(ws, &session, count, kind, &input)
        }
        SelftestCmd::ImportLoop { files } => {
            for file in files {
                let bytes = read_input(&file, 1 << 30)?;
                let report = ws.import_handoff(&session, &bytes, &SystemClock)?;
                say!("imported {}", report.sequence);
            }
            Ok(())
        }
    }
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
        clinical_time: None,
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
