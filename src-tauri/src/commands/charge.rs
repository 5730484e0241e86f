//! The charge nurse's desk: declaring and ending the episode, severity, the checklist, status updates, incident
//! roles, the decision log, the timeline, the print centre (save, open, print with `lp`, with progress for
//! batches), emergency accounts, and the handoff file for HIM with the episode's unsigned entries listed first.
//! `episode_status` also feeds the banner of every workstation. Roles are checked in the core.
use super::Shell;
use crate::dto::{
    ChecklistStep, CommandError, Decision, DeclareEpisodeRequest, EmergencyUserCreated, EmergencyUserRequest,
    EntryChoice, EpisodeOptions, EpisodeStatus, EpisodeSummary, EpisodeTimeline, Escalation, FormChoice,
    HandoffExportRequest, HandoffExported, HandoffInfo, IncidentRole, PatientChoice, PrintCentreInfo, PrintJob,
    PrintProgress, PrintRequest, PrinterInfo, ResponseTargetCheck, RoleAssignment, RoleHolder, SavedPdf, Severity,
    SeverityOption, StatusUpdate, UnitOverdue, UnsignedEntry, UserCount,
};
use dtk::api::{self, Session, Workstation};
use dtk::clock::{stamp, Clock, SystemClock};
use dtk::procedures::{self as core_procedures, Event};
use std::path::{Path, PathBuf};
use tauri::ipc::Channel;

fn severity_in(s: Severity) -> core_procedures::Severity {
    match s {
        Severity::P1 => core_procedures::Severity::P1,
        Severity::P2 => core_procedures::Severity::P2,
        Severity::P3 => core_procedures::Severity::P3,
        Severity::P4 => core_procedures::Severity::P4,
    }
}

fn severity_out(s: core_procedures::Severity) -> Severity {
    match s {
        core_procedures::Severity::P1 => Severity::P1,
        core_procedures::Severity::P2 => Severity::P2,
        core_procedures::Severity::P3 => Severity::P3,
        core_procedures::Severity::P4 => Severity::P4,
    }
}

fn role_in(r: IncidentRole) -> core_procedures::IncidentRole {
    match r {
        IncidentRole::Commander => core_procedures::IncidentRole::Commander,
        IncidentRole::Liaison => core_procedures::IncidentRole::Liaison,
    }
}

fn role_out(r: core_procedures::IncidentRole) -> IncidentRole {
    match r {
        core_procedures::IncidentRole::Commander => IncidentRole::Commander,
        core_procedures::IncidentRole::Liaison => IncidentRole::Liaison,
    }
}

fn holder(a: core_procedures::Assigned) -> RoleHolder {
    RoleHolder { name: a.name, at: a.at, by: a.by }
}

fn decision(d: core_procedures::Decision) -> Decision {
    Decision { at: d.at, by: d.by, text: d.text }
}

pub(super) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn minutes(n: Option<i64>) -> Option<i32> {
    n.map(|m| i32::try_from(m).unwrap_or(if m < 0 { i32::MIN } else { i32::MAX }))
}

pub(super) fn episode_summary(e: dtk::episodes::Episode) -> EpisodeSummary {
    EpisodeSummary {
        drill: e.kind == dtk::episodes::Kind::Drill,
        id: e.id,
        unit: e.unit,
        started_at: e.started_at,
        started_by: e.started_by,
        ended_at: e.ended_at,
        ended_by: e.ended_by,
        declared_severity: e.declaration.severity.map(severity_out),
        affected: e.declaration.affected,
        impact: e.declaration.impact,
        reason: e.declaration.reason,
    }
}

fn step(s: core_procedures::StepState) -> ChecklistStep {
    let applies_to = s.step.applies_to();
    let phase = match s.step.phase {
        core_procedures::Phase::Declare => "declare",
        core_procedures::Phase::During => "during",
        core_procedures::Phase::Recovery => "recovery",
    };
    ChecklistStep {
        id: s.step.id,
        phase: phase.into(),
        role: super::role(s.step.role),
        text: s.step.text,
        due_at: s.due_at,
        done_at: s.done_at,
        done_by: s.done_by,
        overdue: s.overdue,
        applies: s.applies,
        applies_to,
    }
}

fn target(c: dtk::targets::TargetCheck) -> ResponseTargetCheck {
    ResponseTargetCheck {
        kind: c.kind.into(),
        label: c.label.clone(),
        severity: severity_out(c.severity),
        target_minutes: count(usize::try_from(c.target_minutes).unwrap_or(0)),
        result: c.result(),
        due_at: c.due_at,
        done_at: c.done_at,
        minutes: c.minutes.map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
        missed: c.missed,
    }
}

fn status_out(workstation: &Workstation, s: api::EpisodeStatus) -> EpisodeStatus {
    let updates = s
        .updates
        .into_iter()
        .filter_map(|r| match r.event {
            Event::StatusUpdate { text, next_update_due } => {
                Some(StatusUpdate { at: r.at, actor: r.actor, text, next_update_due })
            }
            _ => None,
        })
        .collect();
    EpisodeStatus {
        episode: episode_summary(s.episode),
        drill: s.drill,
        severity: s.severity.map(severity_out),
        severity_meaning: s.severity_meaning.map(str::to_owned),
        next_update_due: s.next_update_due,
        update_overdue: s.update_overdue,
        overdue_count: count(s.overdue_steps),
        checklist_title: workstation.checklist().title.clone(),
        checklist_problems: workstation.checklist_problems().iter().map(ToString::to_string).collect(),
        steps: s.steps.into_iter().map(step).collect(),
        updates,
        commander: s.roles.commander.map(holder),
        liaison: s.roles.liaison.map(holder),
        decisions: s.decisions.into_iter().map(decision).collect(),
        missed_targets: count(s.missed_targets),
        targets: s.targets.into_iter().map(target).collect(),
    }
}

pub(crate) fn current_status(
    workstation: &Workstation,
    session: &Session,
) -> Result<Option<EpisodeStatus>, CommandError> {
    Ok(workstation.episode_status(session, &SystemClock)?.map(|s| status_out(workstation, s)))
}

/// The open episode (None when there is none). Every role that reads the unit may ask: the banner uses it.
/// Also the charge desk's and the overdue notice's timer: passive, it keeps no session alive.
pub fn episode_status(shell: &Shell) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in_passive(|ws, session| current_status(ws, session))
}

/// Every patient's overdue doses (the charge desk's unit view), oldest first.
pub fn unit_overdue(shell: &Shell) -> Result<UnitOverdue, CommandError> {
    shell.signed_in(|ws, session| Ok(super::mar::unit(ws.unit_overdue(session, &SystemClock)?)))
}

pub fn episode_options(_shell: &Shell) -> Result<EpisodeOptions, CommandError> {
    use core_procedures::Severity as S;
    Ok(EpisodeOptions {
        severities: [S::P1, S::P2, S::P3, S::P4]
            .into_iter()
            .map(|s| SeverityOption { code: severity_out(s), meaning: s.meaning().to_owned() })
            .collect(),
        affected: core_procedures::KNOWN_AFFECTED.iter().map(|s| (*s).to_owned()).collect(),
    })
}

fn in_minutes(clock: &dyn Clock, m: u32) -> String {
    stamp(clock.now() + std::time::Duration::from_secs(u64::from(m) * 60))
}

pub fn declare_episode(shell: &Shell, request: DeclareEpisodeRequest) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        let DeclareEpisodeRequest { drill, severity, affected, impact, reason, next_update_minutes, began_minutes_ago } =
            request;
        let kind = if drill { dtk::episodes::Kind::Drill } else { dtk::episodes::Kind::Real };
        let declaration = dtk::episodes::Declaration {
            reason,
            severity: severity.map(severity_in),
            affected,
            impact,
            next_update_due: next_update_minutes.map(|m| in_minutes(&SystemClock, m)),
            began_at: began_minutes_ago
                .map(|m| stamp(SystemClock.now() - std::time::Duration::from_secs(u64::from(m) * 60))),
        };
        ws.start_episode(session, kind, declaration, &SystemClock)?;
        current_status(ws, session)
    })
}

pub fn change_severity(
    shell: &Shell,
    severity: Severity,
    note: Option<String>,
) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.change_severity(session, severity_in(severity), note, &SystemClock)?;
        current_status(ws, session)
    })
}

pub fn end_episode(shell: &Shell) -> Result<EpisodeSummary, CommandError> {
    shell.signed_in(|ws, session| Ok(episode_summary(ws.end_episode(session, &SystemClock)?)))
}

pub fn tick_step(shell: &Shell, step: String, note: Option<String>) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.tick_step(session, &step, note, &SystemClock)?;
        current_status(ws, session)
    })
}

pub fn untick_step(shell: &Shell, step: String, reason: String) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.untick_step(session, &step, &reason, &SystemClock)?;
        current_status(ws, session)
    })
}

pub fn draft_status_update(shell: &Shell) -> Result<String, CommandError> {
    shell.signed_in(|ws, session| Ok(ws.draft_status_update(session, &SystemClock)?))
}

pub fn save_status_update(
    shell: &Shell,
    text: String,
    next_update_minutes: Option<u32>,
) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.save_status_update(session, &text, next_update_minutes.map(i64::from), &SystemClock)?;
        current_status(ws, session)
    })
}

/// Records a decision with the open episode (who and when come from the session and the clock).
pub fn record_decision(shell: &Shell, text: String) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.record_decision(session, &text, &SystemClock)?;
        current_status(ws, session)
    })
}

/// Names the incident commander or the clinical liaison of the open episode.
pub fn assign_role(shell: &Shell, role: IncidentRole, name: String) -> Result<Option<EpisodeStatus>, CommandError> {
    shell.signed_in(|ws, session| {
        ws.assign_role(session, role_in(role), &name, &SystemClock)?;
        current_status(ws, session)
    })
}

pub fn episode_timeline(shell: &Shell) -> Result<EpisodeTimeline, CommandError> {
    shell.signed_in(|ws, session| {
        let t = ws.episode_timeline(session, None, &SystemClock)?;
        Ok(EpisodeTimeline {
            declared_at: t.declared_at,
            ended_at: t.ended_at,
            drill: t.drill,
            escalations: t
                .escalations
                .into_iter()
                .map(|(at, s)| Escalation { at, severity: severity_out(s) })
                .collect(),
            first_entry_at: t.first_entry_at,
            minutes_to_first_entry: minutes(t.minutes_to_first_entry),
            entries: count(t.entries),
            entries_per_hour: t.entries_per_hour,
            entries_per_user: t
                .entries_per_user
                .into_iter()
                .map(|(user, n)| UserCount { user, count: count(n) })
                .collect(),
            forms_printed: count(t.forms_printed),
            steps: t.steps.into_iter().map(step).collect(),
            missed: t.missed,
            minutes_to_recovery: minutes(t.minutes_to_recovery),
            status_updates: count(t.status_updates),
            roles: t
                .roles
                .into_iter()
                .map(|(r, a)| RoleAssignment { role: role_out(r), name: a.name, at: a.at, by: a.by })
                .collect(),
            decisions: t.decisions.into_iter().map(decision).collect(),
            contacts: t.contacts.into_iter().map(super::escalation::call).collect(),
        })
    })
}

pub fn print_centre_info(shell: &Shell) -> Result<PrintCentreInfo, CommandError> {
    shell.signed_in(|ws, session| {
        let mut forms: Vec<FormChoice> =
            ws.forms().forms().map(|f| FormChoice { id: f.canonical(), title: f.title.clone() }).collect();
        forms.sort_by(|a, b| a.title.cmp(&b.title));
        let patients = ws
            .patients(session)?
            .into_iter()
            .map(|p| PatientChoice {
                name: p.display_name(),
                mrn: p.record.mrn,
                birth_date: p.record.birth_date,
                location: p.record.location,
            })
            .collect();
        let printer = dtk::printer::status();
        let drill = ws.current_episode(session)?.is_some_and(|e| e.kind == dtk::episodes::Kind::Drill);
        Ok(PrintCentreInfo {
            forms,
            patients,
            folder: ws.print_folder().display().to_string(),
            printer: PrinterInfo { cups: printer.cups, default_printer: printer.default_printer },
            drill,
        })
    })
}

/// A patient's entries, newest first (the core audits this as a view of the patient).
pub fn printable_entries(shell: &Shell, mrn: String) -> Result<Vec<EntryChoice>, CommandError> {
    shell.signed_in(|ws, session| {
        let list = ws.list_entries(session, Some(&mrn), &SystemClock)?;
        Ok(list
            .into_iter()
            .map(|e| EntryChoice {
                form_title: ws.forms().get(&e.form).map(|f| f.title.clone()).unwrap_or_else(|| e.form.clone()),
                id: e.id,
                status: e.status.as_str().to_owned(),
                version: u32::try_from(e.version).unwrap_or(0),
                clinical_time: e.clinical_time,
                recorded_at: e.created_at,
                author: e.author,
            })
            .collect())
    })
}

fn saved(folder: &Path, what: &str, pdf: &dtk::print::Pdf) -> Result<SavedPdf, api::ApiError> {
    let path = api::save_pdf_in(folder, &api::pdf_file_name(what, SystemClock.now()), &pdf.bytes)?;
    Ok(SavedPdf { path: path.display().to_string(), pages: count(pdf.pages) })
}

/// Prints into PDFs in the folder asked for, reporting progress through `on_progress` for batches.
pub fn print_document(
    shell: &Shell,
    request: PrintRequest,
    on_progress: Channel<PrintProgress>,
) -> Result<Vec<SavedPdf>, CommandError> {
    shell.signed_in(|ws, session| {
        let folder = PathBuf::from(request.folder.trim());
        let clock = SystemClock;
        // A closed progress channel (the screen went away) must not stop the print.
        let mut report = |p: dtk::print::Progress| {
            let _ = on_progress.send(PrintProgress { done: count(p.done), total: count(p.total) });
        };
        let short = |form: &str| ws.find_form(form).map(|f| dtk::print::short_name(&f.url).to_owned());
        let out = match request.job {
            PrintJob::BlankUnit { form } => {
                let name = format!("blank-{}-unit", short(&form)?);
                let pdf = ws.print_blank(session, &form, api::BlankFor::Census, &clock, &mut report)?;
                vec![saved(&folder, &name, &pdf)?]
            }
            PrintJob::BlankPatient { form, mrn } => {
                let name = format!("blank-{}-patient", short(&form)?);
                let pdf = ws.print_blank(session, &form, api::BlankFor::Patient(&mrn), &clock, &mut report)?;
                vec![saved(&folder, &name, &pdf)?]
            }
            PrintJob::BlankUnlabelled { form } => {
                let name = format!("blank-{}", short(&form)?);
                let pdf = ws.print_blank(session, &form, api::BlankFor::Nobody, &clock, &mut report)?;
                vec![saved(&folder, &name, &pdf)?]
            }
            PrintJob::Mar => vec![saved(&folder, "downtime-mar", &ws.print_mar(session, &clock, &mut report)?)?],
            PrintJob::Census => vec![saved(&folder, "census-sheet", &ws.print_census(session, &clock)?)?],
            PrintJob::DrillReport => vec![saved(&folder, "drill-report", &ws.drill_report(session, None, &clock)?)?],
            PrintJob::StatusUpdate => {
                vec![saved(&folder, "status-update", &ws.print_status_update(session, &clock)?)?]
            }
            PrintJob::Handover { mrn } => vec![saved(&folder, "handover", &ws.print_handover(session, &mrn, &clock)?)?],
            PrintJob::Review { episode } => {
                vec![saved(&folder, "episode-review", &ws.review_report(session, Some(&episode), &clock)?)?]
            }
            PrintJob::ContactSheet => vec![saved(&folder, "contact-sheet", &ws.contact_sheet(session, &clock)?)?],
            PrintJob::Entries { ids } => {
                let total = ids.len();
                let mut files = Vec::with_capacity(total);
                for (i, id) in ids.iter().enumerate() {
                    let pdf = ws.print_entry(session, id, &clock)?;
                    files.push(saved(&folder, "entry", &pdf)?);
                    report(dtk::print::Progress { done: i + 1, total });
                }
                files
            }
        };
        Ok(out)
    })
}

/// Opens a saved PDF in the system viewer (only a real PDF file is handed over).
pub fn open_pdf(shell: &Shell, path: String) -> Result<(), CommandError> {
    shell.signed_in(|_, _| Ok(dtk::printer::open(Path::new(&path)).map_err(api::ApiError::from)?))
}

/// Sends a saved PDF to the default printer with `lp`; answers what `lp` said (the job id).
pub fn print_pdf(shell: &Shell, path: String) -> Result<String, CommandError> {
    shell.signed_in(|_, _| Ok(dtk::printer::print(Path::new(&path)).map_err(api::ApiError::from)?))
}

pub fn add_emergency_user(shell: &Shell, request: EmergencyUserRequest) -> Result<EmergencyUserCreated, CommandError> {
    shell.signed_in(|ws, session| {
        let req = api::EmergencyRequest {
            username: request.username.trim(),
            display_name: request.display_name.trim(),
            reason: &request.reason,
            hours: i64::from(request.hours),
        };
        let (info, password) = ws.add_emergency_user_with_one_time_password(session, &req, &SystemClock)?;
        Ok(EmergencyUserCreated {
            username: info.username,
            display_name: info.display_name,
            expires_at: info.expires_at,
            password: password.expose().to_owned(),
        })
    })
}

fn counts(list: impl IntoIterator<Item = (String, u64)>) -> Vec<UserCount> {
    list.into_iter().map(|(user, n)| UserCount { user, count: u32::try_from(n).unwrap_or(u32::MAX) }).collect()
}

/// The folder the handoff file goes into, and the episode's unsigned entries (the newest episode, as the export
/// takes it): author, form and age, for the charge nurse to have them signed before recovery.
pub fn handoff_info(shell: &Shell) -> Result<HandoffInfo, CommandError> {
    shell.signed_in(|ws, session| {
        let u = ws.unsigned_entries(session, None, &SystemClock)?;
        Ok(HandoffInfo {
            folder: ws.print_folder().display().to_string(),
            unsigned_total: u32::try_from(u.total()).unwrap_or(u32::MAX),
            unsigned_by_author: counts(u.by_author.into_iter().map(|c| (c.author, c.count))),
            unsigned: u
                .entries
                .into_iter()
                .map(|e| UnsignedEntry {
                    id: e.id,
                    author: e.author,
                    form_title: e.form_title,
                    created_at: e.created_at,
                    age_minutes: u32::try_from(e.age_minutes).unwrap_or(u32::MAX),
                })
                .collect(),
        })
    })
}

/// Writes the newest episode's handoff file into the folder asked for, named by the time only. Refused with
/// `unsigned_entries` while entries are unsigned, unless the request carries the charge nurse's confirmation.
pub fn export_handoff(shell: &Shell, request: HandoffExportRequest) -> Result<HandoffExported, CommandError> {
    shell.signed_in(|ws, session| {
        let name = api::pdf_file_name("handoff", SystemClock.now()).replace(".pdf", ".dtkh");
        let path = PathBuf::from(request.folder.trim()).join(name);
        let s = ws.export_handoff(session, &path, None, request.include_unsigned, &SystemClock)?;
        Ok(HandoffExported {
            path: path.display().to_string(),
            sequence: s.sequence,
            entries: count(s.entries),
            sha256: s.file_sha256,
            signer_fingerprint: s.signer_fingerprint,
            unsigned_left: counts(s.unsigned.into_iter().map(|c| (c.author, c.entries))),
        })
    })
}
