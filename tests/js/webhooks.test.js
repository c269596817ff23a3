// @ts-check
// Receiving webhooks with the packed package in Node: exa.webhooks.unwrap against deliveries signed
// here with node:crypto (an implementation independent of ours), dromo.webhooks.unwrap on Dromo's
// shapes, and every way a delivery can be forged, replayed or mangled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { loadPackage, startEmulator, KEY } from './helpers/env.js';

/** @type {any} */ let hi;
/** @type {any} */ let exa;
/** @type {any} */ let dromo;

const SECRET = 'whsec_0123456789abcdef';
const EVENT = { id: 'evt_1', object: 'event', type: 'import.completed', data: { id: 'import_1', object: 'import', status: 'completed' }, createdAt: '2026-11-30T10:00:00.000Z' };
const BODY = JSON.stringify(EVENT);

before(async () => {
  hi = await loadPackage();
  exa = new hi.Exa({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/websets', webhookSecret: SECRET });
  dromo = new hi.Dromo({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/api/v1' });
});

/** `Exa-Signature` for `body` at `t` (seconds) with `secret`. */
function sign(body = BODY, t = Math.floor(Date.now() / 1000), secret = SECRET) {
  return `t=${t},v1=${crypto.createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;
}

/** The rejection of `p`, which must be a WebhookVerificationError with `code`. */
async function refused(/** @type {Promise<unknown>} */ p, /** @type {string} */ code) {
  const e = await p.then(() => assert.fail('verified'), (x) => x);
  assert.ok(e instanceof hi.WebhookVerificationError, String(e));
  assert.ok(e instanceof hi.HeadlessImportsError);
  assert.equal(e.code, code, e.message);
  assert.ok(!e.message.includes(SECRET), 'the secret is never in a message');
  return e;
}

test('a genuine Exa delivery verifies from a string, a Buffer, bytes or an ArrayBuffer, with Headers or node:http headers', async () => {
  const signature = sign();
  const bodies = [BODY, Buffer.from(BODY), new TextEncoder().encode(BODY), new TextEncoder().encode(BODY).buffer];
  const headerForms = [
    new Headers({ 'Exa-Signature': signature, 'Content-Type': 'application/json' }),
    { 'exa-signature': signature },
    { 'EXA-SIGNATURE': [signature] },
  ];
  for (const body of bodies) {
    for (const headers of headerForms) assert.deepEqual(await exa.webhooks.unwrap(body, headers), EVENT);
  }
  // Any of several v1 values (a secret being rotated); the secret given wins over the client's.
  const t = Math.floor(Date.now() / 1000);
  const rotated = `${sign(BODY, t, 'old secret')}, v1=${sign(BODY, t).split('v1=')[1]}`;
  assert.deepEqual(await exa.webhooks.unwrap(BODY, { 'exa-signature': rotated }), EVENT);
  const other = new hi.Exa({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/websets' });
  assert.deepEqual(await other.webhooks.unwrap(BODY, { 'exa-signature': sign(BODY, t, 'given') }, 'given'), EVENT);
});

test('forged, altered, re-serialised, replayed and unsigned deliveries are refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const reserialised = JSON.stringify(EVENT, null, 1);
  await refused(exa.webhooks.unwrap(BODY, { 'exa-signature': sign(BODY, now, 'wrong secret') }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY.replace('completed', 'failed'), { 'exa-signature': sign() }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(reserialised, { 'exa-signature': sign() }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY.slice(0, -1), { 'exa-signature': sign() }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY, { 'exa-signature': sign().slice(0, -2) }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY, { 'exa-signature': sign().replace(/t=\d+/, `t=${now + 1}`) }), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY, {}), 'webhook_signature');
  await refused(exa.webhooks.unwrap(BODY, undefined), 'webhook_signature');
  // Genuine but old (or from the future): a replay.
  await refused(exa.webhooks.unwrap(BODY, { 'exa-signature': sign(BODY, now - 301) }), 'webhook_timestamp');
  await refused(exa.webhooks.unwrap(BODY, { 'exa-signature': sign(BODY, now + 301) }), 'webhook_timestamp');
  assert.deepEqual(await exa.webhooks.unwrap(BODY, { 'exa-signature': sign(BODY, now - 3000) }, undefined, { toleranceSeconds: 3600 }), EVENT);
  // Already parsed: re-serialised JSON never matches, so it is refused as such.
  const e = await refused(exa.webhooks.unwrap(EVENT, { 'exa-signature': sign() }), 'webhook_payload');
  assert.match(e.message, /raw body/);
  // Signed, but not an event.
  await refused(exa.webhooks.unwrap('[1,2]', { 'exa-signature': sign('[1,2]') }), 'webhook_payload');
  await refused(exa.webhooks.unwrap('not json', { 'exa-signature': sign('not json') }), 'webhook_payload');
});

test('bad arguments are typed errors: no secret, hostile values, Dromo given a webhookSecret', async () => {
  const keyless = new hi.Exa({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/websets' });
  const noSecret = await keyless.webhooks.unwrap(BODY, { 'exa-signature': sign() }).catch((/** @type {any} */ x) => x);
  assert.ok(noSecret instanceof hi.ValidationError && noSecret.path === 'secret', String(noSecret));
  assert.throws(() => new hi.Dromo({ apiKey: 'k', webhookSecret: 'x' }), (/** @type {any} */ x) => x instanceof hi.ValidationError && x.path === 'webhookSecret');
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const throwing = { get 'exa-signature'() { throw new Error('boom'); } };
  for (const [body, headers, secret, options] of [
    [revoked.proxy, {}, undefined, undefined],
    [BODY, revoked.proxy, undefined, undefined],
    [BODY, throwing, undefined, undefined],
    [BODY, { 'exa-signature': sign() }, 42, undefined],
    [BODY, { 'exa-signature': sign() }, undefined, { tolerance: 5 }],
    [BODY, { 'exa-signature': sign() }, undefined, { toleranceSeconds: -1 }],
    [new Blob([BODY]), { 'exa-signature': sign() }, undefined, undefined],
    [null, { 'exa-signature': sign() }, undefined, undefined],
    [12, { 'exa-signature': sign() }, undefined, undefined],
  ]) {
    const e = await exa.webhooks.unwrap(body, headers, secret, options).then(() => 'verified', (/** @type {any} */ x) => x);
    assert.ok(e instanceof hi.HeadlessImportsError, `${String(e)}`);
  }
});

test('dromo.webhooks.unwrap reads managed events and the basic form body; anything else is refused', async () => {
  const managed = { event: 'import_completed', data: { id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b', filename: 'a.csv', status: 'SUCCESSFUL', import_type: 'HEADLESS', headless: { id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b', status: 'SUCCESSFUL' } } };
  assert.deepEqual(await dromo.webhooks.unwrap(JSON.stringify(managed), { 'content-type': 'application/json' }), managed);
  assert.deepEqual(await dromo.webhooks.unwrap(Buffer.from(JSON.stringify(managed))), managed);
  assert.deepEqual(await dromo.webhooks.unwrap('uploadId=abc-123', { 'Content-Type': 'application/x-www-form-urlencoded' }), { event: 'basic', data: { id: 'abc-123' } });
  assert.deepEqual(await dromo.webhooks.unwrap('uploadId=abc-123'), { event: 'basic', data: { id: 'abc-123' } });
  for (const body of ['uploadId=../x', 'uploadId=', 'hello', '{"event":"import_completed"}', '{"event":"import_completed","data":{"id":"../../x"}}', '[]']) {
    await refused(dromo.webhooks.unwrap(body), 'webhook_payload');
  }
  await refused(dromo.webhooks.unwrap(managed), 'webhook_payload');
});

// --- real deliveries from the emulator ------------------------------------------------------------

/** @type {Awaited<ReturnType<typeof startEmulator>> | undefined} */ let emu;
after(async () => emu && (await emu.stop()));

/**
 * A loopback receiver that answers 200 and keeps every delivery: the raw body and the headers, as
 * node:http gives them.
 */
async function receiver() {
  /** @type {{ body: Buffer, headers: http.IncomingHttpHeaders }[]} */
  const got = [];
  /** @type {(() => void)[]} */
  let waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.end('ok');
      for (const w of waiters) w();
      waiters = [];
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    /** Waits (at most 20 s) until `n` deliveries arrived. @param {number} n */
    async until(n) {
      const deadline = Date.now() + 20_000;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => { waiters.push(() => r(undefined)); setTimeout(r, 200); });
      assert.ok(got.length >= n, `${got.length} of ${n} deliveries`);
    },
    close: () => new Promise((r) => server.close(() => r(undefined))),
  };
}

test('Exa: a webhook made with exa.webhooks.create delivers import events that unwrap verifies; the secret shows once', async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  const client = new hi.Exa({ apiKey: 'test-exa-key', baseUrl: `${new URL(emu.api).origin}/websets` });
  const hook = await receiver();
  try {
    const made = await client.webhooks.create({ url: hook.url, events: ['import.created', 'import.completed'], metadata: { team: 'a' } });
    assert.match(made.secret, /./, 'the secret comes with the create');
    assert.equal((await client.webhooks.retrieve(made.id)).secret, null, 'and only then');
    const listed = [];
    for await (const w of client.webhooks.list({ limit: 1 })) listed.push(w.id);
    assert.ok(listed.includes(made.id));
    const updated = await client.webhooks.update(made.id, { metadata: { team: 'b' } });
    assert.deepEqual(updated.metadata, { team: 'b' });

    const { import: imp } = await client.importFile(new File(['domain\nexample.com\n'], 'a.csv'), { entity: { type: 'company' }, timeoutMs: 20_000 });
    await hook.until(2);
    const events = [];
    for (const d of hook.got) events.push(await client.webhooks.unwrap(d.body, d.headers, made.secret));
    assert.deepEqual(events.map((e) => [e.type, e.data.id]).sort(), [['import.completed', imp.id], ['import.created', imp.id]]);
    // The client's webhookSecret serves when none is passed; another secret does not verify.
    const withSecret = new hi.Exa({ apiKey: 'test-exa-key', baseUrl: `${new URL(emu.api).origin}/websets`, webhookSecret: made.secret });
    assert.equal((await withSecret.webhooks.unwrap(hook.got[0].body, hook.got[0].headers)).object, 'event');
    await refused(client.webhooks.unwrap(hook.got[0].body, hook.got[0].headers, 'whsec_other'), 'webhook_signature');

    const gone = await client.webhooks.delete(made.id);
    assert.equal(gone.id, made.id);
    await assert.rejects(client.webhooks.retrieve(made.id), (/** @type {any} */ e) => e instanceof hi.NotFoundError && !/baseUrl/.test(e.message));
    for (const [call, path] of [[() => client.webhooks.create({ url: 'ftp://x', events: ['import.created'] }), 'params.url'], [() => client.webhooks.create({ url: hook.url, events: ['import.finished'] }), 'params.events[0]'], [() => client.webhooks.create({ url: hook.url, events: [] }), 'params.events'], [() => client.webhooks.retrieve('../x'), 'id']]) {
      const e = await /** @type {() => Promise<unknown>} */ (call)().catch((x) => x);
      assert.ok(e instanceof hi.ValidationError && e.path === path, `${path}: ${e}`);
    }
  } finally {
    await hook.close();
  }
});

test('Dromo: the emulator\'s managed events arrive and unwrap; the id still has to be confirmed with a GET', async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
  const hook = await receiver();
  try {
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'POST', body: JSON.stringify({ url: hook.url }) });
    const { import: imp } = await client.importRows([{ product: 'widget', transaction: 't1' }], {
      fields: [{ key: 'product', label: 'Product', type: 'string' }, { key: 'transaction', label: 'Transaction', type: 'string' }],
      timeoutMs: 20_000,
    });
    await hook.until(1);
    const event = await client.webhooks.unwrap(hook.got[0].body, hook.got[0].headers);
    assert.equal(event.event, 'import_completed');
    assert.equal(event.data.id, imp.id);
    assert.equal(event.data.headless.id, imp.id);
    assert.equal('review_url' in event.data.headless, false);
    assert.equal((await client.imports.retrieve(event.data.id)).status, 'SUCCESSFUL', 'confirmed with a GET');
  } finally {
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'DELETE' });
    await hook.close();
  }
});

// --- handlers, and waits woken by events -----------------------------------------------------------

/** Serves `handler.node` on a loopback port. @param {any} handler */
async function serve(handler) {
  const server = http.createServer(handler.node);
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  // closeAllConnections: a delivery the emulator still holds open must not keep close() waiting.
  const close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); });
  return { url: `http://127.0.0.1:${port}/hook`, close };
}

test('a handler answers 200 once per event, 400/401 for what does not verify, 405 and 413; onEvent sees each event once', async () => {
  const seen = [];
  const handler = exa.webhooks.handler({ onEvent: (/** @type {any} */ e) => seen.push(e.id), maxBodyBytes: 4096 });
  const post = (/** @type {string} */ body, /** @type {Record<string, string>} */ headers) => handler(new Request('http://x/hook', { method: 'POST', body, headers }));
  const ok = await post(BODY, { 'exa-signature': sign() });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { received: true });
  const again = await post(BODY, { 'exa-signature': sign() });
  assert.deepEqual([again.status, await again.json()], [200, { received: true, duplicate: true }]);
  assert.equal((await post(BODY, { 'exa-signature': sign(BODY, Math.floor(Date.now() / 1000), 'forged') })).status, 401);
  assert.equal((await post(BODY, { 'exa-signature': sign(BODY, Math.floor(Date.now() / 1000) - 3600) })).status, 401);
  assert.equal((await post('nope', { 'exa-signature': sign('nope') })).status, 400);
  assert.equal((await post('x'.repeat(5000), { 'exa-signature': sign('x'.repeat(5000)) })).status, 413);
  assert.equal((await handler(new Request('http://x/hook'))).status, 405);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, ['evt_1']);
  assert.throws(() => exa.webhooks.handler({ onEvnt: () => {} }), (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === 'options.onEvnt');
  assert.throws(() => dromo.webhooks.handler({ secret: 'x' }), (/** @type {any} */ e) => e instanceof hi.ValidationError, 'Dromo signs nothing');
});

test('Exa waits with webhooks: true finish on the events, with one poll at the start and one to confirm', async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  let polls = 0;
  const counting = /** @type {typeof fetch} */ (async (url, init) => {
    if ((init?.method ?? 'GET') === 'GET' && /\/v0\/imports\/[^/?]+$/.test(String(url))) polls++;
    return fetch(url, init);
  });
  const client = new hi.Exa({ apiKey: 'test-exa-key', baseUrl: `${new URL(emu.api).origin}/websets`, webhooks: true, fetch: counting });
  const made = await client.webhooks.create({ url: 'http://127.0.0.1:1/later', events: ['import.completed'] });
  const receiving = await serve(client.webhooks.handler({ secret: made.secret }));
  try {
    await client.webhooks.update(made.id, { url: receiving.url });
    // The wait starts before the file is up, so the import completes while it sleeps.
    const csv = 'domain\nexample.com\n';
    const imp = await client.imports.create({ size: csv.length, count: 1, format: 'csv', entity: { type: 'company' } });
    const started = Date.now();
    const waiting = client.imports.waitForCompletion(imp.id, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 500));
    await client.imports.upload(imp, csv);
    const done = await waiting;
    assert.equal(done.status, 'completed');
    assert.ok(Date.now() - started < 10_000, 'woken by the event, not by the 60 s fallback poll');
    assert.equal(polls, 2, 'one poll at the start, one to confirm the event');
  } finally {
    await client.webhooks.delete(made.id);
    await receiving.close();
  }
});

test('Dromo: a forged import_completed wakes a wait but never completes it; dropped deliveries still finish through the fallback', async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, webhooks: true });
  const receiving = await serve(client.webhooks.handler());
  try {
    // Held at RUNNING (the pipeline leaves a forced status alone), whatever anyone says.
    const imp = await client.imports.create({ schema_id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b', original_filename: 'a.csv' });
    await fetch(`${emu.control}/dromo/imports/${imp.id}/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'RUNNING' }) });
    const waiting = client.imports.waitForCompletion(imp.id, { timeoutMs: 1500 }).catch((/** @type {any} */ e) => e);
    await new Promise((r) => setTimeout(r, 200));
    const forged = await fetch(receiving.url, { method: 'POST', body: JSON.stringify({ event: 'import_completed', data: { id: imp.id, status: 'SUCCESSFUL' } }) });
    assert.equal(forged.status, 200);
    const outcome = await waiting;
    assert.ok(outcome instanceof hi.WaitTimeoutError, `the forged event did not complete the wait: ${outcome}`);
    assert.equal(outcome.import.status, 'RUNNING');

    // Every delivery lost: the fallback poll (here every second) still sees the import done.
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'POST', body: JSON.stringify({ url: receiving.url }) });
    await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'dromo.webhook', kind: 'drop' }] }) });
    const { import: done } = await client.importRows([{ product: 'p', transaction: 't' }], {
      fields: [{ key: 'product', label: 'Product', type: 'string' }, { key: 'transaction', label: 'Transaction', type: 'string' }],
      intervalMs: 1000,
      timeoutMs: 20_000,
    });
    assert.equal(done.status, 'SUCCESSFUL');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'DELETE' });
    await receiving.close();
  }
});

test('with 30 % of deliveries dropped and some sent twice, every wait still finishes, none hangs', { timeout: 60_000 }, async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, webhooks: true });
  const received = [];
  const receiving = await serve(client.webhooks.handler({ onEvent: (/** @type {any} */ e) => received.push(e.data.id) }));
  await fetch(`${emu.control}/dromo/webhooks`, { method: 'POST', body: JSON.stringify({ url: receiving.url }) });
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 3, rules: [{ route: 'dromo.webhook', kind: 'drop', rate: 0.3 }, { route: 'dromo.webhook', kind: 'duplicate', rate: 0.3 }] }) });
  try {
    const fields = [{ key: 'product', label: 'Product', type: 'string' }, { key: 'transaction', label: 'Transaction', type: 'string' }];
    // Which waits are still open, should the test run out of time: a hang names its imports.
    const open = new Map();
    const diagnose = setTimeout(() => console.error('still waiting:', JSON.stringify([...open.values()])), 45_000);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client
          .importRows([{ product: 'p', transaction: `t${i}` }], {
            fields,
            intervalMs: 1000,
            timeoutMs: 30_000,
            onCreated: (/** @type {any} */ imp) => void open.set(i, { i, id: imp.id }),
            onStatus: (/** @type {any} */ imp) => void open.set(i, { i, id: imp.id, status: imp.status, at: Date.now() }),
          })
          .finally(() => open.delete(i)),
      ),
    ).finally(() => clearTimeout(diagnose));
    assert.ok(results.every((r) => r.import.status === 'SUCCESSFUL' && r.rows.length === 1));
    assert.equal(new Set(received).size, received.length, 'a delivery sent twice reached onEvent once');
    const stats = await (await fetch(`${emu.control}/stats`)).json();
    assert.ok(stats.webhooks.dromo.dropped > 0, 'some deliveries were dropped');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'DELETE' });
    await receiving.close();
  }
});

test('forged Dromo events: one cannot shadow the genuine delivery, unknown names wake nothing, a flood cannot spend the poll budget', { timeout: 60_000 }, async () => {
  emu ??= await startEmulator(['--time-scale', '0.01']);
  let polls = 0;
  const client = new hi.Dromo({
    apiKey: KEY,
    baseUrl: emu.api,
    webhooks: true,
    fetch: /** @type {typeof fetch} */ (async (url, init) => {
      if ((init?.method ?? 'GET') === 'GET' && /\/headless\/imports\/[^/]+\/$/.test(String(url))) polls++;
      return fetch(url, init);
    }),
  });
  const handler = client.webhooks.handler();
  const post = (/** @type {unknown} */ o) => handler(new Request('http://x/', { method: 'POST', body: JSON.stringify(o), headers: { 'content-type': 'application/json' } }));
  const force = (/** @type {string} */ id, /** @type {string} */ status) =>
    fetch(`${emu.control}/dromo/imports/${id}/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status }) });
  const imp = await client.imports.create({ schema_id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b', original_filename: 'a.csv' });
  await force(imp.id, 'RUNNING');
  const started = Date.now();
  const waiting = client.imports.waitForCompletion(imp.id, { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 100));
  // Names Dromo never sends wake nothing: no GET for them.
  const before = polls;
  for (let i = 0; i < 20; i++) assert.equal((await post({ event: `forged${i}`, data: { id: imp.id, status: 'SUCCESSFUL' } })).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(polls, before, 'unknown event names cost no GET');
  // The forger goes first with the very event the genuine delivery will be, but in other words.
  await post({ event: 'import_completed', data: { id: imp.id, status: 'SUCCESSFUL', forged: true } });
  // A flood of known-looking forgeries over 3 s: each false alarm makes the next wake wait longer.
  for (let i = 0; i < 30; i++) {
    await post({ event: 'import_completed', data: { id: imp.id, status: 'SUCCESSFUL', n: i } });
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(polls - before <= 4, `${polls - before} GETs for 31 forged events in 3 s`);
  // Now it is done, and the genuine delivery comes: the wait resolves on it.
  await force(imp.id, 'SUCCESSFUL');
  const genuine = await post({ event: 'import_completed', data: { id: imp.id, status: 'SUCCESSFUL' } });
  assert.deepEqual(await genuine.json(), { received: true });
  const done = await waiting;
  assert.equal(done.status, 'SUCCESSFUL');
  assert.ok(Date.now() - started < 15_000, `resolved ${Date.now() - started} ms after the start, not at the 60 s fallback`);
});

test('handler set-up and inputs are checked: secret, tolerance, hostile values; a signed body that is no event is refused', async () => {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const bad = [{ secret: 42 }, { secret: '' }, { toleranceSeconds: Infinity }, { toleranceSeconds: -1 }, revoked.proxy, 'x', { get onEvent() { throw new Error('boom'); } }];
  bad.forEach((options, i) => assert.throws(() => exa.webhooks.handler(options), (/** @type {any} */ e) => e instanceof hi.ValidationError, `case ${i}`));
  await assert.rejects(exa.webhooks.unwrap(BODY, { 'exa-signature': sign() }, undefined, { toleranceSeconds: Infinity }), (/** @type {any} */ e) => e instanceof hi.ValidationError);
  const handler = exa.webhooks.handler();
  for (const request of [null, undefined, revoked.proxy, {}, 'http://x']) {
    await assert.rejects(handler(/** @type {any} */ (request)), (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === 'request');
  }
  for (const args of [[null, null], [revoked.proxy, revoked.proxy], [{}, {}]]) {
    await assert.rejects(handler.node(...args), (/** @type {any} */ e) => e instanceof hi.ValidationError);
  }
  for (const body of ['{"type":"import.completed","data":{}}', '{"id":1,"type":"x","data":{}}', '{"id":"evt","type":"x","data":5}', '{"id":"evt","data":{}}']) {
    await refused(exa.webhooks.unwrap(body, { 'exa-signature': sign(body) }), 'webhook_payload');
    const r = await handler(new Request('http://x/', { method: 'POST', body, headers: { 'exa-signature': sign(body) } }));
    assert.equal(r.status, 400);
    assert.match((await r.json()).message, /not an event/);
  }
});
