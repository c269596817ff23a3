// @ts-check
// Calls into a shared rate-limit store (`rateLimit.store`, Node's build only: src/limit_store.rs):
// those nobody awaits, and decisions the caller may stop waiting for. wasm-bindgen copies this
// file verbatim into pkg/gen/node/snippets/: self-contained ESM, no imports.

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

/** setTimeout's longest delay (a signed 32-bit number of ms): a longer one fires at once. */
const MAX_DELAY_MS = 2147483647;

/**
 * Asks the store for a decision, `acquire.call(store, req)`, as a promise the caller can stop
 * waiting for whatever the store does: it rejects with `['abort']` as soon as `signal` aborts,
 * `['timeout']` once `timeoutMs` has passed (0 or Infinity: never), `['store', cause]` when the
 * store throws or rejects. Returns `[promise, cancel]`; `cancel()` stops waiting too (the caller
 * went away), and does nothing once the promise has settled.
 *
 * A store that answers after the caller stopped waiting has taken a slot nobody holds: that slot
 * is released at once (`sent: false`), and a late rejection is dropped, never unhandled.
 * @param {Function} acquire @param {Function} release @param {unknown} store
 * @param {Record<string, unknown>} req @param {AbortSignal | undefined} signal
 * @param {number} timeoutMs
 * @returns {[Promise<unknown>, () => void]}
 */
export function decide(acquire, release, store, req, signal, timeoutMs) {
  // The slot this asks about again (if any): whoever holds it releases it, not us.
  const held = req.slot;
  let done = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {(why: unknown[]) => void} */
  let stop = () => {};
  const promise = new Promise((resolve, reject) => {
    /** @param {boolean} ok @param {unknown} v */
    const settle = (ok, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      (ok ? resolve : reject)(v);
    };
    const onAbort = () => settle(false, ['abort']);
    stop = (why) => settle(false, why);
    /** @type {Promise<unknown>} */
    let answer;
    try {
      answer = Promise.resolve(acquire.call(store, req));
    } catch (e) {
      return settle(false, ['store', e]);
    }
    answer.then(
      (v) => {
        if (!done) return settle(true, v);
        const slot = /** @type {any} */ (v)?.slot;
        if (typeof slot === 'number' && Number.isFinite(slot) && slot !== held) {
          fire(release, store, { ...req, slot, sent: false });
        }
      },
      (e) => settle(false, ['store', e]),
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    if (timeoutMs > 0 && timeoutMs < Infinity) {
      timer = setTimeout(() => settle(false, ['timeout']), Math.min(timeoutMs, MAX_DELAY_MS));
    }
  });
  return [promise, () => stop(['cancel'])];
}
