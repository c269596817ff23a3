// @ts-check
// Replaces the body of each of core's and alloc's panic entry points (bounds checks, unwrap and
// expect failures, RefCell double borrows, capacity overflows, `panic_fmt` itself) with a bare
// `unreachable` trap, before wasm-opt runs. The shipped wasm's panic handler (src/lib.rs) traps
// anyway, without reading the message: these functions only format a message nobody sees. But
// the formatting is reachable from them (their `fmt::Arguments` point at `Display` impls), so
// std's formatting machinery, number printing included, stayed in the download. With their
// bodies gone wasm-opt drops it. Behaviour is unchanged: a panic was a trap and is a trap.
//
// The formatting machinery itself (core::fmt's `write`, `Formatter`'s padding, the `Display` and
// `Debug` impls) goes the same way. After the panic paths trap, nothing calls it directly, but
// wasm-opt cannot drop it: the impls sit in the function table, named by vtables in the data
// section (the panic messages' `&dyn Display` arguments), and data is never garbage-collected.
// They can only run on a `&mut Formatter`, and only `core::fmt::write` (or `alloc::fmt::format`,
// which calls it) makes one. So this script checks, on the code itself, that no function outside
// the replaced set calls any of them; `format!`, `to_string()` on a number or a `{:?}` anywhere in
// what ships would be such a caller, and fails the build here instead of trapping at run time
// (clippy.toml refuses those macros earlier; this is the check on what the compiler emitted).
// Usage: node scripts/trap-panics.mjs file.wasm (rewritten in place; it needs the name section,
// which wasm-bindgen keeps; prints how many functions it replaced, and fails on none).
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { sections, leb, uleb, readName, join, dataSegments } from './wasm-sections.mjs';

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

/** The formatting machinery: only reachable from panics once they trap (checked below). */
const FORMAT_PATHS = [
  /^core::fmt::/,
  /^alloc::fmt::/,
  /^<core::fmt::Formatter>::/,
  / as core::fmt::(Display|Debug|Write)>::/,
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

/** Rust's v0 names carry the crate's hash (`core[c5930c85a12de822]::...`): drop it. */
const plainName = (/** @type {string} */ name) => name.replace(/\[[0-9a-f]+\]/g, '');
const isFormat = (/** @type {string} */ name) => FORMAT_PATHS.some((re) => re.test(name));
const isPanic = (/** @type {string} */ name) => PANIC_PATHS.some((re) => re.test(name));

// Direct calls, read from binaryen's text form of the module (a disassembler is the reliable way
// to tell a `call` from an immediate that happens to hold its opcode).
const wasmDis = path.join(path.dirname(new URL(import.meta.url).pathname), '../tests/node_modules/.bin/wasm-dis');
const text = execFileSync(wasmDis, [file], { maxBuffer: 1 << 30, encoding: 'utf8' });
/** Text-form function name -> its plain name (binaryen quotes names holding spaces and such). */
const unquote = (/** @type {string} */ t) => plainName(t.startsWith('$"') ? t.slice(2, -1) : t.slice(1));
let caller = '';
const leaks = new Set();
for (const m of text.matchAll(/^ \(func (\$"[^"]*"|\$\S+)|\(call (\$"[^"]*"|\$\S+)/gm)) {
  if (m[1]) {
    caller = unquote(m[1]);
  } else if (isFormat(unquote(m[2])) && !isFormat(caller) && !isPanic(caller)) {
    leaks.add(`${caller} -> ${unquote(m[2])}`);
  }
}
if (leaks.size) {
  throw new Error(`${file}: shipped code formats (core::fmt would trap there):\n  ${[...leaks].join('\n  ')}`);
}

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
  const name = plainName(names.get(imported + i) ?? '');
  if (isPanic(name) || isFormat(name)) {
    bodies.push(Buffer.concat([uleb(TRAP.length), TRAP]));
    replaced++;
  } else {
    bodies.push(Buffer.concat([uleb(size), code.body.subarray(p, p + size)]));
  }
  p += size;
}
if (replaced === 0) throw new Error(`${file}: no panic path found by name`);
code.body = Buffer.concat([uleb(count), ...bodies]);

// Each panic site also left a `core::panic::Location` in the data section: a pointer and length
// naming its source file (`/rustc/<hash>/library/core/src/str/pattern.rs`,
// `/root/.cargo/registry/src/...`, `src/url.rs`), then line and column. Only a panic message reads
// them, so their file names are blanked to zeros, which wasm-opt's memory packing then drops (what
// nightly's `-Zlocation-detail=none` does at compile time). A file name is found through a
// location that points at it, never by searching the text, so no message of ours can be touched.
// Their addresses go to `<file>.panic-locations.json` for blank-panic-messages.mjs.
const data = list.find((s) => s.id === 11);
let blanked = 0;
/** @type {number[]} the addresses of those locations, for blank-panic-messages.mjs */
const locations = [];
if (data) {
  /** @type {{ at: number, bytes: Buffer }[]} active segments: memory address and contents */
  const segments = dataSegments(data.body);
  /** The segment bytes at [addr, addr + len), if one segment holds them all. */
  const slice = (addr, len) => {
    const seg = segments.find((g) => addr >= g.at && addr + len <= g.at + g.bytes.length);
    return seg && seg.bytes.subarray(addr - seg.at, addr - seg.at + len);
  };
  const SOURCE_FILE = /^[\w./-]+\.rs$/;
  /** @type {Buffer[]} */
  const names = [];
  for (const seg of segments) {
    for (let o = (4 - (seg.at % 4)) % 4; o + 16 <= seg.bytes.length; o += 4) {
      const ptr = seg.bytes.readUInt32LE(o), len = seg.bytes.readUInt32LE(o + 4);
      const line = seg.bytes.readUInt32LE(o + 8), column = seg.bytes.readUInt32LE(o + 12);
      if (len < 4 || len > 512 || line === 0 || line > 1e6 || column > 1e4) continue;
      const name = slice(ptr, len);
      if (name && SOURCE_FILE.test(name.toString('latin1'))) {
        names.push(name);
        locations.push(seg.at + o);
      }
    }
  }
  // Blanked once all are found: locations share file names.
  for (const name of names) name.fill(0);
  blanked = locations.length;
}
fs.writeFileSync(file, join(wasm.subarray(0, 8), list));
// The locations themselves are still pointed at from the code here; once wasm-opt has dropped
// what traps made dead, blank-panic-messages.mjs blanks those nothing points at any more.
fs.writeFileSync(`${file}.panic-locations.json`, JSON.stringify(locations));
console.log(`trap-panics: ${replaced} panic and formatting functions now trap at once; ${blanked} panic locations lost their file names`);
