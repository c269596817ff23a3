// Types of `headless-imports/lazy`: the `headless-imports` entry without top-level await (service
// workers, bundler targets without it). The .wasm loads on first use; `ready()` loads it sooner.
export type * from './index.js';
export * from './index.js';

/**
 * Resolves when the WebAssembly module is loaded. This entry loads it on first use: call this to
 * load it sooner, or to learn of a failed load (a `HeadlessImportsError` of code `wasm_load`, tried
 * again on the next call). Where `headless-imports/lazy` resolves to the Node or Workers entry
 * (which load it before they are imported), it resolves at once.
 */
export declare function ready(): Promise<void>;

