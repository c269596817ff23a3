// @ts-check
// Every request body our Exa client sends is valid against Exa's published OpenAPI spec
// (shared/api/exa-websets-spec.yaml, copied to tests/spec/), checked by a real JSON Schema validator (Ajv, draft
// 2020-12 as OpenAPI 3.1 uses). Bodies are captured at the `fetch` the client calls, so this is
// exactly what goes on the wire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { ROOT, startEmulator, loadPackage } from './helpers/env.js';

const SPEC = path.join(ROOT, 'tests/spec/exa-websets-spec.yaml');

/** @type {any} */ let hi;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {{ method: string, url: string, body: any }[]} */ const sent = [];
/** @type {(name: string) => import('ajv').ValidateFunction} */ let schema;

before(async () => {
  const spec = YAML.parse(fs.readFileSync(SPEC, 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true });
  // OpenAPI keeps schemas under components; register the whole document so `#/components/...` refs resolve.
  ajv.addSchema({ $id: 'exa', components: spec.components });
  schema = (name) => {
    const v = ajv.getSchema(`exa#/components/schemas/${name}`);
    assert.ok(v, `schema ${name} in the spec`);
    return v;
  };
  hi = await loadPackage();
  emu = await startEmulator(['--time-scale', '0.01']);
});
after(async () => emu && (await emu.stop()));

/** @param {any} input @param {any} init */
async function capturing(input, init) {
  const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
  sent.push({ method: init?.method ?? 'GET', url: String(input), body });
  return fetch(input, init);
}

test('the validator itself rejects bad bodies (so passing means something)', () => {
  const create = schema('CreateImportParameters');
  assert.equal(create({ size: 10, count: 1, format: 'csv', entity: { type: 'company' } }), true);
  assert.equal(create({ size: 'ten', count: 1, format: 'csv', entity: { type: 'company' } }), false);
  assert.equal(create({ size: 10, count: 1, format: 'csv' }), false);
  assert.equal(create({ size: 60_000_000, count: 1, format: 'csv', entity: { type: 'company' } }), false);
  assert.equal(schema('UpdateImport')({ metadata: { a: 1 } }), false);
});

test('every create and update body the client sends is valid against the spec', async () => {
  const exa = new hi.Exa({ apiKey: 'test-exa-key', baseUrl: new URL('/websets', emu.api).href, fetch: capturing });
  const csv = 'url,name\nhttps://a.example,"A\nB"\nhttps://b.example,B\n';
  await exa.importFile(new File([csv], 'a.csv'), { entity: { type: 'company' } });
  await exa.importFile(new File([csv], 'b.csv'), {
    entity: { type: 'custom', description: 'Bakeries in Lyon' },
    title: 'custom',
    metadata: { owner: 'ops', note: 'x'.repeat(1000) },
    csv: { identifier: 0 },
    wait: false,
  });
  const created = await exa.imports.create({ size: 5, count: 1, format: 'csv', entity: { type: 'research_paper' }, title: 't' });
  await exa.imports.update(created.id, { title: 'renamed', metadata: { k: 'v' } });
  await exa.imports.update(created.id, {});
  for await (const _ of exa.imports.list({ limit: 1 })) break;

  const creates = sent.filter((r) => r.method === 'POST' && /\/v0\/imports$/.test(new URL(r.url).pathname));
  const updates = sent.filter((r) => r.method === 'PATCH');
  assert.equal(creates.length, 3);
  assert.equal(updates.length, 2);
  const validCreate = schema('CreateImportParameters');
  const validUpdate = schema('UpdateImport');
  for (const r of creates) assert.ok(validCreate(r.body), `${JSON.stringify(r.body)}: ${JSON.stringify(validCreate.errors)}`);
  for (const r of updates) assert.ok(validUpdate(r.body), `${JSON.stringify(r.body)}: ${JSON.stringify(validUpdate.errors)}`);
  // The count sent is the RFC 4180 record count (3 lines after the header, 2 records).
  assert.equal(creates[0].body.count, 2);
  assert.equal(creates[0].body.size, Buffer.byteLength(csv));
  // And the answers are spec-shaped too.
  const validImport = schema('Import');
  assert.ok(validImport(await exa.imports.retrieve(created.id)), JSON.stringify(validImport.errors));
});
