//! Read-back of a posted batch from the EHR (issue 15 item 4): `dtk export verify --batch ID` and the HIM desk's
//! "Verify in the EHR" call this. The read-back goes through the site's client for the server the batch was posted
//! to (allowlist, CA bundle, the analyst's token or the station's SMART key), in steps that each hold the workstation
//! only briefly (`fhir::run_readback`); the desktop shell takes its lock per step.

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::fhir::http::{Client, Credentials};
use crate::fhir::{self, FhirRead, ReadbackPlan, ReadbackStore, RoundWanted};
pub use crate::fhir::{EntryReadback, ReadState, Readback, ResourceProblem};
use crate::site::check_server_url;

impl Workstation {
    /// Reads a posted batch back from the server it was posted to, through the site's client for that server with
    /// `credentials` (see [`Workstation::fhir_client`]).
    pub fn verify_in_ehr(
        &mut self,
        session: &Session,
        batch_id: &str,
        credentials: Credentials,
        clock: &dyn Clock,
    ) -> Result<Readback, ApiError> {
        let (plan, client) = self.fhir_readback_start(session, batch_id, credentials, clock)?;
        let mut store = Local { ws: self, session, clock };
        fhir::run_readback(&mut store, plan, &client)
    }

    /// Reads a posted batch back through `reader` (a double in tests): every resource of every posted entry (and
    /// the batch's AuditEvent) searched for by its deterministic identifier, each entry's result recorded.
    pub fn verify_in_ehr_with(
        &mut self,
        session: &Session,
        batch_id: &str,
        reader: &(dyn FhirRead + Sync),
        clock: &dyn Clock,
    ) -> Result<Readback, ApiError> {
        session.require(Op::ExportFhir)?;
        let plan = ReadbackPlan::read(self.vault()?.conn(), session.keys(), batch_id, clock.now())?;
        let mut store = Local { ws: self, session, clock };
        fhir::run_readback(&mut store, plan, reader)
    }

    /// The first step of a read-back (a short read): what the batch posted where, and the site's client for that
    /// server. A batch posted to a server no longer in the site's `fhir_servers` is refused, naming it.
    pub fn fhir_readback_start(
        &self,
        session: &Session,
        batch_id: &str,
        credentials: Credentials,
        clock: &dyn Clock,
    ) -> Result<(ReadbackPlan, Client), ApiError> {
        session.require(Op::ExportFhir)?;
        let plan = ReadbackPlan::read(self.vault()?.conn(), session.keys(), batch_id, clock.now())?;
        let name = self
            .site
            .fhir_servers
            .iter()
            .find(|s| {
                check_server_url("base_url", &s.base_url).is_ok_and(|u| u.as_str().trim_end_matches('/') == plan.server)
            })
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "batch {batch_id} was posted to {}, which is no longer a server of the site's fhir_servers: \
                         IT adds it back to site.json to read the batch back",
                        plan.server
                    ),
                )
            })?;
        let client = self.fhir_client(session, &name, credentials)?;
        Ok((plan, client))
    }

    /// What one round of posted entries should have on the server (a short read).
    pub fn fhir_readback_round(
        &self,
        session: &Session,
        plan: &ReadbackPlan,
        round: &[(String, i64)],
    ) -> Result<RoundWanted, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(fhir::round_wanted(self.vault()?.conn(), session.keys(), &self.catalog, plan, round)?)
    }

    /// One round's per-entry results, recorded (a short write).
    pub fn fhir_readback_record(
        &mut self,
        session: &Session,
        batch_id: &str,
        rows: &[EntryReadback],
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        session.require(Op::ExportFhir)?;
        let vault = self.vault_mut()?;
        let _done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            fhir::record_round(tx, batch_id, rows).map_err(ApiError::from)
        })?;
        Ok(())
    }

    /// The finished read-back's audit row (a short write).
    pub fn fhir_readback_finish(&mut self, session: &Session, r: &Readback, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::ExportFhir)?;
        let vault = self.vault_mut()?;
        let _done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            fhir::audit_readback(tx, r).map_err(ApiError::from)
        })?;
        Ok(())
    }
}

/// The CLI's store: the workstation itself.
struct Local<'a> {
    ws: &'a mut Workstation,
    session: &'a Session,
    clock: &'a dyn Clock,
}

impl ReadbackStore for Local<'_> {
    type Error = ApiError;

    fn round(&mut self, plan: &ReadbackPlan, round: &[(String, i64)]) -> Result<RoundWanted, ApiError> {
        self.ws.fhir_readback_round(self.session, plan, round)
    }

    fn record(&mut self, batch_id: &str, rows: &[EntryReadback]) -> Result<(), ApiError> {
        self.ws.fhir_readback_record(self.session, batch_id, rows, self.clock)
    }

    fn finish(&mut self, r: &Readback) -> Result<(), ApiError> {
        self.ws.fhir_readback_finish(self.session, r, self.clock)
    }
}
