//! Fuzz target: any text scanned from a QR code must parse or be refused, and what parses must round-trip (when its
//! encoding fits in a code: percent-encoding can make a long, space-filled value grow past the limit).
#![no_main]

#[path = "common/fixed_random.rs"]
mod fixed_random;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = dtk::paper::Payload::parse(text) {
            let encoded = p.to_text();
            if encoded.len() <= dtk::paper::MAX_LEN {
                assert_eq!(dtk::paper::Payload::parse(&encoded).as_ref(), Ok(&p), "a parsed payload must round-trip");
            }
        }
    }
});
