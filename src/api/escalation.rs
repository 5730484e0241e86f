//! The escalation ladder in the façade (issue 21 item 1): the site's file with its problems, where the ladder stands
//! in the open episode, recording a call or an acknowledgement, and the one-page contact sheet.

use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::episodes;
use crate::escalation::{Escalation, LadderFacts, LadderState};
use crate::procedures::{self, Event, Recorded};

/// What the charge desk and `dtk episode contacts` show.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    /// The file configured (`escalation_file` in the site configuration); none: no ladder is configured.
    pub file: Option<String>,
    /// The ladder and contacts, when the file could be read.
    pub escalation: Option<Escalation>,
    /// Why the file was not used (file, contact or level, field); charting goes on regardless.
    pub problems: Vec<String>,
    /// Where the ladder stands in the open episode (none: no episode open, or no file).
    pub ladder: Option<LadderState>,
}

impl Workstation {
    /// The site's escalation file as loaded, for `dtk status` and the boundary.
    pub fn escalation(&self) -> &crate::escalation::Loaded {
        &self.escalation
    }

    /// The escalation ladder and contacts, with where the ladder stands in the open episode at `clock.now()`.
    /// Every role may look: the phones are for anyone on the unit.
    pub fn escalation_status(&self, session: &Session, clock: &dyn Clock) -> Result<EscalationView, ApiError> {
        session.require(Op::ReadUnit).or_else(|_| session.require(Op::ManageEpisode))?;
        let loaded = &self.escalation;
        let mut view = EscalationView {
            file: loaded.file.clone(),
            escalation: loaded.escalation.clone(),
            problems: loaded.problems.iter().map(ToString::to_string).collect(),
            ladder: None,
        };
        let Some(file) = &loaded.escalation else { return Ok(view) };
        let conn = self.vault()?.conn();
        let Some(episode) = episodes::current(conn, session.keys())? else { return Ok(view) };
        let events = episodes::events(conn, session.keys(), &episode.id)?;
        let now = clock.now();
        let changes = procedures::severity_changes(&events);
        let calls = procedures::contact_calls(&events);
        view.ladder = Some(crate::escalation::ladder_state(
            file,
            &LadderFacts {
                declared_at: crate::clock::parse_stamp(&episode.started_at).unwrap_or(now),
                declared_severity: episode.declaration.severity,
                changes: &changes,
                affected: &episode.declaration.affected,
                calls: &calls,
                now,
            },
        ));
        Ok(view)
    }

    /// Records that a contact of the ladder was called (or, with `acknowledged`, that they acknowledged) in the open
    /// episode, with who and when; audited as `episode.contact_called` / `episode.contact_acknowledged` and handed
    /// off to HIM. The contact is named by its id in the site's escalation file.
    pub fn record_contact(
        &mut self,
        session: &Session,
        contact: &str,
        acknowledged: bool,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        session.require(Op::ManageEpisode)?;
        let Some(file) = &self.escalation.escalation else {
            let why = if self.escalation.file.is_some() {
                "the site's escalation file has problems (dtk episode contacts lists them)"
            } else {
                "no escalation file is configured (escalation_file in site.json)"
            };
            return Err(ApiError::new(ErrorCode::NotFound, format!("cannot record a call: {why}")));
        };
        let id = contact.trim();
        let Some(c) = file.contact(id) else {
            let known: Vec<&str> = file.contacts.iter().map(|c| c.id.as_str()).collect();
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "the escalation file has no contact '{}'; its contacts are: {}",
                    id.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            ));
        };
        let (contact, name) = (c.id.clone(), c.name.clone());
        let event = if acknowledged {
            Event::ContactAcknowledged { contact, name }
        } else {
            Event::ContactCalled { contact, name }
        };
        self.record(session, event, clock)
    }

    /// The one-page contact sheet: every level of the ladder in order, who to call with their phone numbers in
    /// large type, after how many minutes to go on, and which outages each level is for. Printable before any
    /// downtime (the phones work when the EHR does not). Audited; the caller saves the bytes.
    pub fn contact_sheet(&mut self, session: &Session, clock: &dyn Clock) -> Result<crate::print::Pdf, ApiError> {
        session.require(Op::ReadUnit).or_else(|_| session.require(Op::ManageEpisode))?;
        let Some(file) = self.escalation.escalation.clone() else {
            let mut why = "no escalation file is configured (escalation_file in site.json)".to_string();
            if let Some(first) = self.escalation.problems.first() {
                why = format!("the site's escalation file has problems: {first}");
            }
            return Err(ApiError::new(ErrorCode::NotFound, format!("no contact sheet to print: {why}")));
        };
        let stamp = self.stamp(session, clock)?;
        let pdf = crate::print::contact_sheet(&file, &stamp)?;
        let target =
            stamp.episode.as_ref().map_or_else(|| format!("escalation:{}", file.id), |e| format!("episodes:{e}"));
        self.audit_print(
            session,
            action::CONTACT_SHEET_PRINTED,
            &target,
            serde_json::json!({ "pages": pdf.pages, "file": file.id, "version": file.version }),
            clock,
        )?;
        Ok(pdf)
    }
}

/// Audit actions of this part of the façade.
pub mod action {
    /// The contact sheet was printed (not a `print.*` action: it is not a form).
    pub const CONTACT_SHEET_PRINTED: &str = "episode.contact_sheet_printed";
}
