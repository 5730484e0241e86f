//! The charge desk's Escalation section (issue 21 item 1): the site's escalation ladder with who to call now and the
//! next escalation due, and recording a call or an acknowledgement. The contact sheet prints through the print
//! centre (`PrintJob::ContactSheet`). Roles are checked in the core.
use super::Shell;
use crate::dto::{
    CommandError, ContactCall, EscalationContact, EscalationLevel, EscalationPhone, EscalationStatus, LevelStatus,
};
use dtk::api::{self, Session, Workstation};
use dtk::clock::SystemClock;
use dtk::escalation as core;

/// A call as the Escalation section and the timeline show it.
pub(crate) fn call(c: dtk::procedures::ContactCall) -> ContactCall {
    ContactCall { at: c.at, by: c.by, contact: c.contact, name: c.name, acknowledged: c.acknowledged }
}

fn contact(c: core::Contact) -> EscalationContact {
    EscalationContact {
        id: c.id,
        name: c.name,
        team: c.team,
        notes: c.notes,
        phones: c.phones.into_iter().map(|p| EscalationPhone { label: p.label, number: p.number }).collect(),
    }
}

fn minutes(m: Option<i64>) -> Option<u32> {
    m.map(|m| u32::try_from(m).unwrap_or(u32::MAX))
}

fn status(s: core::LevelStatus) -> LevelStatus {
    match s {
        core::LevelStatus::NotForThisOutage => LevelStatus::NotForThisOutage,
        core::LevelStatus::Waiting => LevelStatus::Waiting,
        core::LevelStatus::Current => LevelStatus::Current,
        core::LevelStatus::NoAnswer => LevelStatus::NoAnswer,
        core::LevelStatus::Acknowledged => LevelStatus::Acknowledged,
    }
}

fn number(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn view(v: api::EscalationView) -> EscalationStatus {
    let title = v.escalation.as_ref().map(|e| e.title.clone());
    let mut out = EscalationStatus {
        file: v.file,
        title,
        problems: v.problems,
        episode_open: v.ladder.is_some(),
        levels: Vec::new(),
        current: None,
        next_escalation_due: None,
        call_now: false,
        overdue: false,
        acknowledged: None,
    };
    match (v.ladder, v.escalation) {
        (Some(l), _) => {
            out.levels = l
                .levels
                .into_iter()
                .map(|s| EscalationLevel {
                    number: number(s.number),
                    title: s.title,
                    applies_to: s.applies_to,
                    after_minutes: minutes(s.after_minutes),
                    status: status(s.status),
                    reached_at: s.reached_at,
                    escalates_at: s.escalates_at,
                    contacts: s.contacts.into_iter().map(contact).collect(),
                    calls: s.calls.into_iter().map(call).collect(),
                })
                .collect();
            out.current = l.current.map(number);
            out.next_escalation_due = l.next_escalation_due;
            out.call_now = l.call_now;
            out.overdue = l.overdue;
            out.acknowledged = l.acknowledged.map(call);
        }
        (None, Some(file)) => {
            out.levels = file
                .ladder
                .iter()
                .enumerate()
                .map(|(i, level)| EscalationLevel {
                    number: number(i + 1),
                    title: level.title(i + 1),
                    applies_to: level.applies_to(),
                    after_minutes: minutes(level.after_minutes),
                    status: LevelStatus::Waiting,
                    reached_at: None,
                    escalates_at: None,
                    contacts: level.contacts.iter().filter_map(|id| file.contact(id).cloned()).map(contact).collect(),
                    calls: Vec::new(),
                })
                .collect();
        }
        (None, None) => {}
    }
    out
}

fn current(ws: &Workstation, session: &Session) -> Result<EscalationStatus, CommandError> {
    Ok(view(ws.escalation_status(session, &SystemClock)?))
}

/// The escalation ladder and contacts, with who to call now in the open episode.
pub fn escalation_status(shell: &Shell) -> Result<EscalationStatus, CommandError> {
    shell.signed_in_passive(|ws, session| current(ws, session))
}

/// Records a call to a contact of the ladder (or, with `acknowledged`, their answer) in the open episode.
pub fn record_contact(shell: &Shell, contact: String, acknowledged: bool) -> Result<EscalationStatus, CommandError> {
    shell.signed_in(|ws, session| {
        ws.record_contact(session, &contact, acknowledged, &SystemClock)?;
        current(ws, session)
    })
}
