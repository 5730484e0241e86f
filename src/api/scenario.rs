//! Drill scenarios in the façade (issue 21 item 7): the scenarios a drill may start from (built in, and the site's
//! `scenario_dir`), starting a drill from one, the injects due now, marking one seen, and the drill's score.

use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::checklist::Checklist;
use crate::clock::{parse_stamp, stamp, Clock};
use crate::episodes::{self, Declaration, Episode, EpisodeError, Kind};
use crate::procedures::{Event, Recorded};
use crate::scenario::{self, DrillScore, Scenario, ScenarioError};

/// The most files read from the site's scenario folder.
const MAX_SITE_SCENARIOS: usize = 100;

/// A scenario file as offered: its file name, what errors call it, its bytes, and whether it is built in.
struct OfferedFile {
    name: String,
    label: String,
    bytes: Vec<u8>,
    built_in: bool,
}

/// A scenario a drill can start from, as the desk offers it.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioChoice {
    /// Its file name: what starting a drill names.
    pub file: String,
    pub id: String,
    pub title: String,
    pub description: String,
    pub injects: usize,
    /// Shipped with the application rather than by the site.
    pub built_in: bool,
}

impl Workstation {
    /// Every scenario file offered, as (file name, label for errors, bytes, built in): the site's folder first, then
    /// the built-in ones it does not replace (a site file of the same name wins).
    fn scenario_files(&self) -> (Vec<OfferedFile>, Vec<ScenarioError>) {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        if let Some(dir) = &self.site.scenario_dir {
            match std::fs::read_dir(dir) {
                Err(e) => problems.push(ScenarioError {
                    file: dir.display().to_string(),
                    at: "scenario_dir".into(),
                    reason: format!("the folder cannot be read: {e}"),
                }),
                Ok(read) => {
                    let mut paths: Vec<_> = read
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")))
                        .collect();
                    paths.sort();
                    for path in paths.into_iter().take(MAX_SITE_SCENARIOS) {
                        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        match std::fs::read(&path) {
                            Ok(bytes) => files.push(OfferedFile {
                                name,
                                label: path.display().to_string(),
                                bytes,
                                built_in: false,
                            }),
                            Err(e) => problems.push(ScenarioError {
                                file: path.display().to_string(),
                                at: String::new(),
                                reason: format!("cannot be read: {e}"),
                            }),
                        }
                    }
                }
            }
        }
        for (name, text) in scenario::BUILT_IN {
            if !files.iter().any(|f| f.name == *name) {
                files.push(OfferedFile {
                    name: name.to_string(),
                    label: format!("built-in {name}"),
                    bytes: text.as_bytes().to_vec(),
                    built_in: true,
                });
            }
        }
        (files, problems)
    }

    /// The scenarios a drill can start from, and why any of the site's files is not offered (file, place, reason).
    /// A broken scenario never blocks anything but a drill from it.
    pub fn scenarios(&self) -> (Vec<ScenarioChoice>, Vec<ScenarioError>) {
        let (files, mut problems) = self.scenario_files();
        let mut out = Vec::new();
        for OfferedFile { name, label, bytes, built_in } in files {
            match Scenario::parse(&label, &bytes, Some(&self.checklist)) {
                Ok(s) => out.push(ScenarioChoice {
                    file: name,
                    id: s.id,
                    title: s.title,
                    description: s.description,
                    injects: s.injects.len(),
                    built_in,
                }),
                Err(e) => problems.push(e),
            }
        }
        (out, problems)
    }

    /// Starts a drill from one of the offered scenarios, named by its file name (never a path: the desk chooses from
    /// [`Workstation::scenarios`]).
    pub fn start_listed_scenario(
        &mut self,
        session: &Session,
        file: &str,
        next_update_in_minutes: Option<i64>,
        clock: &dyn Clock,
    ) -> Result<Episode, ApiError> {
        session.require(Op::ManageEpisode)?;
        let (files, _) = self.scenario_files();
        let Some(f) = files.into_iter().find(|f| f.name == file) else {
            return Err(ApiError::new(ErrorCode::NotFound, "no such scenario is offered on this workstation"));
        };
        self.start_scenario_drill(session, &f.name, &f.label, &f.bytes, next_update_in_minutes, clock)
    }

    /// Starts a drill from a scenario file: its declaration is the drill's, and the scenario (its text, whole) is kept
    /// with the episode, audited as `episode.scenario`, so the drill's injects and score are the same wherever the
    /// episode is read (the HIM station after the handoff). A file with any problem starts nothing: the error names the
    /// file, the place and the problem. `name` is the file's name, `label` what errors call it.
    pub fn start_scenario_drill(
        &mut self,
        session: &Session,
        name: &str,
        label: &str,
        bytes: &[u8],
        next_update_in_minutes: Option<i64>,
        clock: &dyn Clock,
    ) -> Result<Episode, ApiError> {
        session.require(Op::ManageEpisode)?;
        let parsed = Scenario::parse(label, bytes, Some(&self.checklist))
            .map_err(|e| ApiError::new(ErrorCode::InvalidInput, e.to_string()))?;
        // The bytes were checked as UTF-8 JSON by the parse.
        let source = String::from_utf8_lossy(bytes).into_owned();
        let file: String = name.rsplit(['/', '\\']).next().unwrap_or(name).chars().take(255).collect();
        let event = Event::Scenario { file, source };
        if crate::procedures::event_problem(&event).is_some() {
            return Err(ApiError::new(ErrorCode::InvalidInput, format!("{label}: the file name is not plain text")));
        }
        let d = parsed.declaration;
        let declaration = Declaration {
            reason: d.reason.or(Some(format!("Drill scenario: {}", parsed.title))),
            severity: d.severity,
            affected: d.affected,
            impact: d.impact,
            next_update_due: next_update_in_minutes.map(|m| stamp(clock.now() + time::Duration::minutes(m))),
            began_at: None,
        };
        let unit = self.unit().unwrap_or_else(|| "Unit".into());
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| -> Result<Episode, EpisodeError> {
                let episode = episodes::start(tx, &unit, Kind::Drill, &declaration)?;
                episodes::record(tx, &episode.id, &event)?;
                Ok(episode)
            })?
            .into_value())
    }

    /// The open drill's scenario at `clock.now()`: the injects (which are due), when the next arrives, and the score
    /// so far. `None` when no episode is open or it has no scenario. Every role may ask, as for the episode itself.
    pub fn drill_scenario(&self, session: &Session, clock: &dyn Clock) -> Result<Option<DrillScore>, ApiError> {
        session.require(Op::ReadUnit).or_else(|_| session.require(Op::ManageEpisode))?;
        let conn = self.vault()?.conn();
        let Some(episode) = episodes::current(conn, session.keys())? else { return Ok(None) };
        score_for(conn, session.keys(), &self.checklist, &episode, clock.now())
    }

    /// Marks an inject of the open drill seen (numbered from 1), with who and when; audited as
    /// `episode.inject_seen`. Only an inject whose minute has come can be seen, and only once.
    pub fn acknowledge_inject(
        &mut self,
        session: &Session,
        number: u32,
        clock: &dyn Clock,
    ) -> Result<Recorded, ApiError> {
        session.require(Op::ManageEpisode)?;
        let score = self.drill_scenario(session, clock)?.ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "the open episode is not a drill started from a scenario")
        })?;
        let Some(inject) = score.injects.iter().find(|i| i.number == number) else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("the scenario has injects 1 to {}, not {number}", score.injects.len()),
            ));
        };
        if !inject.due {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("inject {number} has not arrived yet (it arrives at {})", inject.at),
            ));
        }
        if let Some(at) = &inject.seen_at {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "inject {number} was already marked seen at {at} by {}",
                    inject.seen_by.clone().unwrap_or_default()
                ),
            ));
        }
        let episode = episodes::current(self.vault()?.conn(), session.keys())?.ok_or(EpisodeError::NoneOpen)?;
        let vault = self.vault_mut()?;
        let event = Event::InjectSeen { inject: number };
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| episodes::record(tx, &episode.id, &event))?
            .into_value())
    }
}

/// The score of `episode` against the scenario it started with, at `now` (or its end), if it started with one.
pub(super) fn score_for(
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    checklist: &Checklist,
    episode: &Episode,
    now: time::OffsetDateTime,
) -> Result<Option<DrillScore>, ApiError> {
    let events = episodes::events(conn, keys, &episode.id)?;
    let Some((file, source)) = scenario::recorded(&events) else { return Ok(None) };
    // Read back without the checklist check: the episode may be read on a station with another checklist.
    let parsed = Scenario::parse(file, source.as_bytes(), None)
        .map_err(|e| ApiError::new(ErrorCode::Integrity, format!("the drill's scenario cannot be read: {e}")))?;
    let declared_at = parse_stamp(&episode.started_at).unwrap_or(now);
    let until = episode.ended_at.as_deref().and_then(parse_stamp).map_or(now, |end| end.min(now));
    let first_entry_at = episodes::first_entry_at(conn, &episode.id)?;
    Ok(Some(scenario::score(&scenario::ScoreFacts {
        file,
        scenario: &parsed,
        checklist: Some(checklist),
        declared_at,
        declared_severity: episode.declaration.severity,
        events: &events,
        first_entry_at: first_entry_at.as_deref(),
        until,
        ended: episode.ended_at.is_some(),
    })))
}

impl Workstation {
    /// The score of a drill against its scenario (the newest drill when `episode_id` is `None`, as the drill report
    /// takes); `None` for a drill without a scenario.
    pub fn scenario_score(
        &self,
        session: &Session,
        episode_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<Option<DrillScore>, ApiError> {
        session.require(Op::ManageEpisode).or_else(|_| session.require(Op::Reconcile))?;
        let episode = self.named_or_newest(session, episode_id, true)?;
        let conn = self.vault()?.conn();
        score_for(conn, session.keys(), &self.checklist, &episode, clock.now())
    }
}
