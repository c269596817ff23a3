// @ts-check
// Node-only upload path and file helper. In Node 20, `fetch(url, { method: 'PUT', body: blob })`
// holds the whole body in memory (a 1 GiB file-backed Blob costs +1.1 GB RSS, measured), and a
// ReadableStream body forces chunked encoding, which presigned S3 PUTs refuse. Streaming into
// node:http with an explicit Content-Length keeps memory flat and is what S3 expects. The Node
// entry (node.js) hands `nodePut` to the Rust core through `setNodeUploader`.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { basename, extname, resolve } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { HeadlessImportsError, ValidationError } from './errors.js';

/** Marks a File made by `fileFromPath` so `nodePut` can stream it straight from disk. */
const PATH = Symbol.for('headless-imports.path');

/**
 * Deno has no file-backed Blob: its `fs.openAsBlob` reads the whole file into memory (+1 GB for a
 * 1 GiB file). There `fileFromPath` makes a File with no bytes of its own and registers its size
 * and a reader over the file here, where the core's `bodyOf`/`readerOf` (src/js/plain.js) look.
 * @type {WeakMap<object, { size: number, reader(): ReadableStreamDefaultReader<Uint8Array> }>}
 */
const DISK_FILES = (/** @type {any} */ (globalThis)[Symbol.for('headless-imports.disk-files')] ??= new WeakMap());
/** Deno, whose node: modules differ from Node's where it matters here (see DISK_FILES, sourceFor). */
const IN_DENO = typeof (/** @type {any} */ (globalThis).Deno) === 'object';

// Progress is reported at most once per this many bytes (plus once at the end): often enough for
// a progress bar, rare enough that a callback crossing into wasm costs nothing measurable.
const PROGRESS_STEP = 64 * 1024;
// Error answers from S3 are small XML documents; anything past this is not worth keeping.
const MAX_RESPONSE_BODY = 64 * 1024;
// Chunk size for in-memory bodies: gives progress events and backpressure the same granularity
// as a file stream (the views share the caller's buffer, nothing is copied).
const MEMORY_CHUNK = 64 * 1024;

function abortError() {
  return new DOMException('This operation was aborted', 'AbortError');
}

/**
 * A readable stream over the body without loading it into memory when it is a file.
 * @param {Blob | Uint8Array} body
 * @returns {Readable}
 */
function sourceFor(body) {
  const path = /** @type {any} */ (body)[PATH];
  if (typeof path === 'string') {
    // fs streams read 64 KiB at a time and pause under backpressure: flat RSS for any file size.
    // Deno's node:http holds more of what it is handed before it is sent: a 1 GiB upload grew its
    // RSS by 78-83 MiB in 64 KiB chunks and by 44-46 MiB in 16 KiB ones (at about half the speed),
    // so there it reads smaller chunks to stay well under the 64 MB a streamed upload may take.
    return fs.createReadStream(path, IN_DENO ? { highWaterMark: 16 * 1024 } : undefined);
  }
  if (body instanceof Uint8Array) {
    return Readable.from(chunksOf(body), { objectMode: false });
  }
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return Readable.fromWeb(/** @type {import('node:stream/web').ReadableStream} */ (body.stream()));
  }
  throw new TypeError('nodePut: body must be a Blob, a File or a Uint8Array');
}

/** @param {Uint8Array} bytes */
function* chunksOf(bytes) {
  for (let i = 0; i < bytes.byteLength; i += MEMORY_CHUNK) {
    yield bytes.subarray(i, Math.min(i + MEMORY_CHUNK, bytes.byteLength));
  }
}

/**
 * PUTs `body` to a presigned URL through node:http(s), streaming it with backpressure.
 *
 * Sends exactly one header of its own, `Content-Length: total` (Node adds `Host` and
 * `Connection`): a presigned S3 URL signs `host` only, and anything like a Content-Type,
 * `Transfer-Encoding: chunked` or `Expect` risks a signature mismatch or a 411/501.
 *
 * Resolves as soon as a full response has arrived, even if the server answered before reading the
 * whole body (S3 does that for an expired or tampered URL), so the caller sees the XML error
 * instead of a broken pipe.
 *
 * @param {string} url the presigned PUT URL (http: or https:)
 * @param {Blob | Uint8Array} body a Blob/File (a `fileFromPath` File streams from disk) or bytes
 * @param {number} total the exact body size in bytes, sent as Content-Length
 * @param {((loaded: number) => void) | null} [onProgress] bytes handed to the socket so far;
 *   monotonic, at most every 64 KiB, and a last call with `total` once the body is fully sent
 * @param {AbortSignal | null} [signal] aborts the request and the file read
 * @param {number} [quietMs] gives up when nothing moves this long, while the body is written or
 *   its answer awaited (a storage that stopped reading, or never answers; the OS sends what it
 *   holds unseen, so the core allows for that: see `patience` in src/upload.rs); 0 or absent: never
 * @returns {Promise<{ status: number, body: string, retryAfterMs?: string, retryAfter?: string }>}
 *   the status, the response body (text, first 64 KiB) and the retry hints the storage sent
 * @throws {DOMException} `AbortError` when `signal` aborts; the Node error (with `code`, e.g.
 *   `ECONNRESET`) when the connection fails
 */
export async function nodePut(url, body, total, onProgress, signal, quietMs) {
  // Checked before anything opens: an aborted upload must not even connect.
  if (signal?.aborted) throw abortError();
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : null;
  if (!transport) throw new TypeError(`nodePut: unsupported protocol ${target.protocol}`);
  const source = sourceFor(body);

  return new Promise((resolvePut, rejectPut) => {
    let settled = false;
    let responded = false;
    let loaded = 0;
    let reported = 0;

    /** @type {ReturnType<typeof setTimeout> | undefined} fires after quietMs without a sign of life */
    let quiet;
    const cleanup = () => {
      clearTimeout(quiet);
      signal?.removeEventListener('abort', onAbort);
    };
    /** @param {unknown} err */
    const fail = (err) => {
      if (settled) return;
      settled = true;
      cleanup();
      source.destroy();
      req.destroy();
      rejectPut(err);
    };
    /** @param {{ status: number, body: string, retryAfterMs?: string, retryAfter?: string }} result */
    const succeed = (result) => {
      if (settled) return;
      // On loopback the answer can overtake the request's own 'finish': report the end first so
      // that progress has reached `total` whenever the upload resolves after sending everything.
      if (loaded === total) {
        try {
          report(loaded);
        } catch (e) {
          fail(e);
          return;
        }
      }
      settled = true;
      cleanup();
      // The server may answer before the whole body is sent (an S3 error): stop sending.
      source.destroy();
      resolvePut(result);
    };
    const onAbort = () => fail(abortError());

    /** @param {number} n */
    const report = (n) => {
      // Never after settling: the caller has moved on (a retry reports from zero again, and a
      // late report from a failed attempt would move the bar backwards).
      if (settled || !onProgress || n <= reported) return;
      reported = n;
      onProgress(n);
    };

    // `agent: false` = a fresh connection closed after the response: no pooled socket keeps the
    // process alive, and a presigned URL is used once anyway.
    /** @type {http.ClientRequest} */
    let req;
    try {
      req = transport.request(target, {
        method: 'PUT',
        agent: false,
        headers: { 'Content-Length': String(total) },
      });
    } catch (e) {
      // The file stream is already opening: close it rather than leak a descriptor.
      source.destroy();
      throw e;
    }

    req.on('response', (res) => {
      responded = true;
      /** @type {Buffer[]} */
      const chunks = [];
      let size = 0;
      const done = () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const hint = (/** @type {string} */ name) => {
          const v = res.headers[name];
          return typeof v === 'string' ? v : undefined;
        };
        succeed({ status: res.statusCode ?? 0, body: text, retryAfterMs: hint('retry-after-ms'), retryAfter: hint('retry-after') });
      };
      res.on('data', (/** @type {Buffer} */ chunk) => {
        alive();
        if (size >= MAX_RESPONSE_BODY) return;
        const room = MAX_RESPONSE_BODY - size;
        chunks.push(chunk.byteLength > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.byteLength, room);
        if (size >= MAX_RESPONSE_BODY) {
          // Enough to show the error; do not download the rest of an oversized answer.
          done();
          res.destroy();
        }
      });
      res.on('end', done);
      res.on('error', fail);
      // A connection cut in the middle of the answer: 'close' without 'end'.
      res.on('close', () => {
        if (!res.complete) fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      });
    });
    req.on('error', (err) => {
      // Once the answer is in, a reset from the server closing early is expected, not a failure.
      if (!responded) fail(err);
    });
    // A silent connection (the storage stopped reading the body, or never answers) would leave
    // the upload pending for ever: given up, and retried by the caller like a reset. Silence is
    // no piece of the body taken (the socket's backpressure holds them back) and no byte of the
    // answer come, for quietMs. A timer of our own: the socket's own timeout lets a stalled write
    // in progress pass once, so it fired only after twice quietMs.
    if (typeof quietMs === 'number' && quietMs > 0 && quietMs < 2 ** 31) {
      quiet = setTimeout(() => fail(new Error(`the storage went silent: nothing moved for ${quietMs} ms`)), quietMs);
    }
    const alive = () => quiet?.refresh();

    // Node does not check Content-Length by default: a short body would leave the server waiting
    // for the missing bytes forever (a file truncated while uploading, a wrong `total`). The count
    // is checked here, and the pipeline fails instead of hanging.
    const mismatch = () =>
      Object.assign(
        new Error(`Upload body size does not match Content-Length: expected ${total} bytes, read ${loaded}`),
        { code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' },
      );
    const counter = new Transform({
      transform(chunk, _enc, callback) {
        alive();
        loaded += chunk.byteLength;
        if (loaded > total) {
          callback(mismatch());
          return;
        }
        // The final `total` is reported when the request has flushed (below), not when the last
        // chunk is merely queued, so `loaded === total` means the body has left.
        if (loaded < total && loaded - reported >= PROGRESS_STEP) {
          try {
            report(loaded);
          } catch (e) {
            callback(/** @type {Error} */ (e));
            return;
          }
        }
        callback(null, chunk);
      },
      flush(callback) {
        callback(loaded === total ? null : mismatch());
      },
    });

    // pipeline() propagates backpressure from the socket to the file read and destroys every
    // stream on error, so an aborted or failed upload leaves no open file descriptor.
    pipeline(source, counter, req, (err) => {
      if (err) {
        if (!responded) fail(err);
        return;
      }
      if (settled) return;
      try {
        report(loaded);
      } catch (e) {
        fail(e);
      }
    });

    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** @type {Record<string, string>} */
const TYPES = {
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.xls': 'application/vnd.ms-excel',
};

/**
 * A `File` backed by a file on disk, for `dromo.importFile` and `dromo.imports.upload` in Node.
 * Nothing is read until the upload streams it (the File wraps `fs.openAsBlob`, which only stats
 * the file), so a 1 GiB file costs no memory here.
 *
 * @param {string} path a file path, relative to the current directory or absolute
 * @param {{ name?: string, type?: string }} [options] `name` defaults to the file's base name,
 *   `type` to a guess from the extension (`text/csv`, `application/json`, ...; `''` when unknown)
 * @returns {Promise<File>}
 */
export async function fileFromPath(path, options) {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new ValidationError('path: must be a non-empty string naming a file', { path: 'path' });
  }
  const name = option(options, 'name');
  const type = option(options, 'type');
  const absolute = resolve(path);
  // stat first: openAsBlob reports a missing file as a bare "Unable to open file as blob".
  /** @type {fs.Stats} */
  let stat;
  try {
    stat = await fs.promises.stat(absolute);
  } catch (cause) {
    throw fileError(absolute, cause);
  }
  if (!stat.isFile()) {
    const what = stat.isDirectory() ? 'a directory' : 'not a regular file';
    throw new HeadlessImportsError(`fileFromPath: ${absolute} is ${what}`, { code: 'not_a_file', path: absolute });
  }
  const mime = type ?? TYPES[extname(absolute).toLowerCase()] ?? '';
  const init = { type: mime, lastModified: stat.mtimeMs };
  /** @type {File} */
  let file;
  if (IN_DENO) {
    file = new DiskFile(absolute, 0, stat.size, name ?? basename(absolute), init);
  } else {
    let blob;
    try {
      blob = await fs.openAsBlob(absolute, { type: mime });
    } catch (cause) {
      throw fileError(absolute, cause);
    }
    // A File over a file-backed Blob stays file-backed in Node 20 (checked: +0 MB RSS for 200 MB).
    file = new File([blob], name ?? basename(absolute), init);
    // Bun's file-backed Blob learns its size when first asked, which would let a file truncated
    // before the upload go up short and unnoticed: ask now, so the upload checks against this.
    if (file.size !== stat.size) throw fileError(absolute, new Error('the file changed while it was opened'));
  }
  // Non-enumerable: an implementation detail for nodePut, invisible to logging and spreading.
  Object.defineProperty(file, PATH, { value: absolute });
  return file;
}

/**
 * `fileFromPath`'s File where there is no file-backed Blob (Deno): the platform sees an empty
 * File, so this package reads its size and bytes from DISK_FILES, and its own `size`, `slice`,
 * `stream`, `text`, `arrayBuffer` and `bytes` read the file (the `size` bytes from `start`, as
 * they were when it was made). What reads a Blob's bytes natively (`structuredClone`,
 * `postMessage`, `URL.createObjectURL`) sees it empty: it is for this package's uploads.
 */
class DiskFile extends File {
  #path;
  #start;
  #size;
  /**
   * @param {string} path @param {number} start @param {number} size
   * @param {string} name @param {FilePropertyBag} init
   */
  constructor(path, start, size, name, init) {
    super([], name, init);
    this.#path = path;
    this.#start = start;
    this.#size = size;
    DISK_FILES.set(this, { size, reader: () => this.stream().getReader() });
  }
  get size() {
    return this.#size;
  }
  /** Blob.slice's arguments (negative counts from the end), over the same file. */
  slice(start = 0, end = this.#size, type = '') {
    const at = (/** @type {number} */ n) => Math.min(Math.max(n < 0 ? this.#size + n : n, 0), this.#size);
    const from = at(Math.trunc(Number(start) || 0));
    const to = Math.max(at(Math.trunc(Number(end) || 0)), from);
    return new DiskFile(this.#path, this.#start + from, to - from, this.name, { type: String(type), lastModified: this.lastModified });
  }
  /** @returns {ReadableStream<Uint8Array<ArrayBuffer>>} */
  stream() {
    if (this.#size === 0) return new Blob([]).stream();
    const file = fs.createReadStream(this.#path, { start: this.#start, end: this.#start + this.#size - 1 });
    return /** @type {any} */ (Readable.toWeb(file));
  }
  async bytes() {
    return new Uint8Array(await this.arrayBuffer());
  }
  async arrayBuffer() {
    const bytes = new Uint8Array(this.#size);
    const handle = await fs.promises.open(this.#path);
    try {
      let n = 0;
      while (n < bytes.byteLength) {
        const { bytesRead } = await handle.read(bytes, n, bytes.byteLength - n, this.#start + n);
        if (bytesRead === 0) throw new Error(`${this.#path} is shorter than when fileFromPath opened it`);
        n += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return bytes.buffer;
  }
  async text() {
    return new TextDecoder().decode(await this.arrayBuffer());
  }
}

/**
 * `options[key]` of `fileFromPath`: a string or absent. Anything else, or options that cannot be
 * read (a revoked Proxy, a throwing getter), is a ValidationError.
 * @param {unknown} options @param {'name' | 'type'} key
 * @returns {string | undefined}
 */
function option(options, key) {
  if (options === undefined) return undefined;
  let v;
  try {
    if (options === null || typeof options !== 'object') throw 0;
    v = /** @type {Record<string, unknown>} */ (options)[key];
  } catch {
    throw new ValidationError('options: must be an object like { name?, type? }', { path: 'options' });
  }
  if (v === undefined || typeof v === 'string') return v;
  throw new ValidationError(`options.${key}: must be a string`, { path: `options.${key}` });
}

/**
 * What `fileFromPath` throws when the file cannot be opened: `code` `file_not_found` or
 * `file_unreadable`, `path` the absolute path, Node's error as `cause`.
 * @param {string} absolute
 * @param {unknown} cause
 */
function fileError(absolute, cause) {
  const errno = /** @type {{ code?: unknown }} */ (cause)?.code;
  const missing = errno === 'ENOENT' || errno === 'ENOTDIR';
  const why = missing ? 'no such file' : `cannot be read (${String(errno ?? cause)})`;
  return new HeadlessImportsError(`fileFromPath: ${absolute}: ${why}`, {
    code: missing ? 'file_not_found' : 'file_unreadable',
    path: absolute,
    cause,
  });
}
