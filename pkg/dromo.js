// @ts-check
// Browser entry of `headless-imports/dromo`: the Dromo client alone, from a .wasm built without the
// other provider (smaller to download than the `headless-imports` entry). Loaded like index.js;
// in Node, `headless-imports/dromo` is node.js, where size does not matter. Dromo counts rows
// itself, so countCsvRecords (which Exa's flow needs) is not in this build: import it from
// `headless-imports` or `headless-imports/exa`.

// Named imports, not a namespace: a bundler then leaves out what no entry uses (initSync).
import init, { Core, setup } from './gen/dromo/headless_imports.js';
import { start, dromoClass } from './clients.js';

const core = { Core, setup };
await init({ module_or_path: new URL('./gen/dromo/headless_imports_bg.wasm', import.meta.url) });
start(core);

export const Dromo = dromoClass(core);
export * from './errors.js';
export { fileFromPath, importFiles, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
