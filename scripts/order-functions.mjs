// Chooses the order of the wasm's functions for gzip and brotli, which find repeats only within a
// window behind (32 KB for gzip): a function placed after code like its own costs fewer bytes.
// The compiler's order follows the source; this one is built greedily: from the first function,
// each next one is the function that compresses best after what is already placed (deflate with
// the last 32 KB as its dictionary, the saving against deflating it alone, per bit of its own
// size). Then a fixed number of random moves (a seeded generator: the build stays reproducible)
// of a few adjacent functions each, kept when the whole code compresses smaller. It ranks the functions
// in the name section ("00042 name"); `wasm-opt --reorder-functions-by-name` then moves them, with
// every call and table entry renumbered, and short-names.mjs drops the ranks again.
// Usage: node order-functions.mjs file.wasm (needs the name section: wasm-opt -g)
import { readFileSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { join, leb, readName, renameFunctions, sections } from './wasm-sections.mjs';

const WINDOW = 32 * 1024;
// Measured on the Exa build: the greedy order saves ~700 B gz, 1,500 moves ~100 B more, 5,000 ~160.
const MOVES = 3000;
const file = process.argv[2];
const wasm = readFileSync(file);
const list = sections(wasm);

/** The function bodies of the code section, in index order (defined functions only). */
function bodies(code) {
  let [n, p] = leb(code, 0);
  const out = [];
  for (let i = 0; i < n; i++) {
    const [size, q] = leb(code, p);
    out.push(code.subarray(p, q + size));
    p = q + size;
  }
  return out;
}

/** How many functions are imported: they come first in the index space and do not move. */
function importedFunctions(imports) {
  if (!imports) return 0;
  let [n, p] = leb(imports, 0);
  let count = 0;
  const limits = () => {
    const flags = imports[p++];
    [, p] = leb(imports, p);
    if (flags & 1) [, p] = leb(imports, p);
  };
  for (let i = 0; i < n; i++) {
    [, p] = readName(imports, p);
    [, p] = readName(imports, p);
    const kind = imports[p++];
    if (kind === 0) {
      [, p] = leb(imports, p);
      count++;
    } else if (kind === 1) {
      p++; // the element type
      limits();
    } else if (kind === 2) limits();
    else if (kind === 3) p += 2; // value type, mutability
    else if (kind === 4) [, p] = leb(imports, p + 1); // attribute, type
    else throw new Error(`order-functions: unknown import kind ${kind}`);
  }
  return count;
}

/** The greedy order: positions in `code` (0 = the first defined function). */
function order(code) {
  const alone = code.map((b) => deflateRawSync(b, { level: 9 }).length);
  const left = new Set(code.keys());
  const out = [0];
  left.delete(0);
  let placed = Buffer.from(code[0]);
  while (left.size) {
    const dictionary = placed.subarray(Math.max(0, placed.length - WINDOW));
    let best = -1, bestSaving = -Infinity;
    for (const i of left) {
      const saving = (alone[i] - deflateRawSync(code[i], { level: 9, dictionary }).length) / Math.log2(alone[i] + 2);
      if (saving > bestSaving) [best, bestSaving] = [i, saving];
    }
    out.push(best);
    left.delete(best);
    placed = Buffer.concat([dictionary, code[best]]);
  }
  return out;
}

/** `sequence` improved by random moves of 1-4 adjacent functions, kept when `code` compresses smaller. */
function refine(code, sequence) {
  const size = (s) => deflateRawSync(Buffer.concat(s.map((i) => code[i])), { level: 9 }).length;
  let best = size(sequence);
  let seed = 1;
  const random = (below) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * below);
  };
  for (let move = 0; move < MOVES && code.length > 8; move++) {
    const length = 1 + random(4);
    const from = random(code.length - length);
    const to = random(code.length - length);
    const tried = sequence.slice();
    tried.splice(to, 0, ...tried.splice(from, length));
    const got = size(tried);
    if (got < best) [best, sequence] = [got, tried];
  }
  return sequence;
}

/** The function names with each defined function's prefixed by its rank in `ranks`. */
function ranked(names, first, ranks) {
  const width = String(ranks.length).length;
  for (let i = 0; i < ranks.length; i++) {
    names.set(first + i, `${String(ranks[i]).padStart(width, '0')} ${names.get(first + i) ?? `f${first + i}`}`);
  }
  return names;
}

const code = bodies(list.find((s) => s.id === 10).body);
const first = importedFunctions(list.find((s) => s.id === 2)?.body);
const sequence = refine(code, order(code));
const ranks = new Array(code.length);
sequence.forEach((position, rank) => { ranks[position] = rank; });
const isNames = ({ id, body }) => id === 0 && readName(body, 0)[0] === 'name';
if (!list.some(isNames)) throw new Error('order-functions: the wasm has no name section (wasm-opt -g)');
writeFileSync(file, join(wasm.subarray(0, 8), list.map((s) => (isNames(s) ? { id: 0, body: renameFunctions(s.body, (names) => ranked(names, first, ranks)) } : s))));
