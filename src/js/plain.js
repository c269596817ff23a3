// @ts-check
// Turns whatever a caller passed into values the Rust core can read without running the caller's
// code again. A revoked Proxy, a Proxy whose traps throw, a getter that throws or changes its mind,
// a detached buffer: read here once, inside try/catch, so that no exception ever unwinds through
// the wasm (which would leave its async executor stuck and every later promise pending), and so
// that what was validated is exactly what is sent.
// wasm-bindgen copies this file verbatim into pkg/gen/snippets/: self-contained ESM, no imports.

/** Deeper than any params or rows a person writes; past it, a cycle is the likely reason. */
const MAX_DEPTH = 64;
/**
 * The most values one argument may hold. Rows are the big case, and Dromo takes at most 15 MB of
 * them (3 bytes a row at the very least): past this the argument is refused before reading on,
 * rather than a sparse array of length 2^32 - 1 being walked for minutes.
 */
const MAX_VALUES = 5_000_000;
let budget = 0;

/** A refusal on its way out, collecting the path as the copy unwinds. */
class Refusal {
  /** @param {string} message */
  constructor(message) {
    /** @type {(string | number)[]} */
    this.at = [];
    this.message = message;
  }
}

/** Whether `v` is a Proxy, where the platform can tell (Node and the runtimes that mimic it). */
const isProxy = (() => {
  try {
    const util = /** @type {any} */ (globalThis).process?.getBuiltinModule?.('node:util');
    return typeof util?.types?.isProxy === 'function' ? util.types.isProxy : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Reads a platform getter on `v` the way the platform would, with its brand check: a Proxy or a
 * look-alike throws, and a getter the caller defined on the instance is not consulted.
 * @param {Function | undefined} Class
 * @param {string | symbol} name
 * @param {unknown} v
 */
function brand(Class, name, v) {
  const get = Class && Object.getOwnPropertyDescriptor(Class.prototype, name)?.get;
  if (!get) return undefined;
  try {
    return get.call(v);
  } catch {
    return undefined;
  }
}

/**
 * Per caller signal, the controllers of the call signals that follow it: held weakly, so a call's
 * lives as long as its signal (`keep`), which lives as long as the call holds it.
 * @type {WeakMap<AbortSignal, Set<WeakRef<AbortController>>>}
 */
const followers = new WeakMap();
/**
 * Each call signal's controller and the signal it follows, alive as long as it is. The source
 * matters when it is itself a call signal that nothing else holds: a list's next page follows the
 * page before's signal, and that page's call is over.
 * @type {WeakMap<AbortSignal, [AbortController, AbortSignal]>}
 */
const keep = new WeakMap();

/**
 * A signal of the call's own that follows the caller's AbortSignal: `undefined` when `v` is not
 * one. Every request, wait and upload of the call listens on the call's signal, and the caller's
 * gets one listener however many calls share it, where a listener per request made Node warn of a
 * leak past ten ("MaxListenersExceededWarning") when many calls shared one signal. A signal that
 * could misbehave (a Proxy, own properties shadowing `aborted`) is followed natively.
 * @param {unknown} v
 * @returns {AbortSignal | undefined}
 */
function signalOf(v) {
  if (typeof AbortSignal === 'undefined' || brand(AbortSignal, 'aborted', v) === undefined) return undefined;
  const s = /** @type {AbortSignal} */ (v);
  // In a browser a Proxy fails the brand check above; Node's AbortSignal is plain JS, so there a
  // Proxy passes it and is ruled out by name. Own properties could shadow `aborted`.
  const clean =
    (isProxy ? !isProxy(s) : typeof (/** @type {any} */ (globalThis).process) === 'undefined') &&
    Object.getPrototypeOf(s) === AbortSignal.prototype &&
    Object.getOwnPropertyNames(s).length === 0;
  if (!clean && typeof AbortSignal.any === 'function') return AbortSignal.any([s]);
  if (s.aborted) return clean ? s : AbortSignal.abort(s.reason);
  // workerd has no WeakRef before its 2025-05-05 compatibility date: there the call listens on
  // the caller's signal itself, as everywhere before (workerd warns of no leak).
  if (typeof WeakRef === 'undefined') return s;
  const calls = followers.get(s) ?? follow(s);
  // The dead are dropped each time the set reaches a power of two (from 64): amortised, however
  // long-lived the caller's signal.
  if (calls.size > 63 && !(calls.size & (calls.size - 1))) calls.forEach((w) => w.deref() || calls.delete(w));
  const c = new AbortController();
  keep.set(c.signal, [c, s]);
  calls.add(new WeakRef(c));
  return c.signal;
}

/**
 * Starts following the caller's signal `s`: its one listener aborts each call signal still alive.
 * Only once `s` is aborted: an `abort` event dispatched by hand on a live signal is no abort (and,
 * the listener not being `once`, does not use it up either).
 * @param {AbortSignal} s
 */
function follow(s) {
  /** @type {Set<WeakRef<AbortController>>} */
  const calls = new Set();
  followers.set(s, calls);
  s.addEventListener('abort', () => s.aborted && calls.forEach((w) => w.deref()?.abort(s.reason)));
  return calls;
}

/**
 * Built-in objects whose contents JSON.stringify drops or mangles (a Map or a Set becomes `{}`, a
 * buffer an object of indices): where JSON is wanted, each is refused rather than sent changed.
 * Recognised by brand, like signalOf. Dates stay what JSON makes of them: an ISO string.
 * @type {[Function | undefined, string | symbol, string][]}
 */
const NOT_JSON = [
  [globalThis.Map, 'size', 'a Map: pass a plain object (Object.fromEntries(map))'],
  [globalThis.Set, 'size', 'a Set: pass an array ([...set])'],
  [globalThis.ArrayBuffer, 'byteLength', 'an ArrayBuffer'],
  [Object.getPrototypeOf(Uint8Array), Symbol.toStringTag, 'a typed array'],
  [globalThis.DataView, 'byteLength', 'a DataView'],
  [globalThis.RegExp, 'source', 'a RegExp'],
  [globalThis.Blob, 'size', 'a Blob'],
];

/**
 * A copy of `v` made of plain objects, arrays and primitives, as JSON.stringify would see it
 * (`toJSON` applied, own enumerable keys), keeping functions and AbortSignals (see signalOf).
 * @param {unknown} v
 * @param {number} depth
 * @returns {unknown}
 */
function copy(v, depth) {
  // A function is kept (callbacks, `fetch`): calls into it are caught where they happen. Where a
  // Proxy can be told apart, one is refused now instead of failing on its first call.
  if (typeof v === 'function' && isProxy?.(v)) throw new Refusal('is a Proxy, not a function');
  if (typeof v !== 'object' || v === null) return v;
  if (depth > MAX_DEPTH) throw new Refusal('is nested too deeply (a cycle?)');
  // Throws for a revoked Proxy: refused below like any other unreadable value.
  const proto = Object.getPrototypeOf(v);
  // Plain objects and arrays (nearly every value) are none of the built-ins checked next, whose
  // brand checks each throw and catch a TypeError on them: 8 per object made copying 100k rows
  // take 5 s. Only a built-in whose prototype was swapped for Object's would slip through, and
  // JSON.stringify would see it as that same plain object.
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
    const signal = signalOf(v);
    if (signal) return signal;
    for (const [Class, name, what] of NOT_JSON) {
      if (brand(Class, name, v) !== undefined) throw new Refusal(`is ${what}, not JSON data`);
    }
  }
  /** @type {any} */
  const src = v;
  if (Array.isArray(src)) {
    const n = src.length;
    budget -= n;
    if (budget < 0) throw new Refusal(`is too large: more than ${MAX_VALUES} values (at ${n} items here)`);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = step(src[i], depth, i);
    return out;
  }
  if (proto !== Object.prototype && proto !== null && typeof src.toJSON === 'function') {
    return copy(src.toJSON(), depth + 1);
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  const keys = Object.keys(src);
  budget -= keys.length;
  if (budget < 0) throw new Refusal(`is too large: more than ${MAX_VALUES} values`);
  for (const k of keys) {
    const value = step(src[k], depth, k);
    // An own data property even when named __proto__ (an assignment would set the prototype).
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out;
}

/**
 * One child of a copy, naming it in a refusal.
 * @param {unknown} v
 * @param {number} depth
 * @param {string | number} key
 */
function step(v, depth, key) {
  if ((typeof v !== 'object' && typeof v !== 'function') || v === null) return v;
  try {
    return copy(v, depth + 1);
  } catch (e) {
    throw refusal(e, key);
  }
}

/**
 * @param {unknown} e what was thrown while reading
 * @param {string | number} [key] where, relative to the value being copied
 */
function refusal(e, key) {
  const r = e instanceof Refusal ? e : new Refusal(`cannot be read (a revoked Proxy or a throwing getter?): ${describe(e)}`);
  if (key !== undefined) r.at.unshift(key);
  return r;
}

/** @param {unknown} e */
function describe(e) {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}` : typeof e === 'string' ? e : typeof e;
  } catch {
    return 'an unreadable error';
  }
}

/** @param {Refusal} r @param {string} path */
function where(r, path) {
  // A cycle makes a path MAX_DEPTH keys long: the first few say where it starts.
  const at = r.at.length > 8 ? [...r.at.slice(0, 8), '…'] : r.at;
  return at.reduce((/** @type {string} */ p, k) => (typeof k === 'number' ? `${p}[${k}]` : p ? `${p}.${k}` : String(k)), path);
}

/**
 * A plain copy of an argument (params, options), or throws `[path, message]`.
 * @param {unknown} v
 * @param {string} path how the argument is named in errors, e.g. `options`
 */
export function plain(v, path) {
  if ((typeof v !== 'object' && typeof v !== 'function') || v === null) return v;
  budget = MAX_VALUES;
  try {
    return copy(v, 0);
  } catch (e) {
    const r = refusal(e);
    throw [where(r, path), r.message];
  }
}

/**
 * A file `fileFromPath` made where the platform has no file-backed Blob (Deno, whose
 * `fs.openAsBlob` reads the whole file): its File holds no bytes, and its size and a reader over
 * the file on disk are here, in a registry node-upload.js fills (shared through the global symbol
 * because this file is copied into each build and imports nothing).
 * @param {unknown} v
 * @returns {{ size: number, reader(): ReadableStreamDefaultReader<Uint8Array> } | undefined}
 */
const diskFile = (v) => /** @type {any} */ (globalThis)[Symbol.for('headless-imports.disk-files')]?.get(v);

/**
 * What to upload or count, read once: `[value, size, name]`, where `value` is a Blob or a
 * Uint8Array (a string becomes a Blob, an ArrayBuffer a view of it) and `name` a File's name.
 * Throws a message when `v` is none of the accepted kinds, or unusable (detached, a Proxy).
 * @param {unknown} v
 * @returns {[Blob | Uint8Array, number, string | undefined]}
 */
export function bodyOf(v) {
  if (typeof v === 'string') {
    // A Blob encodes the string as UTF-8 and knows its byte length.
    const b = new Blob([v]);
    return [b, b.size, undefined];
  }
  const kinds = 'must be a Blob, File, ArrayBuffer, Uint8Array or string';
  if (typeof v !== 'object' || v === null) throw `${kinds}, got ${v === null ? 'null' : typeof v}`;
  if (isProxy?.(v)) throw `${kinds}, got a Proxy`;
  const size = diskFile(v)?.size ?? brand(globalThis.Blob, 'size', v);
  if (typeof size === 'number') {
    const name = brand(globalThis.File, 'name', v);
    return [/** @type {Blob} */ (v), size, typeof name === 'string' && name !== '' ? name : undefined];
  }
  // Any typed array (Buffer included) or DataView, as its bytes. The getters check the brand.
  const TypedArray = Object.getPrototypeOf(Uint8Array);
  const view = brand(TypedArray, Symbol.toStringTag, v) !== undefined ? TypedArray : brand(DataView, 'buffer', v) ? DataView : undefined;
  if (view) {
    const buffer = brand(view, 'buffer', v);
    if (isDetached(buffer)) throw 'is a view of a detached ArrayBuffer (transferred with postMessage?)';
    const bytes = new Uint8Array(buffer, brand(view, 'byteOffset', v), brand(view, 'byteLength', v));
    return [bytes, bytes.byteLength, undefined];
  }
  const length = brand(ArrayBuffer, 'byteLength', v);
  if (typeof length === 'number') {
    if (isDetached(v)) throw 'is a detached ArrayBuffer (transferred with postMessage?)';
    const bytes = new Uint8Array(/** @type {ArrayBuffer} */ (v));
    return [bytes, bytes.byteLength, undefined];
  }
  throw `${kinds}, got ${Array.isArray(v) ? 'an array' : 'an object'}`;
}

/** @param {unknown} buffer */
function isDetached(buffer) {
  const detached = brand(ArrayBuffer, 'detached', buffer);
  if (typeof detached === 'boolean') return detached;
  // Before ArrayBuffer.prototype.detached: a detached buffer refuses new views.
  try {
    new Uint8Array(/** @type {ArrayBuffer} */ (buffer));
    return false;
  } catch {
    return true;
  }
}

/** The most bytes a reader from `readerOf` hands over at once. */
const PIECE = 1 << 20;
/** At most this long (ms) between two turns of the event loop while a body is read. */
const TURN_MS = 16;

/**
 * A reader over a body's bytes (a Blob or bytes, as `bodyOf` gives them) in pieces of at most
 * PIECE bytes. A Blob is read through Blob.prototype.stream itself: a subclass's own `stream` is
 * caller code and is not run; a `fileFromPath` File without bytes of its own reads its file.
 *
 * Paced: bytes in memory (and Node's stream of an in-memory Blob, one chunk of it all) are read
 * without a wait, every read settling at once, so no timer, an abort's or a page's, could fire
 * until the reading ended (~150 ms for 50 MB). The event loop gets a turn every TURN_MS.
 * @param {Blob | Uint8Array} body
 * @returns {{ read(): Promise<{ done: boolean, value?: Uint8Array }>, cancel(): Promise<void> }}
 */
export function readerOf(body) {
  /** @type {{ read(): Promise<{ done: boolean, value?: Uint8Array }>, cancel(): Promise<void> } | undefined} */
  const source = body instanceof Uint8Array ? undefined : diskFile(body)?.reader() ?? Blob.prototype.stream.call(body).getReader();
  let rest = body instanceof Uint8Array ? body : new Uint8Array(0);
  let since = Date.now();
  return {
    async read() {
      if (Date.now() - since >= TURN_MS) {
        // setImmediate where there is one (Node: no 1 ms floor), else setTimeout.
        await new Promise((resolve) => (/** @type {any} */ (globalThis).setImmediate ?? setTimeout)(resolve));
        since = Date.now();
      }
      while (!rest.length) {
        const step = await source?.read();
        if (!step || step.done) return { done: true };
        rest = /** @type {Uint8Array} */ (step.value);
      }
      const value = rest.subarray(0, PIECE);
      rest = rest.subarray(PIECE);
      return { done: false, value };
    },
    cancel: async () => source?.cancel(),
  };
}

