//! Test helpers of the key hierarchy: a deterministic random generator for unit tests.

use super::Random;

/// A deterministic generator for unit tests (xorshift; never used outside tests).
pub struct SeqRandom(pub u64);

impl Random for SeqRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}
