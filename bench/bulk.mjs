// Benchmark 5: 200 importFile calls at once vs the minimum Dromo's create limit allows.
import { median, runChild } from './lib.mjs';

export async function benchBulk({ emu, pkgDir, reps, log }) {
  const n = 200, windowMs = 600, perWindow = 20;
  const singles = [], bulks = [];
  for (let r = 0; r < reps; r++) {
    // Alternate: one import alone (the processing time of the last batch), then the bulk run.
    const s = await runChild('bulk-child.mjs', [emu.api, emu.control, n, windowMs, 'single'], { env: { HI_PKG_DIR: pkgDir }, timeoutMs: 60_000 });
    const b = await runChild('bulk-child.mjs', [emu.api, emu.control, n, windowMs, 'bulk'], { env: { HI_PKG_DIR: pkgDir }, timeoutMs: 180_000 });
    singles.push(s); bulks.push(b);
    log(`  round ${r + 1}: single ${s.ms.toFixed(0)} ms; bulk ${b.ms.toFixed(0)} ms, ${b.ok}/${n} SUCCESSFUL, ${b.throttled} 429s, ${b.creates} creates, ${b.retrieves} retrieves${b.error ? `, first error: ${b.error}` : ''}`);
  }
  const single = median(singles.map((x) => x.ms));
  const waits = Math.ceil(n / perWindow) - 1; // 9 full windows after the first burst
  const minimum = waits * windowMs + single;
  const total = median(bulks.map((x) => x.ms));
  return { n, windowMs, single, minimum, total, ratio: total / minimum, throttled: Math.max(...bulks.map((x) => x.throttled)), throttledRuns: bulks.map((x) => x.throttled), ok: Math.min(...bulks.map((x) => x.ok)), ratios: bulks.map((b) => b.ms / minimum) };
}
