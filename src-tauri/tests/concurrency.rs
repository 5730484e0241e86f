//! The shell cannot deadlock: nurse, charge and HIM commands, and sign-in/sign-out, run at once from several threads
//! against one `Shell` on a real vault for a few seconds, and every thread finishes.
//!
//! This is what the app does: the banner's timer polls `downtime_status` and `episode_status` while the nurse saves,
//! and people sign in and out at the shared workstation. The commands are called as the Tauri commands call them
//! (the plain functions taking `&Shell`). A deadlock fails the test at a deadline instead of hanging it.
use dtk::auth::Role;
use dtk_app::commands::{charge, him, nurse, session, Shell};
use dtk_app::dto::{CommandError, ErrorCode, WorklistQuery};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::sign_in;

mod support;

/// How long the workers keep calling commands.
const RUN_FOR: Duration = Duration::from_secs(4);
/// How long the workers may take to finish after that before the test calls it a deadlock. Generous: sign-in runs
/// Argon2id while holding the lock, and the machine may be busy compiling.
const DEADLINE: Duration = Duration::from_secs(90);

/// A vault made with the core API: set up, one user per clinical role, the demo census.
fn vault() -> tempfile::TempDir {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    support::vault("5 East", &[("dnurse", Role::Nurse), ("kcharge", Role::Charge), ("lhim", Role::Him)], &census)
}

/// What one worker saw: how many calls succeeded, and every error code it got (refusals are expected: the user
/// signed in changes under the workers' feet).
#[derive(Debug, Default)]
struct Report {
    worker: &'static str,
    ok: usize,
    refused: Vec<ErrorCode>,
}

impl Report {
    fn note<T>(&mut self, result: Result<T, CommandError>) -> Option<T> {
        match result {
            Ok(value) => {
                self.ok += 1;
                Some(value)
            }
            Err(error) => {
                self.refused.push(error.code);
                None
            }
        }
    }
}

/// Runs `work` in a loop on its own thread until `RUN_FOR` has passed, then sends the report.
fn spawn(
    worker: &'static str,
    shell: &Arc<Shell>,
    done: &mpsc::Sender<Report>,
    mut work: impl FnMut(&Shell, &mut Report) + Send + 'static,
) {
    let shell = Arc::clone(shell);
    let done = done.clone();
    std::thread::spawn(move || {
        let mut report = Report { worker, ..Report::default() };
        let start = Instant::now();
        while start.elapsed() < RUN_FOR {
            work(&shell, &mut report);
            // The UI calls at a person's pace; a short pause also lets every thread have the lock in turn.
            std::thread::sleep(Duration::from_millis(2));
        }
        // The receiver is gone only when the test already failed.
        let _ = done.send(report);
    });
}

#[test]
fn nurse_charge_and_him_commands_run_concurrently_and_finish() {
    let dir = vault();
    let shell = Arc::new(Shell::open(dir.path()));
    sign_in(&shell, "kcharge").expect("charge signs in");
    support::declare_episode(&shell, "Concurrency test");
    let mrn = nurse::census(&shell).expect("census").patients.first().expect("a patient").mrn.clone();

    let (done, reports) = mpsc::channel();
    spawn("nurse", &shell, &done, move |shell, report| {
        report.note(nurse::census(shell));
        report.note(nurse::find_patient(shell, mrn.clone()));
        report.note(nurse::downtime_status(shell));
        let draft = serde_json::json!({ "note": "half-written" });
        if let Some(saved) = report.note(nurse::save_draft(shell, None, draft)) {
            report.note(nurse::discard_draft(shell, saved.id));
        }
        report.note(nurse::my_drafts(shell));
    });
    spawn("charge", &shell, &done, |shell, report| {
        // The overdue notice's poll, the call that met the nurse's locks in the other order.
        report.note(charge::episode_status(shell));
        report.note(charge::draft_status_update(shell));
        report.note(charge::episode_timeline(shell));
    });
    spawn("him", &shell, &done, |shell, report| {
        report.note(him::him_summary(shell));
        let query = WorklistQuery { state: None, mrn: None, form: None, workstation: None, limit: 50, offset: 0 };
        report.note(him::him_worklist(shell, query));
        report.note(him::him_duplicate_proposals(shell));
        report.note(him::him_latest_batch(shell));
    });
    spawn("banner", &shell, &done, |shell, report| {
        report.note(session::current_session(shell));
        report.note(nurse::downtime_status(shell));
        report.note(charge::episode_status(shell));
    });
    // People at the shared workstation: the charge nurse and the HIM analyst take turns, with a sign-out between.
    let mut turn = 0usize;
    spawn("sign-in", &shell, &done, move |shell, report| {
        turn += 1;
        let result = match turn % 3 {
            0 => session::sign_out(shell),
            1 => sign_in(shell, "kcharge"),
            _ => sign_in(shell, "lhim"),
        };
        report.note(result);
        std::thread::sleep(Duration::from_millis(150));
    });
    drop(done);

    let workers = 5;
    let deadline = Instant::now() + RUN_FOR + DEADLINE;
    let mut finished = Vec::new();
    while finished.len() < workers {
        let left = deadline.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(report) => finished.push(report),
            Err(_) => {
                let names: Vec<&str> = finished.iter().map(|r: &Report| r.worker).collect();
                panic!(
                    "deadlock: only {names:?} of {workers} workers finished within {:?} after they stopped calling; \
                     the others are stuck waiting for the shell's state",
                    DEADLINE
                );
            }
        }
    }

    for report in &finished {
        assert!(report.ok > 0, "{} never succeeded: {:?}", report.worker, report.refused);
        // Refusals come from the core (wrong role) or from the one signed-in check; `internal` would mean a
        // poisoned lock, i.e. a command panicked while holding the state.
        let unexpected: Vec<&ErrorCode> =
            report.refused.iter().filter(|c| !matches!(c, ErrorCode::NotSignedIn | ErrorCode::Forbidden)).collect();
        assert!(unexpected.is_empty(), "{} got unexpected errors: {unexpected:?}", report.worker);
    }
}

#[test]
fn every_signed_in_command_gives_the_same_not_signed_in_answer() {
    let dir = vault();
    let shell = Shell::open(dir.path());
    let query = WorklistQuery { state: None, mrn: None, form: None, workstation: None, limit: 50, offset: 0 };
    let errors = [
        nurse::census(&shell).err(),
        nurse::downtime_status(&shell).err(),
        charge::episode_status(&shell).err(),
        charge::end_episode(&shell).err(),
        him::him_summary(&shell).err(),
        him::him_worklist(&shell, query).err(),
    ];
    let first = errors[0].clone().expect("refused");
    assert_eq!(first.code, ErrorCode::NotSignedIn);
    for error in errors {
        let error = error.expect("refused");
        assert_eq!((error.code, error.message.as_str()), (first.code, first.message.as_str()));
    }
}
