// Drops from wasm-bindgen's JS glue what only its own public API's misuse reaches: the warning
// for the deprecated way of calling its init functions (a bare module or path instead of
// `{ module_or_path }` / `{ module }`). Only this package's entries call them, always with an
// object, so the branch and its ~100-character message are dead weight in every browser bundle.
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
writeFileSync(glueFile, glue);
