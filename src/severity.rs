//! The severity of a downtime (P1–P4), from the clinician's point of view: what the declaration, the checklist,
//! the response targets and the site configuration speak of.

use serde::{Deserialize, Serialize};

/// Severity of a downtime, from the clinician's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Clinicians cannot reach information needed for care now, with no workaround.
    P1,
    /// Workflow disrupted, a workaround is available.
    P2,
    /// Degraded, no direct patient impact.
    P3,
    /// Minor.
    P4,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P1" => Some(Severity::P1),
            "P2" => Some(Severity::P2),
            "P3" => Some(Severity::P3),
            "P4" => Some(Severity::P4),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::P4 => "P4",
        }
    }

    /// What the level means, in the words shown on the banner and in updates.
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::P1 => "clinicians cannot reach information needed for care now; no workaround",
            Severity::P2 => "workflow disrupted; a workaround is available",
            Severity::P3 => "degraded; no direct patient impact",
            Severity::P4 => "minor",
        }
    }
}
