// Shortens the wasm "name" section in place: drops Rust's symbol hashes (`::h0123456789abcdef`)
// and crate disambiguators (`core[c5930c85a12de822]::`). Stack traces keep readable names
// (`headless_imports::dromo::Dromo::wait::{{closure}}`); the 16 random hex digits per function
// were incompressible, about 5 KB of the gzip payload. Usage: node short-names.mjs file.wasm
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
const wasm = readFileSync(file);

function leb(buf, pos) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, pos];
}
function uleb(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    out.push(n ? byte | 0x80 : byte);
  } while (n);
  return Buffer.from(out);
}
const section = (id, body) => Buffer.concat([Buffer.from([id]), uleb(body.length), body]);
const shorten = (name) =>
  name.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');

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

const out = [wasm.subarray(0, 8)];
let pos = 8;
while (pos < wasm.length) {
  const id = wasm[pos++];
  let size;
  [size, pos] = leb(wasm, pos);
  let body = wasm.subarray(pos, pos + size);
  pos += size;
  if (id === 0) {
    const [n, p] = leb(body, 0);
    if (body.toString('utf8', p, p + n) === 'name') body = rewriteNames(body);
  }
  out.push(section(id, body));
}
const result = Buffer.concat(out);
new WebAssembly.Module(result); // refuse to write a module that does not validate
writeFileSync(file, result);
