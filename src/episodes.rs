//! Downtime episodes: the declared event every entry belongs to. One is open at a time on a workstation; a drill
//! is an episode too, marked so that it can never reach a real reconciliation or an export.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::clock::stamp;
use crate::crypto::{Keys, Place};
use crate::procedures::{Event, Recorded, Severity};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

const FORMAT: u32 = 1;

pub mod action {
    pub const STARTED: &str = "episode.started";
    pub const ENDED: &str = "episode.ended";
    pub const SEVERITY_CHANGED: &str = "episode.severity_changed";
    pub const STEP_DONE: &str = "episode.checklist_step_done";
    pub const STEP_UNDONE: &str = "episode.checklist_step_undone";
    pub const STATUS_UPDATE: &str = "episode.status_update";
    pub const PAPER_ONLY: &str = "episode.paper_only_created";
    /// A decision recorded (its text is in the detail: decisions are about the unit, never about a patient).
    pub const DECISION: &str = "episode.decision";
    /// An incident role given to someone (commander or liaison, and the name).
    pub const ROLE: &str = "episode.role_assigned";
    /// The review of an episode written (clinical impact and follow-up actions; a new version each time).
    pub const REVIEW: &str = "episode.review_written";
    /// The review of an episode printed.
    pub const REVIEW_PRINTED: &str = "episode.review_printed";
    /// A contact of the escalation ladder called (their id and name in the detail: staff, never a patient).
    pub const CONTACT_CALLED: &str = "episode.contact_called";
    /// A contact of the escalation ladder acknowledged.
    pub const CONTACT_ACKNOWLEDGED: &str = "episode.contact_acknowledged";
    /// A drill started from a tabletop scenario (the detail names the file and its id, not its text).
    pub const SCENARIO: &str = "episode.scenario";
    /// A drill inject marked seen by the charge nurse.
    pub const INJECT_SEEN: &str = "episode.inject_seen";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Real,
    Drill,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Real => "real",
            Kind::Drill => "drill",
        }
    }
}

/// What the declaring charge nurse says about the episode (sealed: it can describe clinical impact).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Declaration {
    pub reason: Option<String>,
    pub severity: Option<Severity>,
    /// Systems and workflows affected (EHR, lab results, pharmacy, ADT…).
    pub affected: Vec<String>,
    /// The clinical impact in plain words.
    pub impact: Option<String>,
    /// When the first status update is due.
    pub next_update_due: Option<String>,
    /// When the outage began, as the charge nurse judges it (before the declaration): the start of the site's "time
    /// to declare" response target. Not written when not given, so older declarations read and hash as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub began_at: Option<String>,
}

/// Who created a paper-only episode and when; its unit and period are the episode's own `unit`, `started_at` and
/// `ended_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperOnly {
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Episode {
    pub id: String,
    pub unit: String,
    pub kind: Kind,
    pub started_at: String,
    pub started_by: String,
    pub ended_at: Option<String>,
    pub ended_by: Option<String>,
    pub declaration: Declaration,
    /// Set on an episode HIM created for paper alone (issue 14 item 3): nothing electronic of it ever arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper_only: Option<PaperOnly>,
}

/// What an episode's sealed body holds: the declaration, and for a paper-only episode who created it and when
/// (kept beside the declaration, so declarations and handoff files are unchanged).
#[derive(Serialize, Deserialize)]
struct Body {
    #[serde(flatten)]
    declaration: Declaration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paper_only: Option<PaperOnly>,
}

impl Episode {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EpisodeError {
    #[error("a downtime episode is already open on this workstation (started {0}); end it first")]
    AlreadyOpen(String),
    #[error("no downtime episode is open on this workstation; the charge nurse starts one")]
    NoneOpen,
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn place(id: &str) -> Place<'_> {
    Place { table: "episodes", row: id, column: "body", format: FORMAT }
}

const COLUMNS: &str = "id, unit, kind, started_at, started_by, ended_at, ended_by, fv, body";

fn read(keys: &Keys, r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Episode, VaultError>> {
    let id: String = r.get(0)?;
    let kind: String = r.get(2)?;
    let fv: i64 = r.get(7)?;
    let sealed: Vec<u8> = r.get(8)?;
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..place(&id) };
    let body: Body = match keys.open(&p, &sealed) {
        Ok(plain) => match serde_json::from_slice(&plain) {
            Ok(d) => d,
            Err(_) => return Ok(Err(VaultError::Integrity(format!("episodes {id}: body is not a declaration")))),
        },
        Err(_) => return Ok(Err(VaultError::Integrity(format!("episodes {id}: body fails authentication")))),
    };
    Ok(Ok(Episode {
        id,
        unit: r.get(1)?,
        kind: if kind == "drill" { Kind::Drill } else { Kind::Real },
        started_at: r.get(3)?,
        started_by: r.get(4)?,
        ended_at: r.get(5)?,
        ended_by: r.get(6)?,
        declaration: body.declaration,
        paper_only: body.paper_only,
    }))
}

/// When the newest drill started, and when it ended if it did. Plaintext columns only (kind and times): the readiness
/// check asks it without a sign-in.
pub fn newest_drill(conn: &rusqlite::Connection) -> Result<Option<(String, Option<String>)>, VaultError> {
    Ok(conn
        .query_row(
            "SELECT started_at, ended_at FROM episodes WHERE kind = 'drill' ORDER BY started_at DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The open episode, if any.
pub fn current(conn: &rusqlite::Connection, keys: &Keys) -> Result<Option<Episode>, VaultError> {
    // Cached: every save asks for the open episode. The newest by max() rather than ORDER BY … LIMIT 1, which sorts
    // through a temporary b-tree every time.
    let sql = format!(
        "SELECT {COLUMNS} FROM episodes WHERE ended_at IS NULL
           AND started_at = (SELECT max(started_at) FROM episodes WHERE ended_at IS NULL) LIMIT 1"
    );
    conn.prepare_cached(&sql)?.query_row([], |r| read(keys, r)).optional()?.transpose()
}

/// The id of the open episode, if any: what a save needs of it, read without opening its sealed declaration.
pub fn current_id(conn: &rusqlite::Connection) -> Result<Option<String>, VaultError> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM episodes WHERE ended_at IS NULL
               AND started_at = (SELECT max(started_at) FROM episodes WHERE ended_at IS NULL) LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?)
}

pub fn get(conn: &rusqlite::Connection, keys: &Keys, id: &str) -> Result<Option<Episode>, VaultError> {
    let sql = format!("SELECT {COLUMNS} FROM episodes WHERE id = ?1");
    conn.query_row(&sql, [id], |r| read(keys, r)).optional()?.transpose()
}

/// Every episode, newest first.
pub fn list(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<Episode>, VaultError> {
    let sql = format!("SELECT {COLUMNS} FROM episodes ORDER BY started_at DESC");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| read(keys, r))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// Declares an episode for the unit.
pub fn start(tx: &mut Tx<'_>, unit: &str, kind: Kind, declaration: &Declaration) -> Result<Episode, EpisodeError> {
    if let Some(open) = current(tx.sql(), tx.keys())? {
        return Err(EpisodeError::AlreadyOpen(open.started_at));
    }
    let id = tx.new_id().to_string();
    let plain = serde_json::to_vec(declaration).unwrap_or_default();
    let sealed = tx.seal(&place(&id), &plain);
    let started_at = stamp(tx.at());
    let not_ended: Option<String> = None;
    tx.insert(
        OnConflict::Abort,
        "episodes",
        &[
            ("id", &id),
            ("unit", &unit),
            ("kind", &kind.as_str()),
            ("started_at", &started_at),
            ("started_by", &tx.actor()),
            ("ended_at", &not_ended),
            ("ended_by", &not_ended),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    tx.audit(
        action::STARTED,
        &format!("episodes:{id}"),
        &serde_json::json!({ "kind": kind.as_str(), "unit": unit, "reason": declaration.reason }),
    )?;
    Ok(Episode {
        id,
        unit: unit.into(),
        kind,
        started_at,
        started_by: tx.actor().into(),
        ended_at: None,
        ended_by: None,
        declaration: declaration.clone(),
        paper_only: None,
    })
}

/// Creates, on the HIM station, an episode for paper alone: the unit's pages whose own episode never arrived (a
/// dead workstation) or that name none (blank forms printed ahead). It is created ended (`start`..`end`, the period
/// the paper covers, RFC 3339 stamps), so it is never the station's open episode; who and when are kept sealed in its
/// declaration and audited.
pub fn paper_only(tx: &mut Tx<'_>, unit: &str, start: &str, end: &str) -> Result<Episode, VaultError> {
    let id = tx.new_id().to_string();
    let created_at = stamp(tx.at());
    let actor = tx.actor().to_string();
    let body = Body {
        declaration: Declaration {
            reason: Some("Paper only: created by HIM for paper whose episode never reached this station".into()),
            ..Declaration::default()
        },
        paper_only: Some(PaperOnly { created_by: actor.clone(), created_at }),
    };
    let plain = serde_json::to_vec(&body).unwrap_or_default();
    let sealed = tx.seal(&place(&id), &plain);
    tx.insert(
        OnConflict::Abort,
        "episodes",
        &[
            ("id", &id),
            ("unit", &unit),
            ("kind", &Kind::Real.as_str()),
            ("started_at", &start),
            ("started_by", &actor),
            ("ended_at", &end),
            ("ended_by", &actor),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    tx.audit(
        action::PAPER_ONLY,
        &format!("episodes:{id}"),
        &serde_json::json!({ "unit": unit, "period_start": start, "period_end": end }),
    )?;
    Ok(Episode {
        id,
        unit: unit.into(),
        kind: Kind::Real,
        started_at: start.into(),
        started_by: actor.clone(),
        ended_at: Some(end.into()),
        ended_by: Some(actor),
        declaration: body.declaration,
        paper_only: body.paper_only,
    })
}

/// Ends the open episode. Entries already made stay in it; new entries are refused until another starts.
pub fn end(tx: &mut Tx<'_>) -> Result<Episode, EpisodeError> {
    let mut open = current(tx.sql(), tx.keys())?.ok_or(EpisodeError::NoneOpen)?;
    let ended_at = stamp(tx.at());
    tx.update("episodes", &[&open.id], None, &[("ended_at", &ended_at), ("ended_by", &tx.actor())])?;
    tx.audit(action::ENDED, &format!("episodes:{}", open.id), &serde_json::json!({}))?;
    open.ended_at = Some(ended_at);
    open.ended_by = Some(tx.actor().into());
    Ok(open)
}

fn event_place(id: &str) -> Place<'_> {
    Place { table: "episode_events", row: id, column: "body", format: FORMAT }
}

/// Records a procedure event (severity change, checklist tick, status update) on an episode, audited.
pub fn record(tx: &mut Tx<'_>, episode_id: &str, event: &Event) -> Result<Recorded, EpisodeError> {
    let id = tx.new_id().to_string();
    let kind = event_kind(event);
    let audit_action = match event {
        Event::Severity { .. } => action::SEVERITY_CHANGED,
        Event::StepDone { .. } => action::STEP_DONE,
        Event::StepUndone { .. } => action::STEP_UNDONE,
        Event::StatusUpdate { .. } => action::STATUS_UPDATE,
        Event::Decision { .. } => action::DECISION,
        Event::Role { .. } => action::ROLE,
        Event::Review { .. } => action::REVIEW,
        Event::ContactCalled { .. } => action::CONTACT_CALLED,
        Event::ContactAcknowledged { .. } => action::CONTACT_ACKNOWLEDGED,
        Event::Scenario { .. } => action::SCENARIO,
        Event::InjectSeen { .. } => action::INJECT_SEEN,
    };
    let plain = serde_json::to_vec(event).unwrap_or_default();
    let sealed = tx.seal(&event_place(&id), &plain);
    let at = stamp(tx.at());
    insert_event(tx, &id, episode_id, &at, tx.actor(), kind, &sealed)?;
    // A review's clinical impact may speak of patients: the audit row keeps its size, the sealed event its words.
    let detail = match event {
        Event::Review { impact, follow_ups } => serde_json::json!({
            "kind": "review",
            "impact_chars": impact.chars().count(),
            "follow_ups": follow_ups.len(),
        }),
        // The scenario's whole text is in the sealed event; the audit row names it.
        Event::Scenario { file, .. } => serde_json::json!({ "kind": "scenario", "file": file }),
        _ => serde_json::to_value(event).unwrap_or_default(),
    };
    tx.audit(audit_action, &format!("episodes:{episode_id}"), &detail)?;
    Ok(Recorded { at, actor: tx.actor().to_string(), event: event.clone() })
}

/// The events of an episode, oldest first.
pub fn events(conn: &rusqlite::Connection, keys: &Keys, episode_id: &str) -> Result<Vec<Recorded>, VaultError> {
    Ok(event_rows(conn, keys, episode_id)?.into_iter().map(|(_, r)| r).collect())
}

/// What [`import_event`] did with an event from a handoff file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    New,
    /// Already here, identical (the same file again, or an overlapping one).
    Known,
    /// Already here under the same id with other content: refused by the caller, never merged.
    Differs,
}

/// Stores an event a workstation recorded (HIM station, from a handoff file), sealed under this vault's key.
/// Idempotent by the event's id.
pub fn import_event(tx: &mut Tx<'_>, id: &str, episode_id: &str, r: &Recorded) -> Result<Imported, VaultError> {
    let existing: Option<(String, String, String, i64, Vec<u8>)> = tx
        .sql()
        .query_row("SELECT episode_id, at, actor, fv, body FROM episode_events WHERE id = ?1", [id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })
        .optional()?;
    if let Some((ep, at, actor, fv, sealed)) = existing {
        let same_event = open_event(tx.keys(), id, fv, &sealed).map(|e| e == r.event).unwrap_or(false);
        let same = ep == episode_id && at == r.at && actor == r.actor && same_event;
        return Ok(if same { Imported::Known } else { Imported::Differs });
    }
    let plain = serde_json::to_vec(&r.event).unwrap_or_default();
    let sealed = tx.seal(&event_place(id), &plain);
    insert_event(tx, id, episode_id, &r.at, &r.actor, event_kind(&r.event), &sealed)?;
    Ok(Imported::New)
}

fn insert_event(
    tx: &Tx<'_>,
    id: &str,
    episode_id: &str,
    at: &str,
    actor: &str,
    kind: &str,
    sealed: &[u8],
) -> Result<(), VaultError> {
    tx.insert(
        OnConflict::Abort,
        "episode_events",
        &[
            ("id", &id),
            ("episode_id", &episode_id),
            ("at", &at),
            ("actor", &actor),
            ("kind", &kind),
            ("fv", &FORMAT),
            ("body", &sealed),
        ],
    )?;
    Ok(())
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Severity { .. } => "severity",
        Event::StepDone { .. } => "step_done",
        Event::StepUndone { .. } => "step_undone",
        Event::StatusUpdate { .. } => "status_update",
        Event::Decision { .. } => "decision",
        Event::Role { .. } => "role",
        Event::Review { .. } => "review",
        Event::ContactCalled { .. } => "contact_called",
        Event::ContactAcknowledged { .. } => "contact_acknowledged",
        Event::Scenario { .. } => "scenario",
        Event::InjectSeen { .. } => "inject_seen",
    }
}

fn open_event(keys: &Keys, id: &str, fv: i64, sealed: &[u8]) -> Result<Event, VaultError> {
    let p = Place { format: u32::try_from(fv).unwrap_or(u32::MAX), ..event_place(id) };
    let plain = keys
        .open(&p, sealed)
        .map_err(|_| VaultError::Integrity(format!("episode_events {id}: body fails authentication")))?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Integrity(format!("episode_events {id}: not an event")))
}

/// The events of an episode with their ids, oldest first.
pub fn event_rows(
    conn: &rusqlite::Connection,
    keys: &Keys,
    episode_id: &str,
) -> Result<Vec<(String, Recorded)>, VaultError> {
    let mut st =
        conn.prepare("SELECT id, at, actor, fv, body FROM episode_events WHERE episode_id = ?1 ORDER BY at, rowid")?;
    let rows = st.query_map([episode_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Vec<u8>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at, actor, fv, sealed) = row?;
        let event = open_event(keys, &id, fv, &sealed)?;
        out.push((id, Recorded { at, actor, event }));
    }
    Ok(out)
}

/// The current severity of an episode (the latest change, else the declaration's).
pub fn severity(conn: &rusqlite::Connection, keys: &Keys, episode: &Episode) -> Result<Option<Severity>, VaultError> {
    Ok(crate::procedures::current_severity(episode.declaration.severity, &events(conn, keys, &episode.id)?))
}

impl From<rusqlite::Error> for EpisodeError {
    fn from(e: rusqlite::Error) -> Self {
        EpisodeError::Vault(e.into())
    }
}
/// What the record says about an episode beyond its own events, for its timeline and metrics.
pub struct RecordFacts {
    /// (created_at, author) of every entry that left draft.
    pub entries: Vec<(String, String)>,
    /// Forms printed within the episode's time span.
    pub forms_printed: usize,
    /// When the first handoff file of the episode was made.
    pub handoff_at: Option<String>,
    /// When the last worklist row of the episode was decided, once none is open.
    pub reconciled_at: Option<String>,
}

/// Reads [`RecordFacts`]. On the workstation that declared the episode, prints and the handoff come from its own audit
/// log; on the HIM station (the episode arrived in handoff files) from the imported audit rows and the files, and
/// the full reconciliation time from the worklist.
/// When the episode's first electronic entry (saved, not a draft) was recorded: the "time to first entry" target.
pub fn first_entry_at(conn: &rusqlite::Connection, episode_id: &str) -> Result<Option<String>, VaultError> {
    Ok(conn.query_row(
        "SELECT min(created_at) FROM entries WHERE episode_id = ?1 AND status != 'draft'",
        [episode_id],
        |r| r.get(0),
    )?)
}

pub fn record_facts(conn: &rusqlite::Connection, episode: &Episode) -> Result<RecordFacts, VaultError> {
    let entries: Vec<(String, String)> = {
        let mut st =
            conn.prepare("SELECT created_at, author FROM entries WHERE episode_id = ?1 AND status != 'draft'")?;
        let rows = st.query_map([&episode.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let imported_from: Option<String> = conn
        .query_row("SELECT workstation FROM handoff_files WHERE episode_id = ?1 LIMIT 1", [&episode.id], |r| r.get(0))
        .optional()?;
    let (printed, handoff_at): (i64, Option<String>) = match &imported_from {
        Some(ws) => (
            conn.query_row(
                "SELECT count(*) FROM handoff_audit WHERE workstation = ?1 AND action LIKE 'print.%'
                    AND at >= ?2 AND (?3 IS NULL OR at <= ?3)",
                params![ws, episode.started_at, episode.ended_at],
                |r| r.get(0),
            )?,
            conn.query_row("SELECT min(created_at) FROM handoff_files WHERE episode_id = ?1", [&episode.id], |r| {
                r.get(0)
            })?,
        ),
        None => (
            conn.query_row(
                "SELECT count(*) FROM audit WHERE action LIKE 'print.%' AND at >= ?1 AND (?2 IS NULL OR at <= ?2)",
                params![episode.started_at, episode.ended_at],
                |r| r.get(0),
            )?,
            conn.query_row(
                &format!(
                    "SELECT min(at) FROM audit WHERE action = 'handoff.exported' AND target = ?1 AND {}",
                    crate::vault::schema::AUDIT_BY_ACTION_WHERE
                ),
                [format!("episodes:{}", episode.id)],
                |r| r.get(0),
            )?,
        ),
    };
    // Fully reconciled: the episode has worklist rows and none is still open (the states of
    // `reconcile::State::is_open`; a refused entry never reached the EHR).
    let (rows, open, last): (i64, i64, Option<String>) = conn.query_row(
        "SELECT count(*),
                coalesce(sum(r.state IN ('pending', 'matched', 'needs-correction', 'accepted', 'refused')), 0),
                max(r.updated_at)
           FROM recon r JOIN entries e ON e.id = r.entry_id WHERE e.episode_id = ?1",
        [&episode.id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(RecordFacts {
        entries,
        forms_printed: usize::try_from(printed).unwrap_or(0),
        handoff_at,
        reconciled_at: (rows > 0 && open == 0).then_some(last).flatten(),
    })
}
