#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 10; scripts/test.sh runs the short variant).
#
# New inputs the fuzzer finds go to a temporary folder, never into the repository: the kept corpus (fuzz/corpus/TARGET)
# is only read, so a test run leaves the work tree clean. A crash stops the script and names the input; copy it to
# fuzz/regressions/TARGET-<what it broke> so that tests/it/fuzz_corpus.rs replays it on every `cargo test`.
# Longer runs for a developer: `bash scripts/fuzz.sh 600` (ten minutes per target), or one target from fuzz/:
# `cargo fuzz run handoff -s none corpus/handoff -- -max_total_time=3600`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECONDS_PER_TARGET="${1:-10}"
cd "$ROOT/fuzz"
# The fuzz crate is its own workspace with its own target folder (libFuzzer-instrumented builds never mix with
# the normal ones); in CI it lives in the cache folder too.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "$work/artifacts"
  start=$(now_ms)
  if ! cargo fuzz run "$t" -s none "$work/$t" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -artifact_prefix="$work/artifacts/$t-" -print_final_stats=1 \
      >"$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log" >&2
    mkdir -p "$ROOT/target/fuzz-crashes"
    cp "$work"/artifacts/* "$ROOT/target/fuzz-crashes/" 2>/dev/null || true
    echo "fuzz: target $t crashed; the input is in target/fuzz-crashes/ (keep it as fuzz/regressions/$t-NAME)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz: $t ran $runs inputs in $(( ($(now_ms) - start) / 1000 ))s, no crash"
done
