// Benchmark 3: gzip -9 (and brotli -11, what CDNs serve) size of everything a browser loads for a
// tiny app, built by esbuild
// (--bundle --format=esm --minify --platform=browser), ours (JS + the .wasm the README says to copy)
// beside exa-js's Exa websets imports built the same way. Two apps of ours: one using both
// providers (the main entry), and one using Exa alone through `headless-imports/exa`, the one that
// compares like for like with exa-js.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT } from './lib.mjs';

const gz = (f) => zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
const br = (f) => zlib.brotliCompressSync(fs.readFileSync(f), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/**
 * Builds each app and measures it. `only` names the apps to build (default: all four; the budget
 * test builds ours alone, without exa-js).
 */
export async function benchBundle({ pkgDir, log, only }) {
  const esbuild = await import(path.join(ROOT, 'tests/node_modules/esbuild/lib/main.js'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-bench-bundle-'));
  try {
    const apps = {
      ours: `import { Exa, Dromo } from 'headless-imports';
const file = new File(['a,b\\n1,2\\n'], 'a.csv');
const exa = new Exa({ baseUrl: '/api/exa' });
const dromo = new Dromo({ baseUrl: '/api/dromo' });
globalThis.run = async () => [await exa.importFile(file, { entity: { type: 'company' } }), await dromo.importFile(file, { schema_id: 'x' })];
`,
      oursExa: `import { Exa } from 'headless-imports/exa';
const file = new File(['a,b\\n1,2\\n'], 'a.csv');
const exa = new Exa({ baseUrl: '/api/exa' });
globalThis.run = async () => {
  const { import: imp } = await exa.importFile(file, { entity: { type: 'company' }, title: 't' });
  return [imp, await exa.imports.retrieve(imp.id), await exa.imports.list()];
};
`,
      oursDromo: `import { Dromo } from 'headless-imports/dromo';
const file = new File(['a,b\\n1,2\\n'], 'a.csv');
const dromo = new Dromo({ baseUrl: '/api/dromo' });
globalThis.run = async () => {
  const { import: imp, rows } = await dromo.importFile(file, { schema_id: 'x' });
  return [imp, rows, await dromo.imports.retrieve(imp.id), await dromo.imports.list()];
};
`,
      exa: `import Exa from 'exa-js';
const exa = new Exa('key', '/api/exa');
globalThis.run = async () => {
  const imp = await exa.websets.imports.create({ format: 'csv', entity: { type: 'company' }, title: 't' }, 'a,b\\n1,2\\n');
  return [imp, await exa.websets.imports.get(imp.id), await exa.websets.imports.list()];
};
`,
    };
    const out = {};
    for (const [name, src] of Object.entries(apps)) {
      if (only && !only.includes(name)) continue;
      const d = path.join(dir, name);
      fs.mkdirSync(path.join(d, 'dist'), { recursive: true });
      fs.writeFileSync(path.join(d, 'main.js'), src);
      await esbuild.build({
        entryPoints: [path.join(d, 'main.js')], bundle: true, format: 'esm', minify: true, platform: 'browser',
        outfile: path.join(d, 'dist/main.js'), logLevel: 'silent',
        nodePaths: [path.join(pkgDir, 'node_modules'), path.join(ROOT, 'tests/node_modules')],
      });
      const wasm = { ours: 'gen/headless_imports_bg.wasm', oursExa: 'gen/exa/headless_imports_bg.wasm', oursDromo: 'gen/dromo/headless_imports_bg.wasm' }[name];
      if (wasm) {
        fs.mkdirSync(path.dirname(path.join(d, 'dist', wasm)), { recursive: true });
        fs.copyFileSync(path.join(pkgDir, 'node_modules/headless-imports', wasm), path.join(d, 'dist', wasm));
      }
      const files = fs.readdirSync(path.join(d, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(m?js|wasm)$/.test(f));
      out[name] = { files: Object.fromEntries(files.map((f) => [f, gz(path.join(d, 'dist', f))])) };
      out[name].total = Object.values(out[name].files).reduce((a, b) => a + b, 0);
      out[name].brotli = files.reduce((a, f) => a + br(path.join(d, 'dist', f)), 0);
      log(`bundle ${name}: ${Object.entries(out[name].files).map(([f, b]) => `${f} ${(b / 1000).toFixed(1)} KB gz`).join(', ')}; ${(out[name].brotli / 1000).toFixed(1)} KB brotli in all`);
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
