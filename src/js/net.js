// @ts-check
// The two platform calls the Rust core drives: one HTTP exchange over fetch (API requests and
// result downloads) and one PUT over XMLHttpRequest (browser uploads, for progress). Rust decides
// everything around them (what to send, whether to retry, what an answer means); this file exists
// because wiring them from Rust took a dozen wasm<->JS crossings per request (each with a string
// copy or a closure), which was most of the per-call overhead, and four wasm closures per upload.
// wasm-bindgen copies this file verbatim into pkg/gen/snippets/: self-contained ESM, no imports.
// (One file for both: each snippet is one more module a page loads.)

/** setTimeout's delay is a signed 32-bit number of milliseconds; longer delays fire at once. */
const MAX_DELAY_MS = 2147483647;

/**
 * A redirect's absolute target, or `""` when it has none that parses.
 * @param {string | null} location
 * @param {string} base
 */
function target(location, base) {
  try {
    return location === null ? '' : new URL(location, base).href;
  } catch {
    return '';
  }
}

/**
 * Sends one request and reads the whole body as text.
 *
 * Resolves `[status, text, headers, location]`. Rejects with `[why, cause]`, `why` being `"abort"`
 * (the caller's signal fired, before or during the exchange), `"timeout"` (ours fired), `"nofetch"`
 * (no fetch to call) or `"network"` (fetch or the body read failed; `cause` is what it threw).
 *
 * With `follow` false, a redirect is not followed but returned, for Rust to decide: fetch would
 * re-send custom headers (`x-api-key`, `X-Dromo-License-Key`) to whatever origin a 3xx names.
 * Then `location` is the absolute target (`""` when the answer had no Location), or `null` when
 * the platform hides it (a browser's opaque redirect, reported with status 0). Otherwise it is
 * `undefined` and the body is the answer's.
 *
 * @param {typeof fetch | undefined} fetchFn the client's `fetch` option, else the global one
 * @param {string} method
 * @param {string} url
 * @param {HeadersInit | undefined} headers
 * @param {BodyInit | undefined} body
 * @param {number} timeoutMs 0 or Infinity: no timeout
 * @param {AbortSignal | undefined} signal
 * @param {boolean} follow whether fetch may follow redirects (only when nothing secret is sent)
 * @param {boolean} [stream] for a 2xx answer, leave the body unread: it comes back as a reader
 *   (fifth item) for `readChunk`, and `timeoutMs` covers the headers only
 * @returns {Promise<[number, string, Headers, (string | null)?, ReadableStreamDefaultReader<Uint8Array>?]>}
 */
export async function exchange(fetchFn, method, url, headers, body, timeoutMs, signal, follow, stream) {
  if (signal?.aborted) throw ['abort'];
  // Looked up per call, so a polyfill installed after the client was made still applies.
  const f = fetchFn ?? globalThis.fetch;
  if (typeof f !== 'function') throw ['nofetch'];
  const limit = bounded(signal, timeoutMs);
  /** @type {RequestInit} */
  const init = { method, headers, redirect: follow ? 'follow' : 'manual' };
  if (body !== undefined) init.body = body;
  if (limit.signal) init.signal = limit.signal;
  // The platform's fetch stops when its signal fires. The client's own `fetch` option may not
  // (a wrapper that drops `init.signal`): its promises are raced against the signal, so an abort
  // or our timeout still ends the call instead of leaving it pending for ever.
  const raced = fetchFn ? (/** @type {Promise<any>} */ p) => unlessAborted(p, limit.signal) : (/** @type {Promise<any>} */ p) => p;
  try {
    const response = await raced(f(url, init));
    checkResponse(response, fetchFn);
    if (response.type === 'opaqueredirect') return [0, '', response.headers, null];
    if (!follow && response.status >= 300 && response.status < 400) {
      // Not read: a redirect's body is of no use, and the connection can go back to the pool.
      await response.body?.cancel().catch(() => {});
      return [response.status, '', response.headers, target(response.headers.get('location'), url)];
    }
    if (stream && response.ok) return [response.status, '', response.headers, undefined, response.body?.getReader()];
    const text = await raced(response.text());
    return [response.status, text, response.headers];
  } catch (cause) {
    // The caller's abort wins over our timeout when both fired: they asked for it.
    throw [signal?.aborted ? 'abort' : limit.expired ? 'timeout' : 'network', cause];
  } finally {
    limit.done();
  }
}

/**
 * The caller's `signal` bounded by a timer of `ms` (0 or Infinity: none): one controller fed by
 * both. Without a timer the caller's signal is all there is: an AbortSignal is not free (in Node
 * 20, ~6 µs to make, and undici listens on it), so none is made for nothing. `done()` undoes the
 * timer and the listener on every outcome: a pending timer would keep a Node script alive.
 * @param {AbortSignal | undefined} signal
 * @param {number} ms
 * @returns {{ signal: AbortSignal | undefined, expired: boolean, done: () => void }} `expired`: whether the timer fired
 */
function bounded(signal, ms) {
  if (!(ms > 0 && ms < Infinity)) return { signal, expired: false, done() {} };
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort);
  const timer = setTimeout(() => {
    limit.expired = true;
    controller.abort();
  }, Math.min(ms, MAX_DELAY_MS));
  const limit = {
    signal: controller.signal,
    expired: false,
    done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
  return limit;
}

/**
 * Throws (as a network failure) unless `response` is an answer: what the client's `fetch` option
 * resolved must be used as a Response (its status, headers and body), said plainly rather than as
 * whatever reading it would throw; and a `Response.error()` (a fetch wrapper's way to say "no
 * answer", status 0) is no answer.
 * @param {any} response
 * @param {unknown} custom the client's `fetch` option, when it was the one called
 */
function checkResponse(response, custom) {
  if (custom && (typeof response?.status !== 'number' || typeof response.text !== 'function' || typeof response.headers?.get !== 'function')) {
    throw new TypeError(`the client's fetch option resolved to ${response === null ? 'null' : typeof response}, not a Response`);
  }
  if (response.type === 'error') throw new TypeError('the fetch answered Response.error() (a network error)');
}

/**
 * The next chunk of a body `exchange` left unread: resolves the bytes, or `undefined` at its end.
 * Rejects like `exchange`: `["abort"]`, `["timeout"]` when no byte came for `idleMs` (a stalled
 * download; the whole body may take far longer), `["network", cause]`. Each rejection cancels
 * the reader, which closes the connection.
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 * @param {number} idleMs 0 or Infinity: no limit
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<Uint8Array | undefined>}
 */
export function readChunk(reader, idleMs, signal) {
  return new Promise((resolve, reject) => {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const stop = (/** @type {unknown[]} */ why) => {
      done();
      reader.cancel().catch(() => {});
      reject(why);
    };
    const onAbort = () => stop(['abort']);
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return stop(['abort']);
    signal?.addEventListener('abort', onAbort);
    if (idleMs > 0 && idleMs < Infinity) timer = setTimeout(() => stop(['timeout']), Math.min(idleMs, MAX_DELAY_MS));
    reader.read().then(
      (r) => {
        done();
        resolve(r.done ? undefined : r.value);
      },
      (cause) => stop([signal?.aborted ? 'abort' : 'network', cause]),
    );
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses whole elements of a JSON array: `bytes` runs from the first one's first byte to the last
 * one's last (Rust's splitter found them; between them are only commas and whitespace), so one
 * `JSON.parse` of `[` + text + `]` reads them all. Returns the rows, or pushes them onto `into`
 * and returns how many. Throws the SyntaxError (or TypeError for bytes that are not UTF-8).
 * @param {Uint8Array} bytes a view of wasm memory, read before this returns
 * @param {unknown[] | undefined} into
 */
export function parseRows(bytes, into) {
  /** @type {unknown[]} */
  const rows = JSON.parse(`[${utf8.decode(bytes)}]`);
  if (!into) return rows;
  for (const row of rows) into.push(row);
  return rows.length;
}

/**
 * Stops a body `exchange` left unread (closing its connection); nothing if it already ended.
 * @param {ReadableStreamDefaultReader<Uint8Array> | undefined} reader
 */
export function cancel(reader) {
  reader?.cancel().catch(() => {});
}

/** Each combined signal's first source, kept alive as long as the combination is. */
const sources = new WeakMap();

/**
 * One signal that fires when either does (the caller's, and a row stream's own stop). The result
 * holds `a`: a call's signal is held only weakly by the caller's that it follows (see plain.js),
 * so once a call keeps the combination instead, `a` must live on with it, or a collection would
 * cut the call off from the caller's abort.
 * @param {AbortSignal | undefined} a
 * @param {AbortSignal} b
 */
export function either(a, b) {
  if (!a) return b;
  let c;
  if (typeof AbortSignal.any === 'function') c = AbortSignal.any([a, b]);
  else {
    const both = new AbortController();
    const fire = (/** @type {AbortSignal} */ s) => () => both.abort(s.reason);
    if (a.aborted || b.aborted) both.abort((a.aborted ? a : b).reason);
    a.addEventListener('abort', fire(a), { once: true });
    b.addEventListener('abort', fire(b), { once: true });
    c = both.signal;
  }
  sources.set(c, a);
  return c;
}

/**
 * PUTs `body` to `url`. Only `Content-Length` is sent (the browser sets it from the body).
 *
 * Resolves `{ status, body, retryAfterMs?, retryAfter? }` for any answer (the hints only when the
 * storage exposes those headers to the page). Rejects with `undefined` when no answer came (a
 * reset, DNS, CORS refused by the storage, or the caller's `signal`): XMLHttpRequest does not say
 * which, and the caller tells an abort apart by its signal. Rejects with an Error saying so when
 * the storage went silent (`quietMs`).
 *
 * @param {string} url
 * @param {XMLHttpRequestBodyInit} body a Blob or bytes
 * @param {number} _size the byte count (the browser knows it from the body)
 * @param {((loaded: number) => void) | undefined} onProgress bytes sent so far
 * @param {AbortSignal | undefined} signal
 * @param {number} quietMs how long nothing may move, while the body is sent or its answer awaited
 *   (0: for ever)
 * @returns {Promise<{ status: number, body: string, retryAfterMs?: string, retryAfter?: string }>}
 */
export function xhrPut(url, body, _size, onProgress, signal, quietMs) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    const abort = () => xhr.abort();
    /** @type {Error | undefined} why the attempt was given up, when it was for silence */
    let silent;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    // A storage that stops reading, or never answers, would leave the upload pending for ever:
    // given up after quietMs without a sign of life, and retried by the caller like a reset.
    const quiet = () => {
      clearTimeout(timer);
      if (quietMs > 0) timer = setTimeout(() => ((silent = new Error(`the storage went silent: nothing moved for ${quietMs} ms`)), xhr.abort()), quietMs);
    };
    /** @param {() => void} settle */
    const finish = (settle) => {
      // Detached first: the progress callback belongs to the caller's attempt, which ends now.
      xhr.onload = xhr.onerror = xhr.onabort = xhr.upload.onprogress = xhr.upload.onload = null;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      settle();
    };
    xhr.onload = () => {
      // From the headers the storage exposes: getResponseHeader on any other logs an error.
      const all = xhr.getAllResponseHeaders();
      const hint = (/** @type {string} */ name) => new RegExp(`^${name}[ \\t]*:[ \\t]*([^\\r\\n]*)`, 'im').exec(all)?.[1];
      finish(() =>
        resolve({ status: xhr.status, body: xhr.responseText, retryAfterMs: hint('retry-after-ms'), retryAfter: hint('retry-after') }),
      );
    };
    xhr.onerror = xhr.onabort = () => finish(() => reject(silent));
    // Listening on `upload` is what preflights a request; a PUT is preflighted anyway.
    xhr.upload.onprogress = (e) => {
      quiet();
      onProgress?.(e.loaded);
    };
    xhr.upload.onload = quiet;
    signal?.addEventListener('abort', abort);
    try {
      quiet();
      xhr.send(body);
    } catch (e) {
      // e.g. a detached buffer: nothing was sent, and nothing may stay attached.
      finish(() => reject(e));
    }
  });
}

/**
 * Waits `ms` milliseconds. Rejects (with `undefined`) as soon as `signal` aborts, clearing the
 * timer, so a Node script can exit the moment its work is aborted; the listener goes with the
 * timer either way. Done here rather than from Rust: it spares the core a wasm closure per timer.
 * Resolves early, with `"wake"`, when `wake` does (a wait woken by a webhook).
 * @param {number} ms
 * @param {AbortSignal | undefined} signal
 * @param {Promise<unknown>} [wake]
 * @returns {Promise<void | 'wake'>}
 */
export function sleep(ms, signal, wake) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject();
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, Math.min(Math.max(ms, 0), MAX_DELAY_MS));
    signal?.addEventListener('abort', onAbort, { once: true });
    // Woken early (a webhook said the import moved): the timer goes at once, so nothing is left
    // to keep a Node process alive.
    wake?.then(() => {
      done();
      resolve('wake');
    });
  });
}

/**
 * `promise`'s outcome, or a rejection (with `undefined`) as soon as `signal` aborts.
 * @template T
 * @param {T | PromiseLike<T>} promise
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<T>}
 */
export function unlessAborted(promise, signal) {
  if (!signal) return /** @type {Promise<T>} */ (promise);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject();
    // Still watched when already aborted: a later rejection of `promise` is then handled, not
    // reported as unhandled.
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // Through Promise.resolve: a user's fetch may hand back a Response or a bare thenable.
    Promise.resolve(promise).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A promise and the functions that resolve and reject it: for one party to await what another
 * signals, and for the promise a Rust task settles.
 * @returns {[Promise<unknown>, (value?: unknown) => void, (reason?: unknown) => void]}
 */
export function deferred() {
  /** @type {(value?: unknown) => void} */
  let resolve = () => {};
  /** @type {(reason?: unknown) => void} */
  let reject = () => {};
  const promise = new Promise((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return [promise, resolve, reject];
}

/**
 * True in a page or a browser's worker, where a secret key is visible to whoever runs the code;
 * not in a server runtime. Those are told apart first, since some define what a browser has:
 * workerd (Cloudflare Workers) and Deno's workers have `WorkerGlobalScope`.
 */
export function inBrowser() {
  const g = /** @type {any} */ (globalThis);
  if (g.process?.versions?.node || g.Deno || g.Bun || g.navigator?.userAgent === 'Cloudflare-Workers') return false;
  return g.document !== undefined || g.WorkerGlobalScope !== undefined;
}

// The Rust executor's side (src/task.rs): Rust's tasks and awaited promises are numbers here, and
// the one way back into Rust is its exported `runTask(number)`, always from a microtask.

/** @type {(n: number) => void} */
let runTask = () => {};

/**
 * Called once by `setup` with the wasm's exported `runTask`.
 * @param {(n: number) => void} run
 */
export function initTasks(run) {
  runTask = run;
}

/**
 * Runs task `n` on a microtask.
 * @param {number} n
 */
export function schedule(n) {
  queueMicrotask(() => runTask(n));
}

/**
 * Watches `promise` for a Rust future: returns an array that gets `[ok, value]` when it settles,
 * after which `runTask(n)` wakes whoever awaits it. A promise-like that throws from `then` is a
 * rejection like any other.
 * @param {Promise<unknown>} promise
 * @param {number} n
 */
export function watch(promise, n) {
  /** @type {unknown[]} */
  const outcome = [];
  /** @param {boolean} ok @param {unknown} value */
  const settle = (ok, value) => {
    outcome.push(ok, value);
    runTask(n);
  };
  Promise.resolve(promise).then((v) => settle(true, v), (e) => settle(false, e));
  return outcome;
}

/**
 * One PUT of `body` to a presigned URL, reporting progress to the caller's `onProgress` as
 * `{ loaded, total }`: only ever increasing, and once with `total` when the storage accepted the
 * body (XMLHttpRequest may not report the end; fetch reports nothing before it). Through the Node
 * uploader when given (it streams files from disk), else XMLHttpRequest (for progress), else
 * fetch (workers without XMLHttpRequest, other runtimes).
 *
 * A throwing `onProgress` stops the upload, as a throwing `onStatus` stops a wait: the promise
 * rejects with `['callback', thrown]` for Rust to report (any other rejection is a network one).
 * @param {Function | undefined} uploader the Node uploader, `(url, body, size, onLoaded, signal, quietMs)`
 * @param {typeof fetch | undefined} fetchFn the client's `fetch` option, for the fetch path
 * @param {string} url
 * @param {Blob | Uint8Array} body
 * @param {number} size
 * @param {((p: { loaded: number, total: number }) => void) | undefined} onProgress
 * @param {AbortSignal | undefined} signal
 * @param {number} quietMs how long nothing may move, while the body is sent or its answer awaited
 *   (0: for ever; see `patience` in src/upload.rs)
 * @param {number} wholeMs for fetch, which shows nothing before the answer: the whole (0: for ever)
 * @param {{ n?: number }} mark the upload's, kept across its attempts: the most reported so far. A
 *   retry sends from byte 0 again, and is reported only once it passes that (progress never goes back)
 * @returns {Promise<{ status: number, body: string, retryAfterMs?: string, retryAfter?: string }>}
 */
export async function put(uploader, fetchFn, url, body, size, onProgress, signal, quietMs, wholeMs, mark) {
  const send = uploader ?? (typeof XMLHttpRequest === 'undefined' ? fetchPut(fetchFn) : xhrPut);
  if (!onProgress) return send(url, /** @type {any} */ (body), size, undefined, signal, quietMs, wholeMs);
  /** @type {[unknown] | undefined} what onProgress threw */
  let thrown;
  // Ours to abort when onProgress throws; follows the caller's signal otherwise.
  const stop = new AbortController();
  const follow = () => stop.abort();
  if (signal?.aborted) stop.abort();
  signal?.addEventListener('abort', follow);
  /** @param {number} loaded */
  const report = (loaded) => {
    if (thrown || loaded <= (mark.n ?? 0)) return;
    mark.n = loaded;
    /** @param {unknown} e */
    const fail = (e) => {
      thrown ??= [e];
      stop.abort();
    };
    try {
      // Not awaited (progress must not slow the upload), but an async callback's rejection stops
      // it as a throw does, instead of going unhandled.
      const out = /** @type {any} */ (onProgress({ loaded, total: size }));
      if (typeof out?.then === 'function') out.then(undefined, fail);
    } catch (e) {
      fail(e);
    }
  };
  try {
    const answer = await send(url, /** @type {any} */ (body), size, report, stop.signal, quietMs, wholeMs);
    if (answer.status >= 200 && answer.status < 300) report(size);
    if (!thrown) return answer;
  } catch (e) {
    if (!thrown) throw e;
  } finally {
    signal?.removeEventListener('abort', follow);
  }
  throw ['callback', thrown[0]];
}

/**
 * The uploader where there is neither the Node one nor XMLHttpRequest: fetch, with no progress
 * until the end. It may follow a redirect: a presigned URL carries no key.
 * @param {typeof fetch | undefined} fetchFn
 */
function fetchPut(fetchFn) {
  /**
   * @param {string} url @param {BodyInit} body @param {number} _size @param {unknown} _onLoaded
   * @param {AbortSignal | undefined} caller @param {number} _quietMs @param {number} wholeMs
   */
  return async (url, body, _size, _onLoaded, caller, _quietMs, wholeMs) => {
    // No progress to watch: the whole exchange is bounded instead, so that a storage that stops
    // reading, or never answers, cannot leave it pending for ever (retried like a reset).
    const limit = bounded(caller, wholeMs);
    const { signal } = limit;
    try {
      // Raced against the signal like `exchange`'s requests: the client's own fetch may ignore it.
      const res = await unlessAborted((fetchFn ?? fetch)(url, { method: 'PUT', body, signal }), signal);
      checkResponse(res, fetchFn);
      const hint = (/** @type {string} */ name) => res.headers.get(name) ?? undefined;
      return { status: res.status, body: await unlessAborted(res.text(), signal), retryAfterMs: hint('retry-after-ms'), retryAfter: hint('retry-after') };
    } catch (e) {
      throw caller?.aborted || !limit.expired ? e : new Error(`the storage did not answer within ${wholeMs} ms`);
    } finally {
      limit.done();
    }
  };
}
