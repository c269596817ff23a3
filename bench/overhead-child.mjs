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
const url = `${base}/api/v1/headless/imports/${ID}/`;

const variants = {
  async ours(n) {
    for (let i = 0; i < n; i++) {
      const imp = await dromo.imports.retrieve(ID);
      if (imp.id !== ID) throw new Error('bad body');
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
// Warm-up (JIT, connection pool) of both, not measured.
for (const v of ['ours', 'raw']) for (let i = 0; i < 300; i++) await (v === 'ours' ? dromo.imports.retrieve(ID) : fetch(url).then((r) => r.text()));
// Each round makes n calls of each, interleaved in blocks of 500 (order flipped every block), so
// load changes on a shared machine hit both alike; a round's time is the sum of its blocks.
const BLOCK = 500;
const out = { ours: [], raw: [] };
for (let r = 0; r < rounds; r++) {
  const t = { ours: 0, raw: 0 };
  for (let done = 0, b = 0; done < n; done += BLOCK, b++) {
    const size = Math.min(BLOCK, n - done);
    for (const v of (b + r) % 2 ? ['raw', 'ours'] : ['ours', 'raw']) {
      const t0 = performance.now();
      await variants[v](size);
      t[v] += performance.now() - t0;
    }
  }
  out.ours.push(t.ours);
  out.raw.push(t.raw);
}
console.log(JSON.stringify(out));
