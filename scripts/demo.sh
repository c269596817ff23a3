#!/usr/bin/env bash
# The main job: a real import of examples/contacts.csv (or the file given) against the bundled
# local emulator, printing progress, statuses and result rows.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SKIP_BROWSER=1 scripts/setup.sh
cargo build --quiet --release -p headless-imports-emulator
scripts/build.sh >/dev/null
# Link the package the way an app installs it, so the demo imports 'headless-imports' by name.
mkdir -p examples/node_modules
ln -sfn ../../pkg examples/node_modules/headless-imports

tmp=$(mktemp -d)
trap 'stop_emulator; rm -rf "$tmp"' EXIT
# Real time: processing takes about 2 s, and the client's first polls come quickly by themselves.
start_emulator "$tmp"
echo "emulator: API $EMU_API, storage $EMU_STORAGE"
DROMO_BASE_URL=$EMU_API DROMO_API_KEY=test-dromo-key node examples/demo.mjs "${1:-examples/contacts.csv}"
