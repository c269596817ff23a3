// @ts-check
// Entry without top-level await (`headless-imports/lazy`), for where a module may not await at
// the top: service workers (the spec forbids it there), and bundler targets that cannot emit it.
// Importing it loads nothing; the .wasm (both providers, the one index.js loads) is fetched on the
// first construction or call, or by `ready()`. A client made before the module has loaded reads its
// options then, so an invalid option rejects the first call instead of throwing from `new`; made
// afterwards, it behaves exactly as the `headless-imports` entry's.

import init, * as core from './gen/headless_imports.js';
import { start, dromoClass, exaClass } from './clients.js';
import { HeadlessImportsError, APIUserAbortError } from './errors.js';

/** How long the .wasm may take to arrive: a stalled download must not leave every call pending. */
const LOAD_TIMEOUT_MS = 60_000;

/** @type {Promise<void> | undefined} */
let loading;
let loaded = false;

/**
 * Loads and starts the .wasm, once: every call into the package waits for this. Call it early to
 * overlap the download with other work (not awaiting it is fine: a failure then surfaces in the
 * first call), or await it to learn of a failed load before the first import. A failed load
 * rejects with code `wasm_load` and is tried again on the next call.
 * @returns {Promise<void>}
 */
export function ready() {
  loading ??= (async () => {
    const url = new URL('./gen/headless_imports_bg.wasm', import.meta.url);
    const signal = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(LOAD_TIMEOUT_MS) : undefined;
    await init({ module_or_path: fetch(url, { signal }) });
    start(core);
    loaded = true;
  })().catch((e) => {
    loading = undefined;
    throw new HeadlessImportsError(`headless-imports could not load its WebAssembly module: ${e?.message ?? e}`, {
      code: 'wasm_load',
      cause: e,
    });
  });
  // Handled here too, so a `ready()` nobody awaits is no unhandled rejection; awaiting still rejects.
  loading.catch(() => {});
  return loading;
}

/**
 * The AbortSignal a call's arguments carry (`opts.signal`, or `params.signal` for `list`), read
 * defensively: whatever the caller passed is checked for real by the core once it has loaded.
 * @param {unknown[]} args
 * @returns {AbortSignal | undefined}
 */
function signalOf(args) {
  for (const arg of args) {
    try {
      const s = arg && typeof arg === 'object' ? /** @type {any} */ (arg).signal : undefined;
      if (s instanceof AbortSignal) return s;
    } catch {}
  }
  return undefined;
}

/**
 * `ready()`, unless `signal` fires first: a call aborted while the .wasm loads rejects at once,
 * as it would once loaded.
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<void>}
 */
function readyUnlessAborted(signal) {
  if (!signal) return ready();
  const aborted = () => new APIUserAbortError('Request was aborted (the WebAssembly module was still loading).', { cause: signal.reason });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    ready().then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The core as clients.js sees it: once loaded, the real one; before that, a handle whose calls wait
 * for the module, then make the real handle from the options (once it could be made: after a failed
 * load or a bad option, the next call tries again).
 */
const lazyCore = {
  Core: class {
    /** @param {number} provider @param {unknown} options */
    constructor(provider, options) {
      if (loaded) return new core.Core(provider, options);
      /** @type {core.Core | undefined} */
      let real;
      /** @param {number} op @param {unknown} [a] @param {unknown} [b] @param {unknown} [c] */
      this.call = (op, a, b, c) =>
        readyUnlessAborted(signalOf([a, b, c])).then(() => (real ??= new core.Core(provider, options)).call(op, a, b, c));
    }
  },
};

export const Dromo = dromoClass(/** @type {any} */ (lazyCore));
export const Exa = exaClass(/** @type {any} */ (lazyCore));
/** @param {unknown} csv @param {unknown} [options] */
export const countCsvRecords = (csv, options) => ready().then(() => core.countCsvRecords(csv, options));
export * from './errors.js';
export { fileFromPath, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
