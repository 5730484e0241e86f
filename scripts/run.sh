#!/usr/bin/env bash
# Builds and launches the Downtime Kit desktop app (installing what is missing first). The vault goes to the platform
# data folder, or to $DTK_VAULT when it is set. The first launch offers set-up and the demo unit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

step setup bash scripts/setup.sh
step ui-build npm run --silent ui:build
step app-build cargo build -p downtime-kit-app
print_step_times
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display (DISPLAY/WAYLAND_DISPLAY unset); the app needs a desktop session. Built: $TARGET_DIR/debug/downtime-kit" >&2
  exit 1
fi
exec "$TARGET_DIR/debug/downtime-kit"
