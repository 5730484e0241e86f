#!/bin/sh
# Printing benchmark (docs/design.md "Performance budgets"): 500 patient-prefilled forms, Downtime Kit against Chromium print-to-pdf, in one run.
# Needs the Debian packages chromium and poppler-utils. Usage: scripts/bench-print.sh [COUNT]
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet --example bench_print
exec target/release/examples/bench_print "${1:-500}"
