// @ts-check
// A tiny static server for the demo page: `/pkg/...` from the package root (pkg/), everything else
// from www/. Loopback only, no caching, correct MIME types (`.wasm` must be `application/wasm` for
// WebAssembly.instantiateStreaming). Used by scripts/www.sh and, in-process, by tests/js/www.test.js.
//
//   node www/serve.mjs            # PORT (default 8080); prints the page URL
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WWW = path.dirname(fileURLToPath(import.meta.url));
const PKG = path.resolve(WWW, '../pkg');

/** @type {Record<string, string>} */
const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/** Maps a URL path to a file under www/ or pkg/, or null when it is outside both. */
function resolve(/** @type {string} */ pathname) {
  const [root, rest] = pathname === '/pkg' || pathname.startsWith('/pkg/') ? [PKG, pathname.slice(4)] : [WWW, pathname];
  const rel = path.normalize(rest).replace(/^([/\\]|\.\.)+/, '');
  let file = path.join(root, rel);
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  if (rest.endsWith('/') || rel === '' || rel === '.') file = path.join(file, 'index.html');
  return file;
}

/**
 * Starts the server on 127.0.0.1.
 * @param {{ port?: number, host?: string }} [options] port 0 picks a free one
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export async function start({ port = 0, host = '127.0.0.1' } = {}) {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end('bad path');
      return;
    }
    const file = resolve(pathname);
    let stat;
    try {
      stat = file ? fs.statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!file || !stat?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(undefined));
  });
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok(undefined));
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await start({ port: Number(process.env.PORT ?? 8080) });
  // scripts/www.sh passes the emulator's base URLs; the page reads them from the query string.
  // Left readable (`:` and `/` are fine in a query string).
  const params = [['api', process.env.HI_API], ['exa', process.env.HI_EXA]].filter(([, v]) => v);
  const query = `/${params.length ? '?' : ''}${params.map(([k, v]) => `${k}=${encodeURIComponent(v ?? '').replace(/%3A/g, ':').replace(/%2F/g, '/')}`).join('&')}`;
  console.log(`headless-imports demo: ${server.url}${query}`);
  console.log('Ctrl-C to stop.');
  const stop = () => server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
