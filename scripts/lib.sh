# Shared by setup.sh, run.sh and test.sh: paths, a sudo that is only used when needed, and timed named steps.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Cargo's tools (cargo-fuzz, tauri-driver) go to CARGO_HOME's bin, which is on PATH whatever CARGO_HOME is.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/node_modules/.bin:$PATH"

# CI clones the repository afresh for every run. Keeping cargo's build output in a cache folder between runs means a
# run on a machine that has run it before rebuilds only this project's own crates (dependencies are keyed by their
# registry path, which does not change), not the ~600 crates of Tauri and friends. Developers keep ./target.
if [ "${CI:-}" = "true" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/downtime-kit/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# The desktop e2e test starts the app binary from wherever cargo put it.
export DTK_APP="${DTK_APP:-$TARGET_DIR/debug/downtime-kit}"

# CI runs as root; a developer may not be. sudo is used only when we are not root and it exists.
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(__no_sudo__)
fi

now_ms() { date +%s%3N; }

STEP_TIMES=()

# step NAME COMMAND...: runs one named step, prints its duration, and stops everything if it fails.
step() {
  local name="$1"
  shift
  local start end rc
  printf '\n==> [%s] %s\n' "$name" "$*"
  start=$(now_ms)
  set +e
  "$@"
  rc=$?
  set -e
  end=$(now_ms)
  local secs
  secs=$(awk -v ms=$((end - start)) 'BEGIN { printf "%.1f", ms / 1000 }')
  STEP_TIMES+=("$(printf '%-20s %8ss' "$name" "$secs")")
  if [ "$rc" -ne 0 ]; then
    printf '\n==> FAILED step [%s] after %ss (exit %d)\n' "$name" "$secs" "$rc" >&2
    print_step_times >&2
    exit "$rc"
  fi
  printf '==> [%s] ok in %ss\n' "$name" "$secs"
}

print_step_times() {
  printf '\nStep times:\n'
  local line
  for line in "${STEP_TIMES[@]}"; do
    printf '  %s\n' "$line"
  done
}
