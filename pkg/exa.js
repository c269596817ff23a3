// @ts-check
// Browser entry of `headless-imports/exa`: the Exa client alone, from a .wasm built without the
// other provider (smaller to download than the `headless-imports` entry). Loaded like index.js;
// in Node, `headless-imports/exa` is node.js, where size does not matter.

// Named imports, not a namespace: a bundler then leaves out what no entry uses (initSync).
import init, { Core, setup, countCsvRecords } from './gen/exa/headless_imports.js';
import { start, exaClass } from './clients.js';

const core = { Core, setup };
await init({ module_or_path: new URL('./gen/exa/headless_imports_bg.wasm', import.meta.url) });
start(core);

export const Exa = exaClass(core);
export { countCsvRecords };
export * from './errors.js';
export { fileFromPath, importFiles, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
