// Benchmark 6: 10,000 sequential retrieve() calls vs raw fetch + JSON parse against a tiny loopback server.
import { median, runChild } from './lib.mjs';

export async function benchOverhead({ sink, pkgDir, reps, log }) {
  const n = Number(process.env.BENCH_CALLS ?? 10_000);
  const rounds = Math.max(3, reps);
  const out = await runChild('overhead-child.mjs', [sink.url, n, rounds], { env: { HI_PKG_DIR: pkgDir }, timeoutMs: 400_000 });
  const ratios = out.ours.map((o, i) => o / out.raw[i]);
  log(`overhead: ${n} calls x ${rounds} alternating rounds; ours ms ${out.ours.map((x) => x.toFixed(0))}, raw ms ${out.raw.map((x) => x.toFixed(0))}`);
  return { n, rounds, oursMs: median(out.ours), rawMs: median(out.raw), ratio: median(ratios), ratios };
}
