//! The HIM operations of the façade (and the workstation's handoff export): handoff keys and files, the
//! reconciliation worklist and its decisions, paper back-entry, FHIR export and posting, the reconciliation report.
//! The desktop app's HIM screens call exactly these; every one checks the role first.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::{ApiError, EntrySaved, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{stamp, Clock};
use crate::entries::{self, NewEntry, Origin, PaperSource};
use crate::fhir::{self, BatchMeta, FhirError, Frozen, Mode, StaffRef};
use crate::handoff::{self, ExportSummary, HandoffError, HimKey, ImportReport};
use crate::paper;
use crate::reconcile::{self, Filter, Page, Proposal, ReconcileError, Report, SideBySide, State, Summary};
use crate::vault::VaultError;

impl From<HandoffError> for ApiError {
    fn from(e: HandoffError) -> Self {
        let code = match &e {
            HandoffError::Vault(_) => {
                if let HandoffError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            HandoffError::NoHimKey | HandoffError::NoRecipient => ErrorCode::NotInitialised,
            HandoffError::NothingToExport(_) => ErrorCode::NotFound,
            HandoffError::Drill => ErrorCode::Forbidden,
            HandoffError::KeyChanged { .. } | HandoffError::Replayed(_) | HandoffError::AuditConflict { .. } => {
                ErrorCode::Conflict
            }
            HandoffError::Tampered
            | HandoffError::Truncated { .. }
            | HandoffError::TrailingBytes(_)
            | HandoffError::AuditChain { .. }
            | HandoffError::Inconsistent(_) => ErrorCode::Integrity,
            HandoffError::Read(_) | HandoffError::Write(_) => ErrorCode::Io,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<ReconcileError> for ApiError {
    fn from(e: ReconcileError) -> Self {
        let code = match &e {
            ReconcileError::Vault(_) => {
                if let ReconcileError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            ReconcileError::NotFound(_) => ErrorCode::NotFound,
            ReconcileError::WrongState { .. } | ReconcileError::Locked(_) | ReconcileError::OpenDuplicate { .. } => {
                ErrorCode::Conflict
            }
            ReconcileError::NoReason | ReconcileError::Invalid(_) => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<FhirError> for ApiError {
    fn from(e: FhirError) -> Self {
        let code = match &e {
            FhirError::Vault(_) => {
                if let FhirError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            FhirError::NoBatch(_) => ErrorCode::NotFound,
            FhirError::Io(_) | FhirError::Unreachable(_) | FhirError::BadResponse(_) => ErrorCode::Io,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

/// The HIM station's handoff key, as `dtk handoff keygen` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HimKeyInfo {
    /// For `him_public_key` in every workstation's site configuration.
    pub public_key: String,
    pub fingerprint: String,
    /// False when the station already had its key (it is never replaced silently).
    pub created: bool,
}

/// What the worklist screen (and `dtk reconcile list`) filters by.
#[derive(Debug, Clone, Default)]
pub struct WorklistQuery {
    pub state: Option<State>,
    pub mrn: Option<String>,
    pub form: Option<String>,
    pub workstation: Option<String>,
    pub episode: Option<String>,
    pub status: Option<entries::Status>,
    pub limit: usize,
    pub offset: usize,
}

/// A FHIR export batch written to disk.
#[derive(Debug, Clone, Serialize)]
pub struct BatchExported {
    pub batch_id: String,
    pub entries: usize,
    pub sha256: String,
    pub bytes: u64,
    pub path: PathBuf,
}

/// What one post of a batch did.
#[derive(Debug, Clone, Serialize)]
pub struct PostReport {
    pub batch_id: String,
    /// Entries posted now, with the location of their QuestionnaireResponse on the server.
    pub posted: Vec<(String, String)>,
    /// Entries the server refused now, with its OperationOutcome text.
    pub failed: Vec<(String, String)>,
    /// Entries posted by an earlier attempt and not sent again.
    pub already_posted: usize,
    /// Transactions sent now (each of at most the bound's entries).
    pub transactions: usize,
}

/// The default bound on entries per posted transaction: a few hundred entries (a few thousand resources) is what
/// EHR FHIR servers accept in one transaction, and a refused transaction then fails only its own entries.
pub const POST_ENTRIES_PER_TRANSACTION: usize = 500;

fn io_err(e: std::io::Error) -> ApiError {
    ApiError::new(ErrorCode::Io, format!("writing the file failed: {e}"))
}

fn temp_beside(out: &Path) -> PathBuf {
    crate::durable::temp_beside(out)
}

/// Writes `bytes` to `out` through [`crate::durable`].
fn write_atomic(out: &Path, bytes: &[u8]) -> Result<(), ApiError> {
    crate::durable::write(out, bytes).map_err(io_err)
}

fn finish_atomic(tmp: &Path, out: &Path) -> Result<(), ApiError> {
    crate::durable::place(tmp, out).map_err(io_err)
}

/// Ends a file written to `tmp` inside the transaction that records it: if the transaction failed, the temporary
/// file goes; once it committed, the file is moved to `out`, and if that fails `recorded` says what was recorded
/// and how to get the file again.
fn place_recorded<T>(
    done: Result<crate::vault::Durable<T>, ApiError>,
    tmp: &Path,
    out: &Path,
    recorded: impl FnOnce(&T, &str) -> String,
) -> Result<T, ApiError> {
    let done = match done {
        Ok(d) => d.into_value(),
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
    };
    finish_atomic(tmp, out).map_err(|e| ApiError::new(e.code, recorded(&done, &e.message)))?;
    Ok(done)
}

impl Workstation {
    /// Creates the HIM station's handoff key pair on first use and shows its public key and fingerprint.
    pub fn handoff_keygen(&mut self, session: &Session, clock: &dyn Clock) -> Result<HimKeyInfo, ApiError> {
        session.require(Op::ImportHandoff)?;
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            HimKey::load_or_create(tx).map_err(ApiError::from)
        })?;
        let (key, created) = done.into_value();
        Ok(HimKeyInfo { public_key: key.public_hex(), fingerprint: key.fingerprint(), created })
    }

    /// Writes this workstation's handoff file for `episode` (default: the newest real episode) to `out`, encrypted
    /// to the HIM key of the site configuration. The file appears at `out` only once complete and recorded.
    pub fn export_handoff(
        &mut self,
        session: &Session,
        out: &Path,
        episode: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<ExportSummary, ApiError> {
        session.require(Op::ExportHandoff)?;
        let recipient = match &self.site.him_public_key {
            Some(k) => handoff::parse_public_key(k)?,
            None => return Err(HandoffError::NoRecipient.into()),
        };
        let workstation = self.workstation_id();
        let episode_id = match episode {
            Some(e) => e.to_string(),
            None => crate::episodes::list(self.vault()?.conn(), session.keys())?
                .into_iter()
                .next()
                .map(|e| e.id)
                .ok_or_else(|| HandoffError::NothingToExport("this workstation has no downtime episode".into()))?,
        };
        // Written into a temporary file beside `out` while the transaction reads the vault, synced before the
        // export is recorded, moved into place after the commit: a recorded export always has its complete file,
        // and a failed one leaves no file behind.
        let tmp = temp_beside(out);
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let file = std::fs::File::create(&tmp).map_err(io_err)?;
            let w = std::io::BufWriter::with_capacity(1 << 20, file);
            let (summary, w) = handoff::export(tx, &workstation, &episode_id, &recipient, w)?;
            let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
            file.sync_all().map_err(io_err)?;
            Ok::<_, ApiError>(summary)
        });
        place_recorded(done, &tmp, out, |s, why| {
            format!(
                "handoff file #{} was recorded but moving it into place failed ({why}); export again to write file #{}",
                s.sequence,
                s.sequence + 1
            )
        })
    }

    /// Verifies a handoff file held in memory and brings it into the worklist; see [`Self::import_handoff_reader`].
    pub fn import_handoff(
        &mut self,
        session: &Session,
        bytes: &[u8],
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        self.import_handoff_reader(session, bytes, clock)
    }

    /// Verifies a handoff file and brings it into the worklist, reading it once, record by record, in bounded
    /// memory. Everything is staged in one transaction that commits only after the last segment decrypted and the
    /// signature verified: a refused file changes nothing.
    pub fn import_handoff_reader(
        &mut self,
        session: &Session,
        input: impl std::io::Read,
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        session.require(Op::ImportHandoff)?;
        let key = HimKey::load(self.vault()?.conn(), session.keys())?.ok_or(HandoffError::NoHimKey)?;
        let temp = self.site.temp_mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        let report = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            handoff::import(tx, input, &key, &temp, window).map_err(ApiError::from)
        })?;
        Ok(report.into_value())
    }

    /// A page of the worklist.
    pub fn worklist(&self, session: &Session, q: &WorklistQuery) -> Result<Page, ApiError> {
        session.require(Op::Reconcile)?;
        let keys = session.keys();
        let mut filter = Filter {
            state: q.state,
            form: q.form.clone(),
            workstation: q.workstation.clone(),
            episode: q.episode.clone(),
            status: q.status,
            ..Filter::default()
        };
        if let Some(m) = &q.mrn {
            for system in [&self.site.mrn_system, &self.site.temp_mrn_system] {
                filter.patient_idx.push(crate::patients::mrn_token(keys, system, m));
            }
        }
        let limit = if q.limit == 0 { 100 } else { q.limit };
        Ok(reconcile::list(self.vault()?.conn(), keys, &filter, limit, q.offset)?)
    }

    /// Counts per state and what is still open.
    pub fn reconcile_summary(&self, session: &Session) -> Result<Summary, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::summary(self.vault()?.conn())?)
    }

    /// Matches the downtime registration of an entry's patient to a real MRN; every entry of the patient follows.
    pub fn match_patient(
        &mut self,
        session: &Session,
        entry_id: &str,
        mrn: &str,
        clock: &dyn Clock,
    ) -> Result<Vec<String>, ApiError> {
        session.require(Op::Reconcile)?;
        let system = self.site.mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                reconcile::match_patient(tx, entry_id, &system, mrn, window).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// Accepts the given entries, all or none.
    pub fn accept(&mut self, session: &Session, ids: &[String], clock: &dyn Clock) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                reconcile::accept(tx, ids, false).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// Accepts every matched entry that has no open duplicate proposal, in one action.
    pub fn accept_all_matched(&mut self, session: &Session, clock: &dyn Clock) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                let ids = reconcile::acceptable(tx.sql())?;
                reconcile::accept(tx, &ids, true).map_err(ApiError::from)
            })?
            .into_value())
    }

    /// One audited reconciliation decision by an HIM analyst, in its own transaction.
    fn decide<E>(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
        f: impl FnOnce(&mut crate::vault::Tx<'_>) -> Result<(), E>,
    ) -> Result<(), ApiError>
    where
        ApiError: From<E>,
    {
        session.require(Op::Reconcile)?;
        let vault = self.vault_mut()?;
        vault.write(session.keys(), session.username(), clock.now(), |tx| f(tx).map_err(ApiError::from)).map(|_| ())
    }

    pub fn reject(&mut self, session: &Session, id: &str, reason: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::reject(tx, id, reason))
    }

    pub fn needs_correction(
        &mut self,
        session: &Session,
        id: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::needs_correction(tx, id, reason))
    }

    /// Records that `id` duplicates `of` (which is kept).
    pub fn mark_duplicate(&mut self, session: &Session, id: &str, of: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::mark_duplicate(tx, id, of))
    }

    /// Dismisses a duplicate proposal: two different events.
    pub fn dismiss_duplicate(
        &mut self,
        session: &Session,
        id: &str,
        other: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        self.decide(session, clock, |tx| reconcile::dismiss(tx, id, other, reason))
    }

    /// Duplicate proposals (open ones only, or all with their answers).
    pub fn duplicate_proposals(&self, session: &Session, open_only: bool) -> Result<Vec<Proposal>, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::proposals(self.vault()?.conn(), open_only)?)
    }

    /// Two entries side by side (audited as a view of both).
    pub fn side_by_side(
        &mut self,
        session: &Session,
        a: &str,
        b: &str,
        clock: &dyn Clock,
    ) -> Result<SideBySide, ApiError> {
        session.require(Op::Reconcile)?;
        let view = reconcile::side_by_side(self.vault()?.conn(), session.keys(), a, b)?
            .ok_or_else(|| ReconcileError::NotFound(format!("{a} or {b}")))?;
        let vault = self.vault_mut()?;
        let _viewed = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            for id in [a, b] {
                tx.audit(
                    entries::action::VIEWED,
                    &format!("entries:{id}"),
                    &serde_json::json!({ "side_by_side": true }),
                )?;
            }
            Ok::<(), ApiError>(())
        })?;
        Ok(view)
    }

    /// Back-enters a scanned paper form from the scan itself: the QR code of page `page` (1-based; images have one)
    /// of a PNG, JPEG or PDF file is decoded to the form, patient and episode, then as [`Workstation::back_enter_paper`].
    pub fn back_enter_scan(
        &mut self,
        session: &Session,
        scan: &Path,
        page: u32,
        response: &Value,
        author_name: &str,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::Reconcile)?;
        let payload = crate::print::read::read_file(scan, page.max(1)).map_err(|e| {
            let code = match e {
                crate::print::read::ReadError::Io(_) => ErrorCode::Io,
                _ => ErrorCode::InvalidInput,
            };
            ApiError::new(code, format!("{}: {e}", scan.display()))
        })?;
        self.back_enter_paper(session, &payload, response, author_name, clock)
    }

    /// Back-enters a scanned paper form: `payload` is what its QR code says (form, patient, episode), `response` the
    /// answers typed by the analyst, `author_name` the nurse named on the paper. The analyst is the enterer.
    pub fn back_enter_paper(
        &mut self,
        session: &Session,
        payload: &paper::Payload,
        response: &Value,
        author_name: &str,
        clock: &dyn Clock,
    ) -> Result<EntrySaved, ApiError> {
        session.require(Op::Reconcile)?;
        let author = author_name.trim();
        if author.is_empty()
            || author.len() > 200
            || author.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the author named on the paper form is required (plain text)",
            ));
        }
        let canonical = response.get("questionnaire").and_then(Value::as_str).unwrap_or("");
        if canonical != payload.form {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the response is for another form than the one printed on the paper (its QR code)",
            ));
        }
        let subject_mrn = response.pointer("/subject/identifier/value").and_then(Value::as_str);
        if payload.mrn.is_some() && payload.mrn.as_deref() != subject_mrn {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the response's patient differs from the patient printed on the paper form (its QR code)",
            ));
        }
        let episode_id = payload.episode.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidInput, "the paper form's QR code names no downtime episode")
        })?;
        let episode = crate::episodes::get(self.vault()?.conn(), session.keys(), &episode_id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "the paper form's episode is not on this station: import a handoff file of that episode first",
            )
        })?;
        if episode.kind == crate::episodes::Kind::Drill {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this paper form was printed in a DRILL episode; drill entries are never reconciled or exported",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let response = super::clinical::with_id(response, &id);
        let opts =
            super::EntryOptions { sign: true, allergy_override: None, confirm_not_duplicate: true, reason: None };
        let mut prep = self.prepare(session, &response, &opts, None, clock)?;
        prep.body.paper = Some(PaperSource { author_name: author.to_string(), qr: Some(payload.to_text()) });
        let workstation = self.workstation_id();
        let temp = self.site.temp_mrn_system.clone();
        let window = self.site.duplicate_window_minutes;
        let warnings = prep.warnings.clone();
        let vault = self.vault_mut()?;
        let saved = vault.write(session.keys(), session.username(), clock.now(), |tx| -> Result<_, ApiError> {
            let header = entries::PatientHeader::from(&prep.patient);
            let body = prep.body.clone();
            let new = NewEntry {
                form: &prep.form,
                episode_id: &episode_id,
                workstation: &workstation,
                patient: &prep.patient,
                body: prep.body,
                sign: true,
                origin: Origin::Paper,
                author: None,
            };
            let saved = entries::create(tx, &id, new)?;
            let tracked = reconcile::Tracked {
                entry_id: &id,
                workstation: &workstation,
                form: &prep.form,
                patient: &header,
                body: &body,
                temp_mrn_system: &temp,
            };
            reconcile::track(tx, &tracked, true)?;
            reconcile::propose_duplicates(tx, std::slice::from_ref(&id), window)?;
            tx.audit(
                reconcile::action::PAPER_ENTERED,
                &format!("entries:{id}"),
                &serde_json::json!({ "qr": payload.to_text() }),
            )?;
            Ok(saved)
        })?;
        Ok(EntrySaved { stored_at: stamp(saved.committed_at()), saved: saved.into_value(), warnings })
    }

    /// Exports every accepted entry as a new batch: one transaction Bundle written atomically to `out`, its SHA-256
    /// in the audit log, the entries locked as exported.
    ///
    /// One pass per entry freezes what it is exported with (its version body decrypted once, names looked up once
    /// per person), then the bundle is streamed from the frozen rows by the same code that regenerates it, so the
    /// two can never differ. Memory holds the entry ids, not the entries.
    pub fn export_fhir(&mut self, session: &Session, out: &Path, clock: &dyn Clock) -> Result<BatchExported, ApiError> {
        session.require(Op::ExportFhir)?;
        let station = self.workstation_id();
        let by = StaffRef { username: session.username().to_string(), display: session.display_name().to_string() };
        let ids = exportable(self.vault()?.conn())?;
        if ids.is_empty() {
            return Err(ApiError::new(ErrorCode::NotFound, "no accepted entries are waiting for export"));
        }
        let tmp = temp_beside(out);
        let keys = session.keys();
        let catalog = &self.catalog;
        let vault = self.vault.as_mut().ok_or_else(super::not_initialised)?;
        let done = vault.write(keys, session.username(), clock.now(), |tx| -> Result<BatchExported, ApiError> {
            let batch_id = tx.new_id().to_string();
            let meta = BatchMeta { id: batch_id.clone(), created_at: stamp(tx.at()), by: by.clone(), station, entries: ids.len() };
            let sealed = fhir::seal_meta(keys, tx, &meta);
            tx.sql().execute(
                "INSERT INTO export_batches (id, created_at, created_by, entry_count, sha256, fv, body) VALUES (?1, ?2, ?3, ?4, '', 1, ?5)",
                params![batch_id, meta.created_at, by.username, ids.len() as i64, sealed],
            ).map_err(VaultError::from)?;
            let mut names = StaffNames::default();
            for (pos, entry_id) in ids.iter().enumerate() {
                let (version, frozen, mut body) = freeze(tx.sql(), keys, catalog, &mut names, entry_id, &by.username)?;
                let sealed = fhir::seal_frozen(keys, tx, &batch_id, entry_id, &frozen);
                tx.sql().execute(
                    "INSERT INTO export_batch_entries (batch_id, entry_id, position, version, post_state, fv, body) VALUES (?1, ?2, ?3, ?4, 'unposted', 1, ?5)",
                    params![batch_id, entry_id, pos as i64, version, sealed],
                ).map_err(VaultError::from)?;
                body.exported_version = Some(version);
                let plain = zeroize::Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
                let rb = tx.seal(&crate::crypto::Place { table: "recon", row: entry_id, column: "body", format: 1 }, &plain);
                let n = tx.sql().execute(
                    "UPDATE recon SET state = 'exported', batch_id = ?1, updated_at = ?2, updated_by = ?3, fv = 1, body = ?4 WHERE entry_id = ?5 AND state = 'accepted'",
                    params![batch_id, meta.created_at, by.username, rb, entry_id],
                ).map_err(VaultError::from)?;
                if n != 1 {
                    return Err(ApiError::new(ErrorCode::Conflict, format!("entry {entry_id} changed during the export; try again")));
                }
            }
            let file = std::fs::File::create(&tmp).map_err(io_err)?;
            let mut w = fhir::Hashing::new(std::io::BufWriter::with_capacity(1 << 20, file));
            fhir::write_bundle(tx.sql(), keys, catalog, &batch_id, None, &mut w)?;
            let (buf, sha256, bytes) = w.finish();
            let file = buf.into_inner().map_err(|e| io_err(e.into_error()))?;
            file.sync_all().map_err(io_err)?;
            tx.sql().execute("UPDATE export_batches SET sha256 = ?1 WHERE id = ?2", params![sha256, batch_id]).map_err(VaultError::from)?;
            tx.audit(
                "fhir.exported",
                &format!("export_batches:{batch_id}"),
                &serde_json::json!({ "entries": meta.entries, "sha256": sha256, "bytes": bytes }),
            )?;
            Ok(BatchExported { batch_id, entries: meta.entries, sha256, bytes, path: out.to_path_buf() })
        });
        place_recorded(done, &tmp, out, |d, why| {
            format!("batch {} was recorded but moving the file into place failed ({why}); write it again with `dtk export fhir --batch {} --out FILE`", d.batch_id, d.batch_id)
        })
    }

    /// Writes an existing batch again, byte for byte, and checks it against the SHA-256 recorded at export.
    pub fn regenerate_fhir(&self, session: &Session, batch_id: &str, out: &Path) -> Result<BatchExported, ApiError> {
        session.require(Op::ExportFhir)?;
        let conn = self.vault()?.conn();
        let (stored, count): (String, i64) = conn
            .query_row("SELECT sha256, entry_count FROM export_batches WHERE id = ?1", [batch_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(VaultError::from)?
            .ok_or_else(|| FhirError::NoBatch(batch_id.to_string()))?;
        let tmp = temp_beside(out);
        let file = std::fs::File::create(&tmp).map_err(io_err)?;
        let mut w = fhir::Hashing::new(std::io::BufWriter::new(file));
        let written = fhir::write_bundle(conn, session.keys(), &self.catalog, batch_id, None, &mut w);
        let (buf, sha256, bytes) = w.finish();
        let synced = buf.into_inner().map_err(|e| io_err(e.into_error())).and_then(|f| f.sync_all().map_err(io_err));
        if let Err(e) = written.map_err(ApiError::from).and(synced) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if sha256 != stored {
            let _ = std::fs::remove_file(&tmp);
            return Err(ApiError::new(
                ErrorCode::Integrity,
                format!("batch {batch_id} no longer regenerates to the file that was exported (SHA-256 differs)"),
            ));
        }
        finish_atomic(&tmp, out)?;
        Ok(BatchExported {
            batch_id: batch_id.to_string(),
            entries: count as usize,
            sha256,
            bytes,
            path: out.to_path_buf(),
        })
    }

    /// Posts a batch to a FHIR server: everything not yet posted (the whole batch the first time, only what failed
    /// on a retry), in transactions of at most [`POST_ENTRIES_PER_TRANSACTION`] entries, recording per entry the
    /// server's location or its OperationOutcome text.
    pub fn post_fhir(
        &mut self,
        session: &Session,
        batch_id: &str,
        base_url: &str,
        clock: &dyn Clock,
    ) -> Result<PostReport, ApiError> {
        self.post_fhir_split(session, batch_id, base_url, POST_ENTRIES_PER_TRANSACTION, clock)
    }

    /// [`Workstation::post_fhir`] with another bound on the entries per transaction (1 to 10,000). An entry's
    /// resources (its QuestionnaireResponse, what was extracted from it, its Provenance) always travel in the same
    /// transaction. Each transaction's outcome is recorded as soon as the server answers, so an interrupted post
    /// keeps what was done and a retry sends only the rest.
    pub fn post_fhir_split(
        &mut self,
        session: &Session,
        batch_id: &str,
        base_url: &str,
        per_transaction: usize,
        clock: &dyn Clock,
    ) -> Result<PostReport, ApiError> {
        session.require(Op::ExportFhir)?;
        let per_transaction = per_transaction.clamp(1, 10_000);
        let states: Vec<(String, i64, String)> = {
            let conn = self.vault()?.conn();
            let mut st = conn
                .prepare(
                    "SELECT entry_id, position, post_state FROM export_batch_entries WHERE batch_id = ?1 ORDER BY position",
                )
                .map_err(VaultError::from)?;
            let rows = st.query_map([batch_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(VaultError::from)?;
            rows.collect::<Result<_, _>>().map_err(VaultError::from)?
        };
        if states.is_empty() {
            return Err(FhirError::NoBatch(batch_id.to_string()).into());
        }
        let mut todo: Vec<(String, i64)> =
            states.iter().filter(|(_, _, s)| s != "posted").map(|(id, pos, _)| (id.clone(), *pos)).collect();
        // Entries that register a patient go first: the transactions after theirs refer to that patient by its MRN,
        // which resolves only once the Patient exists on the server.
        let registers = self.registering_entries(session, batch_id)?;
        todo.sort_by_key(|(id, pos)| (!registers.contains(id), *pos));
        let mut report = PostReport {
            batch_id: batch_id.into(),
            posted: vec![],
            failed: vec![],
            already_posted: states.len() - todo.len(),
            transactions: 0,
        };
        drop(states);
        for chunk in todo.chunks(per_transaction) {
            let part = fhir::Part::of(chunk);
            let mut bytes = Vec::new();
            let tags = fhir::write_bundle(
                self.vault()?.conn(),
                session.keys(),
                &self.catalog,
                batch_id,
                Some(&part),
                &mut bytes,
            )?;
            let outcome = match fhir::post(base_url, &bytes, &tags) {
                Ok(o) => o,
                Err(e) if report.transactions > 0 => {
                    let e = ApiError::from(e);
                    return Err(ApiError::new(
                        e.code,
                        format!(
                            "{} ({} transactions were answered and recorded before that: {} entries posted, {} refused; posting again sends only the rest)",
                            e.message,
                            report.transactions,
                            report.posted.len(),
                            report.failed.len()
                        ),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            drop(bytes);
            self.record_post(session, batch_id, base_url, &outcome, clock)?;
            report.transactions += 1;
            report.posted.extend(outcome.posted);
            report.failed.extend(outcome.failed);
        }
        Ok(report)
    }

    /// The entries of a batch whose form registers a patient (from the frozen facts).
    fn registering_entries(
        &self,
        session: &Session,
        batch_id: &str,
    ) -> Result<std::collections::HashSet<String>, ApiError> {
        let conn = self.vault()?.conn();
        let mut st = conn
            .prepare("SELECT entry_id, fv, body FROM export_batch_entries WHERE batch_id = ?1")
            .map_err(VaultError::from)?;
        let mut rows = st.query([batch_id]).map_err(VaultError::from)?;
        let mut out = std::collections::HashSet::new();
        while let Some(r) = rows.next().map_err(VaultError::from)? {
            let id: String = r.get(0).map_err(VaultError::from)?;
            let sealed: Vec<u8> = r.get(2).map_err(VaultError::from)?;
            let frozen =
                fhir::open_frozen(session.keys(), batch_id, &id, r.get(1).map_err(VaultError::from)?, &sealed)?;
            if frozen.registers_patient {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// Records one transaction's outcome per entry (posted with its location, or failed with the server's text).
    fn record_post(
        &mut self,
        session: &Session,
        batch_id: &str,
        base_url: &str,
        outcome: &fhir::PostOutcome,
        clock: &dyn Clock,
    ) -> Result<(), ApiError> {
        let vault = self.vault_mut()?;
        let keys = session.keys();
        let _recorded = vault.write(keys, session.username(), clock.now(), |tx| -> Result<(), ApiError> {
            for (id, text, posted) in outcome
                .posted
                .iter()
                .map(|(i, l)| (i, l, true))
                .chain(outcome.failed.iter().map(|(i, t)| (i, t, false)))
            {
                let (fv, sealed): (i64, Vec<u8>) = tx
                    .sql()
                    .query_row(
                        "SELECT fv, body FROM export_batch_entries WHERE batch_id = ?1 AND entry_id = ?2",
                        params![batch_id, id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(VaultError::from)?;
                let mut frozen = fhir::open_frozen(keys, batch_id, id, fv, &sealed)?;
                if posted {
                    frozen.location = Some(text.clone());
                    frozen.failure = None;
                } else {
                    frozen.failure = Some(text.clone());
                }
                let sealed = fhir::seal_frozen(keys, tx, batch_id, id, &frozen);
                tx.sql()
                    .execute(
                        "UPDATE export_batch_entries SET post_state = ?1, fv = 1, body = ?2 WHERE batch_id = ?3 AND entry_id = ?4",
                        params![if posted { "posted" } else { "failed" }, sealed, batch_id, id],
                    )
                    .map_err(VaultError::from)?;
                if posted {
                    tx.sql()
                        .execute(
                            "UPDATE recon SET state = 'posted', updated_at = ?1, updated_by = ?2 WHERE entry_id = ?3 AND batch_id = ?4 AND state = 'exported'",
                            params![stamp(tx.at()), tx.actor().to_string(), id, batch_id],
                        )
                        .map_err(VaultError::from)?;
                }
            }
            tx.audit(
                "fhir.posted",
                &format!("export_batches:{batch_id}"),
                &serde_json::json!({ "server": base_url, "posted": outcome.posted.len(), "failed": outcome.failed.len() }),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// The newest export batch, if any (what `dtk export fhir --post` without `--batch` retries).
    pub fn latest_batch(&self, session: &Session) -> Result<Option<String>, ApiError> {
        session.require(Op::ExportFhir)?;
        Ok(self
            .vault()?
            .conn()
            .query_row("SELECT id FROM export_batches ORDER BY created_at DESC, rowid DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(VaultError::from)?)
    }

    /// The reconciliation report's data (audited: it lists every disposition).
    pub fn reconciliation_report(&mut self, session: &Session, clock: &dyn Clock) -> Result<Report, ApiError> {
        session.require(Op::Reconcile)?;
        let unit = self.unit();
        let at = stamp(clock.now());
        let report = self.report_with_timelines(session, &at, unit, clock)?;
        let vault = self.vault_mut()?;
        let _ = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit("reconcile.report", "recon", &serde_json::json!({ "entries": report.summary.total }))
        })?;
        Ok(report)
    }

    /// The reconciliation report as a PDF (and its data): counts per disposition, per workstation and per form,
    /// every rejected or duplicate entry with its reason, the batch hashes, and each episode's timeline and metrics.
    /// Audited; the caller saves the bytes where the analyst asked.
    pub fn reconciliation_report_pdf(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
    ) -> Result<(Report, crate::print::Pdf), ApiError> {
        session.require(Op::Reconcile)?;
        let unit = self.unit();
        let at = stamp(clock.now());
        let report = self.report_with_timelines(session, &at, unit.clone(), clock)?;
        let print_stamp = crate::print::Stamp {
            unit: unit.unwrap_or_else(|| "HIM".into()),
            printed_by: format!("{} ({})", session.display_name(), session.username()),
            printed_at: clock.now(),
            episode: None,
            drill: false,
        };
        let pdf = crate::print::reconciliation_report(&report, &print_stamp)?;
        let vault = self.vault_mut()?;
        let _ = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(
                "reconcile.report",
                "recon",
                &serde_json::json!({ "entries": report.summary.total, "pdf_pages": pdf.pages }),
            )
        })?;
        Ok((report, pdf))
    }

    fn report_with_timelines(
        &self,
        session: &Session,
        at: &str,
        unit: Option<String>,
        clock: &dyn Clock,
    ) -> Result<Report, ApiError> {
        let conn = self.vault()?.conn();
        let keys = session.keys();
        let mut report = reconcile::report(conn, keys, at, session.username(), unit)?;
        for line in &mut report.episodes {
            if let Some(episode) = crate::episodes::get(conn, keys, &line.id)? {
                line.timeline =
                    Some(super::procedures::timeline_for(conn, keys, &self.checklist, &episode, clock.now())?);
            }
        }
        Ok(report)
    }
}

/// The accepted entries, in clinical-time order, that the next batch exports. Refuses if any belongs to a drill.
fn exportable(conn: &rusqlite::Connection) -> Result<Vec<String>, ApiError> {
    let drill: i64 = conn
        .query_row(
            "SELECT count(*) FROM recon r JOIN entries e ON e.id = r.entry_id JOIN episodes p ON p.id = e.episode_id
              WHERE r.state = 'accepted' AND p.kind != 'real'",
            [],
            |r| r.get(0),
        )
        .map_err(VaultError::from)?;
    if drill > 0 {
        return Err(HandoffError::Drill.into());
    }
    let mut st = conn
        .prepare("SELECT entry_id FROM recon WHERE state = 'accepted' ORDER BY clinical_at, entry_id")
        .map_err(VaultError::from)?;
    let rows = st.query_map([], |r| r.get(0)).map_err(VaultError::from)?;
    Ok(rows.collect::<Result<_, _>>().map_err(VaultError::from)?)
}

/// Display names of staff, looked up once per (workstation, username) during an export.
#[derive(Default)]
struct StaffNames(std::collections::HashMap<(Option<String>, String), String>);

impl StaffNames {
    /// The name the workstation's handoff file gave `username`, else this station's account, else the username.
    fn get(&mut self, conn: &rusqlite::Connection, workstation: Option<&str>, username: &str) -> String {
        let key = (workstation.map(str::to_string), username.to_string());
        if let Some(name) = self.0.get(&key) {
            return name.clone();
        }
        let from_file: Option<String> = workstation.and_then(|ws| {
            conn.query_row(
                "SELECT display_name FROM handoff_staff WHERE workstation = ?1 AND username = ?2",
                params![ws, username],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
        });
        let name = from_file
            .or_else(|| {
                conn.query_row("SELECT display_name FROM users WHERE username = ?1", [username], |r| r.get(0))
                    .optional()
                    .ok()
                    .flatten()
            })
            .unwrap_or_else(|| username.to_string());
        self.0.insert(key, name.clone());
        name
    }
}

/// What one accepted entry is exported with: its current version, the frozen facts, and its worklist body.
fn freeze(
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    catalog: &crate::forms::Catalog,
    names: &mut StaffNames,
    id: &str,
    exporter: &str,
) -> Result<(i64, Frozen, reconcile::RowBody), ApiError> {
    let (version, author, ws, origin, form, fv, sealed): (i64, String, String, String, String, i64, Vec<u8>) = conn
        .query_row(
            "SELECT e.current_version, e.author, e.workstation, e.origin, e.form, r.fv, r.body
               FROM recon r JOIN entries e ON e.id = r.entry_id WHERE r.entry_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .map_err(VaultError::from)?;
    let body = reconcile::open_body(keys, id, fv, &sealed)?;
    let v = entries::version_body(conn, keys, id, version)?;
    let subject = body.matched_mrn.clone().unwrap_or((v.patient.mrn_system.clone(), v.patient.mrn.clone()));
    let (author_ref, enterer) = match (&v.paper, origin == "paper") {
        (Some(p), true) => (
            StaffRef { username: String::new(), display: p.author_name.clone() },
            Some(StaffRef { username: author.clone(), display: names.get(conn, None, &author) }),
        ),
        _ => (StaffRef { username: author.clone(), display: names.get(conn, Some(&ws), &author) }, None),
    };
    let verifier = body.accepted_by.clone().unwrap_or_else(|| exporter.to_string());
    let form_def = catalog.get(&form).ok_or_else(|| FhirError::UnknownForm { entry: id.to_string(), form })?;
    // Only a form with a Patient extraction context can register a patient; the others skip the extraction here
    // (the bundle writer extracts every entry once).
    let registers_patient = form_def.may_extract("Patient") && form_registers_patient(form_def, id, &v)?;
    let frozen = Frozen {
        subject,
        mode: if body.exported_version.is_some() { Mode::Update } else { Mode::Create },
        author: author_ref,
        enterer,
        verifier: StaffRef { display: names.get(conn, None, &verifier), username: verifier },
        registers_patient,
        location: None,
        failure: None,
    };
    Ok((version, frozen, body))
}

fn form_registers_patient(form: &crate::forms::Form, id: &str, v: &entries::VersionBody) -> Result<bool, ApiError> {
    let ctx = crate::forms::ExtractContext {
        entry_id: id,
        subject: serde_json::json!({ "reference": "Patient?identifier=x|y" }),
        encounter: None,
        author: None,
        recorded: "2000-01-01T00:00:00Z",
    };
    let mut response = v.response.clone();
    if let Some(obj) = response.as_object_mut() {
        obj.insert("status".into(), Value::String("completed".into()));
    }
    let resources = crate::forms::extract(form, &response, &ctx)
        .map_err(|e| FhirError::Extract { entry: id.to_string(), reason: e.to_string() })?;
    Ok(resources.iter().any(|r| r["resourceType"] == "Patient"))
}

/// A handoff file found in the site's import folder (the desktop app lists these; its window cannot browse).
#[derive(Debug, Clone, Serialize)]
pub struct FoundFile {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The import folder of the site configuration and the handoff files in it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFolder {
    /// `None` when the site configuration names no `handoff_import_dir`.
    pub dir: Option<PathBuf>,
    pub files: Vec<FoundFile>,
}

/// A report file written to disk.
#[derive(Debug, Clone, Serialize)]
pub struct FileWritten {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Handoff files carry this extension (`dtk handoff export --out 5E-ws1.dtkh`).
pub const HANDOFF_EXTENSION: &str = "dtkh";

/// The most files the import folder listing shows (a stick holds one per workstation).
const MAX_LISTED: usize = 1000;

impl Workstation {
    /// The handoff files (`*.dtkh`) in the site's `handoff_import_dir`, by name. A missing folder is an error that
    /// names it; an unset one is an empty listing.
    pub fn handoff_import_folder(&self, session: &Session) -> Result<ImportFolder, ApiError> {
        session.require(Op::ImportHandoff)?;
        let Some(dir) = self.site.handoff_import_dir.clone() else {
            return Ok(ImportFolder { dir: None, files: vec![] });
        };
        let read = std::fs::read_dir(&dir).map_err(|e| {
            ApiError::new(ErrorCode::Io, format!("the handoff import folder {} cannot be read: {e}", dir.display()))
        })?;
        let mut files: Vec<FoundFile> = read
            .flatten()
            .filter_map(|d| {
                let path = d.path();
                let ours = path.extension().is_some_and(|x| x.eq_ignore_ascii_case(HANDOFF_EXTENSION));
                let meta = d.metadata().ok().filter(|m| m.is_file())?;
                ours.then(|| FoundFile { name: d.file_name().to_string_lossy().into_owned(), path, bytes: meta.len() })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files.truncate(MAX_LISTED);
        Ok(ImportFolder { dir: Some(dir), files })
    }

    /// Reads a handoff file from disk as a stream and imports it (any size: memory is bounded per record).
    pub fn import_handoff_file(
        &mut self,
        session: &Session,
        path: &Path,
        clock: &dyn Clock,
    ) -> Result<ImportReport, ApiError> {
        session.require(Op::ImportHandoff)?;
        let meta = std::fs::metadata(path)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{} cannot be read: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(ApiError::new(ErrorCode::InvalidInput, format!("{} is not a file", path.display())));
        }
        let file = std::fs::File::open(path)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{} cannot be read: {e}", path.display())))?;
        self.import_handoff_reader(session, std::io::BufReader::with_capacity(1 << 20, file), clock)
    }

    /// Decodes the QR code of a scanned paper page (PNG, JPEG, or page `page` of a PDF) to its form, patient and
    /// episode, for the analyst to confirm before back-entering it.
    pub fn read_paper_scan(&self, session: &Session, path: &Path, page: u32) -> Result<paper::Payload, ApiError> {
        session.require(Op::Reconcile)?;
        crate::print::read::read_file(path, page).map_err(|e| {
            let code = match e {
                crate::print::read::ReadError::Io(_) => ErrorCode::Io,
                _ => ErrorCode::InvalidInput,
            };
            ApiError::new(code, e.to_string())
        })
    }

    /// How many entries "accept all matched" would accept now (matched, without an open duplicate proposal), so the
    /// analyst confirms a number before the bulk action.
    pub fn acceptable_count(&self, session: &Session) -> Result<usize, ApiError> {
        session.require(Op::Reconcile)?;
        Ok(reconcile::acceptable(self.vault()?.conn())?.len())
    }

    /// Writes the reconciliation report as CSV to `out` (atomically) and says where, with its SHA-256.
    pub fn write_reconciliation_csv(
        &mut self,
        session: &Session,
        out: &Path,
        clock: &dyn Clock,
    ) -> Result<FileWritten, ApiError> {
        let report = self.reconciliation_report(session, clock)?;
        let csv = report.to_csv();
        write_atomic(out, csv.as_bytes())?;
        Ok(FileWritten {
            path: out.to_path_buf(),
            sha256: crate::crypto::sha256_hex(csv.as_bytes()),
            bytes: csv.len() as u64,
        })
    }
}
