//! `dtk bench`: the workstation qualification benchmark's command line (the measuring is `dtk::api::bench`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use dtk::api;

use super::{print_json, Failure};

#[derive(Args)]
pub struct BenchArgs {
    /// Entries in the synthetic vault (40 patients over 28 days).
    #[arg(long, default_value_t = 160_000)]
    entries: usize,
    /// The scratch folder (default: a new folder in the system's temporary folder, removed afterwards).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep the scratch folder (its vaults) after the run.
    #[arg(long)]
    keep: bool,
    /// Only the durable saves beside bare SQLite inserts, on a fresh workstation (no synthetic vault): the save's
    /// ratio in seconds, and a run small enough to profile.
    #[arg(long, conflicts_with = "entries")]
    save_only: bool,
}

/// `dtk bench`: runs the benchmark in a scratch folder and prints the figures (a progress bar on a terminal only).
pub fn run(args: BenchArgs, json: bool) -> Result<(), Failure> {
    let BenchArgs { entries, dir, keep, save_only } = args;
    let scratch = dir.is_none();
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("dtk-bench-{}", std::process::id())));
    let tty = std::io::stderr().is_terminal();
    let mut last = (String::new(), 0u64);
    let mut progress = |phase: &str, done: u64, total: u64| {
        if !tty {
            return;
        }
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        if phase == last.0 && pct == last.1 && done != total {
            return;
        }
        let filled = (pct / 5) as usize;
        eprint!("\r\x1b[2K{phase:<45} [{}{}] {pct:>3}% ({done}/{total})", "#".repeat(filled), ".".repeat(20 - filled));
        last = (phase.to_string(), pct);
    };
    let result = if save_only {
        api::bench::run_saves(&dir, &mut progress).map(Measured::Saves)
    } else {
        api::bench::run(&api::bench::Options { entries, dir: dir.clone() }, &mut progress)
            .map(|r| Measured::All(Box::new(r)))
    };
    if tty {
        eprintln!();
    }
    if scratch && !keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("The benchmark's vaults are in {}.", dir.display());
    }
    match result? {
        Measured::All(report) if json => print_json(&serde_json::to_value(&report).unwrap_or_default()),
        Measured::All(report) => say!("{}", bench_text(&report)),
        Measured::Saves(save) if json => print_json(&serde_json::json!({ "save": save })),
        Measured::Saves(save) => say!("{}", save_text(&save)),
    }
    Ok(())
}

/// What a run measured: everything, or only the saves (`--save-only`).
enum Measured {
    All(Box<api::bench::Report>),
    Saves(api::bench::SaveComparison),
}

fn save_text(s: &api::bench::SaveComparison) -> String {
    let lat = |l: &api::bench::Latency| format!("p50 {:.2} ms, p99 {:.2} ms (n={})", l.p50_ms, l.p99_ms, l.samples);
    let mut t =
        format!("durable encrypted save        {}   (goal: within 1.5x of bare SQLite)\n", lat(&s.encrypted_save));
    t += &format!(
        "bare SQLite insert+commit     {}   ({} bytes, WAL, synchronous=FULL)\n",
        lat(&s.bare_sqlite_insert),
        s.bytes_per_save
    );
    t += &format!("ratio (p50)                   {:.2}x", s.ratio_p50);
    t
}

fn bench_text(r: &api::bench::Report) -> String {
    use api::bench::{Latency, Total};
    let lat = |l: &Latency| format!("p50 {:.2} ms, p99 {:.2} ms (n={})", l.p50_ms, l.p99_ms, l.samples);
    let tot = |t: &Total| {
        let mem = t.peak_rss_mib.map(|m| format!(", peak RSS {m:.0} MiB")).unwrap_or_default();
        format!("{:.2} s{mem}  {}", t.seconds, t.detail)
    };
    let or = |r: &Result<String, String>| match r {
        Ok(s) => s.clone(),
        Err(e) => format!("NOT MEASURED: {e}"),
    };
    let s = &r.save;
    let mut t = format!(
        "Downtime Kit workstation benchmark: {} entries, {} patients, {} days\n",
        r.entries, r.patients, r.days
    );
    t += &save_text(s);
    t += "\n";
    t += &format!("sign-in (Argon2id)            {}   (goal: 150-500 ms)\n", lat(&r.sign_in));
    t += &format!("generate synthetic vault      {}\n", tot(&r.generate));
    t += &format!("vault size                    {:.1} MiB\n", r.vault_bytes as f64 / 1048576.0);
    t += &format!("open the vault                {}   (goal: under 1 s)\n", lat(&r.open_vault));
    t += &format!("save with the vault full      {}\n", lat(&r.save_at_scale));
    t += &format!("a patient's entries (page 50) {}   (goal: under 50 ms)\n", lat(&r.patient_page));
    t += &format!("all entries of one patient    {}\n", tot(&r.patient_all));
    t += &format!("verify                        {}   (goal: under 5 s)\n", tot(&r.verify));
    t += &format!("handoff export                {}\n", or(&r.handoff_export.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!("handoff import (HIM)          {}\n", or(&r.handoff_import.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!(
        "worklist page (100 rows)      {}   (goal: under 50 ms)\n",
        or(&r.worklist_page.as_ref().map(lat).map_err(Clone::clone))
    );
    t += &format!(
        "worklist page, one patient    {}\n",
        or(&r.worklist_patient_page.as_ref().map(lat).map_err(Clone::clone))
    );
    t += &format!("accept for export             {}\n", or(&r.accept.as_ref().map(tot).map_err(Clone::clone)));
    t += &format!(
        "FHIR export                   {}   (goal: 100,000 entries under 10 s)\n",
        or(&r.fhir_export.as_ref().map(tot).map_err(Clone::clone))
    );
    t += &format!("print 500 prefilled forms     {}", tot(&r.print));
    t
}
