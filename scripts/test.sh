#!/usr/bin/env bash
# Runs every test: lint, native Rust unit tests (library and emulator), the wasm suite in Node and
# in headless Chromium against the emulator, the TypeScript check, and node --test over the packed
# npm package. Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

step() { printf '\n== %s\n' "$*"; }
tmp=$(mktemp -d)
trap 'stop_emulator; rm -rf "$tmp"' EXIT

step setup
scripts/setup.sh

step "lint (rustfmt, clippy)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p headless-imports --target wasm32-unknown-unknown --all-targets -- -D warnings
# The shipped builds: no std (see Cargo.toml), both providers, each one alone, and Node's.
for features in dromo,exa exa dromo dromo,exa,server; do
  cargo clippy -p headless-imports --target wasm32-unknown-unknown --no-default-features --features "$features" -- -D warnings
done

step "native unit tests (library logic, emulator)"
cargo test --workspace

step "build (wasm + npm package)"
cargo build --release -p headless-imports-emulator
scripts/build.sh

step "emulator"
start_emulator "$tmp" --time-scale 0.01
echo "emulator at $EMU_API (storage $EMU_STORAGE)"
export HI_EMULATOR_API=$EMU_API

step "wasm tests in Node"
cargo test --target wasm32-unknown-unknown -p headless-imports

if [ "${SKIP_BROWSER:-0}" != 1 ]; then
  step "wasm tests in headless Chromium"
  # Through scripts/wasm-browser-runner.sh: it starts the runner again when its page never loads.
  WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=$(command -v chromedriver) \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$PWD/scripts/wasm-browser-runner.sh" \
    cargo test --target wasm32-unknown-unknown -p headless-imports
fi
stop_emulator

step "TypeScript types"
(cd tests && npx --no-install tsc -p types && npx --no-install tsc -p types/tsconfig.glue.json && npx --no-install tsc -p types/tsconfig.server.json)

step "JS tests of the packed package"
rm -f pkg/*.tgz
(cd pkg && npm pack --silent --pack-destination "$tmp" >/dev/null)
HI_PACKAGE_TARBALL=$(ls "$tmp"/headless-imports-*.tgz) node --test --test-reporter=spec tests/js/
