//! Readiness through the façade (issue 17 item 6): `Workstation::readiness` gathers the facts without a sign-in, so
//! hospital IT's monitoring can poll `dtk readiness` unattended, and `Workstation::record_verify` keeps what
//! `dtk verify` found for it. See ARCHITECTURE.md, "Readiness".

use super::{ApiError, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::readiness::{self, Facts, Report, VaultState};

impl Workstation {
    /// Is this workstation ready for the next downtime? Needs no sign-in and no key: it reads only plaintext
    /// columns (census snapshot times and counts, issued temporary MRN numbers, episode kinds and times, audit
    /// actions and targets), the site configuration, the forms, CUPS and the disk. Those columns are covered by row
    /// MACs and the audit chain, which `dtk verify` checks with the key; the report carries that verify's result.
    pub fn readiness(&self, clock: &dyn Clock) -> Report {
        let now = clock.now();
        let conn = self.vault.as_ref().map(|v| v.conn());
        // A fact the vault cannot give (a damaged file) is reported as missing, never as a failure of the whole
        // report: monitoring must still learn about the other checks.
        let census = conn
            .and_then(|c| crate::patients::current_snapshot(c).ok().flatten())
            .map(|s| (s.snapshot_time, s.patient_count));
        // A staged census newer than the imported one is what the next sign-in will have (`dtk census stage`).
        let staged = self.staged_census().map(|s| s.census).filter(|s| {
            census.as_ref().is_none_or(|(t, _)| crate::clock::parse_stamp(t).is_none_or(|t| s.taken() > t))
        });
        let census_staged = staged.is_some();
        let census = staged.map(|s| (s.snapshot_time, i64::try_from(s.patients).unwrap_or(i64::MAX))).or(census);
        let temp_mrns = match (conn, &self.site.temp_mrn_block) {
            (Some(c), Some(block)) => crate::patients::temp_mrns_left(c, block).ok().map(|left| (block.clone(), left)),
            (None, Some(block)) => Some((block.clone(), i64::from(block.last) - i64::from(block.first) + 1)),
            _ => None,
        };
        let last_verify = conn
            .and_then(|c| crate::audit::newest(c, crate::audit::action::VERIFIED).ok().flatten())
            .and_then(|(at, target)| readiness::parse_verify(at, &target));
        let last_drill = conn
            .and_then(|c| crate::episodes::newest_drill(c).ok().flatten())
            .map(|(started, ended)| (started, ended.is_none()));
        let printer = crate::printer::status();
        let printer_enabled = printer.default_printer.as_deref().and_then(crate::printer::enabled);
        let facts = Facts {
            workstation_id: self.workstation_id(),
            unit: self.unit(),
            vault: match &self.vault {
                None => VaultState::NotSetUp,
                Some(_) if self.is_read_only() => VaultState::ReadOnly,
                Some(_) => VaultState::ReadWrite,
            },
            census,
            census_staged,
            forms_loaded: self.catalog.len(),
            forms_refused: self.form_problems.iter().map(ToString::to_string).collect(),
            him_key: self
                .site
                .him_public_key
                .as_deref()
                .and_then(|k| crate::crypto::unhex::<32>(k).map(|bytes| crate::handoff::fingerprint(&bytes))),
            printer,
            printer_enabled,
            temp_mrns,
            last_verify,
            free_mb: readiness::free_mb(&self.dir),
            backup: self.backup_status(clock),
            version: env!("CARGO_PKG_VERSION"),
            last_drill,
            escalation: readiness::EscalationFacts {
                file: self.escalation.file.clone(),
                ladder: self
                    .escalation
                    .escalation
                    .as_ref()
                    .map(|e| (e.title.clone(), e.ladder.len(), e.contacts.len())),
                problems: self.escalation.problems.iter().map(ToString::to_string).collect(),
            },
        };
        readiness::evaluate(&facts, &self.site, now)
    }

    /// Records what a `dtk verify` run found (one `vault.verified` audit row: the count in its plaintext target,
    /// for [`Workstation::readiness`]). Kept apart from `verify`, which only reads, so checking a vault never
    /// changes it unless the caller asks.
    pub fn record_verify(&mut self, session: &Session, problems: usize, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::Verify)?;
        let vault = self.vault_mut()?;
        let _recorded = vault.write(&session.keys, session.username(), clock.now(), |tx| {
            tx.audit(
                crate::audit::action::VERIFIED,
                &readiness::verify_target(problems),
                &serde_json::json!({ "problems": problems }),
            )
        })?;
        Ok(())
    }
}
