#!/usr/bin/env bash
# Builds the wasm package into pkg/gen: cargo (size-tuned release profile) -> wasm-bindgen
# (--target web: one .wasm every entry shares) -> wasm-opt -Os. Prints the gzip size of what a
# browser loads.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --target wasm32-unknown-unknown -p headless-imports
rm -rf pkg/gen
wasm-bindgen --target web --out-dir pkg/gen --out-name headless_imports \
  "${CARGO_TARGET_DIR:-target}"/wasm32-unknown-unknown/release/headless_imports.wasm

WASM_OPT=tests/node_modules/.bin/wasm-opt
if [ -x "$WASM_OPT" ]; then
  # Function names are off by default: they were ~9 KB of the ~70 KB gzip payload, and they only
  # show up in a trap's stack trace (a bug on our side; errors users handle are JS errors with JS
  # stacks). HI_WASM_NAMES=1 keeps them, without Rust's symbol hashes, for debugging such a trap.
  # -Os, not -Oz: -Oz's output is ~4 KB smaller raw but ~0.9 KB larger gzipped, and gzip is what a
  # browser downloads.
  names=()
  [ "${HI_WASM_NAMES:-0}" = 1 ] && names=(-g)
  # The producers and target-features sections only describe the toolchain: no runtime reads them.
  "$WASM_OPT" -Os "${names[@]}" --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    pkg/gen/headless_imports_bg.wasm -o pkg/gen/headless_imports_bg.wasm
  if [ "${HI_WASM_NAMES:-0}" = 1 ]; then
    node scripts/short-names.mjs pkg/gen/headless_imports_bg.wasm
  fi
else
  echo "build: wasm-opt not installed (run scripts/setup.sh); skipping the -Os pass" >&2
fi
# Import names without wasm-bindgen's random hashes, in the .wasm and its glue alike.
node scripts/short-imports.mjs pkg/gen/headless_imports_bg.wasm pkg/gen/headless_imports.js

# npm shows the package's own README; the repository's is the source of truth.
cp README.md pkg/README.md

gz() { gzip -9 -c "$1" | wc -c; }
wasm=$(gz pkg/gen/headless_imports_bg.wasm)
js=0
for f in pkg/index.js pkg/gen/headless_imports.js $(find pkg/gen/snippets -name '*.js'); do
  [ -f "$f" ] && js=$((js + $(gz "$f")))
done
printf 'build: browser payload %s bytes gz (wasm %s + js %s); raw wasm %s bytes\n' \
  "$((wasm + js))" "$wasm" "$js" "$(wc -c < pkg/gen/headless_imports_bg.wasm)"
