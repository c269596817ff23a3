// @ts-check
// Entry for browsers, bundlers and other runtimes without node:fs, with both providers (exa.js and
// dromo.js load a smaller .wasm with one provider each). The .wasm is fetched with top-level await
// so users never call an init function; `new URL(..., import.meta.url)` is the pattern Vite and
// webpack 5 recognise to emit the .wasm as an asset next to the bundle (esbuild users copy it).

import init, * as core from './gen/headless_imports.js';
import { publicApi } from './exports.js';

await init({ module_or_path: new URL('./gen/headless_imports_bg.wasm', import.meta.url) });

// Keep these lists in step with node.js, exa.js and dromo.js (the tests check each against its .d.ts).
export const {
  Dromo,
  Exa,
  countCsvRecords,
  HeadlessImportsError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  ValidationError,
  UploadError,
  ImportFailedError,
  WaitTimeoutError,
} = publicApi(core);

export { fileFromPath, createProxyHandler, toNodeHandler, memoryOwnershipStore } from './browser-stubs.js';
