// Just enough of the wasm binary format for the build's post-processing scripts: LEB128 numbers,
// names, and splitting a module into sections and joining it back.

/** Reads an unsigned LEB128 number at `pos`; returns [value, next position]. */
export function leb(buf, pos) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, pos];
}

/** Reads a signed LEB128 number (up to 32 bits) at `pos`; returns [value, next position]. */
export function sleb(buf, pos) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  if (shift < 32 && byte & 0x40) value |= -1 << shift;
  return [value, pos];
}

/** Encodes an unsigned LEB128 number. */
export function uleb(n) {
  const out = [];
  do {
    const byte = n % 128;
    n = Math.floor(n / 128);
    out.push(n ? byte | 0x80 : byte);
  } while (n);
  return Buffer.from(out);
}

/** Reads a length-prefixed UTF-8 name at `pos`; returns [name, next position]. */
export function readName(buf, pos) {
  const [n, p] = leb(buf, pos);
  return [buf.toString('utf8', p, p + n), p + n];
}

/** Encodes a length-prefixed UTF-8 name. */
export function name(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([uleb(b.length), b]);
}

/** The module's sections as [{ id, body }], after the 8-byte header. */
export function sections(wasm) {
  const out = [];
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos++];
    let size;
    [size, pos] = leb(wasm, pos);
    out.push({ id, body: wasm.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/**
 * The active data segments of a data section's body, as [{ at, bytes }]: the memory address each
 * is placed at, and its contents (a view into `body`, so writing to it edits the module).
 * Passive segments have no address and are left out.
 */
export function dataSegments(body) {
  const out = [];
  let [n, q] = leb(body, 0);
  for (let i = 0; i < n; i++) {
    const flags = body[q++];
    let at = -1;
    if (flags !== 1) {
      if (flags === 2) [, q] = leb(body, q);
      if (body[q] !== 0x41) throw new Error("a data segment's offset is not an i32.const");
      [at, q] = sleb(body, q + 1);
      if (body[q++] !== 0x0b) throw new Error("a data segment's offset is not a constant");
    }
    let size;
    [size, q] = leb(body, q);
    if (at >= 0) out.push({ at, bytes: body.subarray(q, q + size) });
    q += size;
  }
  return out;
}

/**
 * A "name" custom section's body with its function names rewritten: `rename` gets them as a Map
 * (function index -> name) and returns the Map to write. The other subsections stay as they are.
 * Throws when there are no function names to rewrite.
 */
export function renameFunctions(body, rename) {
  let [len, pos] = leb(body, 0);
  const parts = [body.subarray(0, pos + len)];
  pos += len;
  let found = false;
  while (pos < body.length) {
    const id = body[pos++];
    let size;
    [size, pos] = leb(body, pos);
    let sub = body.subarray(pos, pos + size);
    pos += size;
    if (id === 1) {
      // Function names: vec(index, name), by increasing index.
      found = true;
      const names = new Map();
      let [count, p] = leb(sub, 0);
      for (let i = 0; i < count; i++) {
        let index, n;
        [index, p] = leb(sub, p);
        [n, p] = readName(sub, p);
        names.set(index, n);
      }
      const entries = [...rename(names)].sort((a, b) => a[0] - b[0]);
      sub = Buffer.concat([uleb(entries.length), ...entries.flatMap(([index, n]) => [uleb(index), name(n)])]);
    }
    parts.push(Buffer.from([id]), uleb(sub.length), sub);
  }
  if (!found) throw new Error('the name section has no function names');
  return Buffer.concat(parts);
}

/** Joins sections back into a module, and refuses one that does not validate. */
export function join(header, list) {
  const result = Buffer.concat([header, ...list.flatMap(({ id, body }) => [Buffer.from([id]), uleb(body.length), body])]);
  new WebAssembly.Module(result);
  return result;
}
