#!/usr/bin/env bash
# Builds the wasm package into pkg/gen: cargo (size-tuned release profile) -> wasm-bindgen
# (--target web) -> wasm-opt -Os -> unread panic messages blanked -> short import names. Three
# builds of the same crate:
#   pkg/gen/        both providers: the browser side of the `headless-imports` entry
#   pkg/gen/exa/    Exa only:   the browser side of `headless-imports/exa`
#   pkg/gen/dromo/  Dromo only: the browser side of `headless-imports/dromo`
#   pkg/gen/node/   both providers and the server-only calls (saved schemas): every entry in Node
# An app that uses one provider then downloads only that provider's code. Prints the gzip size of
# what a browser loads for each entry.
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm-opt (npm's binaryen, in tests/node_modules) is not optional: without it the wasm ships about
# half again as large. setup.sh installs it (and the rest) when it is missing.
WASM_OPT=tests/node_modules/.bin/wasm-opt
[ -x "$WASM_OPT" ] || scripts/setup.sh
[ -x "$WASM_OPT" ] || { echo "build: $WASM_OPT is missing after scripts/setup.sh" >&2; exit 1; }
gz() { gzip -9 -c "$1" | wc -c; }

# build_wasm <out dir> <browser entry> [cargo feature flags...]
build_wasm() {
  local out=$1 entry=$2
  shift 2
  cargo build --release --target wasm32-unknown-unknown -p headless-imports "$@"
  wasm-bindgen --target web --out-dir "$out" --out-name headless_imports \
    "${CARGO_TARGET_DIR:-target}"/wasm32-unknown-unknown/release/headless_imports.wasm
  local wasm=$out/headless_imports_bg.wasm
  # Panics trap (see src/lib.rs); the standard library's code that only formats their messages
  # goes (scripts/trap-panics.mjs). Needs the name section, which wasm-opt strips just below.
  node scripts/trap-panics.mjs "$wasm"
  # Function names are off by default: they were ~9 KB of the ~70 KB gzip payload, and they only
  # show up in a trap's stack trace (a bug on our side; errors users handle are JS errors with JS
  # stacks). HI_WASM_NAMES=1 keeps them, without Rust's symbol hashes, for debugging such a trap.
  # -Os, not -Oz: -Oz's output is ~4 KB smaller raw but ~0.9 KB larger gzipped, and gzip is what a
  # browser downloads. -ocimfs 25: a function called from one place is inlined only when small
  # (binaryen's default inlines any size). Inlining every async fn's poll into its caller's made a
  # few giant functions whose repeats gzip finds less often: kept apart, the downloads are
  # 0.6-1.1 KB gz smaller (raw ~1 KB larger). 15-50 all help; 25-30 measured best for all three
  # builds. --converge repeats the passes while the output shrinks (another ~0.1 KB gz).
  local names=() strip=(--strip-debug) features=(--enable-bulk-memory
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
    --enable-reference-types --enable-multivalue)
  [ "${HI_WASM_NAMES:-0}" = 1 ] && names=(-g) strip=(-g)
  # The producers and target-features sections only describe the toolchain: no runtime reads them.
  # The names stay until the functions are ordered (scripts/order-functions.mjs ranks them there).
  "$WASM_OPT" -Os -ocimfs 25 --converge -g --strip-producers --strip-target-features \
    "${features[@]}" "$wasm" -o "$wasm"
  # Functions in the order that compresses best, not the source's (-0.7 to -0.8 KB gz per build).
  # `-ol 2 -s 1` are -Os's levels without its passes: the writer then emits the same optimised
  # stack code as the run above (a plain rewrite came out ~150 bytes larger).
  node scripts/order-functions.mjs "$wasm"
  "$WASM_OPT" --reorder-functions-by-name -ol 2 -s 1 "${strip[@]}" "${features[@]}" "$wasm" -o "$wasm"
  # The panic messages the traps left unread (scripts/blank-panic-messages.mjs): after wasm-opt,
  # which drops the code that pointed at them but never data.
  node scripts/blank-panic-messages.mjs "$wasm"
  if [ "${HI_WASM_NAMES:-0}" = 1 ]; then
    node scripts/short-names.mjs "$wasm"
  fi
  # Import names without wasm-bindgen's random hashes, in the .wasm and its glue alike.
  node scripts/short-imports.mjs "${names[@]/-g/--names}" "$wasm" "$out/headless_imports.js"
  node scripts/trim-glue.mjs "$out/headless_imports.js"

  local w js=0 f
  w=$(gz "$wasm")
  for f in "$entry" "$out/headless_imports.js" $(find "$out/snippets" -name '*.js'); do
    js=$((js + $(gz "$f")))
  done
  printf 'build: %-22s browser payload %s bytes gz (wasm %s + js %s); raw wasm %s bytes\n' \
    "$out" "$((w + js))" "$w" "$js" "$(wc -c < "$wasm")"
}

rm -rf pkg/gen
# Without the default `std` feature: the shipped wasm links no std (see Cargo.toml).
build_wasm pkg/gen pkg/index.js --no-default-features --features dromo,exa
build_wasm pkg/gen/exa pkg/exa.js --no-default-features --features exa
build_wasm pkg/gen/dromo pkg/dromo.js --no-default-features --features dromo
build_wasm pkg/gen/node pkg/node.js --no-default-features --features dromo,exa,server

# npm shows the package's own README; the repository's is the source of truth, its links rewritten
# so none points at a file the tarball lacks.
node scripts/package-readme.mjs README.md pkg
