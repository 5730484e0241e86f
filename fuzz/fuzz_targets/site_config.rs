//! Fuzz target: any bytes as a site configuration must load or be refused naming the field, never panic.
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dtk::site::SiteConfig::parse("site.json", data);
});
