// @ts-check
// The packed tarball, installed offline into each consumer the package promises to work in (Node ESM,
// Node CJS, an esbuild bundle, a Vite build and dev server, a webpack 5 build, a plain
// <script type="module"> page, the per-provider entries in a Vite build), each doing real calls
// against one emulator. Fixtures live in tests/fixtures/ and never call an init function: loading the one
// .wasm is the package's job. Bundlers and playwright-core come from tests/node_modules, not per fixture.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { startEmulator, ROOT, KEY, CONTACTS } from './helpers/env.js';

const run = promisify(execFile);
const EXA_KEY = 'test-exa-key';
const FIXTURES = path.join(ROOT, 'tests/fixtures');
const SCENARIO = path.join(FIXTURES, 'browser-scenario.js');
const TOOLS = path.join(ROOT, 'tests/node_modules/.bin');
const CHROMIUM = '/usr/bin/chromium';
const noBrowser = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`;
const BROWSER_FIXTURES = ['esbuild', 'vite', 'webpack', 'html', 'vite-split'];
/** The package's three builds: both providers (the main entry), and one per provider entry. */
const PACKAGE_WASM = ['gen/dromo/headless_imports_bg.wasm', 'gen/exa/headless_imports_bg.wasm', 'gen/headless_imports_bg.wasm', 'gen/node/headless_imports_bg.wasm'];

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {string} */ let work;
/** @type {Record<string, Promise<string>>} fixture name -> its installed copy */
const installed = {};
/** @type {Promise<import('playwright-core').Browser> | undefined} */ let browser;
/** @type {Array<() => Promise<void>>} */ const cleanups = [];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-packaging-'));
  let tarball = process.env.HI_PACKAGE_TARBALL;
  if (!tarball) {
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: path.join(ROOT, 'pkg'), timeout: 60_000 });
    tarball = path.join(work, stdout.trim().split('\n').pop() ?? '');
  }
  const names = ['node-esm', 'node-cjs', ...(noBrowser ? [] : BROWSER_FIXTURES)];
  // Installs run concurrently; each test awaits its own (a failure is reported by that test).
  for (const name of names) {
    installed[name] = install(name, /** @type {string} */ (tarball));
    installed[name].catch(() => {});
  }
  emu = await startEmulator(['--time-scale', '0.01']);
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (browser) await (await browser.catch(() => null))?.close();
  if (emu) await emu.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Copies a fixture to the work dir and installs the tarball there, offline, as a user would. */
async function install(/** @type {string} */ name, /** @type {string} */ tarball) {
  const dir = path.join(work, name);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  // Browser fixtures share their calls: put the scenario beside the entry that imports it.
  for (const entry of ['main.js', 'src/main.js']) {
    if (fs.existsSync(path.join(dir, entry))) fs.copyFileSync(SCENARIO, path.join(dir, path.dirname(entry), 'browser-scenario.js'));
  }
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: dir,
    timeout: 60_000,
  });
  return dir;
}

/** Every file under `dir` whose name ends in `.wasm`. */
function wasmFiles(/** @type {string} */ dir) {
  return /** @type {string[]} */ (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })).filter((f) => f.endsWith('.wasm'));
}

/** Fixture code must use the package the way the README does: no init call, no reaching into gen/. */
function assertNoInit(/** @type {string} */ name) {
  const files = /** @type {string[]} */ (fs.readdirSync(path.join(FIXTURES, name), { recursive: true, encoding: 'utf8' }));
  const code = files.filter((f) => /\.(m?js|cjs|html)$/.test(f)).map((f) => path.join(FIXTURES, name, f));
  assert.ok(code.length > 0, `${name}: no code files`);
  for (const f of [...code, SCENARIO]) {
    const src = fs.readFileSync(f, 'utf8');
    assert.doesNotMatch(src, /\binit\w*\s*\(|__wbg_init|headless-imports\/gen|headless_imports\.js/, `${path.relative(ROOT, f)} must not initialise the wasm itself`);
  }
}

/** The result every fixture reports: the same real calls, whatever the runtime. */
function assertCalls(/** @type {string} */ name, /** @type {any} */ r) {
  assert.equal(r.rows?.status, 'SUCCESSFUL', `${name}: importRows ${JSON.stringify(r)}`);
  assert.deepEqual(r.rows.rows, [{ product: 'widget1', transaction: `${name.replace('node-', '')}-1` }]);
  assert.deepEqual(r.rows.streamed, r.rows.rows, `${name}: imports.rows() streams the same rows`);
  assert.equal(r.file?.status, 'SUCCESSFUL', `${name}: importFile ${JSON.stringify(r)}`);
  assert.equal(r.file.rows?.length, 1);
  assert.equal(r.file.rows[0].first_name, 'Ada');
  assert.equal(r.file.rows[0].email, 'ada@example.com');
  assert.ok(r.list?.count >= 2, `${name}: list count ${JSON.stringify(r.list)}`);
  assert.equal(r.list.results, 1, `${name}: list({ limit: 1 }) returns one item`);
  const { apiError, auth, status, code } = r.wrongKey ?? {};
  assert.deepEqual({ apiError, auth, status }, { apiError: true, auth: true, status: 401 }, `${name}: a wrong key ${JSON.stringify(r.wrongKey)}`);
  assert.equal(typeof code, 'string', `${name}: the error has a stable code`);
}

for (const [name, main] of [['node-esm', 'index.mjs'], ['node-cjs', 'index.cjs']]) {
  test(`${name}: the installed tarball imports rows and a file, lists, and throws APIError`, { timeout: 60_000 }, async () => {
    assertNoInit(name);
    const dir = await installed[name];
    assert.deepEqual(wasmFiles(path.join(dir, 'node_modules/headless-imports')).sort(), PACKAGE_WASM);
    const env = { ...process.env, HI_API: emu.api, HI_KEY: KEY, HI_SCHEMA: CONTACTS };
    const { stdout, stderr } = await run(process.execPath, [main], { cwd: dir, env, timeout: 30_000 }).catch((e) =>
      assert.fail(`${name} failed: ${e.message}\n${e.stdout}\n${e.stderr}`),
    );
    assert.equal(stderr, '', `${name}: nothing on stderr (no warnings)`);
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '');
    assertCalls(name, result);
    assert.equal(result.subpaths, true, `${name}: headless-imports/exa and /dromo are the main entry's objects`);
  });
}

const MIME = /** @type {Record<string, string>} */ ({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
});

/** A static file server for `root` on an ephemeral loopback port. */
async function serve(/** @type {string} */ root) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let pathname;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end('bad path');
      return;
    }
    const file = path.join(root, path.normalize(pathname).replace(/^([/\\]|\.\.)+/, ''));
    const target = file.endsWith(path.sep) || url.pathname === '/' ? path.join(file, 'index.html') : file;
    if (!target.startsWith(root + path.sep) || !fs.existsSync(target) || !fs.statSync(target).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[path.extname(target)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(target).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(undefined)); });
  cleanups.push(close);
  return { url: `http://127.0.0.1:${port}`, close };
}

function launch() {
  browser ??= import('playwright-core').then(({ chromium }) =>
    chromium.launch({
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  );
  return browser;
}

/**
 * Opens a site (`root` served as static files, or a running server), waits for the fixture to
 * report, and returns its result and what was fetched. The server is closed afterwards.
 * @param {string} name
 * @param {string | { url: string, close: () => Promise<unknown> }} site
 */
async function openPage(name, site) {
  const server = typeof site === 'string' ? await serve(site) : site;
  const context = await (await launch()).newContext();
  try {
    const page = await context.newPage();
    /** @type {string[]} */ const problems = [];
    /** @type {{ url: string, status: number, type: string | undefined }[]} */ const wasm = [];
    // The wrong-key call's 401 is expected; Chromium logs every failed fetch as a console error.
    const expected401 = (/** @type {string} */ url) => url.startsWith(emu.api) && /[?&]limit=1\b/.test(url);
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      if (/status of 401 \(Unauthorized\)/.test(m.text()) && expected401(m.location().url)) return;
      problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.stack ?? e.message}`));
    page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !(r.status() === 401 && expected401(r.url()))) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      if (new URL(r.url()).pathname.endsWith('.wasm')) wasm.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] });
    });
    const crashed = new Promise((_, reject) => page.once('pageerror', reject));
    const q = new URLSearchParams({ api: emu.api, key: KEY, schema: CONTACTS, exaKey: EXA_KEY });
    await page.goto(`${server.url}/?${q}`, { timeout: 20_000 });
    await Promise.race([
      page.waitForFunction(() => ['done', 'error'].includes(document.title), null, { timeout: 30_000 }),
      crashed,
    ]).catch((e) => assert.fail(`${name}: the page never reported: ${e.message}\n${problems.join('\n')}`));
    const title = await page.title();
    const result = JSON.parse((await page.textContent('#result')) ?? 'null');
    assert.equal(title, 'done', `${name}: ${JSON.stringify(result)}\n${problems.join('\n')}`);
    assert.deepEqual(problems, [], `${name}: console errors, page errors or failed requests`);
    return { result, wasm };
  } finally {
    await context.close();
    await server.close();
  }
}

/** Raw and gzip sizes of the built files, printed as test diagnostics. */
function sizes(/** @type {string} */ dir) {
  return /** @type {string[]} */ (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }))
    .filter((f) => /\.(js|wasm)$/.test(f))
    .map((f) => {
      const buf = fs.readFileSync(path.join(dir, f));
      return `${f}: ${buf.length} B, ${zlib.gzipSync(buf, { level: 9 }).length} B gz`;
    });
}

/** Runs the fixture's `npm run build` with the bundlers of tests/node_modules on PATH. */
async function build(/** @type {string} */ name, /** @type {string} */ dir) {
  const env = { ...process.env, PATH: `${TOOLS}${path.delimiter}${process.env.PATH}`, npm_config_loglevel: 'error' };
  await run('npm', ['run', '--silent', 'build'], { cwd: dir, env, timeout: 60_000 }).catch((e) =>
    assert.fail(`${name}: build failed: ${e.message}\n${e.stdout}\n${e.stderr}`),
  );
}

/** The served page fetched the one .wasm, with the MIME type instantiateStreaming needs. */
function assertOneWasmFetched(/** @type {string} */ name, /** @type {{ url: string, status: number, type?: string }[]} */ wasm) {
  assert.equal(wasm.length, 1, `${name}: one .wasm request, got ${JSON.stringify(wasm)}`);
  assert.equal(wasm[0].status, 200);
  assert.equal(wasm[0].type, 'application/wasm');
}

test('esbuild bundle: works once the .wasm is copied next to it', { skip: noBrowser, timeout: 60_000 }, async (t) => {
  assertNoInit('esbuild');
  const dir = await installed.esbuild;
  assert.deepEqual(wasmFiles(path.join(dir, 'node_modules/headless-imports')).sort(), PACKAGE_WASM);
  // esbuild bundles the JS but leaves `new URL('./gen/headless_imports_bg.wasm', import.meta.url)` as
  // is, without emitting the file: the fixture's build script copies it to dist/gen/ (see README "Bundlers").
  await build('esbuild', dir);
  const dist = path.join(dir, 'dist');
  assert.deepEqual(wasmFiles(dist), ['gen/headless_imports_bg.wasm'], 'exactly one .wasm is served');
  for (const s of sizes(dist)) t.diagnostic(`esbuild ${s}`);
  const { result, wasm } = await openPage('esbuild', dist);
  assertCalls('esbuild', result);
  assertOneWasmFetched('esbuild', wasm);
  assert.match(wasm[0].url, /\/gen\/headless_imports_bg\.wasm$/);
});

test('Vite build: emits the .wasm as one asset and works', { skip: noBrowser, timeout: 60_000 }, async (t) => {
  assertNoInit('vite');
  const dir = await installed.vite;
  await build('vite', dir);
  const dist = path.join(dir, 'dist');
  const emitted = wasmFiles(dist);
  assert.equal(emitted.length, 1, `exactly one .wasm in the Vite output: ${emitted}`);
  assert.match(emitted[0], /^assets\/headless_imports_bg-[\w-]+\.wasm$/);
  for (const s of sizes(dist)) t.diagnostic(`vite ${s}`);
  const { result, wasm } = await openPage('vite', dist);
  assertCalls('vite', result);
  assertOneWasmFetched('vite', wasm);
});

test('Vite dev server: the unbuilt app loads the package and works', { skip: noBrowser, timeout: 60_000 }, async () => {
  // What most users run first: `vite` serves the package through its dependency pre-bundling.
  const dir = await installed.vite;
  const { createServer } = await import(path.join(ROOT, 'tests/node_modules/vite/dist/node/index.js'));
  const vite = await createServer({ root: dir, logLevel: 'silent', server: { host: '127.0.0.1', port: 0, strictPort: false } });
  await vite.listen();
  const close = () => vite.close();
  cleanups.push(close);
  const { result, wasm } = await openPage('vite-dev', { url: vite.resolvedUrls.local[0].replace(/\/$/, ''), close });
  assertCalls('vite', result);
  assertOneWasmFetched('vite-dev', wasm);
  assert.match(wasm[0].url, /\/headless-imports\/gen\/headless_imports_bg\.wasm$/);
});

test('webpack 5 build: emits the .wasm as one asset and works', { skip: noBrowser, timeout: 60_000 }, async (t) => {
  assertNoInit('webpack');
  const dir = await installed.webpack;
  await build('webpack', dir);
  const dist = path.join(dir, 'dist');
  const emitted = wasmFiles(dist);
  assert.equal(emitted.length, 1, `exactly one .wasm in the webpack output: ${emitted}`);
  for (const s of sizes(dist)) t.diagnostic(`webpack ${s}`);
  const { result, wasm } = await openPage('webpack', dist);
  assertCalls('webpack', result);
  assertOneWasmFetched('webpack', wasm);
});

test('plain <script type="module"> page with an import map: works unbundled', { skip: noBrowser, timeout: 60_000 }, async () => {
  assertNoInit('html');
  const dir = await installed.html;
  assert.deepEqual(wasmFiles(dir).sort(), PACKAGE_WASM.map((f) => path.join('node_modules/headless-imports', f)));
  const { result, wasm } = await openPage('html', dir);
  assertCalls('html', result);
  assertOneWasmFetched('html', wasm);
  assert.match(wasm[0].url, /\/node_modules\/headless-imports\/gen\/headless_imports_bg\.wasm$/);
});

test('Vite build with the per-provider entries: emits and loads only the two one-provider .wasm files', { skip: noBrowser, timeout: 60_000 }, async (t) => {
  assertNoInit('vite-split');
  const dir = await installed['vite-split'];
  await build('vite-split', dir);
  const dist = path.join(dir, 'dist');
  const pkgDir = path.join(dir, 'node_modules/headless-imports');
  const size = (/** @type {string} */ f) => fs.statSync(f).size;
  const [dromoWasm, exaWasm, bothWasm] = PACKAGE_WASM.map((f) => size(path.join(pkgDir, f)));
  // The split is real: each provider's build is smaller than the one with both.
  assert.ok(exaWasm < bothWasm && dromoWasm < bothWasm, `exa ${exaWasm}, dromo ${dromoWasm}, both ${bothWasm} bytes`);
  const emitted = wasmFiles(dist);
  assert.equal(emitted.length, 2, `two .wasm assets: ${emitted}`);
  assert.deepEqual(emitted.map((f) => size(path.join(dist, f))).sort((a, b) => a - b), [exaWasm, dromoWasm].sort((a, b) => a - b),
    'the emitted assets are the two one-provider builds');
  for (const s of sizes(dist)) t.diagnostic(`vite-split ${s}`);
  const { result, wasm } = await openPage('vite-split', dist);
  assert.deepEqual(result.exa, { status: 'completed', count: 2 }, JSON.stringify(result));
  assert.equal(result.dromo.status, 'SUCCESSFUL');
  assert.deepEqual(result.dromo.rows, [{ product: 'widget1', transaction: 'split-1' }]);
  assert.deepEqual(result.sharedClasses, { exaEntry: true, dromoEntry: true, base: true, code: 'validation_error' });
  assert.equal(result.dromoOnExaEntry, 'undefined', 'the Exa entry has no Dromo client');
  assert.equal(wasm.length, 2, `two .wasm requests: ${JSON.stringify(wasm)}`);
  for (const w of wasm) {
    assert.equal(w.status, 200);
    assert.equal(w.type, 'application/wasm');
  }
});
