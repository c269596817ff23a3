// @ts-check
// Node-only (and any server runtime with fetch/Request/Response): a same-origin proxy that lets a
// browser app use `new Dromo({ baseUrl: '/api/dromo' })` / `new Exa({ baseUrl: '/api/exa' })` with
// no key. It knows who is calling (the app's `authorize`), forwards only the import endpoints, adds
// the key server-side, lets each caller reach only the imports they created through it, and lets
// the server pin what a browser may create. It passes nothing else through: no incoming
// credentials, no other headers, no other query parameters, no redirects, no key the API echoes.
// No wasm: it is plain fetch plumbing, so it also works in Next.js route handlers, Hono, Deno or
// Bun. It sends no CORS headers on purpose: serve it from the app's origin.

import { ValidationError } from './errors.js';
import { memoryOwnershipStore } from './ownership.js';
import { Budget, declaredLength, readBody, splitObject, joinObject } from './proxy-body.js';

/**
 * @typedef {'dromo' | 'exa'} ProxyProvider
 * @typedef {import('./ownership.js').OwnershipStore} OwnershipStore
 *
 * @typedef {(request: Request) => string | null | undefined | false | Response | Promise<string | null | undefined | false | Response>} Authorize
 *   Who is calling: an identity (a non-empty string, e.g. your user id) to serve, `null`/`undefined`/
 *   `false` to refuse with 401, or your own Response (e.g. a 403) to send as it is.
 *
 * @typedef {(params: Record<string, any>, identity: string, request: Request) => Record<string, any> | Response | Promise<Record<string, any> | Response>} CreateHook
 *   Pins what a browser may create: gets the create params the browser sent (Dromo's
 *   `initial_data` rows excluded; they pass through untouched) and returns the params to send,
 *   or a Response to refuse with. Set `schema_id`, `settings`, `hooks` or anything else here; the
 *   owner tag is added after it.
 *
 * @typedef {object} ProxyOptions
 * @property {ProxyProvider} provider Which API to forward to.
 * @property {string} apiKey The secret key, added to every forwarded request (never echoed).
 * @property {Authorize | 'anyone'} authorize Required: who the caller is (see Authorize).
 *   `'anyone'` serves every caller as one shared identity: only for a local demo.
 * @property {OwnershipStore} [ownership] Where the proxy records who created which import;
 *   default an in-memory store (one process). Several instances need one shared store.
 * @property {CreateHook} [create] Pins or refuses what a browser may create.
 * @property {'own' | 'account' | false} [list] What a list answers: the caller's own imports
 *   (default; each read from the API: at most 25 a page, so at most 25 upstream GETs a list
 *   request, 4 at a time, and fewer once the page holds 1 MiB), the whole account's
 *   (`'account'`), or nothing (403).
 * @property {string} [baseUrl] Upstream API root; default the provider's real API. https unless loopback.
 * @property {string} [prefix] Where the handler is mounted; default `/api/dromo` or `/api/exa`.
 * @property {typeof fetch} [fetch] A fetch implementation for the upstream requests.
 * @property {number} [maxBodyBytes] Largest request body accepted (413 beyond); default 16 MiB.
 * @property {number} [maxBytesInFlight] Memory all requests in flight may take together: request
 *   bodies three times their size (read, rewritten, fetch's copy; a declared length reserved up
 *   front, but kept only while the body arrives at the pace bodyTimeoutMs asks, so an idle
 *   connection soon holds nothing), the API's answers six times (read, parsed, relayed, and the
 *   garbage each leaves) until the caller has them. Past it, 503 with Retry-After (an own list
 *   ends its page early instead, if it has something). Default 64 MiB. One caller may have at
 *   most two bodies, and half of it (or one largest body, if more), in flight (429 beyond).
 * @property {{ creates: number, windowMs?: number } | false} [createsPerCaller] Creates each caller
 *   may make per window (429 with Retry-After beyond); default 10 a minute, so that one caller
 *   cannot spend the account's own limit (Dromo: 20 a minute).
 * @property {number} [bodyTimeoutMs] Time a request body may take to arrive (408 beyond); default
 *   30 000. A body that sends nothing for a third of it is cut off too (408).
 * @property {number} [timeoutMs] Upstream time limit per request (504 beyond); default 60 000.
 *   Also the time a caller has to collect an answer the proxy holds for it.
 *
 * @typedef {(request: Request) => Promise<Response>} FetchHandler
 *
 * @typedef {AsyncIterable<any> & { method?: string, url?: string, headers: Record<string, string | string[] | undefined> }} NodeRequestLike
 *   Enough of `http.IncomingMessage` for the adapter (its body is read by async iteration).
 *
 * @typedef {object} NodeResponseLike Enough of `http.ServerResponse` for the adapter.
 * @property {boolean} headersSent
 * @property {(status: number, headers?: Record<string, string>) => unknown} writeHead
 * @property {(chunk: Uint8Array) => boolean} write
 * @property {(chunk?: any) => unknown} end
 * @property {(error?: Error) => unknown} destroy
 * @property {(event: string, listener: (...args: any[]) => void) => unknown} once
 * @property {(event: string, listener: (...args: any[]) => void) => unknown} removeListener
 * @property {boolean} [writableFinished]
 *
 * @typedef {FetchHandler & { node: (req: NodeRequestLike, res: NodeResponseLike) => Promise<void> }} ProxyHandler
 */

/**
 * Per provider: upstream default, mount point, key header, the forwarded routes, and where an
 * import's owner is written. A route's `path` is matched segment by segment against what follows
 * the prefix; `:id` is one import id. `query` lists the query parameters passed on.
 */
const PROVIDERS = {
  dromo: {
    baseUrl: 'https://app.dromo.io/api/v1',
    prefix: '/api/dromo',
    keyHeader: 'x-dromo-license-key',
    collection: '/headless/imports/',
    item: (/** @type {string} */ id) => `/headless/imports/${id}/`,
    routes: [
      { path: '/headless/imports/', methods: ['GET', 'POST'], query: ['offset', 'limit'] },
      { path: '/headless/imports/:id/', methods: ['GET', 'DELETE'], query: [] },
      { path: '/headless/imports/:id/url/', methods: ['GET'], query: [] },
    ],
    refuse: dromoRefusal,
    // Dromo's answers do not echo import_metadata: it shows the owner in Dromo's dashboard, and
    // the ownership store is what the proxy checks.
    tag: (/** @type {Record<string, any>} */ p, /** @type {string} */ identity) => {
      const meta = isObject(p.import_metadata) ? p.import_metadata : {};
      p.import_metadata = { ...meta, user: { ...(isObject(meta.user) ? meta.user : {}), id: identity } };
    },
    ownerIn: () => undefined,
    raw: ['initial_data'],
  },
  exa: {
    baseUrl: 'https://api.exa.ai/websets',
    prefix: '/api/exa',
    keyHeader: 'x-api-key',
    collection: '/v0/imports',
    item: (/** @type {string} */ id) => `/v0/imports/${id}`,
    routes: [
      { path: '/v0/imports', methods: ['GET', 'POST'], query: ['cursor', 'limit'] },
      { path: '/v0/imports/:id', methods: ['GET', 'PATCH', 'DELETE'], query: [] },
    ],
    refuse: () => undefined,
    // Exa echoes metadata, so the owner written there can be checked on every read.
    tag: (/** @type {Record<string, any>} */ p, /** @type {string} */ identity) => {
      p.metadata = { ...(isObject(p.metadata) ? p.metadata : {}), [OWNER_KEY]: identity };
    },
    ownerIn: (/** @type {any} */ imp) => (isObject(imp?.metadata) ? imp.metadata[OWNER_KEY] : undefined),
    raw: [],
  },
};

/**
 * @typedef {{ requests: number, bodies: number, bytes: number }} Caller One identity's requests in
 *   flight: how many, how many of them are reading a body, and the bytes they hold of the budget.
 *
 * @typedef {object} Lease What one request holds of the memory budget and of its caller's share.
 * @property {Caller} caller
 * @property {number} held the bytes charged now
 * @property {(n: number, force?: boolean) => 'share' | 'budget' | undefined} take charges `n`
 *   bytes, or says which limit refused them (`force`: charged whatever the limits)
 * @property {(n: number) => void} give gives back `n` of the bytes charged
 * @property {() => void} release gives back all, once the request is over
 *
 * @typedef {object} Reservation A request body being read, and what it holds of the budget.
 * @property {Lease} lease
 * @property {number} declared its Content-Length (0 when unknown)
 * @property {number} received bytes arrived so far
 * @property {number} ahead reserved for bytes still to come
 * @property {number} taken all it holds (reserved and charged), given back when it is done
 * @property {number} start when it started, in ms
 *
 * @typedef {{ status: number, headers: Headers, text: string, cut: boolean, cost: number }} Answer
 *   An upstream answer as read: its text with the key scrubbed out, `cut` when it was longer than
 *   the proxy reads (the text is then its beginning), and what it was charged to the lease.
 */

/** The Exa metadata key holding the identity that created an import through the proxy. */
export const OWNER_KEY = 'headlessImportsOwner';

/**
 * The keys of Dromo's create request (`createHeadlessImport` in its OpenAPI document) a browser
 * may send when no `create` option decides: all but `hooks`.
 */
const DROMO_CREATE_KEYS = ['schema_id', 'fields', 'settings', 'original_filename', 'initial_data', 'import_metadata'];
/**
 * A key for something only the server may choose: code Dromo runs (`hooks`, `rowHooks`, ...) or
 * where Dromo posts the data (`webhookUrl`, `needsReviewWebhookUrl`), in any case or spelling
 * (`Hooks`, `webhook_url`): which spellings the API accepts is not ours to know.
 */
const SERVER_ONLY = /hook/i;

/**
 * Why the proxy refuses a Dromo create from a browser, if it does: a server-only key (see
 * SERVER_ONLY) at the top level, in `settings` or anywhere in `fields` (403); `settings` that is
 * not an object or `fields` that is not an array (400: a string or an array could be read as
 * settings by a lenient API, past these checks); and, unless the server's `create` option decides
 * what is sent (`pinned`), any key the create request does not document (400).
 * @param {Record<string, unknown>} p the create params (rows excluded)
 * @param {boolean} pinned
 * @returns {{ status: number, code: string, field: string, detail: string } | undefined}
 */
function dromoRefusal(p, pinned) {
  const serverOnly = (/** @type {string} */ field) => ({
    status: 403, code: 'forbidden_field', field, detail: `${field} is chosen by the server, not the browser: set it in the proxy's create option.`,
  });
  const bad = (/** @type {string} */ field, /** @type {string} */ detail) => ({ status: 400, code: 'bad_request', field, detail });
  for (const k of Object.keys(p)) if (SERVER_ONLY.test(k)) return serverOnly(k);
  if (p.settings !== undefined) {
    if (!isObject(p.settings)) return bad('settings', 'settings must be an object.');
    for (const k of Object.keys(p.settings)) if (SERVER_ONLY.test(k)) return serverOnly(`settings.${k}`);
  }
  if (p.fields !== undefined) {
    if (!Array.isArray(p.fields)) return bad('fields', 'fields must be an array.');
    const found = serverOnlyKeyIn(p.fields, 'fields');
    if (found) return serverOnly(found);
  }
  if (!pinned) {
    for (const k of Object.keys(p)) {
      if (!DROMO_CREATE_KEYS.includes(k)) return bad(k, `${k} is not a create parameter (expected ${DROMO_CREATE_KEYS.join(', ')}).`);
    }
  }
  return undefined;
}

/**
 * The path (`fields[2].validators[0].hook`) of the first server-only key anywhere in `value`:
 * walked with a stack (no recursion, so no depth can overflow it), the path spelled only when found.
 * @param {unknown} value
 * @param {string} root
 * @returns {string | undefined}
 */
function serverOnlyKeyIn(value, root) {
  /** @typedef {{ v: unknown, up?: Frame, step: string }} Frame */
  /** @type {Frame[]} */
  const stack = [{ v: value, step: root }];
  const spell = (/** @type {Frame | undefined} */ f) => {
    let out = '';
    for (; f; f = f.up) out = f.step + out;
    return out;
  };
  for (let f = stack.pop(); f; f = stack.pop()) {
    const up = f;
    if (Array.isArray(f.v)) {
      f.v.forEach((v, i) => {
        if (typeof v === 'object' && v !== null) stack.push({ v, up, step: `[${i}]` });
      });
    } else if (isObject(f.v)) {
      for (const [k, v] of Object.entries(f.v)) {
        if (SERVER_ONLY.test(k)) return `${spell(up)}.${k}`;
        if (typeof v === 'object' && v !== null) stack.push({ v, up, step: `.${k}` });
      }
    }
  }
  return undefined;
}

/** Response headers passed back to the browser (with the key scrubbed from their values). */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'x-request-id', 'retry-after', 'retry-after-ms'];
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const DEFAULT_IN_FLIGHT = 64 * 1024 * 1024;
/**
 * Largest answer read for one import (create, retrieve, result URL, update, delete). An import is
 * a dozen short fields and a presigned URL, about 1-2 KB; what can make one larger is bounded by
 * the APIs (Exa: metadata values of at most 1000 characters; Dromo: a file name, a summary of
 * `import_errors`/`result_metadata`). 1 MiB is hundreds of times that; an answer past it is
 * refused (502), not held.
 */
const MAX_IMPORT_ANSWER = 1024 * 1024;
/**
 * Largest list page read from the API (`list: 'account'`, and the Exa page searched for a lost
 * create): at most 1000 imports a Dromo page, 200 an Exa page, each listed in a few hundred bytes
 * (Dromo lists only id, schema, status, file name and dates), so about 0.5 MB at the largest.
 */
const MAX_PAGE_ANSWER = 4 * 1024 * 1024;
/**
 * The caller's own list is read import by import, one upstream GET each (Dromo counts each
 * against that import's 12 polls a minute): at most this many a page, so one list request makes at
 * most this many GETs. Clients page on by what a page returned, so a short page costs nothing.
 */
const MAX_OWN_PAGE = 25;
/** Upstream GETs one own-list request has in flight at once. */
const OWN_READS_AT_ONCE = 4;
/**
 * An own-list page stops taking more imports once the answers read for it pass this (it then
 * ends early, with `next` where it stopped): a list holds at most this plus the reads in flight
 * (OWN_READS_AT_ONCE x MAX_IMPORT_ANSWER), whatever the imports weigh.
 */
const MAX_OWN_PAGE_BYTES = 1024 * 1024;
/**
 * What one byte of an answer is charged: it is read (bytes, then text), parsed, and relayed (an
 * own-list page is a new text, then bytes, of what was parsed), and each step leaves garbage the
 * collector takes its time with. Measured (10 concurrent own-lists of 0.9 MB imports): charged 3
 * times, the proxy's RSS grew by 2.7 times what was charged; 6 times, by 1.4-2 times.
 */
const ANSWER_COST = 6;
const ID = /^[A-Za-z0-9_.-]{1,256}$/;
const OPTIONS = ['provider', 'apiKey', 'authorize', 'ownership', 'create', 'list', 'createsPerCaller', 'baseUrl', 'prefix', 'fetch', 'maxBodyBytes', 'maxBytesInFlight', 'bodyTimeoutMs', 'timeoutMs'];
/**
 * A declared length is reserved for a body this long whatever its pace (then only while it keeps
 * the pace to arrive within bodyTimeoutMs): time for a client to start sending.
 */
const RESERVATION_GRACE_MS = 1000;
/** Bodies one caller may have in flight at once. */
const MAX_BODIES_PER_CALLER = 2;
/** The proxy's refusals for want of memory (see `busy`), told apart from other failures. @type {WeakSet<Response>} */
const BUSY = new WeakSet();
/** What the proxy's own "not now" answers say: try again soon, nothing reached the API. */
const RETRY_SOON = { 'retry-after': '1', 'x-should-retry': 'true' };
/** The client's create token in Exa metadata (see the clients' `Exa.create`). */
const TOKEN_KEY = 'headlessImportsToken';

/**
 * A fetch-style handler `(Request) => Promise<Response>` that forwards a browser's import calls to
 * Dromo or Exa with the key added server-side, for the callers `authorize` accepts, each limited to
 * the imports they created. `handler.node` adapts it to `node:http`.
 * @param {ProxyOptions} options
 * @returns {ProxyHandler}
 */
export function createProxyHandler(options) {
  if (!options || typeof options !== 'object') throw invalid('options must be an object', 'options');
  options = readOptions(options);
  const { provider, apiKey } = options;
  if (provider !== 'dromo' && provider !== 'exa') throw invalid("options.provider must be 'dromo' or 'exa'", 'options.provider');
  const spec = PROVIDERS[provider];
  // The key is checked without ever being quoted in a message.
  if (typeof apiKey !== 'string' || apiKey.trim() === '') throw invalid('options.apiKey must be a non-empty string', 'options.apiKey');
  if (/[\r\n\0]/.test(apiKey) || apiKey !== apiKey.trim()) throw invalid('options.apiKey contains whitespace or control characters', 'options.apiKey');
  const keyInText = keyPattern(apiKey);
  const authorize = options.authorize;
  if (authorize !== 'anyone' && typeof authorize !== 'function') {
    throw invalid(
      "options.authorize is required: a function (request) => the caller's identity " +
        "(e.g. your session's user id), or null to refuse. It decides who may use your key; each caller then " +
        "sees only the imports they created. For a local demo only, authorize: 'anyone' serves everyone as one identity.",
      'options.authorize',
    );
  }
  const store = options.ownership ?? memoryOwnershipStore();
  for (const m of ['add', 'owner', 'remove', 'list']) {
    if (typeof (/** @type {any} */ (store))[m] !== 'function') throw invalid(`options.ownership must have a ${m}() method (see OwnershipStore)`, `options.ownership.${m}`);
  }
  if (options.create !== undefined && typeof options.create !== 'function') throw invalid('options.create must be a function (params, identity, request) => params', 'options.create');
  const listMode = options.list ?? 'own';
  if (listMode !== 'own' && listMode !== 'account' && listMode !== false) throw invalid("options.list must be 'own', 'account' or false", 'options.list');
  const baseUrl = checkBaseUrl(options.baseUrl ?? spec.baseUrl);
  const prefix = checkPrefix(options.prefix ?? spec.prefix);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw invalid('options.fetch must be a function (no global fetch here)', 'options.fetch');
  const maxBodyBytes = positive(options.maxBodyBytes, 'maxBodyBytes') ?? DEFAULT_MAX_BODY;
  const budget = new Budget(positive(options.maxBytesInFlight, 'maxBytesInFlight') ?? DEFAULT_IN_FLIGHT);
  // One caller's share: half the budget, or one largest body if that is more (a share that could
  // never hold a body the proxy accepts would refuse it for ever).
  const share = Math.max(budget.max / 2, 3 * maxBodyBytes + 4096);
  const perCaller = callerLimit(options.createsPerCaller);
  /**
   * Per identity with requests in flight: how many, how many of them are reading a body, and the
   * bytes they hold of the budget.
   * @type {Map<string, Caller>}
   */
  const heldBy = new Map();
  /** Recent create times per identity. @type {Map<string, number[]>} */
  const createsOf = new Map();
  /** Request bodies holding budget reserved for bytes still to come. @type {Set<Reservation>} */
  const reservations = new Set();
  const bodyTimeoutMs = positive(options.bodyTimeoutMs, 'bodyTimeoutMs') ?? 30_000;
  // A body that sends nothing for this long has stalled (10 s by default); it is not kept waiting
  // for the rest of bodyTimeoutMs.
  const bodyIdleMs = bodyTimeoutMs / 3;
  const timeoutMs = positive(options.timeoutMs, 'timeoutMs') ?? 60_000;

  /**
   * What one request holds of the budget and of its caller's share: its body (see withBody) and
   * the API's answers to it (see upstream), until the caller has its answer (see handOver). A
   * charge that does not fit first takes back what stalled bodies reserved (see reclaim).
   * @param {string} identity
   * @returns {Lease}
   */
  function hold(identity) {
    const caller = heldBy.get(identity) ?? { requests: 0, bodies: 0, bytes: 0 };
    caller.requests += 1;
    heldBy.set(identity, caller);
    let held = 0;
    let open = true;
    return {
      caller,
      get held() {
        return held;
      },
      take(n, force = false) {
        if (!open) return 'budget';
        const charge = () => {
          if (force) budget.charge(n);
          else if (caller.bytes + n > share) return 'share';
          else if (!budget.take(n)) return 'budget';
          held += n;
          caller.bytes += n;
          return undefined;
        };
        const why = charge();
        return why && reclaim() ? charge() : why;
      },
      give(n) {
        const back = Math.min(n, held);
        held -= back;
        caller.bytes -= back;
        budget.give(back);
      },
      release() {
        if (!open) return;
        this.give(held);
        open = false;
        caller.requests -= 1;
        if (caller.requests === 0) heldBy.delete(identity);
      },
    };
  }

  /**
   * Gives back what is reserved for bodies that have fallen behind: a body keeps its reservation
   * while, after a second's grace, it arrives at least as fast as it must to finish within
   * bodyTimeoutMs. One that stalls (or never sends a byte) then holds only the bytes it sent, and
   * is cut off when it stays idle. Holding the budget through a reservation thus costs an
   * attacker the same bandwidth as holding it with real bytes. Whether anything was given back.
   */
  function reclaim() {
    const now = Date.now();
    let freed = false;
    for (const r of reservations) {
      const late = now - r.start - RESERVATION_GRACE_MS;
      if (late > 0 && r.received * bodyTimeoutMs < r.declared * late) {
        reservations.delete(r);
        r.lease.give(r.ahead);
        r.taken -= r.ahead;
        r.ahead = 0;
        freed = true;
      }
    }
    return freed;
  }

  /**
   * The refusal for a charge the budget (503) or the caller's share (429) would not cover.
   * @param {'share' | 'budget'} why
   */
  function busy(why) {
    const refusal = why === 'share'
      ? problem(429, 'busy', 'Too many of your requests are in flight; try again shortly.', RETRY_SOON)
      : problem(503, 'busy', 'Too many requests in flight; try again shortly.', RETRY_SOON);
    BUSY.add(refusal);
    return refusal;
  }

  /**
   * `response` as the caller gets it: what the request holds of the budget stays charged until the
   * answer has been read (or given up), then is given back. An answer not collected within
   * timeoutMs is dropped, so that a caller who stops reading cannot hold the budget for ever.
   * @param {Response} response
   * @param {Lease} lease
   */
  function handOver(response, lease) {
    if (lease.held === 0 || !response.body) {
      lease.release();
      return response;
    }
    const reader = response.body.getReader();
    /** @type {ReadableStreamDefaultController<Uint8Array> | undefined} */
    let control;
    const timer = setTimeout(() => {
      lease.release();
      control?.error(new Error('headless-imports proxy: the answer was not collected in time'));
      void reader.cancel().catch(() => {});
    }, timeoutMs);
    // Not a reason to keep a process alive.
    /** @type {any} */ (timer).unref?.();
    const done = () => {
      clearTimeout(timer);
      lease.release();
    };
    const body = new ReadableStream({
      start(c) {
        control = c;
      },
      async pull(c) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            done();
            c.close();
          } else c.enqueue(value);
        } catch (e) {
          done();
          c.error(e);
        }
      },
      cancel(reason) {
        done();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }

  /**
   * The key scrubbed out of `text`, in every form an answer could carry it (see keyPattern).
   * @param {string} text
   */
  function scrub(text) {
    return text.replace(keyInText, '***');
  }

  /**
   * One upstream request: the key set here, no redirect followed, the answer read whole (within
   * `max`, charged to the lease as it arrives) with the key scrubbed out. A problem Response when
   * there is no usable answer: 502 for an answer over `max` (or, with `allowCut`, that answer's
   * first `max` bytes marked `cut`, for a create that must learn its import's id), 503/429 for a
   * read the budget cannot cover. Answers to a GET may be refused for the budget; answers to
   * anything else are charged regardless, since the API has already acted on it.
   * @param {Request} request
   * @param {Lease} lease
   * @param {string} method
   * @param {string} pathAndQuery
   * @param {{ body?: Uint8Array<ArrayBuffer>, max?: number, allowCut?: boolean }} [init]
   * @returns {Promise<Answer | Response>}
   */
  async function upstream(request, lease, method, pathAndQuery, init = {}) {
    let body = init.body;
    init.body = undefined;
    const headers = new Headers({ accept: 'application/json', [spec.keyHeader]: apiKey });
    if (body) headers.set('content-type', 'application/json');
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any ? AbortSignal.any([request.signal, timeout]) : timeout;
    /** @type {Response} */
    let res;
    try {
      /** @type {RequestInit} */
      const req = { method, headers, body, redirect: 'manual', signal };
      body = undefined;
      // fetch copies the body as it starts: ours is let go at once, so one copy is in flight.
      const sending = doFetch(`${baseUrl}${pathAndQuery}`, req);
      req.body = undefined;
      res = await sending;
    } catch {
      // No error detail: it could name internal hosts. Never the key (it is only in a header).
      if (timeout.aborted) return problem(504, 'upstream_timeout', 'The import API did not answer in time.');
      return problem(502, 'upstream_unreachable', 'The import API could not be reached.');
    }
    if (res.status >= 300 && res.status < 400) {
      // A redirect is never followed (it could take the key elsewhere) nor passed on.
      await res.body?.cancel().catch(() => {});
      return problem(502, 'upstream_redirect', 'The import API answered with a redirect, which this proxy does not follow.');
    }
    const max = init.max ?? MAX_IMPORT_ANSWER;
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > max && !init.allowCut) {
      // Known to be too large before a byte is read: none is.
      await res.body?.cancel().catch(() => {});
      return problem(502, 'upstream_invalid', 'The import API sent an answer this proxy will not relay.');
    }
    const force = method !== 'GET';
    // A declared length is charged before reading, so that an answer the budget cannot hold is
    // refused before a byte of it is read, not part way (its bytes then garbage on top of the
    // budget). The API's answers come at the API's pace: nothing to reclaim as for bodies.
    let ahead = Number.isFinite(length) ? ANSWER_COST * Math.min(length, max) : 0;
    const early = ahead > 0 ? lease.take(ahead, force) : undefined;
    if (early) {
      await res.body?.cancel().catch(() => {});
      return busy(early);
    }
    let cost = ahead;
    const read = await readText(res, max, !init.allowCut, (n) => {
      const covered = Math.min(ANSWER_COST * n, ahead);
      ahead -= covered;
      if (covered === ANSWER_COST * n) return undefined;
      const why = lease.take(ANSWER_COST * n - covered, force);
      if (!why) cost += ANSWER_COST * n - covered;
      return why;
    });
    // What was charged for bytes that never came goes back.
    lease.give(ahead);
    cost -= ahead;
    if (read !== undefined && 'refused' in read) {
      lease.give(cost);
      return busy(read.refused);
    }
    if (read === undefined || (read.cut && !init.allowCut)) {
      lease.give(cost);
      return problem(502, 'upstream_invalid', 'The import API sent an answer this proxy will not relay.');
    }
    // An API that echoes the key (in an error about it, say) must not hand it to the browser.
    return { status: res.status, headers: res.headers, text: scrub(read.text), cut: read.cut, cost };
  }

  /** @param {Answer} up */
  function relay(up) {
    const out = new Headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const v = up.headers.get(name);
      // The key scrubbed here too: an API may echo what it was sent in a request id, say.
      if (v !== null) out.set(name, scrub(v));
    }
    return new Response(up.text || null, { status: up.status, headers: out });
  }

  /**
   * Who created import `id`: the store's answer, else (Exa) the owner written in the import itself,
   * read upstream, then remembered. Returns the identity and, when it was fetched, the import.
   * @param {Request} request
   * @param {Lease} lease
   * @param {string} id
   * @returns {Promise<{ owner?: string, fetched?: Answer, failed?: Response }>}
   */
  async function ownerOf(request, lease, id) {
    const known = await store.owner(provider, id);
    if (typeof known === 'string') return { owner: known };
    if (provider !== 'exa') return { owner: undefined };
    const up = await upstream(request, lease, 'GET', spec.item(id));
    if (up instanceof Response) return { failed: up };
    const owner = up.status === 200 ? spec.ownerIn(parseJson(up.text)) : undefined;
    if (typeof owner === 'string') await store.add(provider, id, owner);
    return { owner: typeof owner === 'string' ? owner : undefined, fetched: up };
  }

  /**
   * Reads a JSON request body within the size cap, the time limits, the memory budget shared by
   * every request in flight and the caller's own share of it, and hands it to `use` (which should
   * let go of it as soon as it can); its bytes are given back to the budget when `use` is done.
   * @param {Request} request
   * @param {Lease} lease
   * @param {(take: () => Uint8Array) => Promise<Response>} use
   */
  async function withBody(request, lease, use) {
    const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) {
      // Also what keeps a cross-site form (a "simple" request, no preflight) out.
      return problem(415, 'unsupported_media_type', 'Send the body as JSON (Content-Type: application/json).');
    }
    const declared = declaredLength(request);
    if (declared !== undefined && declared > maxBodyBytes) {
      void request.body?.cancel().catch(() => {});
      return problem(413, 'payload_too_large', `Request body over ${maxBodyBytes} bytes.`);
    }
    // One caller may not hold more than a couple of bodies, nor its share of the budget, at once:
    // a caller whose bodies trickle in cannot hold everyone else up.
    const mine = lease.caller;
    if (mine.bodies >= MAX_BODIES_PER_CALLER) {
      void request.body?.cancel().catch(() => {});
      return problem(429, 'busy', 'Too many of your requests are in flight; try again shortly.', RETRY_SOON);
    }
    // Each byte is charged three times (as read, as rewritten, and the copy fetch makes to send
    // it; each lives only while the next is made). A declared length is reserved before a byte is
    // read, so that a crowd of large bodies is refused up front rather than each read part way
    // (their bytes then garbage on top of the budget); but it stays reserved only while the body
    // keeps pace (see reclaim): the reservation of a connection that sends nothing goes back as
    // soon as someone needs the room, and it then holds only what it sent.
    /** @type {Reservation} */
    const body = { lease, declared: declared ?? 0, received: 0, ahead: 0, taken: 0, start: Date.now() };
    if (declared !== undefined) {
      const want = 3 * declared + 4096;
      const why = lease.take(want);
      if (why) {
        void request.body?.cancel().catch(() => {});
        return busy(why);
      }
      body.ahead = body.taken = want;
      reservations.add(body);
    }
    mine.bodies += 1;
    /** @type {'share' | 'budget' | undefined} */
    let refused;
    const take = (/** @type {number} */ n) => {
      body.received += n;
      const covered = Math.min(3 * n, body.ahead);
      body.ahead -= covered;
      if (body.ahead === 0) reservations.delete(body);
      if (covered === 3 * n) return true;
      refused = lease.take(3 * n - covered);
      if (refused) return false;
      body.taken += 3 * n - covered;
      return true;
    };
    try {
      /** @type {Uint8Array | string | undefined} */
      let bytes = await readBody(request, { max: maxBodyBytes, timeoutMs: bodyTimeoutMs, idleMs: bodyIdleMs, take });
      // What was reserved and never came is given back now; what came stays charged until `use` is done.
      reservations.delete(body);
      lease.give(body.ahead);
      body.taken -= body.ahead;
      body.ahead = 0;
      if (bytes === 'too_large') return problem(413, 'payload_too_large', `Request body over ${maxBodyBytes} bytes.`);
      if (bytes === 'busy') return busy(refused ?? 'budget');
      if (bytes === 'timeout') return problem(408, 'body_timeout', 'The request body stalled or took too long to arrive.', { 'x-should-retry': 'true' });
      if (bytes === 'aborted') return problem(400, 'bad_request', 'The request body could not be read.');
      return await use(() => {
        const taken = /** @type {Uint8Array} */ (bytes);
        bytes = undefined;
        return taken;
      });
    } finally {
      reservations.delete(body);
      lease.give(body.taken);
      mine.bodies -= 1;
    }
  }

  /**
   * Whether `identity` may create another import now: at most `creates` per `windowMs` each, so
   * one caller cannot spend the whole account's rate limit (Dromo allows 20 creates a minute).
   * A create that makes no import gives its slot back (see `refund`): a body refused here or a 4xx
   * from the API costs the account nothing, so it must not cost the caller either.
   * @param {string} identity
   * @returns {Response | number | undefined} the refusal, or the time the slot was taken
   */
  function createAllowed(identity) {
    if (!perCaller) return undefined;
    const now = Date.now();
    const recent = (createsOf.get(identity) ?? []).filter((t) => t > now - perCaller.windowMs);
    if (recent.length >= perCaller.creates) {
      const waitMs = recent[0] + perCaller.windowMs - now;
      createsOf.set(identity, recent);
      return problem(429, 'rate_limited', `At most ${perCaller.creates} imports per ${perCaller.windowMs / 1000} s for each user; try again in ${Math.ceil(waitMs / 1000)} s.`, {
        'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
        'retry-after-ms': String(Math.max(1, waitMs)),
        'x-should-retry': 'true',
      });
    }
    recent.push(now);
    createsOf.set(identity, recent);
    // Callers who stopped creating are forgotten as the map grows.
    if (createsOf.size > 10_000) {
      for (const [who, times] of createsOf) if (times.every((t) => t <= now - perCaller.windowMs)) createsOf.delete(who);
    }
    return now;
  }

  /**
   * Gives back the slot `createAllowed` took at `taken` for a create that made no import.
   * @param {string} identity @param {number | undefined} taken
   */
  function refund(identity, taken) {
    const times = taken === undefined ? undefined : createsOf.get(identity);
    const at = times ? times.indexOf(/** @type {number} */ (taken)) : -1;
    if (at >= 0) times?.splice(at, 1);
  }

  /** @param {Request} request @param {Lease} lease @param {string} identity */
  async function create(request, lease, identity) {
    const taken = createAllowed(identity);
    if (taken instanceof Response) {
      void request.body?.cancel().catch(() => {});
      return taken;
    }
    /** Whether the API may have made an import: only then does the slot stay spent. */
    let maybeCreated = false;
    try {
      return await createOnce(request, lease, identity, () => { maybeCreated = true; });
    } finally {
      if (!maybeCreated) refund(identity, taken);
    }
  }

  /** @param {Request} request @param {Lease} lease @param {string} identity @param {() => void} sent */
  function createOnce(request, lease, identity, sent) {
    return withBody(request, lease, async (take) => {
      /** @type {ReturnType<typeof splitObject>} */
      let split = splitObject(take(), spec.raw);
      if (!split) return problem(400, 'bad_request', 'The body must be one JSON object with distinct keys.');
      let params = split.params;
      const kept = split.kept;
      split = null;
      const refusal = spec.refuse(params, options.create !== undefined);
      if (refusal) return problem(refusal.status, refusal.code, refusal.detail, {}, { field: refusal.field });
      // The owner is the proxy's to say: whatever the browser claimed is dropped.
      delete params.import_metadata;
      if (options.create) {
        const pinned = await options.create(params, identity, request);
        if (pinned instanceof Response) return pinned;
        if (!isObject(pinned)) return problem(500, 'error', 'The create option returned neither params nor a Response.');
        params = pinned;
      }
      spec.tag(params, identity);
      // The rows' bytes are in `kept` (views of the body as read) only until the new body is made;
      // nothing here holds either while it is sent.
      const up = await upstream(request, lease, 'POST', spec.collection, { body: joinObject(params, kept.splice(0)), allowCut: true });
      // The import the API made, if it says: also from an answer cut off mid-body (or too large to
      // relay), so its owner is recorded and can reach it to retry or clean up.
      const answer = up instanceof Response ? undefined : up;
      // A definite 4xx made nothing; anything else (a 2xx, a 5xx, no answer or a cut one) may have.
      if (!answer || answer.cut || answer.status < 400 || answer.status >= 500) sent();
      const text = answer?.text ?? '';
      const id = answer && answer.status < 500 ? (answer.cut ? undefined : parseJson(text)?.id) ?? idIn(text) : undefined;
      if (!answer || answer.cut || answer.status >= 500 || (answer.status === 201 && typeof id !== 'string')) {
        // No usable answer: the API may still have made the import. Exa's carries the client's
        // token: find it and take it back, so the client's retry leaves nothing behind.
        const token = isObject(params.metadata) ? params.metadata[TOKEN_KEY] : undefined;
        if (typeof id !== 'string' && provider === 'exa' && typeof token === 'string') await removeByToken(request, lease, identity, token);
      }
      if (up instanceof Response) return up;
      if (typeof id === 'string') {
        try {
          await store.add(provider, id, identity);
        } catch {
          // Unrecorded, nobody could reach it through the proxy: take it back.
          await upstream(request, lease, 'DELETE', spec.item(id)).catch(() => {});
          return problem(503, 'store_unavailable', 'The import could not be recorded; try again.', { 'retry-after': '1' });
        }
      }
      if (up.cut) return problem(502, 'upstream_invalid', 'The import API sent an answer this proxy will not relay.');
      return relay(up);
    });
  }

  /**
   * Deletes the newest Exa import of `identity` whose metadata holds `token` (a create whose answer
   * was lost). Only the caller's own: the token comes from the browser, and another user's import
   * carrying the same token (tokens are visible in an account-wide list) is not theirs to delete.
   * @param {Request} request @param {Lease} lease @param {string} identity @param {string} token
   */
  async function removeByToken(request, lease, identity, token) {
    const page = await upstream(request, lease, 'GET', `${spec.collection}?limit=200`, { max: MAX_PAGE_ANSWER });
    if (page instanceof Response) return;
    const data = page.status === 200 ? parseJson(page.text)?.data : undefined;
    lease.give(page.cost);
    const lost = Array.isArray(data)
      ? data.find((i) => isObject(i?.metadata) && i.metadata[TOKEN_KEY] === token && i.metadata[OWNER_KEY] === identity)
      : undefined;
    if (typeof lost?.id !== 'string' || !ID.test(lost.id) || lost.id.includes('..')) return;
    const gone = await upstream(request, lease, 'DELETE', spec.item(lost.id));
    if (gone instanceof Response) return;
    lease.give(gone.cost);
    // Whatever the store knew of it (a concurrent read may have recorded it) goes with it.
    if (gone.status < 300 || gone.status === 404) await store.remove(provider, lost.id);
  }

  /** @param {Request} request @param {Lease} lease @param {string} identity @param {string} id @param {string} method @param {string} rest */
  async function item(request, lease, identity, id, method, rest) {
    const { owner, fetched, failed } = await ownerOf(request, lease, id);
    if (failed) return failed;
    // Another's import answers exactly as a missing one: the caller learns nothing of it.
    if (owner !== identity) return problem(404, 'not_found', 'No such import.');
    if (method === 'GET' && fetched && rest === spec.item(id)) return relay(fetched);
    if (fetched) lease.give(fetched.cost);
    if (method === 'PATCH') {
      return withBody(request, lease, async (take) => {
        const split = splitObject(take(), []);
        if (!split) return problem(400, 'bad_request', 'The body must be one JSON object with distinct keys.');
        // Exa replaces metadata wholesale: the owner is written back into what the browser sends.
        if (split.params.metadata !== undefined) {
          if (!isObject(split.params.metadata)) return problem(400, 'bad_request', 'metadata must be an object.');
          spec.tag(split.params, identity);
        }
        const up = await upstream(request, lease, 'PATCH', rest, { body: joinObject(split.params, []) });
        return up instanceof Response ? up : relay(up);
      });
    }
    const up = await upstream(request, lease, method, rest);
    if (up instanceof Response) return up;
    if (method === 'DELETE' && (up.status < 300 || up.status === 404)) await store.remove(provider, id);
    return relay(up);
  }

  /**
   * The caller's own imports, a page at a time from the store, each read upstream (deleted ones
   * dropped), in the provider's page shape: Dromo `{count, next, previous, results}` by
   * offset/limit, Exa `{data, hasMore, nextCursor}` by an opaque cursor. A page is at most
   * MAX_OWN_PAGE imports (as many upstream GETs, OWN_READS_AT_ONCE at a time) and ends early once
   * it holds MAX_OWN_PAGE_BYTES, or before an import the memory budget will not hold; `next` then
   * starts where it stopped.
   * @param {Request} request @param {Lease} lease @param {URL} url @param {string} identity
   */
  async function ownList(request, lease, url, identity) {
    const q = url.searchParams;
    let offset = 0;
    if (provider === 'dromo') {
      offset = intParam(q.get('offset'), 0);
    } else if (q.get('cursor') !== null) {
      offset = decodeCursor(q.get('cursor') ?? '');
    }
    const limit = Math.min(intParam(q.get('limit'), provider === 'dromo' ? 100 : 25), MAX_OWN_PAGE);
    if (Number.isNaN(offset) || Number.isNaN(limit) || limit < 1) return problem(400, 'bad_request', 'Invalid offset, cursor or limit.');
    const { ids, total } = await store.list(provider, identity, { offset, limit });
    /** @type {unknown[]} */
    const items = [];
    /** @type {number[]} what each item read holds of the lease */
    const costs = [];
    /** @type {Response | undefined} */
    let failed;
    /** @type {Response | undefined} */
    let refused;
    let started = 0;
    // The page ends before the first import the budget would not let it read.
    let stop = ids.length;
    let bytes = 0;
    // Reads start in order, a few at a time, and stop starting once the page is full: the page is
    // always the first ids, a contiguous slice.
    await Promise.all(Array.from({ length: Math.min(OWN_READS_AT_ONCE, ids.length) }, async () => {
      while (started < stop && bytes < MAX_OWN_PAGE_BYTES && !failed) {
        const at = started++;
        const up = await upstream(request, lease, 'GET', spec.item(ids[at]));
        if (up instanceof Response) {
          // Memory is short: a shorter page (the client pages on from where it ends), rather
          // than none, so that callers listing at once do not all fail for each other.
          if (BUSY.has(up)) {
            stop = Math.min(stop, at);
            refused = up;
          } else failed ??= up;
        } else if (up.status === 404) {
          lease.give(up.cost);
          await store.remove(provider, ids[at]);
        } else if (up.status === 200) {
          bytes += up.text.length;
          items[at] = parseJson(up.text);
          costs[at] = up.cost;
        } else failed ??= relay(up);
      }
    }));
    if (failed) return failed;
    if (stop === 0 && refused) return refused;
    // Reads past the end that did finish are let go.
    for (let at = stop; at < started; at++) lease.give(costs[at] ?? 0);
    const found = items.slice(0, Math.min(stop, started)).filter((x) => x !== undefined);
    const end = offset + Math.min(stop, started);
    const more = end < total;
    /** @type {Record<string, unknown>} */
    let page;
    if (provider === 'dromo') {
      const link = (/** @type {number} */ o) => `${url.origin}${prefix}${spec.collection}?limit=${limit}&offset=${o}`;
      page = { count: total, next: more ? link(end) : null, previous: offset > 0 ? link(Math.max(0, offset - limit)) : null, results: found };
    } else {
      page = { data: found, hasMore: more, nextCursor: more ? encodeCursor(end) : null };
    }
    return new Response(JSON.stringify(page), { status: 200, headers: JSON_HEADERS });
  }

  /** @param {Request} request */
  async function identify(request) {
    if (authorize === 'anyone') return 'anyone';
    let who;
    try {
      who = await authorize(request);
    } catch {
      return problem(500, 'error', 'Authorization failed.');
    }
    if (who instanceof Response) return who;
    if (who === null || who === undefined || who === false || who === '') return problem(401, 'unauthorized', 'Sign in first.');
    if (typeof who !== 'string' || who.length > 256) return problem(500, 'error', 'authorize returned something other than an identity string (at most 256 characters).');
    return who;
  }

  /**
   * A matched request of a known caller.
   * @param {Request} request @param {Lease} lease @param {URL} url @param {string} rest @param {string} method @param {string} identity
   * @param {{ route: { path: string, methods: string[], query: string[] }, id?: string }} match
   */
  async function serve(request, lease, url, rest, method, identity, match) {
    if (match.id !== undefined) return item(request, lease, identity, match.id, method, rest);
    if (method === 'POST') return create(request, lease, identity);
    if (listMode === false) return problem(403, 'forbidden', 'Listing imports is turned off here.');
    if (listMode === 'own') return ownList(request, lease, url, identity);
    const query = new URLSearchParams();
    for (const k of match.route.query) {
      const v = url.searchParams.get(k);
      if (v !== null) query.set(k, v);
    }
    const qs = query.toString();
    const up = await upstream(request, lease, 'GET', `${rest}${qs ? `?${qs}` : ''}`, { max: MAX_PAGE_ANSWER });
    return up instanceof Response ? up : relay(up);
  }

  /** @type {FetchHandler} */
  const handler = async (request) => {
    let url;
    try {
      url = new URL(request.url);
    } catch {
      return problem(400, 'bad_request', 'Malformed request URL.');
    }
    const path = url.pathname;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return problem(404, 'not_found', 'Not found.');
    const rest = path.slice(prefix.length);
    // Ids and routes are plain ASCII: any percent-escape (an encoded '/', '\' or '.') or dot segment is refused.
    if (rest.includes('%') || rest.includes('\\') || rest.split('/').some((s) => s === '.' || s === '..')) {
      return problem(400, 'bad_request', 'Invalid path.');
    }
    const match = matchRoute(spec.routes, rest);
    if (match === 'bad_id') return problem(400, 'bad_request', 'Invalid import id.');
    if (!match) return problem(404, 'not_found', 'Not found: this proxy forwards only the import endpoints.');
    const method = request.method.toUpperCase();
    if (!match.route.methods.includes(method)) {
      return problem(405, 'method_not_allowed', `Method ${method} not allowed here.`, { allow: match.route.methods.join(', ') });
    }
    const identity = await identify(request);
    if (identity instanceof Response) return identity;
    const lease = hold(identity);
    let response;
    try {
      response = await serve(request, lease, url, rest, method, identity, match);
    } catch (e) {
      lease.release();
      throw e;
    }
    return handOver(response, lease);
  };

  return Object.assign(handler, { node: toNodeHandler(handler) });
}

/**
 * Adapts a fetch-style handler to `node:http`'s `(req, res)`: the request body streams into the
 * `Request`, the response body streams out with backpressure, and a client that goes away aborts
 * the upstream request. Paths with dot segments or encoded slashes are refused (400) before the
 * URL is normalised.
 * @param {FetchHandler} handler
 * @returns {(req: NodeRequestLike, res: NodeResponseLike) => Promise<void>}
 */
export function toNodeHandler(handler) {
  if (typeof handler !== 'function') throw invalid('toNodeHandler needs a fetch-style handler: (request) => Promise<Response>', 'handler');
  return async function nodeHandler(req, res) {
    let usable = false;
    try {
      usable = typeof req?.headers === 'object' && typeof res?.once === 'function' && typeof res?.writeHead === 'function';
    } catch {
      // A revoked Proxy or a throwing getter: not node:http's objects.
    }
    if (!usable) throw invalid("a node handler takes node:http's (req, res)", 'req');
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    try {
      const raw = req.url ?? '/';
      const rawPath = raw.split('?')[0];
      if (/%2e|%2f|%5c|\\/i.test(rawPath) || rawPath.split('/').some((s) => s === '.' || s === '..')) {
        await send(res, problem(400, 'bad_request', 'Invalid path.'), abort.signal);
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || k.startsWith(':')) continue;
        try {
          headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        } catch {
          // A header value fetch refuses is simply not passed to the handler.
        }
      }
      const hasBody = method !== 'GET' && method !== 'HEAD';
      /** @type {RequestInit & { duplex?: 'half' }} */
      const init = { method, headers, signal: abort.signal };
      if (hasBody) {
        init.body = streamOf(req);
        init.duplex = 'half';
      }
      // The Host header names the origin the browser used (for the list's `next` links); it is
      // only echoed back to the same caller, never used to reach anything.
      const host = typeof req.headers.host === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(req.headers.host) ? req.headers.host : 'localhost';
      let request;
      try {
        request = new Request(new URL(raw, `http://${host}`), init);
      } catch {
        await send(res, problem(400, 'bad_request', 'Malformed request.'), abort.signal);
        return;
      }
      await send(res, await handler(request), abort.signal, hasBody);
    } catch {
      if (abort.signal.aborted) return;
      if (!res.headersSent) await send(res, problem(500, 'error', 'Proxy error.'), abort.signal).catch(() => res.destroy());
      else res.destroy();
    } finally {
      res.removeListener('close', onClose);
    }
  };
}

/** Answers sent before a request body was (wholly) read: the connection is closed rather than drained. */
const UNREAD_BODY = new Set([408, 413, 415, 429, 503]);

/** Writes a fetch Response to a node:http response, with backpressure. */
async function send(/** @type {NodeResponseLike} */ res, /** @type {Response} */ response, /** @type {AbortSignal} */ signal, hasBody = true) {
  /** @type {Record<string, string>} */
  const headers = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (hasBody && UNREAD_BODY.has(response.status)) headers.connection = 'close';
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (signal.aborted) throw new Error('client went away');
      if (!res.write(value)) {
        await new Promise((resolve) => {
          const go = () => {
            res.removeListener('drain', go);
            res.removeListener('close', go);
            resolve(undefined);
          };
          res.once('drain', go);
          res.once('close', go);
        });
      }
    }
    res.end();
  } catch (e) {
    await reader.cancel().catch(() => {});
    res.destroy();
    if (!signal.aborted) throw e;
  }
}

/** A ReadableStream over a Node readable (or any async iterable of bytes/strings). */
function streamOf(/** @type {AsyncIterable<any>} */ source) {
  const it = source[Symbol.asyncIterator]();
  const enc = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(typeof value === 'string' ? enc.encode(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/**
 * A response body as text, each chunk charged (`charge(bytes)`, which names the limit that
 * refuses it, if one does) before it is kept. Past `max` bytes the rest is not read: the text of
 * the first `max` is returned, marked `cut` (with `dropCut`, no text). Undefined when the body
 * broke off.
 * @param {Response} res
 * @param {number} max
 * @param {boolean} dropCut
 * @param {(bytes: number) => 'share' | 'budget' | undefined} charge
 * @returns {Promise<{ text: string, cut: boolean } | { refused: 'share' | 'budget' } | undefined>}
 */
async function readText(res, max, dropCut, charge) {
  if (!res.body) return { text: '', cut: false };
  const reader = res.body.getReader();
  // Decoded as it comes: each chunk is let go at once, instead of kept to be joined and then
  // decoded (two more copies of the answer, as garbage, for every answer read).
  const decoder = new TextDecoder();
  /** @type {string[]} */
  const parts = [];
  let size = 0;
  let cut = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk = value;
      if (size + chunk.byteLength > max) {
        if (dropCut) {
          await reader.cancel().catch(() => {});
          return { text: '', cut: true };
        }
        chunk = chunk.subarray(0, max - size);
        cut = true;
      }
      const refused = charge(chunk.byteLength);
      if (refused) {
        await reader.cancel().catch(() => {});
        return { refused };
      }
      parts.push(decoder.decode(chunk, { stream: !cut }));
      size += chunk.byteLength;
      if (cut) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
  } catch {
    return undefined;
  }
  if (!cut) parts.push(decoder.decode());
  return { text: parts.join(''), cut };
}

/**
 * The options as a plain object, read once: an unknown key, or one that cannot be read (a throwing
 * getter, a revoked Proxy), is a ValidationError that says which.
 * @param {ProxyOptions} options
 * @returns {ProxyOptions}
 */
function readOptions(options) {
  let keys;
  try {
    keys = Object.keys(options);
  } catch {
    throw invalid('options cannot be read', 'options');
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of keys) {
    if (!OPTIONS.includes(k)) throw invalid(`options.${k} is not an option (expected one of ${OPTIONS.join(', ')})`, `options.${k}`);
    try {
      out[k] = /** @type {any} */ (options)[k];
    } catch {
      throw invalid(`options.${k} cannot be read`, `options.${k}`);
    }
  }
  return /** @type {ProxyOptions} */ (out);
}

/** The id an answer's text starts to tell, even cut off after it. @param {string} text */
function idIn(text) {
  const m = /^\s*\{[^]*?"id"\s*:\s*"([A-Za-z0-9_.-]{1,256})"/.exec(text);
  return m && !m[1].includes('..') ? m[1] : undefined;
}

/**
 * The per-caller create limit: `{ creates, windowMs }`, or `false` for none.
 * @param {unknown} v
 * @returns {{ creates: number, windowMs: number } | undefined}
 */
function callerLimit(v) {
  if (v === false) return undefined;
  if (v === undefined) return { creates: 10, windowMs: 60_000 };
  const o = /** @type {any} */ (v);
  if (!isObject(o) || !Number.isInteger(o.creates) || o.creates < 1 || (o.windowMs !== undefined && !(o.windowMs > 0))) {
    throw invalid('options.createsPerCaller must be false or { creates: a positive integer, windowMs? }', 'options.createsPerCaller');
  }
  return { creates: o.creates, windowMs: o.windowMs ?? 60_000 };
}

/** @param {string} text */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** @param {unknown} v @returns {v is Record<string, any>} */
function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-negative integer query parameter, its default when absent, NaN when malformed. @param {string | null} v @param {number} dflt */
function intParam(v, dflt) {
  if (v === null) return dflt;
  return /^\d{1,9}$/.test(v) ? Number(v) : NaN;
}

/** The own-list cursor: an opaque token for an offset into the caller's imports. @param {number} offset */
function encodeCursor(offset) {
  return btoa(`own:${offset}`).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** @param {string} cursor */
function decodeCursor(cursor) {
  try {
    const m = /^own:(\d{1,9})$/.exec(atob(cursor.replace(/-/g, '+').replace(/_/g, '/')));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * The route `rest` (the path after the prefix) names, with its import id if it has one, 'bad_id'
 * for a known shape with an invalid id, or undefined.
 * @param {{ path: string, methods: string[], query: string[] }[]} routes
 * @param {string} rest
 * @returns {{ route: { path: string, methods: string[], query: string[] }, id?: string } | 'bad_id' | undefined}
 */
function matchRoute(routes, rest) {
  const segs = rest.split('/');
  let badId = false;
  for (const route of routes) {
    const want = route.path.split('/');
    if (want.length !== segs.length) continue;
    let ok = true;
    let idOk = true;
    /** @type {string | undefined} */
    let id;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i] === ':id') {
        if (!ID.test(segs[i]) || segs[i].includes('..')) idOk = false;
        if (segs[i] === '') ok = false;
        id = segs[i];
      } else if (want[i] !== segs[i]) ok = false;
    }
    if (ok && idOk) return id === undefined ? { route } : { route, id };
    if (ok) badId = true;
  }
  return badId ? 'bad_id' : undefined;
}

/** Validates the upstream root as the client does: absolute http(s), https unless loopback. */
function checkBaseUrl(/** @type {unknown} */ value) {
  if (typeof value !== 'string') throw invalid('options.baseUrl must be a string', 'options.baseUrl');
  const trimmed = value.replace(/\/+$/, '');
  let u;
  try {
    u = new URL(trimmed);
  } catch {
    throw invalid('options.baseUrl must be an absolute http(s) URL', 'options.baseUrl');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalid('options.baseUrl must be an absolute http(s) URL', 'options.baseUrl');
  if (u.username || u.password) throw invalid('options.baseUrl must not contain credentials', 'options.baseUrl');
  if (u.search || u.hash || /[?#]/.test(trimmed)) throw invalid('options.baseUrl must not contain a query string or fragment', 'options.baseUrl');
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
    throw invalid('options.baseUrl must use https (plain http is only allowed for localhost): the API key would travel in clear text', 'options.baseUrl');
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** localhost, *.localhost, 127.0.0.0/8 and [::1]. */
function isLoopback(/** @type {string} */ host) {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function checkPrefix(/** @type {unknown} */ value) {
  if (typeof value !== 'string' || !/^(\/[A-Za-z0-9_.~-]+)+$/.test(value) || value.split('/').some((s) => s === '.' || s === '..')) {
    throw invalid("options.prefix must be a path like '/api/dromo' (no trailing slash)", 'options.prefix');
  }
  return value;
}

function positive(/** @type {unknown} */ v, /** @type {string} */ name) {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(`options.${name} must be a positive number`, `options.${name}`);
  return v;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/**
 * A JSON error from the proxy itself, in the shape the clients read (`detail`) plus a `code`.
 * @param {number} status
 * @param {string} code
 * @param {string} detail
 * @param {Record<string, string>} [extra] extra headers
 * @param {Record<string, string>} [more] extra members of the body (e.g. the refused `field`)
 */
function problem(status, code, detail, extra = {}, more = {}) {
  return new Response(JSON.stringify({ detail, code: `proxy_${code}`, ...more }), { status, headers: { ...JSON_HEADERS, ...extra } });
}

/**
 * A bad option: the package's ValidationError (code `validation_error`), `path` naming the option.
 * @param {string} message
 * @param {string} path
 */
function invalid(message, path) {
  return new ValidationError(`headless-imports proxy: ${message}`, { path });
}

/**
 * A pattern for `key` in every form an answer could carry it: as is, JSON-escaped (`\u0041`, `\/`,
 * `\"`), percent-encoded (`%41`, `+` for a space), or a mix, character by character: a browser
 * that decodes any of them has the key. Case-insensitive (hex digits come in either case; a
 * look-alike of the key scrubbed too costs nothing).
 * @param {string} key
 */
function keyPattern(key) {
  const enc = new TextEncoder();
  const hex = (/** @type {number} */ n, /** @type {number} */ width) => n.toString(16).padStart(width, '0');
  /** @type {Record<string, string>} JSON's short escapes, as pattern source. */
  const short = { '"': '\\\\"', '\\': '\\\\\\\\', '/': '\\\\/' };
  const parts = [];
  for (const ch of key) {
    const forms = [ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')];
    if (short[ch]) forms.push(short[ch]);
    forms.push(Array.from({ length: ch.length }, (_, i) => `\\\\u${hex(ch.charCodeAt(i), 4)}`).join(''));
    forms.push(Array.from(enc.encode(ch), (b) => `%${hex(b, 2)}`).join(''));
    if (ch === ' ') forms.push('\\+');
    parts.push(`(?:${forms.join('|')})`);
  }
  return new RegExp(parts.join(''), 'gi');
}
