//! Faults of a tired workstation: a vault folder the user cannot write. Tested as an unprivileged user, because
//! root ignores file modes.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

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
    assert!(stderr(&out).contains("wrong password"), "{}", stderr(&out));
    assert_eq!(std::fs::read(tv.db()).expect("read"), before, "the vault file is untouched");
}
