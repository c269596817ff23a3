// @ts-check
// Deno's npm: specifier (resolved from the local node_modules the test installed the tarball into).
// @ts-ignore: a Deno specifier
import * as hi from 'npm:headless-imports';
import { flows } from './flows.js';

const g = /** @type {any} */ (globalThis);
console.log(JSON.stringify(await flows(hi, JSON.parse(g.Deno.env.get('HI_ENV')))));
