// Shortens the names between the wasm and its JS glue, in both files (names no minifier may
// touch). Imports: wasm-bindgen names them `__wbg_<name>_<16 hex digits>`, and those random
// digits, written once in the .wasm and once in the glue, were ~2 KB of the gzip payload.
// `__wbg_get_2080c49015e35254` becomes `$7`, a number in base 36 (the names were another ~0.2 KB
// gz); with `--names` (HI_WASM_NAMES=1 builds) it becomes `$get` (`$get2`, ... when several share
// a name). A glue that does not name each import exactly once stops the build, so a change in
// wasm-bindgen's output cannot slip through half-renamed. Exports are numbered too (`_0`, ...).
// The modules they come from get short names too: each import names its module again, and the
// glue listed the snippet `net.js` once per Rust `extern` block that binds it (five times), each
// key 60 characters. `./headless_imports_bg.js` becomes `w`, a snippet its file name (`net.js`).
// A snippet's imports object names the functions the wasm takes from it, imported by name, where
// wasm-bindgen hands over the whole module (`import * as`): a bundler then drops the exports this
// build does not use (the Exa build has no use for the Dromo row stream's readers, ~0.3 KB gz).
// Usage: node short-imports.mjs [--names] file.wasm glue.js
import { readFileSync, writeFileSync } from 'node:fs';
import { join, leb, name, readName, sections, uleb } from './wasm-sections.mjs';

const args = process.argv.slice(2);
const keepNames = args.includes('--names');
const [wasmFile, glueFile] = args.filter((a) => a !== '--names');
const wasm = readFileSync(wasmFile);
let glue = readFileSync(glueFile, 'utf8');

const HASHED = /^__wbg_(\w+)_[0-9a-f]{16}$/;
/** wasm-bindgen's own imports, unhashed but as long (`__wbindgen_generic_0000000000000001`). */
const INTRINSIC = /^__wbindgen_(generic_\d+|init_externref_table)$/;
/** old name -> new name */
const renamed = new Map();
const taken = new Set();
function shortName(field) {
  const m = HASHED.exec(field) ?? (keepNames ? null : INTRINSIC.exec(field));
  if (!m) return field;
  if (!renamed.has(field)) {
    // Numbered (`$0`, `$1`, ... `$z`, `$10`) unless the build keeps names for reading a trap.
    if (!keepNames) {
      renamed.set(field, `$${renamed.size.toString(36)}`);
      return renamed.get(field);
    }
    let n = 1, candidate = `$${m[1]}`;
    while (taken.has(candidate)) candidate = `$${m[1]}${++n}`;
    taken.add(candidate);
    renamed.set(field, candidate);
  }
  return renamed.get(field);
}

/** Skips an import's type: function, table, memory or global (with reference types). */
function skipDescriptor(body, pos) {
  const kind = body[pos++];
  const limits = (p) => {
    const flags = body[p++];
    [, p] = leb(body, p);
    if (flags & 1) [, p] = leb(body, p);
    return p;
  };
  if (kind === 0) return leb(body, pos)[1];
  if (kind === 1) return limits(pos + 1);
  if (kind === 2) return limits(pos);
  if (kind === 3) return pos + 2;
  throw new Error(`short-imports: unknown import kind ${kind}`);
}

/** old module name -> new */
const modules = new Map();
function shortModule(module) {
  if (!modules.has(module)) {
    const to = module === './headless_imports_bg.js' ? 'w' : /^\.\/snippets\/.*\/([\w-]+\.js)$/.exec(module)?.[1];
    if (!to) throw new Error(`short-imports: unexpected import module ${module}`);
    if ([...modules.values()].includes(to)) throw new Error(`short-imports: two modules would both be ${to}`);
    modules.set(module, to);
  }
  return modules.get(module);
}

/** snippet module -> the names the wasm imports from it */
const takes = new Map();
function rewriteImports(body) {
  let [count, pos] = leb(body, 0);
  const out = [uleb(count)];
  for (let i = 0; i < count; i++) {
    let module, field;
    [module, pos] = readName(body, pos);
    [field, pos] = readName(body, pos);
    const end = skipDescriptor(body, pos);
    if (module.startsWith('./snippets/')) takes.set(module, [...(takes.get(module) ?? []), field]);
    out.push(name(shortModule(module)), name(shortName(field)), body.subarray(pos, end));
    pos = end;
  }
  return Buffer.concat(out);
}

/**
 * The exports get numbered names too (`_0`, `_1`, ...): the glue reads them as `wasm.<name>`
 * (`wasm.__wbindgen_malloc`, `wasm.core_call`), which no minifier may shorten. The glue must
 * reach them only that way (`wasm = instance.exports`, then `wasm.<name>`), so a rename cannot
 * miss a use; the JS functions it exports under the same names (`setup`, `countCsvRecords`) keep
 * theirs.
 * @type {Map<string, string>}
 */
const exported = new Map();
const data = Buffer.concat(sections(wasm).filter(({ id }) => id === 11).map(({ body }) => body));
function rewriteExports(body) {
  let [count, pos] = leb(body, 0);
  const out = [uleb(count)];
  for (let i = 0; i < count; i++) {
    let field;
    [field, pos] = readName(body, pos);
    const [, end] = leb(body, pos + 1); // the kind byte, then the index
    // One the wasm itself looks up by name keeps it (`runTask`, read by src/task.rs): the name is
    // then among its data.
    const to = data.includes(field) ? field : `_${exported.size.toString(36)}`;
    exported.set(field, to);
    out.push(name(to), body.subarray(pos, end));
    pos = end;
  }
  return Buffer.concat(out);
}

const list = sections(wasm).map(({ id, body }) =>
  id === 2 ? { id, body: rewriteImports(body) } : id === 7 && !keepNames ? { id, body: rewriteExports(body) } : { id, body },
);
const reads = glue.match(/\bexports\b|\bwasm\s*\[/g) ?? [];
if (exported.size && reads.join() !== 'exports') throw new Error(`short-imports: ${glueFile} reaches the exports other than as wasm.<name> (${reads})`);
for (const [from, to] of exported) glue = glue.replace(new RegExp(`\\bwasm\\.${from}\\b`, 'g'), () => `wasm.${to}`);
for (const [from, to] of renamed) {
  const uses = glue.split(from).length - 1;
  if (uses !== 1) throw new Error(`short-imports: ${from} appears ${uses} times in ${glueFile}, expected once (its key)`);
  glue = glue.replace(`${from}:`, () => `${to}:`);
}
// The glue's imports object: one key per module, the first of a repeated one kept (each repeat
// is `import * as importN` of the same file, so they are the same object). A snippet's key gets
// an object of the names the wasm takes from it, imported by name beside the glue's own.
for (const [from, to] of modules) {
  const key = `"${from}": `;
  const lines = glue.split('\n').filter((l) => l.trim().startsWith(key));
  if (lines.length === 0) throw new Error(`short-imports: ${glueFile} has no imports key for ${from}`);
  for (const l of lines.slice(1)) glue = glue.replace(`${l}\n`, '');
  const names = takes.get(from);
  const literal = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (names) {
    for (const n of names) {
      if (new RegExp(`(function|const|let|var|class)\\s+${n}\\b`).test(glue)) throw new Error(`short-imports: ${n} from ${from} is also declared in ${glueFile}`);
    }
    const star = new RegExp(`^import \\* as \\w+ from "${literal}";?\n`, 'gm');
    if (!star.test(glue)) throw new Error(`short-imports: ${glueFile} does not import ${from} as a namespace`);
    glue = glue.replace(star, '');
    const named = new RegExp(`^import \\{ ([\\w, ]+) \\} from '${literal}';$`, 'm');
    const has = named.exec(glue);
    const all = [...new Set([...(has ? has[1].split(', ') : []), ...names])].sort();
    const line = `import { ${all.join(', ')} } from '${from}';`;
    // A new import line goes after the first, wasm-bindgen's `@ts-self-types` comment.
    glue = has ? glue.replace(named, () => line) : glue.replace('\n', () => `\n${line}\n`);
    glue = glue.replace(new RegExp(`"${literal}": \\w+,`), () => `"${to}": { ${[...new Set(names)].join(', ')} },`);
  } else {
    glue = glue.replace(key, `"${to}": `);
  }
}
writeFileSync(wasmFile, join(wasm.subarray(0, 8), list));
writeFileSync(glueFile, glue);
