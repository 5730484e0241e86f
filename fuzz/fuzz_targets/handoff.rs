//! Fuzz target: handoff files (src/handoff.rs), as raw files and as payloads sealed to a real HIM key; see
//! `dtk::fuzzing::handoff` for the two modes. A refused file must say why, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::handoff(data);
});
