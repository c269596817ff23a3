// @ts-check
// `headless-imports/lazy` in Node: the Node entry (its .wasm is loaded synchronously, with no
// top-level await), plus the `ready()` the lazy entry's users call.

export * from './node.js';
/** Resolves at once: the Node entry loaded its .wasm before it was imported. */
export const ready = async () => {};
