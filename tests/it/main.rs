//! The one integration-test binary of the core and the `dtk` command line (ripgrep style): each module is a
//! capability, tested the way a user would notice it.

mod accounts;
mod backup;
mod census_feed;
mod clinical;
mod clinical_time;
mod faults;
mod fhir_export;
mod fhir_server;
mod fhirpath_contract;
mod fhirpath_forms;
mod forms;
mod forms_conformance;
mod forms_value_sets;
mod fuzz_corpus;
mod handoff;
mod handover;
mod him_desk;
mod mar;
mod mar_paper;
mod paper;
mod posting;
mod print;
mod print_centre;
mod procedures;
mod readback;
mod readiness;
mod reconcile;
mod repeated_keys;
mod repository;
mod roster;
mod support;
mod tamper;
mod tidy;
mod unsigned;
mod vault;
