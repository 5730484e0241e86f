//! Readiness for the admin desk (issue 17 item 6): the same report as `dtk readiness`, without a sign-in, because it
//! reads nothing sealed and names no patient.
use super::Shell;
use crate::dto::{CommandError, ReadinessCheck, ReadinessLevel, ReadinessReport};
use dtk::clock::SystemClock;
use dtk::readiness::Level;

pub fn readiness(shell: &Shell) -> Result<ReadinessReport, CommandError> {
    shell.with_state(|state| {
        let report = state.workstation()?.readiness(&SystemClock);
        let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect();
        Ok(ReadinessReport {
            ready: report.ready,
            checked_at: report.checked_at,
            workstation_id: report.workstation_id,
            unit: report.unit,
            not_ready: names(&report.not_ready),
            warnings: names(&report.warnings),
            checks: report
                .checks
                .into_iter()
                .map(|c| ReadinessCheck {
                    name: c.name.to_owned(),
                    status: level(c.status),
                    detail: c.detail,
                    values: c.values,
                })
                .collect(),
        })
    })
}

/// A check's level as the UI names it (also the admin desk's census panel, `commands/admin.rs`).
pub(crate) fn level(status: Level) -> ReadinessLevel {
    match status {
        Level::Ok => ReadinessLevel::Ok,
        Level::Warning => ReadinessLevel::Warning,
        Level::NotReady => ReadinessLevel::NotReady,
    }
}
