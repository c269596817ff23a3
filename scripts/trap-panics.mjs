// @ts-check
// Replaces the body of each of core's and alloc's panic entry points (bounds checks, unwrap and
// expect failures, RefCell double borrows, capacity overflows, `panic_fmt` itself) with a bare
// `unreachable` trap, before wasm-opt runs. The shipped wasm's panic handler (src/lib.rs) traps
// anyway, without reading the message: these functions only format a message nobody sees. But
// the formatting is reachable from them (their `fmt::Arguments` point at `Display` impls), so
// std's formatting machinery, number printing included, stayed in the download. With their
// bodies gone wasm-opt drops it. Behaviour is unchanged: a panic was a trap and is a trap.
// Usage: node scripts/trap-panics.mjs file.wasm (rewritten in place; it needs the name section,
// which wasm-bindgen keeps; prints how many functions it replaced, and fails on none).
import fs from 'node:fs';
import { sections, leb, uleb, readName, join } from './wasm-sections.mjs';

/** Functions of the Rust standard library whose only work is to build a panic message. */
const PANIC_PATHS = [
  /^core::panicking::/,
  /^core::slice::index::slice_\w*fail/,
  /^core::slice::copy_from_slice_impl::len_mismatch_fail/,
  /^core::str::slice_error_fail/,
  /^core::option::(expect_failed|unwrap_failed)/,
  /^core::result::unwrap_failed/,
  /^core::cell::panic_already_/,
  /^alloc::raw_vec::(handle_error|capacity_overflow)/,
  /^alloc::alloc::handle_alloc_error/,
];

const file = process.argv[2];
const wasm = fs.readFileSync(file);
const list = sections(wasm);

let imported = 0;
const imports = list.find((s) => s.id === 2);
if (imports) {
  let [n, p] = leb(imports.body, 0);
  for (let i = 0; i < n; i++) {
    [, p] = readName(imports.body, p);
    [, p] = readName(imports.body, p);
    const kind = imports.body[p++];
    if (kind === 0) {
      [, p] = leb(imports.body, p);
      imported++;
    } else if (kind === 1) {
      p += 1;
      const flags = imports.body[p++];
      [, p] = leb(imports.body, p);
      if (flags & 1) [, p] = leb(imports.body, p);
    } else if (kind === 2) {
      const flags = imports.body[p++];
      [, p] = leb(imports.body, p);
      if (flags & 1) [, p] = leb(imports.body, p);
    } else {
      p += 2; // a global: value type and mutability
    }
  }
}

/** Function index -> name, from the name section's function names. */
const names = new Map();
for (const s of list.filter((x) => x.id === 0)) {
  let [section, p] = readName(s.body, 0);
  if (section !== 'name') continue;
  while (p < s.body.length) {
    const sub = s.body[p++];
    let len;
    [len, p] = leb(s.body, p);
    if (sub === 1) {
      let [n, q] = leb(s.body, p);
      for (let i = 0; i < n; i++) {
        let index, fname;
        [index, q] = leb(s.body, q);
        [fname, q] = readName(s.body, q);
        names.set(index, fname);
      }
    }
    p += len;
  }
}
if (names.size === 0) throw new Error(`${file}: no name section (trap-panics runs before wasm-opt strips it)`);

const code = list.find((s) => s.id === 10);
if (!code) throw new Error(`${file}: no code section`);
let [count, p] = leb(code.body, 0);
/** @type {Buffer[]} */
const bodies = [];
let replaced = 0;
// No locals, `unreachable`, `end`: valid whatever the function's type.
const TRAP = Buffer.from([0x00, 0x00, 0x0b]);
for (let i = 0; i < count; i++) {
  let size;
  [size, p] = leb(code.body, p);
  // Rust's v0 names carry the crate's hash (`core[c5930c85a12de822]::...`).
  const name = (names.get(imported + i) ?? '').replace(/\[[0-9a-f]+\]/g, '');
  if (PANIC_PATHS.some((re) => re.test(name))) {
    bodies.push(Buffer.concat([uleb(TRAP.length), TRAP]));
    replaced++;
  } else {
    bodies.push(Buffer.concat([uleb(size), code.body.subarray(p, p + size)]));
  }
  p += size;
}
if (replaced === 0) throw new Error(`${file}: no panic path found by name`);
code.body = Buffer.concat([uleb(count), ...bodies]);
fs.writeFileSync(file, join(wasm.subarray(0, 8), list));
console.log(`trap-panics: ${replaced} panic paths now trap at once`);
