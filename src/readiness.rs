//! Readiness: is this workstation ready for the next downtime? The facts (census age, forms, HIM key, printer,
//! temporary MRNs, last verify, free disk, last backup, version, last drill) come in as values, and each becomes a
//! check that is ok, a warning or not ready against the site's limits. Only the free-space query reads the system.
//! See ARCHITECTURE.md, "Readiness".

use std::path::Path;

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::backup::{self, age_words};
use crate::clock::parse_stamp;
use crate::printer::PrinterStatus;
use crate::site::{MrnBlock, SiteConfig};

/// How one check came out. A warning never makes the workstation not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Ok,
    Warning,
    NotReady,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::NotReady => "not-ready",
        }
    }
}

/// One check: a stable name (monitoring keys on it), its level, one line for hospital IT (never patient data) and
/// the machine values behind it (ages, counts, limits), documented per check in README.md.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Level,
    pub detail: String,
    pub values: serde_json::Value,
}

/// The whole answer. `ready` is false when any check is not ready; warnings alone leave it true.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ready: bool,
    pub checked_at: String,
    pub workstation_id: String,
    pub unit: Option<String>,
    /// The names of the checks that are not ready, then of those with a warning, in check order.
    pub not_ready: Vec<&'static str>,
    pub warnings: Vec<&'static str>,
    pub checks: Vec<Check>,
}

/// The vault as the workstation opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultState {
    NotSetUp,
    ReadOnly,
    ReadWrite,
}

/// What `dtk verify` found last time, from its audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastVerify {
    pub at: String,
    /// Problems found (0: intact).
    pub problems: u64,
}

/// Everything the checks look at, gathered by the façade without a key (`api/readiness.rs`).
#[derive(Debug, Clone)]
pub struct Facts {
    pub workstation_id: String,
    pub unit: Option<String>,
    pub vault: VaultState,
    /// The current census snapshot: when the EHR took it, and how many patients it holds.
    pub census: Option<(String, i64)>,
    /// Whether that snapshot is the staged one (`dtk census stage`), imported at the next sign-in.
    pub census_staged: bool,
    pub forms_loaded: usize,
    /// Each refused form file and why (file names and reasons, no patient data).
    pub forms_refused: Vec<String>,
    /// The fingerprint of the site's `him_public_key`, if configured.
    pub him_key: Option<String>,
    pub printer: PrinterStatus,
    /// Whether CUPS says the default printer's queue is enabled (`None`: not asked or not known).
    pub printer_enabled: Option<bool>,
    /// The temporary MRN block and how many numbers it still has.
    pub temp_mrns: Option<(MrnBlock, i64)>,
    pub last_verify: Option<LastVerify>,
    /// Free megabytes on the vault's file system, or why it could not be measured.
    pub free_mb: Result<u64, String>,
    pub backup: backup::Status,
    pub version: &'static str,
    /// When the newest drill started, and whether it is still open.
    pub last_drill: Option<(String, bool)>,
    /// The site's escalation file (issue 21 item 1): the file configured, the ladder's title, levels and contacts if
    /// it was read, and each problem (file, place, field) if it was refused.
    pub escalation: EscalationFacts,
}

/// What readiness knows of the site's escalation file.
#[derive(Debug, Clone, Default)]
pub struct EscalationFacts {
    pub file: Option<String>,
    /// (title, levels, contacts) of the ladder read.
    pub ladder: Option<(String, usize, usize)>,
    pub problems: Vec<String>,
}

/// The audit target of a `dtk verify` run: `verify:intact` or `verify:broken:N` (plaintext, chained by the audit
/// MAC, so the readiness check reads it without a key and the next verify catches an edit).
pub fn verify_target(problems: usize) -> String {
    if problems == 0 {
        "verify:intact".into()
    } else {
        format!("verify:broken:{problems}")
    }
}

/// Reads a verify row's time and target back; `None` for a target this version did not write.
pub fn parse_verify(at: String, target: &str) -> Option<LastVerify> {
    let problems = match target.strip_prefix("verify:")? {
        "intact" => 0,
        broken => broken.strip_prefix("broken:")?.parse().ok()?,
    };
    Some(LastVerify { at, problems })
}

/// Free megabytes (for an unprivileged user: `f_bavail`) on the file system holding `dir`.
#[cfg(unix)]
pub fn free_mb(dir: &Path) -> Result<u64, String> {
    let st = rustix::fs::statvfs(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize) / (1024 * 1024))
}

/// Free megabytes on the file system holding `dir`: not measured yet on this platform (the check is a warning).
#[cfg(not(unix))]
pub fn free_mb(_dir: &Path) -> Result<u64, String> {
    Err("free space is not measured on this platform yet".into())
}

/// Every check, in a fixed order, against the site's limits at `now`.
pub fn evaluate(facts: &Facts, site: &SiteConfig, now: OffsetDateTime) -> Report {
    let checks = vec![
        vault(facts),
        census(facts, site, now),
        forms(facts),
        him_key(facts),
        printer(facts),
        temp_mrns(facts, site),
        last_verify(facts, site, now),
        free_disk(facts, site),
        last_backup(facts),
        app_version(facts),
        last_drill(facts, site, now),
        escalation(facts),
    ];
    let named = |level: Level| checks.iter().filter(|c| c.status == level).map(|c| c.name).collect::<Vec<_>>();
    Report {
        ready: checks.iter().all(|c| c.status != Level::NotReady),
        checked_at: crate::clock::stamp(now),
        workstation_id: facts.workstation_id.clone(),
        unit: facts.unit.clone(),
        not_ready: named(Level::NotReady),
        warnings: named(Level::Warning),
        checks,
    }
}

fn check(name: &'static str, status: Level, detail: impl Into<String>, values: serde_json::Value) -> Check {
    Check { name, status, detail: detail.into(), values }
}

/// The time from a stored stamp to now (never negative: a clock a little behind is not an age).
fn age(at: &str, now: OffsetDateTime) -> Option<time::Duration> {
    parse_stamp(at).map(|t| (now - t).max(time::Duration::ZERO))
}

fn vault(f: &Facts) -> Check {
    let values = json!({
        "initialised": f.vault != VaultState::NotSetUp,
        "read_only": f.vault == VaultState::ReadOnly,
    });
    match f.vault {
        VaultState::NotSetUp => {
            check("vault", Level::NotReady, "this workstation has not been set up (dtk init)", values)
        }
        VaultState::ReadOnly => check(
            "vault",
            Level::NotReady,
            "the vault is read-only (a permission or disk problem): nothing could be charted here",
            values,
        ),
        VaultState::ReadWrite => check("vault", Level::Ok, "vault set up and writable", values),
    }
}

fn census(f: &Facts, site: &SiteConfig, now: OffsetDateTime) -> Check {
    let limit = site.census_max_age_hours;
    let Some((taken, patients)) = &f.census else {
        return check(
            "census",
            Level::NotReady,
            "no census imported: import the unit's census snapshot (dtk census import FILE)",
            json!({ "age_hours": null, "max_age_hours": limit, "snapshot_time": null, "patients": null, "staged": false }),
        );
    };
    let Some(age) = age(taken, now) else {
        return check(
            "census",
            Level::NotReady,
            "the census snapshot's time cannot be read: import a fresh census",
            json!({ "age_hours": null, "max_age_hours": limit, "snapshot_time": taken, "patients": patients, "staged": f.census_staged }),
        );
    };
    let hours = age.whole_hours();
    let staged = f.census_staged;
    let values = json!({
        "age_hours": hours, "max_age_hours": limit, "snapshot_time": taken, "patients": patients, "staged": staged
    });
    if hours >= i64::from(limit) {
        check(
            "census",
            Level::NotReady,
            format!(
                "census is stale: taken {hours} h ago ({taken}), over the site's limit of {limit} h \
                 (census_max_age_hours); import a fresh one"
            ),
            values,
        )
    } else {
        check(
            "census",
            Level::Ok,
            format!(
                "census of {patients} patients taken {hours} h ago (limit {limit} h){}",
                if staged { ", staged: imported at the next sign-in" } else { "" }
            ),
            values,
        )
    }
}

fn forms(f: &Facts) -> Check {
    let values = json!({ "loaded": f.forms_loaded, "refused": f.forms_refused });
    let refused = if f.forms_refused.is_empty() {
        String::new()
    } else {
        format!("; {} refused: {}", f.forms_refused.len(), f.forms_refused.join("; "))
    };
    let (status, text) = match (f.forms_loaded, f.forms_refused.is_empty()) {
        (0, _) => (Level::NotReady, format!("no form loaded: nothing could be charted{refused}")),
        (n, true) => (Level::Ok, format!("{n} forms loaded")),
        (n, false) => (Level::Warning, format!("{n} forms loaded{refused}")),
    };
    check("forms", status, text, values)
}

fn him_key(f: &Facts) -> Check {
    let values = json!({ "configured": f.him_key.is_some(), "fingerprint": f.him_key });
    match &f.him_key {
        Some(fp) => check("him_key", Level::Ok, format!("HIM key configured (fingerprint {fp})"), values),
        None => check(
            "him_key",
            Level::NotReady,
            "no HIM key: site.json has no him_public_key, so no handoff file for HIM can be written",
            values,
        ),
    }
}

/// A printer problem is a warning: the app still saves every PDF, which can be printed from another computer.
fn printer(f: &Facts) -> Check {
    let p = &f.printer;
    let values = json!({ "cups": p.cups, "default_printer": p.default_printer, "enabled": f.printer_enabled });
    let (status, text) = match (&p.default_printer, f.printer_enabled) {
        _ if !p.cups => (
            Level::Warning,
            "no printing system (CUPS lp) on this workstation: PDFs must be printed from another computer".to_string(),
        ),
        (None, _) => {
            (Level::Warning, "CUPS has no default printer: set one (lpoptions -d NAME) so pages print here".to_string())
        }
        (Some(name), Some(false)) => {
            (Level::Warning, format!("default printer {name} is disabled in CUPS: enable it (cupsenable {name})"))
        }
        (Some(name), _) => (Level::Ok, format!("default printer {name} is enabled in CUPS")),
    };
    check("printer", status, text, values)
}

fn temp_mrns(f: &Facts, site: &SiteConfig) -> Check {
    let min = site.temp_mrn_min_left;
    let Some((block, left)) = &f.temp_mrns else {
        return check(
            "temp_mrns",
            Level::NotReady,
            "no temp_mrn_block in site.json: patients missing from the census cannot be registered",
            json!({ "first": null, "last": null, "left": null, "min_left": min }),
        );
    };
    let values = json!({
        "first": block.format(block.first), "last": block.format(block.last), "left": left, "min_left": min,
    });
    let range = format!("{}–{}", block.format(block.first), block.format(block.last));
    let (status, text) = match *left {
        0 => (Level::NotReady, format!("temporary MRN block {range} is used up: ask IT for a new temp_mrn_block")),
        n if n < i64::from(min) => (
            Level::Warning,
            format!("only {n} temporary MRNs left in {range} (temp_mrn_min_left {min}): ask IT for a new block"),
        ),
        n => (Level::Ok, format!("{n} temporary MRNs left in {range}")),
    };
    check("temp_mrns", status, text, values)
}

fn last_verify(f: &Facts, site: &SiteConfig, now: OffsetDateTime) -> Check {
    let limit = site.verify_max_age_days;
    let Some(v) = &f.last_verify else {
        return check(
            "last_verify",
            Level::Warning,
            "dtk verify has never run on this vault: run it to check every record and the audit chain",
            json!({ "at": null, "age_days": null, "intact": null, "problems": null, "max_age_days": limit }),
        );
    };
    let days = age(&v.at, now).map(|a| a.whole_days());
    let values = json!({
        "at": v.at, "age_days": days, "intact": v.problems == 0, "problems": v.problems, "max_age_days": limit,
    });
    let when = days.map_or_else(|| v.at.clone(), |d| format!("{d} d ago"));
    let (status, text) = match (v.problems, days) {
        (0, Some(d)) if d < i64::from(limit) => (Level::Ok, format!("dtk verify found the vault intact {when}")),
        (0, _) => (
            Level::Warning,
            format!("dtk verify last ran {when}, over the site's {limit} days (verify_max_age_days): run it again"),
        ),
        (n, _) => (
            Level::NotReady,
            format!("dtk verify found {n} problem(s) {when}: the vault may be damaged; run dtk verify and restore if needed"),
        ),
    };
    check("last_verify", status, text, values)
}

fn free_disk(f: &Facts, site: &SiteConfig) -> Check {
    let min = site.readiness_min_free_mb;
    match &f.free_mb {
        Ok(mb) => {
            let values = json!({ "free_mb": mb, "min_free_mb": min });
            if *mb < min {
                check(
                    "free_disk",
                    Level::NotReady,
                    format!(
                        "disk nearly full: {mb} MB free on the vault's disk, under the site's minimum of {min} MB \
                         (readiness_min_free_mb)"
                    ),
                    values,
                )
            } else {
                check("free_disk", Level::Ok, format!("{mb} MB free on the vault's disk (minimum {min} MB)"), values)
            }
        }
        Err(why) => check(
            "free_disk",
            Level::Warning,
            format!("free space could not be measured: {why}"),
            json!({ "free_mb": null, "min_free_mb": min }),
        ),
    }
}

/// Backups matter during a long outage, not before one: a problem here is a warning.
fn last_backup(f: &Facts) -> Check {
    let b = &f.backup;
    let values = json!({
        "at": b.last_at, "age_minutes": b.age_minutes, "overdue": b.overdue, "interval_hours": b.interval_hours,
        "folder": b.folder, "failure": b.failure,
    });
    let line = b.describe();
    let status = if b.overdue || b.failure.is_some() { Level::Warning } else { Level::Ok };
    if b.folder.is_none() && status == Level::Ok {
        return check(
            "last_backup",
            Level::Warning,
            format!("{line}; no backup_dir in site.json, so the app will not back up by itself during an outage"),
            values,
        );
    }
    check("last_backup", status, line, values)
}

fn app_version(f: &Facts) -> Check {
    check("app_version", Level::Ok, format!("Downtime Kit {}", f.version), json!({ "version": f.version }))
}

/// A drill keeps staff and the workstation practised; none for a while is a warning, not a reason to stop.
fn last_drill(f: &Facts, site: &SiteConfig, now: OffsetDateTime) -> Check {
    let limit = site.drill_max_age_days;
    let Some((started, open)) = &f.last_drill else {
        return check(
            "last_drill",
            Level::Warning,
            "no drill on this workstation yet: run one (dtk episode start --drill)",
            json!({ "started_at": null, "age_days": null, "open": null, "max_age_days": limit }),
        );
    };
    let days = age(started, now).map(|a| a.whole_days());
    let values = json!({ "started_at": started, "age_days": days, "open": open, "max_age_days": limit });
    let when = days.map_or_else(|| started.clone(), |d| age_words(d * 24 * 60) + " ago");
    match days {
        Some(d) if d < i64::from(limit) => check("last_drill", Level::Ok, format!("last drill {when}"), values),
        _ => check(
            "last_drill",
            Level::Warning,
            format!("last drill {when}, over the site's {limit} days (drill_max_age_days): run one"),
            values,
        ),
    }
}

/// Who to call when the EHR goes down: a missing or broken escalation file leaves the charge desk with no one to
/// call, which IT should know before the downtime; it is a warning, because charting never depends on it.
fn escalation(f: &Facts) -> Check {
    let e = &f.escalation;
    let values = json!({
        "file": e.file,
        "levels": e.ladder.as_ref().map(|l| l.1),
        "contacts": e.ladder.as_ref().map(|l| l.2),
        "problems": e.problems,
    });
    match (&e.file, &e.ladder) {
        (None, _) => check(
            "escalation",
            Level::Warning,
            "no escalation file (escalation_file in site.json): the charge desk has no one to call and no contact sheet",
            values,
        ),
        (Some(_), Some((title, levels, contacts))) => check(
            "escalation",
            Level::Ok,
            format!("escalation ladder '{title}': {levels} level(s), {contacts} contact(s)"),
            values,
        ),
        (Some(file), None) => check(
            "escalation",
            Level::Warning,
            format!(
                "escalation file {file} refused, so the charge desk shows no ladder: {}",
                e.problems.first().map_or("it cannot be read", String::as_str)
            ),
            values,
        ),
    }
}
