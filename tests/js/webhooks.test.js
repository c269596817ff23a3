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
