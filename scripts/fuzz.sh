#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/, in one of two ways:
#
#   bash scripts/fuzz.sh --short      the reproducible run of scripts/test.sh: each target starts from its kept corpus
#                                     (fuzz/corpus/TARGET) with a fixed seed and a fixed number of runs, so the same
#                                     commit always gives the same verdict, however loaded the machine is.
#   bash scripts/fuzz.sh SECONDS      an exploratory run for developers: SECONDS per target (600 is a good long run),
#                                     a fresh random seed each time, every target run even after another crashed.
#
# The kept corpus is only read, so a run leaves the work tree clean, except that an exploratory run copies every
# input that crashed a target to fuzz/regressions/TARGET-found-<hash>, where tests/it/fuzz_corpus.rs replays it on
# every `cargo test`: rename it after what it broke, fix the bug, and commit both. Inputs that only add coverage stay in
# target/fuzz-found/TARGET (merge them into the corpus with `cargo fuzz cmin` when they are worth keeping).
# One target for longer, from fuzz/: `cargo fuzz run handoff -s none corpus/handoff -- -max_total_time=3600`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The short run's fixed seed and runs per target: a few seconds a target on the 2-core development machine (the
# build of the instrumented targets takes far longer than the runs).
SHORT_SEED=20261206
SHORT_RUNS=20000

mode="${1:---short}"
case "$mode" in
  --short) ;;
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [--short | SECONDS]" >&2
    exit 2
    ;;
esac

cd "$ROOT/fuzz"
# The fuzz crate is its own workspace with its own target folder (libFuzzer-instrumented builds never mix with
# the normal ones); in CI it lives in the cache folder too.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
fi
# A work folder whose name always has the same length (see the short run below).
work="$(mktemp -d /tmp/dtk-fuzz.XXXXXXXX)"
trap 'rm -rf "$work"' EXIT
mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none

# The short run starts each target the same way every time, because libFuzzer's choices follow more than its seed:
# - it files the operands of the comparisons it watches under the comparison's address, so the target runs without
#   address-space randomisation (`setarch -R`);
# - it counts how deep the stack went as coverage, and where the stack starts depends on everything the kernel puts
#   above it (the environment, the arguments, the program's path), so the target runs with an empty environment,
#   from a copy at a path of fixed length, with arguments of fixed length.
# Without these, two runs of one commit part ways after a few thousand inputs (BENCHMARKS.md, "Fuzzing").
fixed_start=()
bin_dir="${CARGO_TARGET_DIR:-$ROOT/fuzz/target}/$(rustc -vV | sed -n 's/^host: //p')/release"
if [ "$mode" = "--short" ]; then
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    fixed_start=(env -i setarch "$(uname -m)" -R)
  else
    echo "fuzz: setarch -R is not permitted here; the short run's coverage may differ between runs" >&2
    fixed_start=(env -i)
  fi
fi
# Every target runs from a copy taken right after the build, so a build started while a long run goes on (CI, another
# checkout sharing the target folder) cannot change the programs under it.
mkdir -p "$work/bin"
for t in "${targets[@]}"; do
  cp "$bin_dir/$t" "$work/bin/$t"
done

crashed=()
for t in "${targets[@]}"; do
  if [ "$mode" = "--short" ]; then
    # libFuzzer writes what it finds to the first folder: a temporary one, so the kept corpus is only read.
    mkdir -p "$work/$t"
    corpus=("$work/$t" "corpus/$t")
    # -reload=0: libFuzzer otherwise rereads the corpus folders every second, so how many inputs a slow machine
    # ran before each reread would change what it does next.
    limits=(-seed="$SHORT_SEED" -runs="$SHORT_RUNS" -reload=0)
  else
    mkdir -p "$ROOT/target/fuzz-found/$t"
    corpus=("$ROOT/target/fuzz-found/$t" "corpus/$t")
    limits=(-max_total_time="$mode")
  fi
  mkdir -p "$work/artifacts"
  start=$(now_ms)
  run=("${fixed_start[@]}" "$work/bin/$t" "${corpus[@]}")
  if "${run[@]}" "${limits[@]}" -artifact_prefix="$work/artifacts/$t-" -print_final_stats=1 >"$work/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo "?")
    # libFuzzer's closing line (coverage, features, corpus size): the same for the same commit in the short run.
    # (less the speed and memory figures, which depend on the machine).
    done_line=$(grep -o 'DONE .*' "$work/$t.log" | tail -1 | sed -E 's/ (exec\/s|rss): [^ ]+//g' || true)
    echo "fuzz: $t ran $runs inputs in $(( ($(now_ms) - start) / 1000 ))s, no crash ($done_line)"
    continue
  fi
  tail -40 "$work/$t.log" >&2
  crashed+=("$t")
  for f in "$work"/artifacts/"$t"-*; do
    [ -f "$f" ] || continue
    if [ "$mode" = "--short" ]; then
      mkdir -p "$ROOT/target/fuzz-crashes"
      cp "$f" "$ROOT/target/fuzz-crashes/"
      echo "fuzz: target $t crashed on target/fuzz-crashes/$(basename "$f") (seed $SHORT_SEED)" >&2
    else
      keep="$ROOT/fuzz/regressions/$t-found-$(sha256sum "$f" | cut -c1-12)"
      cp "$f" "$keep"
      echo "fuzz: target $t crashed; the input is kept as ${keep#"$ROOT"/} (rename it after what it broke)" >&2
    fi
  done
done
if [ "${#crashed[@]}" -gt 0 ]; then
  echo "fuzz: ${#crashed[@]} target(s) crashed: ${crashed[*]}" >&2
  exit 1
fi
