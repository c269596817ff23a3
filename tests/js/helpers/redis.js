// @ts-check
// A redis-server of the test's own (Debian's, which scripts/setup.sh installs) on a free loopback
// port, nothing written to disk; and the two client flavours `headless-imports/redis` accepts,
// from tests/node_modules. Used by tests/js/redis.test.js and bench/shared-limits.mjs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Why redis-server cannot run here, or `false` when it can. */
export const noRedis = (() => {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? 'redis-server is not installed (scripts/setup.sh installs Debian\'s redis-server)' : false;
})();

/** A free loopback port (free a moment ago: the caller retries if it is taken since). */
async function freePort() {
  const s = net.createServer();
  await new Promise((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (s.address());
  await new Promise((resolve) => s.close(() => resolve(undefined)));
  return port;
}

/**
 * The process id of the redis-server answering on `port` (`INFO server`), or undefined when none
 * answers (yet). @param {number} port @returns {Promise<number | undefined>}
 */
function serves(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (/** @type {number | undefined} */ pid) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (b) => {
      got += b;
      const m = /process_id:(\d+)\r\n/.exec(got);
      if (m) done(Number(m[1]));
      else if (got.startsWith('-')) done(undefined);
    });
  });
}

/**
 * Starts redis-server on 127.0.0.1 (`--save '' --appendonly no`) and waits until it answers.
 * `stop` ends it (SIGTERM, then SIGKILL); `kill` ends it at once, as a crash would; `freeze` and
 * `thaw` stop and continue it (SIGSTOP, SIGCONT), a server that stalls without closing anything.
 * It is killed too if the test process exits first.
 * @returns {Promise<{ port: number, url: string, stop: () => Promise<void>, kill: () => Promise<void>, freeze: () => void, thaw: () => void }>}
 */
export async function startRedis() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    /** @type {Promise<void>} */
    const exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const end = async (/** @type {NodeJS.Signals} */ signal) => {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const pid = await serves(port);
      // Another test's server may have bound the port first (two picked the same free port).
      if (pid !== undefined && pid !== child.pid) break;
      if (pid !== undefined) {
        return {
          port,
          pid: child.pid,
          url: `redis://127.0.0.1:${port}`,
          // A frozen server would hold SIGTERM until continued.
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
            return end('SIGTERM');
          },
          kill: () => end('SIGKILL'),
          freeze: () => void child.kill('SIGSTOP'),
          thaw: () => void child.kill('SIGCONT'),
        };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await end('SIGKILL');
  }
  throw new Error('redis-server did not start on a loopback port in 5 tries');
}

/**
 * A connected client of `flavour` (`node-redis` or `ioredis`), its error events swallowed (a
 * client whose server is gone reports each reconnect attempt as an 'error' event, which would
 * otherwise end the process), and a `close` that ends it whatever state it is in.
 * @param {'node-redis' | 'ioredis'} flavour
 * @param {string} url
 * @returns {Promise<{ client: any, close: () => Promise<void> }>}
 */
export async function redisClient(flavour, url) {
  if (flavour === 'node-redis') {
    const { createClient } = await import('redis');
    // Reconnects are spaced out, so a test whose server is gone is not busy reconnecting.
    const client = createClient({ url, socket: { reconnectStrategy: () => 200 } });
    client.on('error', () => {});
    await client.connect();
    return { client, close: async () => void (client.isOpen ? client.destroy() : undefined) };
  }
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => 200 });
  client.on('error', () => {});
  await client.connect();
  return { client, close: async () => client.disconnect() };
}

/**
 * `headless-imports/redis` as the app `installPackage()` made imports it: through a module of
 * that app (`redis.mjs`, written here), so the package's exports map decides what it gets.
 * @param {string} pkgDir
 * @returns {Promise<any>}
 */
export async function redisEntry(pkgDir) {
  const file = path.join(pkgDir, 'redis.mjs');
  if (!fs.existsSync(file)) fs.writeFileSync(file, "export * from 'headless-imports/redis';\n");
  return import(file);
}
