// @ts-check
// The browser upload path: one PUT through XMLHttpRequest, because fetch has no upload progress.
// It has the same shape as the Node uploader (`nodePut` in pkg/node-upload.js), so the Rust core
// drives both the same way and keeps every decision (retries, what an answer means). Wiring the
// events here instead of from Rust saves four wasm closures and a dozen imports per upload.
// wasm-bindgen copies this file verbatim into pkg/gen/snippets/: self-contained ESM, no imports.

/**
 * PUTs `body` to `url`. Only `Content-Length` is sent (the browser sets it from the body).
 *
 * Resolves `{ status, body }` for any answer. Rejects with `undefined` when no answer came (a
 * reset, DNS, CORS refused by the storage, or the caller's `signal`): XMLHttpRequest does not say
 * which, and the caller tells an abort apart by its signal.
 *
 * @param {string} url
 * @param {XMLHttpRequestBodyInit} body a Blob or bytes
 * @param {number} _size the byte count (the browser knows it from the body)
 * @param {((loaded: number) => void) | undefined} onProgress bytes sent so far
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<{ status: number, body: string }>}
 */
export function xhrPut(url, body, _size, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    const abort = () => xhr.abort();
    /** @param {() => void} settle */
    const finish = (settle) => {
      // Detached first: the progress callback belongs to the caller's attempt, which ends now.
      xhr.onload = xhr.onerror = xhr.onabort = xhr.upload.onprogress = null;
      signal?.removeEventListener('abort', abort);
      settle();
    };
    xhr.onload = () => finish(() => resolve({ status: xhr.status, body: xhr.responseText }));
    xhr.onerror = xhr.onabort = () => finish(() => reject(undefined));
    // Listening on `upload` makes the request preflighted; the storage's CORS rules allow that.
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    signal?.addEventListener('abort', abort);
    try {
      xhr.send(body);
    } catch (e) {
      // e.g. a detached buffer: nothing was sent, and nothing may stay attached.
      finish(() => reject(e));
    }
  });
}
