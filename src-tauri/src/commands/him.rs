//! The HIM desk's commands: the station's handoff key, importing handoff files, the worklist and its decisions,
//! paper back-entry, FHIR export and posting, the reconciliation report.
//!
//! Each command (`him_*`, at the end) only takes the signed-in workstation and session and calls the plain function
//! of the same name below, which converts DTOs and calls `dtk::api`. The plain functions are public so `tests/him.rs`
//! drives the exact path the app takes (for example, that a drill episode is refused) without a window.
use super::{from_api, Shell};
use crate::dto::{
    AnswerLine, CommandError, DuplicateProposal, EntryCard, ErrorCode, FhirBatch, FhirPostProgress, FhirPostReport,
    FhirReadback, FileWritten, HandoffConflict, HandoffFile, HandoffFolder, HandoffImportOutcome, HandoffImported,
    HimKey, PaperEntered, PaperEntryOutcome, PaperEntryRequest, PaperEpisode, PaperPageEntered, PaperScan, PostedLine,
    ReadbackProblem, ReconState, ReconSummary, SideBySide, TypeCount, UserCount, WorklistItem, WorklistPage,
    WorklistQuery,
};
use dtk::api::{Assignment, Dose, PaperAnswers, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::reconcile::{self, State as Core};
use std::path::Path;

fn count(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

fn state(s: Core) -> ReconState {
    match s {
        Core::Pending => ReconState::Pending,
        Core::Matched => ReconState::Matched,
        Core::Accepted => ReconState::Accepted,
        Core::Duplicate => ReconState::Duplicate,
        Core::Rejected => ReconState::Rejected,
        Core::NeedsCorrection => ReconState::NeedsCorrection,
        Core::Exported => ReconState::Exported,
        Core::Posted => ReconState::Posted,
        Core::Refused => ReconState::Refused,
        Core::EnteredByHand => ReconState::EnteredByHand,
    }
}

fn core_state(s: ReconState) -> Core {
    match s {
        ReconState::Pending => Core::Pending,
        ReconState::Matched => Core::Matched,
        ReconState::Accepted => Core::Accepted,
        ReconState::Duplicate => Core::Duplicate,
        ReconState::Rejected => Core::Rejected,
        ReconState::NeedsCorrection => Core::NeedsCorrection,
        ReconState::Exported => Core::Exported,
        ReconState::Posted => Core::Posted,
        ReconState::Refused => Core::Refused,
        ReconState::EnteredByHand => Core::EnteredByHand,
    }
}

/// Blank filter fields mean "any".
fn given(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn path_of(p: &Path) -> String {
    p.display().to_string()
}

pub fn keygen(ws: &mut Workstation, session: &Session) -> Result<HimKey, CommandError> {
    let k = ws.handoff_keygen(session, &SystemClock).map_err(from_api)?;
    Ok(HimKey { public_key: k.public_key, fingerprint: k.fingerprint, created: k.created })
}

pub fn import_folder(ws: &mut Workstation, session: &Session) -> Result<HandoffFolder, CommandError> {
    let folder = ws.handoff_import_folder(session).map_err(from_api)?;
    Ok(HandoffFolder {
        dir: folder.dir.as_deref().map(path_of),
        files: folder
            .files
            .into_iter()
            .map(|f| HandoffFile { name: f.name, path: path_of(&f.path), bytes: f.bytes })
            .collect(),
        shares: folder.shares.into_iter().map(super::him_share::copy).collect(),
        share_only: folder.share_only.into_iter().map(super::him_share::only).collect(),
    })
}

/// Imports each file on its own: one refused file does not stop the others, and each gets its own result.
pub fn import_files(ws: &mut Workstation, session: &Session, paths: Vec<String>) -> Vec<HandoffImportOutcome> {
    paths
        .into_iter()
        .map(|path| match ws.import_handoff_file(session, Path::new(path.trim()), &SystemClock) {
            Ok(r) => HandoffImportOutcome {
                path,
                imported: Some(HandoffImported {
                    workstation: r.workstation,
                    episode: r.episode,
                    sequence: r.sequence,
                    file_sha256: r.file_sha256,
                    signer_fingerprint: r.signer_fingerprint,
                    already_imported: r.already_imported,
                    new_entries: count(r.new_entries),
                    new_versions: count(r.new_versions),
                    unchanged_versions: count(r.unchanged_versions),
                    new_patients: count(r.new_patients),
                    new_audit_rows: count(r.new_audit_rows),
                    conflicts: r
                        .conflicts
                        .into_iter()
                        .map(|c| HandoffConflict { entry_id: c.entry_id, version: count(c.version) as i32 })
                        .collect(),
                    pending: count(r.pending),
                    duplicate_proposals: count(r.duplicate_proposals),
                    unsigned_left: r.unsigned.map(|list| {
                        list.into_iter()
                            .map(|c| UserCount { user: c.author, count: u32::try_from(c.entries).unwrap_or(u32::MAX) })
                            .collect()
                    }),
                    restored_from: r.restored_from,
                }),
                refused: None,
            },
            Err(e) => HandoffImportOutcome { path, imported: None, refused: Some(from_api(e)) },
        })
        .collect()
}

fn item(i: reconcile::WorkItem) -> WorklistItem {
    WorklistItem {
        entry_id: i.entry_id,
        state: state(i.state),
        duplicate_of: i.duplicate_of,
        batch_id: i.batch_id,
        reason: i.reason,
        workstation: i.workstation,
        episode_id: i.episode_id,
        paper: i.origin == dtk::entries::Origin::Paper,
        form: i.form,
        entry_status: i.status.as_str().to_owned(),
        version: count(i.version) as i32,
        author: i.author,
        patient_name: i.patient.name,
        birth_date: i.patient.birth_date,
        mrn: i.patient.mrn,
        location: i.patient.location,
        matched_mrn: i.matched_mrn,
        clinical_time: i.clinical_time,
        medication: i.medication,
        paper_page: i.paper_page,
        proposed_duplicates: i.proposed_duplicates,
        decided_by: i.decided_by,
        decided_at: i.decided_at,
    }
}

pub fn worklist(ws: &mut Workstation, session: &Session, q: WorklistQuery) -> Result<WorklistPage, CommandError> {
    let query = dtk::api::WorklistQuery {
        state: q.state.map(core_state),
        mrn: given(q.mrn),
        form: given(q.form),
        workstation: given(q.workstation),
        episode: None,
        status: None,
        limit: q.limit as usize,
        offset: q.offset as usize,
    };
    let page = ws.worklist(session, &query).map_err(from_api)?;
    Ok(WorklistPage {
        total: count(page.total),
        offset: count(page.offset),
        items: page.items.into_iter().map(item).collect(),
    })
}

pub fn summary(ws: &mut Workstation, session: &Session) -> Result<ReconSummary, CommandError> {
    let s = ws.reconcile_summary(session).map_err(from_api)?;
    let acceptable = ws.acceptable_count(session).map_err(from_api)?;
    let n = |k: Core| count(s.by_state.get(k.as_str()).copied().unwrap_or(0));
    Ok(ReconSummary {
        total: count(s.total),
        pending: n(Core::Pending),
        matched: n(Core::Matched),
        accepted: n(Core::Accepted),
        duplicate: n(Core::Duplicate),
        rejected: n(Core::Rejected),
        needs_correction: n(Core::NeedsCorrection),
        exported: n(Core::Exported),
        posted: n(Core::Posted),
        refused: n(Core::Refused),
        entered_by_hand: n(Core::EnteredByHand),
        open: count(s.open),
        open_duplicate_proposals: count(s.open_duplicate_proposals),
        conflicts: count(s.conflicts),
        acceptable: count(acceptable),
    })
}

pub fn proposals(ws: &mut Workstation, session: &Session) -> Result<Vec<DuplicateProposal>, CommandError> {
    Ok(ws
        .duplicate_proposals(session, true)
        .map_err(from_api)?
        .into_iter()
        .map(|p| DuplicateProposal {
            entry_id: p.entry_id,
            other_id: p.other_id,
            status: p.status,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
        })
        .collect())
}

fn card(c: reconcile::Card) -> EntryCard {
    EntryCard {
        entry_id: c.entry_id,
        workstation: c.workstation,
        paper: c.origin == dtk::entries::Origin::Paper,
        author: c.author,
        form: c.form,
        entry_status: c.status.as_str().to_owned(),
        version: count(c.version) as i32,
        state: state(c.state),
        recorded_at: c.recorded_at,
        clinical_time: c.clinical_time,
        patient_name: c.patient.name,
        birth_date: c.patient.birth_date,
        mrn: c.patient.mrn,
        medication: c.medication,
        answers: c.answers.into_iter().map(|(link_id, text)| AnswerLine { link_id, text }).collect(),
    }
}

pub fn side_by_side(ws: &mut Workstation, session: &Session, a: &str, b: &str) -> Result<SideBySide, CommandError> {
    let v = ws.side_by_side(session, a, b, &SystemClock).map_err(from_api)?;
    Ok(SideBySide { left: card(v.left), right: card(v.right), differences: v.differences })
}

pub fn read_scan(ws: &mut Workstation, session: &Session, path: &str) -> Result<PaperScan, CommandError> {
    let payload = ws.read_paper_scan(session, Path::new(path.trim()), 1).map_err(from_api)?;
    let form_title = ws.find_form(&payload.form).ok().map(|f| f.title.clone());
    Ok(PaperScan {
        qr: payload.to_text(),
        mar: payload.form == dtk::paper::MAR_FORM,
        form: payload.form,
        form_title,
        mrn: payload.mrn,
        episode: payload.episode,
        entry: payload.entry,
        unit: payload.unit,
    })
}

fn paper_episode(e: dtk::episodes::Episode) -> PaperEpisode {
    PaperEpisode {
        paper_only: e.paper_only.is_some(),
        id: e.id,
        unit: e.unit,
        started_at: e.started_at,
        ended_at: e.ended_at,
    }
}

/// The station's episodes a page can be put into (not drills): every unit's, newest first as the core lists them.
pub fn episodes(ws: &mut Workstation, session: &Session) -> Result<Vec<PaperEpisode>, CommandError> {
    let list = ws.episodes(session).map_err(from_api)?;
    Ok(list.into_iter().filter(|e| e.kind != dtk::episodes::Kind::Drill).map(paper_episode).collect())
}

/// What the analyst typed, as the core takes it: doses make a MAR page, a response and author a form.
fn answers(request: &mut PaperEntryRequest) -> Result<PaperAnswers, CommandError> {
    match (request.doses.take(), request.response.take()) {
        (Some(doses), None) => Ok(PaperAnswers::Mar(
            doses
                .into_iter()
                .map(|d| Dose {
                    medication: d.medication,
                    dose: d.dose,
                    route: d.route,
                    time: d.time,
                    initials: d.initials,
                    name: d.name,
                })
                .collect(),
        )),
        (None, Some(response)) => Ok(PaperAnswers::Form {
            response,
            author: request.author.take().unwrap_or_default(),
            clinical_time: given(request.clinical_time.take()),
        }),
        _ => Err(CommandError::new(
            ErrorCode::InvalidInput,
            "Give either the form's answers (a form page) or the doses read from it (a MAR page), not both.",
        )),
    }
}

/// Where the page's entries go: an episode of the station, a new paper-only episode, or the one its code names.
fn assignment(request: &mut PaperEntryRequest) -> Result<Assignment, CommandError> {
    match (given(request.episode.take()), given(request.paper_episode_unit.take())) {
        (Some(_), Some(_)) => Err(CommandError::new(
            ErrorCode::InvalidInput,
            "Choose an episode of the station or a new paper-only episode, not both.",
        )),
        (Some(id), None) => Ok(Assignment::Episode(id)),
        (None, Some(unit)) => {
            Ok(Assignment::PaperOnly { unit, period: request.period.take().map(|p| (p.start, p.end)) })
        }
        (None, None) => Ok(Assignment::FromQr),
    }
}

pub fn back_enter(
    ws: &mut Workstation,
    session: &Session,
    mut request: PaperEntryRequest,
) -> Result<PaperEntryOutcome, CommandError> {
    let payload = dtk::paper::Payload::parse(&request.qr)
        .map_err(|e| CommandError::new(ErrorCode::InvalidInput, format!("The page's QR code: {e}")))?;
    let answers = answers(&mut request)?;
    let assignment = assignment(&mut request)?;
    match ws.back_enter_page(session, &payload, &answers, &assignment, &SystemClock) {
        Ok(done) => Ok(PaperEntryOutcome {
            entered: Some(PaperPageEntered {
                entries: done
                    .entries
                    .into_iter()
                    .map(|e| PaperEntered {
                        entry_id: e.saved.id,
                        version: count(e.saved.version) as i32,
                        stored_at: e.stored_at,
                    })
                    .collect(),
                episode_id: done.episode_id,
                paper_episode: done.paper_episode.map(paper_episode),
                page: done.page,
            }),
            findings: Vec::new(),
        }),
        // The answers themselves were refused: the findings go back by linkId, to show beside each field.
        Err(e) if !e.findings.is_empty() => {
            Ok(PaperEntryOutcome { entered: None, findings: e.findings.iter().map(super::nurse::finding).collect() })
        }
        Err(e) => Err(from_api(e)),
    }
}

fn batch(b: dtk::api::BatchExported) -> FhirBatch {
    FhirBatch {
        batch_id: b.batch_id,
        entries: count(b.entries),
        sha256: b.sha256,
        bytes: b.bytes,
        path: path_of(&b.path),
    }
}

pub fn export_fhir(ws: &mut Workstation, session: &Session, path: &str) -> Result<FhirBatch, CommandError> {
    ws.export_fhir(session, Path::new(path.trim()), &SystemClock).map(batch).map_err(from_api)
}

fn post_report(r: dtk::api::PostReport) -> FhirPostReport {
    let lines = |v: Vec<(String, String)>| {
        v.into_iter().map(|(entry_id, text)| PostedLine { entry_id, text }).collect::<Vec<_>>()
    };
    FhirPostReport {
        batch_id: r.batch_id,
        server: r.server,
        posted: lines(r.posted),
        failed: lines(r.failed),
        already_posted: count(r.already_posted),
    }
}

/// The desk's post: each step takes the shell's one lock for its own length (the plan, each transaction's bytes,
/// each answer's record) and nothing holds it while a transaction is on the network, so the rest of the app
/// (the banner's poll, the worklist, another analyst's sign-in) goes on while a slow EHR answers.
struct ShellStore<'a> {
    shell: &'a Shell,
    batch_id: &'a str,
    server: String,
}

impl dtk::fhir::PostStore for ShellStore<'_> {
    type Error = dtk::api::ApiError;

    fn build(&mut self, part: &dtk::fhir::Part) -> Result<dtk::fhir::Transaction, Self::Error> {
        self.shell.signed_in(|ws, s| Ok(ws.fhir_post_build(s, self.batch_id, part))).map_err(signed_out)?
    }

    fn record(&mut self, outcome: &dtk::fhir::PostOutcome) -> Result<(), Self::Error> {
        let (batch, server) = (self.batch_id, &self.server);
        self.shell
            .signed_in(|ws, s| Ok(ws.fhir_post_record(s, batch, server, outcome, &SystemClock)))
            .map_err(signed_out)?
    }
}

/// The analyst signed out (or the screen locked) during the post: it stops; what was recorded stays.
fn signed_out(e: CommandError) -> dtk::api::ApiError {
    dtk::api::ApiError::new(dtk::api::ErrorCode::Forbidden, e.message)
}

pub fn him_fhir_servers(shell: &Shell) -> Result<Vec<String>, CommandError> {
    shell.signed_in(|ws, s| ws.fhir_servers(s).map_err(from_api))
}

/// Posts a batch to a server of the site's allowlist, chosen by name; `token` is a bearer token the analyst typed
/// for this post only (never stored, dropped when the post ends).
pub fn him_post_fhir(
    shell: &Shell,
    batch_id: String,
    server: String,
    token: Option<String>,
) -> Result<FhirPostReport, CommandError> {
    use std::sync::atomic::Ordering::SeqCst;
    let credentials = bearer(token);
    let progress = &shell.post_progress;
    if progress.running.swap(true, SeqCst) {
        return Err(CommandError::new(ErrorCode::Conflict, "A post is already running; wait for it to finish."));
    }
    let result = (|| {
        let (plan, client) = shell.signed_in(|ws, s| {
            let client = ws.fhir_client(s, &server, credentials).map_err(from_api)?;
            let plan = ws.fhir_post_plan(s, &batch_id, dtk::api::POST_ENTRIES_PER_TRANSACTION).map_err(from_api)?;
            Ok((plan, client))
        })?;
        let mut store = ShellStore { shell, batch_id: &batch_id, server: client.base_url().to_string() };
        let mut show = |p: dtk::api::Progress| {
            progress.sent.store(p.sent, SeqCst);
            progress.accepted.store(p.accepted, SeqCst);
            progress.refused.store(p.refused, SeqCst);
            progress.remaining.store(p.remaining, SeqCst);
        };
        dtk::api::post_planned(&mut store, plan, &client, dtk::fhir::POSTS_IN_FLIGHT, &mut show)
            .map(post_report)
            .map_err(from_api)
    })();
    progress.running.store(false, SeqCst);
    result
}

pub fn him_post_progress(shell: &Shell) -> Result<FhirPostProgress, CommandError> {
    use std::sync::atomic::Ordering::SeqCst;
    let p = &shell.post_progress;
    Ok(FhirPostProgress {
        running: p.running.load(SeqCst),
        sent: count(p.sent.load(SeqCst)),
        accepted: count(p.accepted.load(SeqCst)),
        refused: count(p.refused.load(SeqCst)),
        remaining: count(p.remaining.load(SeqCst)),
    })
}

/// Reads a posted batch back from the server it was posted to (issue 15 item 4), through the site's client for that
/// server with the analyst's token (or the station's SMART key), taking the shell's lock per step and never while a
/// search waits on the server.
pub fn him_verify_fhir(shell: &Shell, batch_id: String, token: Option<String>) -> Result<FhirReadback, CommandError> {
    let credentials = bearer(token);
    let (plan, client) =
        shell.signed_in(|ws, s| ws.fhir_readback_start(s, &batch_id, credentials, &SystemClock).map_err(from_api))?;
    let r = dtk::fhir::run_readback(&mut ShellReadback { shell }, plan, &client).map_err(from_api)?;
    let problems = r
        .problems
        .iter()
        .flat_map(|e| {
            e.problems.iter().map(|p| ReadbackProblem {
                entry_id: e.entry_id.clone(),
                state: e.state.as_str().to_owned(),
                text: p.describe(),
            })
        })
        .collect();
    Ok(FhirReadback {
        all_present: r.all_present(),
        batch_id: r.batch_id,
        server: r.server,
        entries: count(r.entries),
        verified: count(r.verified),
        resources: count(r.resources),
        found_per_type: r
            .found_per_type
            .into_iter()
            .map(|(resource_type, n)| TypeCount { resource_type, count: count(n) })
            .collect(),
        audit_event: count(r.audit_event),
        audit_event_expected: r.audit_event_expected,
        not_posted: count(r.not_posted),
        problems,
    })
}

/// The read-back's vault steps, each under the shell's lock for its own length only.
struct ShellReadback<'a> {
    shell: &'a Shell,
}

impl dtk::fhir::ReadbackStore for ShellReadback<'_> {
    type Error = dtk::api::ApiError;

    fn round(
        &mut self,
        plan: &dtk::fhir::ReadbackPlan,
        round: &[(String, i64)],
    ) -> Result<dtk::fhir::RoundWanted, Self::Error> {
        self.shell.signed_in(|ws, s| Ok(ws.fhir_readback_round(s, plan, round))).map_err(signed_out)?
    }

    fn record(&mut self, batch_id: &str, rows: &[dtk::api::EntryReadback]) -> Result<(), Self::Error> {
        self.shell
            .signed_in(|ws, s| Ok(ws.fhir_readback_record(s, batch_id, rows, &SystemClock)))
            .map_err(signed_out)?
    }

    fn finish(&mut self, r: &dtk::api::Readback) -> Result<(), Self::Error> {
        self.shell.signed_in(|ws, s| Ok(ws.fhir_readback_finish(s, r, &SystemClock))).map_err(signed_out)?
    }
}

/// A token the analyst typed for this post or read-back (kept for that call only), or none.
fn bearer(token: Option<String>) -> dtk::api::Credentials {
    match token.map(dtk::api::Secret::new) {
        Some(t) if !t.is_empty() => dtk::api::Credentials::Bearer(t),
        _ => dtk::api::Credentials::None,
    }
}

pub fn report_csv(ws: &mut Workstation, session: &Session, path: &str) -> Result<FileWritten, CommandError> {
    let w = ws.write_reconciliation_csv(session, Path::new(path.trim()), &SystemClock).map_err(from_api)?;
    Ok(FileWritten { path: path_of(&w.path), sha256: w.sha256, bytes: w.bytes })
}

/// The reconciliation report as a PDF (summary, entries, per-episode timelines), written where the analyst asked.
pub fn report_pdf(ws: &mut Workstation, session: &Session, path: &str) -> Result<FileWritten, CommandError> {
    if path.trim().is_empty() {
        return Err(CommandError::new(ErrorCode::InvalidInput, "Type the path of the PDF file to write."));
    }
    let out = Path::new(path.trim());
    let (_, pdf) = ws.reconciliation_report_pdf(session, &SystemClock).map_err(from_api)?;
    dtk::api::save_pdf(out, &pdf.bytes).map_err(from_api)?;
    Ok(FileWritten { path: path_of(out), sha256: dtk::crypto::sha256_hex(&pdf.bytes), bytes: pdf.bytes.len() as u64 })
}

pub fn him_keygen(shell: &Shell) -> Result<HimKey, CommandError> {
    shell.signed_in(keygen)
}

pub fn him_import_folder(shell: &Shell) -> Result<HandoffFolder, CommandError> {
    shell.signed_in(import_folder)
}

pub fn him_import_files(shell: &Shell, paths: Vec<String>) -> Result<Vec<HandoffImportOutcome>, CommandError> {
    shell.signed_in(|ws, s| Ok(import_files(ws, s, paths)))
}

pub fn him_worklist(shell: &Shell, query: WorklistQuery) -> Result<WorklistPage, CommandError> {
    shell.signed_in(|ws, s| worklist(ws, s, query))
}

pub fn him_summary(shell: &Shell) -> Result<ReconSummary, CommandError> {
    shell.signed_in(summary)
}

pub fn him_match(shell: &Shell, entry_id: String, mrn: String) -> Result<Vec<String>, CommandError> {
    shell.signed_in(|ws, s| ws.match_patient(s, &entry_id, mrn.trim(), &SystemClock).map_err(from_api))
}

pub fn him_accept(shell: &Shell, entry_ids: Vec<String>) -> Result<u32, CommandError> {
    shell.signed_in(|ws, s| ws.accept(s, &entry_ids, &SystemClock).map(count).map_err(from_api))
}

pub fn him_accept_all_matched(shell: &Shell) -> Result<u32, CommandError> {
    shell.signed_in(|ws, s| ws.accept_all_matched(s, &SystemClock).map(count).map_err(from_api))
}

pub fn him_reject(shell: &Shell, entry_id: String, reason: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, s| ws.reject(s, &entry_id, &reason, &SystemClock).map_err(from_api))
}

pub fn him_needs_correction(shell: &Shell, entry_id: String, reason: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, s| ws.needs_correction(s, &entry_id, &reason, &SystemClock).map_err(from_api))
}

/// Sends entries the EHR refused again: back to accepted, for the next export batch.
pub fn him_repost(shell: &Shell, entry_ids: Vec<String>, note: Option<String>) -> Result<u32, CommandError> {
    let note = given(note);
    shell.signed_in(|ws, s| ws.repost(s, &entry_ids, note.as_deref(), &SystemClock).map(count).map_err(from_api))
}

/// Records that an entry the EHR refused was entered by hand there: who, when (RFC 3339), where.
pub fn him_entered_by_hand(
    shell: &Shell,
    entry_id: String,
    by: String,
    at: String,
    place: String,
) -> Result<(), CommandError> {
    let hand = dtk::api::HandEntry { by, at, place };
    shell.signed_in(|ws, s| ws.entered_by_hand(s, &entry_id, &hand, &SystemClock).map_err(from_api))
}

pub fn him_mark_duplicate(shell: &Shell, entry_id: String, of: String) -> Result<(), CommandError> {
    shell.signed_in(|ws, s| ws.mark_duplicate(s, &entry_id, &of, &SystemClock).map_err(from_api))
}

pub fn him_dismiss_duplicate(
    shell: &Shell,
    entry_id: String,
    other: String,
    reason: String,
) -> Result<(), CommandError> {
    shell.signed_in(|ws, s| ws.dismiss_duplicate(s, &entry_id, &other, &reason, &SystemClock).map_err(from_api))
}

pub fn him_duplicate_proposals(shell: &Shell) -> Result<Vec<DuplicateProposal>, CommandError> {
    shell.signed_in(proposals)
}

pub fn him_side_by_side(shell: &Shell, a: String, b: String) -> Result<SideBySide, CommandError> {
    shell.signed_in(|ws, s| side_by_side(ws, s, &a, &b))
}

pub fn him_read_scan(shell: &Shell, path: String) -> Result<PaperScan, CommandError> {
    shell.signed_in(|ws, s| read_scan(ws, s, &path))
}

pub fn him_episodes(shell: &Shell) -> Result<Vec<PaperEpisode>, CommandError> {
    shell.signed_in(episodes)
}

pub fn him_back_enter(shell: &Shell, request: PaperEntryRequest) -> Result<PaperEntryOutcome, CommandError> {
    shell.signed_in(|ws, s| back_enter(ws, s, request))
}

pub fn him_export_fhir(shell: &Shell, path: String) -> Result<FhirBatch, CommandError> {
    shell.signed_in(|ws, s| export_fhir(ws, s, &path))
}

pub fn him_latest_batch(shell: &Shell) -> Result<Option<String>, CommandError> {
    shell.signed_in(|ws, s| ws.latest_batch(s).map_err(from_api))
}

pub fn him_report_csv(shell: &Shell, path: String) -> Result<FileWritten, CommandError> {
    shell.signed_in(|ws, s| report_csv(ws, s, &path))
}

pub fn him_report_pdf(shell: &Shell, path: String) -> Result<FileWritten, CommandError> {
    shell.signed_in(|ws, s| report_pdf(ws, s, &path))
}
