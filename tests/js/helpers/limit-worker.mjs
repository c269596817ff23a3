// @ts-check
// One worker process of a fleet on one Dromo key: `n` importFile calls at once through the
// installed package, its limits shared through `headless-imports/redis` (or, with `store: false`,
// kept in this process as every client does by default). tests/js/redis.test.js and
// bench/shared-limits.mjs start several. Its settings come as JSON in HI_WORKER:
//   { pkgDir, api, n, windowMs, timeoutMs?, wait?, store, flavour?, url?, prefix?, barrier?, warm?, trace? }
// where pkgDir is installPackage()'s app, with its esm.mjs and (see redisEntry) redis.mjs; `wait:
// false` stops each import after its upload. With
// `barrier`, it prints {"ready":true} once set up and starts its calls when a line comes on
// stdin, so that a fleet starts together. With `warm`, it first runs one import through a client
// of its own (the same store, under another prefix), as a worker that has been up a while has.
// With `trace`, it prints {"queued":true} when a create first has to wait for a slot, and reports
// for each create that waited how much later than onQueued said it was answered (`late`, ms; the
// answer comes after the send, so this is at least how late it went). Prints one JSON line when done:
// { ok, failed, firstError, ms, start, end, late? } (start and end: epoch ms around the calls).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTACTS, KEY } from './env.js';
import { redisClient } from './redis.js';

const w = JSON.parse(process.env.HI_WORKER ?? '{}');
// Imported the way an app that installed the tarball imports them (the exports map included).
const { Dromo, fileFromPath } = await import(path.join(w.pkgDir, 'esm.mjs'));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-worker-'));
const csv = path.join(dir, 'contacts.csv');
fs.writeFileSync(csv, 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nGrace,Hopper,grace@example.com,85\n');
/** @type {{ client: any, close: () => Promise<void> } | undefined} */
let redis;
try {
  /** @type {Record<string, unknown>} */
  const rateLimit = { windowMs: w.windowMs };
  if (w.store) {
    const { redisRateLimitStore } = await import(path.join(w.pkgDir, 'redis.mjs'));
    redis = await redisClient(w.flavour, w.url);
    rateLimit.store = redisRateLimitStore(redis.client, { prefix: w.prefix });
  }
  const dromo = new Dromo({ apiKey: KEY, baseUrl: w.api, rateLimit, ...(w.timeoutMs ? { timeoutMs: w.timeoutMs } : {}) });
  const file = await fileFromPath(csv);
  if (w.warm) {
    // One import first, on its own window (another prefix): the calls then run on compiled code
    // and open connections, as in a worker that has been up for a while.
    /** @type {Record<string, unknown>} */
    const own = { windowMs: w.windowMs };
    if (w.store) {
      const { redisRateLimitStore } = await import(path.join(w.pkgDir, 'redis.mjs'));
      own.store = redisRateLimitStore(redis?.client, { prefix: `${w.prefix}:warm` });
    }
    await new Dromo({ apiKey: KEY, baseUrl: w.api, rateLimit: own }).importFile(file, { schema_id: CONTACTS, timeoutMs: 120_000 });
  }
  if (w.barrier) {
    console.log(JSON.stringify({ ready: true }));
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.pause();
  }
  const start = Date.now();
  const t0 = performance.now();
  // The whole flow's bound (create, upload, waits): far beyond what the run needs.
  const opts = { schema_id: CONTACTS, timeoutMs: 120_000, ...(w.wait === false ? { wait: false } : {}) };
  /** @type {number[]} */
  const late = [];
  let told = false;
  const traced = () => {
    /** @type {number | undefined} */
    let promised;
    return {
      ...opts,
      onQueued: (/** @type {{ kind: string, waitMs: number }} */ q) => {
        if (q.kind !== 'create') return;
        promised = Date.now() + q.waitMs;
        if (!told) console.log(JSON.stringify({ queued: true }));
        told = true;
      },
      onCreated: () => void (promised !== undefined && late.push(Date.now() - promised)),
    };
  };
  /** @type {number[]} when each create was sent (epoch ms), with `sends` */
  const sent = [];
  const sending = w.sends ? { onCreating: () => void sent.push(Date.now()) } : {};
  const results = await Promise.allSettled(Array.from({ length: w.n }, () => dromo.importFile(file, { ...(w.trace ? traced() : opts), ...sending })));
  const ms = performance.now() - t0;
  const end = Date.now();
  // With `wait: false`, an import that was created and uploaded.
  const ok = results.filter((r) => r.status === 'fulfilled' && (w.wait === false || r.value.import.status === 'SUCCESSFUL')).length;
  const failed = results.find((r) => r.status === 'rejected');
  const firstError = failed && /** @type {PromiseRejectedResult} */ (failed).reason;
  console.log(JSON.stringify({ ok, failed: w.n - ok, firstError: firstError ? `${firstError.name}: ${firstError.message}` : undefined, ms, start, end, ...(w.trace ? { late } : {}), ...(w.sends ? { sent } : {}) }));
} finally {
  await redis?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
