// @ts-check
// A file that shrinks between fileFromPath and its upload (Node, Deno, Bun): the import must fail,
// never go up short. Prints what Exa's importFile did as JSON.
import fs from 'node:fs';
import { Exa, fileFromPath } from 'headless-imports';

const g = /** @type {any} */ (globalThis);
const env = JSON.parse(g.process?.env.HI_ENV ?? g.Deno.env.get('HI_ENV'));
const rows = Array.from({ length: 20_000 }, (_, i) => `https://c${i}.example,Company ${i}`).join('\n');
fs.writeFileSync(env.path, `url,name\n${rows}\n`);
const file = await fileFromPath(env.path);
fs.truncateSync(env.path, 4096);
const exa = new Exa({ apiKey: env.exaKey, baseUrl: new URL('/websets', env.api).href });
const outcome = await exa.importFile(file, { entity: { type: 'company' } }).then(
  ({ import: imp }) => ({ status: imp.status, count: imp.count }),
  (/** @type {any} */ e) => ({ error: e?.name, code: e?.code, isOurs: e instanceof Error && 'code' in e }),
);
console.log(JSON.stringify({ size: file.size, ...outcome }));
