// @ts-check
// A file on disk uploaded from Node, Deno or Bun: `fileFromPath` streams it, so resident memory must
// not grow with its size. Prints the upload's peak RSS growth (sampled every 20 ms) as JSON.
import { Dromo, fileFromPath } from 'headless-imports';

const g = /** @type {any} */ (globalThis);
const env = JSON.parse(g.process?.env.HI_ENV ?? g.Deno.env.get('HI_ENV'));
const rss = () => (g.process?.memoryUsage?.rss?.() ?? g.Deno.memoryUsage().rss);

const dromo = new Dromo({ apiKey: env.dromoKey, baseUrl: env.api });
// Measured from before fileFromPath: opening the file must not read it either.
const before = rss();
let peak = before;
const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 20);
const file = await fileFromPath(env.path);
peak = Math.max(peak, rss());
let loaded = 0;
let events = 0;
const started = Date.now();
const { import: imp } = await dromo.importFile(file, {
  schema_id: env.schema,
  wait: false,
  onProgress: (/** @type {{ loaded: number }} */ p) => {
    loaded = p.loaded;
    events++;
  },
});
clearInterval(sampler);
peak = Math.max(peak, rss());
console.log(JSON.stringify({ status: imp.status, size: file.size, loaded, events, growthMiB: (peak - before) / 2 ** 20, ms: Date.now() - started }));
