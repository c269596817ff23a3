// @ts-check
// An ES module user in Node, Deno or Bun: the flows (flows.js) through `import 'headless-imports'`,
// printed as one JSON line. HI_ENV holds the emulator's address and keys.
import * as hi from 'headless-imports';
import { flows } from './flows.js';

const g = /** @type {any} */ (globalThis);
const env = JSON.parse(g.process?.env.HI_ENV ?? g.Deno.env.get('HI_ENV'));
console.log(JSON.stringify(await flows(hi, env)));
