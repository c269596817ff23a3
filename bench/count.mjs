// Benchmark 4: countCsvRecords on a ~500 MB CSV with quoted newlines vs exa-js's split on '\n'
// (on a 256 MiB prefix of the same data: the whole-string approach needs the file as one JS string).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB, median, runChild, writeCsv } from './lib.mjs';

export async function benchCount({ pkgDir, reps, log }) {
  const oursBytes = Number(process.env.BENCH_COUNT_MB ?? 500) * 1e6;
  const exaBytes = Math.min(oursBytes, Number(process.env.BENCH_COUNT_SPLIT_MB ?? 256) * MiB);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-count-'));
  try {
    const big = path.join(dir, 'big.csv'), small = path.join(dir, 'small.csv');
    const bigInfo = await writeCsv(big, oursBytes);
    const smallInfo = await writeCsv(small, exaBytes);
    log(`count: ${(bigInfo.size / 1e6).toFixed(0)} MB CSV (${bigInfo.records} records) and ${(smallInfo.size / MiB).toFixed(0)} MiB (${smallInfo.records}); ${reps} alternating rounds`);
    const runs = { ours: [], oursSmall: [], exaSplit: [] };
    const jobs = [['ours', 'ours', big], ['oursSmall', 'ours', small], ['exaSplit', 'exaSplit', small]];
    for (let r = 0; r < reps; r++) {
      const order = jobs.map((_, i) => jobs[(i + r) % jobs.length]);
      for (const [key, v, f] of order) {
        const out = await runChild('count-child.mjs', [v, f], { env: { HI_PKG_DIR: pkgDir }, timeoutMs: 180_000, nodeArgs: ['--max-old-space-size=8192'] });
        runs[key].push(out);
        log(`  round ${r + 1} ${key}: ${out.mbps.toFixed(0)} MB/s, count ${out.count}, peak RSS growth ${(out.growth / MiB).toFixed(1)} MiB`);
      }
    }
    const s = (k) => ({ mbps: median(runs[k].map((x) => x.mbps)), growth: median(runs[k].map((x) => x.growth)), count: runs[k][0].count, runs: runs[k].map((x) => +x.mbps.toFixed(0)) });
    return { big: bigInfo, small: smallInfo, ours: s('ours'), oursSmall: s('oursSmall'), exaSplit: s('exaSplit') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
