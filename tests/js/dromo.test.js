// @ts-check
// The packed package against the local emulator, as a Node user runs it: real HTTP, real files,
// real presigned URLs. Each behaviour here is one a user relies on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { startEmulator, loadPackage, installPackage, tempFile, control, readSlowly, KEY, CONTACTS, ROOT } from './helpers/env.js';

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let dromo;

const GOOD = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nAlan,"Turing, A.",alan@example.com,41\n';
const fast = { schema_id: CONTACTS, timeoutMs: 20_000 };

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
  dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
});
after(async () => emu && (await emu.stop()));

test('a file from disk imports end to end: progress, statuses, rows, identical bytes', async () => {
  const file = tempFile('contacts.csv', GOOD);
  const statuses = [];
  const progress = [];
  const { import: imp, rows } = await dromo.importFile(await hi.fileFromPath(file), {
    ...fast,
    onStatus: (/** @type {any} */ i) => statuses.push(i.status),
    onProgress: (/** @type {any} */ p) => progress.push(p),
  });
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal(imp.original_filename, 'contacts.csv');
  assert.deepEqual(rows.map((/** @type {any} */ r) => r.email), ['ada@example.com', 'alan@example.com']);
  assert.equal(rows[1].last_name, 'Turing, A.');
  assert.equal(statuses.at(-1), 'SUCCESSFUL');
  assert.deepEqual(statuses, [...new Set(statuses)], 'each status reported once');
  assert.ok(progress.length >= 1);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].loaded >= progress[i - 1].loaded);
  assert.deepEqual(progress.at(-1), { loaded: Buffer.byteLength(GOOD), total: Buffer.byteLength(GOOD) });
  const stored = await control(`${emu.control}/uploads/${imp.id}`);
  assert.equal(stored.sha256, crypto.createHash('sha256').update(GOOD).digest('hex'));
  assert.equal(stored.size, Buffer.byteLength(GOOD));
});

test('a multi-megabyte file keeps its bytes exactly (sha256 on the emulator)', async () => {
  const lines = ['First Name,Last Name,Email Address,Age'];
  for (let i = 0; i < 60_000; i++) lines.push(`Name${i},"Multi\nLine ${i}",user${i}@example.com,${20 + (i % 50)}`);
  const content = lines.join('\r\n') + '\r\n';
  const file = tempFile('big.csv', content);
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'big.csv' });
  const seen = [];
  await dromo.imports.upload(imp, await hi.fileFromPath(file), { onProgress: (/** @type {any} */ p) => seen.push(p.loaded) });
  const stored = await control(`${emu.control}/uploads/${imp.id}`);
  assert.equal(stored.size, Buffer.byteLength(content));
  assert.equal(stored.sha256, crypto.createHash('sha256').update(content).digest('hex'));
  assert.ok(seen.length > 3, `several progress events for ${content.length} bytes`);
  assert.equal(seen.at(-1), Buffer.byteLength(content));
  const done = await dromo.imports.waitForCompletion(imp.id);
  assert.equal(done.status, 'SUCCESSFUL');
});

test('rows import with initial_data and an inline schema', async () => {
  const { import: imp, rows } = await dromo.importRows(
    [{ product: 'widget1', transaction: 'foo123' }, { product: 'widget2', transaction: 'foo456' }],
    {
      fields: [
        { key: 'product', label: 'Product', type: 'string' },
        { key: 'transaction', label: 'Transaction', type: 'string', validators: [{ validate: 'unique' }] },
      ],
    },
  );
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal(imp.upload, null);
  assert.deepEqual(rows, [{ product: 'widget1', transaction: 'foo123' }, { product: 'widget2', transaction: 'foo456' }]);
});

test('invalid values stop at NEEDS_REVIEW: importFile rejects with NeedsReviewError (never a result without rows); waitForReview keeps polling', async () => {
  const body = new File(['First Name,Last Name,Email Address\nAda,Lovelace,not-an-email\n'], 'review.csv');
  const err = await dromo.importFile(body, fast).catch((/** @type {any} */ e) => e);
  assert.ok(err instanceof hi.NeedsReviewError, String(err));
  assert.ok(err instanceof hi.HeadlessImportsError && !(err instanceof hi.ImportFailedError));
  assert.equal(err.code, 'needs_review');
  const imp = err.import;
  assert.equal(imp.status, 'NEEDS_REVIEW');
  assert.match(imp.review_url, /^http/);
  assert.equal(err.reviewUrl, imp.review_url);
  assert.match(err.message, /needs a review/);
  await assert.rejects(
    dromo.imports.waitForCompletion(imp.id, { timeoutMs: 200, waitForReview: true }),
    (/** @type {any} */ e) => e instanceof hi.WaitTimeoutError && e.import.status === 'NEEDS_REVIEW' && e.code === 'wait_timeout',
  );
});

test('an empty data file ends FAILED: ImportFailedError carries the import', async () => {
  await assert.rejects(dromo.importFile(new File(['First Name,Email Address\n'], 'empty.csv'), fast), (/** @type {any} */ e) => {
    assert.ok(e instanceof hi.ImportFailedError && e instanceof hi.HeadlessImportsError && e instanceof Error);
    assert.equal(e.code, 'import_failed');
    assert.equal(e.import.status, 'FAILED');
    assert.match(e.message, /failed/);
    return true;
  });
});

test('a wrong key is a 401 AuthenticationError that never shows the key', async () => {
  const bad = new hi.Dromo({ apiKey: 'sk_wrong_secret_123', baseUrl: emu.api });
  await assert.rejects(bad.imports.list(), (/** @type {any} */ e) => {
    assert.ok(e instanceof hi.AuthenticationError && e instanceof hi.APIError);
    assert.equal(e.status, 401);
    assert.match(e.requestId, /^req_/);
    assert.ok(!e.message.includes('sk_wrong_secret_123') && !e.stack.includes('sk_wrong_secret_123'));
    return true;
  });
  assert.ok(!String(bad).includes('sk_wrong') && !JSON.stringify(bad).includes('sk_wrong'));
});

test('an unknown schema id is a NotFoundError; bad params are a ValidationError before any request', async () => {
  await assert.rejects(
    dromo.imports.create({ schema_id: '00000000-0000-4000-8000-000000000000', original_filename: 'a.csv' }),
    hi.NotFoundError,
  );
  const before = await control(`${emu.control}/stats`);
  await assert.rejects(dromo.imports.create({ schema_id: CONTACTS, fields: [] , original_filename: 'a.csv'}), (/** @type {any} */ e) =>
    e instanceof hi.ValidationError && e.path === 'fields');
  await assert.rejects(dromo.importFile(new File([''], 'empty.csv'), fast), (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === 'body');
  await assert.rejects(dromo.imports.retrieve('../../admin'), (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === 'id');
  const afterStats = await control(`${emu.control}/stats`);
  assert.deepEqual(afterStats.requests, before.requests, 'no request reached the server');
});

test('list is awaitable as a page and iterable across more than two pages', async () => {
  for (let i = 0; i < 5; i++) await dromo.imports.create({ schema_id: CONTACTS, original_filename: `p${i}.csv` });
  const page = await dromo.imports.list({ limit: 2 });
  assert.equal(page.results.length, 2);
  assert.ok(page.count >= 5);
  assert.equal(page.hasNextPage(), true);
  const second = await page.nextPage();
  assert.equal(second.results.length, 2);
  assert.notDeepEqual(second.results.map((/** @type {any} */ r) => r.id), page.results.map((/** @type {any} */ r) => r.id));
  const ids = [];
  for await (const imp of dromo.imports.list({ limit: 2 })) ids.push(imp.id);
  assert.equal(ids.length, page.count, 'every import once');
  assert.equal(new Set(ids).size, ids.length);
});

test('an expired upload URL is an UploadError with expired: true, no signature, and the way forward', async () => {
  const short = await startEmulator(['--time-scale', '0.01', '--upload-ttl', '1']);
  try {
    const d = new hi.Dromo({ apiKey: KEY, baseUrl: short.api });
    const imp = await d.imports.create({ schema_id: CONTACTS, original_filename: 'late.csv' });
    await new Promise((r) => setTimeout(r, 2100));
    const signature = new URL(imp.upload).searchParams.get('X-Amz-Signature');
    await assert.rejects(d.imports.upload(imp, GOOD), (/** @type {any} */ e) => {
      assert.ok(e instanceof hi.UploadError);
      assert.equal(e.expired, true);
      assert.equal(e.status, 403);
      assert.equal(e.s3Code, 'AccessDenied');
      assert.match(e.message, /create a new import/);
      assert.ok(signature && !e.message.includes(signature));
      assert.equal(e.import.id, imp.id);
      return true;
    });
  } finally {
    await short.stop();
  }
});

test('aborting mid-upload rejects with APIUserAbortError carrying the created import', async () => {
  const file = tempFile('huge.csv', Buffer.alloc(64 * 1024 * 1024, 'a,b\n'));
  const controller = new AbortController();
  await assert.rejects(
    dromo.importFile(await hi.fileFromPath(file), {
      ...fast,
      signal: controller.signal,
      onProgress: (/** @type {any} */ p) => p.loaded > 0 && p.loaded < p.total && controller.abort(),
    }),
    (/** @type {any} */ e) => e instanceof hi.APIUserAbortError && e.code === 'aborted' && e.import?.status === 'AWAITING_UPLOAD',
  );
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('aborting mid-wait lets a Node script exit at once (no timer left alive)', async () => {
  // A child process waits with a 60 s interval and aborts after the first status: it must exit by
  // itself, long before the interval would have fired.
  const script = `
    import { Dromo } from 'headless-imports';
    const d = new Dromo({ apiKey: '${KEY}', baseUrl: '${emu.api}' });
    const imp = await d.imports.create({ schema_id: '${CONTACTS}', original_filename: 'x.csv' });
    const c = new AbortController();
    d.imports.waitForCompletion(imp.id, { intervalMs: 60000, signal: c.signal, onStatus: () => setTimeout(() => c.abort(), 10) })
      .catch((e) => console.log(e.name));
  `;
  const dir = installPackage();
  fs.writeFileSync(path.join(dir, 'wait-abort.mjs'), script);
  const started = Date.now();
  const child = spawn(process.execPath, ['wait-abort.mjs'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const killer = setTimeout(() => child.kill(), 50_000);
  const code = await new Promise((r) => child.on('exit', r));
  clearTimeout(killer);
  assert.equal(out.trim(), 'APIUserAbortError');
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 50_000, 'exited by itself, not killed');
});

test('bulk creates queue under the rate limit instead of drawing 429s; without it they are throttled', async () => {
  // The emulator runs at time-scale 0.01: its "minute" is 600 ms, so the client uses that window.
  const throttled = async () => (await control(`${emu.control}/stats`)).throttled;
  const limited = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: 600 }, maxRetries: 0 });
  await new Promise((r) => setTimeout(r, 700)); // earlier tests' creates leave the server's window
  const before = await throttled();
  const made = await Promise.all(
    Array.from({ length: 45 }, (_, i) => limited.imports.create({ schema_id: CONTACTS, original_filename: `bulk${i}.csv` })),
  );
  assert.equal(new Set(made.map((m) => m.id)).size, 45);
  assert.equal(await throttled(), before, 'no 429 drawn');
  // Polls too: 30 status reads of one import at once stay within 12 per window.
  await Promise.all(Array.from({ length: 30 }, () => limited.imports.retrieve(made[0].id)));
  assert.equal(await throttled(), before, 'no 429 drawn by polls');

  await new Promise((r) => setTimeout(r, 700)); // let the server's window empty
  const unlimited = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: false, maxRetries: 0 });
  const results = await Promise.allSettled(
    Array.from({ length: 30 }, (_, i) => unlimited.imports.create({ schema_id: CONTACTS, original_filename: `burst${i}.csv` })),
  );
  const limitedOut = results.filter((r) => r.status === 'rejected' && r.reason instanceof hi.RateLimitError);
  assert.ok(limitedOut.length > 0, 'the emulator enforces the limit, so the test above means something');
});

test('backoff makes a long wait poll less often than a fixed interval', async () => {
  /** Polls of one import while waiting 8 s for a file that never comes, counted by the client's fetch. */
  const count = async (/** @type {object} */ extra) => {
    let polls = 0;
    /** @type {typeof fetch} */
    const counting = (url, init) => {
      if (init?.method === 'GET') polls++;
      return fetch(url, init);
    };
    const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: false, fetch: counting });
    const imp = await d.imports.create({ schema_id: CONTACTS, original_filename: 'never.csv' });
    await assert.rejects(d.imports.waitForCompletion(imp.id, { intervalMs: 1000, timeoutMs: 8000, ...extra }), hi.WaitTimeoutError);
    return polls;
  };
  const [fixed, grown] = await Promise.all([count({}), count({ backoff: 2, maxIntervalMs: 10_000 })]);
  // Fixed: after the quick start (0, 0.25, 0.75 s), one poll a second: about 10. Doubling past
  // the interval: 0, 0.25, 0.75, 1.75, 3.75, 7.75 s: about 6.
  assert.ok(grown < fixed - 2, `backoff polled ${grown} times, fixed ${fixed}`);
  const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
  await assert.rejects(d.imports.waitForCompletion('x', { backoff: 0.5 }), (/** @type {any} */ e) => e.path === 'opts.backoff');
});

test('CommonJS and ESM consumers share one module: same classes, same wasm', async () => {
  const require = createRequire(path.join(installPackage(), 'cjs.cjs'));
  const cjs = require('headless-imports');
  assert.equal(cjs.Dromo, hi.Dromo);
  assert.equal(cjs.APIError, hi.APIError);
  assert.throws(() => new cjs.Dromo({ apiKey: KEY, baseUrl: 'http://example.com/api' }), hi.ValidationError);
});

test('delete: 204 resolves undefined, then the import is gone (404 NotFoundError); a lost answer then a 404 counts as done', async () => {
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'gone.csv' });
  assert.equal(await dromo.imports.delete(imp.id), undefined);
  await assert.rejects(dromo.imports.retrieve(imp.id), (/** @type {any} */ e) => e instanceof hi.NotFoundError);
  await assert.rejects(dromo.imports.delete(imp.id), (/** @type {any} */ e) => e instanceof hi.NotFoundError && e.status === 404);
  await assert.rejects(dromo.imports.delete('../x'), (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === 'id');
  // The server deletes, then the connection dies before the 204: the retry's 404 means done.
  const lost = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'lost.csv' });
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'dromo.delete', kind: 'reset_after', count: 1 }] }) });
  try {
    assert.equal(await dromo.imports.delete(lost.id), undefined);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
  await assert.rejects(dromo.imports.retrieve(lost.id), (/** @type {any} */ e) => e instanceof hi.NotFoundError);
  // An abort before the answer rejects with APIUserAbortError.
  const kept = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'kept.csv' });
  await assert.rejects(dromo.imports.delete(kept.id, { signal: AbortSignal.abort('changed my mind') }), (/** @type {any} */ e) => e instanceof hi.APIUserAbortError && e.cause === 'changed my mind');
  assert.equal((await dromo.imports.retrieve(kept.id)).id, kept.id);
});

test("a file create whose answer was lost is sent again, and the import the lost attempt made is named in leftBehind (never this client's own imports of the same name), left alone", async () => {
  const name = `lost-${Date.now()}.csv`;
  const file = () => new File([GOOD], name, { type: 'text/csv' });
  // The server creates the import, then the connection dies before the answer: retried.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'dromo.create', kind: 'reset_after', count: 1 }] }) });
  /** @type {any[]} */
  let results;
  try {
    // Five of one name at once, as a bulk run does: the other four are this client's own.
    results = await Promise.all(Array.from({ length: 5 }, () => dromo.importFile(file(), { ...fast, rows: false })));
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
  const all = (await (await fetch(`${emu.api}/headless/imports/?limit=1000`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).results
    .filter((/** @type {any} */ i) => i.original_filename === name);
  assert.equal(all.length, 6, 'five imports and the one whose answer was lost');
  const mine = new Set(results.map((r) => r.import.id));
  const orphan = all.find((/** @type {any} */ i) => !mine.has(i.id));
  assert.equal(orphan.status, 'AWAITING_UPLOAD', 'left alone');
  const named = results.filter((r) => r.leftBehind);
  assert.equal(named.length, 1, JSON.stringify(results.map((r) => r.leftBehind)));
  assert.deepEqual(named[0].leftBehind, [orphan.id]);
  for (const r of results) assert.equal(r.import.status, 'SUCCESSFUL');
  // Without a lost answer, nothing is looked for or named.
  const plain = await dromo.importFile(file(), { ...fast, rows: false });
  assert.equal(plain.leftBehind, undefined);
});

test('with an inline schema (a new schema id each create) the import a lost answer made is named too', async () => {
  const name = `lost-inline-${Date.now()}.csv`;
  const fields = [{ key: 'first', label: 'First Name', type: 'string' }, { key: 'last', label: 'Last Name', type: 'string' }];
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'dromo.create', kind: 'reset_after', count: 1 }] }) });
  let result;
  try {
    result = await dromo.importFile(new File([GOOD], name, { type: 'text/csv' }), { fields, timeoutMs: 20_000, wait: false });
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
  const all = (await (await fetch(`${emu.api}/headless/imports/?limit=1000`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).results
    .filter((/** @type {any} */ i) => i.original_filename === name);
  assert.equal(all.length, 2, 'the import and the one whose answer was lost');
  const orphan = all.find((/** @type {any} */ i) => i.id !== result.import.id);
  assert.deepEqual(result.leftBehind, [orphan.id]);
});

test('a create answered 2xx with an empty body is a cut-off answer, never a success without an import', async () => {
  // A fetch in front of the API that passes the create on and then loses its body.
  const emptied = async (/** @type {any} */ input, /** @type {any} */ init) => {
    const r = await fetch(input, init);
    if (init?.method !== 'POST') return r;
    await r.arrayBuffer();
    return new Response('', { status: 201, headers: r.headers });
  };
  const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: emptied, maxRetries: 0 });
  const e = await d.imports.create({ schema_id: CONTACTS, original_filename: 'empty.csv' }).catch((/** @type {any} */ x) => x);
  assert.ok(e instanceof hi.APIError && e.code === 'invalid_response', String(e));
  assert.match(e.message, /response was not JSON as expected \(POST \/headless\/imports\/\): an empty body/);
  // Nor a 204, a JSON null, or an object that names no import.
  for (const answer of [() => new Response(null, { status: 204 }), () => new Response('null', { status: 201 }), () => new Response('{}', { status: 201 })]) {
    const odd = async (/** @type {any} */ input, /** @type {any} */ init) => {
      const r = await fetch(input, init);
      if (init?.method !== 'POST') return r;
      await r.arrayBuffer();
      return answer();
    };
    const d3 = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: odd, maxRetries: 0 });
    const e3 = await d3.imports.create({ schema_id: CONTACTS, original_filename: 'odd.csv' }).catch((/** @type {any} */ x) => x);
    assert.ok(e3 instanceof hi.APIError && e3.code === 'invalid_response', String(e3));
  }
  // A network error dressed as a Response (Response.error(), status 0) is no answer: retried.
  let first = true;
  const lost = async (/** @type {any} */ input, /** @type {any} */ init) => {
    const r = await fetch(input, init);
    if (init?.method !== 'POST' || !first) return r;
    first = false;
    await r.arrayBuffer();
    return Response.error();
  };
  const d2 = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: lost });
  const made = await d2.imports.create({ schema_id: CONTACTS, original_filename: 'lost.csv' });
  assert.match(made.id, /./, 'the retry made the import');
});

test('an upload whose storage goes silent is given up after timeoutMs and retried (it hung for ever)', async () => {
  // The storage reads the first PUT's first bytes, then nothing more for a minute.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'storage.put', kind: 'stall_mid_upload', bytes: 10, ms: 60_000, count: 1 }] }) });
  try {
    const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, timeoutMs: 1000 });
    const t0 = Date.now();
    const { import: imp } = await d.importFile(new File([GOOD], 'silent.csv'), { schema_id: CONTACTS, rows: false });
    assert.equal(imp.status, 'SUCCESSFUL');
    assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('a slow but healthy storage is not taken for a silent one, even with a small timeoutMs (it was given up at every attempt)', async () => {
  // With timeoutMs 300, the bursts of a 2 MB/s link (see readSlowly) were "silent" at every attempt.
  const storage = http.createServer((req, res) => readSlowly(req, () => res.writeHead(200, { etag: '"slow"' }).end()));
  await new Promise((resolve) => storage.listen(0, '127.0.0.1', () => resolve(undefined)));
  try {
    const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, timeoutMs: 300, maxRetries: 0 });
    const size = 12 * 1024 * 1024;
    /** @type {number[]} */
    const seen = [];
    const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (storage.address()).port}/slow?X-Amz-Signature=s`;
    await d.imports.upload(url, new Uint8Array(size), { onProgress: (/** @type {any} */ p) => seen.push(p.loaded) });
    assert.equal(seen.at(-1), size);
  } finally {
    storage.closeAllConnections();
    storage.close();
  }
});

test('progress never goes back when an upload is retried from byte 0', async () => {
  // The storage drops the first PUT after 1 MiB: the retry sends from byte 0 again.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'storage.put', kind: 'reset_mid_upload', bytes: 1024 * 1024, count: 1 }] }) });
  try {
    const body = Buffer.alloc(3 * 1024 * 1024, 'Ada,Lovelace,ada@example.com,36\n');
    body.write('First Name,Last Name,Email Address,Age\n');
    /** @type {number[]} */
    const seen = [];
    // From disk: progress comes every 64 KiB, not once for a Blob read in one piece.
    const file = await hi.fileFromPath(tempFile('retried.csv', body));
    const { import: imp } = await dromo.importFile(file, { ...fast, rows: false, wait: false, onProgress: (/** @type {any} */ p) => seen.push(p.loaded) });
    assert.notEqual(imp.status, 'AWAITING_UPLOAD');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `monotonic: ${seen.join(' ')}`);
    assert.equal(seen.at(-1), body.length);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('an .xlsx File imports end to end: rows from its first worksheet, a broken one fails with the reason', async () => {
  // Written by rust_xlsxwriter; tests/emulator/tests/processing.rs keeps it current.
  const bytes = fs.readFileSync(path.join(ROOT, 'tests/fixtures/contacts.xlsx'));
  const { import: imp, rows } = await dromo.importFile(new File([bytes], 'contacts.xlsx'), fast);
  assert.equal(imp.status, 'SUCCESSFUL');
  assert.equal(imp.original_filename, 'contacts.xlsx');
  assert.deepEqual(rows, [
    { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', age: 36 },
    { first_name: 'Alan', last_name: '', email: 'alan@example.com', age: null },
  ]);
  const broken = new File([bytes.subarray(0, bytes.length - 100)], 'contacts.xlsx');
  await assert.rejects(dromo.importFile(broken, fast), (/** @type {any} */ e) => {
    assert.ok(e instanceof hi.ImportFailedError, `${e}`);
    assert.equal(e.import.status, 'FAILED');
    assert.match(e.import.import_errors[0].message, /could not be read as an XLSX spreadsheet/);
    return true;
  });
});

test('file types: a .tsv imports end to end; .xls/.xlsx names are accepted; .json and nameless types are refused before any request', async () => {
  const tsv = 'First Name\tLast Name\tEmail Address\tAge\nAda\tLovelace\tada@example.com\t36\n';
  const { rows } = await dromo.importFile(new File([tsv], 'people.TSV'), fast);
  assert.deepEqual(rows.map((/** @type {any} */ r) => r.email), ['ada@example.com']);
  // The library takes spreadsheets (Dromo reads them); it never runs CSV checks on them.
  const sheet = await dromo.importFile(new File([new Uint8Array([0x50, 0x4b, 3, 4])], 'q3.xlsx'), { ...fast, wait: false });
  assert.equal(sheet.import.original_filename, 'q3.xlsx');
  assert.notEqual(sheet.import.status, 'AWAITING_UPLOAD', 'uploaded');
  const before = await control(`${emu.control}/stats`);
  for (const [body, opts, path] of [
    [new File(['[{"a":1}]'], 'rows.json'), {}, 'body'],
    [new File(['a,b\n1,2\n'], 'export'), {}, 'body'],
    ['a,b\n1,2\n', { original_filename: 'data.json' }, 'options.original_filename'],
  ]) {
    const e = await dromo.importFile(body, { ...fast, ...opts }).catch((/** @type {any} */ x) => x);
    assert.ok(e instanceof hi.ValidationError && e.path === path, `${e}`);
    assert.match(e.message, /Dromo imports \.csv, \.tsv, \.xls and \.xlsx files/);
    if (String(e.message).includes('.json')) assert.match(e.message, /importRows/);
  }
  const after = await control(`${emu.control}/stats`);
  assert.equal(after.requests['dromo.create'], before.requests['dromo.create'], 'nothing was created');
});
