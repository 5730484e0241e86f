//! The downtime procedure in the façade: declaring with severity, changing it, ticking the unit's checklist,
//! drafting and keeping status updates, and the episode timeline for after-action review.

use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{stamp, Clock};
use crate::entries;
use crate::episodes::{self, Episode, EpisodeError, Kind};
use crate::procedures::{
    self, Checklist, ChecklistProblem, Decision, Event, IncidentRole, IncidentRoles, Recorded, Severity, StepState,
    Timeline,
};

/// What the banner and the charge nurse's screen show about the open episode.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeStatus {
    pub episode: Episode,
    pub drill: bool,
    pub severity: Option<Severity>,
    pub severity_meaning: Option<&'static str>,
    pub next_update_due: Option<String>,
    pub update_overdue: bool,
    pub steps: Vec<StepState>,
    pub overdue_steps: usize,
    pub updates: Vec<Recorded>,
    /// The site's response targets measured so far (issue 21 item 3), and how many are missed.
    pub targets: Vec<crate::targets::TargetCheck>,
    pub missed_targets: usize,
    /// Who is incident commander and clinical liaison now (the banner shows them).
    pub roles: IncidentRoles,
    /// The episode's decisions, newest first (as the charge desk lists them).
    pub decisions: Vec<Decision>,
}

impl Workstation {
    pub fn checklist(&self) -> &Checklist {
        &self.checklist
    }

    /// Why the site's checklist file was not used, if it was not.
    pub fn checklist_problems(&self) -> &[ChecklistProblem] {
        &self.checklist_problems
    }

    fn open_episode(&self, session: &Session) -> Result<Episode, ApiError> {
        episodes::current(self.vault()?.conn(), session.keys())?.ok_or_else(|| EpisodeError::NoneOpen.into())
    }

    /// The open episode with its severity, checklist and update status at `clock.now()`.
    pub fn episode_status(&self, session: &Session, clock: &dyn Clock) -> Result<Option<EpisodeStatus>, ApiError> {
        session.require(Op::ReadUnit).or_else(|_| session.require(Op::ManageEpisode))?;
        let conn = self.vault()?.conn();
        let Some(episode) = episodes::current(conn, session.keys())? else { return Ok(None) };
        let events = with_peers(episodes::events(conn, session.keys(), &episode.id)?, conn, session.keys(), &episode)?;
        let now = clock.now();
        let declared = crate::clock::parse_stamp(&episode.started_at).unwrap_or(now);
        let outage = procedures::Outage {
            declared_severity: episode.declaration.severity,
            affected: &episode.declaration.affected,
        };
        let steps = procedures::checklist_state(&self.checklist, declared, outage, &events, now);
        let severity = procedures::current_severity(episode.declaration.severity, &events);
        let next = procedures::next_update_due(episode.declaration.next_update_due.as_deref(), &events);
        let update_overdue = next.as_deref().and_then(crate::clock::parse_stamp).is_some_and(|t| t < now);
        let first_entry_at = episodes::first_entry_at(conn, &episode.id)?;
        let targets = crate::targets::response_targets(&crate::targets::TargetFacts {
            targets: &self.site.response_targets,
            declared_at: declared,
            declared_severity: episode.declaration.severity,
            began_at: episode.declaration.began_at.as_deref(),
            changes: procedures::severity_changes(&events),
            updates: procedures::update_times(&events),
            first_entry_at: first_entry_at.as_deref(),
            until: now,
        });
        Ok(Some(EpisodeStatus {
            drill: episode.kind == Kind::Drill,
            severity,
            severity_meaning: severity.map(Severity::meaning),
            next_update_due: next,
            update_overdue,
            overdue_steps: steps.iter().filter(|s| s.overdue).count() + usize::from(update_overdue),
            steps,
            roles: procedures::incident_roles(&events),
            decisions: procedures::decisions(&events).into_iter().rev().collect(),
            updates: events.into_iter().filter(|r| matches!(r.event, Event::StatusUpdate { .. })).collect(),
            missed_targets: targets.iter().filter(|t| t.missed).count(),
            targets,
            episode,
        }))
    }

    pub(super) fn record(&mut self, session: &Session, event: Event, clock: &dyn Clock) -> Result<Recorded, ApiError> {
        session.require(Op::ManageEpisode)?;
        if let Some(problem) = procedures::event_problem(&event) {
            let what = match event {
                Event::Decision { .. } => "decision",
                Event::Role { .. } => "name",
                _ => "note or update",
            };
            return Err(ApiError::new(ErrorCode::InvalidInput, format!("the {what} is {problem}")));
        }
        let episode = self.open_episode(session)?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| episodes::record(tx, &episode.id, &event))?
            .into_value())
    }

    /// Changes the severity of the open episode (audited; the banner shows the new level).
    pub fn change_severity(
        &mut self,
        session: &Session,
        severity: Severity,
        note: Option<String>,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        self.record(session, Event::Severity { severity, note }, clock)
    }

    /// Ticks a checklist step as done, with who and when.
    pub fn tick_step(
        &mut self,
        session: &Session,
        step: &str,
        note: Option<String>,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        if !self.checklist.steps.iter().any(|s| s.id == step) {
            return Err(ApiError::new(ErrorCode::NotFound, format!("the checklist has no step '{step}'")));
        }
        self.record(session, Event::StepDone { step: step.into(), note }, clock)
    }

    /// Takes back a tick made by mistake (kept in the history, with the reason).
    pub fn untick_step(
        &mut self,
        session: &Session,
        step: &str,
        reason: &str,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        if reason.trim().is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "a reason is required to take back a tick"));
        }
        self.record(session, Event::StepUndone { step: step.into(), reason: reason.trim().into() }, clock)
    }

    /// A plain-language status update drafted from the open episode, for the charge nurse to edit.
    pub fn draft_status_update(&self, session: &Session, clock: &dyn Clock) -> Result<String, ApiError> {
        session.require(Op::ManageEpisode)?;
        let status = self.episode_status(session, clock)?.ok_or_else(|| ApiError::from(EpisodeError::NoneOpen))?;
        let conn = self.vault()?.conn();
        let filter = entries::Filter { episode_id: Some(status.episode.id.clone()), ..Default::default() };
        let count = entries::list(conn, session.keys(), &filter)?.len();
        let unit = self.unit().unwrap_or_else(|| status.episode.unit.clone());
        Ok(procedures::draft_status_update(&procedures::UpdateFacts {
            unit: &unit,
            drill: status.drill,
            declared_at: &status.episode.started_at,
            severity: status.severity,
            affected: &status.episode.declaration.affected,
            impact: status.episode.declaration.impact.as_deref(),
            steps: &status.steps,
            entries: count,
            next_update_due: status.next_update_due.as_deref(),
            roles: &status.roles,
            decisions: &status.decisions.iter().rev().cloned().collect::<Vec<_>>(),
            contacts: &procedures::contact_calls(&episodes::events(conn, session.keys(), &status.episode.id)?),
            now: clock.now(),
        }))
    }

    /// Keeps a status update (as edited) with the episode and sets the next update time.
    pub fn save_status_update(
        &mut self,
        session: &Session,
        text: &str,
        next_in_minutes: Option<i64>,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        if text.trim().is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "the status update is empty"));
        }
        let next = next_in_minutes.map(|m| stamp(clock.now() + time::Duration::minutes(m)));
        self.record(session, Event::StatusUpdate { text: text.to_string(), next_update_due: next }, clock)
    }

    /// Records a decision of the unit with the open episode ("switched to paper MAR for ICU"), with who and when;
    /// audited as `episode.decision` and handed off to HIM. A decision is never edited or deleted: a correction is
    /// a new decision. Refused when empty, over [`procedures::MAX_DECISION_CHARS`] characters, on several lines, or
    /// holding control characters; the error never repeats the text.
    pub fn record_decision(&mut self, session: &Session, text: &str, clock: &dyn Clock) -> Result<Recorded, ApiError> {
        session.require(Op::ManageEpisode)?;
        let text = text.trim();
        let problem = if text.is_empty() {
            Some("the decision is empty: say what was decided".to_string())
        } else if text.chars().count() > procedures::MAX_DECISION_CHARS {
            Some(format!(
                "the decision is {} characters long; keep it to {} (a line or two) and record more as another decision",
                text.chars().count(),
                procedures::MAX_DECISION_CHARS
            ))
        } else if text.contains(['\n', '\r']) {
            Some("the decision must be one line; record each decision on its own".into())
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(ApiError::new(ErrorCode::InvalidInput, message));
        }
        self.record(session, Event::Decision { text: text.into() }, clock)
    }

    /// Who holds each incident role in the open episode (both unnamed when none is open). Like the open episode
    /// itself, every role may ask: the banner on every workstation names them. Names of staff only, no patient.
    pub fn incident_roles(&self, session: &Session) -> Result<IncidentRoles, ApiError> {
        let conn = self.vault()?.conn();
        let Some(episode) = episodes::current(conn, session.keys())? else { return Ok(IncidentRoles::default()) };
        Ok(procedures::incident_roles(&episodes::events(conn, session.keys(), &episode.id)?))
    }

    /// Names who holds an incident role for the open episode from now on (a later assignment replaces it; every
    /// assignment stays in the timeline). Audited as `episode.role_assigned` and handed off to HIM.
    pub fn assign_role(
        &mut self,
        session: &Session,
        role: IncidentRole,
        name: &str,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        session.require(Op::ManageEpisode)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidInput, format!("name the {}", role.title().to_lowercase())));
        }
        if name.chars().count() > procedures::MAX_ROLE_NAME_CHARS || name.contains(['\n', '\r']) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("the name must be one line of at most {} characters", procedures::MAX_ROLE_NAME_CHARS),
            ));
        }
        self.record(session, Event::Role { role, name: name.into() }, clock)
    }

    /// The timeline and metrics of an episode (the open one when `episode_id` is `None`).
    pub fn episode_timeline(
        &self,
        session: &Session,
        episode_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<Timeline, ApiError> {
        session.require(Op::ManageEpisode).or_else(|_| session.require(Op::Reconcile))?;
        let conn = self.vault()?.conn();
        let episode = match episode_id {
            Some(id) => episodes::get(conn, session.keys(), id)?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no episode {id}")))?,
            None => episodes::list(conn, session.keys())?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::from(EpisodeError::NoneOpen))?,
        };
        timeline_for(conn, session.keys(), &self.checklist, &self.site.response_targets, &episode, clock.now())
    }
}

impl Workstation {
    /// The drill report (PDF) of a practice episode, the newest drill when `episode_id` is `None`: the timeline,
    /// when each checklist step was done, time from declaration to the first electronic entry, entries per user,
    /// forms printed and what was missed. Every page is marked DRILL. Audited; the caller saves the bytes.
    pub fn drill_report(
        &mut self,
        session: &Session,
        episode_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<crate::print::Pdf, ApiError> {
        session.require(Op::ManageEpisode)?;
        let conn = self.vault()?.conn();
        let episode = self.named_or_newest(session, episode_id, true)?;
        if episode.kind != Kind::Drill {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!(
                    "episode {} is a real downtime, not a drill; its timeline is in HIM's reconciliation report",
                    episode.id
                ),
            ));
        }
        let (timeline, stamp) = self.episode_report_parts(session, &episode, clock)?;
        let scenario = super::scenario::score_for(conn, session.keys(), &self.checklist, &episode, clock.now())?;
        let pdf = crate::print::drill_report(&episode, &timeline, &self.checklist.title, scenario.as_ref(), &stamp)?;
        let vault = self.vault_mut()?;
        let _audited = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(
                action::DRILL_REPORT,
                &format!("episodes:{}", episode.id),
                &match &scenario {
                    Some(s) => serde_json::json!({
                        "pages": pdf.pages,
                        "entries": timeline.entries,
                        "scenario": { "id": s.id, "met": s.met, "total": s.total },
                    }),
                    None => serde_json::json!({ "pages": pdf.pages, "entries": timeline.entries }),
                },
            )
        })?;
        Ok(pdf)
    }
}

impl Workstation {
    /// The newest status update kept with the open episode, as a PDF for leaders (marked DRILL in a drill). What
    /// is printed is always what was kept, never an unsaved draft. Audited; the caller saves the bytes.
    pub fn print_status_update(&mut self, session: &Session, clock: &dyn Clock) -> Result<crate::print::Pdf, ApiError> {
        let status = self.episode_status(session, clock)?.ok_or_else(|| ApiError::from(EpisodeError::NoneOpen))?;
        session.require(Op::ManageEpisode)?;
        let Some(Recorded { at, actor, event: Event::StatusUpdate { text, next_update_due } }) = status.updates.last()
        else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no status update has been kept for this episode yet: keep one first, then print it",
            ));
        };
        let stamp = crate::print::Stamp {
            unit: self.unit().unwrap_or_else(|| status.episode.unit.clone()),
            printed_by: format!("{} ({})", session.display_name(), session.username()),
            printed_at: clock.now(),
            episode: Some(status.episode.id.clone()),
            drill: status.drill,
            workstation: Some(self.workstation_id()),
            record: self.record_mark(session)?,
        };
        let sheet = crate::print::UpdateSheet {
            text,
            kept_at: at,
            kept_by: actor,
            severity: status.severity,
            next_update_due: next_update_due.as_deref(),
        };
        let pdf = crate::print::status_update(&status.episode, &sheet, &stamp)?;
        let vault = self.vault_mut()?;
        let _audited = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(
                action::STATUS_UPDATE_PRINTED,
                &format!("episodes:{}", status.episode.id),
                &serde_json::json!({ "pages": pdf.pages, "kept_at": at }),
            )
        })?;
        Ok(pdf)
    }
}

/// Audit actions of this part of the façade.
pub mod action {
    /// A kept status update was printed (not a `print.*` action: it is not a form).
    pub const STATUS_UPDATE_PRINTED: &str = "episode.status_update_printed";
    /// A drill report was produced (not a `print.*` action: it does not count as a form printed in a drill).
    pub const DRILL_REPORT: &str = "episode.drill_report";
}

/// The timeline and metrics of `episode` as this station knows them. On the workstation that declared it, prints
/// and the handoff come from its own audit log; on the HIM station (the episode arrived in handoff files) from the
/// imported audit rows and the files, and the full reconciliation time from the worklist.
pub(super) fn timeline_for(
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    checklist: &Checklist,
    targets: &std::collections::BTreeMap<Severity, crate::site::ResponseTarget>,
    episode: &Episode,
    now: time::OffsetDateTime,
) -> Result<Timeline, ApiError> {
    let events = episodes::events(conn, keys, &episode.id)?;
    let record = episodes::record_facts(conn, episode)?;
    Ok(procedures::timeline(&procedures::TimelineFacts {
        declared_at: &episode.started_at,
        declared_severity: episode.declaration.severity,
        affected: &episode.declaration.affected,
        began_at: episode.declaration.began_at.as_deref(),
        targets,
        ended_at: episode.ended_at.as_deref(),
        drill: episode.kind == Kind::Drill,
        events: &events,
        checklist,
        entries: &record.entries,
        forms_printed: record.forms_printed,
        handoff_at: record.handoff_at.as_deref(),
        first_update_due: episode.declaration.next_update_due.as_deref(),
        reconciled_at: record.reconciled_at.as_deref(),
        now,
    }))
}

/// The unit share (issue 20): checklist ticks and status updates made since this episode began on the unit's other
/// workstations, in an episode of the same kind (a drill's never count in a real downtime), count in this one's
/// checklist and updates, their actor named with the workstation ("kcharge (WS 1a2b3c4d)"). Oldest first.
fn with_peers(
    mut events: Vec<procedures::Recorded>,
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    episode: &Episode,
) -> Result<Vec<procedures::Recorded>, crate::vault::VaultError> {
    let since = crate::clock::parse_stamp(&episode.started_at);
    let peers = crate::unit::store::peer_events(conn, keys)?;
    if peers.is_empty() {
        return Ok(events);
    }
    for (workstation, kind, e) in peers {
        let shared = matches!(e.event, Event::StepDone { .. } | Event::StepUndone { .. } | Event::StatusUpdate { .. });
        let at = crate::clock::parse_stamp(&e.at);
        if !shared || kind != episode.kind || at.zip(since).is_none_or(|(at, since)| at < since) {
            continue;
        }
        let actor = format!("{} (WS {})", e.actor, crate::unit::short_id(&workstation));
        events.push(procedures::Recorded { at: e.at, actor, event: e.event });
    }
    events.sort_by_key(|r| crate::clock::parse_stamp(&r.at));
    Ok(events)
}
