// @ts-check
// Dromo's create params are described twice: as validation tables in src/dromo.rs (what the client
// accepts before any request) and as types in pkg/index.d.ts (what an editor offers). A key added
// to one and not the other is a user told "not a known key" for something their types allow, or
// the reverse. This reads both (the Rust tables as text, the types through the TypeScript
// compiler) and checks they agree: the same keys, the same required ones, the same enum values.
// (Exa's equivalent is exa-spec.test.js, against Exa's published spec.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './helpers/env.js';

const ts = createRequire(path.join(ROOT, 'tests/package.json'))('typescript');
const rust = fs.readFileSync(path.join(ROOT, 'src/dromo.rs'), 'utf8');

/**
 * A Rust table `const NAME: &[(&str, Shape)] = &[ ... ];` as [key, shape text] pairs.
 * @param {string} name
 */
function table(name) {
  const m = new RegExp(`const ${name}: &\\[\\(&str, Shape\\)\\] = &\\[([\\s\\S]*?)\\];\\s*\\n`).exec(rust);
  assert.ok(m, `table ${name} in src/dromo.rs`);
  const entries = [...m[1].matchAll(/\(\s*"(\w+)",\s*([\s\S]*?)\),?\s*(?=\(\s*"|$)/g)];
  return new Map(entries.map((e) => [e[1], e[2].trim()]));
}

/** Required keys given where the table is used: `Shape::Struct(NAME, &[...])`, or as check_struct's. @param {string} name */
function required(name) {
  const m = new RegExp(`Struct(?:Array)?\\(${name}, &\\[([^\\]]*)\\]`).exec(rust) ?? new RegExp(`check_struct\\(&f, ${name}, &\\[([^\\]]*)\\]`).exec(rust);
  assert.ok(m, `required keys of ${name}`);
  return [...m[1].matchAll(/"(\w+)"/g)].map((x) => x[1]).sort();
}

/** `Shape::OneOf(&["A", "B"])` values in a shape's text. @param {string} shape */
const oneOf = (shape) => [.../OneOf\(&\[([^\]]*)\]/.exec(shape)?.[1].matchAll(/"(\w+)"/g) ?? []].map((x) => x[1]).sort();

const program = ts.createProgram([path.join(ROOT, 'pkg/index.d.ts')], { strict: true, noEmit: true, types: [], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'] });
const checker = program.getTypeChecker();
const source = program.getSourceFile(path.join(ROOT, 'pkg/index.d.ts'));
const moduleSymbol = checker.getSymbolAtLocation(source);
/** @param {string} name */
const declared = (name) => {
  const sym = checker.getExportsOfModule(moduleSymbol).find((/** @type {any} */ s) => s.name === name);
  assert.ok(sym, `${name} in index.d.ts`);
  return checker.getDeclaredTypeOfSymbol(sym);
};

/**
 * The properties of a type (every member of a union, `null` left out), each with whether it is
 * optional and the string literals its type allows.
 * @param {any} type
 */
function props(type) {
  /** @type {Map<string, { optional: boolean, literals: string[] }>} */
  const out = new Map();
  const members = type.isUnion() ? type.types : [type];
  for (const member of members) {
    if (member.flags & ts.TypeFlags.Null) continue;
    for (const p of checker.getPropertiesOfType(member)) {
      const t = checker.getTypeOfSymbol(p);
      const parts = t.isUnion() ? t.types : [t];
      const literals = parts.filter((/** @type {any} */ x) => x.isStringLiteral()).map((/** @type {any} */ x) => x.value).sort();
      const optional = Boolean(p.flags & ts.SymbolFlags.Optional);
      const seen = out.get(p.name);
      // `never` keys of the other union member (`initial_data?: never`) are not offered.
      if (t.flags & ts.TypeFlags.Never) continue;
      out.set(p.name, { optional: seen ? seen.optional || optional : optional, literals });
    }
  }
  return out;
}

/** @param {string} rustName @param {string} tsName @param {string[] | null} req */
function agree(rustName, tsName, req) {
  const keys = table(rustName);
  const types = props(declared(tsName));
  assert.deepEqual([...types.keys()].sort(), [...keys.keys()].sort(), `${rustName} (src/dromo.rs) and ${tsName} (index.d.ts) name the same keys`);
  if (req) {
    const typeRequired = [...types].filter(([, v]) => !v.optional).map(([k]) => k).sort();
    assert.deepEqual(typeRequired, req, `${tsName}: the same keys required`);
  }
  for (const [k, shape] of keys) {
    const values = oneOf(shape);
    if (values.length) assert.deepEqual(types.get(k)?.literals, values, `${tsName}.${k}: the same values`);
  }
}

test('Dromo field, settings, hooks and user tables agree with index.d.ts', () => {
  agree('FIELD', 'Field', required('FIELD'));
  agree('SETTINGS', 'Settings', []);
  agree('HOOKS', 'Hooks', []);
  agree('COLUMN_HOOK', 'ColumnHook', required('COLUMN_HOOK'));
  agree('STEP_HOOK', 'StepHook', required('STEP_HOOK'));
  agree('USER', 'ImportUser', required('USER'));
  agree('METADATA', 'ImportMetadata', []);
});

test('Dromo create params agree with CreateImportParams', () => {
  // Every key either way; which are required is a rule between keys (schema_id or fields, a file
  // or rows), checked by create_body and by the union types, not per key.
  agree('CREATE', 'CreateImportParams', null);
});

test('the check notices drift: a key the types lack is reported', () => {
  const keys = table('SETTINGS');
  keys.set('notInTheTypes', 'Shape::Bool');
  const types = props(declared('Settings'));
  assert.notDeepEqual([...types.keys()].sort(), [...keys.keys()].sort());
});
