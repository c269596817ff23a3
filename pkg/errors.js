// @ts-check
// The error classes of headless-imports: one plain module, re-exported by every entry (`export *`)
// and handed to each wasm build at start-up (clients.js), so that `err instanceof NotFoundError`
// holds whichever entry or build threw it. Rust (src/error.rs) decides which class an error
// becomes, its message and its properties.
//
// Secrets: Rust redacts the API key and presigned-URL signatures from messages before they reach
// here. Properties may still hold raw wire data (an import's `upload` URL, response bodies), so the
// bulky or sensitive ones are non-enumerable: `console.log(err)` and `JSON.stringify(err)` show
// `code`, `status`, `requestId`, `path`, ... but never dump an import with its signed URL.

/**
 * Properties an error can carry. Only the ones that are not `undefined` land on the instance.
 * @typedef {{
 *   code?: string,
 *   status?: number,
 *   requestId?: string,
 *   body?: unknown,
 *   headers?: Record<string, string>,
 *   path?: string,
 *   s3Code?: string,
 *   expired?: boolean,
 *   import?: unknown,
 *   cause?: unknown,
 *   [key: string]: unknown,
 * }} ErrorProps
 */

// Kept out of enumeration (see the header): they can be large or hold a presigned URL.
const HIDDEN = new Set(['body', 'headers', 'import']);

/**
 * Defines `name` and the default `code` on a class's prototype, like the built-in errors
 * (`TypeError.prototype.name`). Written out rather than read from `constructor.name` because
 * minifiers in users' bundles rename classes; on the prototype the name is already in place
 * when the Error constructor captures the stack, so stack traces read `NotFoundError: ...`.
 * @param {Function} cls
 * @param {string} name
 * @param {string} code
 */
function brand(cls, name, code) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  Object.defineProperty(cls.prototype, 'code', { value: code, writable: true, configurable: true });
}

/** Base class of every error thrown by headless-imports; `code` is stable, messages are not. */
export class HeadlessImportsError extends Error {
  /**
   * @param {string} [message]
   * @param {ErrorProps} [props]
   */
  constructor(message, props) {
    // `cause` goes through the standard Error option so runtimes print it as the cause.
    super(message, props && props.cause !== undefined ? { cause: props.cause } : undefined);
    /** @type {string} a stable machine-readable reason, e.g. `not_found` */
    // Copied from the prototype onto the instance so that console.log, JSON.stringify and object
    // spreads show it; `props.code` (e.g. `invalid_response`) overrides it just below.
    this.code = this.code;
    if (props) {
      for (const key of Object.keys(props)) {
        const value = props[key];
        if (value === undefined || key === 'cause') continue;
        Object.defineProperty(this, key, {
          value,
          writable: true,
          configurable: true,
          enumerable: !HIDDEN.has(key),
        });
      }
    }
  }
}
brand(HeadlessImportsError, 'HeadlessImportsError', 'error');

/** The API answered with an error status. `status`, `requestId`, `body` and `headers` describe it. */
export class APIError extends HeadlessImportsError {}
brand(APIError, 'APIError', 'api_error');

// One subclass per status, like the major SDKs: `catch (e) { if (e instanceof NotFoundError) ... }`.
export class BadRequestError extends APIError {}
brand(BadRequestError, 'BadRequestError', 'bad_request');
export class AuthenticationError extends APIError {}
brand(AuthenticationError, 'AuthenticationError', 'authentication_error');
export class PermissionDeniedError extends APIError {}
brand(PermissionDeniedError, 'PermissionDeniedError', 'permission_denied');
export class NotFoundError extends APIError {}
brand(NotFoundError, 'NotFoundError', 'not_found');
export class ConflictError extends APIError {}
brand(ConflictError, 'ConflictError', 'conflict');
export class UnprocessableEntityError extends APIError {}
brand(UnprocessableEntityError, 'UnprocessableEntityError', 'unprocessable_entity');
export class RateLimitError extends APIError {}
brand(RateLimitError, 'RateLimitError', 'rate_limit');
export class InternalServerError extends APIError {}
brand(InternalServerError, 'InternalServerError', 'internal_server_error');

/** The request got no answer (DNS, refused, reset, CORS); the Node or fetch error is in `cause`. */
export class APIConnectionError extends HeadlessImportsError {}
brand(APIConnectionError, 'APIConnectionError', 'connection_error');

/** The request took longer than `timeoutMs`. A connection error: no answer came in time. */
export class APIConnectionTimeoutError extends APIConnectionError {}
brand(APIConnectionTimeoutError, 'APIConnectionTimeoutError', 'timeout');

/** The caller's `AbortSignal` fired. */
export class APIUserAbortError extends HeadlessImportsError {}
brand(APIUserAbortError, 'APIUserAbortError', 'aborted');

/** Bad input, rejected before any request; `path` names the offending field, e.g. `fields[2].label`. */
export class ValidationError extends HeadlessImportsError {}
brand(ValidationError, 'ValidationError', 'validation_error');

/**
 * The presigned PUT failed. `status` and `s3Code` come from the storage's XML answer when there was
 * one, `expired` tells that the URL outlived its validity, `import` is the import it was for.
 */
export class UploadError extends HeadlessImportsError {}
brand(UploadError, 'UploadError', 'upload_error');

/** The import reached FAILED; `import` is the import as last seen. */
export class ImportFailedError extends HeadlessImportsError {}
brand(ImportFailedError, 'ImportFailedError', 'import_failed');

/**
 * A Dromo import stopped at NEEDS_REVIEW: a person must finish it at `reviewUrl` (then it becomes
 * SUCCESSFUL). `importFile`/`importRows` reject with it unless `waitForReview` is set, so it is
 * never mistaken for a result; `import` is the import.
 */
export class NeedsReviewError extends HeadlessImportsError {}
brand(NeedsReviewError, 'NeedsReviewError', 'needs_review');

/** `waitForCompletion` ran out of time; `import` is the last import seen (it may still finish). */
export class WaitTimeoutError extends HeadlessImportsError {}
brand(WaitTimeoutError, 'WaitTimeoutError', 'wait_timeout');

/**
 * A webhook delivery that does not verify or parse (`exa.webhooks.unwrap`, `dromo.webhooks.unwrap`):
 * `code` is `webhook_signature` (no or no matching `Exa-Signature`), `webhook_timestamp` (outside
 * the tolerance: a replay, or a clock far off) or `webhook_payload` (not the raw body, not JSON,
 * not an event). Answer such a delivery with 400 (or 401), and never act on it.
 */
export class WebhookVerificationError extends HeadlessImportsError {}
brand(WebhookVerificationError, 'WebhookVerificationError', 'webhook_verification');
