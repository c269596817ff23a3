// @ts-check
// Node- and server-only functions, exported by the browser entries too: code shared between Node
// and the browser then type-checks and, if it calls one in a page, fails with an explanation
// instead of a missing-export error: a HeadlessImportsError with `code` `not_available_here`.

import { HeadlessImportsError } from './errors.js';

/** @param {string} message */
const unavailable = (message) => new HeadlessImportsError(message, { code: 'not_available_here' });

/**
 * Node-only (reading a path needs node:fs).
 * @param {string} _path
 * @param {{ name?: string, type?: string }} [_options]
 * @returns {Promise<File>}
 */
export async function fileFromPath(_path, _options) {
  throw unavailable('fileFromPath is Node-only; pass the File from an <input type=file>');
}

/**
 * Node-only (it reads files from disk and writes its journal there).
 * @returns {Promise<never>}
 */
export async function importFiles() {
  throw unavailable('importFiles is Node-only (it reads files by path); in a page call importFile for each File');
}

/**
 * Server-only (it holds your secret key); use it in Node or another server runtime, never in a page.
 * @returns {never}
 */
export function createProxyHandler() {
  throw unavailable('createProxyHandler is server-only (it holds your API key); use it in Node, not in a page');
}

/** Server-only, see createProxyHandler. @returns {never} */
export function toNodeHandler() {
  throw unavailable('toNodeHandler is server-only; use it in Node, not in a page');
}

/** Server-only, see createProxyHandler. @returns {never} */
export function memoryOwnershipStore() {
  throw unavailable('memoryOwnershipStore is server-only (it belongs with createProxyHandler); use it in Node, not in a page');
}
