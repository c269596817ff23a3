// @ts-check
// What fileFromPath's File reads, through the File API and through the package (Node, Deno, Bun):
// the same everywhere, including slices (Deno's File is the package's own, see node-upload.js).
import fs from 'node:fs';
import { fileFromPath, countCsvRecords } from 'headless-imports';

const g = /** @type {any} */ (globalThis);
const env = JSON.parse(g.process?.env.HI_ENV ?? g.Deno.env.get('HI_ENV'));
fs.writeFileSync(env.path, 'a,b\n1,2\n3,"x\ny"\n5,6\n');
const f = await fileFromPath(env.path);
const s = f.slice(4, 16);
console.log(JSON.stringify({
  size: f.size,
  text: await f.text(),
  bytes: Array.from((await f.bytes()).slice(0, 4)),
  slice: [s.size, await s.text(), await f.slice(-4).text(), await f.slice(100).text()],
  records: [await countCsvRecords(f), await countCsvRecords(s, { header: false })],
}));
