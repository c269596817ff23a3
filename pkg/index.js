// @ts-check
// Entry for browsers, bundlers and other runtimes without node:fs. The one .wasm is fetched with
// top-level await so users never call an init function; `new URL(..., import.meta.url)` is the
// pattern Vite, webpack 5 and Rollup recognise to emit the .wasm as an asset next to the bundle.

import init, * as core from './gen/headless_imports.js';
import { publicApi } from './exports.js';

await init({ module_or_path: new URL('./gen/headless_imports_bg.wasm', import.meta.url) });

// Keep this list in step with node.js (both are checked against index.d.ts by the tests).
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

/**
 * Node-only (reading a path needs node:fs). Exported here too so that code shared between Node and
 * the browser type-checks and fails with an explanation instead of a missing-export error.
 * @param {string} _path
 * @param {{ name?: string, type?: string }} [_options]
 * @returns {Promise<File>}
 */
export async function fileFromPath(_path, _options) {
  throw new Error('fileFromPath is Node-only; pass the File from an <input type=file>');
}

/**
 * Server-only (it holds your secret key). Exported here too so that shared code type-checks and
 * fails with an explanation; use it in Node or another server runtime, never in a page.
 * @returns {never}
 */
export function createProxyHandler() {
  throw new Error('createProxyHandler is server-only (it holds your API key); use it in Node, not in a page');
}

/** Server-only, see createProxyHandler. @returns {never} */
export function toNodeHandler() {
  throw new Error('toNodeHandler is server-only; use it in Node, not in a page');
}
