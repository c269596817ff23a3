// @ts-check
// dromo.imports.rows(): a result read as a stream, from the packed package in Node, against the
// emulator's S3-like storage. What a user relies on: every row once and in order, whatever cuts
// the download; the download waits for a slow loop and stops when the loop does; errors are typed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { startEmulator, loadPackage, KEY } from './helpers/env.js';

// gc() for the test that needs a collection at a given moment.
v8.setFlagsFromString('--expose-gc');

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let dromo;
/** @type {string} */ let id;
/** @type {any[]} */ let want;

const FIELDS = [
  { key: 'n', label: 'N', type: 'number' },
  { key: 'text', label: 'Text', type: 'string' },
];

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
  dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
  // ~2.5 MB of rows with what trips a splitter: brackets, commas, quotes, escapes, multi-byte text.
  const rows = Array.from({ length: 20_000 }, (_, i) => ({
    n: String(i),
    text: `row ${i}: [{"a,b"}] \\ é 日本 😀 ${'x'.repeat(i % 97)}`,
  }));
  const done = await dromo.importRows(rows, { fields: FIELDS, timeoutMs: 60_000 });
  id = done.import.id;
  want = done.rows;
  assert.equal(want.length, 20_000);
});
after(async () => emu && (await emu.stop()));

/** Installs a fault plan on the emulator (none: removes it). @param {unknown[]} [rules] */
function faults(rules) {
  return fetch(`${emu.control}/faults`, rules ? { method: 'POST', body: JSON.stringify({ seed: 7, rules }) } : { method: 'DELETE' });
}

/**
 * A `fetch` for the client that records what the storage was asked and counts the body bytes the
 * client actually pulled (the download's progress as the network sees it).
 * @param {{ stripRange?: boolean }} [how]
 */
function watchedFetch(how = {}) {
  const seen = { ranges: /** @type {(string | null)[]} */ ([]), pulled: 0, cancelled: 0 };
  /** @type {typeof fetch} */
  const f = async (url, init) => {
    if (!String(url).includes('/headless/')) {
      const headers = new Headers(init?.headers);
      seen.ranges.push(headers.get('range'));
      if (how.stripRange) headers.delete('range');
      init = { ...init, headers };
    }
    const res = await fetch(url, init);
    if (String(url).includes('/headless/') || !res.body) return res;
    const reader = res.body.getReader();
    const body = new ReadableStream({
      async pull(c) {
        const { done, value } = await reader.read();
        if (done) return c.close();
        seen.pulled += value.byteLength;
        c.enqueue(value);
      },
      cancel(reason) {
        seen.cancelled++;
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { seen, fetch: f };
}

/** Every row of `id`, through rows(). @param {any} client @param {any} [opts] */
async function collect(client, opts) {
  const got = [];
  for await (const row of client.imports.rows(id, opts)) got.push(row);
  return got;
}

test('rows() yields every row once, in order, equal to results()', async () => {
  const got = await collect(dromo);
  assert.equal(got.length, want.length);
  assert.deepEqual(got, want);
  assert.deepEqual(await dromo.imports.results(id), want);
});

test('a download reset mid-body resumes with Range from the last complete row: no row twice, none lost', async () => {
  const w = watchedFetch();
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: w.fetch });
  await faults([{ route: 'storage.get', kind: 'reset_mid_download', bytes: 700_000, count: 3 }]);
  try {
    assert.deepEqual(await collect(client), want);
  } finally {
    await faults();
  }
  assert.equal(w.seen.ranges[0], null, 'the first read asks for the whole file');
  assert.equal(w.seen.ranges.length, 4, 'three cuts, three resumed reads');
  for (const r of w.seen.ranges.slice(1)) assert.match(String(r), /^bytes=[1-9]\d*-$/, 'each resumes from a row boundary');
  // Bodies that end cleanly but early (a proxy's cut, a matching Content-Length) resume the same way.
  await faults([{ route: 'storage.get', kind: 'truncated_json', count: 3 }]);
  try {
    assert.deepEqual(await collect(client), want);
  } finally {
    await faults();
  }
});

test('a storage that ignores Range gets read from the start again, the rows already yielded skipped', async () => {
  const w = watchedFetch({ stripRange: true });
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: w.fetch });
  await faults([{ route: 'storage.get', kind: 'reset_mid_download', bytes: 1_000_000, count: 2 }]);
  try {
    assert.deepEqual(await collect(client), want);
    // results() reads the same way.
    await faults([{ route: 'storage.get', kind: 'reset_mid_download', bytes: 1_000_000, count: 1 }]);
    assert.deepEqual(await client.imports.results(id), want);
  } finally {
    await faults();
  }
});

test('a download that cannot finish throws after the rows it gave, none twice; results() never returns a cut-off array', async () => {
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, maxRetries: 1 });
  // One cut after 500 KB (rows delivered, so retries start afresh), then every read cut before a
  // whole row: no progress, so the retries run out.
  await faults([
    { route: 'storage.get', kind: 'reset_mid_download', bytes: 500_000, count: 1 },
    { route: 'storage.get', kind: 'reset_mid_download', bytes: 5, count: 10 },
  ]);
  try {
    const got = [];
    const error = await (async () => {
      for await (const row of client.imports.rows(id)) got.push(row);
    })().catch((e) => e);
    assert.ok(error instanceof hi.APIConnectionError, String(error));
    assert.ok(got.length > 0 && got.length < want.length, `${got.length} rows before the error`);
    assert.deepEqual(got, want.slice(0, got.length), 'a prefix of the rows, each once');
    await assert.rejects(client.imports.results(id), (/** @type {any} */ e) => e instanceof hi.APIConnectionError);
  } finally {
    await faults();
  }
});

test('the download waits for a slow loop, and breaking out of the loop cancels it', async () => {
  const w = watchedFetch();
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: w.fetch });
  let n = 0;
  for await (const _row of client.imports.rows(id)) {
    if (++n === 1) {
      await sleep(300);
      // Only what the first rows needed (plus what the platform buffers) was pulled meanwhile.
      assert.ok(w.seen.pulled < 1_000_000, `${w.seen.pulled} bytes pulled while the loop slept`);
    }
    if (n === 100) break;
  }
  assert.equal(w.seen.cancelled, 1, 'the body was cancelled');
  assert.ok(w.seen.pulled < 1_000_000, `${w.seen.pulled} bytes pulled in all`);
});

test('an abort mid-stream rejects the loop with APIUserAbortError carrying the reason', async () => {
  const controller = new AbortController();
  let n = 0;
  const error = await (async () => {
    for await (const _row of dromo.imports.rows(id, { signal: controller.signal })) {
      if (++n === 10) controller.abort(new Error('enough'));
    }
  })().catch((e) => e);
  assert.ok(error instanceof hi.APIUserAbortError, String(error));
  assert.equal(error.cause.message, 'enough');
  assert.ok(n < want.length);
});

test('an abort during a stalled download ends rows() even after a garbage collection (the call signal lives on)', async () => {
  // The row stream combines the call's signal with its own stop; a collection must not cut the
  // combination off from the caller's abort (it used to finish the read, every row, after it).
  const gc = vm.runInNewContext('gc');
  await faults([{ route: 'storage.get', kind: 'slow', ms: 4000, count: 1 }]);
  try {
    const controller = new AbortController();
    const loop = (async () => {
      let n = 0;
      for await (const _row of dromo.imports.rows(id, { signal: controller.signal })) n++;
      return n;
    })();
    await sleep(300);
    gc();
    controller.abort(new Error('stop'));
    const error = await loop.then((n) => `finished with ${n} rows`, (e) => e);
    assert.ok(error instanceof hi.APIUserAbortError, String(error));
    assert.equal(error.cause.message, 'stop');
  } finally {
    await faults();
  }
});

test('an abort ends a list walk page by page even after a garbage collection (each page follows the one before)', async () => {
  for (let i = 0; i < 10; i++) await dromo.imports.create({ fields: FIELDS, original_filename: `walk-${i}.csv` });
  const gc = vm.runInNewContext('gc');
  const controller = new AbortController();
  let n = 0;
  const error = await (async () => {
    for await (const _imp of dromo.imports.list({ limit: 1, signal: controller.signal })) {
      if (++n === 5) gc();
      if (n === 8) controller.abort(new Error('stop'));
    }
    return `finished the walk after ${n} imports`;
  })().catch((e) => e);
  assert.ok(error instanceof hi.APIUserAbortError, String(error));
  assert.equal(error.cause.message, 'stop');
  assert.equal(n, 8);
});

test('bad input is a ValidationError before any request; a result that is not a JSON array is an APIError', async () => {
  let sent = 0;
  const counting = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: (/** @type {any} */ u, /** @type {any} */ i) => (sent++, fetch(u, i)) });
  /** @type {[unknown, unknown, string][]} */
  const cases = [['../x', undefined, 'id'], [42, undefined, 'id'], [id, { singal: 1 }, 'opts.singal'], [id, 'fast', 'opts']];
  for (const [badId, badOpts, path] of cases) {
    const err = await counting.imports.rows(badId, badOpts).next().catch((/** @type {any} */ x) => x);
    assert.ok(err instanceof hi.ValidationError, `${path}: ${err}`);
    assert.equal(err.path, path);
  }
  assert.equal(sent, 0, 'nothing was sent for bad input');
  // A storage answer that is JSON but not an array of rows.
  await faults([{ route: 'storage.get', kind: 'status', status: 200, body: '{"rows": []}', count: 10 }]);
  try {
    const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, maxRetries: 1 });
    const error = await collect(client).then(() => 'no error', (e) => e);
    assert.ok(error instanceof hi.APIError && error.code === 'invalid_response', `${error}`.slice(0, 300));
    assert.match(error.message, /not a JSON array of rows: a JSON array was expected at byte 0/);
    assert.doesNotMatch(error.message, /X-Amz-Signature=[0-9a-f]/, 'the signature is redacted');
  } finally {
    await faults();
  }
});

test('constant memory: a 50 MB result streams through a 40 MB heap, where results() runs out of memory', { timeout: 120_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { installPackage, CONTACTS } = await import('./helpers/env.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-rows-'));
  try {
    const file = path.join(dir, 'big.csv');
    const lines = ['First Name,Last Name,Email Address,Age'];
    for (let i = 0; i < 400_000; i++) lines.push(`Name${i},"Last, ${i} with some more text to make it longer",user${i}@example.com,${20 + (i % 50)}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const { import: imp } = await dromo.importFile(await hi.fileFromPath(file), { schema_id: CONTACTS, rows: false, timeoutMs: 100_000 });
    assert.equal(imp.status, 'SUCCESSFUL');
    const script = `
      const hi = await import(${JSON.stringify(path.join(installPackage(), 'esm.mjs'))});
      const dromo = new hi.Dromo({ apiKey: ${JSON.stringify(KEY)}, baseUrl: ${JSON.stringify(emu.api)} });
      let n = 0;
      if (process.argv[1] === 'results') n = (await dromo.imports.results(${JSON.stringify(imp.id)})).length;
      else for await (const row of dromo.imports.rows(${JSON.stringify(imp.id)})) if (row.email) n++;
      console.log(n);
    `;
    const child = (/** @type {string} */ mode) =>
      spawnSync(process.execPath, ['--max-old-space-size=40', '--input-type=module', '-e', script, mode], { encoding: 'utf8', timeout: 60_000 });
    const streamed = child('rows');
    assert.equal(streamed.status, 0, streamed.stderr.slice(0, 500));
    assert.equal(streamed.stdout.trim(), '400000');
    const whole = child('results');
    assert.notEqual(whole.status, 0, 'results() of the same import needs more than the heap has');
    assert.match(whole.stderr, /heap out of memory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A `fetch` that lets the API through and answers storage requests number `n` (0-based) with
 * `fake(request number, url, init)` when it returns a Response.
 * @param {(n: number, url: string, init: any) => Response | undefined} fake
 */
function storageFetch(fake) {
  const seen = { storage: 0, urls: 0 };
  /** @type {typeof fetch} */
  const f = async (url, init) => {
    if (String(url).includes('/headless/')) {
      if (String(url).endsWith('/url/')) seen.urls++;
      return fetch(url, init);
    }
    const n = seen.storage++;
    return fake(n, String(url), init) ?? fetch(url, init);
  };
  return { seen, fetch: f };
}

/** A body that sends `first` bytes of the real result, then fails like a reset. @param {string} url @param {number} first */
async function cutAfter(url, first) {
  const res = await fetch(url);
  const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
  let sent = 0;
  const body = new ReadableStream({
    async pull(c) {
      if (sent >= first) return c.error(new Error('ECONNRESET'));
      const { done, value } = await reader.read();
      if (done) return c.close();
      const part = value.subarray(0, Math.min(value.length, first - sent));
      sent += part.length;
      c.enqueue(part);
    },
  });
  return new Response(body, { status: 200, headers: res.headers });
}

test('a file that changed between two reads stops the read after the rows already given, never mixing files', async () => {
  // The resumed read gets the whole of another file (another ETag), then one without an ETag
  // that holds fewer rows than were already delivered.
  for (const other of [
    () => new Response(JSON.stringify([{ n: 'other' }]), { status: 200, headers: { etag: '"another"' } }),
    () => new Response(JSON.stringify(want.slice(0, 5)), { status: 200 }),
  ]) {
    const s = storageFetch((n, url) => (n === 0 ? /** @type {any} */ (cutAfter(url, 600_000)) : n === 1 ? other() : undefined));
    const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: s.fetch });
    const got = [];
    const error = await (async () => {
      for await (const row of client.imports.rows(id)) got.push(row);
    })().then(() => 'no error', (e) => e);
    assert.ok(error instanceof hi.APIError, String(error));
    assert.match(error.message, /changed while it was read/);
    assert.ok(got.length > 0);
    assert.deepEqual(got, want.slice(0, got.length), 'only rows of the first file');
  }
});

test('a result URL that expired during a long read is asked for again and the read goes on', async () => {
  const s = storageFetch((n, url) => {
    if (n === 0) return /** @type {any} */ (cutAfter(url, 600_000));
    if (n === 1) return new Response('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>', { status: 403 });
    return undefined;
  });
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: s.fetch });
  assert.deepEqual(await collect(client), want);
  assert.equal(s.seen.urls, 2, 'a second /url/ after the 403');
});

test('a row that never ends is refused at 64 MiB, without exhausting memory or crashing', { timeout: 60_000 }, async () => {
  const s = storageFetch(() => {
    let sent = 0;
    const q = new Uint8Array(1 << 20).fill(0x71);
    const body = new ReadableStream({
      pull(c) {
        if (sent === 0) c.enqueue(new TextEncoder().encode('[{"a":"'));
        if (sent++ > 80) return c.close();
        c.enqueue(q);
      },
    });
    return new Response(body, { status: 200 });
  });
  const client = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: s.fetch, maxRetries: 0 });
  const error = await collect(client).then(() => 'no error', (e) => e);
  assert.ok(error instanceof hi.APIError && error.code === 'invalid_response', String(error));
  assert.match(error.message, /larger than 64 MiB/);
});

test('after an abort no further row is yielded, even from a batch already handed over', async () => {
  const controller = new AbortController();
  let n = 0;
  let afterAbort = 0;
  const error = await (async () => {
    for await (const _row of dromo.imports.rows(id, { signal: controller.signal })) {
      if (controller.signal.aborted) afterAbort++;
      if (++n === 10) controller.abort();
    }
  })().then(() => 'no error', (e) => e);
  assert.ok(error instanceof hi.APIUserAbortError, String(error));
  assert.equal(afterAbort, 0);
  assert.equal(n, 10);
});
