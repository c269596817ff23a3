// @ts-check
// One fault at a time, injected by the emulator, and what the client does about it: which requests
// it retries (and which it deliberately does not), and how each failure reaches the caller.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startEmulator, loadPackage, control, KEY, CONTACTS } from './helpers/env.js';

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let dromo;

const CSV = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n';
const fast = { schema_id: CONTACTS, timeoutMs: 20_000 };

/** Installs fault rules (each fires once unless `count` says otherwise). @param {object[]} rules */
async function faults(...rules) {
  const r = await fetch(`${emu.control}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seed: 7, rules: rules.map((x) => ({ count: 1, ...x })) }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** Requests per route label so far. @param {string} label */
const requests = async (label) => (await control(`${emu.control}/stats`)).requests[label] ?? 0;
const importCount = async () => (await (await fetch(`${emu.api}/headless/imports/?limit=1`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).count;

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01', '--no-rate-limit']);
  dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, timeoutMs: 1500 });
});
beforeEach(async () => {
  await fetch(`${emu.control}/faults`, { method: 'DELETE' });
});
after(async () => emu && (await emu.stop()));

test('a file create whose answer is lost is retried: the caller gets an import, the lost one holds no data', async () => {
  await faults({ route: 'dromo.create', kind: 'reset_after' });
  const [sent, made] = [await requests('dromo.create'), await importCount()];
  const { import: imp } = await dromo.importFile(new File([CSV], 'a.csv'), fast);
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal((await requests('dromo.create')) - sent, 2);
  assert.equal((await importCount()) - made, 2, 'the lost answer had created one: it stays AWAITING_UPLOAD, empty');
});

test('a rows create whose answer is lost is NOT retried: the rows are never imported twice', async () => {
  for (const rule of [{ kind: 'reset_after' }, { kind: 'status', status: 503, after: true }, { kind: 'slow', ms: 2500 }]) {
    await faults({ route: 'dromo.create', ...rule });
    const [sent, made] = [await requests('dromo.create'), await importCount()];
    await assert.rejects(
      dromo.importRows([{ first_name: 'Ada', email: 'ada@example.com' }], { ...fast }),
      (/** @type {any} */ e) => e instanceof hi.APIConnectionError || e instanceof hi.InternalServerError,
    );
    assert.equal((await requests('dromo.create')) - sent, 1, `sent once after ${rule.kind}`);
    assert.equal((await importCount()) - made, 1, 'the server did import them, once');
  }
});

test('any create answered 429 or 408 is retried (nothing was created) and succeeds', async () => {
  for (const rule of [{ kind: 'rate_limit', retry_after_ms: 50 }, { kind: 'status', status: 408 }]) {
    await faults({ route: 'dromo.create', ...rule });
    const [sent, made] = [await requests('dromo.create'), await importCount()];
    const { import: imp } = await dromo.importRows([{ first_name: 'Ada', email: 'ada@example.com' }], { ...fast });
    assert.equal(imp.status, 'SUCCESSFUL');
    assert.equal((await requests('dromo.create')) - sent, 2, JSON.stringify(rule));
    assert.equal((await importCount()) - made, 1, 'exactly one import');
  }
});

test('reads retry 5xx, resets, timeouts, cut-off JSON and proxy HTML pages, then succeed', async () => {
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' });
  const kinds = [
    { kind: 'status', status: 502 },
    { kind: 'reset_before' },
    { kind: 'slow', ms: 2500 },
    { kind: 'truncated_json' },
    { kind: 'html_error' },
  ];
  for (const rule of kinds) {
    await faults({ route: 'dromo.get', ...rule });
    const sent = await requests('dromo.retrieve');
    const got = await dromo.imports.retrieve(imp.id);
    assert.equal(got.id, imp.id, JSON.stringify(rule));
    assert.equal((await requests('dromo.retrieve')) - sent, 2, `retried once after ${rule.kind}`);
  }
});

test('a malformed answer that outlasts the retries is an APIError with the status and a snippet, never a crash', async () => {
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' });
  await faults({ route: 'dromo.get', kind: 'html_error', count: 10 });
  await assert.rejects(dromo.imports.retrieve(imp.id), (/** @type {any} */ e) => {
    assert.ok(e instanceof hi.InternalServerError, String(e));
    assert.equal(e.status, 502);
    assert.match(e.message, /502/);
    assert.ok(e.message.length < 400, 'a snippet, not the whole page');
    return true;
  });
  await faults({ route: 'dromo.get', kind: 'truncated_json', count: 10 });
  await assert.rejects(dromo.imports.retrieve(imp.id), (/** @type {any} */ e) =>
    e instanceof hi.APIError && e.code === 'invalid_response' && e.status === 200 && /not JSON/.test(e.message));
});

test('an upload reset mid-body is retried from byte 0: the stored bytes are intact', async () => {
  await faults({ route: 'storage.put', kind: 'reset_mid_upload', bytes: 20 });
  const sent = await requests('storage.put');
  const { import: imp } = await dromo.importFile(new File([CSV], 'a.csv'), fast);
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal((await requests('storage.put')) - sent, 2);
  const stored = await control(`${emu.control}/uploads/${imp.id}`);
  assert.equal(stored.sha256, crypto.createHash('sha256').update(CSV).digest('hex'));
});

test('expired and clock-skewed presigned URLs are UploadErrors, not retried blindly', async () => {
  await faults({ route: 'storage.put', kind: 'expired_upload' });
  const sent = await requests('storage.put');
  await assert.rejects(dromo.importFile(new File([CSV], 'a.csv'), fast), (/** @type {any} */ e) =>
    e instanceof hi.UploadError && e.expired === true && /create a new import/.test(e.message) && typeof e.import?.id === 'string');
  assert.equal((await requests('storage.put')) - sent, 1);
  await faults({ route: 'dromo.create', kind: 'clock_skew', skew_secs: 3600 });
  await assert.rejects(dromo.importFile(new File([CSV], 'a.csv'), fast), (/** @type {any} */ e) =>
    e instanceof hi.UploadError && e.s3Code === 'RequestTimeTooSkewed' && e.status === 403 && !/X-Amz-Signature=[0-9a-f]{8}/.test(e.message));
});

test('a create answer cut off mid-body still names its import: a file create deletes it and retries, a rows create reports it', async () => {
  const before = await importCount();
  await faults({ route: 'dromo.create', kind: 'truncated_json' });
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' });
  assert.equal(await importCount(), before + 1, 'the cut-off one was deleted before the retry made another');
  assert.equal((await control(`${emu.control}/dromo/imports/${imp.id}`)).import.status, 'AWAITING_UPLOAD');

  await faults({ route: 'dromo.create', kind: 'truncated_json' });
  const err = await dromo.importRows([{ first_name: 'Ada', last_name: 'L', email: 'ada@example.com', age: 36 }], fast).catch((/** @type {any} */ e) => e);
  assert.ok(err instanceof hi.APIError, String(err));
  assert.equal(err.code, 'invalid_response');
  assert.match(err.import?.id ?? '', /^[0-9a-f-]{36}$/, 'the id read from the cut-off answer is on the error');
  assert.ok(await control(`${emu.control}/dromo/imports/${err.import.id}`), 'and it is the import the server made');
  assert.equal(await importCount(), before + 2, 'the rows create was not repeated');
});

test('results() retries a cut-off or non-JSON result file like any other read', async () => {
  const { import: imp } = await dromo.importRows([{ first_name: 'Ada', last_name: 'L', email: 'ada@example.com', age: 36 }], fast);
  for (const kind of ['truncated_json', 'html_error']) {
    await faults({ route: 'storage.get', kind, ...(kind === 'html_error' ? { status: 200 } : {}) });
    const rows = await dromo.imports.results(imp.id);
    assert.equal(rows.length, 1, kind);
    assert.equal((await control(`${emu.control}/faults`)).rules[0].injected, 1, `${kind} was injected`);
  }
});

test('an Exa create whose answer is lost leaves no import behind: the token in its metadata finds it', async () => {
  const exa = new hi.Exa({ apiKey: 'test-exa-key', baseUrl: /** @type {any} */ (emu).exa, timeoutMs: 1500 });
  const list = async () => (await (await fetch(`${/** @type {any} */ (emu).exa}/v0/imports?limit=200`, { headers: { 'x-api-key': 'test-exa-key' } })).json()).data;
  const before = (await list()).length;
  for (const rule of [{ kind: 'reset_after' }, { kind: 'truncated_json' }, { kind: 'status', status: 503, after: true }]) {
    await faults({ route: 'exa.create', ...rule });
    const imp = await exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'company' }, metadata: { mine: 'yes' } });
    const now = await list();
    assert.deepEqual(now.filter((/** @type {any} */ i) => i.metadata.mine === 'yes').map((/** @type {any} */ i) => i.id), [imp.id], `${rule.kind}: only the import the caller got exists`);
    assert.equal(now.length, before + 1, rule.kind);
    await exa.imports.delete(imp.id);
  }
});
