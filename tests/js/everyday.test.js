// @ts-check
// What a new user tripped on (#12), through the packed package against the emulator: a file name
// passed as the file, a missing file, a lost abort reason, silent rate-limit queueing, throwing
// callbacks, misspelt per-call options, and a wrong base URL. Each fails on the build before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { startEmulator, loadPackage, installPackage, ROOT, KEY, CONTACTS } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
const CSV = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n';
const COMPANIES = 'url,name\nhttps://acme.example,Acme\n';

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {string[]} every request the clients below sent, as `METHOD url` */
const sent = [];
/** A fetch that records what it is asked to send, then sends it. @type {typeof fetch} */
const recording = (input, init) => {
  sent.push(`${init?.method ?? 'GET'} ${input}`);
  return fetch(input, init);
};
/** @type {any} */ let dromo;
/** @type {any} */ let exa;

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
  dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: recording });
  exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href, fetch: recording });
});
after(async () => emu && (await emu.stop()));

/**
 * Asserts `promise` rejects with a `cls` whose properties include `props`, and returns the error.
 * @param {Promise<unknown>} promise @param {Function} cls @param {Record<string, unknown>} [props]
 */
async function rejects(promise, cls, props = {}) {
  /** @type {any} */
  let error;
  await assert.rejects(promise, (e) => {
    error = e;
    return true;
  });
  assert.ok(error instanceof cls, `${error?.name}: ${error?.message}`);
  assert.ok(error instanceof hi.HeadlessImportsError);
  for (const [k, v] of Object.entries(props)) assert.deepEqual(error[k], v, `${k} of ${error.message}`);
  return error;
}

test('a file name passed as the file is refused before any request, naming fileFromPath', async () => {
  const before = sent.length;
  for (const name of ['contacts.csv', './data/leads.XLSX', 'C:\\exports\\q3.tsv', '/tmp/x']) {
    const e = await rejects(dromo.importFile(name, { schema_id: CONTACTS, original_filename: 'contacts.csv' }), hi.ValidationError, { path: 'body' });
    assert.match(e.message, /looks like a file path/);
    assert.match(e.message, /fileFromPath\(/);
  }
  await rejects(exa.importFile('leads.csv', { entity: { type: 'company' } }), hi.ValidationError, { path: 'body' });
  await rejects(dromo.imports.upload('http://127.0.0.1:9/u', 'contacts.csv'), hi.ValidationError, { path: 'body' });
  assert.equal(sent.length, before, 'nothing was sent');
  // Contents are contents: a one-record CSV string still imports.
  const { rows } = await dromo.importFile(CSV, { schema_id: CONTACTS, original_filename: 'c.csv', timeoutMs: 20_000 });
  assert.equal(rows.length, 1);
});

test('fileFromPath: a missing file or a directory is a HeadlessImportsError with code and path', async () => {
  const missing = path.join(os.tmpdir(), `hi-missing-${process.pid}.csv`);
  await rejects(hi.fileFromPath(missing), hi.HeadlessImportsError, { code: 'file_not_found', path: missing });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-dir-'));
  const e = await rejects(hi.fileFromPath(dir), hi.HeadlessImportsError, { code: 'not_a_file', path: dir });
  assert.match(e.message, /directory/);
  const relative = await rejects(hi.fileFromPath('no-such-dir/contacts.csv'), hi.HeadlessImportsError, { code: 'file_not_found' });
  assert.equal(relative.path, path.resolve('no-such-dir/contacts.csv'));
  assert.equal(relative.cause?.code, 'ENOENT');
  fs.rmSync(dir, { recursive: true });
});

test("abort(reason) and AbortSignal.timeout(): the reason is the error's cause, and the message says why", async () => {
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'never.csv' });
  // Before any request.
  const early = new AbortController();
  early.abort('the user closed the dialog');
  const e1 = await rejects(dromo.imports.retrieve(imp.id, { signal: early.signal }), hi.APIUserAbortError, { cause: 'the user closed the dialog' });
  assert.match(e1.message, /the user closed the dialog/);
  // Mid-wait: the import never gets its file, so only the signal ends the wait.
  const reason = new Error('shutting down');
  const mid = new AbortController();
  setTimeout(() => mid.abort(reason), 300);
  const e2 = await rejects(dromo.imports.waitForCompletion(imp.id, { signal: mid.signal }), hi.APIUserAbortError);
  assert.equal(e2.cause, reason);
  assert.equal(e2.import?.id, imp.id);
  const e3 = await rejects(dromo.imports.waitForCompletion(imp.id, { signal: AbortSignal.timeout(300) }), hi.APIUserAbortError);
  assert.equal(e3.cause?.name, 'TimeoutError');
  assert.match(e3.message, /timed out/);
  // A plain abort() keeps the platform's AbortError as the cause.
  const plain = new AbortController();
  plain.abort();
  const e4 = await rejects(dromo.imports.retrieve(imp.id, { signal: plain.signal }), hi.APIUserAbortError);
  assert.equal(e4.cause?.name, 'AbortError');
  assert.equal(e4.message, 'Request was aborted.');
});

test('a `fetch` option that ignores its signal (never settles) still ends at an abort or the timeout, nothing left pending', async () => {
  // A wrapper that drops init.signal, in front of a server that never answers: only our own
  // bound can end such a call.
  /** @type {string[]} */
  const asked = [];
  const deaf = (/** @type {any} */ input, /** @type {any} */ init) => {
    asked.push(`${init?.method ?? 'GET'} ${input}`);
    return new Promise(() => {});
  };
  const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: deaf, maxRetries: 0 });
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error('user left')), 100);
  const e1 = await rejects(d.imports.retrieve('00000000-0000-4000-8000-000000000000', { signal: stop.signal }), hi.APIUserAbortError);
  assert.equal(e1.cause?.message, 'user left');
  const e2 = await rejects(d.imports.list({ timeoutMs: 150 }), hi.APIConnectionTimeoutError);
  assert.match(e2.message, /timed out after 150 ms/);
  // A whole flow, under the client's per-request timeout.
  const quick = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: deaf, maxRetries: 0, timeoutMs: 150 });
  await rejects(quick.importFile(new File([CSV], 'c.csv'), { schema_id: CONTACTS }), hi.APIConnectionTimeoutError);
  assert.ok(asked.length >= 3, asked.join('\n'));
  // An aborted Exa import deletes (or first finds) what it made, deaf to the abort but bounded
  // (one attempt of at most 5 s a request): even a client without a timeout ends (it never did).
  const x = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href, fetch: deaf, timeoutMs: 0 });
  const stopX = new AbortController();
  setTimeout(() => stopX.abort(new Error('user stop')), 100);
  const e3 = await rejects(x.importFile(new File([COMPANIES], 'c.csv'), { entity: { type: 'company' }, signal: stopX.signal }), hi.APIUserAbortError);
  assert.equal(e3.cause?.message, 'user stop');
  // A fetch that answers with a Response rather than a promise of one is still a fetch.
  const direct = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: () => new Response('{"id":"x"}', { status: 200 }) });
  await assert.doesNotReject(direct.imports.retrieve('00000000-0000-4000-8000-000000000000', { signal: new AbortController().signal }));
  // One that resolves to anything else is told so plainly (it was "Cannot read properties of undefined").
  for (const [value, what] of [[undefined, 'undefined'], [null, 'null'], [{ ok: true }, 'object, not a Response'], [42, 'number']]) {
    const odd = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: async () => value, maxRetries: 0 });
    const e = await rejects(odd.imports.retrieve('00000000-0000-4000-8000-000000000000'), hi.APIConnectionError);
    assert.match(e.message, new RegExp(`the client's fetch option resolved to ${what}`), e.message);
  }
  // One that throws something other than an Error: a string is its own message (the message
  // ended in ": " before), and nothing at all is said to be nothing.
  for (const [thrown, said] of [['proxy down', /\): proxy down$/], [undefined, /\): no reason given$/], ['', /\): no reason given$/], ['  ', /\): no reason given$/]]) {
    const odd = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: async () => { throw thrown; }, maxRetries: 0 });
    const e = await rejects(odd.imports.retrieve('00000000-0000-4000-8000-000000000000'), hi.APIConnectionError);
    assert.match(e.message, said);
  }
});

test('one signal shared by 30 calls gets one listener (no leak warning from Node), and aborting it ends them all with its reason', async () => {
  /** @type {Error[]} */
  const warnings = [];
  const onWarning = (/** @type {Error} */ w) => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'never.csv' });
    const stop = new AbortController();
    // Waits on an import that never gets its file: only the signal ends them. Each holds a timer
    // or a request (the poll limit queues most), and each of those listened on the signal itself.
    const calls = Array.from({ length: 30 }, () => dromo.imports.waitForCompletion(imp.id, { signal: stop.signal }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(getEventListeners(stop.signal, 'abort').length, 1);
    const reason = new Error('all done');
    stop.abort(reason);
    for (const r of await Promise.allSettled(calls)) {
      assert.equal(r.status, 'rejected');
      const e = /** @type {any} */ (r).reason;
      assert.ok(e instanceof hi.APIUserAbortError, `${e?.name}: ${e?.message}`);
      assert.equal(e.cause, reason);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map(String), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('onQueued: a create held back by the rate limit says so and for how long; throwing stops it unsent', async () => {
  const limited = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { creates: 1, windowMs: 1500 }, fetch: recording });
  /** @type {any[]} */
  const events = [];
  const onQueued = (/** @type {any} */ e) => events.push(e);
  const t0 = Date.now();
  await limited.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }, { onQueued });
  assert.deepEqual(events, [], 'the first create waits for nothing');
  await limited.imports.create({ schema_id: CONTACTS, original_filename: 'b.csv' }, { onQueued });
  assert.equal(events.length, 1);
  assert.equal(events[0].kind, 'create');
  assert.ok(events[0].waitMs > 1000 && events[0].waitMs <= 1600, `waitMs ${events[0].waitMs}`);
  assert.ok(Date.now() - t0 >= 1500);
  // The flows take it too, and a throwing callback stops the call before its create is sent.
  const before = sent.length;
  const oops = new Error('no queueing in this script');
  const e = await rejects(
    limited.importRows([{ email: 'a@example.com' }], { schema_id: CONTACTS, onQueued: () => { throw oops; } }),
    hi.HeadlessImportsError,
    { code: 'callback_error', cause: oops },
  );
  assert.match(e.message, /onQueued threw/);
  assert.ok(!(e instanceof hi.ValidationError));
  assert.equal(sent.length, before, 'the create was never sent');
});

test('one rule for callbacks: onStatus and onProgress that throw stop the call with callback_error and the import', async () => {
  const bad = new Error('bug in my onStatus');
  const e1 = await rejects(
    dromo.importFile(new File([CSV], 'c.csv'), { schema_id: CONTACTS, onStatus: () => { throw bad; } }),
    hi.HeadlessImportsError,
    { code: 'callback_error', cause: bad },
  );
  assert.ok(!(e1 instanceof hi.ValidationError), 'not a ValidationError: the import exists');
  assert.match(e1.import?.id ?? '', /./);
  // onProgress: the upload stops; Exa's importFile deletes the import it made for it.
  const big = new File(['url,name\n' + 'https://a.example,A\n'.repeat(200_000)], 'big.csv');
  const worse = new Error('bug in my onProgress');
  const e2 = await rejects(
    exa.importFile(big, { entity: { type: 'company' }, onProgress: () => { throw worse; } }),
    hi.HeadlessImportsError,
    { code: 'callback_error', cause: worse, deleted: true },
  );
  assert.match(e2.message, /onProgress threw/);
  await rejects(exa.imports.retrieve(e2.import.id), hi.NotFoundError);
  const e3 = await rejects(
    dromo.importFile(new File([CSV], 'c.csv'), { schema_id: CONTACTS, onProgress: () => { throw worse; } }),
    hi.HeadlessImportsError,
    { code: 'callback_error', cause: worse },
  );
  assert.equal((await dromo.imports.retrieve(e3.import.id)).id, e3.import.id, 'the import is on the error');
});

test('per-call options refuse unknown keys, as the constructor does (a misspelt signal is not ignored)', async () => {
  const before = sent.length;
  const signal = new AbortController().signal;
  const e1 = await rejects(dromo.imports.retrieve('abc', { singal: signal }), hi.ValidationError, { path: 'opts.singal' });
  assert.match(e1.message, /did you mean `signal`/);
  await rejects(dromo.imports.waitForCompletion('abc', { intervalMS: 2000 }), hi.ValidationError, { path: 'opts.intervalMS' });
  await rejects(dromo.imports.list({ offest: 10 }), hi.ValidationError, { path: 'params.offest' });
  await rejects(exa.imports.list({ curser: 'x' }), hi.ValidationError, { path: 'params.curser' });
  await rejects(exa.imports.delete('abc', { timeout: 5 }), hi.ValidationError, { path: 'opts.timeout' });
  assert.equal(sent.length, before, 'nothing was sent');
  // The known ones still work.
  const page = await dromo.imports.list({ limit: 1, signal, timeoutMs: 5000, maxRetries: 0, headers: { 'x-trace': '1' } });
  assert.ok(Array.isArray(page.results));
});

test('a wrong base URL says what is likely wrong: no HTML in the message, the refused connection named', async () => {
  const origin = new URL(emu.api).origin;
  // Dromo without /api/v1: the emulator answers Django's HTML 404 page.
  const noPath = new hi.Dromo({ apiKey: KEY, baseUrl: origin });
  const e1 = await rejects(noPath.imports.list(), hi.NotFoundError, { status: 404 });
  assert.doesNotMatch(e1.message, /<h1>|<html/i);
  assert.match(e1.message, /Is baseUrl right\? Dromo's API is at https:\/\/app\.dromo\.io\/api\/v1/);
  // Exa without /websets.
  const e2 = await rejects(new hi.Exa({ apiKey: EXA_KEY, baseUrl: origin }).imports.list(), hi.NotFoundError);
  assert.match(e2.message, /Is baseUrl right\? Exa's API is at https:\/\/api\.exa\.ai\/websets/);
  // An unknown id is still just that: no base URL hint.
  const e3 = await rejects(dromo.imports.retrieve('no-such-import'), hi.NotFoundError);
  assert.doesNotMatch(e3.message, /baseUrl/);
  // What an exa-js user passes, and Dromo's app address: refused at once.
  assert.throws(() => new hi.Exa({ apiKey: EXA_KEY, baseUrl: 'https://api.exa.ai' }), (e) => e instanceof hi.ValidationError && /api\.exa\.ai\/websets/.test(e.message));
  assert.throws(() => new hi.Dromo({ apiKey: KEY, baseUrl: 'https://app.dromo.io/' }), (e) => e instanceof hi.ValidationError && /\/api\/v1/.test(e.message));
  // A dead port: one just freed.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  await new Promise((resolve) => server.close(resolve));
  const dead = new hi.Dromo({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}/api/v1`, maxRetries: 0 });
  const e4 = await rejects(dead.imports.list(), hi.APIConnectionError);
  assert.match(e4.message, /ECONNREFUSED/);
  assert.match(e4.message, /Nothing is listening there/);
});

test('the Node-only helpers in a browser entry fail with a typed error', async () => {
  const stubs = await import(path.join(installPackage(), 'node_modules/headless-imports/browser-stubs.js'));
  await rejects(stubs.fileFromPath('x.csv'), hi.HeadlessImportsError, { code: 'not_available_here' });
});

test('the packed README links only to files the tarball has; package.json says where the repository is', () => {
  const dir = path.join(installPackage(), 'node_modules/headless-imports');
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const targets = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)\s]*)?\)/g)].map((m) => m[1]);
  assert.ok(targets.length >= 5, 'the README has links');
  for (const t of targets) {
    if (/^[a-z]+:/i.test(t)) assert.match(t, /^https:\/\//, t);
    else assert.ok(fs.existsSync(path.join(dir, t)), `${t} is linked but not in the tarball`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  assert.match(pkg.repository.url, /^git\+https:\/\//);
  assert.match(pkg.homepage, /^https:\/\//);
  assert.match(pkg.bugs.url, /^https:\/\//);
  assert.doesNotMatch(readme, /^npm i headless-imports$/m, 'the install line that works today comes first');
});

test("the README's first code snippet runs as pasted (only baseUrl pointed at the emulator)", async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const snippet = /```js\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const client = 'new Dromo({ apiKey: process.env.DROMO_API_KEY })';
  assert.ok(snippet.includes(client) && snippet.includes("fileFromPath('contacts.csv')"), snippet);
  const dir = installPackage();
  fs.copyFileSync(path.join(ROOT, 'examples/contacts.csv'), path.join(dir, 'contacts.csv'));
  const code = snippet.replace(client, `new Dromo({ apiKey: process.env.DROMO_API_KEY, baseUrl: ${JSON.stringify(emu.api)} })`);
  fs.writeFileSync(path.join(dir, 'readme-snippet.mjs'), code);
  const run = spawnSync(process.execPath, ['readme-snippet.mjs'], { cwd: dir, env: { ...process.env, DROMO_API_KEY: KEY }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /uploaded \d+\/\d+ bytes/);
  assert.match(run.stdout, /SUCCESSFUL/);
  assert.match(run.stdout, / \d+ rows$/m);
});

test('a create answered without an upload URL is an invalid_response APIError with the import, never a PUT to ""', async () => {
  /** A fetch whose create answers lose their upload URL (a proxy that trims fields, say). @param {string} field */
  const trimming = (field) => /** @type {typeof fetch} */ (async (input, init) => {
    const res = await fetch(input, init);
    if (init?.method !== 'POST') return res;
    const body = await res.json();
    delete body[field];
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  });
  const d = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, fetch: trimming('upload') });
  const e1 = await rejects(d.importFile(new File([CSV], 'c.csv'), { schema_id: CONTACTS }), hi.APIError, { code: 'invalid_response' });
  assert.match(e1.import?.id ?? '', /./);
  const x = new hi.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href, fetch: trimming('uploadUrl') });
  const e2 = await rejects(x.importFile(new File([COMPANIES], 'c.csv'), { entity: { type: 'company' } }), hi.APIError, { code: 'invalid_response', deleted: true });
  assert.match(e2.import?.id ?? '', /./);
});

test('second trial: async callbacks, upload options, a burst told its waits at once, hints on 405, review reasons, typed nextPage', async () => {
  // An async callback that rejects stops the call like one that throws (no unhandled rejection).
  const unhandled = [];
  const onUnhandled = (/** @type {unknown} */ e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const bad = new Error('async bug');
    await rejects(
      dromo.importFile(new File([CSV], 'c.csv'), { schema_id: CONTACTS, onStatus: async () => { throw bad; } }),
      hi.HeadlessImportsError,
      { code: 'callback_error', cause: bad },
    );
    // An async onCreated is awaited before the upload starts.
    const order = [];
    await dromo.importFile(new File([CSV], 'c.csv'), {
      schema_id: CONTACTS,
      onCreated: async () => { await new Promise((r) => setTimeout(r, 50)); order.push('created'); },
      onProgress: () => order.push('progress'),
    });
    assert.equal(order[0], 'created');
    // An async onProgress is not awaited, but its rejection stops the upload as a throw does.
    const big = new File(['url,name\n' + 'https://a.example,A\n'.repeat(200_000)], 'big.csv');
    const slow = new Error('async progress bug');
    await rejects(
      exa.importFile(big, { entity: { type: 'company' }, onProgress: async () => { throw slow; } }),
      hi.HeadlessImportsError,
      { code: 'callback_error', cause: slow, deleted: true },
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  // imports.upload refuses a misspelt option like every other call, before any request.
  const imp = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'c.csv' });
  const before = sent.length;
  await rejects(dromo.imports.upload(imp, CSV, { singal: AbortSignal.abort() }), hi.ValidationError, { path: 'opts.singal' });
  assert.equal(sent.length, before);
  // A burst: each queued create is told its wait when it joins the queue, not when it reaches the front.
  const limited = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { creates: 1, windowMs: 600 } });
  /** @type {{ at: number, waitMs: number }[]} */
  const told = [];
  const t0 = Date.now();
  const onQueued = (/** @type {any} */ e) => told.push({ at: Date.now() - t0, waitMs: e.waitMs });
  await Promise.all([0, 1, 2].map((i) => limited.imports.create({ schema_id: CONTACTS, original_filename: `${i}.csv` }, { onQueued })));
  assert.equal(told.length, 2, JSON.stringify(told));
  assert.ok(told.every((t) => t.at < 300), `told at once: ${JSON.stringify(told)}`);
  const waits = told.map((t) => t.waitMs).sort((a, b) => a - b);
  assert.ok(waits[0] >= 550 && waits[1] >= 2 * 550, `the second in line waits two windows: ${waits}`);
  // 405 from something that is not the API (Dromo's path missing from baseUrl): the same hint as a 404.
  const origin = new URL(emu.api).origin;
  const e405 = await rejects(new hi.Dromo({ apiKey: KEY, baseUrl: origin, maxRetries: 0 }).imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }), hi.APIError);
  if (e405.status === 405) assert.match(e405.message, /Is baseUrl right\?/);
  // An Exa create answered 404 (no /websets) says so too.
  const e404 = await rejects(new hi.Exa({ apiKey: EXA_KEY, baseUrl: `${origin}/v1` }).imports.create({ format: 'csv', entity: { type: 'company' }, size: 10, count: 1 }), hi.NotFoundError);
  assert.match(e404.message, /Is baseUrl right\?/);
  // NEEDS_REVIEW says what Dromo said.
  const review = await rejects(dromo.importFile(new File(['First Name,Last Name\nAda,Lovelace\n'], 'r.csv'), { schema_id: CONTACTS, timeoutMs: 20_000 }), hi.NeedsReviewError);
  assert.match(review.message, /needs a review \(.+\)/);
  // abort(new Error(...)) says its message too.
  const c = new AbortController();
  c.abort(new Error('user clicked cancel'));
  const ab = await rejects(dromo.imports.retrieve(imp.id, { signal: c.signal }), hi.APIUserAbortError);
  assert.match(ab.message, /user clicked cancel/);
  // nextPage past the last page: a typed error.
  const last = await dromo.imports.list({ offset: 100_000, limit: 5 });
  await rejects(last.nextPage(), hi.HeadlessImportsError, { code: 'no_next_page' });
});
