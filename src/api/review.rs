//! The review of every episode in the façade (issue 21 item 6): the charge nurse writes the clinical impact and the
//! follow-up actions of a downtime (or a drill), kept with the episode as a new version each time, and prints the
//! review: timeline, response targets met or missed, decisions, checklist with times, entries per hour, what was
//! missed, and the review itself.

use serde::Serialize;

use super::procedures::timeline_for;
use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::Clock;
use crate::episodes::{self, action, Episode, Kind};
use crate::procedures::{self, Event};
use crate::review::{Review, WrittenReview};

/// An episode of this workstation and its review, if one is written.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeReview {
    pub episode: Episode,
    pub drill: bool,
    pub review: Option<WrittenReview>,
}

impl Workstation {
    /// What a printed episode report is drawn from: the episode's timeline now, and the page stamp.
    pub(super) fn episode_report_parts(
        &self,
        session: &Session,
        episode: &Episode,
        clock: &dyn Clock,
    ) -> Result<(crate::procedures::Timeline, crate::print::Stamp), ApiError> {
        let conn = self.vault()?.conn();
        let timeline =
            timeline_for(conn, session.keys(), &self.checklist, &self.site.response_targets, episode, clock.now())?;
        let stamp = crate::print::Stamp {
            unit: self.unit().unwrap_or_else(|| episode.unit.clone()),
            printed_by: format!("{} ({})", session.display_name(), session.username()),
            printed_at: clock.now(),
            episode: Some(episode.id.clone()),
            drill: episode.kind == Kind::Drill,
            workstation: Some(self.workstation_id()),
            record: self.record_mark(session)?,
        };
        Ok((timeline, stamp))
    }

    /// The episode named, else the newest of this workstation (the newest drill when `drill_only`), open or ended.
    pub(super) fn named_or_newest(
        &self,
        session: &Session,
        episode_id: Option<&str>,
        drill_only: bool,
    ) -> Result<Episode, ApiError> {
        let conn = self.vault()?.conn();
        match episode_id {
            Some(id) => episodes::get(conn, session.keys(), id)?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no episode {id} on this workstation"))),
            None => episodes::list(conn, session.keys())?
                .into_iter()
                .find(|e| !drill_only || e.kind == Kind::Drill)
                .ok_or_else(|| {
                    let none = if drill_only {
                        "there is no drill episode on this workstation"
                    } else {
                        "there is no episode on this workstation to review"
                    };
                    ApiError::new(ErrorCode::NotFound, none)
                }),
        }
    }

    fn episode_review(&self, session: &Session, episode: Episode) -> Result<EpisodeReview, ApiError> {
        let events = episodes::events(self.vault()?.conn(), session.keys(), &episode.id)?;
        Ok(EpisodeReview { drill: episode.kind == Kind::Drill, review: procedures::latest_review(&events), episode })
    }

    /// Every episode of this workstation, newest first, each with its review (the charge desk's Review section).
    pub fn episode_reviews(&self, session: &Session) -> Result<Vec<EpisodeReview>, ApiError> {
        session.require(Op::ManageEpisode)?;
        let list = episodes::list(self.vault()?.conn(), session.keys())?;
        list.into_iter().map(|e| self.episode_review(session, e)).collect()
    }

    /// Keeps the charge nurse's review of `episode_id` (default: the newest episode): the clinical impact and the
    /// follow-up actions, replacing the previous version (which stays in the record). Allowed while the episode is
    /// open and after it ended; audited as `episode.review_written` with sizes only. A review written after the
    /// handoff file travels in the next one.
    pub fn write_review(
        &mut self,
        session: &Session,
        episode_id: Option<&str>,
        impact: &str,
        follow_ups: &[String],
        clock: &dyn Clock,
    ) -> Result<EpisodeReview, ApiError> {
        session.require(Op::ManageEpisode)?;
        let review = Review::normalised(impact, follow_ups);
        if let Some(problem) = review.problem() {
            return Err(ApiError::new(ErrorCode::InvalidInput, problem));
        }
        let episode = self.named_or_newest(session, episode_id, false)?;
        let event = Event::Review { impact: review.impact, follow_ups: review.follow_ups };
        let vault = self.vault_mut()?;
        let _kept = vault
            .write(session.keys(), session.username(), clock.now(), |tx| episodes::record(tx, &episode.id, &event))?;
        self.episode_review(session, episode)
    }

    /// The review of `episode_id` (default: the newest episode) as a PDF, real or drill. Audited
    /// (`episode.review_printed`); the caller saves the bytes.
    pub fn review_report(
        &mut self,
        session: &Session,
        episode_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<crate::print::Pdf, ApiError> {
        session.require(Op::ManageEpisode)?;
        let episode = self.named_or_newest(session, episode_id, false)?;
        let (timeline, stamp) = self.episode_report_parts(session, &episode, clock)?;
        let pdf = crate::print::episode_review(&episode, &timeline, &self.checklist.title, &stamp)?;
        let reviewed = timeline.review.as_ref().map(|r| r.versions);
        let vault = self.vault_mut()?;
        let _audited = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            tx.audit(
                action::REVIEW_PRINTED,
                &format!("episodes:{}", episode.id),
                &serde_json::json!({ "pages": pdf.pages, "entries": timeline.entries, "review_version": reviewed }),
            )
        })?;
        Ok(pdf)
    }
}
