// @ts-check
// Browser entry of `headless-imports/exa`: the Exa client alone, from a .wasm built without the
// other provider (~7 KB gz less to download than the `headless-imports` entry). Loaded like index.js;
// in Node, `headless-imports/exa` is node.js, where size does not matter.

import init, * as core from './gen/exa/headless_imports.js';
import { publicApi } from './exports.js';

await init({ module_or_path: new URL('./gen/exa/headless_imports_bg.wasm', import.meta.url) });

// Keep these lists in step with node.js, exa.js and dromo.js (the tests check each against its .d.ts).
export const {
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
