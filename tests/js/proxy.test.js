// @ts-check
// createProxyHandler (pkg/proxy.js) from the installed tarball: the fetch-style handler called with
// `new Request(...)` against the local emulator (forwarding, refusals, header hygiene, body cap),
// its node:http adapter with raw paths, and end to end: a Chromium page using keyless
// `new Dromo({ baseUrl: '/api/dromo' })` / `new Exa({ baseUrl: '/api/exa' })` through the proxy, its
// uploads going straight to the emulator's storage origin. No key ever reaches the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startEmulator, installPackage, loadPackage, PACKAGE_PAGE, KEY, CONTACTS } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
const CHROMIUM = '/usr/bin/chromium';
const noBrowser = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`;
const SAFE_RESPONSE_HEADERS = ['allow', 'cache-control', 'content-type', 'retry-after', 'retry-after-ms', 'x-content-type-options', 'x-request-id'];
const CONTACTS_CSV = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nGrace,Hopper,grace@example.com,85\n';
const URLS_CSV = 'url,name\nhttps://a.example,A\nhttps://b.example,B\nhttps://c.example,C\n';

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let pkg;
/** @type {Array<() => Promise<unknown>>} */ const cleanups = [];

before(async () => {
  [emu, pkg] = await Promise.all([startEmulator(['--time-scale', '0.01']), loadPackage()]);
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await emu?.stop();
});

/**
 * A fetch that records what the proxy sends upstream, then really sends it.
 * @returns {{ fetch: typeof fetch, calls: { url: string, method: string, headers: Record<string, string>, bodyBytes: number }[] }}
 */
function spyFetch() {
  /** @type {{ url: string, method: string, headers: Record<string, string>, bodyBytes: number }[]} */
  const calls = [];
  /** @type {typeof fetch} */
  const f = async (input, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = /** @type {any} */ (init.body);
    calls.push({ url: String(input), method: init.method ?? 'GET', headers, bodyBytes: body ? body.byteLength ?? 0 : 0 });
    return fetch(input, init);
  };
  return { fetch: f, calls };
}

/** The proxy's answer as plain data, asserting it leaks nothing on the way. */
async function call(/** @type {(r: Request) => Promise<Response>} */ handler, /** @type {string} */ p, /** @type {RequestInit} */ init = {}) {
  const res = await handler(new Request(`http://app.test${p}`, init));
  const text = await res.text();
  const headers = Object.fromEntries(res.headers.entries());
  for (const name of Object.keys(headers)) assert.ok(SAFE_RESPONSE_HEADERS.includes(name), `${p}: unexpected response header ${name}`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${p}: answered without nosniff`);
  for (const key of [KEY, EXA_KEY]) {
    assert.ok(!text.includes(key), `${p}: the key is in the body`);
    assert.ok(!JSON.stringify(headers).includes(key), `${p}: the key is in a header`);
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers, json, text };
}

const ATTACKER = { 'X-Dromo-License-Key': 'attacker', 'x-api-key': 'attacker', authorization: 'Bearer attacker', cookie: 'session=attacker', 'x-forwarded-for': '6.6.6.6', 'content-type': 'application/json', accept: 'application/json' };

test('options are validated, and messages never quote the key', async () => {
  const { createProxyHandler } = pkg;
  const bad = [
    [{ provider: 'stripe', apiKey: KEY, authorize: 'anyone' }, /provider/],
    [{ provider: 'dromo', authorize: 'anyone' }, /apiKey/],
    [{ provider: 'dromo', apiKey: '  ', authorize: 'anyone' }, /apiKey/],
    [{ provider: 'dromo', apiKey: `${KEY}\r\nx-evil: 1`, authorize: 'anyone' }, /apiKey/],
    [{ provider: 'dromo', apiKey: KEY }, /authorize is required/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'everyone' }, /authorize is required/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', baseUrl: 'http://api.example.com/api/v1' }, /https/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', baseUrl: 'https://u:p@api.example.com/api/v1' }, /credentials/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', baseUrl: 'https://api.example.com/api/v1?x=1' }, /query/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', baseUrl: '/relative' }, /absolute/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', prefix: 'api/dromo' }, /prefix/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', prefix: '/api/dromo/' }, /prefix/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', prefix: '/api/../x' }, /prefix/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', maxBodyBytes: -1 }, /maxBodyBytes/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', maxBytesInFlight: 0 }, /maxBytesInFlight/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', list: 'all' }, /list/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', ownership: {} }, /ownership/],
    [{ provider: 'dromo', apiKey: KEY, authorize: 'anyone', origin: '*' }, /origin is not an option/],
  ];
  for (const [opts, re] of bad) {
    assert.throws(() => createProxyHandler(opts), (/** @type {any} */ e) => {
      // The package's typed error, as every error it throws: a stable code and the option's path.
      assert.ok(e instanceof pkg.ValidationError && e instanceof pkg.HeadlessImportsError, String(e));
      assert.equal(e.code, 'validation_error');
      assert.match(e.path, /^options(\.|$)/);
      assert.match(e.message, re);
      assert.ok(!e.message.includes(KEY), 'the key is not in the message');
      return true;
    }, JSON.stringify(opts));
  }
  for (const baseUrl of ['http://127.0.0.1:1/api/v1', 'http://localhost:1/api/v1/', 'http://[::1]:1/x', 'https://app.dromo.io/api/v1', undefined]) {
    assert.equal(typeof createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl }).node, 'function', String(baseUrl));
  }
});

test('Dromo: create, list, retrieve and result URL go through, with the real key only', { timeout: 30_000 }, async () => {
  const spy = spyFetch();
  const dromo = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: emu.api, fetch: spy.fetch, list: 'account' });
  const create = await call(dromo, '/api/dromo/headless/imports/', {
    method: 'POST',
    headers: ATTACKER,
    body: JSON.stringify({ schema_id: CONTACTS, initial_data: [{ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', age: 36 }] }),
  });
  // The emulator answers 401 to a wrong key: the attacker's header was replaced by the real one.
  assert.equal(create.status, 201, create.text);
  assert.match(create.headers['x-request-id'], /^req_/);
  assert.equal(create.headers['content-type'], 'application/json');
  const id = create.json.id;
  const up = spy.calls[0];
  assert.equal(up.url, `${emu.api}/headless/imports/`);
  assert.deepEqual(Object.keys(up.headers).sort(), ['accept', 'content-type', 'x-dromo-license-key']);
  assert.equal(up.headers['x-dromo-license-key'], KEY);

  // Poll through the proxy until processed, then the result URL (presigned, passed through untouched).
  let imp;
  for (let i = 0; i < 100; i++) {
    imp = await call(dromo, `/api/dromo/headless/imports/${id}/`, { headers: ATTACKER });
    assert.equal(imp.status, 200, imp.text);
    if (imp.json.status === 'SUCCESSFUL') break;
    await new Promise((r) => setTimeout(r, 30));
  }
  assert.equal(imp?.json.status, 'SUCCESSFUL');
  const url = await call(dromo, `/api/dromo/headless/imports/${id}/url/?limit=5`);
  assert.equal(url.status, 200, url.text);
  assert.ok(url.json.presigned_url.startsWith(emu.storage), 'presigned result URL on the storage origin');
  assert.equal(spy.calls.at(-1)?.url, `${emu.api}/headless/imports/${id}/url/`, 'no query on non-list routes');
  const rows = await (await fetch(url.json.presigned_url)).json();
  assert.equal(rows[0].email, 'ada@example.com');

  // List: only offset/limit pass; anything else (including a smuggled key) is dropped.
  const list = await call(dromo, `/api/dromo/headless/imports/?limit=1&offset=0&api_key=x&next=http://evil/`, { headers: ATTACKER });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.results.length, 1);
  assert.equal(spy.calls.at(-1)?.url, `${emu.api}/headless/imports/?offset=0&limit=1`);
  for (const c of spy.calls) {
    assert.equal(c.headers['x-dromo-license-key'], KEY);
    for (const h of ['authorization', 'cookie', 'x-api-key', 'x-forwarded-for']) assert.equal(c.headers[h], undefined, `${h} stripped`);
  }

  // A wrong server-side key does give 401: the check above is meaningful.
  const wrong = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: 'not-the-key', baseUrl: emu.api, list: 'account' });
  assert.equal((await call(wrong, '/api/dromo/headless/imports/')).status, 401);
});

test('Exa: create, list, retrieve, update and delete go through with x-api-key set server-side', { timeout: 30_000 }, async () => {
  const spy = spyFetch();
  const exa = pkg.createProxyHandler({ provider: 'exa', authorize: 'anyone', apiKey: EXA_KEY, baseUrl: emu.exa, fetch: spy.fetch, list: 'account' });
  const body = JSON.stringify({ size: URLS_CSV.length, count: 3, format: 'csv', entity: { type: 'company' }, title: 'proxied' });
  const create = await call(exa, '/api/exa/v0/imports', { method: 'POST', headers: ATTACKER, body });
  assert.equal(create.status, 201, create.text);
  assert.ok(create.json.uploadUrl.startsWith(emu.storage), 'upload URL passed through untouched');
  const id = create.json.id;
  assert.deepEqual(Object.keys(spy.calls[0].headers).sort(), ['accept', 'content-type', 'x-api-key']);
  assert.equal(spy.calls[0].headers['x-api-key'], EXA_KEY);

  const list = await call(exa, '/api/exa/v0/imports?limit=1&cursor=&offset=3&foo=bar');
  assert.equal(list.status, 400, 'cursor= is passed on (the emulator refuses an empty cursor)');
  assert.equal(spy.calls.at(-1)?.url, `${emu.exa}/v0/imports?cursor=&limit=1`);
  const list2 = await call(exa, '/api/exa/v0/imports?limit=1');
  assert.equal(list2.status, 200, list2.text);
  assert.equal(list2.json.data.length, 1);

  assert.equal((await call(exa, `/api/exa/v0/imports/${id}`, { headers: ATTACKER })).json.id, id);
  const patched = await call(exa, `/api/exa/v0/imports/${id}`, { method: 'PATCH', headers: ATTACKER, body: JSON.stringify({ title: 'renamed' }) });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.title, 'renamed');
  // Upstream errors pass through as they are (not the proxy's own).
  const bad = await call(exa, `/api/exa/v0/imports/${id}`, { method: 'PATCH', headers: ATTACKER, body: JSON.stringify({ title: 5 }) });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, undefined);
  assert.match(bad.json.message, /title must be a string/);
  assert.equal((await call(exa, `/api/exa/v0/imports/${id}`, { method: 'DELETE' })).status, 200);
  // Deleted: the proxy forgot it, and says so itself.
  const gone = await call(exa, `/api/exa/v0/imports/${id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.json.code, 'proxy_not_found');
  assert.equal((await call(pkg.createProxyHandler({ provider: 'exa', authorize: 'anyone', apiKey: 'wrong', baseUrl: emu.exa, list: 'account' }), '/api/exa/v0/imports')).status, 401);
});

test('only the import endpoints are forwarded; everything else is refused before any request', async () => {
  const spy = spyFetch();
  const dromo = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: emu.api, fetch: spy.fetch });
  const exa = pkg.createProxyHandler({ provider: 'exa', authorize: 'anyone', apiKey: EXA_KEY, baseUrl: emu.exa, fetch: spy.fetch });
  /** @type {Array<[any, string, string, number]>} handler, method, path, status */
  const cases = [
    [dromo, 'GET', '/api/dromo', 404],
    [dromo, 'GET', '/api/dromo/', 404],
    [dromo, 'GET', '/api/dromo/headless/imports', 404], // no trailing slash: not a route here
    [dromo, 'GET', '/api/dromo/headless/schemas/', 404],
    [dromo, 'GET', '/api/dromo/headless/imports/abc/results/', 404],
    [dromo, 'GET', '/api/dromox/headless/imports/', 404], // outside the prefix
    [dromo, 'GET', '/headless/imports/', 404],
    [dromo, 'GET', '/api/dromo/../../_emulator/reset', 404], // normalised by URL parsing: outside the prefix
    [dromo, 'GET', '/api/dromo/headless/imports/%2e%2e/%2e%2e/x/', 404],
    [dromo, 'GET', '/api/dromo/headless/imports/a%2Fb/', 400], // encoded slash
    [dromo, 'GET', '/api/dromo/headless/imports/a%5Cb/', 400], // encoded backslash
    [dromo, 'GET', '/api/dromo/headless/imports/a%20b/', 400],
    [dromo, 'GET', '/api/dromo/headless/imports/a$b/', 400], // id outside [A-Za-z0-9_.-]
    [dromo, 'GET', '/api/dromo/headless/imports/a..b/', 400],
    [dromo, 'PATCH', '/api/dromo/headless/imports/abc/', 405],
    [dromo, 'DELETE', '/api/dromo/headless/imports/abc/url/', 405],
    [dromo, 'PUT', '/api/dromo/headless/imports/', 405],
    [dromo, 'POST', '/api/dromo/headless/imports/abc/url/', 405],
    [dromo, 'OPTIONS', '/api/dromo/headless/imports/', 405], // same-origin only: no CORS preflights
    [exa, 'GET', '/api/exa/v0/imports/', 404],
    [exa, 'GET', '/api/exa/v0/websets', 404],
    [exa, 'GET', '/api/exa/v0/imports/abc/items', 404],
    [exa, 'GET', '/api/dromo/headless/imports/', 404], // the other provider's prefix
    [exa, 'PUT', '/api/exa/v0/imports/abc', 405],
    [exa, 'DELETE', '/api/exa/v0/imports', 405],
    [exa, 'GET', '/api/exa/v0/imports/a%2F..%2Fb', 400],
  ];
  for (const [handler, method, p, status] of cases) {
    const r = await call(handler, p, { method });
    assert.equal(r.status, status, `${method} ${p}: ${r.text}`);
    assert.match(r.json?.code ?? '', /^proxy_/, `${method} ${p} answered by the proxy`);
    assert.equal(typeof r.json.detail, 'string');
    if (status === 405) assert.match(r.headers.allow, /^(GET|POST|PATCH|DELETE)(, (GET|POST|PATCH|DELETE))*$/);
  }
  assert.deepEqual(spy.calls, [], 'nothing was sent upstream');
});

test('request bodies are capped (413) before anything is sent; upstream failures are 502 without details', { timeout: 30_000 }, async () => {
  const spy = spyFetch();
  const dromo = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: emu.api, fetch: spy.fetch });
  const big = new Uint8Array(16 * 1024 * 1024 + 1).fill(0x20);
  const r = await call(dromo, '/api/dromo/headless/imports/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
  assert.equal(r.status, 413);
  assert.equal(r.json.code, 'proxy_payload_too_large');
  // A streamed body without Content-Length is counted as it arrives.
  const small = pkg.createProxyHandler({ provider: 'exa', authorize: 'anyone', apiKey: EXA_KEY, baseUrl: emu.exa, fetch: spy.fetch, maxBodyBytes: 1000 });
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(300));
      c.close();
    },
  });
  const s = await call(small, '/api/exa/v0/imports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' });
  assert.equal(s.status, 413);
  assert.deepEqual(spy.calls, []);

  const down = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: 'http://127.0.0.1:9/api/v1', list: 'account' });
  const d = await call(down, '/api/dromo/headless/imports/');
  assert.equal(d.status, 502);
  assert.equal(d.json.code, 'proxy_upstream_unreachable');
  assert.ok(!d.text.includes('127.0.0.1'), 'no upstream address in the answer');
});

/** Starts `listener` on an ephemeral loopback port; closed after the tests. */
async function listen(/** @type {http.RequestListener} */ listener) {
  const server = http.createServer(listener);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve(undefined));
  });
  cleanups.push(close);
  return { url: `http://127.0.0.1:${port}`, port, close };
}

/** A raw node:http request (paths are sent exactly as given, no normalisation). */
function raw(/** @type {number} */ port, /** @type {string} */ method, /** @type {string} */ p, /** @type {Record<string, string | number>} */ headers = {}, /** @type {Buffer | undefined} */ body = undefined) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      const chunks = /** @type {Buffer[]} */ ([]);
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => (/** @type {any} */ (e).code === 'EPIPE' || /** @type {any} */ (e).code === 'ECONNRESET' ? undefined : reject(e)));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

test('node:http adapter: forwards, refuses raw dot segments and encoded slashes, 413 by Content-Length', { timeout: 30_000 }, async () => {
  const dromo = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: emu.api });
  const srv = await listen((req, res) => void dromo.node(req, res));
  const ok = /** @type {any} */ (await raw(srv.port, 'GET', '/api/dromo/headless/imports/?limit=2', { 'x-dromo-license-key': 'attacker' }));
  assert.equal(ok.status, 200, ok.text);
  assert.ok(Array.isArray(JSON.parse(ok.text).results));
  assert.ok(!JSON.stringify(ok.headers).includes(KEY));
  for (const p of ['/api/dromo/headless/imports/../../../_emulator/reset', '/api/dromo/headless/imports/./', '/api/dromo/headless/imports/%2e%2e/', '/api/dromo/headless/imports/a%2fb/', '/api/dromo/headless/imports/a\\b/']) {
    const r = /** @type {any} */ (await raw(srv.port, 'GET', p));
    assert.equal(r.status, 400, `${p}: ${r.text}`);
  }
  const created = /** @type {any} */ (await raw(srv.port, 'POST', '/api/dromo/headless/imports/', { 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ schema_id: CONTACTS, original_filename: 'a.csv' }))));
  assert.equal(created.status, 201, created.text);
  // Declared too large: refused without reading the body.
  const big = /** @type {any} */ (await raw(srv.port, 'POST', '/api/dromo/headless/imports/', { 'content-type': 'application/json', 'content-length': 17 * 1024 * 1024 }));
  assert.equal(big.status, 413);
});

// ------------------------------------------------------------------------------------------------
// End to end: Chromium page -> proxy -> emulator
// ------------------------------------------------------------------------------------------------

const MIME = /** @type {Record<string, string>} */ ({ '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' });


test('Chromium page -> proxy -> emulator: keyless Dromo and Exa importFile succeed, no key reaches the page', { skip: noBrowser, timeout: 90_000 }, async () => {
  const pkgDir = path.join(installPackage(), 'node_modules/headless-imports');
  const upstream = spyFetch();
  const dromo = pkg.createProxyHandler({ provider: 'dromo', authorize: 'anyone', apiKey: KEY, baseUrl: emu.api, fetch: upstream.fetch });
  const exa = pkg.createProxyHandler({ provider: 'exa', authorize: 'anyone', apiKey: EXA_KEY, baseUrl: emu.exa, fetch: upstream.fetch });
  const app = await listen((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    if (p === '/api/dromo' || p.startsWith('/api/dromo/')) return void dromo.node(req, res);
    if (p === '/api/exa' || p.startsWith('/api/exa/')) return void exa.node(req, res);
    if (p === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PACKAGE_PAGE);
    const file = path.join(pkgDir, path.normalize(p.replace(/^\/pkg\//, '/')));
    if (p.startsWith('/pkg/') && file.startsWith(pkgDir + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile()) {
      res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
      return void fs.createReadStream(file).pipe(res);
    }
    res.writeHead(404).end('not found');
  });

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  cleanups.push(() => browser.close());
  const page = await browser.newPage();
  /** @type {string[]} */ const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  /** @type {Promise<{ method: string, url: string, headers: Record<string, string> }>[]} */ const requests = [];
  page.on('request', (r) => requests.push(r.allHeaders().then((headers) => ({ method: r.method(), url: r.url(), headers }))));
  /** @type {Promise<{ url: string, status: number, headers: Record<string, string>, body: string }>[]} */ const responses = [];
  page.on('response', (r) =>
    responses.push(Promise.all([r.allHeaders(), r.body().catch(() => Buffer.alloc(0))]).then(([headers, body]) => ({ url: r.url(), status: r.status(), headers, body: body.toString('latin1') }))),
  );

  await page.goto(`${app.url}/`, { timeout: 20_000 });
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
  // A cookie the app may have: the proxy must not pass it on.
  await page.evaluate(() => { document.cookie = 'session=app-session-cookie'; });

  const result = await page.evaluate(async ({ contacts, urls, schema }) => {
    const { Dromo, Exa } = /** @type {any} */ (window).hi;
    const fail = (/** @type {any} */ e) => ({ error: { name: e?.name, code: e?.code, message: e?.message } });
    const dromo = await new Dromo({ baseUrl: '/api/dromo' })
      .importFile(new File([contacts], 'a.csv', { type: 'text/csv' }), { schema_id: schema })
      .then((/** @type {any} */ r) => ({ status: r.import.status, id: r.import.id, rows: r.rows }), fail);
    const exa = await new Exa({ baseUrl: '/api/exa' })
      .importFile(new File([urls], 'leads.csv', { type: 'text/csv' }), { entity: { type: 'company' } })
      .then((/** @type {any} */ r) => ({ status: r.import.status, id: r.import.id, count: r.import.count }), fail);
    return { dromo, exa };
  }, { contacts: CONTACTS_CSV, urls: URLS_CSV, schema: CONTACTS });

  assert.equal(result.dromo.status, 'SUCCESSFUL', JSON.stringify(result.dromo));
  assert.deepEqual(result.dromo.rows.map((/** @type {any} */ r) => r.email), ['ada@example.com', 'grace@example.com']);
  assert.equal(result.exa.status, 'completed', JSON.stringify(result.exa));
  assert.equal(result.exa.count, 3);
  assert.deepEqual(problems, []);

  const reqs = await Promise.all(requests);
  const resps = await Promise.all(responses);
  const apiReqs = reqs.filter((r) => r.url.startsWith(`${app.url}/api/`));
  const storageReqs = reqs.filter((r) => r.url.startsWith(emu.storage));
  // The page talked to the API only through its own origin, and to storage directly (cross-origin).
  assert.ok(apiReqs.some((r) => r.method === 'POST' && r.url === `${app.url}/api/dromo/headless/imports/`), 'Dromo create via the proxy');
  assert.ok(apiReqs.some((r) => r.url.endsWith(`/api/dromo/headless/imports/${result.dromo.id}/url/`)), 'Dromo result URL via the proxy');
  assert.ok(apiReqs.some((r) => r.method === 'POST' && r.url === `${app.url}/api/exa/v0/imports`), 'Exa create via the proxy');
  assert.ok(apiReqs.some((r) => r.url === `${app.url}/api/exa/v0/imports/${result.exa.id}`), 'Exa poll via the proxy');
  assert.equal(storageReqs.filter((r) => r.method === 'PUT').length, 2, 'both files PUT straight to the storage origin');
  assert.ok(!reqs.some((r) => r.url.startsWith(emu.api.replace(/\/api\/v1$/, ''))), 'the page never called the API origin directly');

  for (const r of reqs) {
    for (const h of ['x-dromo-license-key', 'x-api-key', 'authorization']) assert.equal(r.headers[h], undefined, `${r.method} ${r.url} carries ${h}`);
    assert.ok(!JSON.stringify(r).includes(KEY) && !JSON.stringify(r).includes(EXA_KEY), `${r.url}: a key in the request`);
  }
  for (const r of resps) {
    for (const key of [KEY, EXA_KEY]) {
      assert.ok(!r.body.includes(key), `${r.url}: the key is in the response body`);
      assert.ok(!JSON.stringify(r.headers).includes(key), `${r.url}: the key is in a response header`);
    }
  }
  const html = await page.content();
  assert.ok(!html.includes(KEY) && !html.includes(EXA_KEY));

  // What reached the emulator: the real key, no cookie, only the allowed headers.
  // One upstream call per API request of the page, no more, no fewer: at least a create, a poll
  // and the result URL for Dromo and a create and a poll for Exa (an import may finish by its
  // first poll, so 5 is the floor; this asserted >= 6 and failed once when both did).
  assert.equal(upstream.calls.length, apiReqs.length, `upstream calls ${upstream.calls.length}, page API requests ${apiReqs.length}`);
  assert.ok(upstream.calls.length >= 5, `upstream calls: ${upstream.calls.length}`);
  for (const c of upstream.calls) {
    const isDromo = c.url.startsWith(emu.api);
    assert.equal(c.headers[isDromo ? 'x-dromo-license-key' : 'x-api-key'], isDromo ? KEY : EXA_KEY);
    for (const name of Object.keys(c.headers)) assert.ok(['accept', 'content-type', 'x-dromo-license-key', 'x-api-key'].includes(name), `${c.url}: forwarded ${name}`);
    assert.equal(c.headers.cookie, undefined);
  }
  await page.close();
});
