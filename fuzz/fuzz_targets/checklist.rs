//! Fuzz target: any bytes as a downtime checklist must load or be refused with problems, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dtk::procedures::Checklist::parse("checklist.json", data);
});
