// @ts-check
// Entry without top-level await (`headless-imports/lazy`), for where a module may not await at
// the top: service workers (the spec forbids it there), and bundler targets that cannot emit it.
// Importing it loads nothing; the .wasm (both providers, the one index.js loads) is fetched on the
// first construction or call, or by `ready()`. A client made before the module has loaded reads its
// options then, so an invalid option rejects the first call instead of throwing from `new`; made
// afterwards, it behaves exactly as the `headless-imports` entry's.

import init, * as core from './gen/headless_imports.js';
import { start, dromoClass, exaClass } from './clients.js';
import { HeadlessImportsError } from './errors.js';

/** @type {Promise<void> | undefined} */
let loading;
let loaded = false;

/**
 * Loads and starts the .wasm, once: every call into the package waits for this. Call it early to
 * overlap the download with other work, or to learn of a failed load before the first import.
 * A failed load rejects with code `wasm_load` and is tried again on the next call.
 * @returns {Promise<void>}
 */
export function ready() {
  loading ??= init({ module_or_path: new URL('./gen/headless_imports_bg.wasm', import.meta.url) }).then(
    () => {
      start(core);
      loaded = true;
    },
    (e) => {
      loading = undefined;
      throw new HeadlessImportsError(`headless-imports could not load its WebAssembly module: ${e?.message ?? e}`, {
        code: 'wasm_load',
        cause: e,
      });
    },
  );
  return loading;
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
      this.call = (op, a, b, c) => ready().then(() => (real ??= new core.Core(provider, options)).call(op, a, b, c));
    }
  },
};

export const Dromo = dromoClass(/** @type {any} */ (lazyCore));
export const Exa = exaClass(/** @type {any} */ (lazyCore));
/** @param {unknown} csv @param {unknown} [options] */
export const countCsvRecords = (csv, options) => ready().then(() => core.countCsvRecords(csv, options));
export * from './errors.js';
export { fileFromPath, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
