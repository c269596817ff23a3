// Benchmark 6: 10,000 sequential retrieve() calls vs raw fetch + JSON parse against a tiny loopback server,
// plus the same with and without a per-request timeout on each side (what the timeout costs).
import { median, runChild } from './lib.mjs';

export async function benchOverhead({ sink, pkgDir, reps, log }) {
  const n = Number(process.env.BENCH_CALLS ?? 10_000);
  const rounds = Math.max(3, reps);
  const out = await runChild('overhead-child.mjs', [sink.url, n, rounds], { env: { HI_PKG_DIR: pkgDir }, timeoutMs: 400_000 });
  const vs = (a, b) => out[a].map((x, i) => x / out[b][i]);
  log(`overhead: ${n} calls x ${rounds} rounds; ms per round: ${Object.entries(out).map(([v, t]) => `${v} ${t.map((x) => x.toFixed(0)).join('/')}`).join(', ')}`);
  const ratios = vs('ours', 'raw');
  return {
    n, rounds, ratios, ratio: median(ratios),
    us: Object.fromEntries(Object.entries(out).map(([v, t]) => [v, (median(t) * 1000) / n])),
    ratiosTimeout: vs('ours', 'rawTimeout'),
    vsRawTimeout: median(vs('ours', 'rawTimeout')),
    noTimeoutVsRaw: median(vs('oursNoTimeout', 'raw')),
    rawTimeoutVsRaw: median(vs('rawTimeout', 'raw')),
  };
}
