#!/usr/bin/env bash
# Installs what Downtime Kit needs to build, run and test it, and nothing that is already there (a second run is a no-op).
#
# Debian/Ubuntu packages via apt-get (only the missing ones, `apt-get update` only if something is missing), the npm
# packages of each npm project (the root, tools/fhir and tools/fhir-server; only when node_modules is missing or older
# than the lock file), a Python venv for the third FHIR validator, and the cargo tools the scripts call (cargo-fuzz
# and tauri-driver, and the FHIR server helios-hfs the posting tests and benchmark run on loopback; pinned, `--locked`,
# only when that exact version is not installed). Rust and Node.js must already be there: this workplace's machines
# ship them, and neither can be fetched from a package registry here.
#
# It ends by checking every command that scripts/test.sh and scripts/run.sh (and the tests they run) call, and names
# any that is still missing, so a missing install step fails here, by name, rather than halfway through the tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Build: WebKitGTK and friends for Tauri. Test: Xvfb and WebKitWebDriver for the desktop e2e tests; poppler, zbar and
# ImageMagick for checking printed PDFs, barcodes and screenshots; fiu-utils (libfiu) for the I/O fault tests;
# syncthing for the unit share carried by two Syncthing instances on loopback (scripts/unit-syncthing-check.sh);
# GNU time (/usr/bin/time) for the benchmarks' wall, CPU and peak memory figures (examples/export_bench.rs,
# scripts/bench-post.sh).
APT_PACKAGES=(
  build-essential pkg-config curl file time
  libwebkit2gtk-4.1-dev libxdo-dev librsvg2-dev libssl-dev
  xvfb xauth webkit2gtk-driver
  imagemagick poppler-utils zbar-tools
  chromium chromium-driver
  fiu-utils
  syncthing
)
# Cargo tools: crate, exact version, then any further `cargo install` flags. Installed into CARGO_HOME (default
# ~/.cargo), whose bin/ lib.sh puts on PATH. helios-hfs is the real FHIR R4 server (`hfs`) of tests/it/fhir_server.rs
# and the posting benchmark (scripts/fhir-server.sh): R4 with the SQLite backend only, without its web UI; it takes
# about 25 minutes to build, once per machine.
CARGO_TOOLS=(
  "cargo-fuzz 0.13.2"
  "tauri-driver 2.1.0"
  "helios-hfs 0.2.7 --no-default-features --features R4,sqlite"
)
NODE_MIN="20.19"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${SUDO[0]:-}" = "__no_sudo__" ]; then
    echo "setup: missing Debian packages (${missing[*]}) and not root without sudo; install them and run again." >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  # Another apt (unattended upgrades, a parallel install) may hold the lock; wait for it rather than fail.
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust with rustup (https://rustup.rs) and run again." >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || ! node -e "
  const [a, b] = process.versions.node.split('.').map(Number);
  const [x, y] = '$NODE_MIN'.split('.').map(Number);
  process.exit(a > x || (a === x && b >= y) ? 0 : 1);"; then
  echo "setup: Node.js $NODE_MIN or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install; it is older than the lock file when the lock changed.
# `npm install` (which follows package-lock.json) rather than `npm ci`: the registry these machines reach serves only
# the Linux builds of @tauri-apps/cli, so the lock cannot list the other platforms' optional packages, and `npm ci`
# refuses a lock without them.
# The root project (UI, Tauri CLI), tools/fhir (the independent FHIR validators that `cargo test` runs) and
# tools/fhir-server (the loopback FHIR server the export tests post to).
NPM_PROJECTS=(. tools/fhir tools/fhir-server)
for dir in "${NPM_PROJECTS[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: npm install in $dir (from its package-lock.json)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
done

# The third FHIR validator: fhir.resources 6.2.x, the last release with R4 models (it needs pydantic 1), in a venv
# of its own so that nothing is installed into the system Python.
VENV=tools/fhir/.venv
if ! "$VENV/bin/python" -c "import fhir.resources, pydantic; assert fhir.resources.__version__.startswith('6.2')" 2>/dev/null; then
  echo "setup: python venv with fhir.resources 6.2 in $VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends python3-venv
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "fhir.resources==6.2.*" "pydantic<2"
fi

# `cargo install --list` names what cargo installed and at which version (tauri-driver has no --version flag).
installed_crates="$(cargo install --list 2>/dev/null || true)"
for tool in "${CARGO_TOOLS[@]}"; do
  read -r -a words <<<"$tool"
  crate="${words[0]}"
  version="${words[1]}"
  flags=("${words[@]:2}")
  if ! grep -q "^$crate v$version:" <<<"$installed_crates"; then
    echo "setup: cargo install $crate $version ${flags[*]}"
    cargo install "$crate" --version "$version" --locked "${flags[@]}"
  fi
done

# Every command a step of test.sh or run.sh, or a test they run, calls; each with what provides it.
REQUIRED_COMMANDS=(
  "cargo:rustup" "rustc:rustup" "cargo-fmt:rustup (rustfmt component)" "cargo-clippy:rustup (clippy component)"
  "cargo-fuzz:cargo install cargo-fuzz" "tauri-driver:cargo install tauri-driver" "hfs:cargo install helios-hfs"
  "node:Node.js" "npm:Node.js"
  "xvfb-run:xvfb" "Xvfb:xvfb" "xauth:xauth" "WebKitWebDriver:webkit2gtk-driver"
  "chromium:chromium" "chromedriver:chromium-driver"
  "pdftotext:poppler-utils" "pdftoppm:poppler-utils" "zbarimg:zbar-tools" "convert:imagemagick" "import:imagemagick"
  "fiu-run:fiu-utils" "fiu-ctrl:fiu-utils" "setpriv:util-linux" "setarch:util-linux" "python3:Python 3"
  "$ROOT/tools/fhir/.venv/bin/python:python3 -m venv tools/fhir/.venv"
  "$ROOT/node_modules/.bin/vite:npm install" "$ROOT/node_modules/.bin/tauri:npm install"
)
still_missing=()
for entry in "${REQUIRED_COMMANDS[@]}"; do
  cmd="${entry%%:*}"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    still_missing+=("$cmd (from ${entry#*:})")
  fi
done
for dir in tools/fhir tools/fhir-server; do
  [ -d "$dir/node_modules" ] || still_missing+=("$dir/node_modules (npm install in $dir)")
done
if [ "${#still_missing[@]}" -gt 0 ]; then
  echo "setup: still missing after set-up:" >&2
  printf '  %s\n' "${still_missing[@]}" >&2
  exit 1
fi
echo "setup: every tool the build and the tests call is here"
