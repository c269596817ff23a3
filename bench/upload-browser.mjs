// Benchmark 2: headless Chromium (playwright-core) uploads a Blob generated in the page to the
// loopback sink (same origin as the page, so neither variant needs a CORS preflight): the package's
// imports.upload (XMLHttpRequest from Rust) vs a raw XHR PUT of the same Blob. Memory: the renderer
// processes' RSS (summed from /proc, sampled every 50 ms) and the page's JS heap (CDP
// Runtime.getHeapUsage) during the upload, above their level once the Blob exists, at 64 vs 256 MiB.
// Throughput is the median ratio of many adjacent ours/XHR pairs, measured with nothing sampling,
// beside the same statistic for raw XHR against itself (the noise floor of that run).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MiB, ROOT, median, procStatus } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Uploads of each variant (ours, xhr, xhr2) per page (see the loop in benchUploadBrowser). */
const PAIRS = 8;

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
// The same raw XHR again: measured like the others, it shows how far two identical uploads differ.
variants.xhr2 = variants.xhr;
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
  const runs = [], mem = [];
  try {
    const rootPid = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).find((p) => {
      try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(marker) && !fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type='); } catch { return false; }
    });
    // One page per round and size: the Blob is built once, then uploaded PAIRS times by each
    // variant, alternately (ABBA across pairs), so every ratio compares two uploads made seconds
    // apart from the same page and Blob. On a shared machine one upload of 256 MiB swings by
    // +-30%; a median over rounds x PAIRS adjacent pairs is what makes the ratio stable.
    for (let r = 0; r < reps; r++) {
      for (const mb of r % 2 ? [small, big] : [big, small]) {
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          const problems = [];
          page.on('pageerror', (e) => problems.push(e.message));
          await page.goto(`${sink.url}/static/bench.html`, { timeout: 20_000 });
          await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 }).catch(() => { throw new Error(`page never ready: ${problems.join('; ')}`); });
          const cdp = await context.newCDPSession(page);
          await page.evaluate((mb) => window.makeBlob(mb), mb);
          const pids = rootPid ? rendererPids(rootPid) : [];
          // Pass -1 measures memory (sampling /proc and the heap every 50 ms); the PAIRS passes
          // after it measure throughput with no sampler running, which on a 2-core machine was
          // itself a source of noise.
          for (let pair = -1; pair < PAIRS; pair++) {
            const memory = pair < 0;
            const kinds = memory ? ['ours', 'xhr'] : ['ours', 'xhr', 'xhr2'];
            const k = (pair + 1 + r) % kinds.length;
            for (const variant of [...kinds.slice(k), ...kinds.slice(0, k)]) {
              await cdp.send('HeapProfiler.collectGarbage');
              const baseRss = memory ? rss(pids) : 0;
              const baseHeap = memory ? (await cdp.send('Runtime.getHeapUsage')).usedSize : 0;
              let peakRss = baseRss, peakHeap = baseHeap, sampling = memory;
              const sampler = (async () => {
                while (sampling) {
                  peakRss = Math.max(peakRss, rss(pids));
                  try { peakHeap = Math.max(peakHeap, (await cdp.send('Runtime.getHeapUsage')).usedSize); } catch {}
                  await new Promise((res) => setTimeout(res, 50));
                }
              })();
              const url = `${sink.url}/upload/${variant}-${mb}-${r}-${pair}.csv?X-Amz-Signature=bench`;
              let ms;
              try {
                ms = await page.evaluate(([v, u]) => window.upload(v, u), [variant, url]);
              } finally {
                sampling = false;
                await sampler;
              }
              const mbps = (mb * MiB) / 1e6 / (ms / 1000);
              if (memory) {
                mem.push({ variant, mb, rssGrowth: peakRss - baseRss, heapGrowth: peakHeap - baseHeap, renderers: pids.length });
                log(`  round ${r + 1} memory ${variant} ${mb} MiB: renderer RSS +${((peakRss - baseRss) / MiB).toFixed(1)} MiB, JS heap +${((peakHeap - baseHeap) / MiB).toFixed(1)} MiB`);
              } else {
                runs.push({ variant, mb, round: r, pair, ms, mbps });
                log(`  round ${r + 1} pair ${pair + 1} ${variant} ${mb} MiB: ${mbps.toFixed(0)} MB/s`);
              }
            }
          }
        } finally {
          await context.close();
        }
      }
    }
  } finally {
    await browser.close();
  }
  const pick = (v, mb, k) => median((k === 'mbps' ? runs : mem).filter((x) => x.variant === v && x.mb === mb).map((x) => x[k]));
  const s = (v) => ({
    mbps: pick(v, big, 'mbps'), mbpsSmall: pick(v, small, 'mbps'), rssBig: pick(v, big, 'rssGrowth'), rssSmall: pick(v, small, 'rssGrowth'),
    heapBig: pick(v, big, 'heapGrowth'), heapSmall: pick(v, small, 'heapGrowth'),
    runs: runs.filter((x) => x.variant === v && x.mb === big).map((x) => x.mbps),
  });
  /** `variant` / xhr throughput of each adjacent pair at `mb` MiB. */
  const perPair = (mb, variant = 'ours') => runs.filter((x) => x.variant === variant && x.mb === mb).map((o) => {
    const x = runs.find((y) => y.variant === 'xhr' && y.mb === mb && y.round === o.round && y.pair === o.pair);
    return o.mbps / (x?.mbps ?? NaN);
  });
  return {
    big, small, pairs: PAIRS, ours: s('ours'), xhr: s('xhr'),
    ratioBig: median(perPair(big)), ratioSmall: median(perPair(small)), perPairBig: perPair(big),
    // The null control: raw XHR against itself, in the same pairs.
    selfBig: median(perPair(big, 'xhr2')), perPairSelfBig: perPair(big, 'xhr2'),
  };
}

/** The directory the sink serves as /static: the page plus the installed package. */
export function browserStatic(pkgDir) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-www-'));
  fs.writeFileSync(path.join(dir, 'bench.html'), PAGE);
  fs.symlinkSync(path.join(pkgDir, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}
