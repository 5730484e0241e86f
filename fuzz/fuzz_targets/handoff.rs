//! Fuzz target: handoff files (src/handoff/), as raw files and as payloads sealed to a real HIM key in small
//! segments; see `dtk::fuzzing::handoff` for the two modes. A refused file must say why, never panic.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dtk::fuzzing::handoff(data);
});
