// Shortens the wasm "name" section in place: drops Rust's symbol hashes (`::h0123456789abcdef`)
// and crate disambiguators (`core[c5930c85a12de822]::`). Stack traces keep readable names
// (`headless_imports::dromo::Dromo::wait::{{closure}}`); the 16 random hex digits per function
// were incompressible, about 5 KB of the gzip payload. Also drops the ranks order-functions.mjs
// put in front. Usage: node short-names.mjs file.wasm
import { readFileSync, writeFileSync } from 'node:fs';
import { join, leb, readName, sections, uleb } from './wasm-sections.mjs';

const file = process.argv[2];
const wasm = readFileSync(file);

const shorten = (name) =>
  name.replace(/^\d+ /, '').replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');

function rewriteNames(body) {
  let [len, pos] = leb(body, 0);
  const head = body.subarray(0, pos + len);
  pos += len;
  const parts = [head];
  while (pos < body.length) {
    const id = body[pos++];
    let size;
    [size, pos] = leb(body, pos);
    let sub = body.subarray(pos, pos + size);
    pos += size;
    if (id === 1) {
      // Function names: vec(index, name).
      let [count, p] = leb(sub, 0);
      const out = [uleb(count)];
      for (let i = 0; i < count; i++) {
        let index, n;
        [index, p] = leb(sub, p);
        [n, p] = leb(sub, p);
        const name = Buffer.from(shorten(sub.toString('utf8', p, p + n)));
        p += n;
        out.push(uleb(index), uleb(name.length), name);
      }
      sub = Buffer.concat(out);
    }
    parts.push(Buffer.from([id]), uleb(sub.length), sub);
  }
  return Buffer.concat(parts);
}

const list = sections(wasm).map(({ id, body }) =>
  id === 0 && readName(body, 0)[0] === 'name' ? { id, body: rewriteNames(body) } : { id, body });
writeFileSync(file, join(wasm.subarray(0, 8), list));
