// Type definitions for headless-imports: the public contract, hand-written and checked by `tsc`
// (tests/types). Wire objects keep Dromo's own spelling (snake_case import fields, camelCase
// field/settings keys) so these types read like Dromo's API reference.

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** Options for `new Dromo(...)`. */
export interface DromoOptions {
  /**
   * Your Dromo **backend** license key, sent as `X-Dromo-License-Key`. A secret: it never appears
   * in errors or logs and is never sent to the upload host. Required unless `baseUrl` points at
   * your own proxy that adds the key server-side.
   */
  apiKey?: string;
  /** API root. Default `https://app.dromo.io/api/v1`; a path like `/api/dromo` targets a same-origin proxy. */
  baseUrl?: string;
  /**
   * Retries of a failed request (connection errors, 408, 409, 429, >= 500) with exponential
   * backoff that honours `Retry-After`. Default 2; capped at 10.
   */
  maxRetries?: number;
  /**
   * Per-request timeout in milliseconds (each attempt). Default 60 000. With `rateLimit.store`,
   * each decision of the store is bounded by it too (the wait for a slot is not).
   */
  timeoutMs?: number;
  /** Extra headers sent with every API request (never with uploads to the presigned URL). */
  headers?: Record<string, string>;
  /** A `fetch` implementation to use instead of the global one: API requests, result downloads (`rows`, `results`) and the browser-less upload fallback. */
  fetch?: typeof fetch;
  /**
   * Allow an `apiKey` in a browser. Off by default because anyone can read a key shipped to a
   * browser; prefer a server-side proxy and a keyless client.
   */
  dangerouslyAllowBrowser?: boolean;
  /**
   * Client-side rate limiting, so bulk use queues instead of drawing 429s. Dromo's default is its
   * documented limits (20 creates and 12 status polls per import per minute); Exa's is none.
   * `false` turns it off; an object overrides counts per `windowMs` (default 60 000), and its
   * `store` shares the limits between processes.
   */
  rateLimit?: false | RateLimitOptions;
  /** Node only: every wait of this client sleeps until a webhook (see `WaitOptions.webhooks`). */
  webhooks?: boolean;
}

/** The `rateLimit` client option as an object. */
export interface RateLimitOptions {
  /** Creates per window (Dromo: 20 per key). `0` lifts the limit. */
  creates?: number;
  /** Status polls per import per window (Dromo: 12). `0` lifts the limit. */
  polls?: number;
  /** The window in milliseconds. Default 60 000. */
  windowMs?: number;
  /**
   * Node only: where the limiter's slots live, so that every process (and machine) on one
   * account shares the account's limits instead of each spending all of them. Make it with
   * `redisRateLimitStore(client)` from `headless-imports/redis` and give the same store (over the
   * same Redis) to every client on that key. Without it, each client keeps its own slots in
   * memory. `null` is refused, like anything that is not a store (`ValidationError`, `path`
   * `rateLimit.store`); so is the key in a browser build.
   */
  store?: RateLimitStore;
}

/**
 * A place outside the process where rate-limit slots live, shared by every process on an account:
 * what `redisRateLimitStore` (`headless-imports/redis`) returns. The client calls these methods;
 * you never need to. Keys name an account by a hash of its API key, never by the key itself.
 *
 * Any object whose `acquire`, `release` and `pause` are functions will do, its own or inherited
 * (a class instance: they are called on it). Another backend may implement it, provided it
 * decides slots atomically by the rule
 * `pkg/redis.lua` applies: slot k+max no earlier than slot k's answer plus the window plus the
 * margin, an unanswered slot counted as answered at its start plus `leaseMs`, nothing before a
 * pause ends, all on one clock. After a final wait the client asks about its slot once more,
 * right before sending: answer `firm` with no wait unless the slot was given away meanwhile.
 * (Redis's store also hears from holders every second and frees a silent one's slots sooner.)
 */
export interface RateLimitStore {
  /**
   * `'fail'` (default): when the store fails, the call rejects with a `HeadlessImportsError`
   * whose `code` is `rate_limit_store`, and nothing is sent. `'memory'`: the client goes on
   * within this process's own limits until the store answers again; then what it sent meanwhile
   * holds every process (a `pause`) until those sends are a window old.
   */
  readonly onError?: 'fail' | 'memory';
  /**
   * Takes the next slot of the window `key` (or, given `slot`, decides that one again): when it
   * may be sent (`waitMs` from now), and whether that is final (`firm`; otherwise ask again then).
   * The client stops waiting for an answer when the call is aborted or its `timeoutMs` passes;
   * a slot answered after that is released at once (`sent: false`). `waitMs` must be finite and at
   * most 2^31 - 1 (else the call fails with `rate_limit_store`): no window gives such a wait.
   */
  acquire(request: {
    key: string;
    max: number;
    windowMs: number;
    marginMs: number;
    leaseMs: number;
    slot?: number;
  }): Promise<{ slot: number; waitMs: number; firm: boolean }>;
  /**
   * The send of `slot` was answered (or given up): frees the slot `max` places later. `sent:
   * false` when it never went (given up while it waited, or taken too late for anyone); a store
   * may then let the slot after it go without waiting for it. A rejection is ignored (the slot
   * then frees when its lease ends).
   */
  release(request: { key: string; slot: number; windowMs: number; marginMs: number; sent?: boolean }): Promise<void>;
  /** A 429 asked every sender of window `key` to wait `ms`. A rejection is ignored. */
  pause(request: { key: string; ms: number }): Promise<void>;
}

/** Per-call options for the API methods. */
export interface RequestOptions {
  /** Cancels the request (and its retries and backoff timers); rejects with `APIUserAbortError`. */
  signal?: AbortSignal;
  /** Overrides the client's per-request `timeoutMs` for this call. */
  timeoutMs?: number;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
  /** Extra headers for this call, merged over the client's `headers`. */
  headers?: Record<string, string>;
  /** Called before a send waits for a rate-limit slot (see `QueuedEvent`). Throwing stops the call. */
  onQueued?: (event: QueuedEvent) => void;
}

/**
 * A send is about to wait for a slot of the client's rate limiter (Dromo allows 20 creates a
 * minute per key and 12 status polls a minute per import): how long, and for which limit.
 */
export interface QueuedEvent {
  kind: 'create' | 'poll';
  /** Milliseconds until the slot frees. */
  waitMs: number;
}

// ---------------------------------------------------------------------------------------------
// Wire types (as Dromo spells them)
// ---------------------------------------------------------------------------------------------

/**
 * Where an import stands. An open set: Dromo's guide adds `PENDING` to its OpenAPI enum, and any
 * status this package does not know is treated as "still in progress", never as an error.
 * - `AWAITING_UPLOAD`: created, waiting for the file at the `upload` URL.
 * - `PENDING`: file received, processing starts shortly.
 * - `RUNNING`: processing.
 * - `SUCCESSFUL`: done; rows available through `results()` / `resultUrl()`.
 * - `FAILED`: unrecoverable (corrupt or empty file, a hook threw); no results, no review URL.
 * - `NEEDS_REVIEW`: a person must finish it at `review_url`; it then becomes `SUCCESSFUL`.
 */
export type ImportStatus =
  | 'AWAITING_UPLOAD'
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCESSFUL'
  | 'FAILED'
  | 'NEEDS_REVIEW'
  | (string & {});

/** A headless import as listed by `GET /headless/imports/`. */
export interface HeadlessImport {
  /** The import's id (a UUID). */
  id: string;
  /** The saved schema used, or `null` for an inline (`fields`) schema. */
  schema_id: string | null;
  status: ImportStatus;
  /** The file name given at creation; `null` for an `initial_data` import. */
  original_filename: string | null;
  /** ISO 8601 date-time. */
  created_date: string;
  /** ISO 8601 date-time. */
  modified_date: string;
}

/** A headless import as returned by create and retrieve. */
export interface HeadlessImportFull extends HeadlessImport {
  /**
   * Presigned S3 URL to PUT the file to: valid 30 minutes, one file per import. Contains a
   * signature: treat it as a secret (this package redacts it from error messages).
   */
  upload: string | null;
  /** Where a person finishes a `NEEDS_REVIEW` import in a browser. */
  review_url: string | null;
  /** Undocumented by Dromo: kept as opaque JSON. */
  result_metadata: Record<string, unknown> | null;
  /** Undocumented by Dromo: kept as opaque JSON. */
  import_errors: Array<Record<string, unknown>> | null;
}

/**
 * A field validator, e.g. `{ validate: 'required' }`, `{ validate: 'unique' }` or
 * `{ validate: 'regex_match', regex: '^[0-9]+$' }`. Dromo's schema types it as any object.
 */
export interface Validator {
  validate: 'required' | 'unique' | 'unique_case_insensitive' | 'regex_match' | 'regex_exclude' | 'require_with' | 'require_without' | 'require_with_all' | 'require_without_all' | 'require_with_values' | 'require_without_values' | 'require_with_all_values' | 'require_without_all_values' | 'length' | (string & {});
  /** Validator-specific options (`regex`, `fields`, `min`, `max`, `errorMessage`, ...). */
  [option: string]: unknown;
}

/**
 * A field's type: a name like `'string'`, `'number'`, `'email'`, `'select'`, or
 * `[typeName, options]`, e.g. `['select', { selectOptions: [...] }]`.
 */
export type FieldType = string | [string, unknown];

/** One column of an inline schema (`fields`). No other keys are accepted. */
export interface Field {
  /** The key of this field in the result rows. */
  key: string;
  type: FieldType;
  /** Human name; also used to match file columns. */
  label: string;
  description?: string;
  /** Other column headers that map to this field. */
  alternateMatches?: string[];
  validators?: Validator[];
  invalidValueMessage?: string;
  readOnly?: boolean;
  hidden?: boolean;
  requireMapping?: boolean;
  manyToOne?: boolean;
}

/**
 * Import settings. With `schema_id` they are merged over the saved schema for this import only;
 * with `fields` they define the inline schema's settings. No other keys are accepted.
 */
export interface Settings {
  importIdentifier?: string;
  title?: string;
  allowInvalidSubmit?: boolean;
  /** What happens to rows with invalid values; `BLOCK_SUBMIT` sends such imports to `NEEDS_REVIEW`. */
  invalidDataBehavior?: 'BLOCK_SUBMIT' | 'INCLUDE_INVALID_ROWS' | 'REMOVE_INVALID_ROWS' | 'INCLUDE_INVALID_ROWS_AND_VALUES';
  backendSync?: boolean;
  backendSyncMode?: 'DISABLED' | 'FULL_DATA' | 'MAPPINGS_ONLY';
  manualInputDisabled?: boolean;
  manualInputOnly?: boolean;
  allowCustomFields?: boolean;
  passThroughUnmappedColumns?: boolean;
  maxRecords?: number | null;
  developmentMode?: boolean;
  displayEncoding?: boolean;
  styleOverrides?: Record<string, unknown>;
  /** Bytes. */
  maxFileSize?: number;
  /** Deprecated by Dromo in favour of dashboard webhooks. */
  webhookUrl?: string | null;
  needsReviewWebhookUrl?: string | null;
  initialData?: unknown[] | null;
}

/** A column hook: JS source run by Dromo for one field. */
export interface ColumnHook {
  fieldName: string;
  /** JS source of the callback. */
  callback: string;
}

/** A step hook: JS source run by Dromo at a step of the import. */
export interface StepHook {
  type: 'UPLOAD_STEP' | 'REVIEW_STEP' | 'REVIEW_STEP_POST_HOOKS';
  /** JS source of the callback. */
  callback: string;
}

/** Hooks, as JS source strings run by Dromo (not functions). Merged like `settings`. */
export interface Hooks {
  rowHooks?: string[];
  bulkRowHooks?: string[];
  rowDeleteHooks?: string[];
  beforeFinishCallback?: string;
  columnHooks?: ColumnHook[];
  stepHooks?: StepHook[];
}

/** Who the import is for, shown in Dromo's dashboard. */
export interface ImportUser {
  id: string;
  name?: string;
  email?: string;
  companyId?: string;
  companyName?: string;
}

/** `import_metadata` of a create call. */
export type ImportMetadata = { user?: ImportUser | null } | null;

/** A row of data: column name (or field key) to value. */
export type Row = Record<string, unknown>;

/** Exactly one schema source: a saved schema id or an inline list of fields. */
export type SchemaSource =
  | {
      /** Id of a saved schema. Mutually exclusive with `fields`. */
      schema_id: string;
      fields?: never;
    }
  | {
      /** An inline schema. Mutually exclusive with `schema_id`. */
      fields: Field[];
      schema_id?: never;
    };

/** Everything a create call accepts besides the schema source and the data source. */
export interface CreateImportOptions {
  /** Merged over the saved schema's settings, or the inline schema's settings. */
  settings?: Settings;
  /** Merged over the saved schema's hooks, or the inline schema's hooks. */
  hooks?: Hooks;
  import_metadata?: ImportMetadata;
}

/** Exactly one data source: a file to upload afterwards, or the rows themselves. */
export type DataSource =
  | {
      /** The name of the file you will upload to the returned `upload` URL. */
      original_filename: string;
      initial_data?: never;
    }
  | {
      /** The rows to import (at most 15 MB as JSON); nothing to upload. */
      initial_data: Row[];
      original_filename?: never;
    };

/**
 * Params of `dromo.imports.create`: exactly one of `schema_id` / `fields`, exactly one of
 * `original_filename` / `initial_data`, optional `settings`, `hooks`, `import_metadata`.
 * Checked against Dromo's schema before any request (`ValidationError` with the offending `path`).
 */
export type CreateImportParams = CreateImportOptions & SchemaSource & DataSource;

/** Params of `dromo.imports.list`. */
export interface ListParams extends RequestOptions {
  /** Index of the first import. Default 0. */
  offset?: number;
  /** Page size. Default 100, at most 1000. */
  limit?: number;
}

/** One page of a list, as Dromo returns it, plus navigation. */
export interface ListPage<T> {
  /** Total number of items across all pages. */
  count: number;
  /** Dromo's link to the next page (informational: navigation is computed from offset/limit/count). */
  next: string | null;
  /** Dromo's link to the previous page (informational). */
  previous: string | null;
  results: T[];
  /** Whether `nextPage()` has a page to fetch. */
  hasNextPage(): boolean;
  /** Fetches the following page; rejects when there is none (check `hasNextPage()`). */
  nextPage(): Promise<ListPage<T>>;
  /** Iterates the items of this page and every page after it. */
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

/**
 * A lazy list: `await` it for the first page, or `for await` it for every item across pages
 * (fetched one page at a time, only as you go). Nothing is requested until you do either.
 */
export interface PagedList<T> extends PromiseLike<ListPage<T>>, AsyncIterable<T> {
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<ListPage<T> | R>;
  finally(onFinally?: (() => void) | null): Promise<ListPage<T>>;
}

// ---------------------------------------------------------------------------------------------
// Uploads and waiting
// ---------------------------------------------------------------------------------------------

/**
 * What can be uploaded. A `File` from `<input type=file>` or `fileFromPath()` streams without
 * being read into memory; a string is sent as UTF-8.
 */
export type UploadBody = Blob | ArrayBuffer | Uint8Array | string;

/** String literals that name a file rather than hold its contents, e.g. `'contacts.csv'`. */
export type FileNameLike =
  | `${string}.${'csv' | 'tsv' | 'txt' | 'xls' | 'xlsx' | 'json'}`
  | `${string}.${'CSV' | 'TSV' | 'TXT' | 'XLS' | 'XLSX' | 'JSON'}`;

/**
 * A body `B`, unless it is a string literal naming a file: a string is uploaded as the file's
 * contents, so `importFile('contacts.csv', ...)` would upload those 12 bytes. The type error then
 * says what to do; at run time such a string is refused before any request.
 */
export type NotAPath<B> = B extends FileNameLike
  ? { 'a string is the file contents, not its path: pass await fileFromPath(path)': B }
  : B;

/** Upload progress, in bytes. */
export interface UploadProgress {
  /**
   * Bytes handed to the platform so far (the OS or the browser sends them on), not bytes the
   * storage confirmed: it can reach `total` before the storage has read them all, and the upload
   * resolves only once the storage answers. Grows monotonically, a retry included (it holds until
   * the new attempt passes it), and ends at `total`.
   */
  loaded: number;
  /** The body's size. */
  total: number;
}

/** Options for `dromo.imports.upload`. */
export interface UploadOptions {
  /** Called as bytes leave (at most about every 64 KiB in Node), last with `loaded === total`. */
  onProgress?: (progress: UploadProgress) => void;
  /** Cancels the upload; rejects with `APIUserAbortError`. */
  signal?: AbortSignal;
}

/** Options for `dromo.imports.waitForCompletion`. */
export interface WaitOptions {
  /**
   * Milliseconds between status polls. Default 5000: Dromo allows 12 polls per minute per import.
   */
  intervalMs?: number;
  /**
   * Grow each wait by this factor (1 to 10; default 1 = fixed) so long imports poll less, up to
   * `maxIntervalMs` (default 60 000).
   */
  backoff?: number;
  /** Cap for the interval when `backoff` grows it. Default 60 000. */
  maxIntervalMs?: number;
  /** Give up after this many milliseconds with `WaitTimeoutError`. Default 30 minutes. */
  timeoutMs?: number;
  /** Stops polling at once (no timer is left behind); rejects with `APIUserAbortError`. */
  signal?: AbortSignal;
  /**
   * Called with the import each time its status changes (once per status, in order). A callback
   * that throws stops the wait: it rejects with `HeadlessImportsError` (`code` `callback_error`,
   * what it threw as `cause`, the import as `import`). The same holds for `onProgress` and
   * `onQueued`.
   */
  onStatus?: (imp: HeadlessImportFull) => void;
  /** Called before a poll (or the flow's create) waits for a rate-limit slot. */
  onQueued?: (event: QueuedEvent) => void;
  /**
   * Keep polling through `NEEDS_REVIEW` until a person finishes the review. Default false:
   * `waitForCompletion` resolves with the `NEEDS_REVIEW` import (its `review_url` is the way
   * forward), `importFile`/`importRows` reject with `NeedsReviewError`.
   */
  waitForReview?: boolean;
  /**
   * Node: sleep until this client's `webhooks.handler()` receives an event for the import (then
   * confirm with one GET), polling only as a fallback for a lost delivery: right away, then every
   * `intervalMs` (default 60 000 here). Exa sends no event when an import fails: that is found by
   * the fallback poll, so lower `intervalMs` if failures must be seen sooner. An event whose GET
   * finds nothing final makes the next event wait 1 s, then 2 s, 4 s... (unsigned Dromo events
   * can come from anyone). Default: the client's `webhooks` option. Browsers refuse it.
   */
  webhooks?: boolean;
}

/** The options both one-call flows share. */
interface FlowOptions extends WaitOptions {
  /** Wait for the import to finish and fetch its rows. Default true; false resolves right after creation (and upload). */
  wait?: boolean;
  /** Fetch the cleaned rows once SUCCESSFUL. Default true; false resolves `{ import }` without downloading them. */
  rows?: boolean;
  /**
   * Node only (the browser builds refuse it as an unknown option). Awaited right before each
   * create request is sent, once its rate-limit slot is granted (`attempt` 0, then 1, 2... for
   * retries): the moment to record that a create is going out (`importFiles` journals its intent
   * here, so a create still queued when the process died leaves nothing to look for). Keep it
   * short: the create holds its slot meanwhile. Throwing stops the flow before the request.
   */
  onCreating?: (event: { attempt: number }) => unknown;
  /** Called with the import as soon as it exists (record its id). Throwing stops the flow. */
  onCreated?: (imp: HeadlessImportFull) => void;
  /** Called once the file is uploaded (`importFile` only). Throwing stops the flow. */
  onUploaded?: (imp: HeadlessImportFull) => void;
}

/**
 * Options of `dromo.importFile`: the create params without the data source (the file is the
 * data), `original_filename` defaulting to the File's name, plus upload and wait options.
 * `timeoutMs` is the wait's overall timeout.
 */
export type ImportFileOptions = CreateImportOptions &
  SchemaSource &
  FlowOptions & {
    /**
     * Default: the `File`'s name. Required when the body is not a File. Must end in `.csv`, `.tsv`,
     * `.xls` or `.xlsx` (the types Dromo imports); anything else is refused before any request.
     */
    original_filename?: string;
    initial_data?: never;
    /** Upload progress. */
    onProgress?: (progress: UploadProgress) => void;
  };

/** Options of `dromo.importRows`: the create params without the data source, plus wait options. */
export type ImportRowsOptions = CreateImportOptions &
  SchemaSource &
  FlowOptions & {
    original_filename?: never;
    initial_data?: never;
  };

/**
 * What the one-call flows resolve to: a `SUCCESSFUL` import and its cleaned rows. An import that
 * stops at `NEEDS_REVIEW` rejects with `NeedsReviewError` instead, so a result always has rows.
 */
export interface ImportResult<R = Row> {
  /** The import, `SUCCESSFUL`. */
  import: HeadlessImportFull;
  /** The cleaned rows, keyed by field key. */
  rows: R[];
  /** `importFile`: imports a lost create answer may have left on the account (see `HeadlessImportsError.leftBehind`). */
  leftBehind?: string[];
}

/** What the one-call flows resolve to with `wait: false`: the import as it is after the upload. */
export interface StartedImport {
  import: HeadlessImportFull;
  /** `importFile`: imports a lost create answer may have left on the account (see `HeadlessImportsError.leftBehind`). */
  leftBehind?: string[];
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** The `/headless/imports/` endpoints: `dromo.imports`. */
export interface DromoImports {
  /**
   * Creates an import (`POST /headless/imports/`). Params are validated first: a mistake rejects
   * with `ValidationError` (its `path` names the field) before any request. An unknown
   * `schema_id` rejects with `NotFoundError`.
   */
  create(params: CreateImportParams, opts?: RequestOptions): Promise<HeadlessImportFull>;
  /** Fetches an import by id (`GET /headless/imports/{id}/`). */
  retrieve(id: string, opts?: RequestOptions): Promise<HeadlessImportFull>;
  /**
   * Deletes an import (`DELETE /headless/imports/{id}/`); resolves `undefined`. An unknown id
   * rejects with `NotFoundError`, except on a retry after a lost answer, where 404 means the
   * first attempt did it.
   */
  delete(id: string, opts?: RequestOptions): Promise<void>;
  /** The presigned URL of a `SUCCESSFUL` import's cleaned rows (JSON). A secret while valid. */
  resultUrl(id: string, opts?: RequestOptions): Promise<string>;
  /**
   * The cleaned rows of a `SUCCESSFUL` import, keyed by field key, all in one array: for results
   * that fit in memory comfortably. Read like `rows()` (resumed after a cut, never truncated).
   */
  results<R = Row>(id: string, opts?: RequestOptions): Promise<R[]>;
  /**
   * The cleaned rows of a `SUCCESSFUL` import as they download, in constant memory whatever the
   * result's size: `for await (const row of dromo.imports.rows(id)) ...`. The download waits for
   * the loop (a slow consumer slows it instead of filling memory); leaving the loop early, or
   * `signal`, stops it. A read cut off mid-body resumes from the last complete row (a `Range`
   * request; else from the start, skipping the rows already yielded): no row is yielded twice or
   * lost, and a read that cannot be finished throws after the rows it delivered. `timeoutMs` is
   * the wait for the answer, then for each chunk.
   */
  rows<R = Row>(id: string, opts?: RequestOptions): AsyncGenerator<R, void, undefined>;
  /**
   * Lists imports: `await` it for one page, or `for await (const imp of dromo.imports.list())`
   * for all of them. Pages are computed from offset/limit/count; Dromo's `next` URL is never followed.
   */
  list(params?: ListParams): PagedList<HeadlessImport>;
  /**
   * PUTs the file to an import's presigned `upload` URL (or to the URL given), with an exact
   * Content-Length and no API key. Browsers use XMLHttpRequest (for progress); Node streams
   * through node:http (a 1 GiB file never sits in memory). Storage errors (e.g. an expired URL)
   * reject with `UploadError`.
   */
  upload<B extends UploadBody>(importOrUploadUrl: HeadlessImportFull | string, body: NotAPath<B>, opts?: UploadOptions): Promise<void>;
  /**
   * Polls until the import is `SUCCESSFUL` (resolves), `NEEDS_REVIEW` (resolves, unless
   * `waitForReview`), `FAILED` (`ImportFailedError`) or `timeoutMs` passes (`WaitTimeoutError`).
   */
  waitForCompletion(id: string, opts?: WaitOptions): Promise<HeadlessImportFull>;
}

/**
 * A saved schema (`ImportSchema`): what `schema_id` names. Checked before any request by the same
 * rules as an inline schema in `imports.create`.
 */
export interface ImportSchema {
  /** Assigned by Dromo (a UUID). Leave it out of `create`; `update` accepts the schema's own id. */
  id?: string;
  /** Unique within your organisation; shown in Dromo's dashboard. */
  name: string;
  /** At least one field, keys unique. */
  fields: Field[];
  /** Sent as `{}` when left out (the guide lists it as required). */
  settings?: Settings;
  hooks?: Hooks;
}

/** A saved schema as Dromo returns it: with its `id`. */
export interface SavedSchema extends ImportSchema {
  id: string;
  settings: Settings;
}

/**
 * The `/schemas/` endpoints: `dromo.schemas`, Dromo's Saved Schema API. Server-side: they need
 * the backend key, so only Node's build has them; in a browser build every call rejects with
 * `HeadlessImportsError` (`code` `not_available_here`). A schema is validated before any request
 * (`ValidationError` with a `path` such as `schema.fields[0].type`).
 */
export interface DromoSchemas {
  /** Every saved schema (`GET /schemas/`; Dromo answers one plain array, no pages). */
  list(opts?: RequestOptions): Promise<SavedSchema[]>;
  /**
   * Saves a schema (`POST /schemas/`); resolves it with its new `id`. A name already taken
   * rejects with `BadRequestError`. Not retried after an answer that may have been lost (a second
   * POST could make a second schema): only 408 and 429 are retried.
   */
  create(schema: ImportSchema, opts?: RequestOptions): Promise<SavedSchema>;
  /** Fetches a saved schema (`GET /schemas/{id}/`); an unknown id rejects with `NotFoundError`. */
  retrieve(id: string, opts?: RequestOptions): Promise<SavedSchema>;
  /**
   * Replaces a saved schema (`PUT /schemas/{id}/`: the whole schema, not a patch); resolves the
   * stored schema. Imports created afterwards use it.
   */
  update(id: string, schema: ImportSchema, opts?: RequestOptions): Promise<SavedSchema>;
  /**
   * Deletes a saved schema (`DELETE /schemas/{id}/`); resolves `undefined`. Creating an import
   * with its id then rejects with `NotFoundError`. A 404 on a retry after a lost answer counts as done.
   */
  delete(id: string, opts?: RequestOptions): Promise<void>;
}

/** A client for Dromo's Headless Import API. */
export declare class Dromo {
  /**
   * @throws {ValidationError} for an unknown option, a missing `apiKey` against Dromo's own API,
   *   or an `apiKey` in a browser without `dangerouslyAllowBrowser`.
   */
  constructor(options: DromoOptions);
  /** The `/headless/imports/` endpoints. */
  readonly imports: DromoImports;
  /** The `/schemas/` endpoints (saved schemas), in Node; see `DromoSchemas`. */
  readonly schemas: DromoSchemas;
  /** Reading Dromo's webhook deliveries (Node); see `DromoWebhooks`. */
  readonly webhooks: DromoWebhooks;
  /**
   * Create -> upload -> wait -> results, in one call. Everything is validated before the import is
   * created, so bad input leaves no orphan import. Errors after creation carry the import
   * (`err.import`), so its id is never lost.
   */
  importFile(file: File, options: ImportFileOptions & ({ wait: false } | { rows: false })): Promise<StartedImport>;
  importFile<R = Row>(file: File, options: ImportFileOptions): Promise<ImportResult<R>>;
  importFile<B extends UploadBody>(
    body: NotAPath<B>,
    options: ImportFileOptions & { original_filename: string } & ({ wait: false } | { rows: false }),
  ): Promise<StartedImport>;
  importFile<R = Row, B extends UploadBody = UploadBody>(
    body: NotAPath<B>,
    options: ImportFileOptions & { original_filename: string },
  ): Promise<ImportResult<R>>;
  /** Create with `initial_data` -> wait -> results, in one call. */
  importRows(rows: Row[], options: ImportRowsOptions & ({ wait: false } | { rows: false })): Promise<StartedImport>;
  importRows<R = Row>(rows: Row[], options: ImportRowsOptions): Promise<ImportResult<R>>;
}

// ---------------------------------------------------------------------------------------------
// Exa Websets imports (wire fields exactly as Exa spells them: camelCase)
// ---------------------------------------------------------------------------------------------

/** Options for `new Exa(...)`; the key is sent as `x-api-key`. Default `baseUrl` `https://api.exa.ai/websets`. */
export interface ExaOptions extends DromoOptions {
  /**
   * Node only: the signing secret `exa.webhooks.unwrap` checks deliveries with when it is given
   * none (what `exa.webhooks.create` returned). A secret: keep it out of browsers and logs.
   */
  webhookSecret?: string;
  /** Node only: every wait of this client sleeps until a webhook (see `WaitOptions.webhooks`). */
  webhooks?: boolean;
}

/** What each row of the import is. `custom` needs a 2-200 character description. */
export type ExaEntity =
  | { type: 'company' | 'person' | 'article' | 'research_paper' }
  | { type: 'custom'; description: string };

/** Exa's import statuses; an open set (a newer doc page adds `canceled`). */
export type ExaImportStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'canceled' | (string & {});

/** Why an Exa import failed. */
export type ExaFailedReason = 'invalid_format' | 'invalid_file_content' | 'missing_identifier';

/** An Exa import (`Import` in Exa's OpenAPI spec). */
export interface ExaImport {
  id: string;
  object: 'import';
  status: ExaImportStatus;
  format: 'csv' | 'webset';
  entity: ExaEntity | null;
  title: string;
  /** Number of records declared at creation. */
  count: number;
  metadata: Record<string, string>;
  failedReason: ExaFailedReason | null;
  failedAt: string | null;
  failedMessage: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `create`'s answer: the import plus where to PUT the file, valid for 1 hour. */
export interface ExaCreateImportResponse extends ExaImport {
  uploadUrl: string;
  uploadValidUntil: string;
}

/** `CreateImportParameters`. `importFile` computes `size`, `count` and `format` for you. */
export interface ExaCreateImportParams {
  /** File size in bytes, at most 50,000,000. */
  size: number;
  /** Number of CSV records, header excluded (quoted newlines do not split records). */
  count: number;
  format: 'csv';
  entity: ExaEntity;
  title?: string;
  /** String values, each at most 1000 characters. */
  metadata?: Record<string, string>;
  /** Column index (0-based) of the identifier (e.g. URL); inferred when absent. */
  csv?: { identifier?: number };
}

/** `UpdateImport`. */
export interface ExaUpdateImportParams {
  title?: string;
  metadata?: Record<string, string>;
}

/** `list` params: `limit` 1..200 (default 25); `cursor` from a previous page's `nextCursor`. */
export interface ExaListParams extends RequestOptions {
  cursor?: string;
  limit?: number;
}

/** One page of Exa imports, with helpers (not enumerable) to walk on. */
export interface ExaListPage {
  data: ExaImport[];
  hasMore: boolean;
  nextCursor: string | null;
  hasNextPage(): boolean;
  nextPage(): Promise<ExaListPage>;
  [Symbol.asyncIterator](): AsyncIterator<ExaImport>;
}

/** `await` for the first page, or `for await` for every import across pages. */
export interface ExaPagedList extends PromiseLike<ExaListPage>, AsyncIterable<ExaImport> {
  catch<T = never>(onRejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<ExaListPage | T>;
  finally(onFinally?: (() => void) | null): Promise<ExaListPage>;
}

/** `Exa.importFile` options. `size`, `count` and `format` are computed from the file and refused here. */
export interface ExaImportFileOptions extends Omit<WaitOptions, 'waitForReview' | 'onStatus'> {
  entity: ExaEntity;
  title?: string;
  metadata?: Record<string, string>;
  csv?: { identifier?: number };
  /** Wait for the import to finish (default `true`). */
  wait?: boolean;
  onProgress?: (progress: UploadProgress) => void;
  onStatus?: (imp: ExaImport) => void;
  /** Node only: awaited right before each create request is sent (see Dromo's `onCreating`). */
  onCreating?: (event: { attempt: number }) => unknown;
  /** Called with the import as soon as it exists. Throwing stops the flow (and deletes the import). */
  onCreated?: (imp: ExaCreateImportResponse) => void;
  /** Called once the file is uploaded. Throwing stops the flow. */
  onUploaded?: (imp: ExaCreateImportResponse) => void;
  signal?: AbortSignal;
}

/** `exa.imports`. */
export interface ExaImports {
  /**
   * `POST /v0/imports`; validated against `CreateImportParameters` first. The import's `metadata`
   * gets a `headlessImportsToken` beside yours: after a lost answer the import it made is found by
   * it and deleted before trying again, so a lost answer never leaves an import behind.
   */
  create(params: ExaCreateImportParams, opts?: RequestOptions): Promise<ExaCreateImportResponse>;
  retrieve(id: string, opts?: RequestOptions): Promise<ExaImport>;
  update(id: string, params: ExaUpdateImportParams, opts?: RequestOptions): Promise<ExaImport>;
  /**
   * Resolves with the deleted import; with `null` when a retry after a lost answer found it
   * already gone (the first attempt deleted it).
   */
  delete(id: string, opts?: RequestOptions): Promise<ExaImport | null>;
  list(params?: ExaListParams): ExaPagedList;
  /** PUT to `uploadUrl` (exact Content-Length, no key). */
  upload<B extends UploadBody>(importOrUploadUrl: ExaCreateImportResponse | string, body: NotAPath<B>, opts?: UploadOptions): Promise<void>;
  /**
   * Polls until `completed`; `failed` and `canceled` reject with `ImportFailedError` (with
   * `failedReason` and `failedMessage`), the deadline with `WaitTimeoutError`.
   */
  waitForCompletion(id: string, opts?: Omit<WaitOptions, 'waitForReview' | 'onStatus'> & { onStatus?: (imp: ExaImport) => void }): Promise<ExaImport>;
}

/** Exa's event types (`EventType`); a webhook subscribes to 1 to 19 of them. */
export type ExaEventType =
  | 'webset.created' | 'webset.deleted' | 'webset.paused' | 'webset.idle'
  | 'webset.search.created' | 'webset.search.canceled' | 'webset.search.completed' | 'webset.search.updated'
  | 'import.created' | 'import.completed'
  | 'webset.item.created' | 'webset.item.enriched'
  | 'monitor.created' | 'monitor.updated' | 'monitor.deleted' | 'monitor.run.created' | 'monitor.run.completed'
  | 'webset.export.created' | 'webset.export.completed';

/** An Exa webhook (`Webhook`). `secret` is only in `create`'s answer: store it then. */
export interface ExaWebhook {
  id: string;
  object: 'webhook';
  status: 'active' | 'inactive';
  events: ExaEventType[];
  url: string;
  /** The signing secret: in `create`'s answer only, `null` afterwards. Never log it. */
  secret: string | null;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** `CreateWebhookParameters`. */
export interface ExaCreateWebhookParams {
  /** Where Exa POSTs the events: an absolute http(s) URL. */
  url: string;
  events: ExaEventType[];
  metadata?: Record<string, string>;
}

/** `UpdateWebhookParameters`. */
export type ExaUpdateWebhookParams = Partial<ExaCreateWebhookParams>;

/** A verified Exa delivery. For `import.*` events, `data` is the import. */
export interface ExaEvent {
  /** The event's id: the same on every retry of one delivery (deduplicate on it). */
  id: string;
  object: 'event';
  type: ExaEventType | (string & {});
  data: ExaImport | Record<string, unknown>;
  createdAt: string;
}

/** Options of `exa.webhooks.unwrap`. */
export interface UnwrapOptions {
  /** How far (seconds, either way) the signature's timestamp may be from now. Default 300. */
  toleranceSeconds?: number;
}

/** One page of Exa webhooks. */
export interface ExaWebhookListPage {
  data: ExaWebhook[];
  hasMore: boolean;
  nextCursor: string | null;
  hasNextPage(): boolean;
  nextPage(): Promise<ExaWebhookListPage>;
  [Symbol.asyncIterator](): AsyncIterator<ExaWebhook>;
}

/** `await` for the first page, or `for await` for every webhook across pages. */
export interface ExaWebhookPagedList extends PromiseLike<ExaWebhookListPage>, AsyncIterable<ExaWebhook> {
  catch<T = never>(onRejected?: ((reason: unknown) => T | PromiseLike<T>) | null): Promise<ExaWebhookListPage | T>;
  finally(onFinally?: (() => void) | null): Promise<ExaWebhookListPage>;
}

/**
 * `exa.webhooks`: verifying deliveries and the `/v0/webhooks` endpoints. Server-side (Node): in a
 * browser build every call rejects with `HeadlessImportsError` (`code` `not_available_here`).
 */
export interface ExaWebhooks {
  /**
   * Verifies a delivery's `Exa-Signature` (HMAC-SHA256 over the raw body, any of its `v1` values,
   * compared in constant time; the timestamp within `toleranceSeconds`, default 300) and resolves
   * the parsed event. Pass the body exactly as received (a string, or the bytes: node:http's
   * Buffer, `await request.arrayBuffer()`): a parsed object is refused, since re-serialised JSON
   * never matches. `secret` defaults to the client's `webhookSecret`. A delivery that does not
   * verify rejects with `WebhookVerificationError`: answer it 401 (400 for `webhook_payload`) and
   * ignore it. `toleranceSeconds` must be finite (0: the same second only).
   */
  unwrap(body: string | Uint8Array | ArrayBuffer, headers: Headers | Record<string, string | string[] | undefined>, secret?: string, options?: UnwrapOptions): Promise<ExaEvent>;
  /**
   * `POST /v0/webhooks`; resolves the webhook with its `secret` (shown this once). Not retried
   * after an answer that may have been lost: that webhook's secret would be lost with it.
   */
  create(params: ExaCreateWebhookParams, opts?: RequestOptions): Promise<ExaWebhook>;
  retrieve(id: string, opts?: RequestOptions): Promise<ExaWebhook>;
  update(id: string, params: ExaUpdateWebhookParams, opts?: RequestOptions): Promise<ExaWebhook>;
  /** Resolves the deleted webhook (`null` when a retry after a lost answer found it gone). */
  delete(id: string, opts?: RequestOptions): Promise<ExaWebhook | null>;
  list(params?: ExaListParams): ExaWebhookPagedList;
  /** A receiver for Exa's deliveries; see `WebhookHandler`. `secret` defaults to `webhookSecret`. */
  handler(options?: WebhookHandlerOptions<ExaEvent> & { secret?: string; toleranceSeconds?: number }): WebhookHandler;
}

/** Options of `client.webhooks.handler`. */
export interface WebhookHandlerOptions<E> {
  /**
   * Called once per event after it verified (Exa) or parsed (Dromo), not awaited: the delivery
   * is answered at once. A repeated delivery of the same event (Exa: its id; Dromo: the same
   * body) among the last 10,000 is not passed on; it still wakes the waits (they confirm with a
   * GET).
   */
  onEvent?: (event: E) => unknown;
  /** Told what `onEvent` threw (default: `console.error`). */
  onError?: (error: unknown, event: E) => unknown;
  /** The largest body read; a larger delivery gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/**
 * A Fetch-style receiver, `(request) => Promise<Response>` (Deno, Bun, Workers, Next.js route
 * handlers), with `.node` for node:http's `(req, res)`. It answers 200 once a delivery verified
 * (Exa) or parsed (Dromo), 401 for a signature or timestamp that does not hold, 400 for a body
 * that is no event, 405 and 413; and it wakes this client's waits (`webhooks: true`) for the
 * import the event names, which then confirm with one GET (so a forged event never completes a
 * wait by itself).
 */
export interface WebhookHandler {
  /** Rejects with `ValidationError` for something that is not a `Request`, or a handler with no secret (Exa). */
  (request: Request): Promise<Response>;
  node: ProxyNodeHandler;
}

/** Dromo's managed webhook events. */
export type DromoWebhookEventName = 'import_completed' | 'headless_import_needs_review' | 'headless_import_failed';

/**
 * A Dromo delivery, **unverified**: Dromo signs nothing, so anyone who knows your URL can send
 * one. Use it as a hint: confirm with `dromo.imports.retrieve(event.data.id)` before acting.
 */
export type DromoWebhookEvent =
  | {
      event: DromoWebhookEventName | (string & {});
      data: {
        id: string;
        filename?: string;
        status?: ImportStatus;
        import_type?: 'HEADLESS' | 'EMBEDDED';
        num_data_rows?: number;
        has_data?: boolean;
        development_mode?: boolean;
        created_date?: string;
        user?: unknown;
        /** For headless imports: the import as `retrieve` returns it, without `review_url`. */
        headless?: HeadlessImport;
        [key: string]: unknown;
      };
    }
  /** The deprecated basic webhook (`settings.webhookUrl`): a form body `uploadId=<id>`. */
  | { event: 'basic'; data: { id: string } };

/** `dromo.webhooks` (Node only; a browser build rejects with `not_available_here`). */
export interface DromoWebhooks {
  /**
   * Parses a delivery: a managed event's JSON, or the basic webhook's form body. Nothing is
   * verified (Dromo signs nothing): confirm the import with a GET before acting on it. A body
   * that is neither rejects with `WebhookVerificationError` (`code` `webhook_payload`).
   */
  unwrap(body: string | Uint8Array | ArrayBuffer, headers?: Headers | Record<string, string | string[] | undefined>): Promise<DromoWebhookEvent>;
  /** A receiver for Dromo's deliveries (unsigned: a wait it wakes confirms with a GET); see `WebhookHandler`. */
  handler(options?: WebhookHandlerOptions<DromoWebhookEvent>): WebhookHandler;
}

/** A client for Exa's Websets Imports API. */
export declare class Exa {
  constructor(options: ExaOptions);
  readonly imports: ExaImports;
  /** Verifying webhook deliveries and the `/v0/webhooks` endpoints (Node). */
  readonly webhooks: ExaWebhooks;
  /**
   * Counts records and size itself (rejecting files over 50,000,000 bytes or without records
   * before any request), creates, uploads (deleting the import if the upload finally fails:
   * the error then has `deleted: true`), and waits unless `wait: false`.
   */
  importFile<B extends UploadBody>(file: NotAPath<B>, options: ExaImportFileOptions): Promise<{ import: ExaImport }>;
}

/**
 * RFC 4180 record count of a CSV, read chunk by chunk (quoted fields may hold commas, quotes and
 * newlines; CRLF or LF; a UTF-8 BOM is ignored). `header` (default true) excludes the first record.
 */
export declare function countCsvRecords(
  csv: Blob | UploadBody,
  options?: { header?: boolean; signal?: AbortSignal },
): Promise<number>;

/**
 * Node only: a `File` backed by the file at `path`, read only as it uploads (no memory cost for
 * large files). `name` defaults to the base name, `type` to a guess from the extension. In
 * browsers it rejects: use the `File` from an `<input type=file>`.
 * @throws {HeadlessImportsError} `code` `file_not_found`, `not_a_file` or `file_unreadable`, with
 *   the absolute `path` (and Node's error as `cause`).
 */
export declare function fileFromPath(path: string, options?: { name?: string; type?: string }): Promise<File>;

// ---------------------------------------------------------------------------------------------
// Many files, resumable (Node)
// ---------------------------------------------------------------------------------------------

/** `Omit` applied to each member of a union (the schema source is one). */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The `importFile` options `importFiles` sets for each file itself (report through `onEvent`). */
type PerFileOptions = 'onCreating' | 'onCreated' | 'onUploaded' | 'onStatus' | 'onProgress' | 'onQueued' | 'original_filename';

/** What `importFiles` adds to `importFile`'s options. */
export interface ImportFilesOwnOptions {
  /**
   * Path of the journal (created if missing): an append-only file of JSON lines, one per step
   * of each file (intent to create, created id, uploaded, final status, abandoned), each written
   * and fsynced before the run goes on. Run the same call again after a crash (kill -9 included)
   * and it resumes: a file whose create was journaled is never created again; an import still
   * awaiting its file is uploaded to while its URL is valid (else abandoned: deleted, journaled,
   * and a new one created; a delete that fails is reported in `leftBehind`, not fatal); imports
   * already uploaded are waited on; final ones are reported from the journal. The intent is
   * journaled right before the create request is sent (after its rate-limit slot). A create the
   * process died during (the API made the import, the journal never got its id) is found again:
   * Exa's by a marker in its `metadata` (`headlessImportsJournal`), deleted (its upload URL is
   * shown only once) and created anew while it still awaits its file, and adopted (waited on or
   * reported) once uploaded or final, never deleted. Dromo keeps no marker: an import of the
   * file's name and saved schema, `AWAITING_UPLOAD`, created after the intent (on the API's clock
   * as the run's earlier creates measured it; else within 15 minutes of skew) may be the run's or
   * another client's, so by default it is left alone and a new import created; each such possible
   * orphan is told in a `left` event and listed in the file's `leftBehind` (check it, delete it if
   * it is yours). With `adoptUnmarkedOrphans` the only match is used instead. A journal path that
   * is a directory or no regular file, ends with a slash (or `.`, `..`), is in a missing directory, goes through
   * a loop of symbolic links or cannot be written is refused (`journal_unusable`). A file is known
   * by its real path (symbolic links followed), size and modification time (a changed file is a
   * new file); under another name (a hard link, or moved since), by its device and inode as well,
   * and read where it is now. One run at a time:
   * the lock `<journal>.lock` sits beside the journal's real path (symbolic links followed) and
   * names its holder (pid, host, boot, PID namespace, start time, a
   * nonce); a run finding it held is refused (`code` `journal_in_use`, `lockPath`), unless its
   * holder is dead: known for sure in the same PID namespace, else once the lock has gone 30 s
   * without its holder's heartbeat (every 5 s); a run that was stopped that long and wakes to find
   * its lock taken over writes and creates nothing more (`journal_lock_lost` on its files). A
   * journal with several hard links is refused
   * (`journal_linked`); one written for another provider, base URL or create options too
   * (`journal_mismatch`), and one damaged anywhere but in its last line (`journal_damaged`): a
   * last line cut short by a crash is ignored and cut off. The file is made `0600` whenever a run
   * opens it (whatever it was created with): an Exa import's upload URL is in it.
   */
  journal?: string;
  /**
   * Dromo, with `journal`: use an import a killed run may have created but never journaled when
   * exactly one matches (file name, saved schema, `AWAITING_UPLOAD`, created after the intent).
   * Dromo returns nothing that proves such an import ours, so set this only when no other client
   * creates imports of these file names on the account: another client's import would get this
   * run's file. Default false: possible orphans are left alone and reported (`left` events,
   * `leftBehind`). Exa's imports carry a marker and need no such word.
   */
  adoptUnmarkedOrphans?: boolean;
  /** Files in flight at once, 1 to 64. Default 4; the client's rate limits hold across them. */
  concurrency?: number;
  /**
   * Told of each step of each file, in order per file; one that returns a promise is awaited
   * (a `done` whose listener writes the rows somewhere finishes before the journal records it).
   * One that throws ends that file with what it threw.
   */
  onEvent?: (event: ImportFilesEvent) => unknown;
}

/** `importFiles` options for a Dromo client. `rows` defaults to false here: `true` puts each file's rows on its `done` event. */
export type DromoImportFilesOptions = OmitEach<ImportFileOptions, PerFileOptions> & ImportFilesOwnOptions;

/** `importFiles` options for an Exa client. */
export type ExaImportFilesOptions = Omit<ExaImportFileOptions, PerFileOptions> & ImportFilesOwnOptions;

/** What `importFiles` tells `onEvent`. `file` is the path as given; `importId` once there is one. */
export type ImportFilesEvent =
  | { event: 'start'; file: string; phase: 'creating' | 'counting' }
  | { event: 'queued'; file: string; importId?: string; for: 'create' | 'poll'; waitMs: number }
  | { event: 'created'; file: string; importId: string; status: string; size: number; count?: number }
  | { event: 'progress'; file: string; importId: string; loaded: number; total: number }
  | { event: 'uploaded'; file: string; importId: string }
  | { event: 'status'; file: string; importId: string; status: string }
  /** Dromo with `rows: true`: fetching the rows. */
  | { event: 'results'; file: string; importId: string }
  | {
      event: 'done';
      file: string;
      importId: string;
      status: string;
      /** False with `wait: false`: the import as it stands after the upload. */
      waited: boolean;
      /** The import (absent when reported from the journal). */
      import?: HeadlessImportFull | ExaImport;
      /** Dromo with `rows: true`. */
      rows?: Row[];
      /** At `NEEDS_REVIEW`: where a person finishes it. */
      reviewUrl?: string;
      /** Finished in an earlier run: reported from the journal. */
      earlier?: true;
    }
  | { event: 'error'; file: string; importId?: string; error: unknown; earlier?: true }
  /** A journaled import picked up again: its upload, or its wait. */
  | { event: 'resumed'; file: string; importId: string; action: 'upload' | 'wait' }
  /**
   * A journaled import given up, and deleted (`deleted: false`, with `deleteError`, when the delete
   * failed: it is left on the account and listed in the file's `leftBehind`); a new create follows.
   */
  | {
      event: 'abandoned';
      file: string;
      importId: string;
      reason: 'upload_url_expired' | 'gone' | 'no_upload_url' | 'orphan' | 'file_changed';
      deleted: boolean;
      deleteError?: unknown;
      message: string;
    }
  /**
   * A Dromo import of this file's name (and schema) made since an earlier run meant to create
   * one, that the journal does not know: nothing proves which it is, so it is left alone (listed
   * in `leftBehind`) and a new import is created. Check it and delete it if it is yours.
   * `possible_orphan`: waiting for its file, maybe one an earlier run created before it died, or
   * one this run's create made before its answer was lost and it was sent again, or another
   * client's. `possible_duplicate`: past its upload (`status`), maybe this file imported
   * already by a run whose journal lost it (restored from an older copy), or another client's.
   */
  | { event: 'left'; file: string; importId: string; reason: 'possible_orphan' | 'possible_duplicate'; name?: string; createdAt?: string; status?: string; message: string }
  /** An import an earlier run created but never journaled, found and used (Exa's by its marker; Dromo's with `adoptUnmarkedOrphans`). */
  | { event: 'recovered'; file: string; importId: string; message: string }
  | { event: 'note'; file: string; importId?: string; message: string };

/** How one file ended. */
export interface ImportFilesOutcome {
  /** The path as given. */
  file: string;
  importId?: string;
  status?: string;
  /** `uploaded`: with `wait: false`; `not_started`: the signal aborted first. */
  outcome: 'succeeded' | 'needs_review' | 'failed' | 'uploaded' | 'error' | 'not_started';
  /** Finished in an earlier run (reported from the journal). */
  earlier?: true;
  /** What stopped it (`error`), or the `ImportFailedError` (`failed`). */
  error?: unknown;
  /**
   * Imports left on the account for the file: given up and not deletable, or possible orphans
   * left alone (a `left` event names each: check them, delete those that are yours).
   */
  leftBehind?: string[];
}

/** What `importFiles` resolves to: every file given, in order. */
export interface ImportFilesSummary {
  files: ImportFilesOutcome[];
}

/**
 * Node only: imports `files` (paths), `concurrency` at a time, each through `client.importFile`
 * (the same validation, retries, limits and waiting), reporting every step to `onEvent`;
 * resumable after a crash with `journal`. Resolves once every file has ended, whatever the
 * outcome of each (see `ImportFilesSummary`); rejects only for bad input, before any request
 * (`ValidationError`: the client, a file that cannot be read, an option), or a journal it cannot
 * use (`code` `journal_*`). In browsers it rejects (`not_available_here`).
 */
export declare function importFiles<C extends Dromo | Exa>(
  client: C,
  files: string[],
  options: C extends Dromo ? DromoImportFilesOptions : ExaImportFilesOptions,
): Promise<ImportFilesSummary>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Properties an error may be constructed with. */
export interface ErrorProps {
  code?: string;
  status?: number;
  requestId?: string;
  body?: unknown;
  headers?: Record<string, string>;
  path?: string;
  s3Code?: string;
  expired?: boolean;
  import?: HeadlessImportFull;
  cause?: unknown;
}

/** Base of every error thrown by headless-imports. Branch on `instanceof` or `code`, not on messages. */
export declare class HeadlessImportsError extends Error {
  constructor(message?: string, props?: ErrorProps);
  /**
   * Stable machine-readable reason, e.g. `not_found`, `validation_error`, `invalid_response`, or
   * `rate_limit_store` (the shared `rateLimit.store` failed, so nothing was sent; its `cause` is
   * the store's error).
   */
  code: string;
  /** `fileFromPath`'s errors: the file's absolute path. (On `ValidationError`: the input's.) */
  path?: string;
  /**
   * Whether the import a failed call made (`import`) was deleted, so nothing is left behind:
   * `Exa.importFile` after an upload, a callback or an abort failed; a create whose answer was
   * lost, when the call ended there (an abort, no retries left: `true`), or when what it made could
   * not be deleted, or its deletion went unconfirmed (`false`: it stopped rather than make a second;
   * check that one and delete or use it).
   */
  deleted?: boolean;
  /** `importFiles`' `journal_in_use`: the lock file that is held (delete it only if its run is over). */
  lockPath?: string;
  /**
   * An Exa create that stopped because it could not check or delete what a lost answer may have
   * created: the `metadata.headlessImportsToken` that import carries (look for it before creating
   * again; when it was found, `import` names it and `deleted` is `false`).
   */
  token?: string;
  /**
   * `Dromo.importFile` in Node, after a create whose answer was lost was sent again: imports that may
   * have been made by the lost attempt (waiting for a file, of this file's name and schema, made
   * since; never one of this client's own). Nothing proves them this call's rather than another
   * client's, so they are left alone: check them, and delete those that are yours.
   */
  leftBehind?: string[];
  /**
   * The import this error concerns, on every error raised after the import was created (any
   * class, an abort included), so its id is never lost. Not enumerable.
   */
  import?: HeadlessImportFull | ExaImport;
}

/** The API answered with an error status. */
export declare class APIError extends HeadlessImportsError {
  /** HTTP status. */
  status: number;
  /** The `X-Request-Id` of the answer, for support requests. */
  requestId?: string;
  /** The parsed JSON (or text) body of the answer. Not enumerable. */
  body?: unknown;
  /** The answer's headers. Not enumerable. */
  headers?: Record<string, string>;
}
/** 400: `code` `bad_request`. */
export declare class BadRequestError extends APIError {}
/** 401 (missing or wrong key): `code` `authentication_error`. */
export declare class AuthenticationError extends APIError {}
/** 403: `code` `permission_denied`. */
export declare class PermissionDeniedError extends APIError {}
/** 404 (unknown import or schema id): `code` `not_found`. */
export declare class NotFoundError extends APIError {}
/** 409: `code` `conflict`. */
export declare class ConflictError extends APIError {}
/** 422: `code` `unprocessable_entity`. */
export declare class UnprocessableEntityError extends APIError {}
/** 429, after the retries (Dromo allows 20 creates/min, 12 polls/min/import): `code` `rate_limit`. */
export declare class RateLimitError extends APIError {}
/** >= 500, after the retries: `code` `internal_server_error`. */
export declare class InternalServerError extends APIError {}

/** No answer (DNS, refused, reset, CORS): `code` `connection_error`; the underlying error is `cause`. */
export declare class APIConnectionError extends HeadlessImportsError {
  cause?: unknown;
}
/** No answer within `timeoutMs`: `code` `timeout`. */
export declare class APIConnectionTimeoutError extends APIConnectionError {}
/** The `signal` aborted: `code` `aborted`. */
export declare class APIUserAbortError extends HeadlessImportsError {}

/** Invalid input, rejected before any request: `code` `validation_error`. */
export declare class ValidationError extends HeadlessImportsError {
  /** The offending input, e.g. `fields[2].label`, `settings.invalidDataBehavior`, `options.signal`. */
  path: string;
}

/** The PUT to the presigned URL failed: `code` `upload_error`. */
export declare class UploadError extends HeadlessImportsError {
  /** HTTP status of the storage's answer; absent when there was no answer. */
  status?: number;
  /** S3's error `Code` (`AccessDenied`, `SignatureDoesNotMatch`, ...), when it sent one. */
  s3Code?: string;
  /** The URL outlived its validity (Dromo: 30 minutes): create a new import. */
  expired: boolean;
  /** The import the upload was for (when known). Not enumerable. */
  import?: HeadlessImportFull | ExaCreateImportResponse;
  /** The network error, when there was no answer. */
  cause?: unknown;
  /** `Exa.importFile` only: whether the import whose upload failed was deleted (nothing orphaned). */
  deleted?: boolean;
}

/** The import reached `FAILED`: `code` `import_failed`. */
export declare class ImportFailedError extends HeadlessImportsError {
  /** The failed import (Dromo: see `import_errors`). Not enumerable. */
  import: HeadlessImportFull | ExaImport;
  /** Exa only: why it failed. */
  failedReason?: ExaFailedReason | null;
  /** Exa only: Exa's human-readable reason. */
  failedMessage?: string | null;
}

/**
 * A Dromo import stopped at `NEEDS_REVIEW` (`code` `needs_review`): `importFile`/`importRows`
 * reject with it unless `waitForReview` is set. A person finishes the import at `reviewUrl`;
 * it then becomes `SUCCESSFUL` (`dromo.imports.results(err.import.id)` gets the rows).
 */
export declare class NeedsReviewError extends HeadlessImportsError {
  /** The import, at `NEEDS_REVIEW`. Not enumerable. */
  import: HeadlessImportFull;
  /** Where a person finishes it (the import's `review_url`). */
  reviewUrl: string;
}

/** `waitForCompletion` ran out of time: `code` `wait_timeout`. The import may still finish. */
export declare class WaitTimeoutError extends HeadlessImportsError {
  /** The import as last seen. Not enumerable. */
  import: HeadlessImportFull | ExaImport;
}

/**
 * A webhook delivery that does not verify or parse. `code`: `webhook_signature` (no
 * `Exa-Signature`, or none of its `v1` values matches), `webhook_timestamp` (outside the
 * tolerance: a replay, or a clock far off) or `webhook_payload` (not the raw body, not JSON, not
 * an event). Answer such a delivery 400 and never act on it.
 */
export declare class WebhookVerificationError extends HeadlessImportsError {
  code: 'webhook_signature' | 'webhook_timestamp' | 'webhook_payload';
}

// ---------------------------------------------------------------------------------------------
// Server-side proxy (Node and other server runtimes; not exported by the browser entry)
// ---------------------------------------------------------------------------------------------

/**
 * Who is calling the proxy: return an identity (a non-empty string of at most 256 characters,
 * such as your user id) to serve the request, `null`/`undefined`/`false` to refuse it with 401,
 * or a `Response` of your own (a 403, say) to send as it is. A throw answers 500.
 */
export type ProxyAuthorize = (
  request: Request,
) => string | null | undefined | false | Response | Promise<string | null | undefined | false | Response>;

/**
 * Pins what a browser may create. Gets the create params the browser sent (Dromo's
 * `initial_data` rows excluded: they pass through untouched, never parsed) and the caller's
 * identity; returns the params to send, or a `Response` to refuse with. Set `schema_id`,
 * `settings`, `hooks`, `import_metadata.user` (name, email: the id is set to the identity after
 * this) here. By default a browser can never send Dromo `hooks`, `settings.webhookUrl` or
 * `settings.needsReviewWebhookUrl` (403), whatever this returns for them.
 */
export type ProxyCreateHook = (
  params: Record<string, any>,
  identity: string,
  request: Request,
) => Record<string, any> | Response | Promise<Record<string, any> | Response>;

/**
 * Where the proxy records who created which import. Each method may return a promise. One
 * in-memory store (`memoryOwnershipStore()`) is the default; several server instances behind a
 * load balancer must share one (a Redis hash and sorted set, a SQL table).
 */
export interface OwnershipStore {
  /** Records that `identity` created import `id` of `provider`. */
  add(provider: 'dromo' | 'exa', id: string, identity: string): unknown;
  /** Who created import `id`; nullish when unknown. */
  owner(provider: 'dromo' | 'exa', id: string): string | null | undefined | Promise<string | null | undefined>;
  /** Forgets import `id` (it was deleted). */
  remove(provider: 'dromo' | 'exa', id: string): unknown;
  /** The ids `identity` created, newest first, `limit` of them from `offset`, and how many in all. */
  list(
    provider: 'dromo' | 'exa',
    identity: string,
    page: { offset: number; limit: number },
  ): { ids: string[]; total: number } | Promise<{ ids: string[]; total: number }>;
}

/**
 * An in-memory `OwnershipStore` for one server process, keeping the newest `maxImports`
 * (default 100 000) imports; callers lose access through the proxy to older ones.
 * @throws {ValidationError} (`path` `options.maxImports`) for a bad `maxImports`.
 */
export declare function memoryOwnershipStore(options?: { maxImports?: number }): OwnershipStore;

/** Options for `createProxyHandler`. */
export interface ProxyOptions {
  /** Which API to forward to. */
  provider: 'dromo' | 'exa';
  /** Your secret key (Dromo backend license key or Exa API key). Added server-side; never echoed. */
  apiKey: string;
  /**
   * Required: who is calling (see `ProxyAuthorize`); each caller then reaches only the imports they
   * created through this proxy. `'anyone'` serves every caller as one shared identity: a local
   * demo only.
   */
  authorize: ProxyAuthorize | 'anyone';
  /** Where ownership is recorded. Default: `memoryOwnershipStore()`. */
  ownership?: OwnershipStore;
  /** Pins or refuses what a browser may create (see `ProxyCreateHook`). */
  create?: ProxyCreateHook;
  /**
   * What a list answers: the caller's own imports, newest first (`'own'`, the default; each is read
   * from the API: at most 25 a page, as many API reads 4 at a time, ending early once the page holds
   * 1 MiB), the whole account's (`'account'`), or nothing (`false`, 403).
   */
  list?: 'own' | 'account' | false;
  /**
   * Upstream API root. Default `https://app.dromo.io/api/v1` or `https://api.exa.ai/websets`.
   * Must be https unless the host is loopback (e.g. the local emulator).
   */
  baseUrl?: string;
  /** Where the handler is mounted, without a trailing slash. Default `/api/dromo` or `/api/exa`. */
  prefix?: string;
  /** A `fetch` implementation for the upstream requests (default: the global one). */
  fetch?: typeof fetch;
  /** Largest request body accepted; larger ones get 413 before anything is sent. Default 16 MiB. */
  maxBodyBytes?: number;
  /**
   * Memory all requests in flight may take together: request bodies three times their size (as
   * read, as rewritten, and fetch's copy; a declared `Content-Length` reserved up front, kept only
   * while the body keeps pace, so an idle connection soon holds nothing) and the API's answers six
   * times their size until the caller has read them. Past it the answer is 503 with `Retry-After` (and `x-should-retry: true`, which the clients follow).
   * Default 64 MiB. Each caller may have at most two bodies and half of it in flight (429 beyond),
   * so one slow caller cannot hold the rest up.
   */
  maxBytesInFlight?: number;
  /**
   * Creates each caller may make per window: default `{ creates: 10, windowMs: 60_000 }`, so one
   * caller cannot spend the whole account's limit (Dromo allows 20 a minute); `false` for none.
   * Beyond it the answer is 429 with `Retry-After`. A create that made no import (refused by the
   * proxy, or a 4xx from the API) costs no slot.
   */
  createsPerCaller?: { creates: number; windowMs?: number } | false;
  /**
   * Time a request body may take to arrive; beyond it the answer is 408. Default 30 000. A body that
   * sends nothing for a third of it is cut off too (408).
   */
  bodyTimeoutMs?: number;
  /**
   * Time limit of each upstream request; beyond it the answer is 504. Default 60 000. Also the time
   * a caller has to read an answer the proxy holds for it.
   */
  timeoutMs?: number;
}

/** The part of `http.IncomingMessage` the node adapter uses (its body is read by async iteration). */
export interface ProxyNodeRequest extends AsyncIterable<any> {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** The part of `http.ServerResponse` the node adapter uses. */
export interface ProxyNodeResponse {
  headersSent: boolean;
  writableFinished?: boolean;
  writeHead(status: number, headers?: Record<string, string>): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: any): unknown;
  destroy(error?: Error): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/** A `node:http` request listener: `http.createServer(handler.node)` or call it from your own router. */
export type ProxyNodeHandler = (req: ProxyNodeRequest, res: ProxyNodeResponse) => Promise<void>;

/** A fetch-style handler (Next.js route handlers, Hono, Deno, Bun), plus its `node:http` adapter. */
export interface ProxyHandler {
  (request: Request): Promise<Response>;
  /** The same handler adapted to `node:http` (streams bodies both ways). */
  node: ProxyNodeHandler;
}

/**
 * Node/server only: a same-origin proxy so a browser app can use `new Dromo({ baseUrl: '/api/dromo' })`
 * (or `new Exa({ baseUrl: '/api/exa' })`) with no key. Each request is first `authorize`d; a caller
 * then reaches only the imports they created through it (another's answers 404, as a missing one
 * does). Forwards only the import endpoints under `prefix` (Dromo `GET|POST /headless/imports/`,
 * `GET|DELETE /headless/imports/{id}/`, `GET /headless/imports/{id}/url/`; Exa `GET|POST
 * /v0/imports`, `GET|PATCH|DELETE /v0/imports/{id}`): anything else is 404, a wrong method 405, dot
 * segments, percent-escapes and bad ids 400. Bodies must be JSON (415 otherwise). Creates are tagged
 * with the caller's identity (Dromo `import_metadata.user.id`, Exa `metadata.headlessImportsOwner`).
 * Only the key header it sets itself and JSON `content-type`/`accept` reach the API, so incoming
 * `authorization`, `cookie` and key headers never do. Answers keep the upstream status and body
 * (with the key scrubbed should the API echo it) with `content-type`, `x-request-id`,
 * `retry-after`, `retry-after-ms`, `cache-control: no-store` and `x-content-type-options:
 * nosniff`. Redirects are not followed (502). No CORS headers: mount it on the app's own origin.
 * @throws {ValidationError} (`code` `validation_error`, `path` naming the option, e.g.
 *   `options.apiKey`) for invalid options, a missing `authorize` included (the message never
 *   contains the key).
 */
export declare function createProxyHandler(options: ProxyOptions): ProxyHandler;

/**
 * Adapts any fetch-style handler to `node:http`'s `(req, res)` (what `handler.node` is).
 * @throws {ValidationError} (`path` `handler`) when `handler` is not a function.
 */
export declare function toNodeHandler(handler: (request: Request) => Promise<Response>): ProxyNodeHandler;
