#!/usr/bin/env bash
# Issue 20's "Done when", carried by Syncthing instead of a shared folder: two Syncthing instances on loopback
# replicate one unit share between the folders of two workstations (two demo vaults), nothing else connecting them.
# A dose charted on workstation A is published by `dtk unit sync` on A, replicated by Syncthing, read by `dtk unit
# sync` on B, shown by `dtk unit status` on B, and the same dose charted on B is refused as a possible duplicate
# before it is saved. Then Syncthing is stopped and B's share folder removed: B still charts and `dtk unit status`
# says the share is unreachable.
#
#   bash scripts/unit-syncthing-check.sh        # installs syncthing (Debian package) if missing; prints each step
#
# A step of `scripts/test.sh` (about 10 s; scripts/setup.sh installs syncthing). Syncthing talks only to the other
# instance on 127.0.0.1: discovery, relays, NAT traversal, usage reports and upgrades are off. The same steps through
# a plain shared folder are tests/it/unit_share.rs and src-tauri/tests/unit.rs. Exit 0 only when every step held.
# Synthetic data only (the demo unit).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  for log in "${W:-/nonexistent}"/st-*.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }; done
  exit 1
}

if ! command -v syncthing >/dev/null; then
  say "installing syncthing (Debian package)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y syncthing >/dev/null
fi
DTK=${DTK:-}
if [ -z "$DTK" ]; then
  cargo build --quiet --bin dtk
  DTK="${CARGO_TARGET_DIR:-target}/debug/dtk"
fi

W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

# Four distinct free ports on loopback, held open together while they are chosen so that no two are the same.
free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

say "two Syncthing instances on loopback, sharing one folder"
for s in a b; do
  syncthing generate --home "$W/st-$s" --no-default-folder --skip-port-probing >/dev/null 2>&1
  mkdir -p "$W/share-$s"
done
ID_A=$(syncthing serve --home "$W/st-a" --device-id)
ID_B=$(syncthing serve --home "$W/st-b" --device-id)
read -r PORT_A PORT_B GUI_A GUI_B < <(free_ports)
configure() { # home, own gui port, own listen port, folder, other id, other port
  python3 - "$@" "$ID_A" "$ID_B" <<'EOF'
import sys, xml.etree.ElementTree as ET
home, gui, port, folder, other, other_port, id_a, id_b = sys.argv[1:]
path = f"{home}/config.xml"
tree = ET.parse(path)
root = tree.getroot()
root.find("gui").find("address").text = f"127.0.0.1:{gui}"
opts = root.find("options")
for tag, value in [("listenAddress", f"tcp://127.0.0.1:{port}"), ("globalAnnounceEnabled", "false"),
                   ("localAnnounceEnabled", "false"), ("relaysEnabled", "false"), ("natEnabled", "false"),
                   ("urAccepted", "-1"), ("crashReportingEnabled", "false"), ("autoUpgradeIntervalH", "0"),
                   ("startBrowser", "false"), ("reconnectionIntervalS", "2")]:
    for old in opts.findall(tag):
        opts.remove(old)
    ET.SubElement(opts, tag).text = value
device = ET.SubElement(root, "device", {"id": other, "name": "peer", "compression": "metadata", "introducer": "false"})
ET.SubElement(device, "address").text = f"tcp://127.0.0.1:{other_port}"
f = ET.SubElement(root, "folder", {"id": "unit-5-east", "label": "5 East unit share", "path": folder,
                                  "type": "sendreceive", "rescanIntervalS": "2", "fsWatcherEnabled": "true",
                                  "fsWatcherDelayS": "1"})
for d in (id_a, id_b):
    ET.SubElement(f, "device", {"id": d})
tree.write(path)
EOF
}
configure "$W/st-a" "$GUI_A" "$PORT_A" "$W/share-a" "$ID_B" "$PORT_B"
configure "$W/st-b" "$GUI_B" "$PORT_B" "$W/share-b" "$ID_A" "$PORT_A"
for s in a b; do
  STNOUPGRADE=1 syncthing serve --home "$W/st-$s" --no-browser --no-restart >"$W/st-$s.log" 2>&1 &
  PIDS+=("$!")
done
echo "A listens on 127.0.0.1:$PORT_A, B on 127.0.0.1:$PORT_B"

say "two workstations of 5 East (demo vaults), each listing the other's key"
export DTK_PASSWORD=demo-password
for s in a b; do
  DTK_NEW_PASSWORD=admin-pass-1 "$DTK" --vault "$W/ws-$s" init --admin it.admin --demo --recovery-key-out "$W/rk-$s" >/dev/null
done
KEY_A=$(DTK_USER=demo.nurse "$DTK" --vault "$W/ws-a" unit key)
KEY_B=$(DTK_USER=demo.nurse "$DTK" --vault "$W/ws-b" unit key)
site() { # vault, share, peer key
  python3 - "$@" <<'EOF'
import json, sys
vault, share, peer = sys.argv[1:]
path = f"{vault}/site.json"
try:
    site = json.load(open(path))
except FileNotFoundError:
    site = {}
site.update({"unit_share_dir": share, "unit_peers": [peer]})
json.dump(site, open(path, "w"), indent=2)
EOF
}
site "$W/ws-a" "$W/share-a" "$KEY_B"
site "$W/ws-b" "$W/share-b" "$KEY_A"

GIVEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$W/dose.json" <<EOF
{
  "resourceType": "QuestionnaireResponse",
  "questionnaire": "http://downtimekit.example.org/fhir/Questionnaire/medication-administration|1.0.0",
  "status": "completed",
  "subject": { "identifier": { "system": "http://hospital.example.org/mrn", "value": "DEV2003" } },
  "item": [
    { "linkId": "medication", "answer": [{ "valueString": "Metoprolol Tartrate 25 MG Oral Tablet" }] },
    { "linkId": "dose", "answer": [{ "valueQuantity": { "value": 25, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg" } }] },
    { "linkId": "route", "answer": [{ "valueCoding": { "system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route" } }] },
    { "linkId": "time-given", "answer": [{ "valueDateTime": "$GIVEN" }] },
    { "linkId": "outcome", "answer": [{ "valueCoding": { "system": "http://terminology.hl7.org/CodeSystem/medication-admin-status", "code": "completed", "display": "Given" } }] }
  ]
}
EOF

say "A charts a dose and publishes it"
DTK_USER=demo.nurse "$DTK" --vault "$W/ws-a" entry add --response "$W/dose.json" --sign
DTK_USER=demo.nurse "$DTK" --vault "$W/ws-a" unit sync

say "Syncthing replicates A's segment to B's folder"
for _ in $(seq 1 180); do
  if find "$W/share-b" -name '*.dtku' -newer "$W/dose.json" 2>/dev/null | grep -q .; then break; fi
  sleep 1
done
find "$W/share-b" -type f -not -path '*/.st*' | sed "s|$W/||" | sort
# Syncthing copies into a temporary file (.syncthing.NAME.tmp) and renames it: a *.dtku name is a whole segment.
find "$W/share-b" -name '*.dtku' | grep -q . || fail "no segment of A reached B's folder within 180 s"
# A's folder is named by its workstation id; people see its first 8 characters (taken before B publishes its own).
LABEL=$(basename "$(dirname "$(find "$W/share-b" -name '*.dtku' | head -1)")" | cut -c1-8)

say "B syncs: A's entry comes in, and the status names A"
DTK_USER=demo.nurse "$DTK" --vault "$W/ws-b" unit sync | tee "$W/sync-b.txt"
grep -q "1 entries" "$W/sync-b.txt" || fail "B's sync did not bring A's entry"
"$DTK" --vault "$W/ws-b" unit status | tee "$W/status-b.txt"
grep -q "^WS $LABEL: " "$W/status-b.txt" || fail "B's status does not name A (WS $LABEL)"

say "the same dose charted on B is stopped as a possible duplicate before it is saved"
if DTK_USER=demo.nurse "$DTK" --vault "$W/ws-b" entry add --response "$W/dose.json" --sign 2>"$W/dup.txt"; then
  fail "B saved the same dose without asking"
fi
cat "$W/dup.txt"
grep -qi "duplicate" "$W/dup.txt" || fail "B refused the dose, but not as a possible duplicate"

say "Syncthing stopped and B's share folder gone: B charts on, and says the share is unreachable"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
rm -rf "$W/share-b"
DTK_USER=demo.nurse "$DTK" --vault "$W/ws-b" entry add --response "$W/dose.json" --sign --not-duplicate
"$DTK" --vault "$W/ws-b" unit status | tee "$W/status-b2.txt"
grep -q "unit share unreachable" "$W/status-b2.txt" || fail "B's status does not say the share is unreachable"

say "every step held"
