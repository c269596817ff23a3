// Benchmark 8: 4 worker processes x 50 importFile on one Dromo key, started together, against the
// emulator's real limits on a scaled clock: limits shared through Redis (`rateLimit.store`) vs
// each worker's own in-memory limiter (the default), and vs the minimum the account's create
// limit allows. Workers are tests/js/helpers/limit-worker.mjs; Redis is a redis-server of our own
// on a loopback port (tests/js/helpers/redis.js).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, median } from './lib.mjs';
import { noRedis, redisEntry, startRedis } from '../tests/js/helpers/redis.js';

const WORKER = path.join(ROOT, 'tests/js/helpers/limit-worker.mjs');

/**
 * Starts `count` workers with `settings`, lets them all go at once when every one is ready (and
 * `ready()` has run), and resolves with their results: the span from the first start to the last
 * end, and each result.
 */
async function fleet({ emu, pkgDir, count, settings, ready: onAllReady, limitMs = 180_000 }) {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, HI_WORKER: JSON.stringify({ pkgDir, api: emu.api, barrier: true, ...settings }) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A worker that died before the start signal must not take the benchmark down with EPIPE.
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    let out = '';
    let err = '';
    let onReady;
    const ready = new Promise((resolve) => (onReady = resolve));
    child.stdout.on('data', (b) => {
      out += b;
      if (out.includes('"ready":true')) onReady();
    });
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise((resolve, reject) =>
      child.once('exit', (code) => {
        clearTimeout(timer);
        onReady();
        const last = out.trim().split('\n').pop() ?? '';
        try {
          const r = JSON.parse(last);
          if (code === 0 && !r.ready) return resolve(r);
        } catch {}
        reject(new Error(`worker exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      }),
    );
    exited.catch(() => {});
    return { child, ready, exited };
  });
  await Promise.all(children.map((c) => c.ready));
  await onAllReady?.();
  for (const c of children) c.child.stdin.end('go\n');
  const results = await Promise.all(children.map((c) => c.exited));
  return { span: Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start)), results };
}

export async function benchSharedLimits({ emu, pkgDir, reps, log }) {
  if (noRedis) return { skipped: noRedis };
  const workers = 4, perWorker = 50, windowMs = 600, perWindow = 20;
  const n = workers * perWorker;
  await redisEntry(pkgDir);
  const redis = await startRedis();
  const control = `${new URL(emu.api).origin}/_emulator`;
  /**
   * One fleet run from an emulator reset once every worker is ready (a warm worker's own import
   * is not counted), with its 429s and creates.
   */
  const run = async (count, settings) => {
    const reset = () => fetch(`${control}/reset`, { method: 'POST' });
    const f = await fleet({ emu, pkgDir, count, settings, ready: reset });
    const stats = await (await fetch(`${control}/stats`)).json();
    const ok = f.results.reduce((a, r) => a + r.ok, 0);
    const firstError = f.results.map((r) => r.firstError).find(Boolean);
    return { span: f.span, ok, throttled: stats.throttled, creates: stats.requests['dromo.create'] ?? 0, firstError };
  };
  try {
    const singles = [], shared = [], memory = [], coldSingles = [], cold = [];
    for (let r = 0; r < reps; r++) {
      // Workers that have run an import already (a fleet of queue consumers is long-lived), then
      // freshly started ones (their first calls also compile the code and open connections).
      // Alternating: one import alone (the last batch's own time), the shared fleet, the default.
      const store = { store: true, flavour: 'node-redis', url: redis.url, windowMs };
      const s = await run(1, { ...store, warm: true, n: 1, prefix: `bench-single-${r}` });
      const a = await run(workers, { ...store, warm: true, n: perWorker, prefix: `bench-${r}` });
      const b = await run(workers, { store: false, warm: true, windowMs, n: perWorker });
      const cs = await run(1, { ...store, n: 1, prefix: `bench-cold-single-${r}` });
      const c = await run(workers, { ...store, n: perWorker, prefix: `bench-cold-${r}` });
      singles.push(s); shared.push(a); memory.push(b); coldSingles.push(cs); cold.push(c);
      log(`  round ${r + 1}: single ${s.span.toFixed(0)} ms; Redis ${a.span.toFixed(0)} ms, ${a.ok}/${n} SUCCESSFUL, ${a.throttled} 429s, ${a.creates} creates${a.firstError ? ` (${a.firstError})` : ''}; in-memory per worker ${b.span.toFixed(0)} ms, ${b.ok}/${n} SUCCESSFUL, ${b.throttled} 429s, ${b.creates} creates${b.firstError ? ` (first error: ${b.firstError})` : ''}; cold: single ${cs.span.toFixed(0)} ms, Redis ${c.span.toFixed(0)} ms, ${c.ok}/${n} SUCCESSFUL, ${c.throttled} 429s`);
    }
    const waits = Math.ceil(n / perWindow) - 1;
    /** The minimum the limits allow: the waits after the first burst, and one import alone. */
    const minimumOf = (alone) => waits * windowMs + median(alone.map((x) => x.span));
    const minimum = minimumOf(singles);
    const pick = (runs, min = minimum) => ({
      total: median(runs.map((x) => x.span)),
      throttled: Math.max(...runs.map((x) => x.throttled)),
      throttledRuns: runs.map((x) => x.throttled),
      ok: Math.min(...runs.map((x) => x.ok)),
      creates: median(runs.map((x) => x.creates)),
      ratios: runs.map((x) => x.span / min),
      firstError: runs.map((x) => x.firstError).find(Boolean),
    });
    const coldMinimum = minimumOf(coldSingles);
    return {
      workers, perWorker, n, windowMs, waits, minimum,
      single: median(singles.map((x) => x.span)),
      shared: pick(shared), memory: pick(memory),
      cold: { ...pick(cold, coldMinimum), minimum: coldMinimum, single: median(coldSingles.map((x) => x.span)) },
    };
  } finally {
    await redis.stop();
  }
}
