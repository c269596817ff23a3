// Benchmark 1: Node upload of a generated CSV (BENCH_UPLOAD_MB, default 1024 MiB) to a loopback sink.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB, median, runChild, writeCsv } from './lib.mjs';

export async function benchUploadNode({ sink, pkgDir, reps, log }) {
  const mb = Number(process.env.BENCH_UPLOAD_MB ?? 1024);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-up-'));
  const file = path.join(dir, 'upload.csv');
  try {
    const { size } = await writeCsv(file, mb * MiB);
    log(`upload-node: ${(size / MiB).toFixed(0)} MiB CSV written; ${reps} alternating rounds`);
    const names = ['ours', 'rawPipe', 'fetchBlob', 'exaJs'];
    const res = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < reps; r++) {
      // Rotate the order each round so no variant always runs first (page cache, CPU boosts).
      const order = names.map((_, i) => names[(i + r) % names.length]);
      for (const v of order) {
        const out = await runChild('upload-node-child.mjs', [v, file, `${sink.url}/upload/${v}-${r}.csv?X-Amz-Signature=bench`], {
          env: { HI_PKG_DIR: pkgDir }, timeoutMs: 180_000,
        });
        res[v].push(out);
        log(`  round ${r + 1} ${v}: ${out.mbps.toFixed(0)} MB/s, peak RSS growth ${(out.growth / MiB).toFixed(1)} MiB`);
      }
    }
    const summary = Object.fromEntries(names.map((n) => [n, {
      mbps: median(res[n].map((x) => x.mbps)),
      growth: median(res[n].map((x) => x.growth)),
      runs: res[n].map((x) => +x.mbps.toFixed(1)),
      hwmReset: res[n].every((x) => x.hwmReset),
    }]));
    // Ratios per round (variants of one round ran back to back), then their median: steadier than
    // a ratio of medians when the machine's load drifts.
    const ratio = (a, b, k = 'mbps') => median(res[a].map((x, i) => x[k] / res[b][i][k]));
    const ratios = { rawPipe: ratio('ours', 'rawPipe'), fetchBlob: ratio('ours', 'fetchBlob'), exaJs: ratio('ours', 'exaJs'),
      perRound: res.ours.map((x, i) => +(x.mbps / res.rawPipe[i].mbps).toFixed(2)) };
    return { size, summary, ratios };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
