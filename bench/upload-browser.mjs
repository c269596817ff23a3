// Benchmark 2: headless Chromium (playwright-core) uploads a Blob generated in the page to the
// loopback sink (same origin as the page, so neither variant needs a CORS preflight): the package's
// imports.upload (XMLHttpRequest from Rust) vs a raw XHR PUT of the same Blob. Memory: the renderer
// processes' RSS (summed from /proc, sampled every 50 ms) and the page's JS heap (CDP
// Runtime.getHeapUsage) during the upload, above their level once the Blob exists, at 64 vs 256 MiB.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB, ROOT, median, procStatus } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const PAGE = `<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="importmap">{ "imports": { "headless-imports": "/static/node_modules/headless-imports/index.js" } }</script>
<script type="module">
import { Dromo } from 'headless-imports';
const dromo = new Dromo({ apiKey: 'bench-key', baseUrl: location.origin + '/api/v1', dangerouslyAllowBrowser: true, rateLimit: false });
let blob;
window.makeBlob = (mb) => {
  const line = new TextEncoder().encode('12345,Grace Hopper,grace@example.com,Navy Computing,plain note\\n');
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = line[i % line.length];
  blob = new Blob(Array.from({ length: mb }, () => chunk), { type: 'text/csv' });
  return blob.size;
};
const variants = {
  ours: (url) => dromo.imports.upload(url, blob),
  xhr: (url) => new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    x.onload = () => (x.status === 200 ? resolve() : reject(new Error('HTTP ' + x.status)));
    x.onerror = () => reject(new Error('network error'));
    x.send(blob);
  }),
};
window.upload = async (variant, url) => {
  const t0 = performance.now();
  await variants[variant](url);
  return performance.now() - t0;
};
document.title = 'ready';
</script>`;

/** Pids of every descendant of `root` whose command line has --type=renderer. */
function rendererPids(root) {
  const kids = new Map();
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(p));
    } catch {}
  }
  const out = [], stack = [root];
  while (stack.length) {
    const p = stack.pop();
    for (const k of kids.get(p) ?? []) {
      stack.push(k);
      try { if (fs.readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('--type=renderer')) out.push(k); } catch {}
    }
  }
  return out;
}
const rss = (pids) => pids.reduce((a, p) => { try { return a + procStatus('VmRSS', p); } catch { return a; } }, 0);

export async function benchUploadBrowser({ sink, pkgDir, reps, log }) {
  if (!fs.existsSync(CHROMIUM)) return { skipped: `${CHROMIUM} is missing` };
  const { chromium } = await import(path.join(ROOT, 'tests/node_modules/playwright-core/index.mjs'));
  const marker = `--hi-bench-marker=${process.pid}-${Date.now()}`; // ignored by Chromium; finds its process
  const browser = await chromium.launch({
    executablePath: CHROMIUM, timeout: 30_000,
    args: [marker, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const big = Number(process.env.BENCH_BROWSER_MB ?? 256), small = 64;
  const runs = [];
  try {
    const rootPid = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).find((p) => {
      try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker) && !fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type='); } catch { return false; }
    });
    const jobs = [['ours', big], ['xhr', big], ['ours', small], ['xhr', small]];
    for (let r = 0; r < reps; r++) {
      const order = jobs.map((_, i) => jobs[(i + r) % jobs.length]);
      for (const [variant, mb] of order) {
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          const problems = [];
          page.on('pageerror', (e) => problems.push(e.message));
          await page.goto(`${sink.url}/static/bench.html`, { timeout: 20_000 });
          await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 }).catch(() => { throw new Error(`page never ready: ${problems.join('; ')}`); });
          const cdp = await context.newCDPSession(page);
          await page.evaluate((mb) => window.makeBlob(mb), mb);
          await cdp.send('HeapProfiler.collectGarbage');
          const pids = rootPid ? rendererPids(rootPid) : [];
          const baseRss = rss(pids);
          const baseHeap = (await cdp.send('Runtime.getHeapUsage')).usedSize;
          let peakRss = baseRss, peakHeap = baseHeap, sampling = true;
          const sampler = (async () => {
            while (sampling) {
              peakRss = Math.max(peakRss, rss(pids));
              try { peakHeap = Math.max(peakHeap, (await cdp.send('Runtime.getHeapUsage')).usedSize); } catch {}
              await new Promise((res) => setTimeout(res, 50));
            }
          })();
          const url = `${sink.url}/upload/${variant}-${mb}-${r}.csv?X-Amz-Signature=bench`;
          let ms;
          try {
            ms = await page.evaluate(([v, u]) => window.upload(v, u), [variant, url]);
          } finally {
            sampling = false;
            await sampler;
          }
          const out = { variant, mb, ms, mbps: (mb * MiB) / 1e6 / (ms / 1000), rssGrowth: peakRss - baseRss, heapGrowth: peakHeap - baseHeap, renderers: pids.length };
          runs.push(out);
          log(`  round ${r + 1} ${variant} ${mb} MiB: ${out.mbps.toFixed(0)} MB/s, renderer RSS +${(out.rssGrowth / MiB).toFixed(1)} MiB, JS heap +${(out.heapGrowth / MiB).toFixed(1)} MiB`);
        } finally {
          await context.close();
        }
      }
    }
  } finally {
    await browser.close();
  }
  const pick = (v, mb, k) => median(runs.filter((x) => x.variant === v && x.mb === mb).map((x) => x[k]));
  const s = (v) => ({
    mbps: pick(v, big, 'mbps'), mbpsSmall: pick(v, small, 'mbps'), rssBig: pick(v, big, 'rssGrowth'), rssSmall: pick(v, small, 'rssGrowth'),
    heapBig: pick(v, big, 'heapGrowth'), heapSmall: pick(v, small, 'heapGrowth'),
    runs: runs.filter((x) => x.variant === v && x.mb === big).map((x) => +x.mbps.toFixed(0)),
  });
  const perRound = (mb) => Array.from({ length: reps }, (_, r) => {
    const get = (v) => runs.find((x) => x.variant === v && x.mb === mb && runs.indexOf(x) >= r * 4 && runs.indexOf(x) < (r + 1) * 4);
    return get('ours').mbps / get('xhr').mbps;
  });
  return { big, small, ours: s('ours'), xhr: s('xhr'), ratioBig: median(perRound(big)), ratioSmall: median(perRound(small)), perRoundBig: perRound(big).map((r) => +r.toFixed(2)) };
}

/** The directory the sink serves as /static: the page plus the installed package. */
export function browserStatic(pkgDir) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-www-'));
  fs.writeFileSync(path.join(dir, 'bench.html'), PAGE);
  fs.symlinkSync(path.join(pkgDir, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}
