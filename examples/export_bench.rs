//! Measures FHIR export and posting of N reconciled entries (default 10,000): charts them on a workstation,
//! hands them off to an HIM station, accepts them all, then times `export_fhir` and `post_fhir` against the
//! loopback FHIR server of tools/fhir-server. Not a test: timings belong in BENCHMARKS.md, never in assertions.
//!
//! Run: `cargo build --release --bin dtk --example export_bench && target/release/examples/export_bench 10000 [--post]`
//! (`--post` needs
//! `npm ci --prefix tools/fhir-server`). The charting workstation's vault lives in /dev/shm when there is one (its
//! fsyncs are setup, not what is measured); the HIM vault and the exported file are on disk under the system's
//! temporary folder. The measured steps run the `dtk` command line in a child process under GNU time, so each
//! figure (wall, CPU, peak resident set) is that command's own.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use dtk::api::{AddUserRequest, EntryOptions, InitRequest, Workstation};
use dtk::auth::Role;
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use serde_json::{json, Value};

fn setup(dir: &std::path::Path, him_key: Option<&str>) -> Result<Workstation> {
    if let Some(k) = him_key {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("site.json"), json!({ "him_public_key": k }).to_string())?;
    }
    let mut ws = Workstation::open(dir).map_err(|e| anyhow!("{e}"))?;
    let init = InitRequest {
        unit: "5 East".into(),
        admin: "admin".into(),
        display_name: "Admin".into(),
        password: Password::new("admin-pass-1".into()),
    };
    ws.init(init, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    let admin = ws.sign_in("admin", &Password::new("admin-pass-1".into()), &SystemClock).map_err(|e| anyhow!("{e}"))?;
    for (name, role) in [("nurse", Role::Nurse), ("charge", Role::Charge), ("him", Role::Him)] {
        let req = AddUserRequest {
            username: name.into(),
            display_name: name.into(),
            role,
            password: Password::new(format!("{name}-pass-1")),
        };
        ws.add_user(&admin, req, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(ws)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find(|a| !a.starts_with("--")).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let post = args.iter().any(|a| a == "--post");
    // `--keep` leaves the HIM station's folder (vault and bundle) in place, so that another build can regenerate the
    // same batch and be compared byte for byte (`dtk --vault DIR/him export fhir --batch ID --out FILE`), and a copy
    // of it from before the export (DIR/him-before-export), so that a first export can be timed again; it skips
    // `--post`.
    let keep = args.iter().any(|a| a == "--keep");
    let root = env!("CARGO_MANIFEST_DIR");
    let tmp = tempfile::tempdir()?;
    let shm = std::path::Path::new("/dev/shm");
    let chart_dir = if shm.is_dir() { tempfile::tempdir_in(shm)? } else { tempfile::tempdir()? };
    let sign = |ws: &mut Workstation, who: &str| {
        ws.sign_in(who, &Password::new(format!("{who}-pass-1")), &SystemClock).map_err(|e| anyhow!("{e}"))
    };

    let mut him_ws = setup(&tmp.path().join("him"), None)?;
    let him = sign(&mut him_ws, "him")?;
    let key = him_ws.handoff_keygen(&him, &SystemClock).map_err(|e| anyhow!("{e}"))?;

    let mut ws = setup(&chart_dir.path().join("ws"), Some(&key.public_key))?;
    let charge = sign(&mut ws, "charge")?;
    let nurse = sign(&mut ws, "nurse")?;
    // A synthetic census of about one patient per 20 entries (at most the census limit): charting checks each new
    // entry against that patient's earlier ones, so 12 patients made the setup quadratic.
    let patients = (n / 20).clamp(12, dtk::census::MAX_PATIENTS);
    let template: Value = serde_json::from_slice(&std::fs::read(format!("{root}/tests/data/census-5-east.json"))?)?;
    let patient = template["entry"]
        .as_array()
        .and_then(|e| e.iter().find(|x| x["resource"]["resourceType"] == "Patient"))
        .cloned()
        .context("the census template has a Patient")?;
    let mrns: Vec<String> = (0..patients).map(|i| format!("BEN{i:06}")).collect();
    let entries: Vec<Value> = mrns
        .iter()
        .enumerate()
        .map(|(i, mrn)| {
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, mrn.as_bytes()).to_string();
            let mut p = patient.clone();
            p["fullUrl"] = json!(format!("urn:uuid:{id}"));
            p["resource"]["id"] = json!(id);
            p["resource"]["identifier"][0]["value"] = json!(mrn);
            p["resource"]["name"][0]["family"] = json!(format!("Bench{i}"));
            p
        })
        .collect();
    let mut census = template.clone();
    census["entry"] = json!(entries);
    ws.import_census(&charge, &serde_json::to_vec(&census)?, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock)
        .map_err(|e| anyhow!("{e}"))?;
    let sample: Value =
        serde_json::from_slice(&std::fs::read(format!("{root}/tests/data/forms/responses/vital-signs.json"))?)?;
    // Clinical times 20 s apart from October 1st: 100,000 entries still end in the past.
    let base = time::macros::datetime!(2026-10-01 00:00 UTC);
    let opts = EntryOptions { sign: true, confirm_not_duplicate: true, ..EntryOptions::default() };
    let t = Instant::now();
    for i in 0..n {
        let mut r = sample.clone();
        r["subject"]["identifier"]["value"] = json!(mrns[i % mrns.len()]);
        let at = base + time::Duration::seconds(20 * i as i64);
        let text = at.format(&time::format_description::well_known::Rfc3339)?;
        r["item"][0]["answer"][0]["valueDateTime"] = json!(text);
        ws.add_entry(&nurse, &r, &opts, &SystemClock).map_err(|e| anyhow!("entry {i}: {e}"))?;
    }
    eprintln!("charted {n} entries in {:.1} s", t.elapsed().as_secs_f64());
    let file = tmp.path().join("ws.dtkh");
    ws.export_handoff(&charge, &file, None, false, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    let t = Instant::now();
    let r = him_ws.import_handoff(&him, &std::fs::read(&file)?, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    eprintln!("imported {} entries in {:.1} s", r.new_entries, t.elapsed().as_secs_f64());
    let accepted = him_ws.accept_all_matched(&him, &SystemClock).map_err(|e| anyhow!("{e}"))?;

    drop(him_ws);
    drop(chart_dir);

    // The measured steps run as the `dtk` command line HIM uses, each in its own process, so that the peak resident
    // set is that command's own (GNU time's %M, the kernel's ru_maxrss) and not this process's setup.
    let dtk = std::env::current_exe()?.parent().and_then(|p| p.parent()).context("target folder")?.join("dtk");
    anyhow::ensure!(
        dtk.exists(),
        "build the command line first: cargo build --release --bin dtk --example export_bench"
    );
    let him_dir = tmp.path().join("him");
    if keep {
        // The HIM station as it was before the export, so that the export itself can be run again on a copy.
        let status = Command::new("cp").arg("-a").arg(&him_dir).arg(tmp.path().join("him-before-export")).status()?;
        anyhow::ensure!(status.success(), "copying the HIM station's folder failed");
    }
    let run = |what: &str, args: &[&str]| -> Result<String> {
        let o = Command::new("/usr/bin/time")
            .args(["-f", "%e s wall, %U s user, %S s system, peak RSS %M KiB"])
            .arg(&dtk)
            .arg("--vault")
            .arg(&him_dir)
            .args(args)
            .env("DTK_USER", "him")
            .env("DTK_PASSWORD", "him-pass-1")
            .output()?;
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        anyhow::ensure!(o.status.success(), "{what}: {err}");
        println!("{what}: {}", err.lines().last().unwrap_or(""));
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let out = tmp.path().join("batch.json");
    let batch_id = run(
        &format!("dtk export fhir ({accepted} entries)"),
        &["export", "fhir", "--out", out.to_str().context("path")?],
    )?;
    let bytes = std::fs::metadata(&out)?.len();
    println!("  {bytes} bytes, batch {batch_id}");
    let again = tmp.path().join("again.json");
    run(
        "dtk export fhir --batch (re-export)",
        &["export", "fhir", "--batch", &batch_id, "--out", again.to_str().context("path")?],
    )?;
    println!("  identical: {}", std::fs::read(&out)? == std::fs::read(&again)?);
    if keep {
        println!("  kept in {}", tmp.keep().display());
        return Ok(());
    }
    if !post {
        return Ok(());
    }

    let dir = format!("{root}/tools/fhir-server");
    let mut child = Command::new("node")
        .arg(format!("{dir}/server.mjs"))
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("node")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let port = line.trim().trim_start_matches("listening ").to_string();
    let base_url = format!("http://127.0.0.1:{port}");
    for m in &mrns {
        ureq::post(&format!("{base_url}/Patient"))
            .send_json(json!({ "resourceType": "Patient", "identifier": [{ "system": "http://hospital.example.org/mrn", "value": m }] }))?;
    }
    let posted =
        run("dtk export fhir --post", &["--json", "export", "fhir", "--batch", &batch_id, "--post", &base_url]);
    let _ = child.kill();
    let _ = child.wait();
    let report: Value = serde_json::from_str(&posted?)?;
    println!(
        "  {} posted, {} failed, {} transactions",
        report["posted"].as_array().map_or(0, Vec::len),
        report["failed"].as_array().map_or(0, Vec::len),
        report["transactions"]
    );
    Ok(())
}
