// Types of `headless-imports/exa`: the Exa client alone. In browsers this entry loads a .wasm
// built without Dromo (smaller to download); in Node it is the full package. Every type of the
// package is available here too; only the values (what exists at run time) are narrowed to Exa's.
export type * from './index.js';
export {
  Exa,
  countCsvRecords,
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
