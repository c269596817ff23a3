// @ts-check
// Node-only (and any server runtime with fetch/Request/Response): a same-origin proxy that lets a
// browser app use `new Dromo({ baseUrl: '/api/dromo' })` / `new Exa({ baseUrl: '/api/exa' })` with
// no key. It forwards only the import endpoints, adds the key server-side, and passes nothing else
// through: no incoming credentials, no other headers, no other query parameters, no redirects.
// No dependencies and no wasm: it is plain fetch plumbing, so it also works in Next.js route
// handlers, Hono, Deno or Bun. It sends no CORS headers on purpose: serve it from the app's origin.

/**
 * @typedef {'dromo' | 'exa'} ProxyProvider
 *
 * @typedef {object} ProxyOptions
 * @property {ProxyProvider} provider Which API to forward to.
 * @property {string} apiKey The secret key, added to every forwarded request (never echoed).
 * @property {string} [baseUrl] Upstream API root; default the provider's real API. https unless loopback.
 * @property {string} [prefix] Where the handler is mounted; default `/api/dromo` or `/api/exa`.
 * @property {typeof fetch} [fetch] A fetch implementation for the upstream requests.
 * @property {number} [maxBodyBytes] Largest request body accepted (413 beyond); default 16 MiB.
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
 * Per provider: upstream default, mount point, key header, and the forwarded routes. A route's
 * `path` is matched segment by segment against what follows the prefix; `:id` is one import id.
 * `query` lists the query parameters passed on (all others are dropped).
 */
const PROVIDERS = {
  dromo: {
    baseUrl: 'https://app.dromo.io/api/v1',
    prefix: '/api/dromo',
    keyHeader: 'x-dromo-license-key',
    routes: [
      { path: '/headless/imports/', methods: ['GET', 'POST'], query: ['offset', 'limit'] },
      { path: '/headless/imports/:id/', methods: ['GET'], query: [] },
      { path: '/headless/imports/:id/url/', methods: ['GET'], query: [] },
    ],
  },
  exa: {
    baseUrl: 'https://api.exa.ai/websets',
    prefix: '/api/exa',
    keyHeader: 'x-api-key',
    routes: [
      { path: '/v0/imports', methods: ['GET', 'POST'], query: ['cursor', 'limit'] },
      { path: '/v0/imports/:id', methods: ['GET', 'PATCH', 'DELETE'], query: [] },
    ],
  },
};

/**
 * Request headers forwarded upstream: an allowlist, so `authorization`, `cookie`, `x-api-key`,
 * `x-dromo-license-key` and everything else the browser sends are dropped; the key is then set.
 */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept'];
/** Response headers passed back to the browser. */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'x-request-id', 'retry-after', 'retry-after-ms'];
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const ID = /^[A-Za-z0-9_.-]{1,256}$/;

/**
 * A fetch-style handler `(Request) => Promise<Response>` that forwards a browser's import calls to
 * Dromo or Exa with the key added server-side. `handler.node` adapts it to `node:http`.
 * @param {ProxyOptions} options
 * @returns {ProxyHandler}
 */
export function createProxyHandler(options) {
  if (!options || typeof options !== 'object') throw new TypeError('headless-imports proxy: options must be an object');
  const known = ['provider', 'apiKey', 'baseUrl', 'prefix', 'fetch', 'maxBodyBytes', 'timeoutMs'];
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`headless-imports proxy: options.${k} is not an option (expected one of ${known.join(', ')})`);
  }
  const { provider, apiKey } = options;
  if (provider !== 'dromo' && provider !== 'exa') throw new TypeError("headless-imports proxy: options.provider must be 'dromo' or 'exa'");
  const spec = PROVIDERS[provider];
  // The key is checked without ever being quoted in a message.
  if (typeof apiKey !== 'string' || apiKey.trim() === '') throw new TypeError('headless-imports proxy: options.apiKey must be a non-empty string');
  if (/[\r\n\0]/.test(apiKey) || apiKey !== apiKey.trim()) throw new TypeError('headless-imports proxy: options.apiKey contains whitespace or control characters');
  const baseUrl = checkBaseUrl(options.baseUrl ?? spec.baseUrl);
  const prefix = checkPrefix(options.prefix ?? spec.prefix);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new TypeError('headless-imports proxy: options.fetch must be a function (no global fetch here)');
  const maxBodyBytes = positive(options.maxBodyBytes, 'maxBodyBytes') ?? DEFAULT_MAX_BODY;
  const timeoutMs = positive(options.timeoutMs, 'timeoutMs') ?? 60_000;

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

    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const v = request.headers.get(name);
      if (v !== null) headers.set(name, v);
    }
    headers.set(spec.keyHeader, apiKey);

    /** @type {BodyInit | undefined} */
    let body;
    if (method === 'POST' || method === 'PATCH') {
      const read = await readCapped(request, maxBodyBytes);
      if (read === 'too_large') return problem(413, 'payload_too_large', `Request body over ${maxBodyBytes} bytes.`);
      if (read === 'aborted') return problem(400, 'bad_request', 'The request body could not be read.');
      body = read;
    }

    const query = new URLSearchParams();
    for (const k of match.route.query) {
      const v = url.searchParams.get(k);
      if (v !== null) query.set(k, v);
    }
    const qs = query.toString();
    const target = `${baseUrl}${rest}${qs ? `?${qs}` : ''}`;

    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any ? AbortSignal.any([request.signal, timeout]) : timeout;
    /** @type {Response} */
    let upstream;
    try {
      upstream = await doFetch(target, { method, headers, body, redirect: 'manual', signal });
    } catch {
      // No error detail: it could name internal hosts. Never the key (it is only in a header).
      if (timeout.aborted) return problem(504, 'upstream_timeout', 'The import API did not answer in time.');
      return problem(502, 'upstream_unreachable', 'The import API could not be reached.');
    }
    if (upstream.status >= 300 && upstream.status < 400) {
      // A redirect is never followed (it could take the key elsewhere) nor passed on.
      await upstream.body?.cancel().catch(() => {});
      return problem(502, 'upstream_redirect', 'The import API answered with a redirect, which this proxy does not follow.');
    }
    const out = new Headers({ 'cache-control': 'no-store' });
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const v = upstream.headers.get(name);
      if (v !== null) out.set(name, v);
    }
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
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
      let request;
      try {
        request = new Request(new URL(raw, 'http://localhost'), init);
      } catch {
        await send(res, problem(400, 'bad_request', 'Malformed request.'), abort.signal);
        return;
      }
      await send(res, await handler(request), abort.signal);
    } catch {
      if (abort.signal.aborted) return;
      if (!res.headersSent) await send(res, problem(500, 'proxy_error', 'Proxy error.'), abort.signal).catch(() => res.destroy());
      else res.destroy();
    } finally {
      res.removeListener('close', onClose);
    }
  };
}

/** Writes a fetch Response to a node:http response, with backpressure. */
async function send(/** @type {NodeResponseLike} */ res, /** @type {Response} */ response, /** @type {AbortSignal} */ signal) {
  /** @type {Record<string, string>} */
  const headers = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  // A refused body may still be arriving: close the connection rather than drain it.
  if (response.status === 413) headers.connection = 'close';
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
 * The request body, or 'too_large' as soon as it exceeds `max` (the declared Content-Length is
 * checked first, so an oversized upload is refused without reading it).
 * @returns {Promise<Uint8Array<ArrayBuffer> | 'too_large' | 'aborted'>}
 */
async function readCapped(/** @type {Request} */ request, /** @type {number} */ max) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await request.body?.cancel().catch(() => {});
    return 'too_large';
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
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
        return 'too_large';
      }
      chunks.push(value);
    }
  } catch {
    return 'aborted';
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The route `rest` (the path after the prefix) names, 'bad_id' for a known shape with an invalid
 * id, or undefined.
 * @param {{ path: string, methods: string[], query: string[] }[]} routes
 * @param {string} rest
 */
function matchRoute(routes, rest) {
  const segs = rest.split('/');
  let badId = false;
  for (const route of routes) {
    const want = route.path.split('/');
    if (want.length !== segs.length) continue;
    let ok = true;
    let idOk = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i] === ':id') {
        if (!ID.test(segs[i]) || segs[i].includes('..')) idOk = false;
        if (segs[i] === '') ok = false;
      } else if (want[i] !== segs[i]) ok = false;
    }
    if (ok && idOk) return { route };
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

/**
 * A JSON error from the proxy itself, in the shape the clients read (`detail`) plus a `code`.
 * @param {number} status
 * @param {string} code
 * @param {string} detail
 * @param {Record<string, string>} [extra] extra headers
 */
function problem(status, code, detail, extra = {}) {
  return new Response(JSON.stringify({ detail, code: `proxy_${code}` }), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra },
  });
}
