// Types of `headless-imports/dromo`: the Dromo client alone. In browsers this entry loads a .wasm
// built without Exa (smaller to download); in Node it is the full package. Every type of the
// package is available here too; only the values (what exists at run time) are narrowed to Dromo's.
export type * from './index.js';
export {
  Dromo,
  countCsvRecords,
  fileFromPath,
  createProxyHandler,
  toNodeHandler,
  memoryOwnershipStore,
  HeadlessImportsError, APIError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  ConflictError, UnprocessableEntityError, RateLimitError, InternalServerError, APIConnectionError,
  APIConnectionTimeoutError, APIUserAbortError, ValidationError, UploadError, ImportFailedError, NeedsReviewError,
  WaitTimeoutError,
} from './index.js';
