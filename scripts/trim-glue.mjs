// Drops from wasm-bindgen's JS glue what this package never reaches, dead weight in every browser
// bundle (-60 B gz and -120 B gz per app for the two groups below):
// - the warning for the deprecated way of calling its init functions (a bare module or path
//   instead of `{ module_or_path }` / `{ module }`): only our entries call them, always with an
//   object;
// - `passStringToWasm0`'s branch for a missing `realloc` (every call passes one), the
//   `TextEncoder.encodeInto` stand-in (every runtime we support has it: browsers since 2020,
//   Node, Deno, Bun, workerd), and the wording of the warning for a .wasm served without
//   `application/wasm` (shortened; the fallback itself stays).
// Each edit must match exactly once, so a change in wasm-bindgen's output stops the build
// instead of slipping through half-trimmed.
// Usage: node trim-glue.mjs glue.js
import { readFileSync, writeFileSync } from 'node:fs';

const [glueFile] = process.argv.slice(2);
let glue = readFileSync(glueFile, 'utf8');

/** `if (x !== undefined) { if (plain object) ({x} = x) else console.warn(...) }` -> unwrap only. */
for (const param of ['module', 'module_or_path']) {
  const branch = new RegExp(
    String.raw`if \(${param} !== undefined\) \{\s*if \(Object\.getPrototypeOf\(${param}\) === Object\.prototype\) \{\s*\(\{${param}\} = ${param}\)\s*\} else \{\s*console\.warn\('using deprecated parameters[^']*'\)\s*\}\s*\}`,
    'g',
  );
  const found = glue.match(branch)?.length ?? 0;
  if (found !== 1) throw new Error(`trim-glue: the ${param} init branch appears ${found} times in ${glueFile}, expected once`);
  glue = glue.replace(branch, `if (${param} !== undefined) ({${param}} = ${param});`);
}

/** Replaces what `pattern` matches, which must be exactly one place. */
function edit(what, pattern, replacement) {
  const found = glue.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
  if (found !== 1) throw new Error(`trim-glue: ${what} appears ${found} times in ${glueFile}, expected once`);
  glue = glue.replace(pattern, replacement);
}

const calls = [...glue.matchAll(/passStringToWasm0\(([^)]*)\)/g)].map((m) => m[1].split(',').length);
if (calls.some((n) => n !== 3)) throw new Error(`trim-glue: a passStringToWasm0 call without realloc in ${glueFile}`);
edit('the missing-realloc branch', /\n {4}if \(realloc === undefined\) \{[^}]*\}\n/, '\n');
edit('the encodeInto stand-in', /\nif \(!\('encodeInto' in cachedTextEncoder\)\) \{\n[\s\S]*?\n\}\n/, '\n');
edit(
  'the MIME type warning',
  /console\.warn\("`WebAssembly\.instantiateStreaming` failed because [^"]*", e\);/,
  "console.warn('headless-imports: the .wasm is served without the application/wasm MIME type, so it compiles the slower way:', e);",
);
writeFileSync(glueFile, glue);
