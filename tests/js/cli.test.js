// @ts-check
// The `headless-imports` command as installed from the packed tarball (so the package.json `bin`
// field is exercised too), driven against the local emulator: NDJSON events off a terminal, the
// progress bar and status line under a pty, exit codes, usage errors that send nothing, Ctrl-C.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startEmulator, installPackage, tempFile, control, KEY, CONTACTS, ROOT } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
/** @type {Awaited<ReturnType<typeof startEmulator>> & { exa: string }} */ let emu;
/** @type {string} */ let bin;
/** @type {string} */ let work;

const REVIEW = 'First Name,Last Name\nAda,Lovelace\n'; // required email has no column: NEEDS_REVIEW
const HEADER_ONLY = 'First Name,Last Name,Email Address,Age\n'; // no data rows: FAILED

before(async () => {
  bin = path.join(installPackage(), 'node_modules', '.bin', 'headless-imports');
  emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.01']));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-cli-'));
});
after(async () => {
  if (emu) await emu.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/**
 * Runs the CLI (stdout is a pipe, so NDJSON) and collects its output.
 * @param {string[]} args
 * @param {{ onStdout?: (text: string, child: import('node:child_process').ChildProcess) => void, onStart?: (child: import('node:child_process').ChildProcess) => unknown, timeoutMs?: number }} [opts]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, events: any[] }>}
 */
function run(args, opts = {}) {
  return new Promise((resolve, reject) => {
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, DROMO_API_KEY: KEY, EXA_API_KEY: EXA_KEY };
    delete env.DROMO_BASE_URL;
    delete env.EXA_BASE_URL;
    const child = spawn(bin, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onStart?.(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      for (const text of [stdout, stderr]) assert.ok(!text.includes(KEY) && !text.includes(EXA_KEY), 'the key is never printed');
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
      resolve({ code, stdout, stderr, events });
    });
  });
}

const dromoArgs = () => ['--base-url', emu.api];
const exaArgs = () => ['--base-url', emu.exa];

test('dromo import of a 1000-row CSV with --out: exit 0, NDJSON events, rows on disk', async () => {
  const out = path.join(work, 'out');
  const csv = path.join(ROOT, 'examples/contacts.csv');
  const r = await run(['dromo', 'import', csv, '--schema-id', CONTACTS, '--out', out, ...dromoArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const kinds = new Set(r.events.map((e) => e.event));
  for (const k of ['created', 'progress', 'status', 'done']) assert.ok(kinds.has(k), `event ${k} in ${[...kinds]}`);
  const created = r.events.find((e) => e.event === 'created');
  assert.match(created.importId, /^[0-9a-f-]{36}$/);
  assert.equal(created.file, 'contacts.csv');
  assert.ok(r.events.every((e) => e.file === 'contacts.csv' && (e.event === 'start' || e.importId === created.importId)));
  const progress = r.events.filter((e) => e.event === 'progress');
  const size = fs.statSync(csv).size;
  assert.deepEqual([progress.at(-1).loaded, progress.at(-1).total], [size, size]);
  const done = r.events.at(-1);
  assert.equal(done.event, 'done');
  assert.equal(done.status, 'SUCCESSFUL');
  assert.equal(done.rows, 1000);
  const rows = JSON.parse(fs.readFileSync(path.join(out, 'contacts.json'), 'utf8'));
  assert.equal(rows.length, 1000);
  assert.deepEqual(Object.keys(rows[0]), ['first_name', 'last_name', 'email', 'age']);
  assert.ok(!r.stdout.includes('X-Amz-Signature'), 'no presigned URL in the output');

  // status and results of that import
  const st = await run(['dromo', 'status', created.importId, '--base-url', emu.api]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(st.events[0].status, 'SUCCESSFUL');
  assert.ok([null, '(presigned URL omitted)'].includes(st.events[0].upload));
  assert.ok(!st.stdout.includes('X-Amz-'), 'no presigned URL');
  const resFile = path.join(work, 'results.json');
  const res = await run(['dromo', 'results', created.importId, '--out', resFile, '--base-url', emu.api]);
  assert.equal(res.code, 0, res.stderr);
  const all = JSON.parse(fs.readFileSync(resFile, 'utf8'));
  assert.equal(all.length, 1000);
  assert.equal(fs.readFileSync(resFile, 'utf8'), JSON.stringify(all, null, 2) + '\n', 'streamed, the same text as one stringify');
  assert.deepEqual(fs.readdirSync(work).filter((f) => f.endsWith('.partial')), [], 'no partial file left');
  // Into a directory: DIR/<id>.json; a missing directory is a usage error before any request.
  const dirOut = await run(['dromo', 'results', created.importId, '--out', `${work}/`, '--base-url', emu.api]);
  assert.equal(dirOut.code, 0, dirOut.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(work, `${created.importId}.json`), 'utf8')).length, 1000);
  const noDir = await run(['dromo', 'results', created.importId, '--out', path.join(work, 'nope', 'x.json'), '--base-url', emu.api]);
  assert.equal(noDir.code, 2, noDir.stderr);
  assert.match(noDir.stderr, /does not exist/);
  // A symlink planted where a partial file might go is never written through.
  const victim = path.join(work, 'victim.txt');
  fs.writeFileSync(victim, 'keep me');
  fs.symlinkSync(victim, `${resFile}.partial`);
  const again = await run(['dromo', 'results', created.importId, '--out', resFile, '--base-url', emu.api]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  fs.rmSync(`${resFile}.partial`);
  // --ndjson streams one row per line; piped without it, one compact array.
  const nd = await run(['dromo', 'results', created.importId, '--ndjson', '--base-url', emu.api]);
  assert.equal(nd.code, 0, nd.stderr);
  assert.deepEqual(nd.events, all);
  assert.equal(nd.stdout.split('\n').length, 1001);
  const arr = await run(['dromo', 'results', created.importId, '--base-url', emu.api]);
  assert.equal(arr.stdout, JSON.stringify(all) + '\n');
  // A download that cannot finish: exit 1, the file asked for is not written, the rows so far are
  // in FILE.partial.
  const cut = path.join(work, 'cut.json');
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'storage.get', kind: 'reset_mid_download', bytes: 5, count: 10 }] }) });
  try {
    const failed = await run(['dromo', 'results', created.importId, '--out', cut, '--base-url', emu.api]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /Connection error/);
    assert.ok(!fs.existsSync(cut), 'no truncated file under the name asked for');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }

  // list shows it, one JSON import per line
  const ls = await run(['dromo', 'list', '--limit', '5', '--base-url', emu.api]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.ok(ls.events.some((i) => i.id === created.importId && i.original_filename === 'contacts.csv'));
});

test('NEEDS_REVIEW exits 3 with the review URL; FAILED exits 4; several files: the most severe', async () => {
  const review = tempFile('review.csv', REVIEW);
  const r = await run(['dromo', 'import', review, '--schema-id', CONTACTS, ...dromoArgs()]);
  assert.equal(r.code, 3, r.stderr);
  const done = r.events.find((e) => e.event === 'done');
  assert.equal(done.status, 'NEEDS_REVIEW');
  assert.match(done.reviewUrl, /^http:\/\/127\.0\.0\.1:\d+\/headless\/[0-9a-f-]+\/$/);

  // The same file with an inline schema (--schema) that needs no email: SUCCESSFUL.
  const schema = tempFile('schema.json', JSON.stringify({ fields: [{ key: 'first', label: 'First Name', type: 'string' }] }));
  const inline = await run(['dromo', 'import', review, '--schema', schema, '--out', path.join(work, 'inline'), ...dromoArgs()]);
  assert.equal(inline.code, 0, inline.stderr);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(work, 'inline', 'review.json'), 'utf8')), [{ first: 'Ada' }]);

  const failed = tempFile('headers.csv', HEADER_ONLY);
  const f = await run(['dromo', 'import', failed, '--schema-id', CONTACTS, ...dromoArgs()]);
  assert.equal(f.code, 4, f.stderr);
  const err = f.events.find((e) => e.event === 'error');
  assert.equal(err.code, 'import_failed');
  assert.equal(err.status, 'FAILED');
  assert.ok(err.importId);

  const ok = path.join(ROOT, 'examples/contacts.csv');
  const all = await run(['dromo', 'import', ok, review, failed, '--schema-id', CONTACTS, '--concurrency', '2', ...dromoArgs()]);
  assert.equal(all.code, 4, 'failed beats needs-review beats success');
  assert.equal(all.events.filter((e) => e.event === 'created').length, 3);
  assert.equal(all.events.filter((e) => e.event === 'done' || e.event === 'error').length, 3);
});

test('usage errors exit 2 before any request', async () => {
  const good = tempFile('good.csv', 'First Name\nAda\n');
  const empty = tempFile('empty.csv', '');
  const before = await control(`${emu.control}/stats`);
  const cases = [
    ['dromo', 'import', good, ...dromoArgs()], // no schema
    ['dromo', 'import', good, '--schema-id', CONTACTS, '--schema', good, ...dromoArgs()],
    ['dromo', 'import', '--schema-id', CONTACTS, ...dromoArgs()], // no files
    ['dromo', 'import', path.join(work, 'missing.csv'), '--schema-id', CONTACTS, ...dromoArgs()],
    ['dromo', 'import', empty, '--schema-id', CONTACTS, ...dromoArgs()],
    ['dromo', 'import', good, '--schema-id', CONTACTS, '--bogus', ...dromoArgs()],
    ['dromo', 'import', good, '--schema-id', CONTACTS, '--no-wait', '--out', work, ...dromoArgs()],
    ['dromo', 'import', good, '--schema-id', CONTACTS, '--concurrency', '0', ...dromoArgs()],
    ['dromo', 'import', good, '--schema', good, ...dromoArgs()], // not JSON
    ['dromo', 'list', '--entity', 'company', '--base-url', emu.api],
    ['exa', 'import', good, ...exaArgs()], // no --entity
    ['exa', 'import', good, '--entity', 'custom', ...exaArgs()], // custom needs a description
    ['exa', 'import', good, '--entity', 'planet', ...exaArgs()],
    ['exa', 'results', 'x', '--base-url', emu.exa],
    ['nope', 'list'],
    [],
  ];
  for (const args of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^headless-imports: .+\nRun "headless-imports --help" for usage\.\n$/);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(await control(`${emu.control}/stats`), before, 'no request was made');

  const help = await run(['dromo', 'import', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--schema-id ID/);
  assert.match(help.stdout, /130 +interrupted/);
  const v = await run(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'pkg/package.json'), 'utf8')).version);
});

test('exa import of a CSV: exit 0, then list and status', async () => {
  const csv = tempFile('companies.csv', 'name,url\nAcme,"acme.com"\n"Foo, Inc.",foo.com\n');
  const r = await run(['exa', 'import', csv, '--entity', 'company', '--title', 'CLI test', ...exaArgs()]);
  assert.equal(r.code, 0, r.stderr);
  const created = r.events.find((e) => e.event === 'created');
  assert.match(created.importId, /^import_/);
  assert.equal(created.count, 2);
  // Counted first, then created: the line stops saying "counting records" once the create is sent.
  assert.deepEqual(r.events.filter((e) => e.event === 'start').map((e) => e.phase), ['counting', 'creating']);
  assert.ok(r.events.findIndex((e) => e.event === 'start' && e.phase === 'creating') < r.events.indexOf(created));
  assert.ok(r.events.some((e) => e.event === 'progress'));
  assert.deepEqual(r.events.at(-1), { event: 'done', file: 'companies.csv', importId: created.importId, status: 'completed', waited: true });

  const ls = await run(['exa', 'list', '--limit', '5', '--base-url', emu.exa]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.ok(ls.events.some((i) => i.id === created.importId && i.title === 'CLI test'));
  const st = await run(['exa', 'status', created.importId, '--base-url', emu.exa]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(st.events[0].status, 'completed');

  const bad = tempFile('nourl.csv', 'name,city\nAcme,Paris\n');
  const f = await run(['exa', 'import', bad, '--entity', 'company', ...exaArgs()]);
  assert.equal(f.code, 4);
  assert.equal(f.events.find((e) => e.event === 'error').failedReason, 'missing_identifier');
});

test('on a terminal: a progress bar per file and a live status line', async () => {
  const csv = path.join(ROOT, 'examples/contacts.csv');
  const review = tempFile('review.csv', REVIEW);
  const cmd = [bin, 'dromo', 'import', csv, review, '--schema-id', CONTACTS, ...dromoArgs()]
    .map((a) => `'${a}'`)
    .join(' ');
  const env = { ...process.env, DROMO_API_KEY: KEY, TERM: 'xterm' };
  const { code, out } = await new Promise((resolve, reject) => {
    // script(1) gives the CLI a pty; -e passes its exit status through.
    const child = spawn('script', ['-qfec', `stty cols 120 rows 40; ${cmd}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  assert.equal(code, 3, out);
  assert.match(out, /contacts\.csv +\[█+░*\] +\d+%  [\d.]+ KB\/45\.7 KB  uploading/, 'progress bar');
  assert.match(out, /\[█{24}\] 100%/);
  assert.match(out, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] status (PENDING|RUNNING|SUCCESSFUL)  \d+\.\ds  \(import [0-9a-f-]+\)/, 'live status line');
  assert.match(out, /contacts\.csv +✔ SUCCESSFUL  \(import [0-9a-f-]+\)/, 'no --out: done, rows not downloaded');
  assert.match(out, /review\.csv +! NEEDS_REVIEW: finish it at http:\/\/127\.0\.0\.1/);
  assert.match(out, /\x1b\[\d+F\x1b\[J/, 'redraws in place');
  assert.ok(!out.includes('{"event"'), 'no NDJSON on a terminal');
});

test('Ctrl-C aborts the upload, prints the created import id and exits 130', async () => {
  // ~50 MB: the upload takes long enough to be interrupted while running.
  const big = path.join(work, 'big.csv');
  const fd = fs.openSync(big, 'w');
  fs.writeSync(fd, 'First Name,Last Name,Email Address,Age\n');
  const chunk = Array.from({ length: 10_000 }, (_, i) => `N${i},L${i},u${i}@example.com,${i % 90}`).join('\n') + '\n';
  for (let i = 0; i < 130; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);

  let sent = false;
  const r = await run(['dromo', 'import', big, '--schema-id', CONTACTS, '--base-url', emu.api, '--interval', '60000'], {
    onStdout: (text, child) => {
      if (!sent && text.includes('"event":"progress"')) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.ok(sent, 'progress was seen');
  assert.equal(r.code, 130, r.stderr);
  const created = r.events.find((e) => e.event === 'created');
  const aborted = r.events.at(-1);
  assert.equal(aborted.event, 'aborted');
  assert.deepEqual(aborted.importIds, [created.importId]);
  assert.ok(!r.events.some((e) => e.event === 'done'));
  // Nothing keeps uploading: either the upload was cut (no stored file) or it had completed.
  await new Promise((res) => setTimeout(res, 300));
  const stored = await control(`${emu.control}/uploads/${created.importId}`);
  if (stored) assert.equal(stored.size, fs.statSync(big).size);
  const imp = (await control(`${emu.control}/dromo/imports/${created.importId}`)).import;
  if (!stored) assert.equal(imp.status, 'AWAITING_UPLOAD');
});

test('a second Ctrl-C leaves at once, still printing the created import ids', async () => {
  // Exa deletes an aborted import; that cleanup is held up 4 s here, which the second Ctrl-C skips.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'exa.delete', kind: 'slow', ms: 4000, count: 1 }, { route: 'storage.put', kind: 'slow', ms: 4000, count: 1 }] }) });
  try {
    const file = path.join(work, 'companies2.csv');
    fs.writeFileSync(file, 'name,website\nAcme,https://acme.example\n');
    let second = 0;
    const r = await run(['exa', 'import', file, '--entity', 'company', ...exaArgs()], {
      onStdout: (text, child) => {
        if (!second && text.includes('"event":"created"')) {
          child.kill('SIGINT');
          setTimeout(() => { second = Date.now(); child.kill('SIGINT'); }, 500);
        }
      },
    });
    assert.ok(second, 'both signals were sent');
    assert.ok(Date.now() - second < 2500, `left at once, not after the cleanup (${Date.now() - second} ms)`);
    assert.equal(r.code, 130, r.stderr);
    const created = r.events.find((e) => e.event === 'created');
    const aborted = r.events.at(-1);
    assert.equal(aborted?.event, 'aborted', r.stdout);
    assert.deepEqual(aborted.importIds, [created.importId]);
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('Ctrl-C during a create: the import its lost answer made is listed, and whether it was deleted', async () => {
  // The create is made at once and answered 3 s later; the cleanup's delete of it then fails.
  await fetch(`${emu.control}/faults`, { method: 'POST', body: JSON.stringify({ seed: 1, rules: [{ route: 'exa.create', kind: 'slow', ms: 3000, count: 1 }, { route: 'exa.delete', kind: 'status', status: 500, count: 1 }] }) });
  try {
    const file = path.join(work, 'companies3.csv');
    fs.writeFileSync(file, 'name,website\nAcme,https://acme.example\n');
    let sent = false;
    const r = await run(['exa', 'import', file, '--entity', 'company', ...exaArgs()], {
      onStdout: (text, child) => {
        if (!sent && text.includes('"event":"start"')) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 500);
        }
      },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.ok(!r.events.some((e) => e.event === 'created'), 'the answer never came');
    const error = r.events.find((e) => e.event === 'error');
    assert.equal(error?.deleted, false, JSON.stringify(error));
    const aborted = r.events.at(-1);
    assert.equal(aborted?.event, 'aborted');
    assert.deepEqual(aborted.importIds, [error.importId], 'the import left on the server is listed');
    assert.deepEqual(aborted.deletedIds, []);
    const server = await (await fetch(`${emu.exa}/v0/imports`, { headers: { 'x-api-key': EXA_KEY } })).json();
    assert.ok(server.data.some((/** @type {any} */ i) => i.id === error.importId), 'it is there');
  } finally {
    await fetch(`${emu.control}/faults`, { method: 'DELETE' });
  }
});

test('text from a server never reaches the terminal as control sequences (retitle, clear, bidi)', async () => {
  const http = await import('node:http');
  const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil';
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url?.includes('/imports/?')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ count: 1, next: null, previous: null, results: [{ id: 'x', status: EVIL, created_date: EVIL, original_filename: EVIL }] }));
    }
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: EVIL }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const base = `http://127.0.0.1:${/** @type {any} */ (server.address()).port}/api/v1`;
  try {
    const status = await run(['dromo', 'status', 'abc', '--base-url', base]);
    assert.equal(status.code, 1);
    const list = await run(['dromo', 'list', '--base-url', base]);
    assert.equal(list.code, 0, list.stderr);
    // Under a pty, as a person sees it (the table and the error line).
    const tty = await new Promise((resolve, reject) => {
      const cmd = `'${bin}' dromo list --base-url '${base}'; '${bin}' dromo status abc --base-url '${base}'`;
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, DROMO_API_KEY: KEY, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', (d) => (out += d));
      child.once('error', reject);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
    for (const [what, text] of [['status stderr', status.stderr], ['list stdout', list.stdout], ['terminal', tty]]) {
      assert.ok(!/[\u0007\u001b\u009b\u202e]/.test(/** @type {string} */ (text)), `${what} carries a control character: ${JSON.stringify(text)}`);
    }
    assert.match(status.stderr, /\\u001b\]0;pwned\\u0007/, 'shown escaped, not dropped');
    assert.match(/** @type {string} */ (tty), /\\u001b\[2J/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

/** `storage.get` hits so far: result downloads. */
const downloads = async () => (await control(`${emu.control}/stats`)).requests['storage.get'] ?? 0;

test('without --out no rows are downloaded; uploaded reports no status the server did not send; --json on a terminal', async () => {
  const csv = path.join(ROOT, 'examples/contacts.csv');
  const before = await downloads();
  const { code, events, stderr } = await run(['dromo', 'import', csv, '--schema-id', CONTACTS, ...dromoArgs()]);
  assert.equal(code, 0, stderr);
  assert.equal(await downloads(), before, 'nothing fetched from storage');
  const uploaded = events.find((e) => e.event === 'uploaded');
  assert.ok(uploaded && !('status' in uploaded), JSON.stringify(uploaded));
  const done = events.find((e) => e.event === 'done');
  assert.equal(done.status, 'SUCCESSFUL');
  assert.ok(!('rows' in done));
  assert.equal(events.filter((e) => e.event === 'done').length, 1);
  // --json: NDJSON even under a pty.
  const cmd = [bin, 'dromo', 'list', '--limit', '1', '--json', ...dromoArgs()].map((a) => `'${a}'`).join(' ');
  const out = await new Promise((resolve) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, DROMO_API_KEY: KEY, TERM: 'xterm' } });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.once('close', () => resolve(text));
  });
  assert.match(String(out), /^\{"id":/m);
});

test('list pages: --offset, --cursor and --all', async () => {
  const files = ['p1.csv', 'p2.csv', 'p3.csv'].map((n) => tempFile(n, 'First Name,Last Name,Email Address,Age\nAda,L,a@example.com,3\n'));
  assert.equal((await run(['dromo', 'import', ...files, '--schema-id', CONTACTS, '--no-wait', ...dromoArgs()])).code, 0);
  const all = await run(['dromo', 'list', '--all', '--limit', '2', ...dromoArgs()]);
  assert.equal(all.code, 0, all.stderr);
  const ids = all.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
  assert.ok(ids.length >= 3);
  assert.equal(new Set(ids).size, ids.length, 'each import once');
  const second = await run(['dromo', 'list', '--limit', '1', '--offset', '1', ...dromoArgs()]);
  assert.deepEqual(second.stdout.trim().split('\n').map((l) => JSON.parse(l).id), [ids[1]]);
  assert.match(second.stderr, /^next: --offset 2$/m, 'where the next page starts, for scripts');
  // Exa: the cursor of the first page gives the second.
  const companies = ['e1.csv', 'e2.csv'].map((n) => tempFile(n, 'url,name\nhttps://a.example,A\n'));
  assert.equal((await run(['exa', 'import', ...companies, '--entity', 'company', '--no-wait', ...exaArgs()])).code, 0);
  const exaAll = await run(['exa', 'list', '--all', '--limit', '1', ...exaArgs()]);
  const exaIds = exaAll.stdout.trim().split('\n').map((l) => JSON.parse(l).id);
  assert.ok(exaIds.length >= 2);
  assert.equal(new Set(exaIds).size, exaIds.length);
  const bad = await run(['dromo', 'list', '--all', '--offset', '2', ...dromoArgs()]);
  assert.equal(bad.code, 2);
});

test('exa import --identifier names the identifying column', async () => {
  const csv = tempFile('sites.csv', 'site,name\nhttps://acme.example,Acme\n');
  const without = await run(['exa', 'import', csv, '--entity', 'company', ...exaArgs()]);
  assert.equal(without.code, 4, without.stdout);
  assert.match(without.stdout, /missing_identifier/);
  const withId = await run(['exa', 'import', csv, '--entity', 'company', '--identifier', '0', ...exaArgs()]);
  assert.equal(withId.code, 0, withId.stdout + withId.stderr);
  assert.equal(withId.events.find((e) => e.event === 'done')?.status, 'completed');
});

test('results piped into head exits quietly; unknown flags and a 401 say what to do', async () => {
  const csv = path.join(ROOT, 'examples/contacts.csv');
  const { events } = await run(['dromo', 'import', csv, '--schema-id', CONTACTS, ...dromoArgs()]);
  const id = events.find((e) => e.event === 'done').importId;
  const piped = await new Promise((resolve) => {
    const child = spawn('sh', ['-c', `'${bin}' dromo results ${id} --base-url '${emu.api}' | head -c 100 > /dev/null`], { env: { ...process.env, DROMO_API_KEY: KEY } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.once('close', (code) => resolve({ code, stderr }));
  });
  assert.deepEqual(piped, { code: 0, stderr: '' });
  // An import whose log is cut off goes on: its imports are made, not left half done.
  const before = (await (await fetch(`${emu.api}/headless/imports/?limit=1000`, { headers: { 'X-Dromo-License-Key': KEY } })).json()).count;
  const two = [tempFile('cut1.csv', fs.readFileSync(csv, 'utf8')), tempFile('cut2.csv', fs.readFileSync(csv, 'utf8'))];
  const cut = await new Promise((resolve) => {
    const child = spawn('bash', ['-c', `set -o pipefail; '${bin}' dromo import '${two[0]}' '${two[1]}' --schema-id ${CONTACTS} --base-url '${emu.api}' --json | head -n 1 > /dev/null; echo "exit $?" >&2`], { env: { ...process.env, DROMO_API_KEY: KEY } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.once('close', () => resolve(stderr));
  });
  assert.equal(cut, 'exit 0\n', 'nothing printed, and the outcome (both imported) is the exit code');
  const page = await (await fetch(`${emu.api}/headless/imports/?limit=1000`, { headers: { 'X-Dromo-License-Key': KEY } })).json();
  assert.equal(page.count, before + 2);
  assert.ok(page.results.slice(0, 2).every((/** @type {any} */ i) => i.status === 'SUCCESSFUL'), JSON.stringify(page.results.slice(0, 2)));
  const unknown = await run(['dromo', 'import', csv, '--schema-id', CONTACTS, '--sceham', 'x', ...dromoArgs()]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option --sceham for "dromo import" \(options: .*--schema-id/);
  assert.doesNotMatch(unknown.stderr, /positional argument/);
  const wrongKey = await new Promise((resolve) => {
    const child = spawn(bin, ['dromo', 'list', ...dromoArgs()], { env: { ...process.env, DROMO_API_KEY: 'not-the-key' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.once('close', (code) => resolve({ code, stderr }));
  });
  assert.equal(/** @type {any} */ (wrongKey).code, 1);
  assert.match(/** @type {any} */ (wrongKey).stderr, /Check DROMO_API_KEY \(or --api-key\)/);
  const flagKey = await run(['dromo', 'list', '--api-key', 'not-the-key', ...dromoArgs()]);
  assert.match(flagKey.stderr, /Check --api-key\.$/m);
});

test('on a terminal, a file held back by the rate limit says "waiting for a create slot" with the seconds left', async () => {
  const { ttyReporter } = await import(path.join(path.dirname(bin), '../headless-imports/bin/report.js'));
  let text = '';
  const out = /** @type {any} */ ({ columns: 100, write: (/** @type {string} */ s) => (text += s) });
  const report = ttyReporter(['a.csv', 'b.csv'], out);
  report.emit({ event: 'start', file: 'b.csv', phase: 'creating' });
  report.emit({ event: 'queued', file: 'b.csv', for: 'create', waitMs: 42_000 });
  assert.match(text, /b\.csv +[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for a create slot \(rate limit\), (42|41) s/);
  report.emit({ event: 'created', file: 'b.csv', importId: 'i', size: 10 });
  report.emit({ event: 'error', file: 'a.csv', code: 'authentication_error', message: '401' });
  report.emit({ event: 'done', file: 'b.csv', status: 'SUCCESSFUL', waited: true });
  report.finish();
  report.finish();
  assert.match(text, /2\/2 finished \(1 failed\)/);
  assert.equal(text.split('\x1b[?25h').length, 2, 'finished once');
});

test('results of an import still at NEEDS_REVIEW exit 3 with the review URL, not the API\'s bare 4xx', async () => {
  const review = tempFile('needs-review.csv', REVIEW);
  const first = await run(['dromo', 'import', review, '--schema-id', CONTACTS, ...dromoArgs()]);
  assert.equal(first.code, 3, first.stdout + first.stderr);
  const id = first.events.find((e) => e.event === 'done').importId;
  const results = await run(['dromo', 'results', id, ...dromoArgs()]);
  assert.equal(results.code, 3, results.stderr);
  assert.match(results.stderr, /needs a review first: finish it at http:\/\/127\.0\.0\.1/);
});

test('webhook listen prints verified events as NDJSON and refuses forged ones; import --webhook-port waits through events', async () => {
  const crypto = await import('node:crypto');
  const net = await import('node:net');
  const freePort = () => new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
  const port = /** @type {number} */ (await freePort());
  const secret = 'whsec_cli';
  const body = JSON.stringify({ id: 'evt_cli', object: 'event', type: 'import.completed', data: { id: 'import_1' }, createdAt: '2026-11-30T00:00:00Z' });
  const t = Math.floor(Date.now() / 1000);
  const sig = (/** @type {string} */ s) => `t=${t},v1=${crypto.createHmac('sha256', s).update(`${t}.${body}`).digest('hex')}`;
  const posted = [];
  const r = await run(['exa', 'webhook', 'listen', '--port', String(port), '--webhook-secret', secret, '--base-url', emu.exa], {
    onStdout: () => {},
    timeoutMs: 20_000,
    onStart: async (/** @type {any} */ child) => {
      // Wait for it to listen, then deliver a genuine and a forged event, then stop it.
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'exa-signature': sig(secret) } }).catch(() => null);
        if (ok) {
          posted.push(ok.status);
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      posted.push((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'exa-signature': sig('forged') } })).status);
      child.kill('SIGINT');
    },
  });
  assert.deepEqual(posted, [200, 401]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.events.map((e) => e.id), ['evt_cli']);
  assert.match(r.stderr, /refused a delivery \(401\)/);
  const missing = await run(['exa', 'webhook', 'listen', '--port', String(port), '--base-url', emu.exa]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /EXA_WEBHOOK_SECRET/);

  // A Dromo import that waits on the webhooks the emulator delivers to the CLI's receiver.
  const hookPort = /** @type {number} */ (await freePort());
  await fetch(`${emu.control}/dromo/webhooks`, { method: 'POST', body: JSON.stringify({ url: `http://127.0.0.1:${hookPort}/` }) });
  try {
    const csv = tempFile('hooked.csv', 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n');
    const imp = await run(['dromo', 'import', csv, '--schema-id', CONTACTS, '--webhook-port', String(hookPort), '--base-url', emu.api]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(imp.events.find((e) => e.event === 'done')?.status, 'SUCCESSFUL');
  } finally {
    await fetch(`${emu.control}/dromo/webhooks`, { method: 'DELETE' });
  }
});
