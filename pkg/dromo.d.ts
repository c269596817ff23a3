// Types of `headless-imports/dromo`: the Dromo client alone. In browsers this entry loads a .wasm
// built without Exa (smaller to download); in Node it is the full package. Every type of the
// package is available here too; only the values (what exists at run time) are narrowed to Dromo's.
// countCsvRecords is Exa's need (Dromo counts rows itself): it is in `headless-imports` and `/exa`.
export type * from './index.js';
export {
  Dromo,
  fileFromPath,
  importFiles,
  createProxyHandler,
  toNodeHandler,
  memoryOwnershipStore,
  HeadlessImportsError, APIError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  ConflictError, UnprocessableEntityError, RateLimitError, InternalServerError, APIConnectionError,
  APIConnectionTimeoutError, APIUserAbortError, ValidationError, UploadError, ImportFailedError, NeedsReviewError,
  WaitTimeoutError, WebhookVerificationError,
} from './index.js';
