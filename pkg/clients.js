// @ts-check
// The classes users call, `Dromo`, `Exa` and their `imports`: each method is one call into the
// Rust core (`core.call(op, ...args)`), which validates, sends, retries, waits and decides every
// error. One exported wasm method instead of one per API method keeps the .wasm and its generated
// glue small (each exported method costs ~450 bytes of wasm shims plus its glue), and the surface
// users see is written once, here, for every entry (index.js, exa.js, dromo.js, node.js).

import * as errors from './errors.js';
import { pagedList } from './paged.js';
import { rowStream } from './rows.js';

/**
 * Operation codes of `Core.call`, in step with `op` in src/lib.rs. One constant each, not one
 * object: a bundler inlines the numbers and drops the codes a build never calls (a page's bundle
 * has none of the server-side ones).
 */
export const OP_IMPORT_FILE = 1;
export const OP_IMPORT_ROWS = 2;
export const OP_CREATE = 3;
export const OP_RETRIEVE = 4;
export const OP_UPDATE = 5;
export const OP_DELETE = 6;
export const OP_RESULT_URL = 7;
export const OP_RESULTS = 8;
export const OP_LIST_PAGE = 9;
export const OP_UPLOAD = 10;
export const OP_WAIT = 11;
export const OP_ROWS = 12;
export const OP_SCHEMA_LIST = 13;
export const OP_SCHEMA_CREATE = 14;
export const OP_SCHEMA_RETRIEVE = 15;
export const OP_SCHEMA_UPDATE = 16;
export const OP_SCHEMA_DELETE = 17;
export const OP_WEBHOOK_UNWRAP = 18;
export const OP_WEBHOOK_CREATE = 19;
export const OP_WEBHOOK_RETRIEVE = 20;
export const OP_WEBHOOK_UPDATE = 21;
export const OP_WEBHOOK_DELETE = 22;
export const OP_WEBHOOK_LIST_PAGE = 23;
export const OP_WEBHOOK_RECEIVED = 24;
export const OP_JOURNAL_NEXT = 25;
export const OP_FILES_CHECK = 26;

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
    return run(this, OP_CREATE, params, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  retrieve(id, opts) {
    return run(this, OP_RETRIEVE, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  delete(id, opts) {
    return run(this, OP_DELETE, id, opts);
  }
  /** @param {unknown} [params] */
  list(params) {
    return pagedList((p) => run(this, OP_LIST_PAGE, p), params);
  }
  /** @param {unknown} target @param {unknown} body @param {unknown} [opts] */
  upload(target, body, opts) {
    return run(this, OP_UPLOAD, target, body, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  waitForCompletion(id, opts) {
    return run(this, OP_WAIT, id, opts);
  }
}

/** `dromo.imports`: the `/headless/imports/` endpoints. */
class DromoImports extends Imports {
  /** @param {unknown} id @param {unknown} [opts] */
  resultUrl(id, opts) {
    return run(this, OP_RESULT_URL, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  results(id, opts) {
    return run(this, OP_RESULTS, id, opts);
  }
  /** @param {unknown} id @param {unknown} [opts] */
  rows(id, opts) {
    return rowStream((control) => run(this, OP_ROWS, id, opts, control));
  }
}

/** `exa.imports`: the `/v0/imports` endpoints. */
class ExaImports extends Imports {
  /** @param {unknown} id @param {unknown} params @param {unknown} [opts] */
  update(id, params, opts) {
    return run(this, OP_UPDATE, id, params, opts);
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
      return this.#c.call(OP_IMPORT_FILE, file, options);
    }
    /** @param {unknown} rows @param {unknown} options */
    importRows(rows, options) {
      return this.#c.call(OP_IMPORT_ROWS, rows, options);
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
      return this.#c.call(OP_IMPORT_FILE, file, options);
    }
  }
  return Exa;
}
