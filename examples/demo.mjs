// @ts-check
// The README demo: imports a CSV through Dromo's headless flow against the local emulator (or any
// base URL), printing upload progress, every status and the first result rows.
//
//   node examples/demo.mjs [file.csv]     (scripts/demo.sh starts the emulator and sets the env)
import { Dromo, fileFromPath } from 'headless-imports';

const file = process.argv[2] ?? new URL('./contacts.csv', import.meta.url).pathname;
const baseUrl = process.env.DROMO_BASE_URL ?? 'https://app.dromo.io/api/v1';
const dromo = new Dromo({ apiKey: process.env.DROMO_API_KEY, baseUrl });

const started = Date.now();
const t = () => `${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(7);
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

try {
  const { import: imp, rows } = await dromo.importFile(await fileFromPath(file), {
    schema_id: process.env.DROMO_SCHEMA_ID ?? '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b',
    signal: controller.signal,
    onProgress: ({ loaded, total }) =>
      console.log(`${t()}  upload   ${String(Math.round((loaded / total) * 100)).padStart(3)}%  ${loaded}/${total} bytes`),
    onStatus: (i) => console.log(`${t()}  status   ${i.status}  (import ${i.id})`),
  });
  if (rows) {
    console.log(`${t()}  result   ${rows.length} rows; the first 5:`);
    console.table(rows.slice(0, 5));
  } else {
    console.log(`${t()}  ${imp.status}: finish it at ${imp.review_url}`);
  }
} catch (err) {
  const e = /** @type {any} */ (err);
  console.error(`${t()}  ${e.name} (${e.code}): ${e.message}`);
  if (e.import) console.error(`         import id: ${e.import.id}`);
  process.exitCode = 1;
}
