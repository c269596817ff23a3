#!/usr/bin/env bash
# The demo page: builds what is missing, starts the local emulator (slowed down so each status is
# visible) and serves www/ and pkg/ on http://127.0.0.1:${PORT:-8080}/, printing the URL to open.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

[ -x "$EMULATOR" ] || cargo build --quiet --release -p headless-imports-emulator
[ -f pkg/gen/headless_imports_bg.wasm ] || scripts/build.sh

tmp=$(mktemp -d)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; stop_emulator; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# 0.2 s per processing step: PENDING and RUNNING show up in the timeline without a long wait.
start_emulator "$tmp" --time-scale "${TIME_SCALE:-0.2}"
EMU_EXA=$(node -e 'console.log(JSON.parse(process.argv[1]).exa)' "$(head -n 1 "$tmp/emu.out")")
echo "emulator: Dromo $EMU_API, Exa $EMU_EXA, storage $EMU_STORAGE"
HI_API=$EMU_API HI_EXA=$EMU_EXA node www/serve.mjs &
SERVER_PID=$!
wait "$SERVER_PID"
