// @ts-check
// Where keys, signatures and users' data may go, tried as an attacker would, against the packed
// package: redirects that would carry the key elsewhere, error texts that would quote it, hostile
// JS values that would crash the process or leave a promise pending, retry and polling limits
// that would hammer an API. (The proxy's defences are in proxy.test.js and proxy-auth.test.js.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEmulator, loadPackage, tempFile, KEY, CONTACTS } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;

before(async () => {
  [hi, emu] = await Promise.all([loadPackage(), startEmulator(['--time-scale', '0.01'])]);
});
after(async () => emu && (await emu.stop()));

/**
 * A loopback server that records every request (method, path, headers) and answers with `respond`.
 * @param {(req: http.IncomingMessage, res: http.ServerResponse, origin: string) => void} respond
 */
async function server(respond) {
  /** @type {{ method: string, url: string, headers: http.IncomingHttpHeaders }[]} */
  const seen = [];
  const s = http.createServer((req, res) => {
    seen.push({ method: String(req.method), url: String(req.url), headers: req.headers });
    req.resume();
    respond(req, res, origin);
  });
  await new Promise((r) => s.listen(0, '127.0.0.1', () => r(undefined)));
  const origin = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (s.address()).port}`;
  return { origin, seen, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r(undefined)); }) };
}

/** Everything a request carried, as one string, to search for a key. */
const carried = (/** @type {{ url: string, headers: object }} */ r) => `${r.url} ${JSON.stringify(r.headers)}`;

test('redirects: the key never follows a redirect to another origin, whatever the status and method', async () => {
  const other = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"stolen","status":"SUCCESSFUL","results":[],"count":0,"data":[]}'));
  let status = 302;
  const front = await server((req, res) => res.writeHead(status, { location: `${other.origin}/steal${req.url}` }).end());
  try {
    for (status of [301, 302, 303, 307, 308]) {
      const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: `${front.origin}/api/v1`, maxRetries: 0, headers: { 'x-trace': 'mine' } });
      const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: `${front.origin}/websets`, maxRetries: 0 });
      const calls = [
        () => dromo.imports.list({ limit: 1 }),
        () => dromo.imports.retrieve('imp-1'),
        () => dromo.imports.resultUrl('imp-1'),
        () => dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }),
        () => exa.imports.delete('import_1'),
        () => exa.imports.update('import_1', { title: 't' }),
        () => exa.imports.list({ limit: 1 }),
      ];
      for (const call of calls) {
        const err = await call().then(() => null, (/** @type {any} */ e) => e);
        assert.ok(err instanceof hi.APIError, `${status}: ${err}`);
        assert.equal(err.code, 'redirect_refused', err.message);
        assert.match(err.message, new RegExp(other.origin.replace(/\./g, '\\.')), 'the message names the other origin');
        assert.ok(!err.message.includes(KEY) && !err.message.includes(EXA_KEY));
      }
    }
    assert.equal(other.seen.length, 0, 'no request at all reached the other origin');
    assert.ok(front.seen.length >= 35);
    for (const r of front.seen) assert.ok(carried(r).includes(KEY) || carried(r).includes(EXA_KEY), 'the front server did get the key');
  } finally {
    await Promise.all([other.close(), front.close()]);
  }
});

test('redirects: a same-origin redirect is followed (a few times at most), with the method kept', async () => {
  const body = JSON.stringify({ id: 'imp-1', status: 'RUNNING' });
  const front = await server((req, res) => {
    const url = String(req.url);
    if (url === '/api/v1/headless/imports/imp-1/') return res.writeHead(301, { location: '/v2/headless/imports/imp-1/' }).end();
    if (url === '/v2/headless/imports/imp-1/') return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    if (url.startsWith('/loop')) return res.writeHead(307, { location: `/loop${url.length}` }).end();
    if (url === '/api/v1/headless/imports/' && req.method === 'POST') return res.writeHead(301, { location: '/v2/headless/imports/' }).end();
    res.writeHead(404).end();
  });
  try {
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: `${front.origin}/api/v1`, maxRetries: 0 });
    assert.deepEqual(await dromo.imports.retrieve('imp-1'), JSON.parse(body));
    assert.deepEqual(front.seen.map((r) => `${r.method} ${r.url}`), ['GET /api/v1/headless/imports/imp-1/', 'GET /v2/headless/imports/imp-1/']);
    assert.equal(front.seen[1].headers['x-dromo-license-key'], KEY, 'the same origin keeps the key');

    // A POST that a 301 would turn into a GET is refused, not silently turned into a list call.
    const post = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }).catch((/** @type {any} */ e) => e);
    assert.equal(post.code, 'redirect_refused');
    assert.match(post.message, /change the method/);

    front.seen.length = 0;
    const looping = new hi.Dromo({ apiKey: KEY, baseUrl: `${front.origin}/loop`, maxRetries: 0 });
    const loop = await looping.imports.retrieve('x').catch((/** @type {any} */ e) => e);
    assert.equal(loop.code, 'redirect_refused');
    assert.match(loop.message, /too many/);
    assert.equal(front.seen.length, 4, 'the first request and 3 redirects');
  } finally {
    await front.close();
  }
});

// ------------------------------------------------------------------------------------------------
// Hostile JS values: every public call resolves or rejects with a HeadlessImportsError, never
// throws outside its promise, never leaves a promise pending, and sends nothing.
// ------------------------------------------------------------------------------------------------

/**
 * Values that no call may choke on; each is made fresh, as some are spent by use. `unreadable`:
 * nothing can be made of it, so no call may send anything with it anywhere; `bodyOnly`: the same,
 * but only as a body (elsewhere it is JSON-like data: an ArrayBuffer serialises as `{}`).
 * @type {Record<string, { make: () => any, unreadable?: boolean, bodyOnly?: boolean }>}
 */
const HOSTILE = {
  'a revoked Proxy': { unreadable: true, make: () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  } },
  'a revoked Proxy of a function': { unreadable: true, make: () => {
    const { proxy, revoke } = Proxy.revocable(() => {}, {});
    revoke();
    return proxy;
  } },
  'a Proxy whose every trap throws': { unreadable: true, make: () => new Proxy({}, Object.fromEntries(
    ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'defineProperty', 'set', 'apply', 'construct', 'isExtensible', 'preventExtensions', 'setPrototypeOf', 'deleteProperty']
      .map((t) => [t, () => { throw new Error(`trap ${t}`); }]))) },
  'a Proxy of an array whose get throws': { unreadable: true, make: () => new Proxy([1, 2], { get(t, k) { if (k === 'length') return 2; throw new Error('nope'); } }) },
  'an object with throwing getters': { unreadable: true, make: () => ({ get schema_id() { throw new Error('getter'); }, get entity() { throw new Error('getter'); }, get signal() { throw new Error('getter'); } }) },
  'a class instance whose toJSON throws': { unreadable: true, make: () => new (class Evil { toJSON() { throw new Error('toJSON'); } })() },
  'a cycle': { unreadable: true, make: () => {
    const o = { a: {} };
    o.a.o = o;
    return o;
  } },
  'nesting 10,000 deep': { unreadable: true, make: () => {
    let o = {};
    for (let i = 0; i < 10_000; i++) o = { o };
    return o;
  } },
  'a Proxy of a Blob': { unreadable: true, make: () => new Proxy(new Blob(['a,b\n1,2\n']), { get() { throw new Error('blob trap'); } }) },
  'a Proxy of an AbortSignal whose traps throw': { unreadable: true, make: () => new Proxy(new AbortController().signal, { get() { throw new Error('signal trap'); } }) },
  'a detached ArrayBuffer': { bodyOnly: true, make: () => {
    const b = new ArrayBuffer(16);
    structuredClone(b, { transfer: [b] });
    return b;
  } },
  'a view of a detached ArrayBuffer': { bodyOnly: true, make: () => {
    const b = new ArrayBuffer(16);
    const v = new Uint8Array(b);
    structuredClone(b, { transfer: [b] });
    return v;
  } },
  'a Blob whose own size and stream throw': { make: () => {
    const b = new Blob(['a,b\n1,2\n']);
    Object.defineProperty(b, 'size', { get() { throw new Error('size'); } });
    Object.defineProperty(b, 'stream', { value() { throw new Error('stream'); } });
    return b;
  } },
  'an object whose own toJSON throws': { make: () => ({ toJSON() { throw new Error('toJSON'); } }) },
  'a symbol': { make: () => Symbol('s') },
  'a BigInt': { make: () => 10n },
  'NaN': { make: () => NaN },
};

test('hostile values: every entry point rejects with a typed error, sends nothing, and the client still works', { timeout: 60_000 }, async () => {
  const sink = await server((_req, res) => res.writeHead(500).end());
  const { Dromo, Exa, countCsvRecords, HeadlessImportsError } = hi;
  const dromo = new Dromo({ apiKey: KEY, baseUrl: `${sink.origin}/api/v1`, maxRetries: 0 });
  const exa = new Exa({ apiKey: EXA_KEY, baseUrl: `${sink.origin}/websets`, maxRetries: 0 });
  const file = () => new File(['a,b\n1,2\n'], 'a.csv');
  const rows = [{ a: 1 }];
  const url = `${sink.origin}/put`;
  const onDisk = tempFile('hostile.csv', 'url,name\nhttps://a.example,A\n');
  /** Each entry point, with `h` in one argument position (or nested inside a valid one). */
  const entries = {
    'new Dromo(options)': (/** @type {any} */ h) => new Dromo(h),
    'new Dromo({ headers })': (/** @type {any} */ h) => new Dromo({ apiKey: KEY, headers: h }),
    'new Exa(options)': (/** @type {any} */ h) => new Exa(h),
    'new Exa({ rateLimit })': (/** @type {any} */ h) => new Exa({ apiKey: EXA_KEY, rateLimit: h }),
    'dromo.imports.create(params)': (/** @type {any} */ h) => dromo.imports.create(h),
    'dromo.imports.create({ fields })': (/** @type {any} */ h) => dromo.imports.create({ fields: h, original_filename: 'a.csv' }),
    'dromo.imports.create({ fields: [field] })': (/** @type {any} */ h) => dromo.imports.create({ fields: [h], original_filename: 'a.csv' }),
    'dromo.imports.create({ settings })': (/** @type {any} */ h) => dromo.imports.create({ schema_id: CONTACTS, settings: h, original_filename: 'a.csv' }),
    'dromo.imports.create({ import_metadata })': (/** @type {any} */ h) => dromo.imports.create({ schema_id: CONTACTS, import_metadata: h, original_filename: 'a.csv' }),
    'dromo.imports.create(params, opts)': (/** @type {any} */ h) => dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }, h),
    'dromo.imports.retrieve(id)': (/** @type {any} */ h) => dromo.imports.retrieve(h),
    'dromo.imports.retrieve(id, opts)': (/** @type {any} */ h) => dromo.imports.retrieve('x', h),
    'dromo.imports.retrieve(id, { signal })': (/** @type {any} */ h) => dromo.imports.retrieve('x', { signal: h }),
    'dromo.imports.resultUrl(id, opts)': (/** @type {any} */ h) => dromo.imports.resultUrl('x', h),
    'dromo.imports.results(id, opts)': (/** @type {any} */ h) => dromo.imports.results('x', h),
    'dromo.imports.list(params)': (/** @type {any} */ h) => dromo.imports.list(h),
    'for await dromo.imports.list(params)': async (/** @type {any} */ h) => { for await (const _ of dromo.imports.list(h)) break; },
    'dromo.imports.upload(target)': (/** @type {any} */ h) => dromo.imports.upload(h, file()),
    'dromo.imports.upload(url, body)': (/** @type {any} */ h) => dromo.imports.upload(url, h),
    'dromo.imports.upload(url, body, opts)': (/** @type {any} */ h) => dromo.imports.upload(url, file(), h),
    'dromo.imports.waitForCompletion(id, opts)': (/** @type {any} */ h) => dromo.imports.waitForCompletion('x', h),
    'dromo.importFile(body)': (/** @type {any} */ h) => dromo.importFile(h, { schema_id: CONTACTS, original_filename: 'a.csv' }),
    'dromo.importFile(file, options)': (/** @type {any} */ h) => dromo.importFile(file(), h),
    'dromo.importFile(file, { onProgress })': (/** @type {any} */ h) => dromo.importFile(file(), { schema_id: CONTACTS, onProgress: h, onStatus: h }),
    'dromo.importRows(rows)': (/** @type {any} */ h) => dromo.importRows(h, { schema_id: CONTACTS }),
    'dromo.importRows([row])': (/** @type {any} */ h) => dromo.importRows([h], { schema_id: CONTACTS }),
    'dromo.importRows(rows, options)': (/** @type {any} */ h) => dromo.importRows(rows, h),
    'exa.imports.create(params)': (/** @type {any} */ h) => exa.imports.create(h),
    'exa.imports.create({ metadata })': (/** @type {any} */ h) => exa.imports.create({ size: 8, count: 1, format: 'csv', entity: { type: 'company' }, metadata: h }),
    'exa.imports.create({ entity })': (/** @type {any} */ h) => exa.imports.create({ size: 8, count: 1, format: 'csv', entity: h }),
    'exa.imports.retrieve(id, opts)': (/** @type {any} */ h) => exa.imports.retrieve('x', h),
    'exa.imports.update(id, params)': (/** @type {any} */ h) => exa.imports.update('x', h),
    'exa.imports.update(id, { metadata })': (/** @type {any} */ h) => exa.imports.update('x', { metadata: h }),
    'exa.imports.delete(id, opts)': (/** @type {any} */ h) => exa.imports.delete('x', h),
    'exa.imports.list(params)': (/** @type {any} */ h) => exa.imports.list(h),
    'exa.imports.upload(target)': (/** @type {any} */ h) => exa.imports.upload(h, file()),
    'exa.imports.upload(url, body)': (/** @type {any} */ h) => exa.imports.upload(url, h),
    'exa.imports.waitForCompletion(id, opts)': (/** @type {any} */ h) => exa.imports.waitForCompletion('x', h),
    'exa.importFile(body)': (/** @type {any} */ h) => exa.importFile(h, { entity: { type: 'company' } }),
    'exa.importFile(file, options)': (/** @type {any} */ h) => exa.importFile(file(), h),
    'exa.importFile(file, { metadata })': (/** @type {any} */ h) => exa.importFile(file(), { entity: { type: 'company' }, metadata: h }),
    'exa.importFile(file, { signal })': (/** @type {any} */ h) => exa.importFile(file(), { entity: { type: 'company' }, signal: h }),
    'importFiles(client)': (/** @type {any} */ h) => hi.importFiles(h, [onDisk], { schema_id: CONTACTS }),
    'importFiles(client, files)': (/** @type {any} */ h) => hi.importFiles(dromo, h, { schema_id: CONTACTS }),
    'importFiles(client, [file])': (/** @type {any} */ h) => hi.importFiles(dromo, [h], { schema_id: CONTACTS }),
    'importFiles(client, files, options)': (/** @type {any} */ h) => hi.importFiles(dromo, [onDisk], h),
    'importFiles(client, files, { journal })': (/** @type {any} */ h) => hi.importFiles(dromo, [onDisk], { schema_id: CONTACTS, journal: h }),
    'importFiles(exa, files, { metadata })': (/** @type {any} */ h) => hi.importFiles(exa, [onDisk], { entity: { type: 'company' }, metadata: h }),
    'countCsvRecords(body)': (/** @type {any} */ h) => countCsvRecords(h),
    'countCsvRecords(body, options)': (/** @type {any} */ h) => countCsvRecords(new Blob(['a\n1\n']), h),
  };
  const uncaught = [];
  const onUncaught = (/** @type {unknown} */ e) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  let calls = 0;
  /** @type {string[]} */
  const wrong = [];
  /** @type {string[]} */
  const sent = [];
  try {
    for (const [entry, call] of Object.entries(entries)) {
      for (const [name, { make, unreadable, bodyOnly }] of Object.entries(HOSTILE)) {
        calls++;
        const before = sink.seen.length;
        let outcome;
        try {
          const p = call(make());
          // A promise must settle; a generous bound, far above the few ms a refusal takes.
          outcome = await Promise.race([
            Promise.resolve(p).then((v) => ({ ok: v }), (e) => ({ error: e })),
            new Promise((r) => setTimeout(() => r({ pending: true }), Number(process.env.HI_PENDING_MS ?? 5000))),
          ]);
        } catch (e) {
          outcome = { error: e, sync: true };
        }
        const o = /** @type {any} */ (outcome);
        const sync = entry.startsWith('new ');
        if (o.pending) wrong.push(`${entry} with ${name}: still pending`);
        else if (o.error && !(o.error instanceof HeadlessImportsError)) wrong.push(`${entry} with ${name}: ${o.error?.name ?? typeof o.error}: ${String(o.error?.message ?? '')}`);
        else if (o.sync && !sync) wrong.push(`${entry} with ${name}: threw instead of rejecting`);
        const body = /\(body\)|\(url, body\)/.test(entry);
        if (sink.seen.length > before && (unreadable || (bodyOnly && body))) sent.push(`${entry} with ${name}: ${o.error?.name ?? 'resolved'} ${o.error?.message ?? ''}`);
      }
    }
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${calls} calls misbehaved`);
  assert.deepEqual(uncaught, [], 'nothing escaped as an uncaught exception');
  assert.deepEqual(sent, [], 'no unreadable value let a request go out');
  await sink.close();

  // The wasm core is intact: a real import still goes through on a fresh client and the same one.
  const real = new Dromo({ apiKey: KEY, baseUrl: emu.api });
  const { import: imp, rows: got } = await real.importRows([{ first_name: 'Ada', last_name: 'L', email: 'ada@example.com', age: 36 }], { schema_id: CONTACTS });
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal(got.length, 1);
  console.log(`hostile values: ${Object.keys(HOSTILE).length} values x ${Object.keys(entries).length} entry points = ${calls} calls, each settled with a typed error or a result`);
});

test('hostile values: what is validated is what is sent (a getter that changes its mind is read once)', async () => {
  let reads = 0;
  const params = {
    get schema_id() {
      reads++;
      return reads === 1 ? CONTACTS : '../../evil';
    },
    original_filename: 'a.csv',
  };
  const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
  const imp = await dromo.imports.create(params);
  assert.equal(imp.schema_id, CONTACTS);
  assert.equal(reads, 1, 'the getter ran exactly once');
});

test('hostile values: arguments are copied before the call returns (changing them afterwards changes nothing)', async () => {
  const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
  const fields = [{ key: 'name', label: 'Name', type: 'string' }];
  const rows = [{ name: 'original' }];
  const options = { fields };
  const pending = dromo.importRows(rows, options);
  rows[0].name = 'CHANGED';
  rows.push({ name: 'added' });
  Object.assign(options, { fields: [] });
  fields[0].key = 'changed';
  const { import: imp, rows: got } = await pending;
  assert.equal(imp.status, 'SUCCESSFUL');
  // The rows, the fields (and so the key each row is read by) as they were at the call.
  assert.deepEqual(got, [{ name: 'original' }]);
});

test('secrets: a key quoted by a custom fetch, or a signature in an unparsable URL, never reaches an error', async () => {
  /** @type {typeof fetch} */
  const leaky = async (_url, init) => {
    const key = new Headers(init?.headers).get('x-dromo-license-key');
    throw Object.assign(new TypeError(`fetch failed for key ${key}`), { cause: new Error(`ECONNRESET while sending ${key}`) });
  };
  const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: leaky, maxRetries: 0 });
  const err = await dromo.imports.retrieve('x').catch((/** @type {any} */ e) => e);
  assert.ok(err instanceof hi.APIConnectionError, String(err));
  const everything = (/** @type {any} */ e) => {
    const seen = new Set();
    const walk = (/** @type {any} */ v, depth) => {
      if (v === null || v === undefined || depth > 4 || seen.has(v)) return '';
      if (typeof v !== 'object' && typeof v !== 'function') return String(v);
      seen.add(v);
      return ['message', 'stack', 'input', 'cause', ...Object.keys(v)].map((k) => walk(v[k], depth + 1)).join(' ');
    };
    return walk(e, 0);
  };
  assert.ok(!everything(err).includes(KEY), `the key is somewhere in the error: ${everything(err)}`);
  assert.match(err.message, /\*\*\*/, 'shown scrubbed');
  assert.equal(err.cause?.name, 'TypeError', 'the cause keeps its kind');

  const signed = 'http://[::1:bad/x?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIA123';
  const up = await dromo.imports.upload(signed, 'a,b\n1,2\n').catch((/** @type {any} */ e) => e);
  assert.ok(up instanceof hi.ValidationError, String(up));
  assert.ok(!everything(up).includes('deadbeefcafe') && !everything(up).includes('AKIA123'), everything(up));
});

test('limits: per-call maxRetries is capped at 10, intervalMs has a floor', async () => {
  let hits = 0;
  const busy = await server((_req, res) => {
    hits++;
    res.writeHead(503, { 'retry-after-ms': '1' }).end();
  });
  try {
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: `${busy.origin}/api/v1` });
    const err = await dromo.imports.retrieve('x', { maxRetries: 1000 }).catch((/** @type {any} */ e) => e);
    assert.ok(err instanceof hi.InternalServerError);
    assert.equal(hits, 11, 'one attempt and 10 retries');
    for (const intervalMs of [0, 1, 999]) {
      await assert.rejects(dromo.imports.waitForCompletion('x', { intervalMs }), (/** @type {any} */ e) => e.path === 'opts.intervalMs');
    }
    assert.equal(hits, 11, 'refused before any request');
  } finally {
    await busy.close();
  }
});

test('secrets (second trial): a cause carrying the Request, an echoed header, a look-alike loopback host', async () => {
  const util = await import('node:util');
  const shown = (/** @type {unknown} */ v) => util.inspect(v, { showHidden: true, depth: 12, getters: true });
  // A fetch wrapper that hangs the whole Request (its headers hold the key) on what it throws.
  /** @type {typeof fetch} */
  const wrapper = async (url, init) => {
    const request = new Request(url, init);
    throw Object.assign(new Error('Request failed'), { request, init, headers: new Headers(init?.headers), deep: { a: { b: { c: { d: { e: { key: KEY } } } } } } });
  };
  const d1 = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: wrapper, maxRetries: 0 });
  const e1 = await d1.imports.retrieve('abc').catch((/** @type {any} */ e) => e);
  assert.ok(e1 instanceof hi.APIConnectionError);
  assert.ok(!shown(e1).includes(KEY), 'the key is in console.log(error)');
  assert.equal(e1.cause?.message, 'Request failed', 'the cause keeps its message');
  // An API that echoes the key in its answer's headers.
  const echo = await server((req, res) => res.writeHead(500, { 'x-request-id': `r-${req.headers['x-dromo-license-key']}`, 'x-debug': String(req.headers['x-dromo-license-key']) }).end('{"detail":"boom"}'));
  try {
    const d2 = new hi.Dromo({ apiKey: KEY, baseUrl: `${echo.origin}/api/v1`, maxRetries: 0 });
    const e2 = await d2.imports.retrieve('abc').catch((/** @type {any} */ e) => e);
    assert.ok(e2 instanceof hi.InternalServerError);
    assert.ok(!shown(e2).includes(KEY), shown(e2.headers));
    assert.equal(e2.headers['x-debug'], '***');
  } finally {
    await echo.close();
  }
  // Plain http only to a real loopback address; a path base URL only on the page's own origin.
  for (const baseUrl of ['http://127.attacker.example/api/v1', 'http://127.0.0.1.evil.example/api', '/\\evil.example/api', '//evil.example/api']) {
    assert.throws(() => new hi.Dromo({ apiKey: KEY, baseUrl }), (e) => e instanceof hi.ValidationError && e.path === 'baseUrl', baseUrl);
  }
});

test('an Exa create whose answer is lost, when the cleanup cannot check, stops instead of making a second import', async () => {
  const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href });
  const faults = (/** @type {unknown} */ plan) => fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify(plan) });
  await faults({ seed: 1, rules: [{ route: 'exa.create', kind: 'reset_after', count: 1 }, { route: 'exa.list', kind: 'status', status: 503, count: 3 }] });
  try {
    const err = await exa.imports.create({ format: 'csv', entity: { type: 'company' }, size: 28, count: 1 }).catch((/** @type {any} */ e) => e);
    assert.ok(err instanceof hi.APIConnectionError, String(err));
    assert.match(err.token, /^[0-9a-f]{16}$/);
    assert.match(err.message, new RegExp(`headlessImportsToken = ${err.token}`));
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
    const carrying = [];
    for await (const imp of exa.imports.list()) if (imp.metadata?.headlessImportsToken === err.token) carrying.push(imp.id);
    assert.equal(carrying.length, 1, 'exactly the one import the lost answer made: no second try');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('a create whose lost answer made an import that cannot be deleted stops and names it (deleted: false)', async () => {
  const faults = (/** @type {unknown} */ plan) => fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify(plan) });
  try {
    // Exa: the answer is lost, the cleanup finds the import by its token, and its delete fails.
    const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href });
    await faults({ seed: 1, rules: [{ route: 'exa.create', kind: 'reset_after', count: 1 }, { route: 'exa.delete', kind: 'status', status: 500, count: 1 }] });
    const err = await exa.imports.create({ format: 'csv', entity: { type: 'company' }, size: 28, count: 1 }).catch((/** @type {any} */ e) => e);
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
    assert.ok(err instanceof hi.APIConnectionError, String(err));
    const carrying = [];
    for await (const imp of exa.imports.list()) if (imp.metadata?.headlessImportsToken === err.token) carrying.push(imp.id);
    assert.deepEqual(carrying, [err.import?.id], 'the one import made, named on the error; no second try');
    assert.equal(err.deleted, false);
    assert.match(err.message, new RegExp(`It created import ${err.import.id}, whose deletion failed or went unconfirmed`));
    await exa.imports.delete(err.import.id);

    // Dromo: the answer is cut off after the id; deleting that import before a retry fails.
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
    const before = (await dromo.imports.list({ limit: 1000 })).results.length;
    await faults({ seed: 1, rules: [{ route: 'dromo.create', kind: 'truncated_json', count: 1 }, { route: 'dromo.delete', kind: 'status', status: 500, count: 1 }] });
    const e2 = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'kept.csv' }).catch((/** @type {any} */ e) => e);
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
    assert.ok(e2 instanceof hi.APIError && e2.code === 'invalid_response', String(e2));
    assert.equal(e2.deleted, false);
    const after = (await dromo.imports.list({ limit: 1000 })).results;
    assert.equal(after.length, before + 1, 'no second import was created');
    assert.ok(after.some((/** @type {any} */ imp) => imp.id === e2.import?.id), 'the error names the import that exists');
    await dromo.imports.delete(e2.import.id);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('an aborted Exa create names the import its lost answer made, found and deleted (deleted: true)', async () => {
  const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href });
  // The create is processed at once and answered 1.5 s later: the abort comes in between.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'exa.create', kind: 'slow', ms: 1500, count: 1 }] }) });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 300);
    const err = await exa.imports.create({ format: 'csv', entity: { type: 'company' }, size: 28, count: 1 }, { signal: ac.signal }).catch((/** @type {any} */ e) => e);
    assert.ok(err instanceof hi.APIUserAbortError, String(err));
    assert.equal(err.cause?.message, 'stop');
    assert.equal(err.deleted, true);
    assert.match(err.import?.id ?? '', /./, 'the import the abort left is named');
    const gone = await exa.imports.retrieve(err.import.id).catch((/** @type {any} */ e) => e);
    assert.ok(gone instanceof hi.NotFoundError, 'and it is deleted');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('fileFromPath: any argument is a typed error, never a Node one', async () => {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const cases = [
    [undefined], [null], [42], [''], ['a\0b'], [{}], [Symbol('p')],
    ['x.csv', null], ['x.csv', 'text/csv'], ['x.csv', revoked.proxy], ['x.csv', { name: 3 }], ['x.csv', { get type() { throw new Error('no'); } }],
  ];
  for (const args of cases) {
    const e = await hi.fileFromPath(...args).catch((/** @type {any} */ e) => e);
    assert.ok(e instanceof hi.ValidationError, `${String(args[0])}: ${e?.name} ${e?.message}`);
  }
  const long = await hi.fileFromPath('x'.repeat(5000)).catch((/** @type {any} */ e) => e);
  assert.ok(long instanceof hi.HeadlessImportsError && long.code === 'file_unreadable', String(long));
});
