// @ts-check
// Conformance against a real S3: our emulator's presigned URLs are our own, so this uploads through SeaweedFS
// (`weed mini`, which checks SigV4 signatures, expiry and bucket CORS like S3) with URLs presigned by the AWS
// SDK's own SigV4 signer, from Node and from headless Chromium. It proves that exactly what the client sends
// (method, headers, Content-Length, body) is accepted by real signature and CORS checking, and that the
// storage's answers to an expired URL, a tampered signature and a wrong page origin become clear UploadErrors.
// Skips (saying why) when SeaweedFS is not installed or does not start; scripts/setup.sh installs it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  S3Client, CreateBucketCommand, PutBucketCorsCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { installPackage, loadPackage } from './helpers/env.js';
import { findWeed, startSeaweed, freePorts, ACCESS_KEY, SECRET_KEY } from './helpers/seaweedfs.js';

const CHROMIUM = '/usr/bin/chromium';
const BUCKET = 'conformance';
// Nothing listens there: the upload needs no API, only a client.
const NO_API = 'http://127.0.0.1:9/api/v1';
const t0 = Date.now();
const timings = /** @type {Record<string, number>} */ ({});

/** @type {Array<() => Promise<unknown>>} */ const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((e) => console.error('cleanup:', e));
  console.log(`# real-s3 timings (ms): ${JSON.stringify({ ...timings, total: Date.now() - t0 })}`);
});

// --- Start everything up front; any failure to get SeaweedFS running becomes the skip reason. -------------
/** @type {string | false} */ let skip = false;
/** @type {string} */ let pageOrigin = '';
/** @type {string} */ let otherOrigin = '';
/** @type {S3Client} */ let s3 = /** @type {any} */ (undefined);
/** @type {S3Client} */ let signer = /** @type {any} */ (undefined);

// The page servers come first: SeaweedFS is told the page origin at start (`-s3.allowedOrigins`).
const [pagePort, otherPort] = await freePorts(2);
pageOrigin = `http://127.0.0.1:${pagePort}`;
otherOrigin = `http://127.0.0.1:${otherPort}`;

const found = findWeed();
if ('reason' in found) {
  skip = found.reason;
} else {
  try {
    let t = Date.now();
    const weed = await startSeaweed({ bin: found.bin, allowedOrigins: [pageOrigin] });
    timings.seaweedStart = Date.now() - t;
    cleanups.push(async () => { timings.seaweedStop = await weed.stop(); });
    // The SDK warns on stderr that its 2027 releases need Node 22; the lockfile pins one that runs on 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const config = {
      endpoint: weed.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    };
    s3 = new S3Client(config);
    // The SDK's default adds `x-amz-checksum-crc32` of an *empty* body to presigned PUTs, which real S3
    // then refuses (BadDigest). Dromo's URLs sign `host` only, like this.
    signer = new S3Client({ ...config, requestChecksumCalculation: 'WHEN_REQUIRED' });
    t = Date.now();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutBucketCorsCommand({
      Bucket: BUCKET,
      CORSConfiguration: {
        CORSRules: [{ AllowedOrigins: [pageOrigin], AllowedMethods: ['PUT', 'GET'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }],
      },
    }));
    timings.bucketSetup = Date.now() - t;
  } catch (e) {
    const message = /** @type {Error} */ (e).message;
    console.log(`# real-s3: ${message.replace(/\n/g, '\n# ')}`);
    skip = `SeaweedFS did not start: ${message.split('\n')[0]}`;
  }
}
if (skip) console.log(`# real-s3: skipped: ${skip}`);
const noBrowser = skip || (fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`);

// --- Helpers ----------------------------------------------------------------------------------------------
let keyCount = 0;
const newKey = (/** @type {string} */ name) => `uploads/${++keyCount}-${name}`;

/**
 * A presigned PUT URL from the AWS SDK's SigV4 signer, signing `host` only.
 * @param {string} key @param {number} [expiresIn] seconds
 */
async function presign(key, expiresIn = 300) {
  const url = await getSignedUrl(signer, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn });
  const q = new URL(url).searchParams;
  assert.equal(q.get('X-Amz-SignedHeaders'), 'host', `the URL signs host only: ${url}`);
  assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  assert.ok(!/checksum/i.test(url), `no checksum parameter in ${url}`);
  return url;
}

/**
 * A presigned PUT URL that also signs `Content-Length: size`: S3 accepts only a request whose header
 * says exactly that (stricter than Dromo's URLs; proves what the client puts in Content-Length).
 * @param {string} key @param {number} size
 */
async function presignLength(key, size) {
  const command = new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentLength: size });
  const url = await getSignedUrl(signer, command, { expiresIn: 300, signableHeaders: new Set(['content-length']) });
  const q = new URL(url).searchParams;
  assert.equal(q.get('X-Amz-SignedHeaders'), 'content-length;host', `the URL signs Content-Length: ${url}`);
  assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  assert.ok(!/checksum/i.test(url), `no checksum parameter in ${url}`);
  return url;
}

/** The URL with its signature's last hex digit changed. */
function tamper(/** @type {string} */ url) {
  const u = new URL(url);
  const sig = /** @type {string} */ (u.searchParams.get('X-Amz-Signature'));
  u.searchParams.set('X-Amz-Signature', sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
  return u.toString();
}

/** What S3 stored under `key`: size (from ContentLength) and sha256. */
async function stored(/** @type {string} */ key) {
  const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const bytes = await /** @type {any} */ (r.Body).transformToByteArray();
  assert.equal(bytes.length, r.ContentLength, 'GetObject ContentLength matches the bytes read');
  return { size: r.ContentLength, sha256: sha256(bytes) };
}

async function absent(/** @type {string} */ key) {
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), (e) => {
    assert.equal(/** @type {any} */ (e).$metadata?.httpStatusCode, 404, `HeadObject ${key}: ${e}`);
    return true;
  });
}

const sha256 = (/** @type {Uint8Array | string} */ b) => crypto.createHash('sha256').update(b).digest('hex');

/** Progress events grow monotonically and end at the body's size. */
function assertProgress(/** @type {{ loaded: number, total: number }[]} */ events, /** @type {number} */ size) {
  assert.ok(events.length >= 1, 'onProgress fired');
  let last = 0;
  for (const e of events) {
    assert.equal(e.total, size);
    assert.ok(e.loaded >= last && e.loaded <= size, `monotonic: ${JSON.stringify(events.slice(0, 20))}`);
    last = e.loaded;
  }
  assert.equal(last, size, 'the last event is the whole body');
}

/** The error message and string form never contain the URL's signature or credential. */
function assertRedacted(/** @type {any} */ err, /** @type {string} */ url) {
  const q = new URL(url).searchParams;
  for (const secret of [q.get('X-Amz-Signature'), ACCESS_KEY, SECRET_KEY]) {
    assert.ok(secret && !err.message.includes(secret), `message leaks a secret: ${err.message}`);
    assert.ok(!String(err).includes(secret), `toString() leaks a secret: ${err}`);
  }
  assert.match(err.message, /X-Amz-Signature=REDACTED/, `the URL is shown redacted: ${err.message}`);
}

/** @type {any} */ let pkgPromise;
const pkg = () => (pkgPromise ??= loadPackage());

// --- Node: node:http streaming PUT ------------------------------------------------------------------------
const nodeCases = /** @type {const} */ ([
  ['a Uint8Array (3 MiB)', () => new Uint8Array(crypto.randomBytes(3 * 1024 * 1024))],
  ['a string (UTF-8, multibyte)', () => 'name,city\nZoë,Kraków\n李雷,北京 ☃\n'.repeat(20_000)],
]);
for (const [what, make] of nodeCases) {
  test(`Node: uploads ${what} through a real SigV4 presigned URL`, { skip, timeout: 30_000 }, async () => {
    const { Dromo } = await pkg();
    const body = make();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const key = newKey('node-mem');
    const events = /** @type {{ loaded: number, total: number }[]} */ ([]);
    await new Dromo({ apiKey: 'x', baseUrl: NO_API }).imports.upload(await presign(key), body, { onProgress: (/** @type {any} */ p) => events.push(p) });
    assertProgress(events, bytes.length);
    assert.deepEqual(await stored(key), { size: bytes.length, sha256: sha256(bytes) });
  });
}

test('Node: streams a 20 MB fileFromPath file through a real SigV4 presigned URL', { skip, timeout: 30_000 }, async () => {
  const { Exa, fileFromPath } = await pkg();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-real-s3-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.csv');
  const bytes = crypto.randomBytes(20 * 1000 * 1000);
  fs.writeFileSync(file, bytes);
  const key = newKey('big.csv');
  const events = /** @type {{ loaded: number, total: number }[]} */ ([]);
  const t = Date.now();
  // Any client uploads the same way; this one is Exa's.
  await new Exa({ apiKey: 'x', baseUrl: NO_API }).imports.upload(await presign(key), await fileFromPath(file), {
    onProgress: (/** @type {any} */ p) => events.push(p),
  });
  timings.node20MB = Date.now() - t;
  assertProgress(events, bytes.length);
  assert.ok(events.length > 10, `progress while streaming (${events.length} events)`);
  assert.deepEqual(await stored(key), { size: bytes.length, sha256: sha256(bytes) });
});

test('Node: an expired URL is a clear UploadError (expired, 403, not retried, signature redacted)', { skip, timeout: 30_000 }, async () => {
  const { Dromo, UploadError } = await pkg();
  const key = newKey('expired');
  const url = await presign(key, 1);
  await new Promise((r) => setTimeout(r, 2100));
  const events = /** @type {unknown[]} */ ([]);
  const t = Date.now();
  const err = await new Dromo({ apiKey: 'x', baseUrl: NO_API }).imports
    .upload(url, 'a,b\n1,2\n', { onProgress: (/** @type {unknown} */ p) => events.push(p) })
    .then(() => assert.fail('an expired URL was accepted'), (/** @type {any} */ e) => e);
  timings.nodeExpiredAnswer = Date.now() - t;
  assert.ok(err instanceof UploadError, `UploadError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.expired, true, err.message);
  assert.equal(err.status, 403);
  assert.equal(err.s3Code, 'AccessDenied');
  assert.match(err.message, /expired/i);
  assert.match(err.message, /new import/i, 'Dromo says what to do');
  assertRedacted(err, url);
  assert.ok(timings.nodeExpiredAnswer < 400, `not retried (${timings.nodeExpiredAnswer} ms)`);
  await absent(key);
});

test('Node: a tampered signature is a clear UploadError (SignatureDoesNotMatch, 403, not expired)', { skip, timeout: 30_000 }, async () => {
  const { Dromo, UploadError } = await pkg();
  const key = newKey('tampered');
  const url = tamper(await presign(key));
  const err = await new Dromo({ apiKey: 'x', baseUrl: NO_API }).imports
    .upload(url, new Uint8Array(200_000))
    .then(() => assert.fail('a tampered URL was accepted'), (/** @type {any} */ e) => e);
  assert.ok(err instanceof UploadError, `UploadError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.s3Code, 'SignatureDoesNotMatch', err.message);
  assert.equal(err.status, 403);
  assert.equal(err.expired, false);
  assertRedacted(err, url);
  await absent(key);
});

test('Node: a URL that signs Content-Length takes exactly the body size, and S3 checks it', { skip, timeout: 30_000 }, async () => {
  const { Dromo, UploadError } = await pkg();
  const dromo = new Dromo({ apiKey: 'x', baseUrl: NO_API });
  const size = 1_000_003;
  const bytes = new Uint8Array(crypto.randomBytes(size));
  const key = newKey('signed-length');
  await dromo.imports.upload(await presignLength(key, size), bytes);
  assert.deepEqual(await stored(key), { size, sha256: sha256(bytes) });
  // Control: one byte more than was signed is refused, so the check above is real.
  const other = newKey('signed-length-wrong');
  const url = await presignLength(other, size - 1);
  const err = await dromo.imports.upload(url, bytes).then(() => assert.fail('a wrong Content-Length was accepted'), (/** @type {any} */ e) => e);
  assert.ok(err instanceof UploadError, `UploadError, got ${err?.name}: ${err?.message}`);
  assert.deepEqual({ status: err.status, s3Code: err.s3Code, expired: err.expired }, { status: 403, s3Code: 'SignatureDoesNotMatch', expired: false }, err.message);
  assertRedacted(err, url);
  await absent(other);
  // And a PUT with no signature at all is refused (the server has an identity, so it checks).
  const bare = await fetch(url.split('?')[0], { method: 'PUT', body: 'x' });
  assert.equal(bare.status, 403, await bare.text());
  await absent(other);
});

// --- Chromium: XMLHttpRequest from a page, through real CORS ------------------------------------------------
const MIME = /** @type {Record<string, string>} */ ({ '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' });

// The page: the packed package resolved by an import map, no bundler. `window.upload` makes a File of
// `size` random bytes, uploads it with the client, and reports the outcome and the File's sha256.
const PAGE = `<!doctype html><meta charset="utf-8"><title>loading</title><link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "headless-imports": "/pkg/index.js" } }</script>
<script type="module">
import { Dromo, UploadError } from 'headless-imports';
window.upload = async ({ url, size }) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  const file = new File([bytes], 'contacts.csv', { type: 'text/csv' });
  const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const events = [];
  const dromo = new Dromo({ apiKey: 'x', baseUrl: '${NO_API}', dangerouslyAllowBrowser: true });
  const t = performance.now();
  try {
    await dromo.imports.upload(url, file, { onProgress: (p) => events.push({ loaded: p.loaded, total: p.total }) });
    return { ok: true, sha256, size: file.size, events, ms: performance.now() - t };
  } catch (e) {
    return { ok: false, ms: performance.now() - t, events, error: { isUploadError: e instanceof UploadError, name: e.name, code: e.code,
      message: e.message, string: String(e), status: e.status ?? null, s3Code: e.s3Code ?? null, expired: e.expired } };
  }
};
document.title = 'ready';
</script>`;

/** Serves the page and the installed package on `port` (loopback). */
async function servePage(/** @type {number} */ port, /** @type {string} */ pkgDir) {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://x');
    if (pathname === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    const file = path.join(pkgDir, path.normalize(pathname.replace(/^\/pkg\//, '/')));
    if (!pathname.startsWith('/pkg/') || !file.startsWith(pkgDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return void res.writeHead(404).end('not found');
    }
    res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve(undefined)); });
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(undefined)); }));
}

/** @type {Promise<{ open: (origin: string) => Promise<import('playwright-core').Page> }> | undefined} */ let browserPromise;
function browser() {
  browserPromise ??= (async () => {
    const pkgDir = fs.realpathSync(path.join(installPackage(), 'node_modules/headless-imports'));
    await servePage(pagePort, pkgDir);
    await servePage(otherPort, pkgDir);
    const { chromium } = await import('playwright-core');
    const t = Date.now();
    const b = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    timings.chromiumLaunch = Date.now() - t;
    cleanups.push(() => b.close());
    const context = await b.newContext();
    return {
      open: async (/** @type {string} */ origin) => {
        const page = await context.newPage();
        page.on('pageerror', (e) => console.error(`pageerror: ${e.message}`));
        await page.goto(`${origin}/`, { timeout: 20_000 });
        await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
        return page;
      },
    };
  })();
  return browserPromise;
}

/** Runs `window.upload` in a page of `origin`; also returns what Chromium logged and every request made. */
async function uploadFromPage(/** @type {string} */ origin, /** @type {string} */ url, /** @type {number} */ size) {
  const page = await (await browser()).open(origin);
  /** @type {string[]} */ const console_ = [];
  /** @type {{ method: string, url: string, headers: Record<string, string> }[]} */ const requests = [];
  page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
  page.on('request', (r) => { if (r.url().startsWith(url.split('?')[0])) requests.push({ method: r.method(), url: r.url(), headers: r.headers() }); });
  try {
    const result = await page.evaluate((args) => /** @type {any} */ (window).upload(args), { url, size });
    return { ...result, console: console_, requests };
  } finally {
    await page.close();
  }
}

test('Chromium: uploads a File from the allowed origin through real CORS and SigV4', { skip: noBrowser, timeout: 45_000 }, async () => {
  const key = newKey('browser.csv');
  const size = 8 * 1024 * 1024 + 123;
  const r = await uploadFromPage(pageOrigin, await presign(key), size);
  assert.equal(r.ok, true, JSON.stringify(r.error ?? r));
  timings.chromium8MB = Math.round(r.ms);
  assertProgress(r.events, size);
  assert.deepEqual(r.console.filter((l) => /^(error|warning)/.test(l)), [], 'nothing logged');
  const puts = r.requests.filter((q) => q.method === 'PUT');
  assert.equal(puts.length, 1, 'one PUT');
  assert.equal(puts[0].headers['x-api-key'] ?? puts[0].headers.authorization, undefined, 'no API key sent to the storage');
  assert.deepEqual(await stored(key), { size, sha256: r.sha256 });
});

test('Chromium: an expired URL is a readable 403 UploadError with expired === true', { skip: noBrowser, timeout: 45_000 }, async () => {
  const key = newKey('browser-expired');
  const url = await presign(key, 1);
  await new Promise((r) => setTimeout(r, 2100));
  const r = await uploadFromPage(pageOrigin, url, 1000);
  assert.equal(r.ok, false, 'an expired URL was accepted');
  assert.deepEqual(
    { isUploadError: r.error.isUploadError, status: r.error.status, s3Code: r.error.s3Code, expired: r.error.expired },
    { isUploadError: true, status: 403, s3Code: 'AccessDenied', expired: true },
    r.error.message,
  );
  assertRedacted(r.error, url);
  await absent(key);
});

test('Chromium: a tampered signature is a readable 403 UploadError (SignatureDoesNotMatch)', { skip: noBrowser, timeout: 45_000 }, async () => {
  const key = newKey('browser-tampered');
  const url = tamper(await presign(key));
  const r = await uploadFromPage(pageOrigin, url, 1000);
  assert.equal(r.ok, false, 'a tampered URL was accepted');
  assert.deepEqual(
    { isUploadError: r.error.isUploadError, status: r.error.status, s3Code: r.error.s3Code, expired: r.error.expired },
    { isUploadError: true, status: 403, s3Code: 'SignatureDoesNotMatch', expired: false },
    r.error.message,
  );
  assertRedacted(r.error, url);
  await absent(key);
});

test('Chromium: a page on an origin the bucket does not allow gets a clear UploadError (no status)', { skip: noBrowser, timeout: 45_000 }, async (t) => {
  const key = newKey('browser-wrong-origin');
  const url = await presign(key);
  const r = await uploadFromPage(otherOrigin, url, 1000);
  assert.equal(r.ok, false, `CORS let ${otherOrigin} upload`);
  timings.chromiumWrongOrigin = Math.round(r.ms);
  // Connection-level failures are retried (maxRetries 2, with backoff): a CORS refusal looks the same.
  t.diagnostic(`wrong origin: ${r.requests.length} PUT attempts in ${timings.chromiumWrongOrigin} ms: ${r.error.message}`);
  assert.equal(r.error.isUploadError, true, JSON.stringify(r.error));
  assert.equal(r.error.status, null, 'no readable answer');
  assert.equal(r.error.expired, false);
  assert.match(r.error.message, /CORS/, 'the message names the likely cause');
  assertRedacted(r.error, url);
  assert.ok(r.console.some((l) => /CORS policy/.test(l)), `Chromium blamed CORS: ${r.console.join('\n')}`);
  await absent(key);
});

test('Chromium: a URL that signs Content-Length accepts the File (the browser sets it to the exact size)', { skip: noBrowser, timeout: 45_000 }, async () => {
  const key = newKey('browser-signed-length');
  const size = 777_777;
  const r = await uploadFromPage(pageOrigin, await presignLength(key, size), size);
  assert.equal(r.ok, true, JSON.stringify(r.error ?? r));
  assert.deepEqual(await stored(key), { size, sha256: r.sha256 });
});
