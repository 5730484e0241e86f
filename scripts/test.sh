#!/usr/bin/env bash
# Runs every test of Downtime Kit, in named, timed steps, stopping at the first failure (installing what is missing first).
#
# To add a step (a FHIR validator, a short fuzz run), add one `step NAME COMMAND...` line below. Steps run in an order
# that lets later ones reuse what earlier ones built: the UI build comes before anything that compiles src-tauri,
# because Tauri embeds ui/dist at compile time.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
total_start=$(now_ms)

step setup            bash scripts/setup.sh
step rust-fmt         cargo fmt --all --check
step ui-build         npm run --silent ui:build
step ui-typecheck     npm run --silent ui:check
step ui-unit          npm run --silent ui:test
step ui-a11y          npm run --silent a11y
step rust-clippy      cargo clippy --workspace --all-targets -- -D warnings
step core-test        cargo test
step unit-syncthing   bash scripts/unit-syncthing-check.sh
step fuzz-short       bash scripts/fuzz.sh --short
step shell-test       cargo test -p downtime-kit-app
step app-build        cargo build -p downtime-kit-app
step desktop-e2e      xvfb-run --auto-servernum --server-args="-screen 0 1366x768x24" npm run --silent e2e

print_step_times
total_end=$(now_ms)
echo "all steps passed in $(( (total_end - total_start) / 1000 ))s"
