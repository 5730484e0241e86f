//! Posting a batch to a FHIR server of the site's allowlist, in steps that each hold the workstation only briefly:
//! the plan and each transaction's bytes are short reads, each answer a short write, and nothing is held while a
//! transaction is on the network (`fhir::run`). The CLI runs every step here; the desktop shell runs the same steps,
//! taking its one lock per step (`src-tauri/src/commands/him.rs`).

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::fhir::http::{Client, Credentials};
use crate::fhir::smart::{Signer, SmartKey};
use crate::fhir::{self, Part, Plan, PostOutcome, PostReport, PostStore, Progress, Transaction};

/// How a post is cut and paced.
#[derive(Debug, Clone, Copy)]
pub struct PostOptions {
    /// At most this many entries per transaction (1 to 10,000); an entry's resources are never split.
    pub per_transaction: usize,
    /// At most this many transactions on the network at once (1 to 32).
    pub in_flight: usize,
}

impl Default for PostOptions {
    fn default() -> Self {
        PostOptions { per_transaction: fhir::POST_ENTRIES_PER_TRANSACTION, in_flight: fhir::POSTS_IN_FLIGHT }
    }
}

impl Workstation {
    /// The names of the FHIR servers this station may post to (the site's allowlist), for the analyst to choose.
    pub fn fhir_servers(&self, session: &Session) -> Result<Vec<String>, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(self.site.fhir_servers.iter().map(|s| s.name.clone()).collect())
    }

    /// The client for the server `server` of the allowlist, with the analyst's credentials; without any, a server
    /// configured for SMART Backend Services (`token_url`, `client_id`, `scope`) gets the station's sealed key.
    pub fn fhir_client(&self, session: &Session, server: &str, credentials: Credentials) -> Result<Client, ApiError> {
        session.require(Op::ExportFhir)?;
        let credentials = match (credentials, self.site.fhir_server(server)) {
            (Credentials::None, Ok(s)) if s.token_url.is_some() => {
                let key = SmartKey::load(self.vault()?.conn(), session.keys())?.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!(
                            "the FHIR server \"{}\" uses SMART Backend Services and this station has no key yet: \
                             create one with `dtk export smart-key --create` and give its public JWK set to the EHR",
                            s.name
                        ),
                    )
                })?;
                Signer::for_server(key, s).map(Credentials::Smart).unwrap_or(Credentials::None)
            }
            (c, _) => c,
        };
        Ok(Client::for_server(&self.site, server, credentials)?)
    }

    /// The station's SMART Backend Services key as a public JWK set for the EHR's registration: the one sealed in
    /// the vault, or a new one (`create`), or one imported from a PKCS#8 PEM file (`import`). HIM or IT only.
    pub fn smart_key(
        &mut self,
        session: &Session,
        create: bool,
        import: Option<&[u8]>,
        clock: &dyn Clock,
    ) -> Result<serde_json::Value, ApiError> {
        session.require(Op::ExportFhir).or_else(|_| session.require(Op::Configure))?;
        if !create && import.is_none() {
            let key = SmartKey::load(self.vault()?.conn(), session.keys())?;
            return key.map(|k| k.jwks()).ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, "this station has no SMART key yet: create one with --create")
            });
        }
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            fhir::smart::store_key(tx, import).map_err(ApiError::from)
        })?;
        Ok(done.into_value())
    }

    /// What a post of the batch will send (a short read).
    pub fn fhir_post_plan(&self, session: &Session, batch_id: &str, per_transaction: usize) -> Result<Plan, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(fhir::plan(self.vault()?.conn(), session.keys(), batch_id, per_transaction)?)
    }

    /// One transaction's bytes (a short read).
    pub fn fhir_post_build(&self, session: &Session, batch_id: &str, part: &Part) -> Result<Transaction, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(fhir::build(self.vault()?.conn(), session.keys(), &self.catalog, batch_id, part)?)
    }

    /// One transaction's answer, recorded per entry (a short write).
    pub fn fhir_post_record(
        &mut self,
        session: &Session,
        batch_id: &str,
        server: &str,
        outcome: &PostOutcome,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        session.require(Op::ExportFhir)?;
        let vault = self.vault_mut()?;
        Ok(fhir::record(vault, session.keys(), session.username(), clock.now(), batch_id, server, outcome)?)
    }

    /// Posts a batch to the server `server` of the allowlist with the default cut and pace (see
    /// [`Workstation::post_fhir_with`]).
    pub fn post_fhir(
        &mut self,
        session: &Session,
        batch_id: &str,
        server: &str,
        credentials: Credentials,
        clock: &dyn Clock,
    ) -> Result<PostReport, ApiError> {
        self.post_fhir_with(session, batch_id, server, credentials, PostOptions::default(), &mut |_| (), clock)
    }

    /// Posts a batch: everything not yet posted that still waits on it, registrations first, in transactions of at
    /// most `options.per_transaction` entries with at most `options.in_flight` on the network at once, each answer
    /// recorded as it comes (an interrupted post keeps what was answered; posting again sends only the rest).
    /// `progress` hears the counts after each step.
    #[allow(clippy::too_many_arguments)]
    pub fn post_fhir_with(
        &mut self,
        session: &Session,
        batch_id: &str,
        server: &str,
        credentials: Credentials,
        options: PostOptions,
        progress: &mut dyn FnMut(Progress),
        clock: &dyn Clock,
    ) -> Result<PostReport, ApiError> {
        let client = self.fhir_client(session, server, credentials)?;
        let plan = self.fhir_post_plan(session, batch_id, options.per_transaction)?;
        let mut store = Local { ws: self, session, clock, batch_id, server: client.base_url().to_string() };
        post_planned(&mut store, plan, &client, options.in_flight, progress)
    }
}

/// Runs a planned post through any store whose errors are [`ApiError`]s, and says, when it stops early, what was
/// answered and recorded before.
pub fn post_planned<S: PostStore<Error = ApiError>>(
    store: &mut S,
    plan: Plan,
    client: &Client,
    in_flight: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<PostReport, ApiError> {
    fhir::run(store, plan, client, in_flight, progress).map_err(|s| {
        let r = s.report;
        if r.transactions == 0 {
            return s.error;
        }
        ApiError::new(
            s.error.code,
            format!(
                "{} ({} transactions were answered and recorded before that: {} entries posted, {} refused; posting \
                 again sends only the rest)",
                s.error.message,
                r.transactions,
                r.posted.len(),
                r.failed.len()
            ),
        )
    })
}

/// The CLI's store: the workstation itself (the process holds nothing else that waits on it).
struct Local<'a> {
    ws: &'a mut Workstation,
    session: &'a Session,
    clock: &'a dyn Clock,
    batch_id: &'a str,
    server: String,
}

impl PostStore for Local<'_> {
    type Error = ApiError;

    fn build(&mut self, part: &Part) -> Result<Transaction, ApiError> {
        self.ws.fhir_post_build(self.session, self.batch_id, part)
    }

    fn record(&mut self, outcome: &PostOutcome) -> Result<(), ApiError> {
        self.ws.fhir_post_record(self.session, self.batch_id, &self.server, outcome, self.clock)
    }
}

/// The codes of the server's own errors: a server not in the allowlist is the analyst's input; a server that asks
/// for credentials, stays busy or cannot be reached is `Unavailable`, whose message (naming the server) the desk
/// shows as it is.
pub(super) fn server_code(e: &fhir::FhirError) -> Option<ErrorCode> {
    match e {
        fhir::FhirError::Server(_) => Some(ErrorCode::InvalidInput),
        fhir::FhirError::Unauthorized { .. }
        | fhir::FhirError::Unavailable { .. }
        | fhir::FhirError::Unreachable(_)
        | fhir::FhirError::Token { .. } => Some(ErrorCode::Unavailable),
        _ => None,
    }
}
