#!/usr/bin/env bash
# Start-up benchmark (issue 19 item 3): launch of the built desktop app to the first paint of its sign-in screen,
# under Xvfb, beside the smallest Tauri 2 window built the same way (bench/minimal-window: same Tauri, same features,
# same profile, same window size), so the ratio shows what Downtime Kit adds. Not a timed test: it prints figures.
#
#   scripts/bench-start.sh [LAUNCHES]      (default 10 of each, interleaved, after one warm-up launch of each)
#
# Each launch: the clock is read just before exec; the app (DTK_STARTUP_PROBE=1) prints the wall-clock time at which
# its first screen had painted (two animation frames after it mounted: ui/src/lib/startup.ts) and exits. The app
# opens a vault made here with `dtk init --demo`, so its first screen is the sign-in screen, as on a ward.
# Needs the app's build dependencies (scripts/setup.sh) and xvfb; builds both binaries (debug, as scripts/run.sh and
# the e2e tests do) if they are missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
launches="${1:-10}"

if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run --auto-servernum --server-args="-screen 0 1366x768x24" "$0" "$@"
fi

target="${CARGO_TARGET_DIR:-target}"
npm run --silent ui:build >/dev/null 2>&1 || { echo "the UI does not build: run npm run ui:build" >&2; exit 1; }
cargo build --quiet -p downtime-kit -p downtime-kit-app -p dtk-minimal-window
app="$target/debug/downtime-kit"
baseline="$target/debug/dtk-minimal-window"

vault="$(mktemp -d)"
trap 'rm -rf "$vault"' EXIT
DTK_VAULT="$vault" DTK_NEW_PASSWORD="bench-start-password-1" "$target/debug/dtk" init --admin bench.admin --demo \
  --recovery-key-out "$vault/recovery-key.txt" >/dev/null 2>&1

# Milliseconds from exec to the first paint the binary reports; "fail" when it printed none within 30 s.
launch() {
  local start out painted
  start=$(date +%s%3N)
  out=$(DTK_STARTUP_PROBE=1 DTK_VAULT="$vault" timeout 30 "$1" 2>/dev/null || true)
  painted=$(printf '%s\n' "$out" | sed -n 's/^first-paint-epoch-ms \([0-9]*\)$/\1/p')
  if [ -z "$painted" ]; then echo fail; else echo $((painted - start)); fi
}

p50() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "none"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
launch "$app" >/dev/null
launch "$baseline" >/dev/null
app_ms=()
base_ms=()
for _ in $(seq "$launches"); do
  app_ms+=("$(launch "$app")")
  base_ms+=("$(launch "$baseline")")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for v in "${app_ms[@]}" "${base_ms[@]}"; do
  if [ "$v" = fail ]; then echo "a launch printed no first paint within 30 s" >&2; exit 1; fi
done
app_p50=$(printf '%s\n' "${app_ms[@]}" | p50)
base_p50=$(printf '%s\n' "${base_ms[@]}" | p50)
echo "app (sign-in screen) ms:  ${app_ms[*]}"
echo "minimal Tauri window ms: ${base_ms[*]}"
awk -v a="$app_p50" -v b="$base_p50" -v n="$launches" 'BEGIN {
  printf "start-up to first paint, p50 of %d launches: app %.0f ms, minimal window %.0f ms, ratio %.2f (goal: app under 1000 ms)\n", n, a, b, a / b
}'
