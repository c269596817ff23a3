// @ts-check
// Tests of the hand-written JS around the wasm core: the error classes (pkg/errors.js), the
// paged-list sugar (pkg/paged.js), and the package entries (pkg/node.js, node.cjs, index.js)
// checked against pkg/index.d.ts. The entry tests need the wasm build in pkg/gen/ and are skipped
// without it; the rest needs nothing but Node. Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as errorModule from '../../pkg/errors.js';
import { pagedList } from '../../pkg/paged.js';

/** The error classes by name, as every entry exports them. */
const errorClasses = () => /** @type {Record<string, any>} */ ({ ...errorModule });
/**
 * What the package's `makeError` (pkg/clients.js, handed to the wasm core) builds: the class by
 * name, HeadlessImportsError for an unknown one. Exercised through the core by the entry tests.
 * @param {string} name @param {string} message @param {Record<string, unknown>} [props]
 */
function makeError(name, message, props) {
  const classes = errorClasses();
  const cls = Object.prototype.hasOwnProperty.call(classes, name) ? classes[name] : classes.HeadlessImportsError;
  return new cls(message, props);
}

const PKG = new URL('../../pkg/', import.meta.url);
const BUILT = fs.existsSync(new URL('gen/headless_imports_bg.wasm', PKG));

/** Class name -> [parent, default code], as documented in pkg/index.d.ts. */
const HIERARCHY = {
  HeadlessImportsError: [null, 'error'],
  APIError: ['HeadlessImportsError', 'api_error'],
  BadRequestError: ['APIError', 'bad_request'],
  AuthenticationError: ['APIError', 'authentication_error'],
  PermissionDeniedError: ['APIError', 'permission_denied'],
  NotFoundError: ['APIError', 'not_found'],
  ConflictError: ['APIError', 'conflict'],
  UnprocessableEntityError: ['APIError', 'unprocessable_entity'],
  RateLimitError: ['APIError', 'rate_limit'],
  InternalServerError: ['APIError', 'internal_server_error'],
  APIConnectionError: ['HeadlessImportsError', 'connection_error'],
  APIConnectionTimeoutError: ['APIConnectionError', 'timeout'],
  APIUserAbortError: ['HeadlessImportsError', 'aborted'],
  ValidationError: ['HeadlessImportsError', 'validation_error'],
  UploadError: ['HeadlessImportsError', 'upload_error'],
  ImportFailedError: ['HeadlessImportsError', 'import_failed'],
  NeedsReviewError: ['HeadlessImportsError', 'needs_review'],
  WaitTimeoutError: ['HeadlessImportsError', 'wait_timeout'],
  WebhookVerificationError: ['HeadlessImportsError', 'webhook_verification'],
};

// ------------------------------------------------------------------------------------------------
// errors.js
// ------------------------------------------------------------------------------------------------

test('errorClasses: every class, its parent, name and default code', () => {
  const classes = /** @type {Record<string, any>} */ (errorClasses());
  assert.deepEqual(Object.keys(classes).sort(), Object.keys(HIERARCHY).sort());
  for (const [name, [parent, code]] of Object.entries(HIERARCHY)) {
    const e = makeError(name, 'boom', {});
    assert.ok(e instanceof classes[name], name);
    assert.ok(e instanceof Error);
    assert.ok(e instanceof classes.HeadlessImportsError);
    if (parent) assert.ok(e instanceof classes[parent], `${name} extends ${parent}`);
    assert.equal(e.name, name);
    assert.equal(e.code, code);
    assert.equal(e.message, 'boom');
    assert.match(String(e.stack), new RegExp(`^${name}: boom`), 'the stack names the class');
  }
  assert.ok(!(makeError('UploadError', 'x', {}) instanceof classes.APIError));
});

test('makeError: props land on the instance, undefined ones do not; code overridable', () => {
  const imp = { id: 'i1', upload: 'https://bucket.test/k?X-Amz-Signature=secret' };
  const cause = new Error('ECONNRESET');
  const e = /** @type {any} */ (
    makeError('NotFoundError', 'Not found', {
      status: 404,
      requestId: 'req_1',
      body: { detail: 'x' },
      import: imp,
      path: undefined,
      code: 'invalid_response',
    })
  );
  assert.equal(e.status, 404);
  assert.equal(e.requestId, 'req_1');
  assert.deepEqual(e.body, { detail: 'x' });
  assert.equal(e.import, imp);
  assert.equal('path' in e, false, 'undefined props are not copied');
  assert.equal(e.code, 'invalid_response');
  // What logging shows: the useful facts, never the import with its signed URL, nor the body.
  assert.deepEqual(Object.keys(e).sort(), ['code', 'requestId', 'status']);
  assert.doesNotMatch(JSON.stringify(e), /Signature/);
  const c = /** @type {any} */ (makeError('APIConnectionError', 'Connection error', { cause }));
  assert.equal(c.cause, cause);
  assert.equal(Object.getOwnPropertyDescriptor(c, 'cause')?.enumerable, false);
  const u = /** @type {any} */ (makeError('UploadError', 'expired', { status: 403, s3Code: 'AccessDenied', expired: true }));
  assert.equal(u.expired, true);
  assert.equal(u.s3Code, 'AccessDenied');
  const v = /** @type {any} */ (makeError('ValidationError', 'fields[2].label: is required', { path: 'fields[2].label' }));
  assert.equal(v.path, 'fields[2].label');
});

test('makeError: an unknown class name still gives a HeadlessImportsError', () => {
  const { HeadlessImportsError } = errorClasses();
  const e = makeError('FromTheFutureError', 'new', { code: 'future' });
  assert.equal(e.constructor, HeadlessImportsError);
  assert.equal(e.code, 'future');
  assert.equal(makeError('toString', 'x').constructor, HeadlessImportsError, 'no prototype lookups');
});

test('error classes are usable directly', () => {
  const { RateLimitError, APIError } = errorClasses();
  const e = new RateLimitError('slow down', { status: 429 });
  assert.ok(e instanceof APIError);
  assert.equal(e.code, 'rate_limit');
  assert.equal(new RateLimitError().message, '');
});

// ------------------------------------------------------------------------------------------------
// paged.js
// ------------------------------------------------------------------------------------------------

/**
 * A fake page owner over `total` items: offset/limit pagination like Dromo's, counting fetches.
 * @param {number} total
 */
function fakeOwner(total) {
  /** @type {unknown[]} */
  const fetches = [];
  /** @param {{ offset?: number, limit?: number } | undefined} params */
  const fetchPage = async (params) => {
    fetches.push(params);
    const offset = params?.offset ?? 0;
    const limit = params?.limit ?? 3;
    const results = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => ({ id: offset + i }));
    const more = offset + limit < total;
    return {
      page: { count: total, next: more ? 'https://elsewhere.test/next' : null, previous: null, results },
      items: results,
      next: more ? { offset: offset + limit, limit } : undefined,
    };
  };
  return Object.assign(fetchPage, { fetches });
}

test('pagedList: nothing is fetched until awaited or iterated', async () => {
  const owner = fakeOwner(10);
  pagedList(owner, { limit: 3 });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(owner.fetches.length, 0);
});

test('pagedList: await gives the first page, once; the page is plain data plus helpers', async () => {
  const owner = fakeOwner(7);
  const list = /** @type {any} */ (pagedList(owner, { limit: 3 }));
  const page = await list;
  const again = await list;
  assert.equal(page, again);
  assert.equal(owner.fetches.length, 1, 'then reuses one promise');
  assert.deepEqual(Object.keys(page), ['count', 'next', 'previous', 'results']);
  assert.equal(page.count, 7);
  assert.deepEqual(page.results.map((/** @type {any} */ r) => r.id), [0, 1, 2]);
  assert.equal(page.then, undefined, 'a page is not thenable');
  assert.equal(page.hasNextPage(), true);
  const page2 = await page.nextPage();
  assert.deepEqual(page2.results.map((/** @type {any} */ r) => r.id), [3, 4, 5]);
  const page3 = await page2.nextPage();
  assert.equal(page3.hasNextPage(), false);
  await assert.rejects(page3.nextPage(), /No next page/);
  // Iterating a page covers it and every page after it.
  const rest = [];
  for await (const item of page2) rest.push(/** @type {any} */ (item).id);
  assert.deepEqual(rest, [3, 4, 5, 6]);
  assert.equal(Object.prototype.toString.call(list), '[object PagedList]');
});

test('pagedList: for await walks every page lazily; break stops fetching', async () => {
  const owner = fakeOwner(10);
  const ids = [];
  for await (const item of pagedList(owner, { limit: 3 })) ids.push(/** @type {any} */ (item).id);
  assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(owner.fetches, [{ limit: 3 }, { offset: 3, limit: 3 }, { offset: 6, limit: 3 }, { offset: 9, limit: 3 }]);

  const lazy = fakeOwner(10);
  for await (const item of pagedList(lazy, { limit: 3 })) {
    assert.equal(/** @type {any} */ (item).id, 0);
    break;
  }
  assert.equal(lazy.fetches.length, 1);
});

test('pagedList: an awaited list is not fetched again by for await', async () => {
  const owner = fakeOwner(4);
  const list = pagedList(owner, { limit: 3 });
  await list;
  const ids = [];
  for await (const item of list) ids.push(/** @type {any} */ (item).id);
  assert.deepEqual(ids, [0, 1, 2, 3]);
  assert.equal(owner.fetches.length, 2);
});

test('pagedList: empty lists, errors, catch and finally', async () => {
  const empty = fakeOwner(0);
  const items = [];
  for await (const item of pagedList(empty, undefined)) items.push(item);
  assert.deepEqual(items, []);
  const page = /** @type {any} */ (await pagedList(empty, undefined));
  assert.equal(page.hasNextPage(), false);

  const failing = () => {
    throw new Error('sync failure');
  };
  await assert.rejects(async () => await pagedList(failing, {}), /sync failure/);
  const caught = await pagedList(failing, {}).catch((/** @type {Error} */ e) => e.message);
  assert.equal(caught, 'sync failure');
  let finalized = false;
  await assert.rejects(pagedList(failing, {}).finally(() => (finalized = true)), /sync failure/);
  assert.equal(finalized, true);
  await assert.rejects(async () => {
    for await (const _ of pagedList(failing, {})) assert.fail('no items');
  }, /sync failure/);

  // A page that computes a successor but came back empty ends the walk (bounded loop).
  let calls = 0;
  const stuck = async () => {
    calls++;
    return { page: { count: 5, results: [] }, items: [], next: { offset: 0 } };
  };
  for await (const _ of pagedList(stuck, {})) assert.fail('no items');
  assert.equal(calls, 1);
});

// ------------------------------------------------------------------------------------------------
// Entries (need the wasm build)
// ------------------------------------------------------------------------------------------------

/** The runtime names pkg/index.d.ts declares (classes and functions). */
function declaredValues() {
  const dts = fs.readFileSync(new URL('index.d.ts', PKG), 'utf8');
  return [...dts.matchAll(/^export declare (?:class|function) (\w+)/gm)].map((m) => m[1]).sort();
}

test('node.js and node.cjs export what index.d.ts declares, as the same objects', { skip: !BUILT && 'pkg/gen not built' }, async () => {
  const esm = /** @type {Record<string, any>} */ (await import(new URL('node.js', PKG).href));
  const cjs = createRequire(import.meta.url)(fileURLToPath(new URL('node.cjs', PKG)));
  assert.deepEqual(Object.keys(esm).sort(), declaredValues());
  for (const name of Object.keys(esm)) assert.equal(cjs[name], esm[name], `${name} is shared by CJS and ESM`);
  // The exported classes are the ones the wasm core instantiates.
  const dromo = new esm.Dromo({ apiKey: 'test-key', baseUrl: 'http://127.0.0.1:9/api/v1', maxRetries: 0 });
  await assert.rejects(dromo.imports.create({ schema_id: 's', fields: [], original_filename: 'a.csv' }), (e) => {
    assert.ok(e instanceof esm.ValidationError && e instanceof cjs.HeadlessImportsError);
    assert.equal(/** @type {any} */ (e).code, 'validation_error');
    return true;
  });
});

test('client.imports is one object per client, the same on every access', { skip: !BUILT && 'pkg/gen not built' }, async () => {
  const hi = /** @type {Record<string, any>} */ (await import(new URL('node.js', PKG).href));
  for (const [Client, baseUrl] of [[hi.Dromo, 'http://127.0.0.1:9/api/v1'], [hi.Exa, 'http://127.0.0.1:9/websets']]) {
    const a = new Client({ apiKey: 'k', baseUrl });
    const b = new Client({ apiKey: 'k', baseUrl });
    assert.equal(a.imports, a.imports, `${Client.name}: same object each time`);
    assert.notEqual(a.imports, b.imports, `${Client.name}: each client has its own`);
    // Kept in a variable, it still works: it holds the client, not a snapshot.
    const imports = a.imports;
    await assert.rejects(imports.retrieve(''), (e) => e instanceof hi.ValidationError);
  }
});

/** The runtime names a per-provider .d.ts re-exports as values (`export { ... } from './index.js'`). */
function reexportedValues(/** @type {string} */ dts) {
  const src = fs.readFileSync(new URL(dts, PKG), 'utf8');
  const list = /^export \{([^}]*)\} from '\.\/index\.js';/m.exec(src);
  assert.ok(list, `${dts} re-exports values from ./index.js`);
  const names = list[1].split(',').map((n) => n.trim()).filter(Boolean).sort();
  for (const n of names) assert.ok(declaredValues().includes(n), `${dts}: ${n} is declared in index.d.ts`);
  return names;
}

for (const [entry, dts] of [['index.js', 'index.d.ts'], ['exa.js', 'exa.d.ts'], ['dromo.js', 'dromo.d.ts']]) {
  test(`${entry} (browser entry) loads its wasm by URL and exports what ${dts} declares`, { skip: !BUILT && 'pkg/gen not built' }, () => {
    // Node's fetch has no file: URLs; a stand-in lets the browser entry's top-level init run here.
    // index.js is loaded second, so its classes are checked against the ones the first entry registered.
    const script = `
      const fs = await import('node:fs');
      const fetched = [];
      globalThis.fetch = async (url) => {
        fetched.push(String(url).replace(/^.*\\/pkg\\//, ''));
        return new Response(fs.readFileSync(new URL(String(url))), { headers: { 'Content-Type': 'application/wasm' } });
      };
      const m = await import(${JSON.stringify(new URL(entry, PKG).href)});
      const main = await import(${JSON.stringify(new URL('index.js', PKG).href)});
      const err = await m.fileFromPath('x.csv').catch((e) => e.message);
      const Client = m.Exa ?? m.Dromo;
      const invalid = await new Client({ baseUrl: 'http://127.0.0.1:9/x' }).imports.retrieve('').catch((e) => e);
      // Saved schemas are server-side: a browser build leaves them out and says so.
      const schemas = m.Dromo && await new m.Dromo({ baseUrl: '/api/dromo' }).schemas.list().catch((e) => e);
      const hooks = await Promise.all([m.Dromo && new m.Dromo({ baseUrl: '/api/dromo' }), m.Exa && new m.Exa({ baseUrl: '/api/exa' })]
        .filter(Boolean).map((c) => c.webhooks.unwrap('{}', {}).then(() => 'verified', (e) => e.code)));
      console.log(JSON.stringify({
        schemas: schemas && [schemas instanceof main.HeadlessImportsError, schemas.code, schemas.message], hooks,
        names: Object.keys(m).sort(), err, fetched, abort: new m.APIUserAbortError('a').code,
        shared: invalid instanceof main.ValidationError && m.ValidationError === main.ValidationError,
      }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.names, dts === 'index.d.ts' ? declaredValues() : reexportedValues(dts));
    assert.match(out.err, /fileFromPath is Node-only/);
    if (entry !== 'exa.js') {
      assert.deepEqual(out.schemas.slice(0, 2), [true, 'not_available_here']);
      assert.match(out.schemas[2], /dromo\.schemas and client\.webhooks in Node/);
    }
    assert.deepEqual(out.hooks, entry === 'index.js' ? ['not_available_here', 'not_available_here'] : ['not_available_here'], 'webhooks are server-side');
    assert.equal(out.abort, 'aborted');
    assert.equal(out.shared, true, 'one set of error classes whichever entry made the error');
    const own = entry === 'index.js' ? 'gen/headless_imports_bg.wasm' : `gen/${entry.replace('.js', '')}/headless_imports_bg.wasm`;
    assert.deepEqual(out.fetched, entry === 'index.js' ? [own] : [own, 'gen/headless_imports_bg.wasm'], 'each entry fetches its own build');
  });
}

test('package.json: exports map targets exist and files cover them', () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('package.json', PKG), 'utf8'));
  assert.equal(pkg.type, 'module');
  const dot = pkg.exports['.'];
  const targets = [dot.types, dot.node.import, dot.node.require, dot.default, pkg.main, pkg.module, pkg.types];
  for (const sub of ['./exa', './dromo']) {
    const e = pkg.exports[sub];
    targets.push(e.types, e.node.import, e.node.require, e.default);
  }
  // Node only: no browser (`default`) target, and the script it runs ships beside it.
  const redis = pkg.exports['./redis'];
  assert.deepEqual(Object.keys(redis), ['types', 'node']);
  targets.push(redis.types, redis.node, './redis.lua');
  for (const t of targets) {
    assert.ok(fs.existsSync(new URL(t, PKG)), `${t} exists`);
    assert.ok(pkg.files.includes(t.replace(/^\.\//, '')), `${t} is in files`);
  }
  // Every local module an entry imports must ship too.
  for (const entry of ['index.js', 'exa.js', 'dromo.js', 'lazy.js', 'workerd.js', 'node.js', 'node.cjs', 'node-lazy.js', 'node-lazy.cjs', 'clients.js', 'proxy.js', 'redis.js']) {
    const src = fs.readFileSync(new URL(entry, PKG), 'utf8');
    for (const m of src.matchAll(/(?:from|require\()\s*'\.\/([\w.-]+\.(?:js|cjs))'/g)) {
      assert.ok(pkg.files.includes(m[1]), `${entry} needs ${m[1]} in files`);
    }
  }
  // Every JS file starts with // @ts-check (house rule: no build step, types from JSDoc).
  for (const f of ['index.js', 'exa.js', 'dromo.js', 'lazy.js', 'workerd.js', 'browser-stubs.js', 'node.js', 'node.cjs', 'node-lazy.js', 'node-lazy.cjs', 'node-upload.js', 'clients.js', 'errors.js', 'paged.js', 'rows.js', 'server.js', 'proxy.js', 'proxy-body.js', 'ownership.js', 'bulk.js', 'lock.js', 'redis.js']) {
    assert.match(fs.readFileSync(new URL(f, PKG), 'utf8'), /^\/\/ @ts-check\n/, f);
  }
});
