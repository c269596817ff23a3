// @ts-check
// Entry for Cloudflare Workers and workerd (the `workerd` export condition, which wrangler sets).
// A Worker may not fetch at the top level nor compile WebAssembly from bytes, so the .wasm is
// imported as a module (wrangler and workerd's config turn a `.wasm` import into a compiled
// `WebAssembly.Module`) and instantiated synchronously: no top-level await, nothing to fetch. A
// Worker is a server, so this is the build with the server-side calls (webhooks, saved schemas),
// and the proxy and webhook handlers are Fetch-style already. Uploads go through fetch (a Worker
// has no XMLHttpRequest and no node:http): `onProgress` then fires once, when the PUT is done.

import * as core from './gen/node/headless_imports.js';
// @ts-ignore: a compiled WebAssembly.Module, as Workers import .wasm files
import wasm from './gen/node/headless_imports_bg.wasm';
import { start, dromoClass, exaClass } from './clients.js';
import { serverEndpoints } from './server.js';

core.initSync({ module: wasm });
start(core);

export const Dromo = dromoClass(core, serverEndpoints);
export const Exa = exaClass(core, serverEndpoints);
export const countCsvRecords = core.countCsvRecords;
/** Resolves at once: this entry's .wasm is ready when it has been imported. */
export const ready = async () => {};
export * from './errors.js';
export { createProxyHandler, toNodeHandler } from './proxy.js';
export { memoryOwnershipStore } from './ownership.js';
export { fileFromPath } from './browser-stubs.js';
