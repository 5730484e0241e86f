//! Fixed randomness for the fuzz targets, so that the short fuzz run of `scripts/test.sh` follows the same path on
//! every run of one commit. libFuzzer's own choices follow `-seed`; what was left random was the process's:
//! Rust's hash maps (serde_json's objects among them) take their keys from the OS at start, and the handoff target
//! makes a fresh HIM key. Hash-table probing then reaches different code on each run, libFuzzer keeps different
//! inputs, and two runs of one commit diverge.
//!
//! Rust's standard library asks for randomness through a weak `getrandom` symbol precisely so that it can be
//! interposed ("e.g. for perf measurements that want to disable randomness for consistency", library/std's
//! `sys/random/linux.rs`); this file defines that symbol in the fuzz binary, which the dynamic linker prefers over
//! the C library's. Every byte asked for comes from a counter through SplitMix64. Only the fuzz binaries link this:
//! the product's keys always come from the OS.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0x2026_1206);

/// SplitMix64: a well-mixed 64-bit value for each counter value.
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)`, answered from the counter whatever the flags.
///
/// # Safety
/// Called by the C ABI with `buf` valid for `buflen` writable bytes, as getrandom(2) requires of its callers.
#[no_mangle]
pub unsafe extern "C" fn getrandom(buf: *mut u8, buflen: usize, _flags: u32) -> isize {
    let mut written = 0;
    while written < buflen {
        let word = splitmix(NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)).to_le_bytes();
        let n = word.len().min(buflen - written);
        // SAFETY: `written + n <= buflen`, and the caller gave `buflen` writable bytes at `buf`.
        unsafe { std::ptr::copy_nonoverlapping(word.as_ptr(), buf.add(written), n) };
        written += n;
    }
    isize::try_from(buflen).unwrap_or(isize::MAX)
}
