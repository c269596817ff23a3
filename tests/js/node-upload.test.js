// @ts-check
// Tests of the Node upload path (pkg/node-upload.js) against a local node:http server on
// 127.0.0.1: the exact bytes and headers a presigned URL receives, progress, abort, connection
// failures, memory and prompt process exit. Run: node --test tests/js/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { nodePut, fileFromPath } from '../../pkg/node-upload.js';
import { readSlowly } from './helpers/env.js';

const UPLOAD_MODULE = fileURLToPath(new URL('../../pkg/node-upload.js', import.meta.url));
const MiB = 1024 * 1024;

/** @type {http.Server} */
let server;
/** @type {string} */
let base;
/** @type {string} */
let tmp;
/** Requests the server saw, by path. @type {Map<string, { headers: string[], bytes: number, sha256: string }>} */
const seen = new Map();
let connections = 0;
/** Called with the next request to /stall. @type {((req: http.IncomingMessage) => void) | undefined} */
let onStall;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'headless-imports-upload-'));
  server = http.createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://x').pathname;
    if (route === '/stall') {
      // Reads nothing: the client's buffers fill and its upload stalls mid-body.
      req.pause();
      onStall?.(req);
      return;
    }
    if (route === '/reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (route === '/expired') {
      // Like S3 for an expired URL: answers at once, without reading the body, and closes.
      res.writeHead(403, { 'Content-Type': 'application/xml', Connection: 'close' });
      res.end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const sha256 = hash.digest('hex');
      seen.set(route, { headers: req.rawHeaders, bytes, sha256 });
      if (route === '/big-answer') {
        res.end('x'.repeat(200 * 1024));
        return;
      }
      res.end(sha256);
    });
  });
  server.on('connection', () => connections++);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  base = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * Waits for `promise`, failing after `ms` (the timer is cleared so it keeps nothing alive).
 * @param {Promise<unknown>} promise @param {number} ms @param {string} what
 */
async function within(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** @param {Uint8Array} bytes */
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Header names (lowercase) the server received, from rawHeaders. @param {string[]} raw */
const headerNames = (raw) => raw.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());

/** @param {string[]} raw @param {string} name */
const header = (raw, name) => {
  const i = headerNames(raw).indexOf(name);
  return i < 0 ? undefined : raw[2 * i + 1];
};

/**
 * Checks what a presigned URL would have received and the progress reports.
 * @param {string} route
 * @param {number} total
 * @param {string} expectedSha
 * @param {number[]} progress
 */
function assertReceived(route, total, expectedSha, progress) {
  const got = seen.get(route);
  assert.ok(got, `server saw ${route}`);
  assert.equal(got.bytes, total);
  assert.equal(got.sha256, expectedSha);
  assert.equal(header(got.headers, 'content-length'), String(total));
  // Only what Node itself must send besides Content-Length; nothing that can break a signature.
  assert.deepEqual(headerNames(got.headers).sort(), ['connection', 'content-length', 'host']);
  assert.ok(progress.length >= 1, 'progress was reported');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i] > progress[i - 1], 'progress is monotonic');
  assert.equal(progress.at(-1), total, 'progress ends at total');
  // Throttled: about one report per 64 KiB at most, plus the final one.
  assert.ok(progress.length <= Math.ceil(total / (64 * 1024)) + 1, `${progress.length} reports`);
}

test('Uint8Array body: exact bytes, exact headers, progress to total', async () => {
  const bytes = crypto.randomBytes(3 * MiB + 123);
  /** @type {number[]} */
  const progress = [];
  const res = await nodePut(`${base}/u8?X-Amz-Signature=abc`, bytes, bytes.byteLength, (n) => progress.push(n));
  assert.equal(res.status, 200);
  assert.equal(res.body, sha256(bytes));
  assertReceived('/u8', bytes.byteLength, sha256(bytes), progress);
});

test('Blob body streams through Readable.fromWeb', async () => {
  const bytes = crypto.randomBytes(2 * MiB + 7);
  const blob = new Blob([bytes.subarray(0, MiB), bytes.subarray(MiB)], { type: 'text/csv' });
  /** @type {number[]} */
  const progress = [];
  const res = await nodePut(`${base}/blob`, blob, blob.size, (n) => progress.push(n));
  assert.equal(res.status, 200);
  // The Blob's type must not turn into a Content-Type header (assertReceived checks the set).
  assertReceived('/blob', bytes.byteLength, sha256(bytes), progress);
});

test('fileFromPath file (20 MB) streams from disk', async () => {
  const file = path.join(tmp, 'contacts.csv');
  const bytes = crypto.randomBytes(20 * MiB);
  fs.writeFileSync(file, bytes);
  const f = await fileFromPath(file);
  assert.ok(f instanceof File);
  assert.equal(f.name, 'contacts.csv');
  assert.equal(f.type, 'text/csv');
  assert.equal(f.size, bytes.byteLength);
  assert.equal(/** @type {any} */ (f)[Symbol.for('headless-imports.path')], file);
  assert.deepEqual(Object.keys(f), [], 'the path marker is not enumerable');
  /** @type {number[]} */
  const progress = [];
  const res = await nodePut(`${base}/file`, f, f.size, (n) => progress.push(n));
  assert.equal(res.status, 200);
  assertReceived('/file', bytes.byteLength, sha256(bytes), progress);
});

test('fileFromPath: options, type guesses, relative paths, missing files', async () => {
  const file = path.join(tmp, 'Data.JSON');
  fs.writeFileSync(file, '[]');
  const f = await fileFromPath(path.relative(process.cwd(), file));
  assert.equal(f.name, 'Data.JSON');
  assert.equal(f.type, 'application/json');
  assert.equal(/** @type {any} */ (f)[Symbol.for('headless-imports.path')], file, 'absolute path kept');
  assert.equal(await f.text(), '[]');
  const g = await fileFromPath(file, { name: 'renamed.csv', type: 'text/plain' });
  assert.equal(g.name, 'renamed.csv');
  assert.equal(g.type, 'text/plain');
  const other = path.join(tmp, 'sheet.xlsx');
  fs.writeFileSync(other, 'x');
  assert.equal((await fileFromPath(other)).type, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const unknown = path.join(tmp, 'blob.bin');
  fs.writeFileSync(unknown, 'x');
  assert.equal((await fileFromPath(unknown)).type, '');
  await assert.rejects(fileFromPath(path.join(tmp, 'missing.csv')), { code: 'file_not_found', path: path.join(tmp, 'missing.csv') });
});

test('an answer before the body is read (expired URL) resolves with the status and XML', async () => {
  const bytes = crypto.randomBytes(8 * MiB);
  const res = await nodePut(`${base}/expired`, bytes, bytes.byteLength, null, null);
  assert.equal(res.status, 403);
  assert.match(res.body, /<Code>AccessDenied<\/Code>/);
});

test('the response body is capped at 64 KiB', async () => {
  const res = await nodePut(`${base}/big-answer`, new Uint8Array(10), 10);
  assert.equal(res.status, 200);
  assert.equal(res.body.length, 64 * 1024);
});

test('abort mid-upload rejects with AbortError and closes the connection', async () => {
  const file = path.join(tmp, 'stall.csv');
  fs.writeFileSync(file, crypto.randomBytes(20 * MiB));
  const f = await fileFromPath(file);
  const controller = new AbortController();
  const stalled = /** @type {Promise<http.IncomingMessage>} */ (new Promise((r) => (onStall = r)));
  let last = 0;
  const put = nodePut(`${base}/stall`, f, f.size, (n) => (last = n), controller.signal);
  // Abort once the server has the request and the client is held back by backpressure.
  const serverReq = await stalled;
  onStall = undefined;
  await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await assert.rejects(put, (err) => {
    assert.ok(err instanceof DOMException);
    assert.equal(err.name, 'AbortError');
    return true;
  });
  assert.ok(last > 0 && last < f.size, `aborted at ${last} of ${f.size}`);
  // The server sees the connection go away as soon as it reads again.
  const socket = serverReq.socket;
  const gone = socket.destroyed ? Promise.resolve() : new Promise((r) => socket.once('close', r));
  serverReq.resume();
  await within(gone, 2000, 'the server socket to close');
});

test('an already aborted signal rejects without connecting', async () => {
  const before = connections;
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(nodePut(`${base}/never`, new Uint8Array(10), 10, null, controller.signal), {
    name: 'AbortError',
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(connections, before);
  assert.equal(seen.has('/never'), false);
});

/**
 * Runs `run` against a loopback server of `handler`'s, closed (its connections cut) afterwards.
 * @param {http.RequestListener} handler
 * @param {(base: string) => Promise<void>} run
 */
async function serving(handler, run) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  try {
    await run(`http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

test('quietMs bounds silence, while the body is written and while its answer is awaited', async () => {
  // A slow storage (readSlowly, ~2 MB/s): the OS takes the body in bursts, and holds much of it
  // after Node has handed it all over, so silence of over a second is normal here. The core allows
  // for what the OS holds (patience() in src/upload.rs: 257 s for timeoutMs 1000).
  await serving((req, res) => readSlowly(req, () => res.end('ok')), async (url) => {
    const bytes = crypto.randomBytes(5 * MiB);
    const t0 = Date.now();
    const res = await nodePut(`${url}/slow`, bytes, bytes.byteLength, null, null, 60_000);
    assert.equal(res.status, 200);
    assert.ok(Date.now() - t0 > 1000, 'the link was slow');
  });
  // A storage that reads a little and then nothing, never answering: given up after quietMs.
  await serving((req) => req.pause(), async (url) => {
    const t0 = Date.now();
    await assert.rejects(nodePut(`${url}/deaf`, crypto.randomBytes(8 * MiB), 8 * MiB, null, null, 500), /went silent: nothing moved for 500 ms/);
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
    // More than the OS holds, so a write is still pending when the storage stops reading: Node's
    // socket timeout let that pass once, and gave up only after twice quietMs.
    const t1 = Date.now();
    await assert.rejects(nodePut(`${url}/deaf`, Buffer.alloc(48 * MiB), 48 * MiB, null, null, 1500), /went silent: nothing moved for 1500 ms/);
    assert.ok(Date.now() - t1 < 2800, `given up after ${Date.now() - t1} ms, not about 1500`);
  });
  // One that reads the whole body and never answers: given up quietMs after the body went out.
  await serving((req) => req.resume(), async (url) => {
    const t0 = Date.now();
    await assert.rejects(nodePut(`${url}/mute`, new Uint8Array(10), 10, null, null, 300), /went silent: nothing moved for 300 ms/);
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
  });
});

test('a reset connection rejects with the Node error (ECONNRESET)', async () => {
  const bytes = crypto.randomBytes(4 * MiB);
  await assert.rejects(nodePut(`${base}/reset`, bytes, bytes.byteLength), { code: 'ECONNRESET' });
});

test('a refused connection rejects with the Node error (ECONNREFUSED)', async () => {
  // A port that was just free: listen, note it, close.
  const probe = http.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', () => r(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (probe.address()).port;
  await new Promise((r) => probe.close(r));
  await assert.rejects(nodePut(`http://127.0.0.1:${port}/x`, new Uint8Array(1), 1), { code: 'ECONNREFUSED' });
});

test('a body shorter or longer than total fails instead of hanging', async () => {
  await assert.rejects(nodePut(`${base}/short`, new Uint8Array(10), 11), { code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
  await assert.rejects(nodePut(`${base}/long`, new Blob(['abcdef']), 5), { code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' });
});

test('the abort listener is removed once the upload settles', async () => {
  const controller = new AbortController();
  let added = 0;
  let removed = 0;
  const signal = controller.signal;
  /** @type {(...args: any[]) => void} */
  const add = signal.addEventListener.bind(signal);
  /** @type {(...args: any[]) => void} */
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (/** @type {any[]} */ ...args) => (added++, add(...args));
  signal.removeEventListener = (/** @type {any[]} */ ...args) => (removed++, remove(...args));
  await nodePut(`${base}/listener`, new Uint8Array(5), 5, null, signal);
  assert.equal(added, 1);
  assert.equal(removed, 1);
});

/**
 * Runs a script in a child Node process (with `NODE_UPLOAD` = the module path, `BASE` = server).
 * @param {string} script
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, exitedAt: number }>}
 */
function runChild(script) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_UPLOAD: UPLOAD_MODULE, BASE: base, TMP: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, exitedAt: Date.now() });
    });
  });
}

test('the process exits right after an upload and after an abort (nothing left alive)', async () => {
  const script = `
    const { nodePut } = await import(process.env.NODE_UPLOAD);
    const r = await nodePut(process.env.BASE + '/exit', new Uint8Array(1 << 20), 1 << 20);
    const c = new AbortController();
    const p = nodePut(process.env.BASE + '/stall', new Blob([new Uint8Array(8 << 20)]), 8 << 20, null, c.signal);
    setTimeout(() => c.abort(), 100);
    await p.catch((e) => console.log(e.name));
    console.log('done', r.status, Date.now());
  `;
  const { code, stdout, stderr, exitedAt } = await runChild(script);
  assert.equal(code, 0, stderr);
  const [aborted, done, status, at] = stdout.trim().split(/\s+/);
  assert.equal(aborted, 'AbortError');
  assert.equal(done, 'done');
  assert.equal(status, '200');
  assert.ok(exitedAt - Number(at) < 1000, `exited ${exitedAt - Number(at)} ms after finishing`);
});

test('uploading a 200 MB fileFromPath file keeps memory flat', async (t) => {
  const file = path.join(tmp, 'big.csv');
  // Written in 4 MiB pieces so the test itself does not hold 200 MB either.
  const fd = fs.openSync(file, 'w');
  const piece = crypto.randomBytes(4 * MiB);
  for (let i = 0; i < 50; i++) fs.writeSync(fd, piece);
  fs.closeSync(fd);
  const script = `
    const { nodePut, fileFromPath } = await import(process.env.NODE_UPLOAD);
    const rss = () => process.memoryUsage().rss;
    const base = rss();
    const f = await fileFromPath(process.env.TMP + '/big.csv');
    const afterFile = rss();
    let peak = afterFile;
    const r = await nodePut(process.env.BASE + '/big', f, f.size, () => { peak = Math.max(peak, rss()); });
    console.log(JSON.stringify({ status: r.status, base, afterFile, peak }));
  `;
  const { code, stdout, stderr } = await runChild(script);
  assert.equal(code, 0, stderr);
  const m = JSON.parse(stdout);
  assert.equal(m.status, 200);
  const MB = 1e6;
  t.diagnostic(`rss base ${(m.base / MB).toFixed(0)} MB, after fileFromPath +${((m.afterFile - m.base) / MB).toFixed(1)} MB, peak +${((m.peak - m.base) / MB).toFixed(1)} MB`);
  assert.ok(m.afterFile - m.base < 10 * MB, 'fileFromPath reads nothing');
  assert.ok(m.peak - m.base < 60 * MB, 'upload streams with flat memory');
  assert.equal(seen.get('/big')?.bytes, 200 * MiB);
});
