// @ts-check
// Blanks the text of the standard library's panic messages that nothing reads any more, and the
// panic sites' locations (see below). Runs after
// wasm-opt. trap-panics.mjs made every panic path a bare trap, and wasm-opt then dropped the code
// that handed these messages over; but the text stays in the data section, which no tool
// garbage-collects ("slice index starts at ", "capacity overflow", the two-digit table of integer
// printing, ...): about 0.7 KB, 0.3 KB gzipped, of every download.
//
// A message is blanked (zeroed: gzip then stores next to nothing) only where nothing can still
// point at it. Every address the module could use is collected: each `i32.const` and each load or
// store's static `offset=` in the code (with the constant address it adds to), and every 4-byte
// value in the data itself that falls inside the data (pointers in vtables, tables of strings,
// panic locations). An occurrence of a message with any of those inside it is left as it is.
// Messages are whole, distinctive texts only core or alloc hold: a short one could be part of a
// longer live text of ours that starts before it.
// Usage: node scripts/blank-panic-messages.mjs file.wasm (rewritten in place; prints what it did;
// reads and removes the file.wasm.panic-locations.json trap-panics.mjs wrote).
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { sections, join, dataSegments } from './wasm-sections.mjs';

/** Message texts of core's and alloc's panics (and of assertion failures), as they are laid out. */
const MESSAGES = [
  'slice index starts at ',
  ' but ends at ',
  'index out of bounds: the len is ',
  ' but the index is ',
  'range start index ',
  ' out of range for slice of length ',
  'range end index ',
  'assertion `left ',
  ' right` failed: ',
  ' right` failed',
  '\n  left: ',
  '\n right: ',
  // The three kinds of assertion, laid out side by side.
  '==!=matches',
  'memory allocation of ',
  ' bytes failed',
  'copy_from_slice: source slice length (',
  ') does not match destination slice length (',
  '`async fn` resumed after completion',
  'RefCell already mutably borrowed',
  'RefCell already borrowed',
  'Tried to shrink to a larger capacity',
  'capacity overflow',
  'attempt to join into collection with len > usize::MAX',
  'dest is out of bounds',
  'mid > len',
  // core::fmt's table for printing integers two digits at a time.
  Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''),
];

const file = process.argv[2];
const wasm = fs.readFileSync(file);
const list = sections(wasm);
const data = list.find((s) => s.id === 11);
if (!data) process.exit(0);
const segments = dataSegments(data.body);
const low = Math.min(...segments.map((g) => g.at));
const high = Math.max(...segments.map((g) => g.at + g.bytes.length));

/** Every address the module might use. */
const addresses = new Set();
const wasmDis = path.join(path.dirname(new URL(import.meta.url).pathname), '../tests/node_modules/.bin/wasm-dis');
const text = execFileSync(wasmDis, [file], { maxBuffer: 1 << 30, encoding: 'utf8' });
for (const m of text.matchAll(/i32\.const (-?\d+)/g)) addresses.add(Number(m[1]) >>> 0);
for (const m of text.matchAll(/offset=(\d+)/g)) addresses.add(Number(m[1]));
// A static offset added to a constant address: binaryen prints the address operand right below.
for (const m of text.matchAll(/offset=(\d+)[^\n]*\n\s*\(i32\.const (-?\d+)\)/g)) addresses.add(Number(m[1]) + (Number(m[2]) >>> 0));
for (const g of segments) {
  for (let o = 0; o + 4 <= g.bytes.length; o++) {
    const v = g.bytes.readUInt32LE(o);
    if (v >= low && v < high) addresses.add(v);
  }
}
const sorted = [...addresses].sort((a, b) => a - b);
/** Whether some address lies in [from, to). */
const pointedInto = (/** @type {number} */ from, /** @type {number} */ to) => {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] < to;
};

let blanked = 0, bytes = 0;
/** @type {string[]} */
const kept = [];
for (const message of MESSAGES) {
  const needle = Buffer.from(message, 'latin1');
  for (const g of segments) {
    for (let i = g.bytes.indexOf(needle); i >= 0; i = g.bytes.indexOf(needle, i + needle.length)) {
      if (pointedInto(g.at + i, g.at + i + needle.length)) {
        kept.push(JSON.stringify(message));
        continue;
      }
      g.bytes.fill(0, i, i + needle.length);
      blanked++;
      bytes += needle.length;
    }
  }
}

// The panic sites' `core::panic::Location`s go the same way: { file name pointer, its length,
// line, column }, 16 bytes of numbers that gzip can do little with, read only by a panic message.
// trap-panics.mjs found them through their file names, blanked those, and left their addresses
// in `<file>.panic-locations.json`; here each nothing points into any more is blanked too.
const listed = `${file}.panic-locations.json`;
let locations = 0;
if (fs.existsSync(listed)) {
  for (const at of /** @type {number[]} */ (JSON.parse(fs.readFileSync(listed, 'utf8')))) {
    const g = segments.find((s) => at >= s.at && at + 16 <= s.at + s.bytes.length);
    if (!g || pointedInto(at, at + 16)) continue;
    g.bytes.fill(0, at - g.at, at - g.at + 16);
    locations++;
  }
  fs.rmSync(listed);
}
fs.writeFileSync(file, join(wasm.subarray(0, 8), list));
console.log(`blank-panic-messages: ${blanked} unread panic messages blanked (${bytes} bytes), and ${locations} panic locations; messages left, as something may point at them: ${kept.length}${kept.length ? ` (${kept.join(', ')})` : ''}`);
