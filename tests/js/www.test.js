// @ts-check
// The demo page (www/) in headless Chromium, served by www/serve.mjs in-process, against the local
// emulator: a successful import, the NEEDS_REVIEW path, an expired upload URL and a cancel
// mid-upload. Each case saves a 1280x800 screenshot, www-<case>.png (see ARTIFACTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, ROOT } from './helpers/env.js';
import { start as serveWww } from '../../www/serve.mjs';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing`;
// The checked-in screenshots (README) are refreshed with HI_UPDATE_SCREENSHOTS=1; ordinary runs write
// beside them in the git-ignored tmp/ so a test run never dirties the tree.
const ARTIFACTS = path.join(ROOT, process.env.HI_UPDATE_SCREENSHOTS === '1' ? 'tests/artifacts' : 'tests/artifacts/tmp');
const WAIT = { timeout: 20_000 };

/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let emu;
/** @type {Awaited<ReturnType<typeof startEmulator>>} */ let expiredEmu;
/** @type {Awaited<ReturnType<typeof serveWww>>} */ let www;
/** @type {import('playwright-core').Browser} */ let browser;

before(async () => {
  if (skip) return;
  // 0.5 s per processing step (scripts/www.sh uses 0.2): PENDING and RUNNING are seen by the page's
  // 250 ms polls even on a busy machine.
  [emu, expiredEmu, www] = await Promise.all([
    startEmulator(['--time-scale', '0.5']),
    startEmulator(['--time-scale', '0.2', '--upload-ttl', '0']),
    serveWww({ port: 0 }),
  ]);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await www?.close();
  await emu?.stop();
  await expiredEmu?.stop();
});

/**
 * Opens the page pointed at `e` (as scripts/www.sh links it) and fails the test on page errors.
 * @param {import('node:test').TestContext} t
 * @param {Awaited<ReturnType<typeof startEmulator>> & { exa?: string }} e
 */
async function open(t, e) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  t.after(() => context.close());
  const page = await context.newPage();
  /** @type {string[]} */ const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.stack ?? err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console.error: ${m.text()}`);
  });
  t.after(() => assert.deepEqual(problems, [], 'no page errors'));
  const q = new URLSearchParams({ api: e.api, exa: /** @type {string} */ (e.exa) });
  await page.goto(`${www.url}/?${q}`, WAIT);
  await page.waitForSelector('body[data-ready=true]', WAIT);
  return page;
}

const shot = (/** @type {import('playwright-core').Page} */ page, /** @type {string} */ name) =>
  page.screenshot({ path: path.join(ARTIFACTS, `www-${name}.png`) });

const csv = (/** @type {string} */ text, name = 'contacts.csv') => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });

const CONTACTS_CSV =
  'First Name,Last Name,Email Address,Age\n' +
  'Ada,Lovelace,ada@example.com,36\nGrace,Hopper,grace@example.com,85\nAlan,Turing,alan@example.com,41\n' +
  'Edsger,Dijkstra,edsger@example.com,72\nBarbara,Liskov,barbara@example.com,86\n';

test('page defaults: local emulator, test key prefilled with a warning, schema id', { skip }, async (t) => {
  const page = await open(t, emu);
  assert.equal(await page.inputValue('#baseUrl'), emu.api);
  assert.equal(await page.isChecked('#allowBrowser'), true);
  assert.equal(await page.inputValue('#apiKey'), 'test-dromo-key');
  assert.ok(await page.isVisible('#localWarning'));
  assert.equal(await page.inputValue('#schemaId'), '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b');
  // The snippet shows the call the page makes, without the key itself.
  const code = (await page.textContent('#code')) ?? '';
  assert.match(code, /new Dromo\(\{ baseUrl: "http:\/\/127\.0\.0\.1:\d+\/api\/v1", apiKey, dangerouslyAllowBrowser: true \}\)/);
  assert.match(code, /importFile\(file, \{[\s\S]*"schema_id": "4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b"/);
  assert.doesNotMatch(code, /test-dromo-key/);
  // Pointing elsewhere drops the test key and the box: no key leaves the page unless asked for.
  await page.fill('#baseUrl', 'https://proxy.example/api/dromo');
  assert.equal(await page.isChecked('#allowBrowser'), false);
  assert.equal(await page.isVisible('#apiKey'), false);
  assert.equal(await page.isVisible('#localWarning'), false);
  // A file dropped on the drop zone is picked up like a chosen one.
  await page.dispatchEvent('#drop', 'drop', {
    dataTransfer: await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['a,b\n1,2\n'], 'dropped.csv', { type: 'text/csv' }));
      return dt;
    }),
  });
  assert.match((await page.textContent('#fileInfo')) ?? '', /dropped\.csv — 8 B/);
  // Every visible form control has a label.
  const unlabelled = await page.$$eval('input, select, textarea', (els) =>
    els.filter((el) => /** @type {HTMLInputElement} */ (el).labels?.length === 0 && !el.closest('[hidden]')).map((el) => el.id),
  );
  assert.deepEqual(unlabelled, []);
});

test('Dromo: a successful import shows statuses, rows and a JSON download', { skip, timeout: 30_000 }, async (t) => {
  const page = await open(t, emu);
  await page.setInputFiles('#file', csv(CONTACTS_CSV));
  await page.getByText('contacts.csv').waitFor(WAIT);
  await page.click('#start');
  await page.waitForSelector('#state[data-state=done]', WAIT);
  const timeline = await page.textContent('#timeline');
  assert.match(timeline ?? '', /uploading[\s\S]*file sent/);
  assert.match(timeline ?? '', /PENDING|RUNNING/, 'an in-progress status was seen');
  assert.match(timeline ?? '', /SUCCESSFUL/);
  assert.match((await page.textContent('#progressText')) ?? '', /\(100%\)/);
  assert.equal(await page.locator('#rowsWrap tbody tr').count(), 5);
  assert.deepEqual(await page.locator('#rowsWrap th').allTextContents(), ['first_name', 'last_name', 'email', 'age']);
  assert.equal(await page.locator('#rowsWrap tbody tr').first().locator('td').nth(2).textContent(), 'ada@example.com');
  assert.equal(await page.isDisabled('#cancel'), true);
  const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.click('#download')]);
  const rows = JSON.parse(fs.readFileSync(/** @type {string} */ (await download.path()), 'utf8'));
  assert.equal(rows.length, 5);
  assert.deepEqual(rows[0], { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', age: 36 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'success');
});

test('Dromo: an inline schema (the editable default) imports the sample CSV', { skip, timeout: 30_000 }, async (t) => {
  const page = await open(t, emu);
  await page.check('input[name=schemaMode][value=inline]');
  assert.ok(await page.isVisible('#inlineSchema'));
  assert.equal(await page.isVisible('#schemaId'), false);
  const schema = JSON.parse(await page.inputValue('#inlineSchema'));
  assert.ok(Array.isArray(schema.fields) && schema.fields.length > 0, 'a sensible default schema');
  await page.click('#sample');
  await page.click('#start');
  await page.waitForSelector('#state[data-state=done]', WAIT);
  assert.deepEqual(await page.locator('#rowsWrap th').allTextContents(), schema.fields.map((/** @type {any} */ f) => f.key));
  assert.equal(await page.locator('#rowsWrap tbody tr').count(), 3);
  // Broken JSON is reported before anything is sent.
  await page.fill('#inlineSchema', '{ "fields": [');
  await page.click('#start');
  await page.waitForSelector('#state[data-state=failed]', WAIT);
  assert.match((await page.textContent('#error')) ?? '', /not valid JSON/);
});

test('Dromo: an invalid email stops at NEEDS_REVIEW with the review link', { skip, timeout: 30_000 }, async (t) => {
  const page = await open(t, emu);
  await page.setInputFiles('#file', csv('First Name,Last Name,Email Address,Age\nAda,Lovelace,not-an-email,36\nGrace,Hopper,grace@example.com,85\n'));
  await page.click('#start');
  await page.waitForSelector('#state[data-state=review]', WAIT);
  const link = page.locator('#reviewLink');
  assert.ok(await link.isVisible());
  const href = (await link.getAttribute('href')) ?? '';
  assert.ok(href.startsWith(new URL(emu.api).origin), href);
  assert.match(href, /\/headless\/[0-9a-f-]{36}\/$/);
  assert.match((await page.textContent('#timeline')) ?? '', /NEEDS_REVIEW/);
  assert.match((await page.textContent('#reviewErrors')) ?? '', /row 1/);
  assert.equal(await page.isVisible('#rowsWrap'), false, 'no rows before the review');
  await shot(page, 'needs-review');
});

test('an expired upload URL shows UploadError in the error panel (Dromo, then Exa: deleted)', { skip, timeout: 30_000 }, async (t) => {
  const page = await open(t, expiredEmu);
  await page.setInputFiles('#file', csv(CONTACTS_CSV));
  await page.click('#start');
  await page.waitForSelector('#state[data-state=failed]', WAIT);
  const panel = page.locator('#error');
  assert.ok(await panel.isVisible());
  const text = (await panel.textContent()) ?? '';
  assert.match(text, /UploadError/);
  assert.match(text, /upload_error/);
  assert.match(text, /expired/i);
  assert.match(text, /import id[0-9a-f-]{36}/, 'the created import is named');
  assert.doesNotMatch(text, /test-dromo-key|X-Amz-Signature=[0-9a-f]{64}/, 'no key, no signature');
  assert.equal(await page.isDisabled('#start'), false);
  await shot(page, 'upload-expired');
  // Exa deletes the import whose upload failed, and says so.
  await page.check('input[name=provider][value=exa]');
  await page.click('#sample');
  await page.click('#start');
  await page.waitForSelector('#state[data-state=failed]', WAIT);
  const exaText = (await page.textContent('#error')) ?? '';
  assert.match(exaText, /UploadError/);
  assert.match(exaText, /URL expiredtrue/);
  assert.match(exaText, /import deletedtrue/);
  assert.match(exaText, /import idimport_[0-9a-f]+/);
});

test('Dromo: Cancel mid-upload aborts and returns to idle', { skip, timeout: 40_000 }, async (t) => {
  const page = await open(t, emu);
  // Loopback uploads are too fast to click during: throttle the upload to ~8 MB/s.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 8 * 1024 * 1024 });
  const row = 'Ada,Lovelace,ada@example.com,36\n';
  const big = Buffer.alloc(40 * 1024 * 1024, row);
  big.write('First Name,Last Name,Email Address,Age\n');
  // A file on disk: Chromium reads it itself (a 40 MB buffer would cross the protocol as base64).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-www-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'big.csv'), big);
  let t0 = performance.now();
  await page.setInputFiles('#file', path.join(dir, 'big.csv'));
  t.diagnostic(`setInputFiles ${Math.round(performance.now() - t0)} ms`);
  t0 = performance.now();
  await page.getByText('big.csv').waitFor(WAIT);
  await page.click('#start');
  await page.waitForFunction(() => Number(document.querySelector('#progress')?.getAttribute('data-loaded') ?? 0) > 0, null, { ...WAIT, polling: 20 });
  t.diagnostic(`first progress after ${Math.round(performance.now() - t0)} ms`);
  await page.click('#cancel');
  await page.waitForSelector('#state[data-state=idle]', WAIT);
  t.diagnostic(`idle after ${Math.round(performance.now() - t0)} ms`);
  const loaded = Number(await page.getAttribute('#progress', 'data-loaded'));
  assert.ok(loaded > 0 && loaded < big.length, `stopped mid-upload at ${loaded}`);
  const text = (await page.textContent('#error')) ?? '';
  assert.match(text, /APIUserAbortError/);
  assert.match(text, /aborted/);
  assert.match((await page.textContent('#timeline')) ?? '', /canceled/);
  assert.equal(await page.isDisabled('#start'), false, 'Start is enabled again');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'start', 'focus moved from Cancel to Start');
  assert.equal(await page.isDisabled('#cancel'), true);
  await shot(page, 'cancel');
});

test('Exa: the sample CSV completes and the import fields are shown', { skip, timeout: 30_000 }, async (t) => {
  const page = await open(t, emu);
  await page.check('input[name=provider][value=exa]');
  assert.equal(await page.inputValue('#baseUrl'), /** @type {any} */ (emu).exa);
  assert.equal(await page.inputValue('#apiKey'), 'test-exa-key');
  await page.click('#sample');
  await page.click('#start');
  await page.waitForSelector('#state[data-state=done]', WAIT);
  const fields = (await page.textContent('#importFields')) ?? '';
  assert.match(fields, /statuscompleted/);
  assert.match(fields, /count2/);
  assert.match(fields, /titleDemo import/);
  assert.match((await page.textContent('#timeline')) ?? '', /completed/);
  await shot(page, 'exa');
});
