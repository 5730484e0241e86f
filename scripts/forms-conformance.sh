#!/usr/bin/env bash
# Regenerates docs/forms-conformance.md (the public forms conformance table, issue 18) and its inputs, in the order
# they depend on each other:
#   1. the core's test writes the table and tests/data/forms-public/screen-forms.json (each form it loads, as the
#      form screen receives it);
#   2. the UI's test draws each of those forms on the real form screen and writes screen-render.json;
#   3. the core's test writes the table again with the UI column filled in.
# Without DTK_UPDATE_CONFORMANCE=1 both tests fail when a committed file is out of date, so CI catches a change
# that was not regenerated. Run from anywhere; commit the three files it changes.
set -euo pipefail
cd "$(dirname "$0")/.."
export DTK_UPDATE_CONFORMANCE=1
cargo test --quiet --test it forms_conformance_table_is_current
npx vitest run --config ui/vite.config.ts ui/src/lib/forms/conformance.test.ts
cargo test --quiet --test it forms_conformance_table_is_current
echo "forms-conformance: docs/forms-conformance.md, screen-forms.json and screen-render.json regenerated"
