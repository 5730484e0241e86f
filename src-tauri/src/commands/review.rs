//! The charge desk's Review section (issue 21 item 6): every episode of this workstation with its review, and a new
//! version of a review kept. Printing the review is a print job (`PrintJob::Review`).
use super::charge::{count, episode_summary};
use super::Shell;
use crate::dto::{CommandError, EpisodeReview, ReviewRequest, WrittenReview};
use dtk::clock::SystemClock;

fn review_out(r: dtk::api::EpisodeReview) -> EpisodeReview {
    EpisodeReview {
        drill: r.drill,
        episode: episode_summary(r.episode),
        review: r.review.map(|w| WrittenReview {
            impact: w.review.impact,
            follow_ups: w.review.follow_ups,
            at: w.at,
            by: w.by,
            versions: count(w.versions),
        }),
    }
}

/// Every episode of this workstation, newest first, each with its review.
pub fn episode_reviews(shell: &Shell) -> Result<Vec<EpisodeReview>, CommandError> {
    shell.signed_in(|ws, session| Ok(ws.episode_reviews(session)?.into_iter().map(review_out).collect()))
}

/// Keeps a new version of an episode's review; answers the episode with the review as kept.
pub fn save_review(shell: &Shell, request: ReviewRequest) -> Result<EpisodeReview, CommandError> {
    shell.signed_in(|ws, session| {
        let kept =
            ws.write_review(session, Some(&request.episode_id), &request.impact, &request.follow_ups, &SystemClock)?;
        Ok(review_out(kept))
    })
}
