// @ts-check
// Uploads through XMLHttpRequest in headless Chromium (the installed package in a page, unbundled,
// with an import map): a slow but healthy storage is not taken for a silent one. The Node
// uploader's side, and progress across retries (one code path for all uploaders), are in
// dromo.test.js; a silent storage given up in Chromium is in tests/web.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startEmulator, installPackage, readSlowly, PACKAGE_PAGE, KEY } from './helpers/env.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`;
const MIME = /** @type {Record<string, string>} */ ({ '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' });
const CORS = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PUT', 'access-control-allow-headers': '*', 'access-control-expose-headers': 'ETag' };

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {import('playwright-core').Browser} */ let browser;
/** @type {import('playwright-core').Page} */ let page;
/** @type {http.Server} */ let site;

before(async () => {
  if (skip) return;
  emu = await startEmulator();
  const pkgDir = path.join(installPackage(), 'node_modules/headless-imports');
  // The page and the package, and a slow storage (readSlowly).
  site = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    if (p === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PACKAGE_PAGE);
    if (p === '/slow' && req.method === 'OPTIONS') return void res.writeHead(204, CORS).end();
    if (p === '/slow' && req.method === 'PUT') return void readSlowly(req, () => res.writeHead(200, { ...CORS, etag: '"slow"' }).end());
    const file = path.join(pkgDir, path.normalize(p.replace(/^\/pkg\//, '/')));
    if (p.startsWith('/pkg/') && file.startsWith(pkgDir + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile()) {
      res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
      return void fs.createReadStream(file).pipe(res);
    }
    res.writeHead(404).end('not found');
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (site.address()).port}/`, { timeout: 20_000 });
  await page.waitForFunction(() => document.title === 'ready', null, { timeout: 20_000 });
});

after(async () => {
  await browser?.close();
  site?.closeAllConnections();
  site?.close();
  await emu?.stop();
});

test('XMLHttpRequest: a slow but healthy storage is not taken for a silent one, even with a small timeoutMs (it was given up at every attempt)', { skip, timeout: 60_000 }, async () => {
  const result = await page.evaluate(async ({ api, key }) => {
    const { Dromo } = /** @type {any} */ (window).hi;
    const d = new Dromo({ apiKey: key, baseUrl: api, dangerouslyAllowBrowser: true, timeoutMs: 300, maxRetries: 0 });
    /** @type {number[]} */
    const seen = [];
    const size = 12 * 1024 * 1024;
    try {
      await d.imports.upload(`${location.origin}/slow?X-Amz-Signature=s`, new File([new Uint8Array(size)], 'big.csv'), { onProgress: (/** @type {any} */ p) => seen.push(p.loaded) });
      return { last: seen.at(-1), size };
    } catch (e) {
      return { error: String(/** @type {any} */ (e)?.message) };
    }
  }, { api: emu.api, key: KEY });
  assert.equal(result.error, undefined);
  assert.equal(result.last, result.size);
});
