// @ts-check
// Node-only (and any server runtime with fetch/Request/Response): a same-origin proxy that lets a
// browser app use `new Dromo({ baseUrl: '/api/dromo' })` / `new Exa({ baseUrl: '/api/exa' })` with
// no key. It knows who is calling (the app's `authorize`), forwards only the import endpoints, adds
// the key server-side, lets each caller reach only the imports they created through it, and lets
// the server pin what a browser may create. It passes nothing else through: no incoming
// credentials, no other headers, no other query parameters, no redirects, no key the API echoes.
// No wasm: it is plain fetch plumbing, so it also works in Next.js route handlers, Hono, Deno or
// Bun. It sends no CORS headers on purpose: serve it from the app's origin.

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
 *   (default), the whole account's (`'account'`), or nothing (403).
 * @property {string} [baseUrl] Upstream API root; default the provider's real API. https unless loopback.
 * @property {string} [prefix] Where the handler is mounted; default `/api/dromo` or `/api/exa`.
 * @property {typeof fetch} [fetch] A fetch implementation for the upstream requests.
 * @property {number} [maxBodyBytes] Largest request body accepted (413 beyond); default 16 MiB.
 * @property {number} [maxBytesInFlight] Memory all request bodies in flight may take together,
 *   three times each (read, rewritten, fetch's copy): a declared length is charged up front, an
 *   unknown one as it arrives; past it, 503 with Retry-After. Default 64 MiB. One caller may have
 *   at most two bodies and half of it in flight (429 beyond).
 * @property {{ creates: number, windowMs?: number } | false} [createsPerCaller] Creates each caller
 *   may make per window (429 with Retry-After beyond); default 10 a minute, so that one caller
 *   cannot spend the account's own limit (Dromo: 20 a minute).
 * @property {number} [bodyTimeoutMs] Time a request body may take to arrive (408 beyond); default 30 000.
 * @property {number} [timeoutMs] Upstream time limit per request (504 beyond); default 60 000.
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
    // Server-side settings a browser may not choose: code Dromo runs, and where Dromo posts data.
    forbidden: (/** @type {Record<string, any>} */ p) =>
      p.hooks !== undefined ? 'hooks' :
      isObject(p.settings) && p.settings.webhookUrl !== undefined ? 'settings.webhookUrl' :
      isObject(p.settings) && p.settings.needsReviewWebhookUrl !== undefined ? 'settings.needsReviewWebhookUrl' :
      undefined,
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
    forbidden: () => undefined,
    // Exa echoes metadata, so the owner written there can be checked on every read.
    tag: (/** @type {Record<string, any>} */ p, /** @type {string} */ identity) => {
      p.metadata = { ...(isObject(p.metadata) ? p.metadata : {}), [OWNER_KEY]: identity };
    },
    ownerIn: (/** @type {any} */ imp) => (isObject(imp?.metadata) ? imp.metadata[OWNER_KEY] : undefined),
    raw: [],
  },
};

/** The Exa metadata key holding the identity that created an import through the proxy. */
export const OWNER_KEY = 'headlessImportsOwner';

/** Response headers passed back to the browser. */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'x-request-id', 'retry-after', 'retry-after-ms'];
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const DEFAULT_IN_FLIGHT = 64 * 1024 * 1024;
/** Upstream answers are imports and pages of them; anything bigger is not one. */
const MAX_UPSTREAM_BODY = 8 * 1024 * 1024;
/** Page size cap for the caller's own list: each item is one upstream read. */
const MAX_OWN_PAGE = 100;
const ID = /^[A-Za-z0-9_.-]{1,256}$/;
const OPTIONS = ['provider', 'apiKey', 'authorize', 'ownership', 'create', 'list', 'createsPerCaller', 'baseUrl', 'prefix', 'fetch', 'maxBodyBytes', 'maxBytesInFlight', 'bodyTimeoutMs', 'timeoutMs'];
/** Bodies one caller may have in flight at once. */
const MAX_BODIES_PER_CALLER = 2;
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
  if (!options || typeof options !== 'object') throw new TypeError('headless-imports proxy: options must be an object');
  options = readOptions(options);
  const { provider, apiKey } = options;
  if (provider !== 'dromo' && provider !== 'exa') throw new TypeError("headless-imports proxy: options.provider must be 'dromo' or 'exa'");
  const spec = PROVIDERS[provider];
  // The key is checked without ever being quoted in a message.
  if (typeof apiKey !== 'string' || apiKey.trim() === '') throw new TypeError('headless-imports proxy: options.apiKey must be a non-empty string');
  if (/[\r\n\0]/.test(apiKey) || apiKey !== apiKey.trim()) throw new TypeError('headless-imports proxy: options.apiKey contains whitespace or control characters');
  const authorize = options.authorize;
  if (authorize !== 'anyone' && typeof authorize !== 'function') {
    throw new TypeError(
      "headless-imports proxy: options.authorize is required: a function (request) => the caller's identity " +
        "(e.g. your session's user id), or null to refuse. It decides who may use your key; each caller then " +
        "sees only the imports they created. For a local demo only, authorize: 'anyone' serves everyone as one identity.",
    );
  }
  const store = options.ownership ?? memoryOwnershipStore();
  for (const m of ['add', 'owner', 'remove', 'list']) {
    if (typeof (/** @type {any} */ (store))[m] !== 'function') throw new TypeError(`headless-imports proxy: options.ownership must have a ${m}() method (see OwnershipStore)`);
  }
  if (options.create !== undefined && typeof options.create !== 'function') throw new TypeError('headless-imports proxy: options.create must be a function (params, identity, request) => params');
  const listMode = options.list ?? 'own';
  if (listMode !== 'own' && listMode !== 'account' && listMode !== false) throw new TypeError("headless-imports proxy: options.list must be 'own', 'account' or false");
  const baseUrl = checkBaseUrl(options.baseUrl ?? spec.baseUrl);
  const prefix = checkPrefix(options.prefix ?? spec.prefix);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new TypeError('headless-imports proxy: options.fetch must be a function (no global fetch here)');
  const maxBodyBytes = positive(options.maxBodyBytes, 'maxBodyBytes') ?? DEFAULT_MAX_BODY;
  const budget = new Budget(positive(options.maxBytesInFlight, 'maxBytesInFlight') ?? DEFAULT_IN_FLIGHT);
  // One caller's share: half the budget, or one largest body if that is more (a share that could
  // never hold a body the proxy accepts would refuse it for ever).
  const share = Math.max(budget.max / 2, 3 * maxBodyBytes + 4096);
  const perCaller = callerLimit(options.createsPerCaller);
  /** Bodies in flight per identity, and the bytes they are charged. @type {Map<string, { bodies: number, bytes: number }>} */
  const heldBy = new Map();
  /** Recent create times per identity. @type {Map<string, number[]>} */
  const createsOf = new Map();
  const bodyTimeoutMs = positive(options.bodyTimeoutMs, 'bodyTimeoutMs') ?? 30_000;
  const timeoutMs = positive(options.timeoutMs, 'timeoutMs') ?? 60_000;

  /**
   * One upstream request: the key set here, no redirect followed, the answer read whole (capped)
   * with the key scrubbed out. A problem Response when there is no usable answer.
   * @param {Request} request
   * @param {string} method
   * @param {string} pathAndQuery
   * @param {Uint8Array<ArrayBuffer>} [body]
   * @returns {Promise<{ status: number, headers: Headers, text: string } | Response>}
   */
  async function upstream(request, method, pathAndQuery, body) {
    const headers = new Headers({ accept: 'application/json', [spec.keyHeader]: apiKey });
    if (body) headers.set('content-type', 'application/json');
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any ? AbortSignal.any([request.signal, timeout]) : timeout;
    /** @type {Response} */
    let res;
    try {
      /** @type {RequestInit} */
      const init = { method, headers, body, redirect: 'manual', signal };
      body = undefined;
      // fetch copies the body as it starts: ours is let go at once, so one copy is in flight.
      const sending = doFetch(`${baseUrl}${pathAndQuery}`, init);
      init.body = undefined;
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
    const text = await readText(res, MAX_UPSTREAM_BODY);
    if (text === undefined) return problem(502, 'upstream_invalid', 'The import API sent an answer this proxy will not relay.');
    // An API that echoes the key (in an error about it, say) must not hand it to the browser.
    return { status: res.status, headers: res.headers, text: text.split(apiKey).join('***') };
  }

  /** @param {{ status: number, headers: Headers, text: string }} up */
  function relay(up) {
    const out = new Headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const v = up.headers.get(name);
      if (v !== null) out.set(name, v);
    }
    return new Response(up.text || null, { status: up.status, headers: out });
  }

  /**
   * Who created import `id`: the store's answer, else (Exa) the owner written in the import itself,
   * read upstream, then remembered. Returns the identity and, when it was fetched, the import.
   * @param {Request} request
   * @param {string} id
   */
  async function ownerOf(request, id) {
    const known = await store.owner(provider, id);
    if (typeof known === 'string') return { owner: known };
    if (provider !== 'exa') return { owner: undefined };
    const up = await upstream(request, 'GET', spec.item(id));
    if (up instanceof Response) return { failed: up };
    const owner = up.status === 200 ? spec.ownerIn(parseJson(up.text)) : undefined;
    if (typeof owner === 'string') await store.add(provider, id, owner);
    return { owner, fetched: up };
  }

  /**
   * Reads a JSON request body within the size cap, the time limit, the memory budget shared by
   * every request in flight and the caller's own share of bodies in flight, and hands it to `use`
   * (which should let go of it as soon as it can); the budget is returned when `use` is done.
   * @param {Request} request
   * @param {string} identity
   * @param {(take: () => Uint8Array) => Promise<Response>} use
   */
  async function withBody(request, identity, use) {
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
    // One caller may not hold more than a couple of bodies, nor half the budget, at once: a caller
    // whose bodies trickle in cannot hold everyone else up.
    const mine = heldBy.get(identity) ?? { bodies: 0, bytes: 0 };
    // A declared length is charged up front, three times (as read, as rewritten, and the copy
    // fetch makes to send it; each lives only while the next is made), so a crowd of large bodies
    // is refused before any is read. A body of unknown length is charged as its bytes arrive.
    const upfront = declared === undefined ? 0 : 3 * declared + 4096;
    if (mine.bodies >= MAX_BODIES_PER_CALLER || mine.bytes + upfront > share) {
      void request.body?.cancel().catch(() => {});
      return problem(429, 'busy', 'Too many of your requests are in flight; try again shortly.', RETRY_SOON);
    }
    if (!budget.take(upfront)) {
      void request.body?.cancel().catch(() => {});
      return problem(503, 'busy', 'Too many request bodies in flight; try again shortly.', RETRY_SOON);
    }
    mine.bodies += 1;
    mine.bytes += upfront;
    heldBy.set(identity, mine);
    let charged = upfront;
    const take = (/** @type {number} */ n) => {
      if (declared !== undefined) return true;
      if (mine.bytes + 3 * n > share || !budget.take(3 * n)) return false;
      charged += 3 * n;
      mine.bytes += 3 * n;
      return true;
    };
    try {
      /** @type {Uint8Array | string | undefined} */
      let body = await readBody(request, { max: maxBodyBytes, timeoutMs: bodyTimeoutMs, take });
      if (body === 'too_large') return problem(413, 'payload_too_large', `Request body over ${maxBodyBytes} bytes.`);
      if (body === 'busy') return problem(503, 'busy', 'Too many request bodies in flight; try again shortly.', RETRY_SOON);
      if (body === 'timeout') return problem(408, 'body_timeout', 'The request body took too long to arrive.', { 'x-should-retry': 'true' });
      if (body === 'aborted') return problem(400, 'bad_request', 'The request body could not be read.');
      return await use(() => {
        const taken = /** @type {Uint8Array} */ (body);
        body = undefined;
        return taken;
      });
    } finally {
      budget.give(charged);
      mine.bodies -= 1;
      mine.bytes -= charged;
      if (mine.bodies === 0) heldBy.delete(identity);
    }
  }

  /**
   * Whether `identity` may create another import now: at most `creates` per `windowMs` each, so
   * one caller cannot spend the whole account's rate limit (Dromo allows 20 creates a minute).
   * @param {string} identity
   * @returns {Response | undefined} the refusal, if any
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
    return undefined;
  }

  /** @param {Request} request @param {string} identity */
  function create(request, identity) {
    const limited = createAllowed(identity);
    if (limited) {
      void request.body?.cancel().catch(() => {});
      return Promise.resolve(limited);
    }
    return withBody(request, identity, async (take) => {
      /** @type {ReturnType<typeof splitObject>} */
      let split = splitObject(take(), spec.raw);
      if (!split) return problem(400, 'bad_request', 'The body must be one JSON object with distinct keys.');
      let params = split.params;
      const kept = split.kept;
      split = null;
      const forbidden = spec.forbidden(params);
      if (forbidden) {
        return problem(403, 'forbidden_field', `${forbidden} is chosen by the server, not the browser: set it in the proxy's create option.`);
      }
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
      const up = await upstream(request, 'POST', spec.collection, joinObject(params, kept.splice(0)));
      // The import the API made, if it says: also from an answer cut off mid-body, so its owner is
      // recorded and the client (which reads the same id) can reach it to retry or clean up.
      const text = up instanceof Response ? '' : up.text;
      const id = up instanceof Response || up.status < 500 ? parseJson(text)?.id ?? idIn(text) : undefined;
      if (up instanceof Response || up.status >= 500 || (up.status === 201 && typeof id !== 'string')) {
        // No usable answer: the API may still have made the import. Exa's carries the client's
        // token: find it and take it back, so the client's retry leaves nothing behind.
        const token = isObject(params.metadata) ? params.metadata[TOKEN_KEY] : undefined;
        if (typeof id !== 'string' && provider === 'exa' && typeof token === 'string') await removeByToken(request, token);
      }
      if (up instanceof Response) return up;
      if (typeof id === 'string') {
        try {
          await store.add(provider, id, identity);
        } catch {
          // Unrecorded, nobody could reach it through the proxy: take it back.
          await upstream(request, 'DELETE', spec.item(id)).catch(() => {});
          return problem(503, 'store_unavailable', 'The import could not be recorded; try again.', { 'retry-after': '1' });
        }
      }
      return relay(up);
    });
  }

  /**
   * Deletes the newest Exa import whose metadata holds `token` (a create whose answer was lost).
   * @param {Request} request @param {string} token
   */
  async function removeByToken(request, token) {
    const page = await upstream(request, 'GET', `${spec.collection}?limit=200`);
    if (page instanceof Response || page.status !== 200) return;
    const data = parseJson(page.text)?.data;
    const lost = Array.isArray(data) ? data.find((i) => isObject(i?.metadata) && i.metadata[TOKEN_KEY] === token) : undefined;
    if (typeof lost?.id === 'string' && ID.test(lost.id)) await upstream(request, 'DELETE', spec.item(lost.id));
  }

  /** @param {Request} request @param {string} identity @param {string} id @param {string} method @param {string} rest */
  async function item(request, identity, id, method, rest) {
    const { owner, fetched, failed } = await ownerOf(request, id);
    if (failed) return failed;
    // Another's import answers exactly as a missing one: the caller learns nothing of it.
    if (owner !== identity) return problem(404, 'not_found', 'No such import.');
    if (method === 'PATCH') {
      return withBody(request, identity, async (take) => {
        const split = splitObject(take(), []);
        if (!split) return problem(400, 'bad_request', 'The body must be one JSON object with distinct keys.');
        // Exa replaces metadata wholesale: the owner is written back into what the browser sends.
        if (split.params.metadata !== undefined) {
          if (!isObject(split.params.metadata)) return problem(400, 'bad_request', 'metadata must be an object.');
          spec.tag(split.params, identity);
        }
        const up = await upstream(request, 'PATCH', rest, joinObject(split.params, []));
        return up instanceof Response ? up : relay(up);
      });
    }
    if (method === 'GET' && fetched && rest === spec.item(id)) return relay(fetched);
    const up = await upstream(request, method, rest);
    if (up instanceof Response) return up;
    if (method === 'DELETE' && (up.status < 300 || up.status === 404)) await store.remove(provider, id);
    return relay(up);
  }

  /**
   * The caller's own imports, a page at a time from the store, each read upstream (deleted ones
   * dropped), in the provider's page shape: Dromo `{count, next, previous, results}` by
   * offset/limit, Exa `{data, hasMore, nextCursor}` by an opaque cursor.
   * @param {Request} request @param {URL} url @param {string} identity
   */
  async function ownList(request, url, identity) {
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
    let failed;
    await pool(ids, 8, async (id) => {
      const up = await upstream(request, 'GET', spec.item(id));
      if (up instanceof Response) failed ??= up;
      else if (up.status === 404) await store.remove(provider, id);
      else if (up.status === 200) items[ids.indexOf(id)] = parseJson(up.text);
      else failed ??= relay(up);
    });
    if (failed) return failed;
    const found = items.filter((x) => x !== undefined);
    const more = offset + ids.length < total;
    /** @type {Record<string, unknown>} */
    let page;
    if (provider === 'dromo') {
      const link = (/** @type {number} */ o) => `${url.origin}${prefix}${spec.collection}?limit=${limit}&offset=${o}`;
      page = { count: total, next: more ? link(offset + ids.length) : null, previous: offset > 0 ? link(Math.max(0, offset - limit)) : null, results: found };
    } else {
      page = { data: found, hasMore: more, nextCursor: more ? encodeCursor(offset + ids.length) : null };
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

    if (match.id !== undefined) return item(request, identity, match.id, method, rest);
    if (method === 'POST') return create(request, identity);
    if (listMode === false) return problem(403, 'forbidden', 'Listing imports is turned off here.');
    if (listMode === 'own') return ownList(request, url, identity);
    const query = new URLSearchParams();
    for (const k of match.route.query) {
      const v = url.searchParams.get(k);
      if (v !== null) query.set(k, v);
    }
    const qs = query.toString();
    const up = await upstream(request, 'GET', `${rest}${qs ? `?${qs}` : ''}`);
    return up instanceof Response ? up : relay(up);
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
  return async function nodeHandler(req, res) {
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
      await send(res, await handler(request), abort.signal);
    } catch {
      if (abort.signal.aborted) return;
      if (!res.headersSent) await send(res, problem(500, 'error', 'Proxy error.'), abort.signal).catch(() => res.destroy());
      else res.destroy();
    } finally {
      res.removeListener('close', onClose);
    }
  };
}

/** Answers sent before a request body was read: the connection is closed rather than drained. */
const UNREAD_BODY = new Set([408, 413, 415, 503]);

/** Writes a fetch Response to a node:http response, with backpressure. */
async function send(/** @type {NodeResponseLike} */ res, /** @type {Response} */ response, /** @type {AbortSignal} */ signal) {
  /** @type {Record<string, string>} */
  const headers = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (UNREAD_BODY.has(response.status)) headers.connection = 'close';
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

/** A response body as text, or undefined when it is longer than `max` bytes. @param {Response} res @param {number} max */
async function readText(res, max) {
  if (!res.body) return '';
  const reader = res.body.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  return new TextDecoder().decode(chunks.length === 1 ? chunks[0] : concat(chunks, size));
}

/** @param {Uint8Array[]} chunks @param {number} size */
function concat(chunks, size) {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Runs `work` over `items`, `limit` at a time. @template T @param {T[]} items @param {number} limit @param {(t: T) => Promise<void>} work */
async function pool(items, limit, work) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/**
 * The options as a plain object, read once: an unknown key, or one that cannot be read (a throwing
 * getter, a revoked Proxy), is a TypeError that says which.
 * @param {ProxyOptions} options
 * @returns {ProxyOptions}
 */
function readOptions(options) {
  let keys;
  try {
    keys = Object.keys(options);
  } catch {
    throw new TypeError('headless-imports proxy: options cannot be read');
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of keys) {
    if (!OPTIONS.includes(k)) throw new TypeError(`headless-imports proxy: options.${k} is not an option (expected one of ${OPTIONS.join(', ')})`);
    try {
      out[k] = /** @type {any} */ (options)[k];
    } catch {
      throw new TypeError(`headless-imports proxy: options.${k} cannot be read`);
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
    throw new TypeError('headless-imports proxy: options.createsPerCaller must be false or { creates: a positive integer, windowMs? }');
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
  if (typeof value !== 'string') throw new TypeError('headless-imports proxy: options.baseUrl must be a string');
  const trimmed = value.replace(/\/+$/, '');
  let u;
  try {
    u = new URL(trimmed);
  } catch {
    throw new TypeError('headless-imports proxy: options.baseUrl must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError('headless-imports proxy: options.baseUrl must be an absolute http(s) URL');
  if (u.username || u.password) throw new TypeError('headless-imports proxy: options.baseUrl must not contain credentials');
  if (u.search || u.hash || /[?#]/.test(trimmed)) throw new TypeError('headless-imports proxy: options.baseUrl must not contain a query string or fragment');
  if (u.protocol === 'http:' && !isLoopback(u.hostname)) {
    throw new TypeError('headless-imports proxy: options.baseUrl must use https (plain http is only allowed for localhost): the API key would travel in clear text');
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
    throw new TypeError("headless-imports proxy: options.prefix must be a path like '/api/dromo' (no trailing slash)");
  }
  return value;
}

function positive(/** @type {unknown} */ v, /** @type {string} */ name) {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`headless-imports proxy: options.${name} must be a positive number`);
  return v;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

/**
 * A JSON error from the proxy itself, in the shape the clients read (`detail`) plus a `code`.
 * @param {number} status
 * @param {string} code
 * @param {string} detail
 * @param {Record<string, string>} [extra] extra headers
 */
function problem(status, code, detail, extra = {}) {
  return new Response(JSON.stringify({ detail, code: `proxy_${code}` }), { status, headers: { ...JSON_HEADERS, ...extra } });
}
