// @ts-check
// The classes users call, `Dromo`, `Exa` and their `imports`: each method is one call into the
// Rust core (`core.call(op, ...args)`), which validates, sends, retries, waits and decides every
// error. One exported wasm method instead of one per API method keeps the .wasm and its generated
// glue small (each exported method costs ~450 bytes of wasm shims plus its glue), and the surface
// users see is written once, here, for every entry (index.js, exa.js, dromo.js, node.js).

import * as errors from './errors.js';
import { pagedList } from './paged.js';
import { rowStream } from './rows.js';

/** Operation codes of `Core.call`, in step with `op` in src/lib.rs. */
export const OP = {
  importFile: 1,
  importRows: 2,
  create: 3,
  retrieve: 4,
  update: 5,
  delete: 6,
  resultUrl: 7,
  results: 8,
  listPage: 9,
  upload: 10,
  wait: 11,
  rows: 12,
  schemaList: 13,
  schemaCreate: 14,
  schemaRetrieve: 15,
  schemaUpdate: 16,
  schemaDelete: 17,
  webhookUnwrap: 18,
  webhookCreate: 19,
  webhookRetrieve: 20,
  webhookUpdate: 21,
  webhookDelete: 22,
  webhookListPage: 23,
  webhookReceived: 24,
};

/** Provider codes of `new Core(provider, options)`, in step with src/lib.rs. */
const DROMO = 0;
const EXA = 1;

/**
 * @typedef {{ call(op: number, a?: unknown, b?: unknown, c?: unknown): Promise<any> }} Handle
 * @typedef {{ Core: new (provider: number, options: unknown) => Handle, setup(makeError: Function, nodePut?: Function): void }} Core
 */

/**
 * Hands an initialised wasm build what it needs from JS: the error classes (through
 * `makeError`), and in Node the streaming uploader.
 * @param {Core} core
 * @param {Function} [nodePut]
 */
export function start(core, nodePut) {
  core.setup(makeError, nodePut);
}

/**
 * Builds the error Rust asked for. An unknown class name (a newer Rust than this file) still gives
 * a `HeadlessImportsError` rather than a crash while reporting an error.
 * @param {string} name class name, e.g. `NotFoundError`
 * @param {string} message already redacted by Rust
 * @param {errors.ErrorProps} [props]
 */
function makeError(name, message, props) {
  /** @type {any} */
  const classes = errors;
  const cls = Object.prototype.hasOwnProperty.call(classes, name) ? classes[name] : errors.HeadlessImportsError;
  return new cls(message, props);
}

/** The core handle behind each endpoints object (`imports`, `schemas`, `webhooks`): out of reach of users, read only by `run`. */
export const HANDLES = new WeakMap();

/**
 * Runs operation `op` on the core behind an endpoints object (`imports`, `schemas`, `webhooks`).
 * @param {object} endpoints @param {number} op @param {unknown} [a] @param {unknown} [b] @param {unknown} [c]
 */
export const run = (endpoints, op, a, b, c) => HANDLES.get(endpoints).call(op, a, b, c);

/**
 * The endpoints both providers' `imports` have. Module-level (not per build): one copy serves
 * every entry, and `Object.getPrototypeOf(dromo.imports)` is plain to read.
 */
class Imports {
  /** @param {Handle} c */
  constructor(c) {
    HANDLES.set(this, c);
  }
  /** @param {unknown} params @param {unknown} [opts] */
  create(params, opts) {
    return run(this, OP.create, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP.retrieve, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP.delete, id, opts);
  }
  /** @param {unknown} [params] */
  list(params) {
    return pagedList((p) => run(this, OP.listPage, p), params);
  }
  /** @param {unknown} target @param {unknown} body @param {unknown} [opts] */
  upload(target, body, opts) {
    return run(this, OP.upload, target, body, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  waitForCompletion(id, opts) {
    return run(this, OP.wait, id, opts);
  }
}

/** `dromo.imports`: the `/headless/imports/` endpoints. */
class DromoImports extends Imports {
  /** @param {unknown} id @param {unknown} [opts] */
  resultUrl(id, opts) {
    return run(this, OP.resultUrl, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  results(id, opts) {
    return run(this, OP.results, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  rows(id, opts) {
    return rowStream((control) => run(this, OP.rows, id, opts, control));
  }
}

/** `exa.imports`: the `/v0/imports` endpoints. */
class ExaImports extends Imports {
  /** @param {unknown} id @param {unknown} params @param {unknown} [opts] */
  update(id, params, opts) {
    return run(this, OP.update, id, params, opts);
  }
}

/**
 * `dromo.schemas`, `dromo.webhooks` and `exa.webhooks` in a browser build, which leaves the
 * server-side calls out (their classes are in server.js, which only Node's entry loads): every
 * call rejects with an explanation, as browser-stubs.js does for the other server-only exports.
 */
const serverOnly = () =>
  new errors.HeadlessImportsError(
    'Saved schemas and webhooks are server-side (they need your key or your webhook secret): use dromo.schemas and client.webhooks in Node, not in a page',
    { code: 'not_available_here' },
  );
const refuse = () => Promise.reject(serverOnly());
const SERVER_ONLY = Object.freeze({
  list: refuse,
  create: refuse,
  retrieve: refuse,
  update: refuse,
  delete: refuse,
  unwrap: refuse,
  handler() {
    throw serverOnly();
  },
});

/**
 * The server-side endpoints a client gets: server.js's in Node, the refusing stand-in elsewhere.
 * @typedef {{ dromo(c: Handle): { schemas: object, webhooks: object }, exa(c: Handle): { webhooks: object } }} ServerEndpoints
 */

/**
 * The `Dromo` class over a wasm build that has Dromo; `server` (server.js) when that build has
 * the server-side calls too (Node's).
 * @param {Core} core
 * @param {ServerEndpoints} [server]
 */
export function dromoClass(core, server) {
  /** A client for Dromo's Headless Import API. */
  class Dromo {
    #c;
    #imports;
    #schemas;
    #webhooks;
    /** @param {unknown} [options] */
    constructor(options) {
      this.#c = new core.Core(DROMO, options);
      this.#imports = new DromoImports(this.#c);
      const extra = server?.dromo(this.#c);
      this.#schemas = extra?.schemas ?? SERVER_ONLY;
      this.#webhooks = extra?.webhooks ?? SERVER_ONLY;
    }
    /** The `/headless/imports/` endpoints (the same object on every access). */
    get imports() {
      return this.#imports;
    }
    /** The `/schemas/` endpoints, in Node (the same object on every access). */
    get schemas() {
      return this.#schemas;
    }
    /** Reading Dromo's webhook deliveries, in Node (the same object on every access). */
    get webhooks() {
      return this.#webhooks;
    }
    /** @param {unknown} file @param {unknown} options */
    importFile(file, options) {
      return this.#c.call(OP.importFile, file, options);
    }
    /** @param {unknown} rows @param {unknown} options */
    importRows(rows, options) {
      return this.#c.call(OP.importRows, rows, options);
    }
  }
  return Dromo;
}

/**
 * The `Exa` class over a wasm build that has Exa; `server` (server.js) when that build has the
 * server-side calls too (Node's).
 * @param {Core} core
 * @param {ServerEndpoints} [server]
 */
export function exaClass(core, server) {
  /** A client for Exa's Websets Imports API. */
  class Exa {
    #c;
    #imports;
    #webhooks;
    /** @param {unknown} [options] */
    constructor(options) {
      this.#c = new core.Core(EXA, options);
      this.#imports = new ExaImports(this.#c);
      this.#webhooks = server?.exa(this.#c).webhooks ?? SERVER_ONLY;
    }
    /** The `/v0/imports` endpoints (the same object on every access). */
    get imports() {
      return this.#imports;
    }
    /** The `/v0/webhooks` endpoints and `unwrap`, in Node (the same object on every access). */
    get webhooks() {
      return this.#webhooks;
    }
    /** @param {unknown} file @param {unknown} options */
    importFile(file, options) {
      return this.#c.call(OP.importFile, file, options);
    }
  }
  return Exa;
}
