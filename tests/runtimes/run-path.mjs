// @ts-check
// Deno importing the package's web entry by a local path (what an import map or a URL import does):
// no node_modules resolution and no node: modules; the .wasm is fetched from its file: URL.
import * as hi from './node_modules/headless-imports/index.js';
import { flows } from './flows.js';

const g = /** @type {any} */ (globalThis);
console.log(JSON.stringify(await flows(hi, JSON.parse(g.Deno.env.get('HI_ENV')))));
