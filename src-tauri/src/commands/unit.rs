//! The unit share (issue 20): the banner every desk shows (no sign-in needed: it names workstations, never
//! patients), one sync now (the banner also runs it on a timer), and the charge nurse's unit overview. Roles are
//! checked in the core.
use super::Shell;
use crate::dto::{CommandError, UnitCharted, UnitOverview, UnitPatient, UnitPeer, UnitShare, UnitSynced, UnitUnsigned};
use dtk::api;
use dtk::clock::SystemClock;

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn signed(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

fn share(s: api::UnitStatus) -> UnitShare {
    UnitShare {
        configured: s.share.is_some(),
        reachable: s.reachable,
        message: s.message,
        peers: s
            .peers
            .into_iter()
            .map(|p| UnitPeer {
                label: p.label,
                age_minutes: small(u64::try_from(p.age_minutes).unwrap_or(0)),
                stale: p.age_minutes > api::STALE_AFTER_MINUTES,
                clock_offset_minutes: signed(p.clock_offset_minutes),
                received_at: p.received_at,
                line: p.line,
            })
            .collect(),
        not_heard_from: s.not_heard_from,
    }
}

fn charted(c: api::Charted) -> UnitCharted {
    UnitCharted {
        at: c.at,
        author: c.author,
        medication: c.medication,
        workstation: c.workstation.map(|w| dtk::unit::short_id(&w)),
    }
}

/// The banner: each peer and how fresh it is, or that the share is unreachable (or not configured).
pub fn unit_share(shell: &Shell) -> Result<UnitShare, CommandError> {
    shell.with_state(|state| Ok(share(state.workstation()?.unit_status(&SystemClock)?)))
}

/// One sync now: publishes this workstation's new records and reads the peers' new segments.
pub fn unit_sync(shell: &Shell) -> Result<UnitSynced, CommandError> {
    shell.signed_in_passive(|ws, session| {
        let done = ws.unit_sync(session, &SystemClock)?;
        let status = ws.unit_status(&SystemClock)?;
        Ok(UnitSynced {
            share: share(status),
            received: done
                .received
                .iter()
                .map(|p| format!("WS {}: {} segment(s), {}", p.label, p.segments, p.counts.words()))
                .collect(),
            published: done.published.is_some(),
            publish_problem: done.publish_problem,
            problems: done.problems,
        })
    })
}

/// The charge nurse's unit overview: per patient, the last vitals and the doses given on any workstation, and
/// what is unsigned where.
pub fn unit_overview(shell: &Shell) -> Result<UnitOverview, CommandError> {
    shell.signed_in(|ws, session| {
        let o = ws.unit_overview(session, &SystemClock)?;
        Ok(UnitOverview {
            share: share(o.status),
            patients: o
                .patients
                .into_iter()
                .map(|p| UnitPatient {
                    mrn: p.mrn,
                    name: p.name,
                    location: p.location,
                    last_vitals: p.last_vitals.map(charted),
                    doses: p.doses.into_iter().map(charted).collect(),
                    unsigned_here: small(p.unsigned_here),
                })
                .collect(),
            unsigned_elsewhere: o
                .unsigned_elsewhere
                .into_iter()
                .map(|u| UnitUnsigned { label: u.label, author: u.author, entries: small(u.entries) })
                .collect(),
        })
    })
}
