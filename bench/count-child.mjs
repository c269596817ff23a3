// One CSV-count variant in its own process: node count-child.mjs <ours|exaSplit> <file>
import fs from 'node:fs';
import path from 'node:path';
import { peakTracker } from './lib.mjs';

const [variant, file] = process.argv.slice(2);
const size = fs.statSync(file).size;
const pkg = await import(path.join(process.env.HI_PKG_DIR, 'esm.mjs'));
const variants = {
  // The package: RFC 4180 state machine fed chunk by chunk from a fileFromPath File.
  ours: async () => pkg.countCsvRecords(await pkg.fileFromPath(file)),
  // exa-js websets.imports.create: csvBuffer.toString('utf8').split('\n').filter(l => l.trim()).length - 1,
  // on the file read whole (it takes a string or Buffer).
  exaSplit: async () => {
    const csvBuffer = await fs.promises.readFile(file);
    const csvText = csvBuffer.toString('utf8');
    const lines = csvText.split('\n').filter((line) => line.trim().length > 0);
    return Math.max(0, lines.length - 1);
  },
};
const mem = peakTracker();
mem.start();
const t0 = performance.now();
const count = await variants[variant]();
const ms = performance.now() - t0;
console.log(JSON.stringify({ variant, count, ms, bytes: size, mbps: size / 1e6 / (ms / 1000), ...mem.stop() }));
