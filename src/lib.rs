//! Downtime Kit core: the encrypted vault, the forms engine, printing, reconciliation and FHIR export.
//!
//! This crate never depends on Tauri; the desktop shell in `src-tauri/` and the `dtk` command line both call
//! [`api`], the façade over the domain modules.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod census;
pub mod census_feed;
pub mod checklist;
pub mod clock;
pub mod crypto;
pub mod drafts;
pub mod durable;
pub mod entries;
pub mod episodes;
pub mod escalation;
pub mod fhir;
pub mod forms;
#[doc(hidden)]
pub mod fuzzing;
pub mod handoff;
pub mod handover;
pub mod json;
pub mod keyring;
pub mod mar;
pub mod paper;
pub mod patients;
pub mod print;
pub mod printer;
pub mod procedures;
pub mod readiness;
pub mod reconcile;
pub mod review;
pub mod roster;
pub mod scenario;
pub mod severity;
pub mod site;
pub mod targets;
pub mod unit;
pub mod vault;
