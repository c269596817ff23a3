// One Node upload variant in its own process: node upload-node-child.mjs <variant> <file> <url>
// Prints { variant, ms, bytes, growth, peak, base } (peak RSS from VmHWM after a reset, or 50 ms samples).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { peakTracker } from './lib.mjs';

const [variant, file, url] = process.argv.slice(2);
const size = fs.statSync(file).size;
const pkg = await import(path.join(process.env.HI_PKG_DIR, 'esm.mjs'));
const dromo = new pkg.Dromo({ apiKey: 'bench-key', baseUrl: 'http://127.0.0.1:9/api/v1', rateLimit: false });

const variants = {
  // The package: a File streamed from disk by fileFromPath, PUT through its node:http uploader.
  async ours() {
    const f = await pkg.fileFromPath(file);
    await dromo.imports.upload(url, f);
  },
  // fs.createReadStream().pipe(http.request) with Content-Length: the streaming floor.
  rawPipe() {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'PUT', headers: { 'content-length': size } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      fs.createReadStream(file).on('error', reject).pipe(req);
    });
  },
  // fetch with a file-backed Blob: undici reads the whole Blob into memory first.
  async fetchBlob() {
    const r = await fetch(url, { method: 'PUT', body: await fs.openAsBlob(file) });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  },
  // exa-js websets.imports.create(params, csv)'s PUT: the CSV as one Buffer (read whole), then
  // fetch(uploadUrl, { method: 'PUT', body: csvBuffer }). Reading the file is included.
  async exaJs() {
    const csvBuffer = await fs.promises.readFile(file);
    const r = await fetch(url, { method: 'PUT', body: csvBuffer });
    if (!r.ok) throw new Error(`Upload failed: ${r.status} ${await r.text()}`);
  },
};

const run = variants[variant];
if (!run) throw new Error(`unknown variant ${variant}`);
const mem = peakTracker();
mem.start();
const t0 = performance.now();
await run();
const ms = performance.now() - t0;
const m = mem.stop();
console.log(JSON.stringify({ variant, ms, bytes: size, mbps: size / 1e6 / (ms / 1000), ...m }));
