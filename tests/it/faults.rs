//! Faults of a tired workstation (docs/design.md "Reliability", issue 8): SIGKILL at random moments during every kind of write, a full
//! disk at many points of a save and of a FHIR export, failing writes and fsyncs (libfiu), and a vault folder the
//! user cannot write (tested as an unprivileged user, because root ignores file modes). Each ends the same way: a
//! clear error, nothing acknowledged is lost, nothing half-written is marked done, and `verify` passes.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use dtk::api::{EntryOptions, ErrorCode, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use serde_json::{json, Value};

use crate::support::*;

/// Runs `dtk` as the unprivileged `nobody` user when the tests run as root (CI), else as the current user.
fn dtk_unprivileged(tv: &TestVault, who: (&str, &str), args: &[&str]) -> std::process::Output {
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_dtk"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_dtk"))
    };
    cmd.env_clear().env("DTK_VAULT", tv.path()).env("DTK_USER", who.0).env("DTK_PASSWORD", who.1).args(args);
    cmd.output().expect("run dtk unprivileged")
}

#[test]
fn read_only_vault_folder_reads_but_never_claims_to_save() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let id = ws
        .add_entry(
            &nurse,
            &sample_response("nursing-note"),
            &dtk::api::EntryOptions { sign: true, ..Default::default() },
            &dtk::clock::SystemClock,
        )
        .expect("saved while writable")
        .saved
        .id;
    drop(nurse);
    drop(ws);
    // Readable by everyone, writable by nobody but root: as IT might leave a vault copied to a protected share.
    std::fs::set_permissions(tv.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(tv.db(), std::fs::Permissions::from_mode(0o644)).expect("chmod file");
    let response = tv.path().join("note.json");
    std::fs::write(&response, sample_response("nursing-note").to_string()).expect("write response");
    std::fs::set_permissions(&response, std::fs::Permissions::from_mode(0o644)).expect("chmod response");
    let before = std::fs::read(tv.db()).expect("read");

    let out = dtk_unprivileged(&tv, NURSE, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("READ-ONLY: nothing can be saved here"), "{}", stdout(&out));

    let out = dtk_unprivileged(&tv, NURSE, &["entry", "list"]);
    assert_eq!(out.status.code(), Some(0), "reading works: {}", stderr(&out));
    assert!(stdout(&out).contains(&id));

    let out = dtk_unprivileged(
        &tv,
        NURSE,
        &["entry", "add", "--response", response.to_str().expect("path"), "--sign", "--not-duplicate"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("read-only") && stderr(&out).contains("NOT saved"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("saved on this workstation"), "never a false 'saved'");

    let out = dtk_unprivileged(&tv, (NURSE.0, "wrong-password"), &["entry", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong username or password"), "{}", stderr(&out));
    assert_eq!(std::fs::read(tv.db()).expect("read"), before, "the vault file is untouched");
}

// ---------------------------------------------------------------------------------------------------------------
// Crash safety: a child process writes and prints a line only after each write returned; the parent kills it with
// SIGKILL at random moments and checks that everything acknowledged is there and decrypts. `verify` walks the whole
// vault, so it runs every 10th cycle and after the last one (every cycle would make the harness quadratic).

fn slow() -> bool {
    std::env::var("DTK_SLOW_TESTS").as_deref() == Ok("1")
}

/// Given every line acknowledged so far and the vault signed in, returns the acknowledged lines that are missing.
type Check<'a> = &'a mut dyn FnMut(&[String], &mut Workstation, &Session) -> Vec<String>;

struct CrashRun {
    acknowledged: usize,
    lost: Vec<String>,
}

/// Runs `cycles` kill cycles of `dtk ARGS` as `who` on the vault in `dir`. After each, `check` gets every line
/// acknowledged so far and the vault signed in as `who`, and returns what is missing; `verifier` runs `verify`.
fn crash_cycles(
    dir: &Path,
    who: (&str, &str),
    verifier: (&str, &str),
    args: &[&str],
    cycles: usize,
    seed: u64,
    check: Check<'_>,
) -> CrashRun {
    let mut rng = Lcg(seed);
    let mut acked: Vec<String> = Vec::new();
    let mut lost = Vec::new();
    for cycle in 0..cycles {
        let mut child = dtk_cmd()
            .env("DTK_VAULT", dir)
            .env("DTK_USER", who.0)
            .env("DTK_PASSWORD", who.1)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        // Wait for the child to be writing (past its Argon2 sign-in), then kill it at a random moment.
        let first = rx.recv_timeout(Duration::from_secs(60)).expect("child acknowledged a first write");
        acked.push(first);
        let ack_early = args.contains(&"--ack-before-commit");
        std::thread::sleep(Duration::from_millis(if ack_early { 0 } else { rng.below(40) }));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let _ = reader.join();
        // Only complete lines count as acknowledgements: a line is printed after the write returned.
        acked.extend(rx.try_iter());
        let mut ws = Workstation::open(dir).expect("the vault opens after SIGKILL");
        let s = ws.sign_in(who.0, &Password::new(who.1.into()), &SystemClock).expect("sign-in after SIGKILL");
        lost.extend(check(&acked, &mut ws, &s));
        if cycle % 10 == 9 || cycle + 1 == cycles {
            let v = ws.sign_in(verifier.0, &Password::new(verifier.1.into()), &SystemClock).expect("verifier");
            let problems = ws.verify(&v).expect("verify");
            assert!(problems.is_empty(), "cycle {cycle}: vault damaged after SIGKILL: {problems:?}");
        }
        if !lost.is_empty() {
            break;
        }
    }
    CrashRun { acknowledged: acked.len(), lost }
}

fn drafts_present(acked: &[String], ws: &mut Workstation, s: &Session) -> Vec<String> {
    let present: HashSet<String> = ws.my_drafts(s).expect("drafts decrypt").into_iter().map(|d| d.id).collect();
    acked.iter().filter(|id| !present.contains(*id)).cloned().collect()
}

/// Entry id → (status, version) of every entry, read back (and so decrypted) through the façade.
fn entry_states(ws: &mut Workstation, s: &Session) -> HashMap<String, (String, i64)> {
    let list = ws.list_entries(s, None, &SystemClock).expect("entries decrypt");
    list.into_iter().map(|e| (e.id, (e.status.as_str().to_string(), e.version))).collect()
}

fn draft_cycles() -> usize {
    if slow() {
        1000
    } else {
        50
    }
}

/// The other kinds of write run a fifth as many cycles each.
fn other_cycles() -> usize {
    if slow() {
        200
    } else {
        8
    }
}

#[test]
fn crash_harness_every_acknowledged_draft_survives_sigkill() {
    let cycles = draft_cycles();
    let tv = TestVault::new();
    let args = ["selftest", "save-loop", "--count", "100000"];
    let run = crash_cycles(tv.path(), CHARGE, CHARGE, &args, cycles, 0x5EED, &mut drafts_present);
    assert!(run.lost.is_empty(), "acknowledged saves lost after SIGKILL: {:?}", run.lost);
    assert!(run.acknowledged >= cycles, "each cycle acknowledged at least one save");
    let out = tv.dtk(Some(CHARGE), &["verify"]);
    assert_eq!(out.status.code(), Some(0), "dtk verify after {cycles} crash cycles: {}", stderr(&out));
    eprintln!("crash harness (drafts): {cycles} SIGKILL cycles, {} acknowledged saves, none lost", run.acknowledged);
}

#[test]
fn crash_harness_catches_a_save_that_acknowledges_before_commit() {
    let tv = TestVault::new();
    let args = ["selftest", "save-loop", "--count", "100000", "--ack-before-commit"];
    let run = crash_cycles(tv.path(), CHARGE, CHARGE, &args, 10, 7, &mut drafts_present);
    assert!(!run.lost.is_empty(), "the harness must detect an acknowledgement printed before the commit");
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).expect("write input");
    p
}

#[test]
fn crash_harness_signing_and_amending_survive_sigkill() {
    let cycles = other_cycles();
    let tv = TestVault::charting();
    let inputs = tempfile::tempdir().expect("tmp");
    let note = write_json(inputs.path(), "note.json", &sample_response("nursing-note"));
    let note = note.to_str().expect("path");

    let args = ["selftest", "save-loop", "--count", "100000", "--kind", "sign", "--input", note];
    let run = crash_cycles(tv.path(), NURSE, CHARGE, &args, cycles, 11, &mut |acked, ws, s| {
        let states = entry_states(ws, s);
        let mut lost = Vec::new();
        for line in acked {
            let (what, id) = line.split_once(' ').expect("kind and id");
            match (what, states.get(id).map(|(st, _)| st.as_str())) {
                ("draft", Some(_)) | ("signed", Some("signed")) => {}
                _ => lost.push(line.clone()),
            }
        }
        lost
    });
    assert!(run.lost.is_empty(), "acknowledged drafts or signatures lost after SIGKILL: {:?}", run.lost);
    eprintln!("crash harness (sign): {cycles} cycles, {} acknowledged steps, none lost", run.acknowledged);

    let args = ["selftest", "save-loop", "--count", "100000", "--kind", "amend", "--input", note];
    let run = crash_cycles(tv.path(), NURSE, CHARGE, &args, cycles, 12, &mut |acked, ws, s| {
        let states = entry_states(ws, s);
        let mut lost = Vec::new();
        for line in acked {
            let mut parts = line.split(' ').skip(1);
            let (id, version) = (parts.next().unwrap_or(""), parts.next().and_then(|v| v.parse::<i64>().ok()));
            match (states.get(id), version) {
                (Some((_, have)), Some(v)) if *have >= v => {}
                _ => lost.push(line.clone()),
            }
        }
        lost
    });
    assert!(run.lost.is_empty(), "acknowledged amendments lost after SIGKILL: {:?}", run.lost);
    eprintln!("crash harness (amend): {cycles} cycles, {} acknowledged steps, none lost", run.acknowledged);
}

#[test]
fn crash_harness_census_import_survives_sigkill() {
    let cycles = other_cycles();
    let tv = TestVault::charting();
    let census = tv.path().join("census-input.json");
    std::fs::write(&census, census_bytes()).expect("census file");
    let args =
        ["selftest", "save-loop", "--count", "100000", "--kind", "census", "--input", census.to_str().expect("p")];
    let run = crash_cycles(tv.path(), CHARGE, CHARGE, &args, cycles, 13, &mut |acked, ws, s| {
        let snapshot = ws.census_snapshot(s).expect("census").expect("a snapshot");
        assert_eq!(ws.patients(s).expect("patients decrypt").len(), 12, "all or none of a census import");
        let imported: HashSet<String> = {
            let c = rusqlite::Connection::open(ws.dir().join("vault.sqlite3")).expect("raw");
            let mut st = c.prepare("SELECT id FROM census_snapshots").expect("q");
            st.query_map([], |r| r.get(0)).expect("rows").map(|r| r.expect("row")).collect()
        };
        assert!(imported.contains(&snapshot.id));
        acked.iter().filter(|l| !imported.contains(l.trim_start_matches("census "))).cloned().collect()
    });
    assert!(run.lost.is_empty(), "acknowledged census imports lost after SIGKILL: {:?}", run.lost);
    eprintln!("crash harness (census): {cycles} cycles, {} acknowledged imports, none lost", run.acknowledged);
}

/// An HIM station and a workstation charting for it, as the reconciliation tests build them.
struct HimSetup {
    him: TestVault,
    ws: TestVault,
}

fn him_setup() -> HimSetup {
    let him = TestVault::new();
    let (mut hws, hs) = him.sign_in(HIM);
    let key = hws.handoff_keygen(&hs, &SystemClock).expect("keygen").public_key;
    let ws = TestVault::new();
    std::fs::write(ws.path().join("site.json"), json!({ "him_public_key": key }).to_string()).expect("site");
    let (mut w, charge) = ws.sign_in(CHARGE);
    w.import_census(&charge, &census_bytes(), &SystemClock).expect("census");
    w.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock).expect("episode");
    HimSetup { him, ws }
}

/// Charts `n` signed notes on the workstation (clinical times an hour apart) and writes its next handoff file.
fn chart_and_hand_off(setup: &HimSetup, n: usize, from: usize, out: &Path) {
    let (mut w, nurse) = setup.ws.sign_in(NURSE);
    for i in from..from + n {
        let mut r = sample_response("nursing-note");
        let at = time::macros::datetime!(2026-11-20 00:00 UTC) + time::Duration::hours(i as i64);
        edit_item(&mut r, "observed-at", |it| it["answer"] = json!([{ "valueDateTime": dtk::clock::stamp(at) }]));
        let opts = EntryOptions { sign: true, confirm_not_duplicate: true, ..Default::default() };
        w.add_entry(&nurse, &r, &opts, &SystemClock).expect("chart");
    }
    let charge = w.sign_in(CHARGE.0, &Password::new(CHARGE.1.into()), &SystemClock).expect("charge");
    w.export_handoff(&charge, out, None, false, &SystemClock).expect("handoff export");
}

#[test]
fn crash_harness_handoff_import_survives_sigkill() {
    let cycles = other_cycles();
    let setup = him_setup();
    let files = tempfile::tempdir().expect("tmp");
    // Successive files of one workstation: file k holds the entries of every file before it plus 6 more.
    let mut paths = Vec::new();
    for k in 0..6 {
        let p = files.path().join(format!("{k}.dtkh"));
        chart_and_hand_off(&setup, 6, k * 6, &p);
        paths.push(p.to_str().expect("path").to_string());
    }
    let mut args = vec!["selftest", "import-loop"];
    args.extend(paths.iter().map(String::as_str));
    let run = crash_cycles(setup.him.path(), HIM, HIM, &args, cycles, 14, &mut |acked, ws, s| {
        let c = rusqlite::Connection::open(ws.dir().join("vault.sqlite3")).expect("raw");
        let newest: i64 =
            c.query_row("SELECT coalesce(max(sequence), 0) FROM handoff_files", [], |r| r.get(0)).expect("q");
        let entries: i64 = c.query_row("SELECT count(*) FROM recon", [], |r| r.get(0)).expect("q");
        assert_eq!(entries, newest * 6, "a file is recorded exactly when all its entries are on the worklist");
        let summary = ws.reconcile_summary(s).expect("summary");
        assert_eq!(summary.total, entries);
        acked
            .iter()
            .filter(|l| l.trim_start_matches("imported ").parse::<i64>().map_or(true, |seq| seq > newest))
            .cloned()
            .collect()
    });
    assert!(run.lost.is_empty(), "acknowledged handoff imports lost after SIGKILL: {:?}", run.lost);
    eprintln!("crash harness (handoff import): {cycles} cycles, {} acknowledged imports, none lost", run.acknowledged);
}

// ---------------------------------------------------------------------------------------------------------------
// A full disk, simulated by capping the vault's size in pages one page further each time, so the failure lands at
// every point of the transaction in turn.

fn page_count(ws: &Workstation) -> u32 {
    ws.vault().expect("v").conn().pragma_query_value(None, "page_count", |r| r.get(0)).expect("pages")
}

#[test]
fn disk_full_at_every_point_of_a_save_never_keeps_half_an_entry() {
    let tv = TestVault::charting();
    let (mut ws, nurse) = tv.sign_in(NURSE);
    let mut r = sample_response("nursing-note");
    // A long note spans several pages, so the cap falls inside the entry, its version, its audit rows or the head.
    edit_item(&mut r, "narrative", |it| it["answer"] = json!([{ "valueString": "Observed. ".repeat(790) }]));
    let opts = EntryOptions { sign: true, confirm_not_duplicate: true, ..Default::default() };
    let base = page_count(&ws);
    let mut refused = 0;
    let mut extra = 0;
    loop {
        ws.vault().expect("v").set_page_limit(Some(base + extra)).expect("limit");
        let before = ws.list_entries(&nurse, None, &SystemClock).expect("list").len();
        match ws.add_entry(&nurse, &r, &opts, &SystemClock) {
            Ok(saved) => {
                let after = ws.list_entries(&nurse, None, &SystemClock).expect("list");
                assert_eq!(after.len(), before + 1);
                assert!(after.iter().any(|e| e.id == saved.saved.id), "the acknowledged entry is there");
                break;
            }
            Err(e) => {
                assert_eq!(e.code, ErrorCode::StorageFull, "cap +{extra} pages: {}", e.message);
                assert!(e.message.contains("NOT saved"), "{}", e.message);
                let after = ws.list_entries(&nurse, None, &SystemClock).expect("list").len();
                assert_eq!(after, before, "cap +{extra} pages: a refused save leaves no entry behind");
                refused += 1;
            }
        }
        extra += 1;
        assert!(extra < 200, "the save never fitted");
    }
    assert!(refused >= 2, "the cap fell at several points of the save ({refused})");
    ws.vault().expect("v").set_page_limit(None).expect("unlimit");
    drop(ws);
    let (ws, charge) = tv.sign_in(CHARGE);
    assert!(ws.verify(&charge).expect("verify").is_empty(), "no damage after {refused} refused saves");
}

/// An HIM station with `n` accepted entries waiting for export.
fn him_with_accepted(n: usize) -> HimSetup {
    let setup = him_setup();
    let file = setup.ws.path().join("handoff.dtkh");
    chart_and_hand_off(&setup, n, 0, &file);
    let (mut hws, hs) = setup.him.sign_in(HIM);
    hws.import_handoff(&hs, &std::fs::read(&file).expect("read"), &SystemClock).expect("import");
    assert_eq!(hws.accept_all_matched(&hs, &SystemClock).expect("accept"), n);
    setup
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).expect("ls").filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
}

#[test]
fn disk_full_during_a_fhir_export_marks_nothing_exported_and_leaves_no_file() {
    let setup = him_with_accepted(20);
    let (mut hws, hs) = setup.him.sign_in(HIM);
    // Free pages left by earlier transactions would absorb the export without growing the file: start compact.
    hws.vault().expect("v").conn().execute_batch("VACUUM").expect("vacuum");
    let out_dir = tempfile::tempdir().expect("tmp");
    let out = out_dir.path().join("batch.json");
    let base = page_count(&hws);
    let mut refused = 0;
    let mut extra = 0;
    let exported = loop {
        hws.vault().expect("v").set_page_limit(Some(base + extra)).expect("limit");
        match hws.export_fhir(&hs, &out, &SystemClock) {
            Ok(b) => break b,
            Err(e) => {
                assert_eq!(e.code, ErrorCode::StorageFull, "cap +{extra}: {}", e.message);
                assert!(leftovers(out_dir.path()).is_empty(), "cap +{extra}: no file, not even a temporary one");
                let summary = hws.reconcile_summary(&hs).expect("summary");
                assert_eq!(summary.by_state.get("accepted"), Some(&20), "cap +{extra}: nothing marked exported");
                assert_eq!(hws.latest_batch(&hs).expect("batches"), None, "cap +{extra}: no batch recorded");
                refused += 1;
            }
        }
        extra += 1;
        assert!(extra < 300, "the export never fitted");
    };
    assert!(refused >= 2, "the cap fell at several points of the export ({refused})");
    assert_eq!(exported.entries, 20);
    assert_eq!(leftovers(out_dir.path()), vec!["batch.json".to_string()]);
    let bytes = std::fs::read(&out).expect("exported file");
    assert_eq!(dtk::crypto::sha256_hex(&bytes), exported.sha256, "the file on disk is the recorded one");
    hws.vault().expect("v").set_page_limit(None).expect("unlimit");
    assert!(hws.verify(&hs).expect("verify").is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Failing writes and fsyncs, injected into a running `dtk` with libfiu (Debian's fiu-utils): the child is started
// under `fiu-run -x`, and once it acknowledged its first save, `fiu-ctrl` makes every following call of the chosen
// kind fail. The process must stop with a clear error that says NOT saved, and the vault must verify afterwards.

fn fiu_case(fault: &str) {
    let tv = TestVault::new();
    let mut child = Command::new("fiu-run")
        .args(["-x", env!("CARGO_BIN_EXE_dtk"), "selftest", "save-loop", "--count", "100000"])
        .env("DTK_VAULT", tv.path())
        .env("DTK_USER", CHARGE.0)
        .env("DTK_PASSWORD", CHARGE.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fiu-run (Debian package fiu-utils; scripts/setup.sh installs it)");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a first save").expect("line");
    let ctrl = Command::new("fiu-ctrl")
        .args(["-c", &format!("enable name={fault}"), &child.id().to_string()])
        .output()
        .expect("fiu-ctrl");
    assert!(ctrl.status.success(), "fiu-ctrl: {}", String::from_utf8_lossy(&ctrl.stderr));
    let mut acked = vec![first];
    acked.extend(lines.map_while(Result::ok));
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{fault}: the save loop stops with an error: {err}");
    assert!(err.contains("NOT saved"), "{fault}: the error says the change was not saved: {err}");
    assert!(!err.contains("panicked"), "{fault}: {err}");
    // Without the fault, everything acknowledged is there and the vault is intact.
    let (ws, s) = tv.sign_in(CHARGE);
    let present: HashSet<String> = ws.my_drafts(&s).expect("drafts").into_iter().map(|d| d.id).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !present.contains(*id)).collect();
    assert!(lost.is_empty(), "{fault}: acknowledged saves lost: {lost:?}");
    assert!(ws.verify(&s).expect("verify").is_empty(), "{fault}: the vault verifies after the fault");
    eprintln!("{fault}: stopped after {} acknowledged saves with: {}", acked.len(), err.trim());
}

#[test]
fn fsync_failure_stops_the_save_with_a_clear_error_and_no_damage() {
    fiu_case("posix/io/sync/*");
}

#[test]
fn write_failure_stops_the_save_with_a_clear_error_and_no_damage() {
    // pwrite only: SQLite writes the WAL and the database with pwrite, and failing write(2) too would also fail
    // the error message on stderr.
    fiu_case("posix/io/rw/pwrite*");
}
