// @ts-check
// Test environment: the local emulator as a child process, and the packed npm package installed the
// way a user installs it (from the tarball, offline), so the tests exercise what ships.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const KEY = 'test-dromo-key';
export const CONTACTS = '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b';

/**
 * Starts the emulator on ephemeral loopback ports. It exits when our stdin pipe closes, so a
 * crashed test run never leaves it behind.
 * @param {string[]} [flags]
 * @returns {Promise<{ api: string, storage: string, control: string, stop: () => Promise<void> }>}
 */
export async function startEmulator(flags = ['--time-scale', '0.01']) {
  const bin = path.join(ROOT, 'target/release/headless-imports-emulator');
  const child = spawn(bin, ['--exit-on-stdin-eof', ...flags], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) });
  const ready = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
    lines.once('line', (l) => resolve(JSON.parse(l)));
  });
  child.removeAllListeners('exit');
  return {
    ...ready,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin?.end();
        child.kill('SIGTERM');
      }),
  };
}

/** @type {string | undefined} */
let installed;

/**
 * Installs the packed tarball (HI_PACKAGE_TARBALL, or a fresh `npm pack` of pkg/) into a temp
 * project, offline, and returns that project's directory.
 */
export function installPackage() {
  if (installed) return installed;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-consumer-'));
  let tarball = process.env.HI_PACKAGE_TARBALL;
  if (!tarball) {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: path.join(ROOT, 'pkg') });
    tarball = path.join(dir, out.toString().trim().split('\n').pop() ?? '');
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: dir });
  fs.writeFileSync(path.join(dir, 'esm.mjs'), "export * from 'headless-imports';\n");
  fs.writeFileSync(path.join(dir, 'cjs.cjs'), "module.exports = require('headless-imports');\n");
  installed = dir;
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The package as an ESM consumer sees it. @returns {Promise<any>} */
export async function loadPackage() {
  return import(path.join(installPackage(), 'esm.mjs'));
}

/** A temp file with `content`; removed by the caller. */
export function tempFile(name, content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-file-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

/** Reads emulator control JSON. @param {string} url */
export async function control(url) {
  const r = await fetch(url);
  return r.ok ? r.json() : null;
}

/**
 * A slow but healthy storage's side of a PUT: reads the body at about 2 MB/s (64 KiB every 30 ms),
 * then calls `done` once all of its Content-Length is in. The OS takes the body in bursts as such
 * a link drains, so the uploader sees nothing move for a second at a time.
 * @param {import('node:http').IncomingMessage} req
 * @param {() => void} done
 */
export function readSlowly(req, done) {
  req.pause();
  let n = 0;
  const tick = setInterval(() => {
    const c = req.read(64 * 1024) ?? (req.readableLength > 0 ? req.read() : null);
    if (c) n += c.length;
    if (n >= Number(req.headers['content-length'])) {
      clearInterval(tick);
      done();
    }
  }, 30);
  req.on('close', () => clearInterval(tick));
}

/** A page that loads the installed package, unbundled, as `window.hi` (its files served under /pkg/). */
export const PACKAGE_PAGE = `<!doctype html><meta charset="utf-8"><title>loading</title>
<script type="importmap">{ "imports": { "headless-imports": "/pkg/index.js" } }</script>
<script type="module">
  window.hi = await import('headless-imports');
  document.title = 'ready';
</script>`;
