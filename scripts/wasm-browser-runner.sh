#!/usr/bin/env bash
# Cargo's runner for the wasm tests in headless Chromium (scripts/test.sh sets it): runs
# wasm-bindgen-test-runner, and starts it again when its test page never loaded.
#
# Why: now and then the runner's own file server stops reading the page's requests (seen here: its
# socket holding an unread request, Chromium's connections waiting, the renderer idle). The page
# stays at "Loading scripts...", no test starts, and the runner waits out Chromium's 300 s page-load
# limit to fail with "Failed to detect test as having been run" (wasm-bindgen/wasm-pack#783,
# wasm-bindgen/wasm-bindgen#882). That is the harness, not a test: it is given 90 s to start the
# tests ("running N tests"), then killed with its driver and browser and tried again, at most three
# times in all. Once the tests have started nothing is retried: a failing test fails the run.
set -uo pipefail

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for attempt in 1 2 3; do
  : >"$log"
  # Its own process group, so that a stuck attempt goes with its chromedriver and Chromium.
  setsid wasm-bindgen-test-runner "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 900); do
    kill -0 "$pid" 2>/dev/null || break
    grep -q '^running [0-9]* test' "$log" && break
    sleep 0.1
  done
  if ! kill -0 "$pid" 2>/dev/null || grep -q '^running [0-9]* test' "$log"; then
    tail -n +1 -f --pid="$pid" "$log"
    wait "$pid"
    exit $?
  fi
  echo "wasm-browser-runner: the test page did not load in 90 s (attempt $attempt of 3); output so far:" >&2
  sed 's/^/  | /' "$log" >&2
  kill -- -"$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
echo "wasm-browser-runner: the test page never loaded: giving up" >&2
exit 1
