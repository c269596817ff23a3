// Per-call overhead: N sequential retrieve(id) calls vs N raw fetch + JSON.parse, alternating rounds,
// in one process against the loopback sink's fixed import JSON. node overhead-child.mjs <baseUrl> <n> <rounds>
import path from 'node:path';

const [base, nArg, roundsArg] = process.argv.slice(2);
const n = Number(nArg), rounds = Number(roundsArg);
const pkg = await import(path.join(process.env.HI_PKG_DIR, 'esm.mjs'));
const KEY = 'bench-key';
const ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
// rateLimit: false, or the client would (rightly) hold polls of one import to 12 per minute.
const dromo = new pkg.Dromo({ apiKey: KEY, baseUrl: `${base}/api/v1`, rateLimit: false });
// The same without our per-request timeout (timeoutMs: 0: no timer, no AbortSignal): shows what
// the timeout costs, apart from the rest of the client.
const dromoNoTimeout = new pkg.Dromo({ apiKey: KEY, baseUrl: `${base}/api/v1`, rateLimit: false, timeoutMs: 0 });
const url = `${base}/api/v1/headless/imports/${ID}/`;

const variants = {
  async ours(n) {
    for (let i = 0; i < n; i++) {
      const imp = await dromo.imports.retrieve(ID);
      if (imp.id !== ID) throw new Error('bad body');
    }
  },
  async oursNoTimeout(n) {
    for (let i = 0; i < n; i++) {
      const imp = await dromoNoTimeout.imports.retrieve(ID);
      if (imp.id !== ID) throw new Error('bad body');
    }
  },
  // Raw fetch with the timeout a careful hand-written client adds: an AbortController and a timer.
  async rawTimeout(n) {
    for (let i = 0; i < n; i++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 60_000);
      try {
        const r = await fetch(url, { headers: { 'X-Dromo-License-Key': KEY, accept: 'application/json' }, signal: controller.signal });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const imp = JSON.parse(await r.text());
        if (imp.id !== ID) throw new Error('bad body');
      } finally {
        clearTimeout(timer);
      }
    }
  },
  async raw(n) {
    for (let i = 0; i < n; i++) {
      const r = await fetch(url, { headers: { 'X-Dromo-License-Key': KEY, accept: 'application/json' } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const imp = JSON.parse(await r.text());
      if (imp.id !== ID) throw new Error('bad body');
    }
  },
};
const names = Object.keys(variants);
// Warm-up (JIT, connection pool) of every variant, not measured.
for (const v of names) await variants[v](300);
// Each round makes n calls of each variant, interleaved in blocks of 500 (the order rotating every
// block), so load changes on a shared machine hit all alike; a round's time is the sum of its blocks.
const BLOCK = 500;
const out = Object.fromEntries(names.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  const t = Object.fromEntries(names.map((v) => [v, 0]));
  for (let done = 0, b = 0; done < n; done += BLOCK, b++) {
    const size = Math.min(BLOCK, n - done);
    const k = (b + r) % names.length;
    for (const v of [...names.slice(k), ...names.slice(0, k)]) {
      const t0 = performance.now();
      await variants[v](size);
      t[v] += performance.now() - t0;
    }
  }
  for (const v of names) out[v].push(t[v]);
}
console.log(JSON.stringify(out));
