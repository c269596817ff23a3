// @ts-check
// `rateLimit: { store }` with `headless-imports/redis`, for real: a redis-server of the test's own
// on a loopback port, both client flavours (node-redis and ioredis, from tests/node_modules), and
// worker processes driving the packed package against the emulator, which enforces Dromo's limits
// (20 creates per window per key, 12 polls per window per import) on a scaled clock (a 60 s
// window lasts 600 ms). Skipped, saying why, only where redis-server cannot be installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTACTS, KEY, control, installPackage, loadPackage, startEmulator } from './helpers/env.js';
import { noRedis, redisClient, redisEntry, startRedis } from './helpers/redis.js';

const WORKER = fileURLToPath(new URL('./helpers/limit-worker.mjs', import.meta.url));
const WINDOW_MS = 600;
const skip = noRedis;

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {Awaited<ReturnType<typeof startRedis>>} */ let redis;
/** @type {string} */ let pkgDir;
/** @type {any} */ let hi;
/** @type {any} */ let store;
/** @type {string} */ let dir;
/** @type {string} */ let csv;

before(async () => {
  if (skip) return;
  pkgDir = installPackage();
  hi = await loadPackage();
  store = await redisEntry(pkgDir);
  [emu, redis] = await Promise.all([startEmulator(['--time-scale', '0.01']), startRedis()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-redis-test-'));
  csv = path.join(dir, 'contacts.csv');
  fs.writeFileSync(csv, 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n');
});

after(async () => {
  await Promise.all([emu?.stop(), redis?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const origin = () => new URL(emu.api).origin;
const reset = () => fetch(`${origin()}/_emulator/reset`, { method: 'POST' });
const stats = () => control(`${origin()}/_emulator/stats`);

/**
 * One worker process (tests/js/helpers/limit-worker.mjs); `exited` resolves with its exit and
 * its result line. Killed if it runs past `limitMs`.
 * @param {Record<string, unknown>} settings
 */
function worker(settings, limitMs = 120_000) {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, HI_WORKER: JSON.stringify({ pkgDir, api: emu.api, windowMs: WINDOW_MS, ...settings }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  /** @type {(() => void)[]} */
  const onOut = [];
  child.stdout.on('data', (b) => {
    out += b;
    for (const f of onOut) f();
  });
  child.stderr.on('data', (b) => (err += b));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null, result: any, err: string }>} */
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      let result = null;
      try {
        result = JSON.parse(last);
      } catch {}
      resolve({ code, signal, result, err });
    }),
  );
  /** Resolves once the worker has printed `text` (or has exited). @param {string} text */
  const printed = (text) =>
    new Promise((resolve) => {
      const check = () => (out.includes(text) || child.exitCode !== null || child.signalCode !== null) && resolve(undefined);
      onOut.push(check);
      child.once('exit', check);
      check();
    });
  return { child, exited, printed };
}

/** Every key in the test's Redis with its type, TTL and contents. */
async function everything() {
  const { client, close } = await redisClient('node-redis', redis.url);
  try {
    /** @type {{ key: string, type: string, ttl: number, values: string[] }[]} */
    const out = [];
    let cursor = '0';
    // SCAN visits every key at least once; bounded in case a cursor never comes back to 0.
    for (let round = 0; round < 10_000; round++) {
      const page = await client.scan(cursor, { COUNT: 1000 });
      for (const key of page.keys) {
        const type = await client.type(key);
        // Expired between SCAN and now (short leases make short-lived windows): nothing to read.
        if (type === 'none') continue;
        const values = type === 'hash' ? Object.entries(await client.hGetAll(key)).flat() : [String(await client.dump(key))];
        const ttl = await client.pTTL(key);
        // -2: gone since (expired); -1 would be a key that never expires.
        if (ttl !== -2) out.push({ key, type, ttl, values });
      }
      cursor = String(page.cursor);
      if (cursor === '0') return out;
    }
    throw new Error('SCAN did not finish');
  } finally {
    await close();
  }
}

for (const flavour of /** @type {const} */ (['node-redis', 'ioredis'])) {
  test(`4 worker processes x 50 importFile on one key, limits shared through ${flavour}: all done, 0 429s`, { skip, timeout: 180_000 }, async () => {
    await reset();
    const t0 = Date.now();
    const runs = Array.from({ length: 4 }, () => worker({ n: 50, store: true, flavour, url: redis.url, prefix: `fleet-${flavour}` }));
    const done = await Promise.all(runs.map((r) => r.exited));
    const elapsed = Date.now() - t0;
    for (const d of done) {
      assert.equal(d.code, 0, d.err);
      assert.deepEqual({ ok: d.result.ok, firstError: d.result.firstError }, { ok: 50, firstError: undefined });
    }
    const s = await stats();
    assert.equal(s.throttled, 0, 'no 429 at all');
    assert.equal(s.requests['dromo.create'], 200, 'one create per import: none was retried');
    // 200 creates at 20 a window cannot take less than 9 windows after the first burst.
    assert.ok(elapsed >= 9 * WINDOW_MS, `${elapsed} ms`);
  });
}

test('a worker killed (SIGKILL) mid-run holds nothing: the other three finish, 0 429s', { skip, timeout: 180_000 }, async () => {
  await reset();
  // A short request timeout is a short lease: the dead worker's slots free 2 s after their start.
  const settings = { n: 50, store: true, flavour: 'ioredis', url: redis.url, prefix: 'killed', timeoutMs: 2000 };
  const runs = Array.from({ length: 4 }, () => worker(settings));
  // Mid-run: 60 of the 200 creates sent, so the victim holds slots both in flight and queued.
  const deadline = Date.now() + 60_000;
  while (((await stats()).requests['dromo.create'] ?? 0) < 60) {
    assert.ok(Date.now() < deadline, 'the run never got going');
    await new Promise((r) => setTimeout(r, 20));
  }
  runs[0].child.kill('SIGKILL');
  const [victim, ...rest] = await Promise.all(runs.map((r) => r.exited));
  assert.equal(victim.signal, 'SIGKILL');
  for (const d of rest) {
    assert.equal(d.code, 0, d.err);
    assert.deepEqual({ ok: d.result.ok, firstError: d.result.firstError }, { ok: 50, firstError: undefined });
  }
  assert.equal((await stats()).throttled, 0, 'no 429 at all');
});

test('a worker killed (SIGKILL) while it holds queued slots costs the others seconds, not its lease: each survivor is answered well within a lease of what onQueued said, 0 429s', { skip, timeout: 180_000 }, async (t) => {
  await reset();
  // The request timeout is the lease: what a dead worker's slots held the window for, until
  // Redis heard from their holders (a heartbeat a second; silent for 3 s is gone).
  const lease = 30_000;
  const settings = { n: 30, store: true, flavour: 'ioredis', url: redis.url, prefix: 'dead', timeoutMs: lease, trace: true };
  const runs = Array.from({ length: 3 }, () => worker(settings));
  // Killed as soon as one of its creates waits for a slot: it then holds queued slots, and
  // (most likely) some in flight.
  await runs[0].printed('"queued":true');
  runs[0].child.kill('SIGKILL');
  const [victim, ...rest] = await Promise.all(runs.map((r) => r.exited));
  assert.equal(victim.signal, 'SIGKILL');
  /** @type {number[]} */
  const late = [];
  for (const d of rest) {
    assert.equal(d.code, 0, d.err);
    assert.deepEqual({ ok: d.result.ok, firstError: d.result.firstError }, { ok: 30, firstError: undefined });
    late.push(...d.result.late);
  }
  assert.ok(late.length > 0, 'the survivors waited for slots');
  // Each survivor create that waited was answered less than a lease after the time onQueued
  // gave it: none waited for the dead worker's lease (before, the ones after its queued slots
  // each waited a whole lease more than they were told).
  t.diagnostic(`${late.length} survivor creates waited; answered after onQueued's time by at most ${Math.max(...late)} ms`);
  const overLease = late.filter((ms) => ms >= lease);
  assert.deepEqual(overLease, [], `lateness beyond onQueued, ms: max ${Math.max(...late)}`);
  assert.equal((await stats()).throttled, 0, 'no 429 at all');
});

test('a worker stopped (SIGSTOP) for 8 s mid-run and then continued sends nothing in places given away meanwhile: both finish, 0 429s', { skip, timeout: 180_000 }, async () => {
  await reset();
  // Creates and uploads only, so that the other worker is long done when this one wakes.
  const settings = { n: 60, store: true, flavour: 'node-redis', url: redis.url, prefix: 'stopped', wait: false, sends: true };
  const runs = [worker(settings), worker({ ...settings, flavour: 'ioredis' })];
  // Stopped after the first window, with creates queued behind it, between two windows' sends
  // (no create for 150 ms): a stop in the instant between a worker's last check and its request
  // leaving sends that one late, which nothing can prevent (see the README). The other worker
  // takes its places once it is silent for 3 s. Woken, it must ask again (and queue anew), not
  // send where it stood.
  const deadline = Date.now() + 60_000;
  let seen = 0, since = Date.now();
  for (;;) {
    assert.ok(Date.now() < deadline, 'the run never got going');
    const creates = (await stats()).requests['dromo.create'] ?? 0;
    if (creates !== seen) [seen, since] = [creates, Date.now()];
    else if (creates >= 20 && Date.now() - since >= 150) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  runs[0].child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 8000));
  runs[0].child.kill('SIGCONT');
  const done = await Promise.all(runs.map((r) => r.exited));
  const sends = done.flatMap((d, i) => (d.result?.sent ?? []).map((t) => [t, i])).sort((a, b) => a[0] - b[0]);
  const t0 = sends[0]?.[0] ?? 0;
  const timeline = sends.map(([t, i]) => `${i ? 'B' : 'A'}${t - t0}`).join(' ');
  for (const d of done) {
    assert.equal(d.code, 0, d.err);
    assert.deepEqual({ ok: d.result.ok, firstError: d.result.firstError }, { ok: 60, firstError: undefined }, timeline);
  }
  assert.equal((await stats()).throttled, 0, `no 429 at all; creates sent at ${timeline}`);
});

test("Redis holds no trace of the API key: every key and value (SCAN) names the account by a hash, and expires", { skip, timeout: 60_000 }, async () => {
  await reset();
  const { client, close } = await redisClient('node-redis', redis.url);
  try {
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: store.redisRateLimitStore(client, { prefix: 'scan' }) } });
    const file = await hi.fileFromPath(csv);
    const done = await Promise.all(Array.from({ length: 3 }, () => dromo.importFile(file, { schema_id: CONTACTS })));
    assert.equal(done.length, 3);
  } finally {
    await close();
  }
  const all = await everything();
  const mine = all.filter((k) => k.key.startsWith('scan:'));
  // The creates' window, and each import's polls.
  assert.ok(mine.some((k) => /^scan:[0-9a-f]{16}:c$/.test(k.key)), JSON.stringify(mine.map((k) => k.key)));
  assert.ok(mine.filter((k) => /^scan:[0-9a-f]{16}:p:\/headless\/imports\/[^/]+\/$/.test(k.key)).length >= 3);
  // Whatever else is there (the other tests' windows, when run together) is checked alike.
  for (const k of all) {
    assert.ok(!k.key.includes(KEY), `key ${k.key}`);
    for (const v of k.values) assert.ok(!v.includes(KEY), `${k.key} holds the key`);
    assert.equal(k.type, 'hash', k.key);
    assert.ok(k.ttl >= 0 && k.ttl <= 120_000, `${k.key} expires (TTL ${k.ttl} ms)`);
  }
  // One account, one namespace: every window of these clients shares the hash.
  assert.equal(new Set(mine.map((k) => k.key.split(':')[1])).size, 1);
});

test("a 429's Retry-After holds every client on the store: the next create waits it out", { skip, timeout: 60_000 }, async () => {
  await reset();
  const faults = await fetch(`${origin()}/_emulator/faults`, {
    method: 'POST',
    body: JSON.stringify({ rules: [{ route: 'dromo.create', kind: 'rate_limit', count: 1, retry_after_ms: 500 }] }),
  });
  assert.equal(faults.status, 200);
  const { client, close } = await redisClient('ioredis', redis.url);
  try {
    const shared = store.redisRateLimitStore(client, { prefix: 'pause' });
    const options = { apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: shared } };
    const a = new hi.Dromo({ ...options, maxRetries: 0 });
    const b = new hi.Dromo(options);
    const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
    const refused = await a.imports.create(params).catch((/** @type {any} */ e) => e);
    assert.ok(refused instanceof hi.RateLimitError, String(refused));
    const t0 = Date.now();
    /** @type {number[]} */
    const told = [];
    await b.imports.create(params, { onQueued: (/** @type {any} */ e) => told.push(e.waitMs) });
    const waited = Date.now() - t0;
    // b never saw the 429; only the store told it to wait (its window was otherwise empty).
    assert.ok(waited >= 450, `b's create went after ${waited} ms`);
    assert.equal(told.length, 1);
    assert.ok(told[0] >= 450 && told[0] <= 500, `onQueued waitMs ${told[0]}`);
  } finally {
    await close();
    await fetch(`${origin()}/_emulator/faults`, { method: 'DELETE' });
  }
});

test('a send given up while it waits for a shared slot (abort) rejects at once and releases its slot', { skip, timeout: 60_000 }, async () => {
  await reset();
  const { client, close } = await redisClient('node-redis', redis.url);
  try {
    const shared = store.redisRateLimitStore(client, { prefix: 'abort' });
    // One create a minute: the second waits on the first's answer, then a whole window.
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { creates: 1, windowMs: 60_000, store: shared } });
    const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
    await dromo.imports.create(params);
    const t0 = Date.now();
    const e = await dromo.imports.create(params, { signal: AbortSignal.timeout(200) }).catch((/** @type {any} */ x) => x);
    assert.ok(e instanceof hi.APIUserAbortError, String(e));
    assert.ok(Date.now() - t0 < 5000, 'gave up at the abort, not after the window');
    assert.equal((await stats()).requests['dromo.create'], 1, 'the second create was never sent');
    // Its slot (the second) is released as never sent, so nothing waits on it for a lease.
    const [key] = await client.keys('abort:*:c');
    const fields = await client.hGetAll(key);
    assert.equal(fields.n, '2');
    // (node-redis answers HEXISTS with 1 or true, by version.)
    await waitFor(async () => Number(await client.hExists(key, 'v2')) === 1);
    assert.equal(Number(await client.hExists(key, 'a2')), 0);
  } finally {
    await close();
  }
});

test('a store that never decides: abort and timeoutMs end the call with their own errors, and a late answer is released, not leaked', { skip, timeout: 60_000 }, async () => {
  await reset();
  /** @type {unknown[]} */
  const unhandled = [];
  const onUnhandled = (/** @type {unknown} */ e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    /** @type {{ req: any, resolve: (v: unknown) => void, reject: (e: unknown) => void }[]} */
    const asked = [];
    /** @type {any[]} */
    const released = [];
    const hanging = {
      acquire: (/** @type {any} */ req) => new Promise((resolve, reject) => asked.push({ req, resolve, reject })),
      release: (/** @type {any} */ req) => void released.push({ ...req }),
      pause() {},
    };
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: hanging } });
    const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
    // Aborted while the store decides: APIUserAbortError, the reason as its cause.
    const ac = new AbortController();
    const aborted = dromo.imports.create(params, { signal: ac.signal }).catch((/** @type {any} */ x) => x);
    await waitFor(async () => asked.length === 1);
    const reason = new Error('user cancelled');
    ac.abort(reason);
    const e = await aborted;
    assert.ok(e instanceof hi.APIUserAbortError, String(e));
    assert.equal(e.cause, reason);
    // The request's own timeout covers the decision too (the store has none of its own here).
    const timedOut = await dromo.imports.create(params, { timeoutMs: 200 }).catch((/** @type {any} */ x) => x);
    assert.ok(timedOut instanceof hi.APIConnectionTimeoutError, String(timedOut));
    assert.match(timedOut.message, /rateLimit\.store.*200 ms/);
    assert.equal(asked.length, 2);
    // The store answers at last: the first slot it hands out is nobody's, so it goes back at
    // once, marked as never sent; a late rejection is dropped, never unhandled.
    asked[0].resolve({ slot: 7, waitMs: 0, firm: true });
    asked[1].reject(new Error('too late'));
    await waitFor(async () => released.length === 1);
    assert.deepEqual({ slot: released[0].slot, sent: released[0].sent, key: typeof released[0].key }, { slot: 7, sent: false, key: 'string' });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(unhandled, []);
    assert.deepEqual((await stats()).requests, {}, 'nothing reached the API');
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test("the README's worker example, as pasted (only baseUrl added): 12 files through node-redis while Redis restarts mid-run: each imported or reported, none lost, the worker alive", { skip, timeout: 120_000 }, async () => {
  await reset();
  const readme = fs.readFileSync(path.join(fileURLToPath(new URL('../../README.md', import.meta.url))), 'utf8');
  const section = readme.slice(readme.indexOf('## Many workers'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code?.includes('redisRateLimitStore(redis)'), 'the section has its example');
  const script = path.join(pkgDir, 'readme-worker.mjs');
  fs.writeFileSync(script, /** @type {string} */ (code).replace('new Dromo({ apiKey', 'new Dromo({ baseUrl: process.env.HI_BASE_URL, apiKey'));
  // The example's `import ... from 'redis'` resolves next to the package, as in a user's project.
  for (const dep of ['redis', '@redis']) {
    const to = path.join(pkgDir, 'node_modules', dep);
    if (!fs.existsSync(to)) fs.symlinkSync(fileURLToPath(new URL(`../node_modules/${dep}`, import.meta.url)), to);
  }
  // A Redis of its own, restarted on the same port without its data while the worker runs.
  const own = await startRedis();
  const files = Array.from({ length: 12 }, (_, i) => {
    const f = path.join(dir, `w${i}.csv`);
    fs.writeFileSync(f, 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n');
    return f;
  });
  const child = spawn(process.execPath, [script, ...files], {
    env: { ...process.env, REDIS_URL: own.url, DROMO_API_KEY: KEY, DROMO_SCHEMA_ID: CONTACTS, HI_BASE_URL: emu.api },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  const limit = setTimeout(() => child.kill('SIGKILL'), 90_000);
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let again;
  try {
    // Once the first create has gone out, Redis dies and comes back empty 300 ms later.
    await waitFor(async () => ((await stats()).requests['dromo.create'] ?? 0) >= 1 || child.exitCode !== null);
    await own.kill();
    await new Promise((r) => setTimeout(r, 300));
    again = spawn('redis-server', ['--port', String(own.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const code = await exited;
    assert.equal(code, 0, `the worker exited ${code}: ${err}`);
    // Every file is reported: imported, or (a decision in flight when Redis died) refused before
    // anything was sent, to be run again; none is lost or sent twice.
    const lines = out.trim().split('\n');
    assert.equal(lines.length, files.length, out);
    for (const l of lines) assert.match(l, /^w\d+\.csv ([0-9a-f-]{36} 1 rows|failed: The shared rate-limit store \(rateLimit\.store\) failed)/, out);
    const imported = lines.filter((l) => l.endsWith(' 1 rows')).length;
    assert.ok(imported >= 1, out);
    assert.ok((await stats()).requests['dromo.create'] >= imported, 'every imported file was created once');
    assert.match(err, /^redis: /m, 'the restart was seen and logged, not fatal');
  } finally {
    clearTimeout(limit);
    child.kill('SIGKILL');
    again?.kill('SIGKILL');
  }
});

test('a store that answers a wait no window could give (31,000 years) fails the call with rate_limit_store instead of holding it for ever', { skip, timeout: 60_000 }, async () => {
  await reset();
  const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
  const liar = (/** @type {any} */ answer) => ({ acquire: async () => answer, release() {}, pause() {} });
  // waitMs past setTimeout's range, like Infinity, is malformed.
  const far = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: liar({ slot: 1, waitMs: 1e15, firm: true }) } });
  const e1 = await far.imports.create(params, { timeoutMs: 500 }).catch((/** @type {any} */ x) => x);
  assert.equal(e1?.code, 'rate_limit_store', String(e1));
  assert.match(e1.message, /waitMs \(at most 2\^31 - 1\)/);
  assert.deepEqual((await stats()).requests, {}, 'nothing reached the API');
});

test('Redis stalled (SIGSTOP): abort and timeoutMs end the call at once with their own errors, not rate_limit_store at the store\'s timeoutMs; the slots taken once Redis wakes are released', { skip, timeout: 60_000 }, async () => {
  const stalled = await startRedis();
  const { client, close } = await redisClient('ioredis', stalled.url);
  try {
    await reset();
    // The store waits far longer than this test lasts: only the call's own abort or timeout can
    // end a decision while Redis is stopped.
    const shared = store.redisRateLimitStore(client, { prefix: 'stalled', timeoutMs: 600_000 });
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: shared } });
    const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
    await dromo.imports.create(params);
    stalled.freeze();
    const reason = new Error('user cancelled');
    const aborted = dromo.imports.create(params, { signal: AbortSignal.timeout(100) }).catch((/** @type {any} */ x) => x);
    const ac = new AbortController();
    const cancelled = dromo.imports.create(params, { signal: ac.signal }).catch((/** @type {any} */ x) => x);
    setTimeout(() => ac.abort(reason), 100);
    const timedOut = dromo.imports.create(params, { timeoutMs: 100 }).catch((/** @type {any} */ x) => x);
    // All three end while Redis is still stopped (it is continued only after).
    const [a, c, t] = await Promise.all([aborted, cancelled, timedOut]);
    assert.ok(a instanceof hi.APIUserAbortError, String(a));
    assert.equal(a.cause?.name, 'TimeoutError', 'AbortSignal.timeout\'s reason is the cause');
    assert.ok(c instanceof hi.APIUserAbortError, String(c));
    assert.equal(c.cause, reason);
    assert.ok(t instanceof hi.APIConnectionTimeoutError, String(t));
    stalled.thaw();
    // Redis runs the three queued takes now: slots 2, 3 and 4, each released as it lands.
    const [key] = await client.keys('stalled:*:c');
    await waitFor(() => released(client, key, [2, 3, 4]));
    assert.equal((await stats()).requests['dromo.create'], 1, 'only the first create was sent');
  } finally {
    stalled.thaw();
    await close();
    await stalled.stop();
  }
});

/**
 * Whether every slot in `slots` of window `key` is released (answered, or dropped unsent).
 * @param {any} client an ioredis client @param {string} key @param {number[]} slots
 */
async function released(client, key, slots) {
  const fields = await client.hgetall(key);
  return slots.every((k) => `a${k}` in fields || `v${k}` in fields);
}

/** Polls `check` every 20 ms until it holds, for at most 5 s. @param {() => Promise<boolean>} check */
async function waitFor(check) {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'never happened');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const flavour of /** @type {const} */ (['node-redis', 'ioredis'])) {
  test(`the script's text goes to Redis once for a burst (${flavour}), and again after Redis lost it (SCRIPT FLUSH)`, { skip, timeout: 60_000 }, async () => {
    const own = await startRedis();
    const { client, close } = await redisClient(flavour, own.url);
    const { client: admin, close: closeAdmin } = await redisClient('node-redis', own.url);
    try {
      const shared = store.redisRateLimitStore(client);
      const calls = async () => {
        const info = await admin.info('commandstats');
        const count = (/** @type {string} */ cmd) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
        return { eval: count('eval'), evalsha: count('evalsha') };
      };
      const req = { key: 'burst:c', max: 20, windowMs: WINDOW_MS, marginMs: 6, leaseMs: 1000 };
      const burst = await Promise.all(Array.from({ length: 30 }, () => shared.acquire(req)));
      assert.deepEqual(burst.map((a) => a.slot).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
      assert.deepEqual(await calls(), { eval: 1, evalsha: 29 });
      // Given back (unsent): a store that holds nothing sends no heartbeats.
      await Promise.all(burst.map((a) => shared.release({ ...req, slot: a.slot, sent: false })));
      await admin.configResetStat();
      await admin.scriptFlush();
      const after = await shared.acquire(req);
      assert.equal(after.slot, 31);
      // The refused EVALSHA, then the text once more.
      assert.deepEqual(await calls(), { eval: 1, evalsha: 1 });
    } finally {
      await Promise.all([close(), closeAdmin()]);
      await own.stop();
    }
  });

  test(`Redis gone (${flavour}): 'fail' rejects with rate_limit_store before any request; 'memory' goes on`, { skip, timeout: 60_000 }, async () => {
    const lost = await startRedis();
    const { client, close } = await redisClient(flavour, lost.url);
    try {
      await lost.kill();
      const file = await hi.fileFromPath(csv);
      const client_ = (/** @type {'fail' | 'memory'} */ onError) =>
        new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: store.redisRateLimitStore(client, { onError, timeoutMs: 300 }) } });
      await reset();
      const e = await client_('fail').importFile(file, { schema_id: CONTACTS }).catch((/** @type {any} */ x) => x);
      assert.ok(e instanceof hi.HeadlessImportsError, String(e));
      assert.equal(e.code, 'rate_limit_store');
      assert.match(e.message, /rateLimit\.store.*This request was not sent/);
      assert.ok(e.cause instanceof Error, 'the store\'s error is the cause');
      assert.deepEqual((await stats()).requests, {}, 'no request reached the API');
      await reset();
      const { import: imp } = await client_('memory').importFile(file, { schema_id: CONTACTS });
      assert.equal(imp.status, 'SUCCESSFUL');
      assert.equal((await stats()).requests['dromo.create'], 1);
    } finally {
      await close();
      await lost.stop();
    }
  });
}

test('processes that ask for many slots at once take turns: each window is shared out between them, not handed to whichever asked first', { skip, timeout: 60_000 }, async () => {
  const own = await startRedis();
  const a = await redisClient('node-redis', own.url);
  const b = await redisClient('ioredis', own.url);
  try {
    // Two processes' stores (a connection each), 20 creates each, asked for together.
    const stores = [store.redisRateLimitStore(a.client, { prefix: 'turns' }), store.redisRateLimitStore(b.client, { prefix: 'turns' })];
    const req = { key: 'k:c', max: 20, windowMs: 60_000, marginMs: 600, leaseMs: 61_000 };
    const asks = stores.map(() => Array.from({ length: 20 }, () => ({ ...req })));
    const slots = await Promise.all(stores.map((st, i) => Promise.all(asks[i].map((ask) => st.acquire(ask)))));
    // Whoever asked first used to get the whole first window (slots 1 to 20): all its sends, and
    // the uploads and polls after them, then ran on one thread while the other process idled.
    // Now each gets a share: asks go 3 at a time per process, so how many each gets depends on
    // how fast each client turns its answers into new asks (the two clients differ, and a busy
    // machine skews them), but neither gets less than a quarter of the window.
    const firstWindow = slots.map((mine) => mine.filter((x) => x.slot <= 20).length);
    assert.ok(Math.min(...firstWindow) >= 5, `first window split ${firstWindow.join(' / ')}`);
    for (const [i, mine] of slots.entries()) {
      await Promise.all(mine.map((x, j) => stores[i].release({ ...asks[i][j], slot: x.slot, sent: false })));
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
    await own.stop();
  }
});

test('an answer released by a process too busy to tell Redis at once counts from when it came, not from when Redis heard of it', { skip, timeout: 60_000 }, async () => {
  const own = await startRedis();
  const { client, close } = await redisClient('node-redis', own.url);
  try {
    const shared = store.redisRateLimitStore(client, { prefix: 'busy' });
    const req = { key: 'k:c', max: 1, windowMs: 1000, marginMs: 10, leaseMs: 5000 };
    const first = { ...req };
    const taken = await shared.acquire(first);
    assert.equal(taken.waitMs, 0);
    // The answer came now; the process then runs 300 ms of other work before the call can leave.
    const released = shared.release({ ...first, slot: taken.slot });
    const until = performance.now() + 300;
    while (performance.now() < until);
    await released;
    const next = await shared.acquire({ ...req });
    // From the answer: 1010 ms less the 300 ms (and what the calls took); from Redis's hearing
    // of it, the whole 1010.
    assert.ok(next.waitMs > 0 && next.waitMs < 760, `the next slot waits ${next.waitMs} ms`);
    await shared.release({ ...req, slot: next.slot, sent: false });
  } finally {
    await close();
    await own.stop();
  }
});

/**
 * A slot asked for while Redis is frozen, by a process then busy for `busyMs` (as if stopped,
 * from the event loop's check phase, so that on waking it runs its due timers before it reads its
 * sockets), Redis being thawed by another process `thawMs` after the ask: resolves with the
 * answer, or rejects as the store gave up.
 * @param {number} timeoutMs the store's @param {number} busyMs @param {number} thawMs
 */
async function stalledAsk(timeoutMs, busyMs, thawMs) {
  const own = await startRedis();
  const { client, close } = await redisClient('node-redis', own.url);
  try {
    const shared = store.redisRateLimitStore(client, { prefix: 'stalled', timeoutMs });
    const req = { key: 'k:c', max: 20, windowMs: 1000, marginMs: 10, leaseMs: 5000 };
    own.freeze();
    const asked = shared.acquire(req);
    await new Promise((r) => setTimeout(r, 20));
    spawn('sh', ['-c', `sleep ${thawMs / 1000}; kill -CONT ${own.pid}`], { stdio: 'ignore' });
    await new Promise((r) => setImmediate(r));
    const until = performance.now() + busyMs;
    while (performance.now() < until);
    const taken = await asked;
    await shared.release({ ...req, slot: taken.slot, sent: false });
    return taken;
  } finally {
    own.thaw();
    await close();
    await own.stop();
  }
}

test("a process stalled past the store's timeoutMs with Redis's reply already in: the reply counts, not the timer that ran out meanwhile", { skip, timeout: 60_000 }, async () => {
  // Redis answers while the process is busy: the reply is in the socket, unread, when it wakes.
  assert.equal((await stalledAsk(200, 400, 100)).waitMs, 0);
});

test("a process stalled for seconds past the store's timeoutMs gives Redis its whole time again once it wakes, rather than failing the call at once", { skip, timeout: 60_000 }, async () => {
  // Redis answers 200 ms after the process wakes from 1.5 s: within a timeoutMs counted from then.
  assert.equal((await stalledAsk(300, 1500, 1700)).waitMs, 0);
});

test("Redis back after an outage with onError: 'memory': what was sent without it holds every process until it is a window old, so recovery draws no 429", { skip, timeout: 60_000 }, async () => {
  // A window of 3 s (time scale 0.05), so that Redis is back well within it.
  const slow = await startEmulator(['--time-scale', '0.05']);
  const own = await startRedis();
  const { client, close } = await redisClient('ioredis', own.url);
  try {
    const windowMs = 3000;
    const shared = store.redisRateLimitStore(client, { prefix: 'outage', onError: 'memory', timeoutMs: 200 });
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: slow.api, maxRetries: 0, rateLimit: { windowMs, store: shared } });
    const params = { schema_id: CONTACTS, original_filename: 'a.csv' };
    own.freeze();
    // Redis stalls: these go within this process's own limits, a whole window's worth.
    await Promise.all(Array.from({ length: 20 }, () => dromo.imports.create(params)));
    own.thaw();
    await client.ping();
    // Redis answers again, and knows nothing of those 20: without the hold it would let the next
    // create go at once, into a window the API has full (a 429; maxRetries 0 makes it the error).
    await dromo.imports.create(params);
    const s = await control(`${new URL(slow.api).origin}/_emulator/stats`);
    assert.equal(s.throttled, 0, 'no 429 on recovery');
    assert.equal(s.requests['dromo.create'], 21);
  } finally {
    own.thaw();
    await close();
    await Promise.all([own.stop(), slow.stop()]);
  }
});

test("a store's error that names the API key reaches the caller without it, in the message and the cause", { skip, timeout: 30_000 }, async () => {
  const leaky = { acquire: async () => { throw new Error(`cannot reach redis as ${KEY}`); }, release: async () => {}, pause: async () => {} };
  const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs: WINDOW_MS, store: leaky } });
  const e = await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' }).catch((/** @type {any} */ x) => x);
  assert.equal(e.code, 'rate_limit_store');
  assert.match(e.message, /cannot reach redis as/);
  for (const text of [e.message, e.cause?.message, String(e.cause?.stack), JSON.stringify(e)]) assert.ok(!text.includes(KEY), text);
});

test('bad stores and options are typed errors before any request; a browser build has no rateLimit.store', { skip, timeout: 60_000 }, async () => {
  const base = { apiKey: KEY, baseUrl: emu.api };
  /** @param {() => unknown} f @param {string} path */
  const refuses = (f, path) => assert.throws(f, (/** @type {any} */ e) => e instanceof hi.ValidationError && e.path === path && e.code === 'validation_error');
  // null too: a store not made yet must not leave every process on its own limits unsaid.
  for (const bad of [{}, 'redis', { acquire() {}, release() {} }, [1], null]) {
    refuses(() => new hi.Dromo({ ...base, rateLimit: { store: bad } }), 'rateLimit.store');
  }
  const fake = { acquire() {}, release() {}, pause() {} };
  refuses(() => new hi.Dromo({ ...base, rateLimit: { store: { ...fake, onError: 'ignore' } } }), 'rateLimit.store.onError');
  refuses(() => store.redisRateLimitStore({ get() {} }), 'client');
  refuses(() => store.redisRateLimitStore(undefined), 'client');
  const { client, close } = await redisClient('node-redis', redis.url);
  try {
    refuses(() => store.redisRateLimitStore(client, { onError: 'retry' }), 'options.onError');
    refuses(() => store.redisRateLimitStore(client, { prefix: '' }), 'options.prefix');
    refuses(() => store.redisRateLimitStore(client, { timeoutMs: 0 }), 'options.timeoutMs');
    // Past what a timer can wait, Node fires it at once: every decision would fail.
    refuses(() => store.redisRateLimitStore(client, { timeoutMs: 2 ** 31 }), 'options.timeoutMs');
    refuses(() => store.redisRateLimitStore(client, { timeoutMs: Infinity }), 'options.timeoutMs');
    const longest = store.redisRateLimitStore(client, { prefix: 'longest', timeoutMs: 2 ** 31 - 1 });
    const took = await longest.acquire({ key: 'x:c', max: 20, windowMs: WINDOW_MS, marginMs: 6, leaseMs: 1000 });
    assert.deepEqual({ slot: took.slot, firm: took.firm }, { slot: 1, firm: true });
    refuses(() => store.redisRateLimitStore(client, { prefx: 'x' }), 'options.prefx');
    // A store is only functions and onError: what the client copies of its options keeps them.
    assert.deepEqual(Object.keys(store.redisRateLimitStore(client)).sort(), ['acquire', 'onError', 'pause', 'release']);
  } finally {
    await close();
  }
  // A class-based store (methods on its prototype, using `this`) is a store like any other.
  {
    const { client, close } = await redisClient('ioredis', redis.url);
    try {
      class Counted {
        constructor(/** @type {any} */ inner) {
          this.inner = inner;
          this.calls = 0;
        }
        acquire(/** @type {any} */ req) {
          this.calls++;
          return this.inner.acquire(req);
        }
        release(/** @type {any} */ req) {
          return this.inner.release(req);
        }
        pause(/** @type {any} */ req) {
          return this.inner.pause(req);
        }
      }
      const counted = new Counted(store.redisRateLimitStore(client, { prefix: 'class' }));
      await reset();
      const dromo = new hi.Dromo({ ...base, rateLimit: { windowMs: WINDOW_MS, store: counted } });
      await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'a.csv' });
      assert.ok(counted.calls >= 1, 'the class instance decided the send');
      assert.equal((await client.keys('class:*:c')).length, 1);
    } finally {
      await close();
    }
  }
  // The browser entry's build has no shared stores: the key is refused there, not ignored.
  const entry = path.join(pkgDir, 'node_modules/headless-imports/index.js');
  const script = `
    const fs = await import('node:fs');
    globalThis.fetch = async (url) => new Response(fs.readFileSync(new URL(String(url))), { headers: { 'Content-Type': 'application/wasm' } });
    const m = await import(${JSON.stringify(entry)});
    try {
      new m.Dromo({ baseUrl: 'http://127.0.0.1:9/api', rateLimit: { store: { acquire() {}, release() {}, pause() {} } } });
      console.log(JSON.stringify({ made: true }));
    } catch (e) {
      console.log(JSON.stringify({ name: e.name, path: e.path, message: e.message }));
    }
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.name, 'ValidationError');
  assert.equal(out.path, 'rateLimit.store');
  assert.match(out.message, /not a known key/);
});
