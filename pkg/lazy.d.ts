// Types of `headless-imports/lazy`: the `headless-imports` entry without top-level await (service
// workers, bundler targets without it). The .wasm loads on first use; `ready()` loads it sooner.
export type * from './index.js';
export * from './index.js';
