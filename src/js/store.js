// @ts-check
// Calls into a shared rate-limit store (`rateLimit.store`, Node's build only: src/limit_store.rs)
// that nobody awaits. wasm-bindgen copies this file verbatim into pkg/gen/node/snippets/:
// self-contained ESM, no imports.

/**
 * Calls `f` on `store` with `req` and lets it run: a throw or a rejection is dropped, since Node
 * ends the process on an unhandled rejection, and a lost `release` only costs its slot's lease.
 * @param {Function} f @param {unknown} store @param {unknown} req
 */
export function fire(f, store, req) {
  try {
    Promise.resolve(f.call(store, req)).catch(() => {});
  } catch {
    // A store that throws at once is no different from one that rejects.
  }
}
