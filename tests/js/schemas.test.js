// @ts-check
// dromo.schemas (Dromo's Saved Schema API) from the packed package in Node, against the emulator:
// the round trip a user relies on (a saved schema shapes the imports that name it), the checks
// made before any request, and the server's own refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator, loadPackage, KEY } from './helpers/env.js';

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {any} */ let dromo;

before(async () => {
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
  dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
});
after(async () => emu && (await emu.stop()));

const FIELDS = [
  { key: 'email', label: 'Email', type: 'email', alternateMatches: ['Email Address'] },
  { key: 'name', label: 'Name', type: 'string', alternateMatches: ['First Name'] },
];
const ROWS = [{ email: 'ada@example.com', name: 'Ada' }];

test('a saved schema round trip: create, list, retrieve, import with it, update, import again, delete', async () => {
  const saved = await dromo.schemas.create({ name: `Contacts ${Date.now()}`, fields: FIELDS });
  assert.match(saved.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(saved.settings, {}, 'settings left out are sent as {}');
  assert.deepEqual(saved.fields.map((/** @type {any} */ f) => f.key), ['email', 'name']);

  const list = await dromo.schemas.list();
  assert.ok(Array.isArray(list), 'list resolves the plain array Dromo answers');
  assert.ok(list.some((/** @type {any} */ s) => s.id === saved.id && s.name === saved.name));
  assert.deepEqual(await dromo.schemas.retrieve(saved.id), saved);

  const first = await dromo.importRows(ROWS, { schema_id: saved.id, timeoutMs: 20_000 });
  assert.deepEqual(first.rows, [{ email: 'ada@example.com', name: 'Ada' }]);

  // A retrieved schema goes back through update with its own id; the new fields shape new imports.
  const updated = await dromo.schemas.update(saved.id, {
    ...saved,
    name: `${saved.name} v2`,
    fields: [...FIELDS, { key: 'note', label: 'Note', type: 'string' }],
  });
  assert.equal(updated.id, saved.id);
  assert.equal(updated.name, `${saved.name} v2`);
  const second = await dromo.importRows(ROWS, { schema_id: saved.id, timeoutMs: 20_000 });
  assert.deepEqual(second.rows, [{ email: 'ada@example.com', name: 'Ada', note: null }], 'the new field is in the rows');

  assert.equal(await dromo.schemas.delete(saved.id), undefined);
  const gone = await dromo.schemas.retrieve(saved.id).catch((/** @type {any} */ e) => e);
  assert.ok(gone instanceof hi.NotFoundError, String(gone));
  assert.doesNotMatch(gone.message, /baseUrl/, 'a missing schema is not a wrong base URL');
  const orphan = await dromo.importRows(ROWS, { schema_id: saved.id }).catch((/** @type {any} */ e) => e);
  assert.ok(orphan instanceof hi.NotFoundError, 'an import naming a deleted schema is refused');
});

test('a taken name is the server\'s BadRequestError, on create and on update', async () => {
  const name = `Taken ${Date.now()}`;
  const a = await dromo.schemas.create({ name, fields: FIELDS });
  const b = await dromo.schemas.create({ name: `${name} b`, fields: FIELDS });
  // Both run at once, each caught as it starts: the one that fails first must not be an
  // unhandled rejection while the loop still awaits the other (the runner fails the test on it).
  const attempts = [dromo.schemas.create({ name, fields: FIELDS }), dromo.schemas.update(b.id, { name, fields: FIELDS })].map((p) =>
    p.catch((/** @type {any} */ x) => x),
  );
  for (const attempt of attempts) {
    const e = await attempt;
    assert.ok(e instanceof hi.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.match(e.message, /name/);
  }
  await dromo.schemas.delete(a.id);
  await dromo.schemas.delete(b.id);
});

test('a bad schema or id is a ValidationError with a path, before any request', async () => {
  let sent = 0;
  const counted = new hi.Dromo({
    apiKey: KEY,
    baseUrl: emu.api,
    fetch: (/** @type {any} */ url, /** @type {any} */ init) => {
      sent++;
      return fetch(url, init);
    },
  });
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const field = FIELDS[0];
  /** @type {[() => Promise<unknown>, string, RegExp][]} */
  const cases = [
    [() => counted.schemas.create({ fields: FIELDS }), 'schema.name', /is required/],
    [() => counted.schemas.create({ name: '', fields: FIELDS }), 'schema.name', /must not be empty/],
    [() => counted.schemas.create({ name: 'x' }), 'schema.fields', /is required/],
    [() => counted.schemas.create({ name: 'x', fields: [] }), 'schema.fields', /at least one/],
    [() => counted.schemas.create({ name: 'x', feilds: FIELDS }), 'schema.feilds', /did you mean `fields`/],
    [() => counted.schemas.create({ name: 'x', fields: [{ key: 'a', label: 'A' }] }), 'schema.fields[0].type', /is required/],
    [() => counted.schemas.create({ name: 'x', fields: [field, field] }), 'schema.fields[1].key', /duplicates/],
    [() => counted.schemas.create({ name: 'x', fields: FIELDS, settings: { invalidDataBehavior: 'MAYBE' } }), 'schema.settings.invalidDataBehavior', /one of/],
    [() => counted.schemas.create({ name: 'x', fields: FIELDS, hooks: { stepHooks: [{ type: 'LATER', callback: '() => 1' }] } }), 'schema.hooks.stepHooks[0].type', /one of/],
    [() => counted.schemas.create({ id: 'abc', name: 'x', fields: FIELDS }), 'schema.id', /assigned by Dromo/],
    [() => counted.schemas.update('abc', { id: 'xyz', name: 'x', fields: FIELDS }), 'schema.id', /"xyz" but the schema being updated is "abc"/],
    [() => counted.schemas.update('abc'), 'schema', /must be an object/],
    [() => counted.schemas.create(revoked.proxy), 'schema', /revoked Proxy/],
    [() => counted.schemas.create(null), 'schema', /must be an object/],
    [() => counted.schemas.retrieve('../imports'), 'id', /\.\./],
    [() => counted.schemas.delete(42), 'id', /must be a string/],
    [() => counted.schemas.list({ singal: AbortSignal.timeout(1) }), 'opts.singal', /did you mean `signal`/],
    // What JSON would drop or mangle is refused, not sent changed.
    [() => counted.schemas.create({ name: 'x', fields: FIELDS, settings: new Map([['invalidDataBehavior', 'NOPE']]) }), 'schema.settings', /is a Map: pass a plain object/],
    [() => counted.schemas.create({ name: 'x', fields: FIELDS, hooks: /x/ }), 'schema.hooks', /is a RegExp/],
    [() => counted.schemas.create({ name: 'x', fields: new Set(FIELDS) }), 'schema.fields', /is a Set/],
    [() => counted.imports.create({ schema_id: 'abc', original_filename: 'rows.json' }), 'original_filename', /importRows/],
  ];
  for (const [call, path, message] of cases) {
    const e = await call().catch((x) => x);
    assert.ok(e instanceof hi.ValidationError, `${path}: ${e}`);
    assert.equal(e.path, path, e.message);
    assert.match(e.message, message);
  }
  assert.equal(sent, 0, 'nothing reached the network');
});

test('per-call options hold: an aborted list rejects with APIUserAbortError and its reason', async () => {
  const controller = new AbortController();
  controller.abort(new Error('user left'));
  const e = await dromo.schemas.list({ signal: controller.signal }).catch((/** @type {any} */ x) => x);
  assert.ok(e instanceof hi.APIUserAbortError, String(e));
  assert.equal(e.cause.message, 'user left');
});

test('lost answers: a delete whose 204 was lost counts as done on the retry\'s 404; a create is not sent twice', async () => {
  const faults = (/** @type {unknown} */ rules) =>
    fetch(`${emu.control}/faults`, rules ? { method: 'POST', body: JSON.stringify({ seed: 1, rules }) } : { method: 'DELETE' });
  const doomed = await dromo.schemas.create({ name: `Lost ${Date.now()}`, fields: FIELDS });
  await faults([{ route: 'dromo.schema_delete', kind: 'reset_after', count: 1 }]);
  try {
    assert.equal(await dromo.schemas.delete(doomed.id), undefined);
  } finally {
    await faults();
  }
  await assert.rejects(dromo.schemas.retrieve(doomed.id), (/** @type {any} */ e) => e instanceof hi.NotFoundError);

  // The server saves the schema, then the connection dies: a second POST could save another
  // (or meet the taken name), so the caller gets the connection error and decides.
  const name = `Maybe saved ${Date.now()}`;
  await faults([{ route: 'dromo.schema_create', kind: 'reset_after', count: 1 }]);
  try {
    await assert.rejects(dromo.schemas.create({ name, fields: FIELDS }), (/** @type {any} */ e) => e instanceof hi.APIConnectionError);
  } finally {
    await faults();
  }
  const saved = (await dromo.schemas.list()).filter((/** @type {any} */ s) => s.name === name);
  assert.equal(saved.length, 1, 'exactly one schema was saved');
  await dromo.schemas.delete(saved[0].id);
});
