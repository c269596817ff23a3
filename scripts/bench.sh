#!/usr/bin/env bash
# The benchmark suite: builds what is missing or stale, then runs bench/run.mjs, which starts its
# own loopback servers (the emulator through tests/js/helpers/env.js, a node:http sink) and headless
# Chromium, prints a table and writes BENCHMARKS.md. Eight measurements; about 9 minutes on 2 cores (5 rounds of
# each, benchmark 7 capped at 2).
# Quick run: BENCH_REPS=1 BENCH_UPLOAD_MB=256 scripts/bench.sh; a subset: BENCH_ONLY=3,6 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

wasm=pkg/gen/headless_imports_bg.wasm
stale=0
if [ ! -f "$wasm" ] || [ -n "$(find src Cargo.toml Cargo.lock -newer "$wasm" -print -quit)" ]; then stale=1; fi
# Toolchain, tests/node_modules (bundlers, playwright-core, exa-js, Redis clients), Chromium and redis-server:
# only when something is missing.
if [ ! -d tests/node_modules/exa-js ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ] \
  || ! command -v chromium >/dev/null || ! command -v redis-server >/dev/null \
  || { [ "$stale" = 1 ] && ! command -v wasm-bindgen >/dev/null; }; then
  scripts/setup.sh
fi
# The wasm package: rebuilt when missing or older than the Rust sources.
[ "$stale" = 1 ] && scripts/build.sh
# The emulator (bulk benchmark): cargo rebuilds it if its sources changed.
if ! cargo build --quiet --release -p headless-imports-emulator; then
  [ -x target/release/headless-imports-emulator ] || exit 1
  echo "bench: emulator build failed; using the existing target/release binary" >&2
fi

exec node bench/run.mjs
