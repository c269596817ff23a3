// A loopback sink for the benchmarks (one process, separate from the client being measured):
//   PUT  /upload/...      reads and discards the body; 200 if exactly Content-Length bytes came, 411 without it
//   GET  /api/v1/headless/imports/<id>/   a fixed import JSON (the per-call overhead benchmark)
//   GET  /static/...      files under $SINK_STATIC (the browser benchmark's page and the package)
//   OPTIONS               CORS preflight (PUT from any origin)
// Prints {"url": ...} when ready; exits when stdin closes.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const STATIC = process.env.SINK_STATIC ? path.resolve(process.env.SINK_STATIC) : '';
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json' };
const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'PUT, GET, HEAD', 'access-control-allow-headers': '*', 'access-control-expose-headers': 'ETag', 'access-control-max-age': '3000' };
let received = 0, puts = 0;
const importJson = (id) => JSON.stringify({
  id, schema_id: '4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b', status: 'SUCCESSFUL', original_filename: 'contacts.csv',
  created_date: '2026-11-24T20:00:00.000000Z', modified_date: '2026-11-24T20:00:01.000000Z', upload: null,
  review_url: null, result_metadata: { rows: 2, columns: 5 }, import_errors: [],
});

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'OPTIONS') return res.writeHead(200, cors).end();
  if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) {
    const len = req.headers['content-length'];
    if (len === undefined) { req.resume(); return res.writeHead(411, cors).end('<Error><Code>MissingContentLength</Code></Error>'); }
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => {
      received += n; puts++;
      if (n !== Number(len)) return res.writeHead(400, cors).end(`<Error><Code>IncompleteBody</Code><Got>${n}</Got></Error>`);
      res.writeHead(200, { ...cors, etag: '"bench"', 'content-length': 0 }).end();
    });
    return;
  }
  const m = url.pathname.match(/^\/api\/v1\/headless\/imports\/([\w-]+)\/$/);
  if (req.method === 'GET' && m) {
    const body = importJson(m[1]);
    return res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': 'req_bench' }).end(body);
  }
  if (req.method === 'GET' && url.pathname === '/_sink/stats') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received, puts }));
  if (req.method === 'GET' && STATIC && url.pathname.startsWith('/static/')) {
    const file = path.join(STATIC, path.normalize(decodeURIComponent(url.pathname.slice('/static/'.length))).replace(/^(\.\.[/\\])+/, ''));
    if (!file.startsWith(STATIC + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    return fs.createReadStream(file).pipe(res);
  }
  res.writeHead(404, cors).end('not found');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
process.stdin.resume();
process.stdin.on('end', () => { server.closeAllConnections(); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 1000).unref(); });
