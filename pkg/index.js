// @ts-check
// Entry for browsers, bundlers and other runtimes without node:fs, with both providers (exa.js and
// dromo.js load a smaller .wasm with one provider each). The .wasm is fetched with top-level await
// so users never call an init function; `new URL(..., import.meta.url)` is the pattern Vite and
// webpack 5 recognise to emit the .wasm as an asset next to the bundle (esbuild users copy it).

// Named imports, not a namespace: a bundler then leaves out what no entry uses (initSync).
import init, { Core, setup, countCsvRecords } from './gen/headless_imports.js';
import { start, dromoClass, exaClass } from './clients.js';

const core = { Core, setup };
await init({ module_or_path: new URL('./gen/headless_imports_bg.wasm', import.meta.url) });
start(core);

export const Dromo = dromoClass(core);
export const Exa = exaClass(core);
export { countCsvRecords };
export * from './errors.js';
export { fileFromPath, importFiles, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
