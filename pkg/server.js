// @ts-check
// The server-side endpoints: `dromo.schemas`, `dromo.webhooks` and `exa.webhooks`. Only Node's
// entry (node.js) loads this file, with the wasm build that has their operations (the `server`
// feature); browser entries give those properties a stand-in that refuses (clients.js), so none
// of this is in what a page downloads.

import { OP, HANDLES, run } from './clients.js';
import { pagedList } from './paged.js';

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
    return run(this, OP.schemaList, opts);
  }
  /** @param {unknown} schema @param {unknown} [opts] */
  create(schema, opts) {
    return run(this, OP.schemaCreate, schema, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP.schemaRetrieve, id, opts);
  }
  /** @param {unknown} id @param {unknown} schema @param {unknown} [opts] */
  update(id, schema, opts) {
    return run(this, OP.schemaUpdate, id, schema, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP.schemaDelete, id, opts);
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
    return run(this, OP.webhookUnwrap, body, headers);
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
    return run(this, OP.webhookUnwrap, body, headers, { secret, options });
  }
  /** @param {unknown} params @param {unknown} [opts] */
  create(params, opts) {
    return run(this, OP.webhookCreate, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP.webhookRetrieve, id, opts);
  }
  /** @param {unknown} id @param {unknown} params @param {unknown} [opts] */
  update(id, params, opts) {
    return run(this, OP.webhookUpdate, id, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP.webhookDelete, id, opts);
  }
  /** @param {unknown} [params] */
  list(params) {
    return pagedList((p) => run(this, OP.webhookListPage, p), params);
  }
}


/** @type {import('./clients.js').ServerEndpoints} */
export const serverEndpoints = {
  dromo: (c) => ({ schemas: new DromoSchemas(c), webhooks: new DromoWebhooks(c) }),
  exa: (c) => ({ webhooks: new ExaWebhooks(c) }),
};
