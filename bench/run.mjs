// The benchmark suite (scripts/bench.sh runs it): eight measurements, each side by side with its
// baseline in the same run (alternating rounds, medians), printed as a table and written to
// BENCHMARKS.md. Environment: BENCH_REPS (rounds, default 5), BENCH_ONLY (e.g. "1,4"),
// BENCH_UPLOAD_MB (default 1024), BENCH_BROWSER_MB (256), BENCH_COUNT_MB (500), BENCH_CALLS (10000),
// BENCH_WEBHOOKS_SCALE (0.03), BENCH_WEBHOOKS_WORK_MS (2000).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installPackage, startEmulator } from '../tests/js/helpers/env.js';
import { MiB, ROOT, quartiles, startServer } from './lib.mjs';
import { benchUploadNode } from './upload-node.mjs';
import { benchUploadBrowser, browserStatic } from './upload-browser.mjs';
import { benchBundle } from './bundle.mjs';
import { benchCount } from './count.mjs';
import { benchBulk } from './bulk.mjs';
import { benchOverhead } from './overhead.mjs';
import { benchWebhooks } from './webhooks.mjs';
import { benchSharedLimits } from './shared-limits.mjs';

const reps = Math.max(1, Number(process.env.BENCH_REPS ?? 5));
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
const log = (s) => console.error(s);
const rows = [];
const notes = [];
const mb = (b) => `${(b / MiB).toFixed(1)} MiB`;
const mbps = (x) => `${x.toFixed(0)} MB/s`;
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
const x = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a');
const yes = (b) => (b ? 'yes' : '**no**');
const row = (measurement, ours, baseline, ratio, target, met) => rows.push({ measurement, ours, baseline, ratio, target, met });
const notMeasured = (measurement, target, reason) => row(measurement, `not measured: ${reason}`, '', '', target, 'n/a');

const cleanups = [];
const t0 = Date.now();
const pkgDir = installPackage();
const staticDir = browserStatic(pkgDir);
cleanups.push(() => fs.rmSync(staticDir, { recursive: true, force: true }));
const sink = await startServer('sink.mjs', { SINK_STATIC: staticDir });
cleanups.push(() => sink.stop());
let chromiumVersion = '';
try { chromiumVersion = execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version'], { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch {}

async function step(n, title, fn, targets) {
  if (only && !only.has(String(n))) return;
  log(`\n[${n}] ${title}`);
  const t = Date.now();
  try {
    await fn();
  } catch (e) {
    log(`[${n}] failed: ${e.stack ?? e}`);
    for (const [m, target] of targets) notMeasured(m, target, String(e.message ?? e).split('\n')[0].slice(0, 160));
  }
  log(`[${n}] ${((Date.now() - t) / 1000).toFixed(0)} s`);
}

try {
  await step(1, 'Node upload', async () => {
    const { size, summary: s, ratios: q } = await benchUploadNode({ sink, pkgDir, reps, log });
    const name = `Node upload ${Math.round(size / MiB)} MiB CSV`;
    row(`1. ${name}: throughput vs \`createReadStream().pipe(http.request)\``, mbps(s.ours.mbps), mbps(s.rawPipe.mbps), x(q.rawPipe), '>= 0.95x', yes(q.rawPipe >= 0.95));
    row(`1. ${name}: peak RSS growth (vs the same pipe)`, mb(s.ours.growth), mb(s.rawPipe.growth), x(s.ours.growth / s.rawPipe.growth), '<= 64 MB', yes(s.ours.growth <= 64e6));
    row(`1. ${name}: vs \`fetch(PUT, await fs.openAsBlob())\` (throughput; RSS)`, `${mbps(s.ours.mbps)}; ${mb(s.ours.growth)}`, `${mbps(s.fetchBlob.mbps)}; ${mb(s.fetchBlob.growth)}`, `${x(q.fetchBlob)}; ${x(s.ours.growth / s.fetchBlob.growth)}`, 'reported', '-');
    row(`1. ${name}: vs exa-js's PUT (whole Buffer + fetch; throughput; RSS)`, `${mbps(s.ours.mbps)}; ${mb(s.ours.growth)}`, `${mbps(s.exaJs.mbps)}; ${mb(s.exaJs.growth)}`, `${x(q.exaJs)}; ${x(s.ours.growth / s.exaJs.growth)}`, 'reported', '-');
    notes.push(`1. Each variant runs in its own Node process, ${reps} rounds in rotating order; figures are medians, throughput ratios the median of per-round ratios (ours / pipe per round: ${q.perRound.join('/')}; throughput per round: ${Object.entries(s).map(([k, v]) => `${k} ${v.runs.join('/')}`).join(', ')} MB/s). Peak RSS = VmHWM after resetting it through /proc/self/clear_refs (${s.ours.hwmReset ? 'done' : 'not allowed here: 50 ms rss samples instead'}), minus VmRSS just before the upload. The target is a local node:http sink in a separate process that reads and discards the body and answers 200 only if exactly Content-Length bytes arrived (not the emulator's storage, which also writes the file to disk and hashes it). exa-js refuses CSVs over 50 MB and needs a real Exa API to get an upload URL, so its upload path is emulated exactly as it runs: the CSV as one Buffer (here read with fs.readFile, included in the time), then \`fetch(uploadUrl, { method: 'PUT', body: csvBuffer })\`.`);
  }, [['1. Node upload', '>= 0.95x, <= 64 MB']]);

  await step(2, 'Browser upload', async () => {
    const r = await benchUploadBrowser({ sink, pkgDir, reps, log });
    if (r.skipped) return notMeasured('2. Browser upload', '>= 0.95x', r.skipped);
    row(`2. Chromium upload ${r.big} MiB Blob: throughput vs raw XHR PUT`, mbps(r.ours.mbps), mbps(r.xhr.mbps), x(r.ratioBig), '>= 0.95x', yes(r.ratioBig >= 0.95));
    row(`2. Noise floor: raw XHR vs itself, the same statistic in the same pairs (ideal 1.00x)`, '', '', x(r.selfBig), 'reported', '-');
    const flat = r.ours.rssBig <= r.ours.rssSmall + 32 * MiB && r.ours.rssBig <= 64 * MiB;
    row(`2. Chromium upload: renderer RSS growth, ${r.small} -> ${r.big} MiB (ours; XHR)`, `${mb(r.ours.rssSmall)} -> ${mb(r.ours.rssBig)}`, `${mb(r.xhr.rssSmall)} -> ${mb(r.xhr.rssBig)}`, '', 'no growth with size', yes(flat));
    row(`2. Chromium upload: page JS heap growth, ${r.small} -> ${r.big} MiB (ours; XHR)`, `${mb(r.ours.heapSmall)} -> ${mb(r.ours.heapBig)}`, `${mb(r.xhr.heapSmall)} -> ${mb(r.xhr.heapBig)}`, '', 'no growth with size', yes(r.ours.heapBig <= r.ours.heapSmall + 8 * MiB));
    notes.push(`2. At ${r.small} MiB: ours ${mbps(r.ours.mbpsSmall)}, XHR ${mbps(r.xhr.mbpsSmall)} (${x(r.ratioSmall)}). Ratios are medians of the ours/XHR ratios of adjacent pairs: ${r.perPairBig.length} pairs at ${r.big} MiB, quartiles ${quartiles(r.perPairBig).map((q) => q.toFixed(2)).join(' / ')}; raw XHR against itself in the same pairs: quartiles ${quartiles(r.perPairSelfBig).map((q) => q.toFixed(2)).join(' / ')} (one upload swings by up to +-40% on this shared machine, hence many pairs and this control). Headless ${chromiumVersion || 'Chromium'} (playwright-core; --headless --no-sandbox --disable-gpu --disable-background-networking), ${reps} rounds, each a fresh context per size in which the Blob is built once (from 1 MiB parts) and uploaded ${r.pairs} times by each variant (ours, XHR, XHR again) in rotating order, with nothing sampling meanwhile (memory is measured in one more upload of each, sampling every 50 ms); at ${r.big} MiB throughput quartiles ours ${quartiles(r.ours.runs).map((q) => q.toFixed(0)).join(' / ')} MB/s, XHR ${quartiles(r.xhr.runs).map((q) => q.toFixed(0)).join(' / ')} MB/s; the page and the PUT target are the same loopback sink origin, so neither needs a preflight. Memory growth is the peak during the upload above the level once the Blob exists: renderer processes' RSS summed from /proc, sampled every 50 ms, and the page's JS heap (CDP Runtime.getHeapUsage). "No growth" = growth at ${r.big} MiB within 32 MiB (RSS) / 8 MiB (heap) of growth at ${r.small} MiB and RSS growth <= 64 MiB.`);
  }, [['2. Browser upload', '>= 0.95x']]);

  await step(3, 'Bundle size', async () => {
    const b = await benchBundle({ pkgDir, log });
    const br = (/** @type {any} */ a) => `${kb(a.total)} (br ${kb(a.brotli)})`;
    row('3. Browser payload, gzip -9 (brotli -11): Exa app via `headless-imports/exa` vs exa-js', br(b.oursExa), br(b.exa), x(b.oursExa.total / b.exa.total), '<= 52 KB', yes(b.oursExa.total <= 52_000));
    row('3. The same, a Dromo app via `headless-imports/dromo`', br(b.oursDromo), '', '', '<= 52 KB', yes(b.oursDromo.total <= 52_000));
    row('3. The same, an app using both providers (`headless-imports`)', br(b.ours), br(b.exa), x(b.ours.total / b.exa.total), '<= 60 KB', yes(b.ours.total <= 60_000));
    notes.push(`3. KB = 1000 bytes, gzip level 9, every .js and .wasm the page loads. Ours: ${Object.entries(b.ours.files).map(([f, n]) => `${f} ${kb(n)}`).join(' + ')} (an app importing Dromo and Exa and calling importFile; the .wasm copied next to the bundle as the README says); Exa alone: ${Object.entries(b.oursExa.files).map(([f, n]) => `${f} ${kb(n)}`).join(' + ')} (\`headless-imports/exa\`: importFile, imports.retrieve, imports.list). Baseline: exa-js ${JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/node_modules/exa-js/package.json'), 'utf8')).version}, an app importing \`Exa\` and calling \`websets.imports.create/get/list\`, built with the same esbuild options (${Object.entries(b.exa.files).map(([f, n]) => `${f} ${kb(n)}`).join(' + ')}).`);
  }, [['3. Bundle size', '<= 52 / 60 KB']]);

  await step(4, 'countCsvRecords', async () => {
    const c = await benchCount({ pkgDir, reps, log });
    row(`4. countCsvRecords ${(c.big.size / 1e6).toFixed(0)} MB CSV (quoted newlines) vs exa-js split('\\n') on ${Math.round(c.small.size / MiB)} MiB`, mbps(c.ours.mbps), mbps(c.exaSplit.mbps), x(c.ours.mbps / c.exaSplit.mbps), '>= 300 MB/s', yes(c.ours.mbps >= 300));
    const flat = c.ours.growth <= 64 * MiB && c.ours.growth <= c.oursSmall.growth + 16 * MiB;
    row(`4. countCsvRecords peak RSS growth (${(c.big.size / 1e6).toFixed(0)} MB; exa-js on ${Math.round(c.small.size / MiB)} MiB)`, mb(c.ours.growth), mb(c.exaSplit.growth), x(c.ours.growth / c.exaSplit.growth), 'flat', yes(flat));
    row(`4. Records counted in the ${Math.round(c.small.size / MiB)} MiB CSV (true: ${c.small.records})`, String(c.small.records === c.oursSmall.count ? `${c.oursSmall.count} (correct)` : `${c.oursSmall.count} (WRONG)`), `${c.exaSplit.count} (${c.exaSplit.count === c.small.records ? 'correct' : `wrong: +${c.exaSplit.count - c.small.records}`})`, '', 'exact', yes(c.oursSmall.count === c.small.records && c.ours.count === c.big.records));
    notes.push(`4. One Node process per run, ${reps} rounds in rotating order, medians (ours ${c.ours.runs.join('/')} MB/s on ${(c.big.size / 1e6).toFixed(0)} MB, ours ${c.oursSmall.runs.join('/')} MB/s on ${Math.round(c.small.size / MiB)} MiB -> ratio on the same file ${x(c.oursSmall.mbps / c.exaSplit.mbps)}; exa-js ${c.exaSplit.runs.join('/')} MB/s). A fifth of the records hold a quoted newline. Ours: \`countCsvRecords(await fileFromPath(p))\` (count ${c.ours.count} on the ${(c.big.size / 1e6).toFixed(0)} MB file, true ${c.big.records}). exa-js's approach is run on a ${Math.round(c.small.size / MiB)} MiB file because it needs the whole CSV as one JS string (V8 caps strings at ~512 MiB); it is emulated as in exa-js 2.x \`websets.imports.create\`: \`readFile\`, \`toString('utf8').split('\\n').filter(l => l.trim().length > 0).length - 1\`, read time included. "Flat" = growth <= 64 MiB and within 16 MiB of the growth on the ${Math.round(c.small.size / MiB)} MiB file (${mb(c.oursSmall.growth)}).`);
  }, [['4. countCsvRecords', '>= 300 MB/s']]);

  await step(5, 'Bulk importFile', async () => {
    const emu = await startEmulator(['--time-scale', '0.01']);
    cleanups.push(() => emu.stop());
    const b = await benchBulk({ emu, pkgDir, reps, log });
    await emu.stop();
    row(`5. ${b.n} importFile at once (scaled clock, window ${b.windowMs} ms): total vs minimum`, `${(b.total / 1000).toFixed(2)} s`, `${(b.minimum / 1000).toFixed(2)} s`, x(b.ratio), '<= 1.05x', yes(b.ratio <= 1.05));
    row(`5. ${b.n} importFile at once: 429s received (emulator stats, worst round)`, String(b.throttled), '0', '', '0', yes(b.throttled === 0));
    notes.push(`5. Emulator \`--time-scale 0.01\` (Dromo's 20 creates / 60 s -> per 600 ms, 12 polls per import likewise), client \`rateLimit: { windowMs: 600 }\`, default polling pace, a 2-record CSV with the saved contacts schema; SUCCESSFUL imports: ${b.ok}/${b.n} in the worst round. Minimum = ${Math.ceil(b.n / 20) - 1} windows after the first burst of 20 (${(Math.ceil(b.n / 20) - 1) * b.windowMs} ms) + one importFile run alone (median ${b.single.toFixed(0)} ms, measured alternately in the same rounds). ${reps} rounds, medians (ratios ${b.ratios.map((r) => r.toFixed(2)).join('/')}; 429s per round ${b.throttledRuns.join('/')}).`);
  }, [['5. Bulk importFile', '<= 1.05x, 0 429s']]);

  await step(6, 'Per-call overhead', async () => {
    const o = await benchOverhead({ sink, pkgDir, reps, log });
    const us = (v) => `${o.us[v].toFixed(0)} µs/call`;
    // #12 sets the baseline: raw fetch with the same timeout semantics as ours (an AbortController
    // and a timer), since a hand-written client without a timeout is not the same product.
    row(`6. ${o.n.toLocaleString('en')} sequential retrieve() vs raw fetch + JSON.parse with a 60 s timeout (AbortController + setTimeout, as ours)`, us('ours'), us('rawTimeout'), x(o.vsRawTimeout), '<= 1.10x', yes(o.vsRawTimeout <= 1.1));
    row('6. The same vs raw fetch without a timeout', us('ours'), us('raw'), x(o.ratio), 'reported', '-');
    row('6. Ours with `timeoutMs: 0` (no timer, no AbortSignal) vs raw fetch', us('oursNoTimeout'), us('raw'), x(o.noTimeoutVsRaw), 'reported', '-');
    row('6. What the timeout alone costs raw fetch (raw + timeout vs raw)', us('rawTimeout'), us('raw'), x(o.rawTimeoutVsRaw), 'reported', '-');
    notes.push(`6. Sequential calls (one at a time) in one Node process against the loopback sink answering a fixed import JSON (isolates client overhead; no emulator). Client \`rateLimit: false\` (the default limiter would hold polls of one import to 12 a minute); the raw loops send the same key header and parse the body. Four variants (ours; ours with \`timeoutMs: 0\`; raw fetch; raw fetch with an AbortController and a 60 s setTimeout, cleared after the body), 300 warm-up calls each, then ${o.rounds} rounds of ${o.n.toLocaleString('en')} calls of each, interleaved in blocks of 500 (order rotating every block); ratios are medians of per-round ratios (ours / raw with timeout per round: ${o.ratiosTimeout.map((r) => r.toFixed(2)).join('/')}; ours / raw without: ${o.ratios.map((r) => r.toFixed(2)).join('/')}). In Node 20 an AbortSignal costs ~6 µs to create and undici then listens on it; that is most of what the timeout costs either side.`);
  }, [['6. Per-call overhead', '<= 1.10x']]);

  await step(7, 'Webhooks vs polling', async () => {
    const scale = Number(process.env.BENCH_WEBHOOKS_SCALE ?? 0.03);
    const workMs = Number(process.env.BENCH_WEBHOOKS_WORK_MS ?? 2000);
    const emu = await startEmulator(['--time-scale', String(scale)]);
    cleanups.push(() => emu.stop());
    // About a minute a round (three runs of 200 imports, each held by the create limit): at most 2.
    const w = await benchWebhooks({ emu, pkgDir, rounds: Math.min(reps, 2), scale, workMs, log });
    await emu.stop();
    const { webhooks: h, polling: p, drops: d } = w;
    const ms = (v) => `${v.toFixed(0)} ms`;
    const interval = 5000; // the plain client's default intervalMs
    row(`7. ${w.n} imports at once, webhooks vs polling: polls per import`, h.pollsPerImport.toFixed(2), p.pollsPerImport.toFixed(2), x(h.pollsPerImport / p.pollsPerImport), '<= 2 per import', yes(h.pollsPerImport <= 2));
    row('7b. completion -> resolved (median; p95)', `${ms(h.latencyMedian)}; ${ms(h.latencyP95)}`, `${ms(p.latencyMedian)}; ${ms(p.latencyP95)}`, `${x(h.latencyMedian / p.latencyMedian)}; ${(h.latencyMedian / interval).toFixed(3)} of the ${interval / 1000} s poll interval (polling: ${(p.latencyMedian / interval).toFixed(2)})`, '<= 1000 ms', yes(h.latencyMedian <= 1000));
    row('7c. 429s (worst round; ours: webhooks runs, with and without drops)', String(Math.max(h.throttled, d.throttled)), String(p.throttled), '', '0', yes(Math.max(h.throttled, d.throttled) === 0));
    row(`7d. 30 % deliveries dropped: waits finished (fallback poll every ${w.fallbackMs} ms)`, `${d.ok}/${w.n}`, '', '', `${w.n}/${w.n}`, yes(d.ok === w.n));
    row('7e. The same 200 imports: total time (wall)', `${(h.wallMs / 1000).toFixed(1)} s`, `${(p.wallMs / 1000).toFixed(1)} s`, x(h.wallMs / p.wallMs), 'reported', '-');
    const per = (s) => s.runs.map((r) => r.pollsPerImport.toFixed(2)).join('/');
    notes.push(`7. Emulator with its real rate limits at \`--time-scale ${scale}\` (20 creates and 12 polls per import per ${w.windowMs} ms), clients \`rateLimit: { windowMs: ${w.windowMs} }\`; ${w.n} \`importRows\` of one row (inline schema, one email field) started at once, \`rows: false\`. ${workMs > 0 ? `Each import takes ${workMs} ms of real time from its creation to SUCCESSFUL whatever the scale: its row fails the field, so it stops at NEEDS_REVIEW (the wait has \`waitForReview: true\`) until the benchmark completes the review through the emulator's control API ${workMs} ms after \`onCreated\`; the scaled pipeline alone would finish in ${(2000 * scale).toFixed(0)} ms, before the library's first quick poll at 250 ms, and polling would look as cheap as webhooks.` : 'Imports finish in the scaled pipeline time (2 s x scale).'} Polling: a plain client (default pace: polls after 0, 0.25, 0.5, 1, 2 s, then every 5 s). Webhooks: \`webhooks: true\`, \`client.webhooks.handler()\` served with node:http on a loopback port and registered with \`POST /_emulator/dromo/webhooks\` for import_completed and headless_import_failed. A second loopback receiver, registered the same way in every run, notes when each import_completed arrives; latency = the wait's resolution minus that time (real ms). Polls = GET /headless/imports/{id}/ counted by a \`fetch\` wrapper given to the client (the webhooks wait polls once at the start and once to confirm the event). 429s: emulator stats and the wrapper, worst round. Drops: the webhooks run again with \`{ route: 'dromo.webhook', kind: 'drop', rate: 0.3 }\` (seed 14; it drops the clock's deliveries too, so there the announcement time is the emulator's delivery log) and \`intervalMs: ${w.fallbackMs}\` (60 s x scale, at least 1000); dropped ${d.dropped.join('/')} of ${2 * w.n} deliveries, ${d.pollsPerImport.toFixed(2)} polls per import, completion -> resolved median ${ms(d.latencyMedian)}, p95 ${ms(d.latencyP95)}, max ${ms(d.latencyMax)}, ${(d.wallMs / 1000).toFixed(1)} s. Waits time out at 30 s and are aborted past a run budget. ${w.rounds} round(s), polling and webhooks alternating in order, medians (polls per import per round: polling ${per(p)}, webhooks ${per(h)}, drops ${per(d)}).`);
  }, [['7. Webhooks vs polling', '<= 2 polls per import, <= 1000 ms, 0 429s, 200/200']]);

  await step(8, 'Shared limits: 4 workers on one key', async () => {
    const emu = await startEmulator(['--time-scale', '0.01']);
    cleanups.push(() => emu.stop());
    const b = await benchSharedLimits({ emu, pkgDir, reps, log });
    await emu.stop();
    if (b.skipped) return notMeasured('8. Shared limits', '<= 1.05x, 0 429s', b.skipped);
    const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
    const { shared: a, memory: m } = b;
    const name = `${b.workers} worker processes x ${b.perWorker} importFile on one key`;
    row(`8. ${name}, limits shared in Redis (\`rateLimit.store\`): total vs minimum`, s(a.total), s(b.minimum), x(a.total / b.minimum), '<= 1.05x', yes(a.total / b.minimum <= 1.05));
    row(`8. The same: 429s (emulator stats, worst round; baseline: each worker's own in-memory limiter, the default)`, String(a.throttled), String(m.throttled), '', '0', yes(a.throttled === 0));
    const c = b.cold;
    row(`8. The same with freshly started workers (their first calls compile the code and open connections): total vs minimum`, s(c.total), s(c.minimum), x(c.total / c.minimum), 'reported', '-');
    row('8. The same with in-memory limiters per worker: total (vs minimum); SUCCESSFUL imports', `${s(a.total)}; ${a.ok}/${b.n}`, `${s(m.total)}; ${m.ok}/${b.n}`, `${x(a.total / m.total)}; ${x(m.total / b.minimum)} of the minimum`, 'reported', '-');
    notes.push(`8. Emulator \`--time-scale 0.01\` (Dromo's 20 creates per key and 12 polls per import, per 600 ms); ${b.workers} Node processes, each a client with \`rateLimit: { windowMs: ${b.windowMs} }\` making ${b.perWorker} \`importFile\` calls at once (a 2-record CSV, the saved contacts schema, default polling), all started together once every process has loaded and run one import of its own (on another window; the emulator is reset after it), as a worker that has been up a while has (a start signal on stdin). Shared: each client's \`rateLimit.store\` is \`redisRateLimitStore(client)\` over node-redis and a redis-server of the benchmark's own on loopback. Total = first call started to last call done across the processes. Minimum = ${b.waits} windows after the first burst of 20 (${b.waits * b.windowMs} ms) + one importFile run alone through the same store (median ${b.single.toFixed(0)} ms, measured alternately in the same rounds). ${reps} rounds, medians (shared: ratios ${a.ratios.map((r) => r.toFixed(2)).join('/')}, 429s per round ${a.throttledRuns.join('/')}, ${a.creates} creates; in-memory per worker: ratios ${m.ratios.map((r) => r.toFixed(2)).join('/')}, 429s per round ${m.throttledRuns.join('/')}, ${m.creates} creates (each 429 is retried after its \`retry-after-ms\`, at most twice)${m.firstError ? `, first error: ${m.firstError}` : ''}). Freshly started workers (no import of their own first; in the same rounds): one import alone ${c.single.toFixed(0)} ms, ratios ${c.ratios.map((r) => r.toFixed(2)).join('/')}, 429s per round ${c.throttledRuns.join('/')}; the difference is the first window, whose sends go out later while four processes on this machine's CPUs each compile the code on its first calls.`);
  }, [['8. Shared limits', '<= 1.05x, 0 429s']]);
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => {});
}

// Machine info.
const cpu = os.cpus();
let kernel = '';
try { kernel = execFileSync('uname', ['-sr']).toString().trim(); } catch {}
const machine = [
  `- Date: ${new Date().toISOString()} (run took ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
  `- CPU: ${cpu[0]?.model ?? '?'} x ${cpu.length}; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (shared, noisy machine)`,
  `- ${kernel}; Node ${process.version}; ${chromiumVersion}`,
  `- Rounds: BENCH_REPS=${reps}; upload ${process.env.BENCH_UPLOAD_MB ?? 1024} MiB; browser ${process.env.BENCH_BROWSER_MB ?? 256} MiB; count ${process.env.BENCH_COUNT_MB ?? 500} MB${only ? `; only ${[...only].join(',')}` : ''}`,
];
const header = '| measurement | ours | baseline | ratio | target | met? |\n| --- | --- | --- | --- | --- | --- |';
const table = [header, ...rows.map((r) => `| ${r.measurement} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.target} | ${r.met} |`)].join('\n');
const md = `# Benchmarks

Generated by \`scripts/bench.sh\` (bench/run.mjs); do not edit by hand. Every ratio compares figures
measured side by side in the same run, in alternating rounds; the figures are medians. Ratios are
ours / baseline (for throughput higher is better, for time, size and memory lower is better).
Everything runs on loopback.

${table}

## How each line was measured
${notes.map((n) => `- ${n}`).join('\n')}

## Machine
${machine.join('\n')}
`;
fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), md);
console.log(`\n${table}\n\n${machine.join('\n')}\n\nwritten to BENCHMARKS.md`);
