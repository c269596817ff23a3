// @ts-check
// One HTTP exchange: fetch, with our timeout and the caller's signal wired to one AbortController.
// Rust decides everything around it (what to send, whether to retry, what an answer means); this
// file exists because doing the wiring here costs one wasm<->JS crossing per request instead of a
// dozen (each with a string copy or a closure), which was most of our per-call overhead.
// wasm-bindgen copies this file verbatim into pkg/gen/snippets/: self-contained ESM, no imports.

/** setTimeout's delay is a signed 32-bit number of milliseconds; longer delays fire at once. */
const MAX_DELAY_MS = 2147483647;

/**
 * Sends one request and reads the whole body as text.
 *
 * Resolves `[status, text, headers]`. Rejects with `[why, cause]`, `why` being `"abort"` (the
 * caller's signal fired, before or during the exchange), `"timeout"` (ours fired), `"nofetch"` (no
 * fetch to call) or `"network"` (fetch or the body read failed; `cause` is what it threw).
 *
 * @param {typeof fetch | undefined} fetchFn the client's `fetch` option, else the global one
 * @param {string} method
 * @param {string} url
 * @param {HeadersInit | undefined} headers
 * @param {BodyInit | undefined} body
 * @param {number} timeoutMs 0 or Infinity: no timeout
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<[number, string, Headers]>}
 */
export async function exchange(fetchFn, method, url, headers, body, timeoutMs, signal) {
  if (signal?.aborted) throw ['abort'];
  // Looked up per call, so a polyfill installed after the client was made still applies.
  const f = fetchFn ?? globalThis.fetch;
  if (typeof f !== 'function') throw ['nofetch'];
  let timedOut = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {(() => void) | undefined} */
  let onAbort;
  /** @type {RequestInit} */
  const init = { method, headers };
  if (body !== undefined) init.body = body;
  if (timeoutMs > 0 && timeoutMs < Infinity) {
    // One controller fed by both our timer and the caller's signal.
    const controller = new AbortController();
    onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort);
    timer = setTimeout(() => { timedOut = true; controller.abort(); }, Math.min(timeoutMs, MAX_DELAY_MS));
    init.signal = controller.signal;
  } else if (signal) {
    // No timeout: the caller's signal is all fetch needs. An AbortSignal is not free (in Node 20,
    // ~6 µs to make, and undici listens on it), so none is made for nothing.
    init.signal = signal;
  }
  try {
    const response = await f(url, init);
    const text = await response.text();
    return [response.status, text, response.headers];
  } catch (cause) {
    // The caller's abort wins over our timeout when both fired: they asked for it.
    throw [signal?.aborted ? 'abort' : timedOut ? 'timeout' : 'network', cause];
  } finally {
    // Undone on every outcome: a pending timer would keep a Node script alive for a minute.
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
