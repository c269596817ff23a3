// Benchmark 7 (issue #14): what `webhooks: true` saves. 200 Dromo imports started at once against
// the emulator with its real rate limits on a scaled clock, waited on twice side by side: by polling
// (a plain client) and by webhooks (the client's `webhooks.handler()` on a loopback port registered
// with the emulator). Then the webhooks run again with 30 % of the deliveries dropped: every wait
// must still finish, through the fallback poll. Everything runs in this process: the clients, the
// handler's server and a "clock" receiver that notes when the emulator announced each completion.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import path from 'node:path';
import { median } from './lib.mjs';

const KEY = 'test-dromo-key';
const N = 200;
// One field that the row's value fails: under the default BLOCK_SUBMIT the import stops at
// NEEDS_REVIEW until the "reviewer" below completes it (see `workMs`).
const FIELDS = [{ key: 'email', label: 'Email', type: 'email' }];
const ROW_NEEDS_REVIEW = [{ email: 'not an address' }];
const ROW_VALID = [{ email: 'ada@example.com' }];

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The 95th percentile (nearest rank). */
export const p95 = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.ceil(0.95 * s.length) - 1] : NaN;
};

/** node:http on 127.0.0.1:0; `close` also ends kept-alive connections, so it never hangs. */
async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r(undefined)); }),
  };
}

/** A receiver that notes when `import_completed` first arrived for each import id. */
async function clockReceiver() {
  const completed = new Map();
  let deliveries = 0;
  const server = await listen((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      res.end('ok');
      deliveries++;
      try {
        const e = JSON.parse(Buffer.concat(chunks).toString());
        if (e.event === 'import_completed' && e.data?.id && !completed.has(e.data.id)) completed.set(e.data.id, at);
      } catch {}
    });
  });
  return { ...server, completed, get deliveries() { return deliveries; } };
}

async function control(emu, method, route, body) {
  const r = await fetch(`${emu.control}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

/**
 * One run: `mode` is 'polling', 'webhooks' or 'drops' (webhooks with 30 % of deliveries dropped).
 * Returns polls per import, completion -> resolved latencies, 429s, wall time and how many finished.
 */
async function runOnce({ pkg, emu, mode, scale, workMs, log }) {
  const windowMs = 60_000 * scale;
  const fallbackMs = Math.max(1000, windowMs);
  const webhooks = mode !== 'polling';
  const closers = [], timers = new Set();
  const counts = { polls: 0, throttled: 0, reviews: 0 };
  const ac = new AbortController();
  // One signal for 200 concurrent waits: each listens on it while it runs (and lets go after).
  setMaxListeners(N + 50, ac.signal);
  try {
    await control(emu, 'POST', '/reset');
    await control(emu, 'DELETE', '/faults');
    // Counts what the library sends: status polls (GET .../headless/imports/{id}/) and 429 answers.
    const counting = async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const method = String(init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')).toUpperCase();
      if (method === 'GET' && /\/headless\/imports\/[^/?]+\/(\?|$)/.test(url)) counts.polls++;
      const res = await fetch(input, init);
      if (res.status === 429) counts.throttled++;
      return res;
    };
    const client = new pkg.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { windowMs }, fetch: counting, webhooks });
    const clock = await clockReceiver();
    closers.push(() => clock.close());
    await control(emu, 'POST', '/dromo/webhooks', { url: clock.url, events: ['import_completed'] });
    if (webhooks) {
      const hook = await listen(client.webhooks.handler().node);
      closers.push(() => hook.close());
      // What a wait for the end needs (a dashboard subscription): not headless_import_needs_review,
      // which would wake each wait for one more confirming GET before the end.
      await control(emu, 'POST', '/dromo/webhooks', { url: hook.url, events: ['import_completed', 'headless_import_failed'] });
    }
    if (mode === 'drops') {
      await control(emu, 'POST', '/faults', { seed: 14, rules: [{ route: 'dromo.webhook', kind: 'drop', rate: 0.3 }] });
    }
    // The "work": each import completes `workMs` of real time after its creation, whatever the
    // scale (a person or a slow pipeline; the emulator's own processing is 2 s x scale).
    const review = (id, tries = 0) => {
      const t = setTimeout(async () => {
        timers.delete(t);
        if (ac.signal.aborted) return;
        const r = await fetch(`${emu.control}/dromo/imports/${id}/review`, { method: 'POST' }).catch(() => null);
        if (r?.ok) counts.reviews++;
        else if (tries < 100) review(id, tries + 1); // not processed yet: again shortly
      }, tries ? 20 : workMs);
      timers.add(t);
    };
    const opts = {
      fields: FIELDS,
      rows: false,
      timeoutMs: 30_000,
      signal: ac.signal,
      ...(workMs > 0 ? { waitForReview: true, onCreated: (imp) => review(imp.id) } : {}),
      ...(mode === 'drops' ? { intervalMs: fallbackMs } : {}),
    };
    const resolved = new Map();
    // Every loop is bounded: the waits time out by themselves; past this, they are aborted.
    const budgetMs = Math.ceil(N / 20) * windowMs + workMs + 40_000;
    const deadline = setTimeout(() => ac.abort(), budgetMs);
    const t0 = now();
    const results = await Promise.allSettled(Array.from({ length: N }, () =>
      client.importRows(workMs > 0 ? ROW_NEEDS_REVIEW : ROW_VALID, opts).then((r) => { resolved.set(r.import.id, now()); return r; })));
    const wallMs = now() - t0;
    clearTimeout(deadline);
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value.import.status === 'SUCCESSFUL').length;
    const firstError = results.find((r) => r.status === 'rejected')?.reason;
    await sleep(50); // the clock's last deliveries
    const stats = await control(emu, 'GET', '/stats');
    // When the emulator announced each completion: the clock receiver's arrival time; if that
    // delivery was dropped (the 'drops' run), the delivery log's time of the first attempt at it.
    const announced = new Map(clock.completed);
    if (mode === 'drops') {
      const log = await control(emu, 'GET', '/webhooks/deliveries?provider=dromo&type=import_completed');
      for (const d of log.deliveries) {
        const at = Date.parse(d.at);
        if (!announced.has(d.import_id) || (!clock.completed.has(d.import_id) && at < announced.get(d.import_id))) announced.set(d.import_id, at);
      }
    }
    const latencies = [...resolved].filter(([id]) => announced.has(id)).map(([id, t]) => t - announced.get(id));
    const w = stats.webhooks?.dromo ?? {};
    const r = {
      mode, n: N, ok, wallMs, windowMs, fallbackMs,
      pollsPerImport: counts.polls / N, polls: counts.polls,
      latencyMedian: median(latencies), latencyP95: p95(latencies), latencyMax: Math.max(...latencies), timed: latencies.length,
      throttled: stats.throttled, throttledSeen: counts.throttled, reviews: counts.reviews,
      creates: stats.requests['dromo.create'], retrieves: stats.requests['dromo.retrieve'],
      deliveries: { events: w.events, succeeded: w.succeeded, failed: w.failed, dropped: w.dropped },
      error: firstError ? String(firstError).split('\n')[0].slice(0, 200) : undefined,
    };
    log(`  ${mode}: ${ok}/${N} finished in ${(wallMs / 1000).toFixed(1)} s; ${r.pollsPerImport.toFixed(2)} polls/import; completion -> resolved median ${r.latencyMedian.toFixed(0)} ms, p95 ${r.latencyP95.toFixed(0)} ms, max ${r.latencyMax.toFixed(0)} ms (${r.timed} timed); 429s ${r.throttled} (seen ${r.throttledSeen}); deliveries ${JSON.stringify(r.deliveries)}${r.error ? `; first error: ${r.error}` : ''}`);
    return r;
  } finally {
    ac.abort();
    for (const t of timers) clearTimeout(t);
    await control(emu, 'DELETE', '/faults').catch(() => {});
    await control(emu, 'DELETE', '/dromo/webhooks').catch(() => {});
    for (const c of closers) await c().catch(() => {});
  }
}

/**
 * `rounds` rounds, each: polling and webhooks in alternating order, then webhooks with dropped
 * deliveries. Figures are medians over rounds; 429s the worst round, finished waits the worst round.
 */
export async function benchWebhooks({ emu, pkgDir, rounds, scale, workMs, log }) {
  const pkg = await import(path.join(pkgDir, 'esm.mjs'));
  const runs = { polling: [], webhooks: [], drops: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? ['webhooks', 'polling'] : ['polling', 'webhooks'];
    for (const mode of [...order, 'drops']) runs[mode].push(await runOnce({ pkg, emu, mode, scale, workMs, log }));
  }
  const sum = (xs) => ({
    pollsPerImport: median(xs.map((x) => x.pollsPerImport)),
    latencyMedian: median(xs.map((x) => x.latencyMedian)),
    latencyP95: median(xs.map((x) => x.latencyP95)),
    latencyMax: Math.max(...xs.map((x) => x.latencyMax)),
    wallMs: median(xs.map((x) => x.wallMs)),
    throttled: Math.max(...xs.map((x) => Math.max(x.throttled, x.throttledSeen))),
    ok: Math.min(...xs.map((x) => x.ok)),
    dropped: xs.map((x) => x.deliveries.dropped),
    runs: xs,
  });
  return { n: N, scale, workMs, windowMs: 60_000 * scale, fallbackMs: Math.max(1000, 60_000 * scale), rounds, polling: sum(runs.polling), webhooks: sum(runs.webhooks), drops: sum(runs.drops) };
}
