// @ts-check
// Node ESM entry (also what node.cjs loads through require(esm)). It loads the same .wasm as the
// browser entry, synchronously: no top-level await, because require() of an ES module is refused
// when its graph awaits at the top level (ERR_REQUIRE_ASYNC_MODULE).

import fs from 'node:fs';
import * as core from './gen/headless_imports.js';
import { publicApi } from './exports.js';
import { nodePut } from './node-upload.js';

core.initSync({ module: fs.readFileSync(new URL('./gen/headless_imports_bg.wasm', import.meta.url)) });
// Uploads in Node go through node:http streaming (fetch would buffer the whole file, see node-upload.js).
core.setNodeUploader(nodePut);

// Keep this list in step with index.js (the tests check both against index.d.ts). In Node the
// `headless-imports/exa` and `/dromo` subpaths are this entry too: size does not matter here.
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

export { fileFromPath } from './node-upload.js';
export { createProxyHandler, toNodeHandler } from './proxy.js';
export { memoryOwnershipStore } from './ownership.js';
