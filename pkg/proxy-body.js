// @ts-check
// Request bodies for the proxy (proxy.js): read once into one buffer, within a size cap, a time
// limit and a budget shared by every request in flight; and the create body's top-level members
// found without parsing its rows, so a 15 MB `initial_data` is never turned into objects.
// No dependencies: it runs wherever proxy.js does (Node, Deno, Bun, Workers).

/**
 * A budget of bytes shared by all requests in flight: a request takes what its body and the
 * API's answers to it cost (ahead, for a declared length; else as the bytes arrive), or is
 * refused (503) when the budget cannot cover them.
 */
export class Budget {
  /** @param {number} max */
  constructor(max) {
    this.max = max;
    this.used = 0;
  }

  /**
   * Takes `n` bytes, or returns false when that would exceed the budget.
   * @param {number} n
   */
  take(n) {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  /**
   * Takes `n` bytes even past the budget: for an answer to something the API already did (a
   * create, a delete), which must be read whatever the load. Everyone else is refused meanwhile.
   * @param {number} n
   */
  charge(n) {
    this.used += n;
  }

  /** @param {number} n */
  give(n) {
    this.used = Math.max(0, this.used - n);
  }
}

/**
 * The request body in one Uint8Array of its exact size, or why not. Chunks are kept as they
 * arrive and joined once at the end: memory grows with what was sent, not with what a
 * Content-Length claims (a buffer allocated up front for a claim is memory held for nothing while
 * the body trickles in, or never comes). `take(n)` is asked for each
 * chunk's share of the memory budget before it is kept ('busy' when the budget says no). A body
 * slower than `timeoutMs` in total, or that sends nothing for `idleMs`, is abandoned: a stalled
 * sender does not keep its connection, its caller's body slot and what it sent so far for the
 * whole `timeoutMs`.
 * @param {Request} request
 * @param {{ max: number, timeoutMs: number, idleMs?: number, take: (bytes: number) => boolean }} limits
 * @returns {Promise<Uint8Array<ArrayBuffer> | 'too_large' | 'timeout' | 'aborted' | 'busy'>}
 */
export async function readBody(request, { max, timeoutMs, idleMs = timeoutMs, take }) {
  const declared = declaredLength(request);
  if (declared !== undefined && declared > max) {
    void request.body?.cancel().catch(() => {});
    return 'too_large';
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  let timedOut = false;
  const stop = () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  };
  const timer = setTimeout(stop, timeoutMs);
  let idle = setTimeout(stop, Math.min(idleMs, timeoutMs));
  /** @type {Uint8Array[]} */
  let chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      clearTimeout(idle);
      idle = setTimeout(stop, Math.min(idleMs, timeoutMs));
      if (size + value.byteLength > max || !take(value.byteLength)) {
        // Not awaited: a client that stopped sending would hold the answer back.
        void reader.cancel().catch(() => {});
        return size + value.byteLength > max ? 'too_large' : 'busy';
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return timedOut ? 'timeout' : 'aborted';
  } finally {
    clearTimeout(timer);
    clearTimeout(idle);
  }
  if (timedOut) return 'timeout';
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  chunks = [];
  return out;
}

/** @param {Request} request */
export function declaredLength(request) {
  const v = request.headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const DECODER = new TextDecoder('utf-8', { fatal: true });

/**
 * The members of a JSON object's text, as `[key, start, end]` byte ranges of each value, without
 * parsing the values: `null` when the text is not one JSON object with distinct keys (a
 * duplicate would let the proxy check one value and the API read another), or when a key is
 * `__proto__` (no create parameter has that name; in an object it would set the prototype).
 * @param {Uint8Array} b
 * @returns {Array<[string, number, number]> | null}
 */
export function members(b) {
  let i = skipWs(b, 0);
  if (b[i] !== 0x7b) return null;
  i = skipWs(b, i + 1);
  /** @type {Array<[string, number, number]>} */
  const out = [];
  const seen = new Set();
  if (b[i] === 0x7d) return skipWs(b, i + 1) === b.length ? out : null;
  for (;;) {
    if (b[i] !== 0x22) return null;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return null;
    let key;
    try {
      key = JSON.parse(DECODER.decode(b.subarray(i, keyEnd)));
    } catch {
      return null;
    }
    if (seen.has(key) || key === '__proto__') return null;
    seen.add(key);
    i = skipWs(b, keyEnd);
    if (b[i] !== 0x3a) return null;
    const start = skipWs(b, i + 1);
    const end = skipValue(b, start);
    if (end < 0) return null;
    out.push([key, start, end]);
    i = skipWs(b, end);
    if (b[i] === 0x2c) {
      i = skipWs(b, i + 1);
      continue;
    }
    if (b[i] === 0x7d) return skipWs(b, i + 1) === b.length ? out : null;
    return null;
  }
}

/** @param {Uint8Array} b @param {number} i */
function skipWs(b, i) {
  while (i < b.length && WS.has(b[i])) i++;
  return i;
}

/** The position after the string starting at `i` (a `"`), or -1. @param {Uint8Array} b @param {number} i */
function skipString(b, i) {
  for (i++; i < b.length; i++) {
    if (b[i] === 0x5c) i++;
    else if (b[i] === 0x22) return i + 1;
  }
  return -1;
}

/**
 * The position after the value starting at `i`, or -1. Brackets are matched and strings skipped;
 * the API checks the rest of the syntax.
 * @param {Uint8Array} b @param {number} i
 */
function skipValue(b, i) {
  if (b[i] === 0x22) return skipString(b, i);
  if (b[i] === 0x7b || b[i] === 0x5b) {
    let depth = 0;
    for (; i < b.length; i++) {
      const c = b[i];
      if (c === 0x22) {
        i = skipString(b, i) - 1;
        if (i < 0) return -1;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  const start = i;
  while (i < b.length && !WS.has(b[i]) && b[i] !== 0x2c && b[i] !== 0x7d && b[i] !== 0x5d) i++;
  return i > start ? i : -1;
}

/**
 * Splits a JSON object body into its parsed members, except `raw` ones kept as byte ranges (the
 * rows of a Dromo create); `null` when it is not a JSON object.
 * @param {Uint8Array} body
 * @param {string[]} raw keys whose values stay unparsed
 * @returns {{ params: Record<string, unknown>, kept: Array<[string, Uint8Array]> } | null}
 */
export function splitObject(body, raw) {
  const list = members(body);
  if (!list) return null;
  /** @type {Record<string, unknown>} */
  const params = {};
  /** @type {Array<[string, Uint8Array]>} */
  const kept = [];
  try {
    for (const [key, start, end] of list) {
      if (raw.includes(key)) kept.push([key, body.subarray(start, end)]);
      else params[key] = JSON.parse(DECODER.decode(body.subarray(start, end)));
    }
  } catch {
    return null;
  }
  return { params, kept };
}

/**
 * `params` as a JSON object with the `kept` members appended verbatim, in one new buffer.
 * @param {Record<string, unknown>} params
 * @param {Array<[string, Uint8Array]>} kept
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function joinObject(params, kept) {
  const enc = new TextEncoder();
  const head = enc.encode(JSON.stringify(params));
  if (kept.length === 0) return head;
  /** @type {Uint8Array[]} */
  const parts = [head.subarray(0, head.length - 1)];
  let first = head.length === 2;
  for (const [key, value] of kept) {
    parts.push(enc.encode(`${first ? '' : ','}${JSON.stringify(key)}:`), value);
    first = false;
  }
  parts.push(enc.encode('}'));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
