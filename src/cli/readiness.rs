//! `dtk readiness`: is this workstation ready for the next downtime? No sign-in, so hospital IT's monitoring can
//! poll it; exit 0 when ready (warnings alone included), 1 when any check is not ready, naming each one.

use std::io::Write;

use dtk::api::Workstation;
use dtk::clock::SystemClock;
use dtk::readiness::Level;

use super::{failed, output, Failure};

pub fn run(ws: &Workstation, json: bool) -> Result<(), Failure> {
    let report = ws.readiness(&SystemClock);
    output(json, &report, || {
        let mut t = format!(
            "{} workstation {} ({}): {}",
            if report.ready { "READY" } else { "NOT READY" },
            &report.workstation_id.chars().take(8).collect::<String>(),
            report.unit.as_deref().unwrap_or("-"),
            if report.ready && report.warnings.is_empty() {
                "every check passed".to_string()
            } else {
                let mut parts = Vec::new();
                if !report.not_ready.is_empty() {
                    parts.push(format!("not ready: {}", report.not_ready.join(", ")));
                }
                if !report.warnings.is_empty() {
                    parts.push(format!("warnings: {}", report.warnings.join(", ")));
                }
                parts.join("; ")
            }
        );
        for c in &report.checks {
            let mark = match c.status {
                Level::Ok => "ok       ",
                Level::Warning => "WARNING  ",
                Level::NotReady => "NOT READY",
            };
            t.push_str(&format!("\n{mark} {:<12} {}", c.name, c.detail));
        }
        t
    });
    if report.ready {
        Ok(())
    } else if json {
        // The report on stdout says it all (`"ready": false`, `not_ready`); an error object would repeat it.
        Err(failed(""))
    } else {
        // The text above already named each check; this line goes to stderr for a monitor that keeps only that.
        let _ = std::io::stdout().flush();
        Err(failed(format!("not ready: {}", report.not_ready.join(", "))))
    }
}
