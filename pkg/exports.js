// @ts-check
// The public names, gathered in one place for both entries (index.js for browsers and bundlers,
// node.js for Node). ESM named exports must be written out statically, so each entry still lists
// the names once in an `export const { ... }`; this module is what they destructure, and it fails
// loudly at import time if the Rust core and the entries ever disagree about a class.

/** The error classes every entry re-exports, in the order the docs list them. */
const ERROR_NAMES = [
  'HeadlessImportsError',
  'APIError',
  'BadRequestError',
  'AuthenticationError',
  'PermissionDeniedError',
  'NotFoundError',
  'ConflictError',
  'UnprocessableEntityError',
  'RateLimitError',
  'InternalServerError',
  'APIConnectionError',
  'APIConnectionTimeoutError',
  'APIUserAbortError',
  'ValidationError',
  'UploadError',
  'ImportFailedError',
  'WaitTimeoutError',
];

/**
 * The objects the package exports, taken from an initialised wasm-bindgen module. The classes are
 * the very ones Rust instantiates (from `errorClasses()`), so `instanceof` holds for users.
 * @param {{ Dromo?: Function, Exa?: Function, countCsvRecords: Function, errorClasses(): Record<string, Function> }} core
 *   an initialised build: both providers, or one (the `/exa` and `/dromo` entries)
 * @returns {Record<string, any>}
 */
export function publicApi(core) {
  const classes = core.errorClasses();
  const missing = ERROR_NAMES.filter((name) => typeof classes[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`headless-imports: the wasm core lacks ${missing.join(', ')} (mismatched build?)`);
  }
  return { Dromo: core.Dromo, Exa: core.Exa, countCsvRecords: core.countCsvRecords, ...classes };
}
