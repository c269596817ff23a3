// @ts-check
// Exa Websets imports through the packed package against the local emulator's Exa API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startEmulator, loadPackage, tempFile, control } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let exa;
/** @type {string} */ let base;

/** The Exa API lives beside Dromo's on the emulator's API origin. @param {string} api */
const exaBase = (api) => new URL('/websets', api).href;

// Quoted commas, quotes and newlines: splitting on "\n" (what exa-js does) would count 5 records.
const COMPANIES = 'url,name,notes\nhttps://acme.example,"Acme, Inc","says ""hi"""\r\nhttps://globex.example,Globex,"two\nlines"\nhttps://initech.example,Initech,\n';

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
  base = exaBase(emu.api);
  exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: base });
});
after(async () => emu && (await emu.stop()));

test('countCsvRecords: a multi-MiB in-memory body counts exactly, whatever its type', async () => {
  // ~4 MiB: Node hands an in-memory Blob's stream over as one chunk, which the counter reads in
  // 1 MiB slices, so slice boundaries fall inside quoted fields and between \r and \n.
  const row = (/** @type {number} */ i) => `${i},"note ${i}\nwith ""quotes"", and a comma",x\r\n`;
  const rows = Array.from({ length: 80_000 }, (_, i) => row(i));
  const csv = `id,notes,flag\r\n${rows.join('')}`;
  assert.ok(csv.length > 3 * 2 ** 20);
  const bytes = new TextEncoder().encode(csv);
  for (const body of [new Blob([csv]), bytes, bytes.buffer, csv]) {
    assert.equal(await hi.countCsvRecords(body), 80_000, Object.prototype.toString.call(body));
  }
  assert.equal(await hi.countCsvRecords(new Blob([csv]), { header: false }), 80_001);
});

test('countCsvRecords of a large body in memory lets timers run: an abort mid-count ends it', async () => {
  // ~50 MB in memory: every read resolves at once, so without turns of the event loop no timer
  // (the abort's) could fire until the whole count ended.
  const line = 'a,b,c,"d\ne"\n';
  const big = 'h\n' + line.repeat(Math.ceil(50e6 / line.length));
  for (const body of [new Blob([big]), new TextEncoder().encode(big)]) {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('enough')), 5);
    const e = await hi.countCsvRecords(body, { signal: ac.signal }).then((n) => n, (err) => err);
    assert.ok(e instanceof hi.APIUserAbortError, `${Object.prototype.toString.call(body)}: ${e}`);
    assert.equal(e.cause?.message, 'enough');
  }
});

test('importFile counts records itself (quoted newlines included), uploads exact bytes and completes', async () => {
  assert.equal(await hi.countCsvRecords(new Blob([COMPANIES])), 3);
  const file = tempFile('companies.csv', COMPANIES);
  const statuses = [];
  const progress = [];
  const { import: imp } = await exa.importFile(await hi.fileFromPath(file), {
    entity: { type: 'company' },
    title: 'Q3 leads',
    metadata: { source: 'test' },
    onStatus: (/** @type {any} */ i) => statuses.push(i.status),
    onProgress: (/** @type {any} */ p) => progress.push(p.loaded),
  });
  assert.equal(imp.status, 'completed');
  assert.equal(imp.count, 3);
  assert.equal(imp.title, 'Q3 leads');
  // The caller's metadata is kept; the create token that makes a lost answer recoverable is added.
  const { headlessImportsToken, ...own } = imp.metadata;
  assert.deepEqual(own, { source: 'test' });
  assert.match(headlessImportsToken, /^[0-9a-f]{16}$/);
  assert.equal(statuses.at(-1), 'completed');
  assert.equal(progress.at(-1), Buffer.byteLength(COMPANIES));
  const stored = await control(`${emu.control}/uploads/${imp.id}`);
  assert.equal(stored.sha256, crypto.createHash('sha256').update(COMPANIES).digest('hex'));
});

test('each failure reason rejects with ImportFailedError carrying failedReason and failedMessage', async () => {
  const cases = [
    // Identifier column 7 of a 3-column file.
    { csv: COMPANIES, extra: { csv: { identifier: 7 } }, reason: 'missing_identifier' },
    // No column that looks like an identifier.
    { csv: 'name,notes\nAcme,x\n', extra: {}, reason: 'missing_identifier' },
    // Ragged rows: well-quoted, so it counts, but it is not a table.
    { csv: 'url,name\nhttps://a.example,A,extra\n', extra: {}, reason: 'invalid_format' },
  ];
  for (const c of cases) {
    await assert.rejects(
      exa.importFile(new File([c.csv], 'f.csv'), { entity: { type: 'company' }, ...c.extra }),
      (/** @type {any} */ e) => {
        assert.ok(e instanceof hi.ImportFailedError, `${c.reason}: ${e}`);
        assert.equal(e.failedReason, c.reason);
        assert.equal(typeof e.failedMessage, 'string');
        assert.equal(e.import.status, 'failed');
        assert.match(e.message, new RegExp(c.reason));
        return true;
      },
    );
  }
  // A declared count that does not match what arrives: what a naive newline count produces.
  const imp = await exa.imports.create({ size: Buffer.byteLength(COMPANIES), count: 5, format: 'csv', entity: { type: 'company' } });
  await exa.imports.upload(imp, COMPANIES);
  await assert.rejects(exa.imports.waitForCompletion(imp.id, {}), (/** @type {any} */ e) =>
    e instanceof hi.ImportFailedError && e.failedReason === 'invalid_file_content');
});

test('a canceled import ends the wait deliberately instead of polling forever', async () => {
  const imp = await exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'person' } });
  const r = await fetch(`${emu.control}/exa/imports/${imp.id}/status`, { method: 'POST', body: JSON.stringify({ status: 'canceled' }), headers: { 'content-type': 'application/json' } });
  assert.ok(r.ok, `control endpoint: ${r.status}`);
  await assert.rejects(exa.imports.waitForCompletion(imp.id, { timeoutMs: 5000 }), (/** @type {any} */ e) =>
    e instanceof hi.ImportFailedError && e.import.status === 'canceled' && /canceled/.test(e.message));
});

test('an upload that finally fails deletes the import: nothing orphaned, the error says so', async () => {
  const expired = await startEmulator(['--time-scale', '0.01', '--upload-ttl', '0']);
  try {
    const e2 = new hi.Exa({ apiKey: EXA_KEY, baseUrl: exaBase(expired.api) });
    const err = await e2.importFile(new File([COMPANIES], 'c.csv'), { entity: { type: 'company' } }).catch((/** @type {any} */ e) => e);
    assert.ok(err instanceof hi.UploadError, String(err));
    assert.equal(err.expired, true);
    assert.equal(err.deleted, true);
    assert.match(err.message, /create a new import/);
    await assert.rejects(e2.imports.retrieve(err.import.id), hi.NotFoundError);
    const page = await e2.imports.list();
    assert.equal(page.data.length, 0, 'no orphan left');
  } finally {
    await expired.stop();
  }
});

test('aborting mid-upload rejects with APIUserAbortError and deletes the import; mid-wait keeps it', async () => {
  const rows = ['url,name'];
  for (let i = 0; rows.length < 400_000; i++) rows.push(`https://c${i}.example,"Company ${i}"`);
  const file = tempFile('many.csv', rows.join('\n') + '\n');
  const controller = new AbortController();
  const err = await exa
    .importFile(await hi.fileFromPath(file), {
      entity: { type: 'company' },
      signal: controller.signal,
      onProgress: (/** @type {any} */ p) => p.loaded > 0 && p.loaded < p.total && controller.abort(),
    })
    .catch((/** @type {any} */ e) => e);
  assert.ok(err instanceof hi.APIUserAbortError, String(err));
  assert.equal(err.deleted, true);
  await assert.rejects(exa.imports.retrieve(err.import.id), hi.NotFoundError);
  fs.rmSync(path.dirname(file), { recursive: true });

  const waiting = new AbortController();
  const imp = await exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'company' } });
  const wait = exa.imports.waitForCompletion(imp.id, { intervalMs: 60_000, signal: waiting.signal });
  setTimeout(() => waiting.abort(), 30);
  await assert.rejects(wait, (/** @type {any} */ e) => e instanceof hi.APIUserAbortError && e.import.id === imp.id);
});

test('list walks more than two pages by cursor; update and delete work', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'article' }, title: `t${i}` })).id);
  }
  const first = await exa.imports.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(first.hasMore, true);
  assert.equal(typeof first.nextCursor, 'string');
  const seen = [];
  for await (const imp of exa.imports.list({ limit: 2 })) seen.push(imp.id);
  assert.equal(new Set(seen).size, seen.length, 'no duplicates across pages');
  for (const id of ids) assert.ok(seen.includes(id));
  const updated = await exa.imports.update(ids[0], { title: 'renamed', metadata: { k: 'v' } });
  assert.equal(updated.title, 'renamed');
  assert.deepEqual(updated.metadata, { k: 'v' });
  const deleted = await exa.imports.delete(ids[1]);
  assert.equal(deleted.id, ids[1]);
  await assert.rejects(exa.imports.retrieve(ids[1]), hi.NotFoundError);
});

test('a wrong key is an AuthenticationError; bad input is a ValidationError before any request', async () => {
  const bad = new hi.Exa({ apiKey: 'wrong-exa-key-999', baseUrl: base });
  await assert.rejects(bad.imports.list(), (/** @type {any} */ e) =>
    e instanceof hi.AuthenticationError && e.status === 401 && !e.message.includes('wrong-exa-key-999'));
  const before = await control(`${emu.control}/stats`);
  const big = tempFile('big.csv', '');
  fs.truncateSync(big, 50_000_001); // sparse: no disk, no memory
  const cases = [
    [() => exa.importFile(hi.fileFromPath(big).then(() => null), { entity: { type: 'company' } }), 'body'],
    [async () => exa.importFile(await hi.fileFromPath(big), { entity: { type: 'company' } }), 'body'],
    [() => exa.importFile(new File(['url\n'], 'h.csv'), { entity: { type: 'company' } }), 'body'],
    [() => exa.importFile(new File([COMPANIES], 'c.csv'), { entity: { type: 'custom', description: 'x' } }), 'entity.description'],
    [() => exa.importFile(new File([COMPANIES], 'c.csv'), { entity: { type: 'company' }, count: 3 }), 'options.count'],
    [() => exa.imports.create({ size: 10, count: 0, format: 'csv', entity: { type: 'company' } }), 'count'],
    [() => exa.imports.create({ size: 10, count: 1, format: 'csv', entity: { type: 'company' }, metadata: { a: 'x'.repeat(1001) } }), 'metadata.a'],
    [() => exa.imports.list({ limit: 0 }), 'limit'],
    [() => exa.imports.retrieve('../v0/imports'), 'id'],
  ];
  for (const [call, p] of cases) {
    await assert.rejects(/** @type {() => Promise<unknown>} */ (call)(), (/** @type {any} */ e) => {
      assert.ok(e instanceof hi.ValidationError, `${p}: ${e}`);
      assert.equal(e.path, p);
      return true;
    });
  }
  fs.rmSync(path.dirname(big), { recursive: true });
  const afterStats = await control(`${emu.control}/stats`);
  assert.deepEqual(afterStats.requests, before.requests, 'no request reached the server');
});
