//! Measures FHIR export and posting of N reconciled entries (default 10,000): charts them on a workstation,
//! hands them off to an HIM station, accepts them all, then times `export_fhir` and `post_fhir` against the
//! loopback FHIR server of tools/fhir-server. Not a test: timings belong in BENCHMARKS.md, never in assertions.
//!
//! Run: `cargo run --release --example export_bench -- 10000` (needs `npm ci --prefix tools/fhir-server`).

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
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let root = env!("CARGO_MANIFEST_DIR");
    let tmp = tempfile::tempdir()?;
    let sign = |ws: &mut Workstation, who: &str| {
        ws.sign_in(who, &Password::new(format!("{who}-pass-1")), &SystemClock).map_err(|e| anyhow!("{e}"))
    };

    let mut him_ws = setup(&tmp.path().join("him"), None)?;
    let him = sign(&mut him_ws, "him")?;
    let key = him_ws.handoff_keygen(&him, &SystemClock).map_err(|e| anyhow!("{e}"))?;

    let mut ws = setup(&tmp.path().join("ws"), Some(&key.public_key))?;
    let charge = sign(&mut ws, "charge")?;
    let nurse = sign(&mut ws, "nurse")?;
    let census = std::fs::read(format!("{root}/tests/data/census-5-east.json"))?;
    ws.import_census(&charge, &census, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    ws.start_episode(&charge, dtk::episodes::Kind::Real, Default::default(), &SystemClock)
        .map_err(|e| anyhow!("{e}"))?;
    let sample: Value =
        serde_json::from_slice(&std::fs::read(format!("{root}/tests/data/forms/responses/vital-signs.json"))?)?;
    let mrns: Vec<String> = (1..=12).map(|i| format!("DEV{}", 2000 + i)).collect();
    let base = time::macros::datetime!(2026-11-01 00:00 UTC);
    let opts = EntryOptions { sign: true, allergy_override: None, confirm_not_duplicate: true, reason: None };
    let t = Instant::now();
    for i in 0..n {
        let mut r = sample.clone();
        r["subject"]["identifier"]["value"] = json!(mrns[i % mrns.len()]);
        let at = base + time::Duration::minutes(i as i64);
        let text = at.format(&time::format_description::well_known::Rfc3339)?;
        r["item"][0]["answer"][0]["valueDateTime"] = json!(text);
        ws.add_entry(&nurse, &r, &opts, &SystemClock).map_err(|e| anyhow!("entry {i}: {e}"))?;
    }
    eprintln!("charted {n} entries in {:.1} s", t.elapsed().as_secs_f64());
    let file = tmp.path().join("ws.dtkh");
    ws.export_handoff(&charge, &file, None, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    let t = Instant::now();
    let r = him_ws.import_handoff(&him, &std::fs::read(&file)?, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    eprintln!("imported {} entries in {:.1} s", r.new_entries, t.elapsed().as_secs_f64());
    let accepted = him_ws.accept_all_matched(&him, &SystemClock).map_err(|e| anyhow!("{e}"))?;

    let out = tmp.path().join("batch.json");
    let t = Instant::now();
    let batch = him_ws.export_fhir(&him, &out, &SystemClock).map_err(|e| anyhow!("{e}"))?;
    let export_s = t.elapsed().as_secs_f64();
    println!("export: {accepted} entries, {} bytes, {export_s:.2} s", batch.bytes);

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
    let t = Instant::now();
    let posted = him_ws.post_fhir(&him, &batch.batch_id, &base_url, &SystemClock);
    let post_s = t.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let posted = posted.map_err(|e| anyhow!("{e}"))?;
    println!("post: {} posted, {} failed, {post_s:.2} s", posted.posted.len(), posted.failed.len());
    Ok(())
}
