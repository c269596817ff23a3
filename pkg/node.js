// @ts-check
// Node ESM entry (also what node.cjs loads through require(esm)). It loads its .wasm (both
// providers plus the server-only calls, such as Dromo's saved schemas, which no browser build
// carries) synchronously: no top-level await, because require() of an ES module is refused
// when its graph awaits at the top level (ERR_REQUIRE_ASYNC_MODULE). In Node the
// `headless-imports/exa` and `/dromo` subpaths are this entry too: size does not matter here.

import fs from 'node:fs';
import * as core from './gen/node/headless_imports.js';
import { start, dromoClass, exaClass } from './clients.js';
import { serverEndpoints } from './server.js';
import { nodePut } from './node-upload.js';

core.initSync({ module: fs.readFileSync(new URL('./gen/node/headless_imports_bg.wasm', import.meta.url)) });
// Uploads in Node go through node:http streaming (fetch would buffer the whole file, see node-upload.js).
start(core, nodePut);

export const Dromo = dromoClass(core, serverEndpoints);
export const Exa = exaClass(core, serverEndpoints);
export const countCsvRecords = core.countCsvRecords;
export * from './errors.js';
export { fileFromPath } from './node-upload.js';
export { importFiles } from './bulk.js';
export { createProxyHandler, toNodeHandler } from './proxy.js';
export { memoryOwnershipStore } from './ownership.js';
