// Shortens the wasm "name" section in place: drops Rust's symbol hashes (`::h0123456789abcdef`)
// and crate disambiguators (`core[c5930c85a12de822]::`). Stack traces keep readable names
// (`headless_imports::dromo::Dromo::wait::{{closure}}`); the 16 random hex digits per function
// were incompressible, about 5 KB of the gzip payload. Also drops the ranks order-functions.mjs
// put in front. Usage: node short-names.mjs file.wasm
import { readFileSync, writeFileSync } from 'node:fs';
import { join, readName, renameFunctions, sections } from './wasm-sections.mjs';

const file = process.argv[2];
const wasm = readFileSync(file);

const shorten = (name) =>
  name.replace(/^\d+ /, '').replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');

const list = sections(wasm).map(({ id, body }) =>
  id === 0 && readName(body, 0)[0] === 'name'
    ? { id, body: renameFunctions(body, (names) => new Map([...names].map(([i, n]) => [i, shorten(n)]))) }
    : { id, body });
writeFileSync(file, join(wasm.subarray(0, 8), list));
