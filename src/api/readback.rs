//! Read-back of a posted batch from the EHR (issue 15 item 4): `dtk export verify --batch ID` and the HIM desk's
//! "Verify in the EHR" call this; it checks the role and hands the batch to `fhir::read_back`.

use super::{ApiError, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::fhir::{self, FhirRead, UreqRead};
pub use crate::fhir::{EntryReadback, ReadState, Readback, ResourceProblem};

impl Workstation {
    /// Reads a posted batch back from the server it was posted to, with the plain HTTP client (see
    /// [`Workstation::verify_in_ehr_with`]).
    pub fn verify_in_ehr(
        &mut self,
        session: &Session,
        batch_id: &str,
        clock: &dyn Clock,
    ) -> Result<Readback, ApiError> {
        self.verify_in_ehr_with(session, batch_id, &UreqRead::default(), clock)
    }

    /// Reads a posted batch back through `reader`: every resource of every posted entry (and the batch's
    /// AuditEvent) searched for by its deterministic identifier, each entry's result recorded (see
    /// [`fhir::read_back`]).
    pub fn verify_in_ehr_with(
        &mut self,
        session: &Session,
        batch_id: &str,
        reader: &dyn FhirRead,
        clock: &dyn Clock,
    ) -> Result<Readback, ApiError> {
        session.require(Op::ExportFhir)?;
        let catalog = &self.catalog;
        let vault = self.vault.as_mut().ok_or_else(super::not_initialised)?;
        let r = fhir::ReadBack { vault, keys: session.keys(), actor: session.username(), catalog, at: clock.now() };
        Ok(fhir::read_back(r, batch_id, reader)?)
    }
}
