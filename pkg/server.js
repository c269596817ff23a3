// @ts-check
// The server-side endpoints: `dromo.schemas`, `dromo.webhooks` and `exa.webhooks`. Only Node's
// entry (node.js) loads this file, with the wasm build that has their operations (the `server`
// feature); browser entries give those properties a stand-in that refuses (clients.js), so none
// of this is in what a page downloads.

import {
  HANDLES,
  run,
  OP_SCHEMA_LIST,
  OP_SCHEMA_CREATE,
  OP_SCHEMA_RETRIEVE,
  OP_SCHEMA_UPDATE,
  OP_SCHEMA_DELETE,
  OP_WEBHOOK_UNWRAP,
  OP_WEBHOOK_CREATE,
  OP_WEBHOOK_RETRIEVE,
  OP_WEBHOOK_UPDATE,
  OP_WEBHOOK_DELETE,
  OP_WEBHOOK_LIST_PAGE,
  OP_WEBHOOK_RECEIVED,
} from './clients.js';
import { ValidationError, WebhookVerificationError } from './errors.js';
import { pagedList } from './paged.js';
import { toNodeHandler } from './proxy.js';

/** The largest delivery a handler reads by default: events are a few KB. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * @typedef {{
 *   onEvent?: (event: any) => unknown,
 *   onError?: (error: unknown, event: any) => unknown,
 *   maxBodyBytes?: number,
 *   secret?: string,
 *   toleranceSeconds?: number,
 * }} HandlerOptions
 */

/**
 * Checks a handler's options (synchronously: `handler()` returns the function at once).
 * @param {unknown} options @param {string[]} keys the keys this provider's handler takes
 * @returns {HandlerOptions}
 */
function handlerOptions(options, keys) {
  if (options === undefined) return {};
  const bad = (/** @type {string} */ path, /** @type {string} */ message) => new ValidationError(`${path}: ${message}`, { path });
  /** @type {any} */
  let o;
  try {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw bad('options', 'must be an object');
    o = { ...options };
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw bad('options', 'cannot be read (a revoked Proxy or a throwing getter?)');
  }
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw bad(`options.${k}`, `is not a known key (expected one of: ${keys.join(', ')})`);
  }
  for (const k of ['onEvent', 'onError']) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw bad(`options.${k}`, 'must be a function');
  }
  if (o.maxBodyBytes !== undefined && !(Number.isInteger(o.maxBodyBytes) && o.maxBodyBytes > 0)) throw bad('options.maxBodyBytes', 'must be a positive integer');
  if (o.secret !== undefined && !(typeof o.secret === 'string' && o.secret !== '')) throw bad('options.secret', "must be a non-empty string (the webhook's secret)");
  if (o.toleranceSeconds !== undefined && !(typeof o.toleranceSeconds === 'number' && Number.isFinite(o.toleranceSeconds) && o.toleranceSeconds >= 0)) {
    throw bad('options.toleranceSeconds', 'must be a finite number of seconds, 0 or more');
  }
  return o;
}

/**
 * A JSON answer.
 * @param {number} status @param {unknown} body @param {Record<string, string>} [headers]
 */
const answer = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/**
 * The body, or `null` when it is larger than `max` bytes (read no further than that).
 * @param {Request} request @param {number} max
 */
async function readCapped(request, max) {
  if (Number(request.headers.get('content-length')) > max) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  /** @type {Uint8Array[]} */
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * `client.webhooks.handler(options)`: a Fetch-style `(request) => Promise<Response>` that reads a
 * delivery (at most `maxBodyBytes`), verifies (Exa) or parses (Dromo) it, answers at once (200;
 * 400 for a body that is no event, 401 for a signature or timestamp that does not hold, 405, 413),
 * wakes the client's waits for the import it names (they confirm with a GET), and calls `onEvent`
 * once per event (a repeated delivery is answered 200 and not passed on). `.node` is the same for
 * node:http.
 * @param {DromoWebhooks | ExaWebhooks} endpoints
 * @param {(body: Uint8Array, headers: Headers, o: HandlerOptions) => Promise<any>} unwrap
 * @param {HandlerOptions} o
 */
function webhookHandler(endpoints, unwrap, o) {
  const max = o.maxBodyBytes ?? MAX_BODY_BYTES;
  /** @param {Request} request */
  const handler = async (request) => {
    let method;
    try {
      method = request instanceof Request ? request.method : undefined;
    } catch {
      // A revoked Proxy throws on instanceof.
    }
    if (method === undefined) throw new ValidationError('request: must be a Request (use handler.node for node:http)', { path: 'request' });
    if (method !== 'POST') return answer(405, { error: 'method_not_allowed' }, { allow: 'POST' });
    const body = await readCapped(request, max);
    if (body === null) return answer(413, { error: 'too_large' });
    let event;
    try {
      event = await unwrap(body, request.headers, o);
    } catch (e) {
      if (e instanceof WebhookVerificationError) {
        // The reason helps whoever sends it (a body parsed by middleware first, say); it never
        // holds the secret.
        return answer(e.code === 'webhook_payload' ? 400 : 401, { error: e.code, message: e.message });
      }
      // The handler's own set-up (no secret anywhere): said loudly, once per delivery.
      if (e instanceof ValidationError) console.error(`headless-imports: the webhook handler cannot check deliveries: ${e.message}`);
      throw e;
    }
    const fresh = await run(endpoints, OP_WEBHOOK_RECEIVED, event);
    if (fresh && o.onEvent) {
      // Not awaited: the provider gets its 2xx now, whatever the callback does.
      const { onEvent, onError } = o;
      Promise.resolve()
        .then(() => onEvent(event))
        .catch((error) => {
          if (onError) return onError(error, event);
          console.error('headless-imports: a webhook onEvent threw:', error);
        })
        .catch((error) => console.error('headless-imports: a webhook onError threw:', error));
    }
    return answer(200, fresh ? { received: true } : { received: true, duplicate: true });
  };
  return Object.assign(handler, { node: toNodeHandler(handler) });
}

/**
 * `dromo.schemas`: Dromo's Saved Schema API (`/schemas/`). Server-side: only Node's build has it.
 */
class DromoSchemas {
  /** @param {import('./clients.js').Handle} c */
  constructor(c) {
    HANDLES.set(this, c);
  }
  /** @param {unknown} [opts] */
  list(opts) {
    return run(this, OP_SCHEMA_LIST, opts);
  }
  /** @param {unknown} schema @param {unknown} [opts] */
  create(schema, opts) {
    return run(this, OP_SCHEMA_CREATE, schema, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP_SCHEMA_RETRIEVE, id, opts);
  }
  /** @param {unknown} id @param {unknown} schema @param {unknown} [opts] */
  update(id, schema, opts) {
    return run(this, OP_SCHEMA_UPDATE, id, schema, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP_SCHEMA_DELETE, id, opts);
  }
}

/** `dromo.webhooks`: reading Dromo's deliveries (unsigned: confirm each with a GET). Node only. */
class DromoWebhooks {
  /** @param {import('./clients.js').Handle} c */
  constructor(c) {
    HANDLES.set(this, c);
  }
  /** @param {unknown} body @param {unknown} [headers] */
  unwrap(body, headers) {
    return run(this, OP_WEBHOOK_UNWRAP, body, headers);
  }
  /** @param {unknown} [options] */
  handler(options) {
    const o = handlerOptions(options, ['onEvent', 'onError', 'maxBodyBytes']);
    return webhookHandler(this, (body, headers) => this.unwrap(body, headers), o);
  }
}

/** `exa.webhooks`: verifying Exa's deliveries, and the `/v0/webhooks` endpoints. Node only. */
class ExaWebhooks {
  /** @param {import('./clients.js').Handle} c */
  constructor(c) {
    HANDLES.set(this, c);
  }
  /** @param {unknown} body @param {unknown} headers @param {unknown} [secret] @param {unknown} [options] */
  unwrap(body, headers, secret, options) {
    return run(this, OP_WEBHOOK_UNWRAP, body, headers, { secret, options });
  }
  /** @param {unknown} [options] */
  handler(options) {
    const o = handlerOptions(options, ['onEvent', 'onError', 'maxBodyBytes', 'secret', 'toleranceSeconds']);
    const unwrapOptions = o.toleranceSeconds === undefined ? undefined : { toleranceSeconds: o.toleranceSeconds };
    return webhookHandler(this, (body, headers) => this.unwrap(body, headers, o.secret, unwrapOptions), o);
  }
  /** @param {unknown} params @param {unknown} [opts] */
  create(params, opts) {
    return run(this, OP_WEBHOOK_CREATE, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP_WEBHOOK_RETRIEVE, id, opts);
  }
  /** @param {unknown} id @param {unknown} params @param {unknown} [opts] */
  update(id, params, opts) {
    return run(this, OP_WEBHOOK_UPDATE, id, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP_WEBHOOK_DELETE, id, opts);
  }
  /** @param {unknown} [params] */
  list(params) {
    return pagedList((p) => run(this, OP_WEBHOOK_LIST_PAGE, p), params);
  }
}


/** @type {import('./clients.js').ServerEndpoints} */
export const serverEndpoints = {
  dromo: (c) => ({ schemas: new DromoSchemas(c), webhooks: new DromoWebhooks(c) }),
  exa: (c) => ({ webhooks: new ExaWebhooks(c) }),
};
