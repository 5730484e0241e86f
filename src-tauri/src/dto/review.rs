//! The DTOs of the review of an episode (issue 21 item 6): each episode of the workstation with the charge nurse's
//! review (clinical impact, follow-up actions), and the request that keeps a new version of it.
use super::{add, Bindings, EpisodeSummary};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub(super) fn bindings(out: &mut Bindings) {
    add::<WrittenReview>(out);
    add::<EpisodeReview>(out);
    add::<ReviewRequest>(out);
}

/// The newest version of a review, who wrote it and when, and how many versions were kept.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WrittenReview {
    pub impact: String,
    pub follow_ups: Vec<String>,
    pub at: String,
    pub by: String,
    pub versions: u32,
}

/// An episode of this workstation (newest first in lists) and its review, if one is written.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeReview {
    pub episode: EpisodeSummary,
    pub drill: bool,
    pub review: Option<WrittenReview>,
}

/// A new version of the review of `episode_id`: the clinical impact and the follow-up actions, one line each.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRequest {
    pub episode_id: String,
    pub impact: String,
    pub follow_ups: Vec<String>,
}
