// @ts-check
// `import --journal` (the library's importFiles with a journal) as a user meets it: real CLI
// processes, installed from the packed tarball, against the real emulator. The crash test kills
// a journaled bulk import with SIGKILL at random points and runs the same command again until it
// is done, then counts the imports on the emulator's side: each file ends in exactly one
// successful import, and nothing was created that the journal did not announce.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { startEmulator, installPackage, loadPackage, control, KEY, CONTACTS } from './helpers/env.js';

const EXA_KEY = 'test-exa-key';
/** @type {string} */ let bin;
/** @type {string} */ let work;

before(() => {
  bin = path.join(installPackage(), 'node_modules', '.bin', 'headless-imports');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hi-journal-'));
});
after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/**
 * @typedef {{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, events: any[] }} Run
 */

/**
 * Runs the CLI in `dir` (NDJSON on stdout). `killAfterMs` sends SIGKILL that long after its first
 * event (so a slow start on a busy machine does not eat the run); `killWhen` once the events
 * printed so far satisfy it; `killOnce` once the promise it returns resolves true. `prefix`: a
 * command the CLI runs under (`unshare ...`, a shell); `program`: another program than the CLI
 * (a script of the library's); `env`: more environment; `onChild` is handed the process (to stop it).
 * @param {string} dir @param {string[]} args
 * @param {{ killAfterMs?: number, killWhen?: (events: any[]) => boolean, killOnce?: () => boolean | Promise<boolean>, timeoutMs?: number, prefix?: string[], program?: string[], env?: Record<string, string>, onChild?: (child: import('node:child_process').ChildProcess) => void }} [opts]
 * @returns {Promise<Run>}
 */
function run(dir, args, opts = {}) {
  return new Promise((resolve, reject) => {
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, DROMO_API_KEY: KEY, EXA_API_KEY: EXA_KEY, ...opts.env };
    delete env.DROMO_BASE_URL;
    delete env.EXA_BASE_URL;
    const [cmd, ...rest] = [...(opts.prefix ?? []), ...(opts.program ?? [bin]), ...args];
    const child = spawn(cmd, rest, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.onChild?.(child);
    let stdout = '';
    let stderr = '';
    /** @type {NodeJS.Timeout | undefined} */
    let kill;
    const limit = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.killAfterMs !== undefined && !kill) kill = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
      if (opts.killWhen?.(parse(stdout))) child.kill('SIGKILL');
    });
    if (opts.killOnce) {
      const check = opts.killOnce;
      void (async () => {
        while (child.exitCode === null && child.signalCode === null) {
          if (await check()) return void child.kill('SIGKILL');
          await new Promise((res) => setTimeout(res, 25));
        }
      })();
    }
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(kill);
      clearTimeout(limit);
      for (const text of [stdout, stderr]) assert.ok(!text.includes(KEY) && !text.includes(EXA_KEY), 'the key is never printed');
      resolve({ code, signal, stdout, stderr, events: parse(stdout) });
    });
  });
}

/** The events in NDJSON output; a killed run may leave half a line, so only whole lines count. @param {string} stdout */
const parse = (stdout) =>
  stdout
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

/** A text's SHA-256, hex. @param {string} text */
const sha = (text) => crypto.createHash('sha256').update(text).digest('hex');

/** The SHA-256 of the bytes the emulator stored for import `id`. @param {{ control: string }} emu @param {string} id */
const storedSha = async (emu, id) => (await control(`${emu.control}/uploads/${id}`))?.sha256;

/** Request counts of the emulator. @param {{ control: string }} emu @returns {Promise<Record<string, number>>} */
const requests = async (emu) => (await control(`${emu.control}/stats`)).requests;

/** Installs a fault plan (none with `rules` empty). @param {{ control: string }} emu @param {object[]} rules */
const faults = (emu, rules) => fetch(`${emu.control}/faults`, rules.length ? { method: 'POST', body: JSON.stringify({ seed: 1, rules }) } : { method: 'DELETE' });

const CONTACT_ROWS = 'First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n';
const COMPANY_ROWS = 'url,name\nhttps://acme.example,Acme\n';

/** A fresh directory with files `name -> contents`. @param {Record<string, string>} files */
function folder(files) {
  const dir = fs.mkdtempSync(path.join(work, 'case-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** The journal's lines, each parsed (every line is whole: the writer appends whole lines). @param {string} file */
const journalLines = (file) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l));

/** A deterministic generator (mulberry32), so a failing seed can be replayed. @param {number} seed */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every import the emulator has, through the API (newest first). @param {string} base @param {'dromo' | 'exa'} provider */
async function allImports(base, provider) {
  const out = [];
  if (provider === 'dromo') {
    for (let offset = 0; ; offset += 1000) {
      const page = await (await fetch(`${base}/headless/imports/?offset=${offset}&limit=1000`, { headers: { 'X-Dromo-License-Key': KEY } })).json();
      out.push(...page.results);
      if (offset + page.results.length >= page.count) return out;
    }
  }
  for (let cursor = ''; ; ) {
    const page = await (await fetch(`${base}/v0/imports?limit=200${cursor ? `&cursor=${cursor}` : ''}`, { headers: { 'x-api-key': EXA_KEY } })).json();
    out.push(...page.data);
    if (!page.hasMore) return out;
    cursor = page.nextCursor;
  }
}

/** Which step a file was at when its run was killed, from the last event the run printed for it. @param {any[]} events */
function phasesAtKill(events) {
  /** @type {Map<string, string>} */
  const last = new Map();
  for (const e of events) if (e.file) last.set(e.file, e.event);
  const phase = (/** @type {string} */ ev) =>
    ({ start: 'before create', queued: 'before create', created: 'created, not uploaded', resumed: 'resuming', progress: 'uploading', uploaded: 'waiting', status: 'waiting' })[ev] ?? 'finished';
  return new Set([...last.values()].map(phase));
}

/**
 * The crash test for one provider: a journaled bulk import of `count` files, killed with SIGKILL
 * at `kills` random points, run again each time, then once more to the end. `adopt`: with
 * `--adopt-orphans` (Dromo: a killed run's unjournaled import is used, not left alone).
 * @param {'dromo' | 'exa'} provider @param {number} count @param {number} kills @param {{ adopt?: boolean }} [opts]
 */
async function crashAndResume(provider, count, kills, { adopt = false } = {}) {
  const seed = Number(process.env.HI_JOURNAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = rng(seed);
  console.log(`${provider} crash test seed ${seed} (HI_JOURNAL_SEED=${seed} replays it)`);
  // Processing takes ~0.6 s after an upload (time scale 0.3); the faults stretch the steps in
  // between so the kills land in each: a create answered late (the import exists, its id not yet
  // journaled: the orphan window), an upload stored but answered late, uploads cut mid-way.
  const emu = await startEmulator(['--time-scale', '0.3', '--no-rate-limit']);
  const started = Date.now();
  try {
    await fetch(`${emu.control}/faults`, {
      method: 'POST',
      body: JSON.stringify({
        seed,
        rules: [
          { route: `${provider}.create`, kind: 'slow', ms: 500, rate: 0.35 },
          { route: 'storage.put', kind: 'slow', ms: 500, rate: 0.3 },
          { route: 'storage.put', kind: 'reset_mid_upload', rate: 0.15 },
          { route: `${provider}.get`, kind: 'slow', ms: 300, rate: 0.2 },
        ],
      }),
    });
    const dir = fs.mkdtempSync(path.join(work, `${provider}-crash-`));
    const files = Array.from({ length: count }, (_, i) => {
      const name = `f${String(i).padStart(2, '0')}.csv`;
      const rows = provider === 'dromo'
        ? `First Name,Last Name,Email Address,Age\n${Array.from({ length: 50 + i }, (_, r) => `N${r},L${i},u${r}.${i}@example.com,${r % 90}`).join('\n')}\n`
        : `url,name\n${Array.from({ length: 50 + i }, (_, r) => `https://c${r}-${i}.example,C${r}`).join('\n')}\n`;
      fs.writeFileSync(path.join(dir, name), rows);
      return name;
    });
    const base = provider === 'dromo' ? /** @type {any} */ (emu).api : /** @type {any} */ (emu).exa;
    const args = [provider, 'import', ...files, '--journal', 'journal.ndjson', '--base-url', base, '--concurrency', '4', '--interval', '1000',
      ...(provider === 'dromo' ? ['--schema-id', CONTACTS] : ['--entity', 'company']), ...(adopt ? ['--adopt-orphans'] : [])];

    /** @type {Set<string>} */
    const phases = new Set();
    let recovered = 0;
    let deletedOrphans = 0;
    /** @type {Set<string>} possible orphans a run told of and left alone */
    const told = new Set();
    // Bounded in count and in time (a machine busy with other work slows every run down).
    let k = 0;
    for (; k < kills && Date.now() - started < 50_000; k++) {
      // Killed 0.1 to 1.9 s after its first event: each run gets somewhere before it dies.
      const r = await run(dir, args, { killAfterMs: 100 + Math.floor(random() * 1800) });
      recovered += r.events.filter((e) => e.event === 'recovered').length;
      deletedOrphans += r.events.filter((e) => e.event === 'abandoned' && e.reason === 'orphan').length;
      for (const e of r.events) if (e.event === 'left') told.add(e.importId);
      if (r.signal === 'SIGKILL') for (const p of phasesAtKill(r.events)) phases.add(p);
      else assert.equal(r.code, 0, `run ${k} ended by itself: ${r.stderr}`);
    }
    const last = await run(dir, args, { timeoutMs: 45_000 });
    for (const e of last.events) if (e.event === 'left') told.add(e.importId);
    assert.equal(last.code, 0, `the last run: ${last.signal ?? ''} ${last.stderr} ${last.stdout.slice(-2000)}`);
    console.log(`${provider}${adopt ? ' --adopt-orphans' : ''}: ${k} kills landed in: ${[...phases].join(', ')}; orphans found and used ${recovered}, deleted ${deletedOrphans}, left alone ${told.size}; ${Date.now() - started} ms`);
    assert.ok(k >= kills / 2, `at least half the kills happened in time: ${k}`);
    assert.ok(phases.size >= 3, `the kills landed in several phases: ${[...phases]}`);

    // The summary covers every file, those finished by earlier runs too.
    const summary = last.events.at(-1);
    assert.equal(summary.event, 'summary');
    assert.deepEqual(summary.files.map((/** @type {any} */ f) => f.file), files);
    assert.ok(summary.files.every((/** @type {any} */ f) => f.outcome === 'succeeded'), JSON.stringify(summary.files.filter((/** @type {any} */ f) => f.outcome !== 'succeeded')));
    assert.ok(summary.files.some((/** @type {any} */ f) => f.earlier), 'some files were finished by an earlier run');

    // The emulator's side: one import per file, successful, and the one the summary names.
    const lines = journalLines(path.join(dir, 'journal.ndjson'));
    const intents = lines.filter((l) => l.type === 'intent');
    const imports = await allImports(base, provider);
    const stats = await control(`${emu.control}/stats`);
    const creates = stats.requests[`${provider}.create`];
    assert.ok(creates <= intents.length, `every create was journaled first: ${creates} creates, ${intents.length} intents`);
    /** @type {Map<string, any[]>} */
    const byFile = new Map(files.map((f) => [f, []]));
    if (provider === 'dromo') {
      for (const imp of imports) byFile.get(imp.original_filename)?.push(imp);
      if (adopt) {
        assert.equal(imports.length, count, 'no import beyond one per file');
        assert.equal(creates, count, 'each create made the one import of its file');
      } else {
        // Fail-safe: a killed run's unjournaled import is never proven ours, so it is left alone
        // (waiting for a file: none of the file's data went into it) and named in the summary.
        assert.ok(!imports.some((i) => told.has(i.id) && i.status !== 'AWAITING_UPLOAD'), 'every import left alone still waits for its file');
        for (const [file, list] of byFile) {
          const mine = summary.files.find((/** @type {any} */ f) => f.file === file);
          const extra = list.filter((i) => i.id !== mine.importId);
          for (const i of extra) {
            assert.equal(i.status, 'AWAITING_UPLOAD', `${file}: an extra import ${i.id} got data`);
            assert.ok(mine.leftBehind?.includes(i.id), `${file}: the extra import ${i.id} is named in leftBehind (${mine.leftBehind})`);
          }
          assert.ok(!recovered, 'nothing adopted by default');
          byFile.set(file, list.filter((i) => i.id === mine.importId));
        }
      }
    } else {
      // Each create carries its intent's marker: map markers to files through the journal.
      const fileOf = new Map(intents.map((l) => [l.marker, path.basename(l.path)]));
      for (const imp of imports) {
        const marker = imp.metadata?.headlessImportsJournal;
        assert.ok(fileOf.has(marker), `import ${imp.id} carries a marker the journal announced (${marker})`);
        byFile.get(/** @type {string} */ (fileOf.get(marker)))?.push(imp);
      }
      assert.equal(imports.length, count, 'no import beyond one per file (the orphans found were deleted)');
    }
    for (const [file, list] of byFile) {
      assert.equal(list.length, 1, `${file}: exactly one import, got ${list.map((i) => `${i.id} ${i.status}`)}`);
      assert.equal(list[0].status, provider === 'dromo' ? 'SUCCESSFUL' : 'completed', file);
      assert.equal(list[0].id, summary.files.find((/** @type {any} */ f) => f.file === file).importId);
    }
  } finally {
    await emu.stop();
  }
}

test('crash test (Dromo): 30 files, SIGKILL at 20 random points, resumed each time: one successful import per file', { timeout: 120_000 }, async () => {
  await crashAndResume('dromo', 30, 20);
});

test('crash test (Dromo, --adopt-orphans): 30 files, SIGKILL at 20 random points, resumed each time: exactly one import per file', { timeout: 120_000 }, async () => {
  await crashAndResume('dromo', 30, 20, { adopt: true });
});

test('crash test (Exa): 30 files, SIGKILL at 20 random points, resumed each time: one successful import per file', { timeout: 120_000 }, async () => {
  await crashAndResume('exa', 30, 20);
});

test('the orphan window: killed after the API created an import but before the journal had its id, the next run finds it (Dromo: leaves it alone and reports it, or uses it with --adopt-orphans)', async () => {
  // The create's answer comes 4 s late: the import exists, the process dies before it hears of it.
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    for (const [provider, adopt] of /** @type {const} */ ([['dromo', false], ['dromo', true], ['exa', false]])) {
      await faults(emu, [{ route: `${provider}.create`, kind: 'slow', ms: 4000 }]);
      const late = adopt ? 'late-adopt.csv' : 'late.csv';
      const dir = folder({ [late]: provider === 'dromo' ? CONTACT_ROWS : COMPANY_ROWS });
      const args = [provider, 'import', late, '--journal', 'j.ndjson', '--base-url', provider === 'dromo' ? emu.api : emu.exa,
        ...(provider === 'dromo' ? ['--schema-id', CONTACTS] : ['--entity', 'company']), ...(adopt ? ['--adopt-orphans'] : [])];
      const before = (await requests(emu))[`${provider}.create`] ?? 0;
      const base = provider === 'dromo' ? emu.api : emu.exa;
      const exists = async () =>
        (await allImports(base, provider)).some((i) => (provider === 'dromo' ? i.original_filename === late : i.metadata?.headlessImportsJournal));
      // Killed as soon as the API has the import, while its answer is held back.
      const killed = await run(dir, args, { killOnce: exists });
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(!killed.events.some((e) => e.event === 'created'), 'killed before the create was answered');
      assert.equal((await requests(emu))[`${provider}.create`], before + 1, 'the API did create it');
      assert.deepEqual(journalLines(path.join(dir, 'j.ndjson')).map((l) => l.type), ['journal', 'intent']);
      await faults(emu, []);
      const resumed = await run(dir, args);
      assert.equal(resumed.code, 0, resumed.stderr);
      const imports = (await allImports(provider === 'dromo' ? emu.api : emu.exa, provider)).filter((i) =>
        provider === 'dromo' ? i.original_filename === late : i.metadata?.headlessImportsJournal,
      );
      if (provider === 'dromo' && !adopt) {
        // Nothing proves the orphan ours rather than another client's: left alone, told of (id,
        // name, time) and named in leftBehind; a new import takes the file.
        const left = resumed.events.find((e) => e.event === 'left');
        assert.ok(left, JSON.stringify(resumed.events));
        assert.ok(!resumed.events.some((e) => e.event === 'recovered'));
        assert.equal(left.name, late);
        assert.ok(Number.isFinite(Date.parse(left.createdAt)), left.createdAt);
        assert.match(left.message, /may be one an earlier run created .* or another client's.*delete it if it is yours/);
        const done = resumed.events.find((e) => e.event === 'done');
        assert.notEqual(done.importId, left.importId);
        assert.deepEqual(
          imports.map((i) => [i.id, i.status]).sort(),
          [[done.importId, 'SUCCESSFUL'], [left.importId, 'AWAITING_UPLOAD']].sort(),
        );
        const summary = resumed.events.at(-1);
        assert.deepEqual(summary.files[0].leftBehind, [left.importId]);
        // Told again in every later summary (from the journal), and never taken for an orphan.
        const again = await run(dir, args);
        assert.deepEqual(again.events.at(-1).files[0], { ...summary.files[0], earlier: true });
      } else if (provider === 'dromo') {
        // Dromo keeps nothing of a create but the file name: the orphan is recognised by it (the
        // only import of that name, waiting for its file, made since the intent) and used.
        const recovered = resumed.events.find((e) => e.event === 'recovered');
        assert.ok(recovered, JSON.stringify(resumed.events));
        assert.equal((await requests(emu))['dromo.create'], before + 1, 'no second create');
        assert.deepEqual(imports.map((i) => [i.id, i.status]), [[recovered.importId, 'SUCCESSFUL']]);
      } else {
        // Exa keeps the marker but shows the upload URL only once: the orphan is deleted, a new one made.
        const abandoned = resumed.events.find((e) => e.event === 'abandoned');
        assert.equal(abandoned?.reason, 'orphan', JSON.stringify(resumed.events));
        const done = resumed.events.find((e) => e.event === 'done');
        assert.notEqual(done.importId, abandoned.importId);
        assert.deepEqual(imports.map((i) => [i.id, i.status]), [[done.importId, 'completed']], 'the orphan is gone');
      }
      assert.equal(resumed.events.at(-1).event, 'summary');
    }
  } finally {
    await emu.stop();
  }
});

test('an upload URL that expired while the run was down: the import is deleted, a new one created, and the output says so', async () => {
  // URLs valid 2 s: by the next run the first import's has expired (within the margin).
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit', '--upload-ttl', '2']));
  try {
    for (const provider of /** @type {const} */ (['dromo', 'exa'])) {
      const dir = folder({ 'slow.csv': provider === 'dromo' ? CONTACT_ROWS : COMPANY_ROWS });
      const args = [provider, 'import', 'slow.csv', '--journal', 'j.ndjson', '--base-url', provider === 'dromo' ? emu.api : emu.exa,
        ...(provider === 'dromo' ? ['--schema-id', CONTACTS] : ['--entity', 'company'])];
      // Uploads are cut off (and retried): the process dies while its import waits for the file.
      await faults(emu, [{ route: 'storage.put', kind: 'reset_mid_upload' }]);
      const killed = await run(dir, args, { killWhen: (events) => events.some((e) => e.event === 'created') });
      const first = killed.events.find((e) => e.event === 'created').importId;
      await faults(emu, []);
      const puts = (await requests(emu))['storage.put'] ?? 0;
      const deletes = (await requests(emu))[`${provider}.delete`] ?? 0;
      const resumed = await run(dir, args);
      assert.equal(resumed.code, 0, resumed.stderr);
      const abandoned = resumed.events.find((e) => e.event === 'abandoned');
      assert.deepEqual([abandoned?.importId, abandoned?.reason, abandoned?.deleted], [first, 'upload_url_expired', true], JSON.stringify(resumed.events));
      assert.match(abandoned.message, /upload URL has expired, or expires within a minute.*Creating a new import.*It was deleted/);
      const created = resumed.events.find((e) => e.event === 'created');
      assert.notEqual(created.importId, first);
      assert.equal(resumed.events.find((e) => e.event === 'done').importId, created.importId);
      assert.equal((await requests(emu))['storage.put'], puts + 1, 'no upload to the expired URL: only the new import\'s');
      const lines = journalLines(path.join(dir, 'j.ndjson'));
      assert.ok(lines.some((l) => l.type === 'abandoned' && l.id === first && l.reason === 'upload_url_expired' && l.deleted === true));
      // Given up means gone: nothing waits on the account for a file that will never come.
      assert.equal((await requests(emu))[`${provider}.delete`], deletes + 1);
      assert.equal(await control(`${emu.control}/${provider}/imports/${first}`), null, 'the abandoned import was deleted');
      assert.ok(!(await allImports(provider === 'dromo' ? emu.api : emu.exa, provider)).some((i) => i.id === first));
      assert.equal(resumed.events.at(-1).files[0].leftBehind, undefined);
    }
  } finally {
    await emu.stop();
  }
});

test('a file moved while the run was down is resumed from where it is now: its bytes, not what took its old place', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS });
    const args = (/** @type {string} */ f) => ['dromo', 'import', f, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    // Uploads are cut off (and retried): the process dies while its import waits for the file.
    await faults(emu, [{ route: 'storage.put', kind: 'reset_mid_upload' }]);
    const killed = await run(dir, args('a.csv'), { killWhen: (events) => events.some((e) => e.event === 'created') });
    let first = killed.events.find((e) => e.event === 'created').importId;
    await faults(emu, []);
    fs.renameSync(path.join(dir, 'a.csv'), path.join(dir, 'moved.csv'));
    const other = CONTACT_ROWS.replace('Ada,Lovelace,ada', 'Eve,Eviltwin,eve');
    fs.writeFileSync(path.join(dir, 'a.csv'), other);
    // Named alone, or beside the file now at its old path (another file, not the moved one
    // changed: imported anew, and the moved one's import, in flight, never taken from it).
    for (const files of [['moved.csv'], ['a.csv', 'moved.csv']]) {
      const dir2 = files.length === 1 ? dir : folder({});
      if (files.length === 2) {
        fs.writeFileSync(path.join(dir2, 'a.csv'), CONTACT_ROWS);
        await faults(emu, [{ route: 'storage.put', kind: 'reset_mid_upload' }]);
        const again = await run(dir2, args('a.csv'), { killWhen: (events) => events.some((e) => e.event === 'created') });
        first = again.events.find((e) => e.event === 'created').importId;
        await faults(emu, []);
        fs.renameSync(path.join(dir2, 'a.csv'), path.join(dir2, 'moved.csv'));
        fs.writeFileSync(path.join(dir2, 'a.csv'), `${other}Zed,Zeta,zed@example.com,50\n`);
      }
      const resumed = await run(dir2, [...args(files[0]), ...files.slice(1)]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.ok(!resumed.events.some((e) => e.event === 'abandoned' || e.event === 'note'), JSON.stringify(resumed.events));
      const outcome = resumed.events.at(-1).files;
      const moved = outcome.find((/** @type {any} */ f) => f.file === 'moved.csv');
      assert.equal(moved.importId, first, 'the journaled import is used, not another');
      assert.ok(!resumed.events.some((e) => e.event === 'created' && e.file === 'moved.csv'));
      assert.equal(await storedSha(emu, first), sha(CONTACT_ROWS), 'the moved file\'s bytes went up');
      assert.equal(await control(`${emu.control}/dromo/imports/${first}`).then((v) => v?.import?.status), 'SUCCESSFUL');
      if (files.length === 2) {
        const newcomer = outcome.find((/** @type {any} */ f) => f.file === 'a.csv').importId;
        assert.notEqual(newcomer, first);
        assert.equal(await storedSha(emu, newcomer), sha(`${other}Zed,Zeta,zed@example.com,50\n`));
      }
    }
  } finally {
    await emu.stop();
  }
});

test('a file edited (or moved and edited) while the run was down: the import made for it as it was, still waiting for its file, is deleted, and the new version imported', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    for (const [provider, moved] of /** @type {const} */ ([['dromo', false], ['exa', false], ['dromo', true]])) {
      const rows = provider === 'dromo' ? CONTACT_ROWS : COMPANY_ROWS;
      const dir = folder({ 'a.csv': rows });
      const base = provider === 'dromo' ? emu.api : emu.exa;
      const args = (/** @type {string} */ f) => [provider, 'import', f, '--journal', 'j.ndjson', '--base-url', base, ...(provider === 'dromo' ? ['--schema-id', CONTACTS] : ['--entity', 'company'])];
      await faults(emu, [{ route: 'storage.put', kind: 'reset_mid_upload' }]);
      const killed = await run(dir, args('a.csv'), { killWhen: (events) => events.some((e) => e.event === 'created') });
      const first = killed.events.find((e) => e.event === 'created').importId;
      await faults(emu, []);
      // Moved, then edited: the same device and inode, another path, size and mtime.
      const name = moved ? 'b.csv' : 'a.csv';
      if (moved) fs.renameSync(path.join(dir, 'a.csv'), path.join(dir, name));
      fs.appendFileSync(path.join(dir, name), provider === 'dromo' ? 'Bea,Babbage,bea@example.com,41\n' : 'https://beta.example,Beta\n');
      const resumed = await run(dir, args(name));
      assert.equal(resumed.code, 0, resumed.stderr);
      const abandoned = resumed.events.find((e) => e.event === 'abandoned');
      assert.deepEqual([abandoned?.importId, abandoned?.reason, abandoned?.deleted], [first, 'file_changed', true], JSON.stringify(resumed.events));
      assert.equal(await control(`${emu.control}/${provider}/imports/${first}`), null, 'the old version\'s import was deleted');
      const done = resumed.events.find((e) => e.event === 'done');
      assert.notEqual(done.importId, first);
      assert.equal((await allImports(base, provider)).length, 1, 'only the new version\'s import is left');
      // Nothing more to say about it on the next run.
      const again = await run(dir, args(name));
      assert.ok(!again.events.some((e) => e.event === 'abandoned' || e.event === 'note'), JSON.stringify(again.events));
      await fetch(`${emu.control}/reset`, { method: 'POST' });
    }
  } finally {
    await emu.stop();
  }
});

test('one file moved and another put in its place, of the same size and mtime: each is known as what it is', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    // The same length: to a stat, the same size and mtime.
    const second = CONTACT_ROWS.replace('Ada,Lovelace,ada', 'Bea,Babbages,bea');
    const dir = folder({ 'r1.csv': CONTACT_ROWS, 'r2.csv': second });
    for (const f of ['r1.csv', 'r2.csv']) fs.utimesSync(path.join(dir, f), 1_700_000_000, 1_700_000_000);
    const args = (/** @type {string[]} */ files) => ['dromo', 'import', ...files, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    const once = await run(dir, args(['r1.csv']));
    assert.equal(once.code, 0, once.stderr);
    const first = once.events.find((e) => e.event === 'done').importId;
    fs.renameSync(path.join(dir, 'r1.csv'), path.join(dir, 'r1-moved.csv'));
    fs.renameSync(path.join(dir, 'r2.csv'), path.join(dir, 'r1.csv'));
    const again = await run(dir, args(['r1.csv', 'r1-moved.csv']));
    assert.equal(again.code, 0, again.stderr);
    const files = again.events.at(-1).files;
    assert.deepEqual(files.map((/** @type {any} */ f) => [f.file, f.earlier === true]), [['r1.csv', false], ['r1-moved.csv', true]], JSON.stringify(files));
    assert.equal(files[1].importId, first);
    assert.notEqual(files[0].importId, first);
    assert.equal(await storedSha(emu, files[0].importId), sha(second), "r1.csv's new bytes went up");
    assert.equal((await allImports(emu.api, 'dromo')).length, 2);
  } finally {
    await emu.stop();
  }
});

test('an upload the storage refuses as expired although its URL looked valid: abandoned, then created anew', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS });
    const args = ['dromo', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    await faults(emu, [{ route: 'storage.put', kind: 'status', status: 503 }]);
    const failed = await run(dir, args);
    assert.equal(failed.code, 1, failed.stdout);
    const first = failed.events.find((e) => e.event === 'created').importId;
    await faults(emu, [{ route: 'storage.put', kind: 'expired_upload', count: 1 }]);
    const resumed = await run(dir, args);
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    const kinds = resumed.events.map((e) => e.event);
    assert.equal(kinds[0], 'resumed', 'it tried the journaled import first');
    const abandoned = resumed.events.find((e) => e.event === 'abandoned');
    assert.deepEqual([abandoned.importId, abandoned.reason], [first, 'upload_url_expired']);
    assert.ok(kinds.indexOf('abandoned') < kinds.indexOf('created'), 'given up before the new create');
    assert.ok(resumed.events.find((e) => e.event === 'done' && e.importId !== first && e.status === 'SUCCESSFUL'));
  } finally {
    await emu.stop();
  }
});

test('final statuses are reported from the journal; NEEDS_REVIEW is looked at again', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    const dir = folder({
      'ok.csv': CONTACT_ROWS,
      'review.csv': 'First Name,Last Name\nAda,Lovelace\n', // the required email has no column
      'empty.csv': 'First Name,Last Name,Email Address,Age\n', // no rows: FAILED
    });
    const args = ['dromo', 'import', 'ok.csv', 'review.csv', 'empty.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    const first = await run(dir, args);
    assert.equal(first.code, 4, first.stderr);
    const review = first.events.find((e) => e.file === 'review.csv' && e.event === 'done');
    assert.equal(review.status, 'NEEDS_REVIEW');
    await fetch(`${emu.control}/dromo/imports/${review.importId}/review`, { method: 'POST' });
    const before = await requests(emu);
    const again = await run(dir, args);
    assert.equal(again.code, 4, again.stderr);
    const after = await requests(emu);
    assert.equal(after['dromo.create'], before['dromo.create'], 'nothing created again');
    assert.ok(after['dromo.retrieve'] > before['dromo.retrieve'], 'the reviewed import was looked at');
    const byFile = Object.fromEntries(again.events.filter((e) => e.event === 'done' || e.event === 'error').map((e) => [e.file, e]));
    assert.deepEqual([byFile['ok.csv'].status, byFile['ok.csv'].earlier], ['SUCCESSFUL', true]);
    assert.deepEqual([byFile['empty.csv'].code, byFile['empty.csv'].earlier], ['import_failed', true]);
    assert.equal(byFile['review.csv'].status, 'SUCCESSFUL');
    assert.deepEqual(
      again.events.at(-1).files.map((/** @type {any} */ f) => [f.file, f.outcome, Boolean(f.earlier)]),
      [['ok.csv', 'succeeded', true], ['review.csv', 'succeeded', false], ['empty.csv', 'failed', true]],
    );
    // On a terminal (under a pty): each file's line says where it came from, and a summary ends it.
    const cmd = [bin, ...args].map((a) => `'${a}'`).join(' ');
    const out = await new Promise((resolve) => {
      const child = spawn('script', ['-qfec', `stty cols 140 rows 40; ${cmd}`, '/dev/null'], { cwd: dir, env: { ...process.env, DROMO_API_KEY: KEY, TERM: 'xterm' } });
      let text = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', (d) => (text += d));
      child.once('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    assert.match(String(out), /ok\.csv +✔ SUCCESSFUL  \(import [0-9a-f-]+\)  \(earlier run\)/);
    assert.match(String(out), /empty\.csv +✖ .*failed.*\(earlier run\)/);
    assert.match(String(out), /3 files: 2 imported, 1 failed \(3 finished in an earlier run, from the journal\)/);
  } finally {
    await emu.stop();
  }
});

test('a torn last line (a crash mid-write) is ignored and cut off; a damaged line elsewhere, another run\'s options or a live lock are refused before any request', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS, 'b.csv': CONTACT_ROWS.replace('Ada', 'Bea') });
    const journal = path.join(dir, 'j.ndjson');
    const args = ['dromo', 'import', 'a.csv', 'b.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    assert.equal((await run(dir, args)).code, 0);
    const whole = fs.readFileSync(journal, 'utf8');
    fs.appendFileSync(journal, '{"type":"done","path":"/x/a.csv","si');
    const before = await requests(emu);
    const again = await run(dir, args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.events.filter((e) => e.event === 'done').map((e) => [e.file, e.earlier]), [['a.csv', true], ['b.csv', true]]);
    assert.deepEqual(await requests(emu), before, 'reported from the journal: no request');
    assert.equal(fs.readFileSync(journal, 'utf8'), whole, 'the torn line is gone, the rest untouched');
    assert.ok(!fs.existsSync(`${journal}.lock`), 'the lock is released');

    /** @param {string[]} a @param {RegExp} message */
    const refused = async (a, message) => {
      const r = await run(dir, a);
      assert.equal(r.code, 2, `${a.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    };
    const schema = path.join(dir, 'schema.json');
    fs.writeFileSync(schema, JSON.stringify([{ key: 'first', label: 'First Name', type: 'string' }]));
    await refused(['dromo', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema', schema],
      /the journal j\.ndjson was written for other import options \(fields, schema_id\): refusing to mix/);
    await refused(['dromo', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', 'http://127.0.0.1:9/api/v1', '--schema-id', CONTACTS],
      /written for base URL http:\/\/127\.0\.0\.1:\d+\/api\/v1 \(this run: http:\/\/127\.0\.0\.1:9\/api\/v1\)/);
    await refused(['exa', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', emu.exa, '--entity', 'company'],
      /written for provider dromo \(this run: exa\)/);
    // A lock as an older headless-imports writes it (a pid alone), naming a live process (this
    // test's own): one run at a time, and the message says where the lock is.
    fs.writeFileSync(`${journal}.lock`, `${process.pid}\n`);
    await refused(args, new RegExp(`locked by process ${process.pid}, by its lock ${journal}\\.lock`));
    fs.rmSync(`${journal}.lock`);
    const lines = whole.split('\n');
    fs.writeFileSync(journal, [lines[0], '{"type":"created"', ...lines.slice(1)].join('\n'));
    await refused(args, /the journal j\.ndjson is damaged at line 2/);
    // Not a journal (a slip of the finger naming a CSV): refused, and left as it was.
    for (const other of ['name,age\nAda,36\n', 'notes without a newline']) {
      fs.writeFileSync(journal, other);
      await refused(args, /is not a headless-imports journal/);
      assert.equal(fs.readFileSync(journal, 'utf8'), other);
    }
    // A journal whose directory is missing, or whose path loops, is refused as such (exit 2).
    fs.writeFileSync(journal, whole);
    await refused(['dromo', 'import', 'a.csv', '--journal', 'nodir/j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS],
      new RegExp(`cannot find the journal nodir/j\\.ndjson: its directory ${literally(path.join(fs.realpathSync(dir), 'nodir'))} does not exist`));
    fs.symlinkSync('loop-b', path.join(dir, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(dir, 'loop-b'));
    await refused(['dromo', 'import', 'a.csv', '--journal', 'loop-a', '--base-url', emu.api, '--schema-id', CONTACTS],
      /cannot find the journal loop-a: its path loops through symbolic links \(ELOOP\)/);
    // Through a symbolic link into a missing directory: the directory named is the missing one.
    fs.symlinkSync('gone/j.ndjson', path.join(dir, 'dangling'));
    await refused(['dromo', 'import', 'a.csv', '--journal', 'dangling', '--base-url', emu.api, '--schema-id', CONTACTS],
      new RegExp(`its directory ${literally(path.join(fs.realpathSync(dir), 'gone'))} does not exist`));
    // A trailing slash means a directory: refused, not made into a file.
    for (const named of ['new-dir/', 'new-dir/.', 'new-dir/..']) {
      await refused(['dromo', 'import', 'a.csv', '--journal', named, '--base-url', emu.api, '--schema-id', CONTACTS],
        new RegExp(`the journal ${literally(named)} names a directory \\(it ends with a slash, \\. or \\.\\.\\): a journal is a file`));
    }
    assert.ok(!fs.existsSync(path.join(dir, 'new-dir')), 'nothing made');
    // The same file given twice is named.
    await refused(['dromo', 'import', 'a.csv', './a.csv', '--base-url', emu.api, '--schema-id', CONTACTS], /\.\/a\.csv is a\.csv, given a second time/);
    assert.deepEqual(await requests(emu), before, 'none of them sent anything');

    // A lock left by a process that died (kill -9) is taken over.
    fs.writeFileSync(journal, whole);
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('close', resolve));
    fs.writeFileSync(`${journal}.lock`, `${dead.pid}\n`);
    assert.equal((await run(dir, args)).code, 0);
  } finally {
    await emu.stop();
  }
});

test('importFiles: bad input is a typed error before any request; the journal is optional; rows come with each done event', async () => {
  const hi = await loadPackage();
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
    const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: emu.exa });
    const dir = folder({ 'a.csv': CONTACT_ROWS, 'b.json': '[]', 'empty.csv': '' });
    const a = path.join(dir, 'a.csv');
    const big = path.join(dir, 'big.csv');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 50_000_001); // sparse: no disk used
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const before = await requests(emu);
    /** @type {[() => Promise<unknown>, string][]} */
    const cases = [
      [() => hi.importFiles({}, [a], { schema_id: CONTACTS }), 'client'],
      [() => hi.importFiles(dromo, a, { schema_id: CONTACTS }), 'files'],
      [() => hi.importFiles(dromo, [], { schema_id: CONTACTS }), 'files'],
      [() => hi.importFiles(dromo, [path.join(dir, 'missing.csv')], { schema_id: CONTACTS }), 'files[0]'],
      [() => hi.importFiles(dromo, [a, a], { schema_id: CONTACTS }), 'files[1]'],
      [() => hi.importFiles(dromo, [path.join(dir, 'empty.csv')], { schema_id: CONTACTS }), 'files[0]'],
      [() => hi.importFiles(dromo, [a, path.join(dir, 'b.json')], { schema_id: CONTACTS }), 'files[1]'],
      [() => hi.importFiles(dromo, [a], {}), 'schema_id'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, concurrency: 0 }), 'options.concurrency'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, journal: 5 }), 'options.journal'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, onEvent: 'log' }), 'options.onEvent'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, onCreated() {} }), 'options.onCreated'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, singal: null }), 'options.singal'],
      [() => hi.importFiles(dromo, [a], revoked.proxy), 'options'],
      [() => hi.importFiles(dromo, [a], { schema_id: CONTACTS, get intervalMs() { throw new Error('no'); } }), 'options'],
      [() => hi.importFiles(exa, [a], { entity: { type: 'company' }, metadata: { headlessImportsJournal: 'x' } }), 'options.metadata.headlessImportsJournal'],
      [() => hi.importFiles(exa, [a, big], { entity: { type: 'company' } }), 'files[1]'],
      [() => hi.importFiles(exa, [a], { entity: { type: 'company' }, rows: true }), 'options.rows'],
    ];
    for (const [call, where] of cases) {
      await assert.rejects(call(), (e) => e instanceof hi.ValidationError && /** @type {any} */ (e).path === where && /** @type {any} */ (e).message.startsWith(where), where);
    }
    assert.deepEqual(await requests(emu), before, 'nothing was sent');

    /** @type {any[]} */
    const events = [];
    const summary = await hi.importFiles(dromo, [a], { schema_id: CONTACTS, rows: true, onEvent: (/** @type {any} */ e) => events.push(e) });
    assert.deepEqual(summary.files.map((/** @type {any} */ f) => [f.file, f.outcome, f.status]), [[a, 'succeeded', 'SUCCESSFUL']]);
    const done = events.find((e) => e.event === 'done');
    assert.deepEqual(done.rows, [{ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', age: 36 }]);
    assert.equal(done.import.id, summary.files[0].importId);
    assert.deepEqual([...new Set(events.map((e) => e.event))], ['start', 'created', 'progress', 'uploaded', 'status', 'results', 'done']);
    // An onEvent that throws ends that file with what it threw (not a flow's "onCreated threw").
    const mine = new Error('my listener broke');
    const broken = await hi.importFiles(dromo, [a], { schema_id: CONTACTS, onEvent: (/** @type {any} */ e) => { if (e.event === 'created') throw mine; } });
    assert.equal(broken.files[0].outcome, 'error');
    assert.equal(broken.files[0].error, mine);
    const stubs = await import(path.join(installPackage(), 'node_modules/headless-imports/browser-stubs.js'));
    await assert.rejects(stubs.importFiles(), (e) => e instanceof hi.HeadlessImportsError && /** @type {any} */ (e).code === 'not_available_here');
  } finally {
    await emu.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// The flows' onCreating hook, which importFiles journals each intent in
// ---------------------------------------------------------------------------------------------

test('onCreating: told right before the create is sent, once its rate-limit slot is granted; throwing stops it before anything is sent', async () => {
  const hi = await loadPackage();
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    const count = async (/** @type {string} */ route) => (await requests(emu))[route] ?? 0;
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api, rateLimit: { creates: 1, windowMs: 1500 } });
    const exa = new hi.Exa({ apiKey: EXA_KEY, baseUrl: emu.exa });
    const csv = new File([CONTACT_ROWS], 'a.csv');
    await dromo.imports.create({ schema_id: CONTACTS, original_filename: 'first.csv' }); // takes the slot
    /** @type {unknown[][]} */
    const steps = [];
    await dromo.importFile(csv, {
      schema_id: CONTACTS,
      wait: false,
      onQueued: async () => steps.push(['queued', await count('dromo.create')]),
      onCreating: async (/** @type {any} */ c) => steps.push(['creating', c.attempt, await count('dromo.create')]),
      onCreated: async () => steps.push(['created', await count('dromo.create')]),
    });
    assert.deepEqual(steps, [['queued', 1], ['creating', 0, 1], ['created', 2]]);
    for (const [client, route, options] of /** @type {const} */ ([
      [dromo, 'dromo.create', { schema_id: CONTACTS }],
      [exa, 'exa.create', { entity: { type: 'company' } }],
    ])) {
      const before = await count(route);
      const file = client === exa ? new File([COMPANY_ROWS], 'c.csv') : csv;
      await assert.rejects(
        /** @type {any} */ (client).importFile(file, { ...options, onCreating: () => { throw new Error('not now'); } }),
        (e) => e instanceof hi.HeadlessImportsError && /** @type {any} */ (e).code === 'callback_error' && /** @type {any} */ (e).cause?.message === 'not now',
      );
      assert.equal(await count(route), before, `${route}: nothing sent`);
    }
  } finally {
    await emu.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// Resuming a large journal
// ---------------------------------------------------------------------------------------------

test('resuming a journal of 5000 finished files sends nothing and reports each once (its time is printed beside 1250 files\': linear, not asserted)', { timeout: 240_000 }, async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    /** @type {Record<number, number>} */
    const ms = {};
    for (const n of [1250, 5000]) {
      // The journal a finished run of n files leaves (format version 1, as the writer writes it).
      const dir = fs.mkdtempSync(path.join(work, `huge-${n}-`));
      const names = [];
      const lines = [JSON.stringify({ type: 'journal', version: 1, id: 'abcdef012345', provider: 'dromo', baseUrl: emu.api, params: { schema_id: CONTACTS }, t: Date.now() })];
      for (let i = 0; i < n; i++) {
        const name = `h${i}.csv`;
        fs.writeFileSync(path.join(dir, name), CONTACT_ROWS);
        const { size, mtimeMs } = fs.statSync(path.join(dir, name));
        const file = { path: path.join(fs.realpathSync(dir), name), size, mtimeMs };
        const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        for (const r of [{ type: 'intent', marker: `abcdef012345.${i + 1}`, name }, { type: 'created', id }, { type: 'uploaded', id }, { type: 'done', id, status: 'SUCCESSFUL' }]) {
          lines.push(JSON.stringify({ type: r.type, ...file, ...r, t: Date.now() }));
        }
        names.push(name);
      }
      fs.writeFileSync(path.join(dir, 'j.ndjson'), `${lines.join('\n')}\n`, { mode: 0o600 });
      const before = await requests(emu);
      const started = performance.now();
      const r = await run(dir, ['dromo', 'import', ...names, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS], { timeoutMs: 200_000 });
      ms[n] = Math.round(performance.now() - started);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await requests(emu), before, `${n}: no request`);
      const done = r.events.filter((e) => e.event === 'done');
      assert.equal(done.length, n);
      assert.ok(done.every((e) => e.earlier === true && e.status === 'SUCCESSFUL'));
      assert.equal(new Set(done.map((e) => e.file)).size, n, 'each file once');
      const summary = r.events.at(-1);
      assert.equal(summary.files.length, n);
      assert.ok(summary.files.every((/** @type {any} */ f) => f.outcome === 'succeeded' && f.earlier));
      assert.equal(fs.readFileSync(path.join(dir, 'j.ndjson'), 'utf8'), `${lines.join('\n')}\n`, 'nothing appended');
    }
    console.log(`resume of finished files, 0 requests: 1250 in ${ms[1250]} ms, 5000 in ${ms[5000]} ms (x${(ms[5000] / ms[1250]).toFixed(1)} for 4x the files; linear ~4, quadratic ~16)`);
  } finally {
    await emu.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// What a resume takes for an earlier run's orphan
// ---------------------------------------------------------------------------------------------

test('a file killed while it waited for a create slot has no intent: the resume does not take another client\'s import of the same name', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS, 'b.csv': CONTACT_ROWS.replace('Ada', 'Bea') });
    // One create a minute: b.csv waits for its slot. The library, in a process of its own.
    const script = path.join(installPackage(), 'one-a-minute.mjs');
    fs.writeFileSync(
      script,
      `import { Dromo, importFiles } from 'headless-imports';
const [base, journal, ...files] = process.argv.slice(2);
const dromo = new Dromo({ apiKey: process.env.DROMO_API_KEY, baseUrl: base, rateLimit: { creates: 1, windowMs: 60_000 } });
const line = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const { files: out } = await importFiles(dromo, files, { schema_id: ${JSON.stringify(CONTACTS)}, journal, wait: false,
  onEvent: (e) => line({ event: e.event, file: e.file, importId: e.importId, for: e.for, reason: e.reason }) });
line({ event: 'summary', files: out.map((f) => ({ file: f.file, importId: f.importId, outcome: f.outcome })) });
`,
    );
    const program = [process.execPath, script];
    const args = [emu.api, 'j.ndjson', 'a.csv', 'b.csv'];
    // Whichever file gets the one slot is created; the other waits its turn (either order).
    const created = (/** @type {any[]} */ events) => events.find((e) => e.event === 'created')?.file;
    const killed = await run(dir, args, {
      program,
      killWhen: (events) => created(events) !== undefined && events.some((e) => e.event === 'queued' && e.file !== created(events)),
    });
    assert.equal(killed.signal, 'SIGKILL');
    const first = created(killed.events);
    const queued = first === 'a.csv' ? 'b.csv' : 'a.csv';
    const lines = journalLines(path.join(dir, 'j.ndjson'));
    assert.deepEqual(lines.filter((l) => l.type === 'intent').map((l) => l.name), [first], `${queued} was still queued: no intent for it`);
    // Meanwhile another client creates an import of the same file name.
    const foreign = await (await fetch(`${emu.api}/headless/imports/`, {
      method: 'POST',
      headers: { 'X-Dromo-License-Key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ schema_id: CONTACTS, original_filename: queued }),
    })).json();
    const resumed = await run(dir, args, { program });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(!resumed.events.some((e) => e.event === 'recovered'), JSON.stringify(resumed.events));
    const b = resumed.events.at(-1).files.find((/** @type {any} */ f) => f.file === queued);
    assert.notEqual(b.importId, foreign.id);
    assert.equal(b.outcome, 'uploaded');
    const theirs = (await control(`${emu.control}/dromo/imports/${foreign.id}`)).import;
    assert.equal(theirs.status, 'AWAITING_UPLOAD', 'the other client\'s import is untouched');
  } finally {
    await emu.stop();
  }
});

test('a killed run whose creates never reached Dromo does not take another client\'s import of the same name and schema on its resume (unless --adopt-orphans)', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const dir = folder({ 'export.csv': CONTACT_ROWS });
    const args = ['dromo', 'import', 'export.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    // Every create answers 503: nothing is created; the run is killed while it retries.
    await faults(emu, [{ route: 'dromo.create', kind: 'status', status: 503, count: 1000 }]);
    const journal = path.join(dir, 'j.ndjson');
    let seenAt = 0;
    const killed = await run(dir, args, {
      killOnce: () => {
        if (!seenAt && fs.existsSync(journal) && fs.readFileSync(journal, 'utf8').includes('"intent"')) seenAt = Date.now();
        return seenAt > 0 && Date.now() - seenAt > 300;
      },
    });
    assert.equal(killed.signal, 'SIGKILL');
    await faults(emu, []);
    assert.deepEqual(await allImports(emu.api, 'dromo'), [], 'nothing was created');
    // Client B, on the same account and schema, creates its own import of an export.csv.
    const theirs = await (await fetch(`${emu.api}/headless/imports/`, {
      method: 'POST',
      headers: { 'X-Dromo-License-Key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ schema_id: CONTACTS, original_filename: 'export.csv' }),
    })).json();
    const resumed = await run(dir, args);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(!resumed.events.some((e) => e.event === 'recovered'), JSON.stringify(resumed.events));
    const mine = resumed.events.at(-1).files[0];
    assert.notEqual(mine.importId, theirs.id, 'A created its own import');
    assert.equal(mine.status, 'SUCCESSFUL');
    const b = (await control(`${emu.control}/dromo/imports/${theirs.id}`)).import;
    assert.equal(b.status, 'AWAITING_UPLOAD', "B's import is untouched: nothing was uploaded into it");
    // It is told of as a possible orphan, for the user to check, and named in leftBehind.
    const left = resumed.events.find((e) => e.event === 'left');
    assert.equal(left?.importId, theirs.id, JSON.stringify(resumed.events));
    assert.deepEqual(mine.leftBehind, [theirs.id]);
  } finally {
    await emu.stop();
  }
});

test('a journal cut short mid-file (restored from an older copy): an Exa import its marker finds already uploaded or final is adopted, never deleted', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const names = ['e1.csv', 'e2.csv', 'e3.csv'];
    const dir = folder(Object.fromEntries(names.map((n, i) => [n, COMPANY_ROWS.replace('acme', `acme${i}`)])));
    const args = ['exa', 'import', ...names, '--journal', 'j.ndjson', '--base-url', emu.exa, '--entity', 'company', '--concurrency', '1'];
    const first = await run(dir, args);
    assert.equal(first.code, 0, first.stderr);
    const before = await allImports(emu.exa, 'exa');
    assert.deepEqual(before.map((i) => i.status), ['completed', 'completed', 'completed']);
    // Keep the journal up to the second file's intent: its created, uploaded and done are lost.
    const journal = path.join(dir, 'j.ndjson');
    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    const cut = lines.findIndex((l) => l.includes('"intent"') && l.includes('e2.csv'));
    fs.writeFileSync(journal, lines.slice(0, cut + 1).join('\n') + '\n' + lines[cut + 1].slice(0, 20));
    const resumed = await run(dir, args);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(!resumed.events.some((e) => e.event === 'abandoned'), JSON.stringify(resumed.events.filter((e) => e.event === 'abandoned')));
    const after = await allImports(emu.exa, 'exa');
    for (const imp of before) {
      assert.equal(after.find((i) => i.id === imp.id)?.status, 'completed', `${imp.id} is still there, completed`);
    }
    const summary = resumed.events.at(-1).files;
    assert.ok(summary.every((/** @type {any} */ f) => f.outcome === 'succeeded'), JSON.stringify(summary));
    // e2's intent survived: its import is found by its marker and adopted.
    const e2 = before.find((i) => i.metadata?.headlessImportsJournal === JSON.parse(lines[cut]).marker);
    assert.equal(summary[1].importId, e2?.id);
    assert.ok(resumed.events.some((e) => e.event === 'recovered' && e.file === 'e2.csv'));
    assert.equal(summary[0].importId, first.events.at(-1).files[0].importId, 'e1 from the journal');
  } finally {
    await emu.stop();
  }
});

test('a create whose answer was lost and was sent again: the import the lost attempt made is told (a left event), journaled and listed in leftBehind, and left alone', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const dir = folder({ 'lost.csv': CONTACT_ROWS });
    const args = ['dromo', 'import', 'lost.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    await faults(emu, [{ route: 'dromo.create', kind: 'reset_after', count: 1 }]);
    const first = await run(dir, args);
    await faults(emu, []);
    assert.equal(first.code, 0, first.stderr);
    const file = first.events.at(-1).files[0];
    const orphan = (await allImports(emu.api, 'dromo')).find((i) => i.id !== file.importId);
    assert.equal(orphan?.status, 'AWAITING_UPLOAD');
    const left = first.events.find((e) => e.event === 'left');
    assert.equal(left?.importId, orphan.id, JSON.stringify(first.events));
    assert.equal(left.reason, 'possible_orphan');
    assert.match(left.message, /answer was lost/);
    assert.deepEqual(file.leftBehind, [orphan.id]);
    // The journal keeps it: the next run reports it from there.
    const again = await run(dir, args);
    assert.deepEqual(again.events.at(-1).files[0].leftBehind, [orphan.id]);
  } finally {
    await emu.stop();
  }
});

test('a file is known by its real path: the same files through a linked directory are reported from the journal, not imported again; one file named twice through a link is refused', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const top = folder({});
    const real = path.join(top, 'bulk');
    fs.mkdirSync(real);
    for (const n of ['a.csv', 'b.csv']) fs.writeFileSync(path.join(real, n), CONTACT_ROWS);
    fs.symlinkSync(real, path.join(top, 'bulklink'));
    const args = (/** @type {string} */ d) => ['dromo', 'import', `${d}/a.csv`, `${d}/b.csv`, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    const first = await run(top, args('bulk'));
    assert.equal(first.code, 0, first.stderr);
    const again = await run(top, args('bulklink'));
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.events.at(-1).files.every((/** @type {any} */ f) => f.earlier === true), JSON.stringify(again.events.at(-1)));
    assert.equal((await allImports(emu.api, 'dromo')).length, 2, 'nothing imported twice');
    fs.symlinkSync(path.join(real, 'a.csv'), path.join(top, 'alias.csv'));
    const twice = await run(top, ['dromo', 'import', 'bulk/a.csv', 'alias.csv', '--base-url', emu.api, '--schema-id', CONTACTS]);
    assert.equal(twice.code, 2, twice.stderr);
    assert.match(twice.stderr, /alias\.csv, the same file as bulk\/a\.csv, a second time/);
    // A hard link is the same file too.
    fs.linkSync(path.join(real, 'a.csv'), path.join(top, 'hard.csv'));
    const linked = await run(top, ['dromo', 'import', 'bulk/a.csv', 'hard.csv', '--base-url', emu.api, '--schema-id', CONTACTS]);
    assert.equal(linked.code, 2, linked.stderr);
    assert.match(linked.stderr, /hard\.csv, the same file as bulk\/a\.csv, a second time/);
    // On a later run, the journaled file under another name (a hard link, or the file moved) is
    // the journaled file: reported from the journal, not imported again.
    fs.renameSync(path.join(real, 'b.csv'), path.join(top, 'moved.csv'));
    const renamed = await run(top, ['dromo', 'import', 'hard.csv', 'moved.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS]);
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.deepEqual(renamed.events.at(-1).files.map((/** @type {any} */ f) => [f.file, f.earlier]), [['hard.csv', true], ['moved.csv', true]]);
    assert.equal((await allImports(emu.api, 'dromo')).length, 2, 'nothing imported again');
  } finally {
    await emu.stop();
  }
});

test('a Dromo journal cut back to an intent (restored from an older copy) after its import finished: that import is named as a possible duplicate, not silently imported again nor adopted', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const names = ['d1.csv', 'd2.csv'];
    const dir = folder(Object.fromEntries(names.map((n) => [n, CONTACT_ROWS])));
    const args = ['dromo', 'import', ...names, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--concurrency', '1'];
    const first = await run(dir, args);
    assert.equal(first.code, 0, first.stderr);
    const d2 = first.events.at(-1).files[1].importId;
    // Keep the journal up to d2's intent: its created, uploaded and done are lost.
    const journal = path.join(dir, 'j.ndjson');
    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    const cut = lines.findIndex((l) => l.includes('"intent"') && l.includes('d2.csv'));
    fs.writeFileSync(journal, lines.slice(0, cut + 1).join('\n') + '\n');
    const resumed = await run(dir, args);
    assert.equal(resumed.code, 0, resumed.stderr);
    const summary = resumed.events.at(-1).files;
    assert.equal(summary[0].importId, first.events.at(-1).files[0].importId, 'd1 from the journal');
    assert.notEqual(summary[1].importId, d2, 'the finished import is not adopted');
    assert.equal(summary[1].outcome, 'succeeded');
    const left = resumed.events.find((e) => e.event === 'left');
    assert.equal(left?.importId, d2, JSON.stringify(resumed.events));
    assert.equal(left.reason, 'possible_duplicate');
    assert.equal(left.status, 'SUCCESSFUL', JSON.stringify(left));
    assert.match(left.message, /imported already/);
    assert.deepEqual(summary[1].leftBehind, [d2]);
    // Untouched, and still named by the next run, from the journal.
    assert.equal((await control(`${emu.control}/dromo/imports/${d2}`)).import.status, 'SUCCESSFUL');
    const again = await run(dir, args);
    assert.deepEqual(again.events.at(-1).files[1].leftBehind, [d2]);
    assert.ok(!again.events.some((e) => e.event === 'left'), 'told once');
  } finally {
    await emu.stop();
  }
});

test('a journal cut back to its header hands out no marker twice: another file killed before its create landed is not matched to the first file\'s import (Exa)', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const dir = folder({ 'january.csv': COMPANY_ROWS, 'february.csv': COMPANY_ROWS.replace('acme', 'globex') });
    const base = ['--journal', 'j.ndjson', '--base-url', emu.exa, '--entity', 'company'];
    const first = await run(dir, ['exa', 'import', 'january.csv', ...base]);
    assert.equal(first.code, 0, first.stderr);
    const [january] = await allImports(emu.exa, 'exa');
    // Restored from a copy taken before any file: the header alone.
    const journal = path.join(dir, 'j.ndjson');
    fs.writeFileSync(journal, fs.readFileSync(journal, 'utf8').split('\n')[0] + '\n');
    // february's creates all fail (nothing is created); it is killed once its intent is written.
    await faults(emu, [{ route: 'exa.create', kind: 'status', status: 503, count: 1000 }]);
    let seenAt = 0;
    const killed = await run(dir, ['exa', 'import', 'february.csv', ...base], {
      killOnce: () => {
        if (!seenAt && fs.readFileSync(journal, 'utf8').includes('"intent"')) seenAt = Date.now();
        return seenAt > 0 && Date.now() - seenAt > 300;
      },
    });
    assert.equal(killed.signal, 'SIGKILL');
    await faults(emu, []);
    const resumed = await run(dir, ['exa', 'import', 'february.csv', ...base]);
    assert.equal(resumed.code, 0, resumed.stderr);
    // Before, its intent carried january's marker again, and january's import "was" february's.
    assert.ok(!resumed.events.some((e) => e.event === 'recovered'), JSON.stringify(resumed.events));
    const feb = resumed.events.at(-1).files[0];
    assert.notEqual(feb.importId, january.id);
    assert.equal(feb.outcome, 'succeeded');
    const after = await allImports(emu.exa, 'exa');
    assert.equal(after.find((i) => i.id === january.id)?.status, 'completed', "january's import is untouched");
    assert.equal(after.length, 2, 'one import per file');
  } finally {
    await emu.stop();
  }
});

test('a journal path that is a directory, and a lock file that is empty or damaged, are refused saying so', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS });
    const hi = await loadPackage();
    const dromo = new hi.Dromo({ apiKey: KEY, baseUrl: emu.api });
    const before = await requests(emu);
    fs.mkdirSync(path.join(dir, 'journal'));
    await assert.rejects(hi.importFiles(dromo, [path.join(dir, 'a.csv')], { schema_id: CONTACTS, journal: path.join(dir, 'journal') }), (e) => {
      assert.equal(/** @type {any} */ (e).code, 'journal_unusable');
      assert.match(String(/** @type {any} */ (e).message), new RegExp(`journal ${literally(path.join(dir, 'journal'))} is a directory: a journal must be a regular file`));
      assert.doesNotMatch(String(/** @type {any} */ (e).message), /hard links/);
      return true;
    });
    for (const [content, says] of [['', 'empty'], ['garbage{', 'damaged']]) {
      const lock = path.join(fs.realpathSync(dir), 'j2.lock');
      fs.writeFileSync(lock, content);
      await assert.rejects(hi.importFiles(dromo, [path.join(dir, 'a.csv')], { schema_id: CONTACTS, journal: path.join(dir, 'j2') }), (e) => {
        const message = String(/** @type {any} */ (e).message);
        assert.equal(/** @type {any} */ (e).code, 'journal_in_use');
        assert.match(message, new RegExp(`its lock file ${literally(lock)} is unreadable \\(${says}`));
        assert.match(message, /taken over by the next run/);
        assert.doesNotMatch(message, /process 0/);
        return true;
      });
    }
    assert.deepEqual(await requests(emu), before, 'nothing sent');
  } finally {
    await emu.stop();
  }
});

test('with --adopt-orphans, the orphan search starts at the intent on the API\'s clock, as measured by earlier creates: a same-named import made just before is not taken for it', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS, 'late.csv': CONTACT_ROWS.replace('Ada', 'Bea') });
    const journal = path.join(dir, 'j.ndjson');
    const base = ['--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait'];
    // A first run creates a.csv's import: its created line holds the API's time beside ours.
    assert.equal((await run(dir, ['dromo', 'import', 'a.csv', ...base])).code, 0);
    const measure = journalLines(journal).find((l) => l.type === 'created');
    assert.equal(typeof measure.apiMs, 'number');
    // Another client's import of late.csv, made moments before ours.
    const foreign = await (await fetch(`${emu.api}/headless/imports/`, {
      method: 'POST',
      headers: { 'X-Dromo-License-Key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ schema_id: CONTACTS, original_filename: 'late.csv' }),
    })).json();
    // More than the slack a measured clock allows (2 s) before our intent.
    await new Promise((res) => setTimeout(res, 3000));
    // Ours is created, but the run dies before the answer arrives.
    await faults(emu, [{ route: 'dromo.create', kind: 'slow', ms: 4000 }]);
    const named = async () => (await allImports(emu.api, 'dromo')).filter((i) => i.original_filename === 'late.csv');
    const killed = await run(dir, ['dromo', 'import', 'a.csv', 'late.csv', ...base], { killOnce: async () => (await named()).length === 2 });
    assert.equal(killed.signal, 'SIGKILL');
    await faults(emu, []);
    const intent = journalLines(journal).filter((l) => l.type === 'intent').at(-1);
    assert.equal(intent.name, 'late.csv');
    assert.equal(typeof intent.apiAheadMs, 'number', 'the intent knows how the API\'s clock stands to ours');
    const ours = (await named()).find((i) => i.id !== foreign.id);
    const creates = (await requests(emu))['dromo.create'];
    const resumed = await run(dir, ['dromo', 'import', 'a.csv', 'late.csv', ...base, '--adopt-orphans']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const recovered = resumed.events.find((e) => e.event === 'recovered');
    assert.equal(recovered?.importId, ours.id, JSON.stringify(resumed.events));
    assert.equal((await requests(emu))['dromo.create'], creates, 'nothing created again');
    assert.equal((await control(`${emu.control}/dromo/imports/${foreign.id}`)).import.status, 'AWAITING_UPLOAD', 'the other client\'s import is untouched');
  } finally {
    await emu.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// The journal's lock: one run at a time, whoever races for it
// ---------------------------------------------------------------------------------------------

/** Resolves once `check()` holds (polled every 10 ms; rejects after `ms`). @param {() => boolean} check */
async function until(check, ms = 20_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${check}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** `s` as a regular expression matching it literally. @param {string} s */
const literally = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A new PID namespace for the command (a container's view): its first process is PID 1. */
const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
const unshareWorks = spawnSync(UNSHARE[0], [...UNSHARE.slice(1), 'true']).status === 0;

test('the lock names its holder uniquely: a stale lock naming the new run\'s own PID is taken over; a live one is refused, naming the lock and what to do', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    // What a container restart leaves: a lock naming the PID the new run gets (here an older
    // headless-imports' lock, a pid alone: a shell writes its own PID in it, then becomes the run).
    const dir = folder({ 'a.csv': CONTACT_ROWS });
    const lockFile = path.join(fs.realpathSync(dir), 'j.ndjson.lock');
    const args = ['dromo', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait'];
    const same = await run(dir, args, { prefix: ['sh', '-c', 'echo $$ > "$HI_LOCK"; exec "$@"', 'sh'], env: { HI_LOCK: lockFile } });
    assert.equal(same.code, 0, same.stderr);
    assert.ok(!fs.existsSync(lockFile), 'released at the end');

    // A live holder: a run whose status reads are answered slowly. The lock says who it is.
    await faults(emu, [{ route: 'dromo.get', kind: 'slow', ms: 3000 }]);
    const dir2 = folder({ 'b.csv': CONTACT_ROWS });
    const lock2 = path.join(fs.realpathSync(dir2), 'j.ndjson.lock');
    const args2 = ['dromo', 'import', 'b.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait'];
    const holder = run(dir2, args2);
    await until(() => fs.existsSync(lock2));
    const held = JSON.parse(fs.readFileSync(lock2, 'utf8'));
    for (const k of ['pid', 'nonce', 'host', 'boot', 'pidns', 'start', 'since']) assert.ok(k in held, `the lock records ${k}: ${JSON.stringify(held)}`);
    assert.equal((fs.statSync(lock2).mode & 0o777).toString(8), '600');
    const second = await run(dir2, args2);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`in use by process ${held.pid} on host ${literally(os.hostname())} \\(running since .*\\); its lock is ${literally(lock2)}\\. One run at a time: wait for that run to end, or stop it`),
    );
    assert.equal(second.stdout, '');
    assert.equal((await holder).code, 0);
    assert.ok(!fs.existsSync(lock2));
  } finally {
    await emu.stop();
  }
});

test('a run killed in one PID namespace (a container) and run again in another as the same PID 1: refused while the lock could still be refreshed, taken over once it is not', { skip: !unshareWorks && 'needs unshare --pid (root or user namespaces)' }, async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const dir = folder({ 'a.csv': CONTACT_ROWS });
    const lockFile = path.join(fs.realpathSync(dir), 'j.ndjson.lock');
    // --adopt-orphans: this account has no other client, so the killed run's import is provably its.
    const args = ['dromo', 'import', 'a.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait', '--adopt-orphans'];
    // Killed (the namespace with it) while its create is answered late: the import exists.
    await faults(emu, [{ route: 'dromo.create', kind: 'slow', ms: 5000 }]);
    const exists = async () => (await allImports(emu.api, 'dromo')).some((i) => i.original_filename === 'a.csv');
    const killed = await run(dir, args, { prefix: UNSHARE, killOnce: exists });
    assert.equal(killed.signal, 'SIGKILL');
    await faults(emu, []);
    const stale = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    assert.equal(stale.pid, 1, 'PID 1 of its namespace');

    // Another "container": PID 1 again. It cannot see the holder's processes, so it goes by the
    // heartbeat: refreshed a moment ago, so possibly alive.
    const again = await run(dir, args, { prefix: UNSHARE });
    assert.equal(again.code, 2, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(
        `locked by process 1 on host ${literally(os.hostname())} .*which this process cannot check \\(another PID namespace.*its lock ${literally(lockFile)} was refreshed \\d+ s ago\\. ` +
          `A run refreshes its lock every 5 s, and a lock left 30 s without a refresh is taken over by the next run\\. If you know that run is over, delete ${literally(lockFile)} and run again\\.`,
      ),
    );
    // What the lock looks like 30 s after its holder died (nobody refreshed it): taken over.
    const old = new Date(Date.now() - 31_000);
    fs.utimesSync(lockFile, old, old);
    const taken = await run(dir, args, { prefix: UNSHARE });
    assert.equal(taken.code, 0, taken.stderr);
    assert.ok(taken.events.some((e) => e.event === 'recovered'), `the killed run's import was found: ${JSON.stringify(taken.events)}`);
    assert.equal((await allImports(emu.api, 'dromo')).filter((i) => i.original_filename === 'a.csv').length, 1);
    assert.ok(!fs.existsSync(lockFile));
  } finally {
    await emu.stop();
  }
});

test('a run stopped long enough for another to take its journal over stops when it wakes: it creates and writes nothing more, and no file is imported twice', { skip: !unshareWorks && 'needs unshare --pid (root or user namespaces)', timeout: 120_000 }, async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit', '--upload-ttl', '600']));
  try {
    const names = ['s1.csv', 's2.csv', 's3.csv', 's4.csv', 's5.csv'];
    const dir = folder(Object.fromEntries(names.map((n) => [n, CONTACT_ROWS])));
    const journal = path.join(dir, 'j.ndjson');
    const lockFile = path.join(fs.realpathSync(dir), 'j.ndjson.lock');
    const args = ['dromo', 'import', ...names, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait', '--concurrency', '1'];
    // Every status read answered 2 s late: the first run is stopped while it reads its first file's.
    await faults(emu, [{ route: 'dromo.get', kind: 'slow', ms: 2000 }]);
    /** @type {import('node:child_process').ChildProcess | undefined} */
    let child;
    const first = run(dir, args, { onChild: (c) => (child = c), timeoutMs: 100_000 });
    await until(() => fs.existsSync(journal) && fs.readFileSync(journal, 'utf8').includes('"created"'), 30_000);
    /** @type {any} */ (child).kill('SIGSTOP');
    await faults(emu, []);
    // Its lock as 30 s without a refresh leave it; the next run, in another PID namespace (it cannot
    // check the holder, as in another container), takes it over and imports every file.
    const old = new Date(Date.now() - 31_000);
    fs.utimesSync(lockFile, old, old);
    const second = await run(dir, args, { prefix: UNSHARE, timeoutMs: 60_000 });
    assert.equal(second.code, 0, second.stderr);
    const imported = await allImports(emu.api, 'dromo');
    const lines = fs.readFileSync(journal, 'utf8');
    /** @type {any} */ (child).kill('SIGCONT');
    const woken = await first;
    assert.deepEqual((await allImports(emu.api, 'dromo')).map((i) => i.id).sort(), imported.map((i) => i.id).sort(), 'it created nothing more');
    assert.notEqual(woken.code, 0, 'the woken run says it stopped');
    assert.match(woken.stdout + woken.stderr, /taken over by another run/);
    for (const n of names) assert.equal(imported.filter((i) => i.original_filename === n).length, 1, `${n} imported once`);
    assert.equal(fs.readFileSync(journal, 'utf8'), lines, 'it wrote nothing more');
    assert.ok(!fs.existsSync(lockFile) || !fs.readFileSync(lockFile, 'utf8').includes(String(/** @type {any} */ (child).pid)), 'nor took the lock back');
  } finally {
    await emu.stop();
  }
});

test('eight runs started at once over a stale lock, five times over: exactly one runs each time, and no file is imported twice', { timeout: 240_000 }, async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit', '--upload-ttl', '600']));
  // Each racer loads the package, says it is ready, and waits for the go: then all eight reach
  // the lock within a few milliseconds of each other.
  const barrier = path.join(installPackage(), 'barrier.mjs');
  fs.writeFileSync(
    barrier,
    `import fs from 'node:fs';
await import('headless-imports');
fs.writeFileSync(\`\${process.env.HI_GO}.ready-\${process.pid}\`, '');
while (!fs.existsSync(process.env.HI_GO)) await new Promise((r) => setTimeout(r, 2));
`,
  );
  try {
    for (let round = 0; round < 5; round++) {
      const names = [1, 2, 3].map((i) => `r${round}-${i}.csv`);
      const dir = folder(Object.fromEntries(names.map((n) => [n, CONTACT_ROWS])));
      const lockFile = path.join(fs.realpathSync(dir), 'j.ndjson.lock');
      // --adopt-orphans: one writer on this account, so a create the killed run had in flight is
      // provably its, and "imported once" can be counted strictly.
      const args = ['dromo', 'import', ...names, '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait', '--adopt-orphans'];
      // Whoever runs holds the lock a while: every status read is answered 3 s late.
      await faults(emu, [{ route: 'dromo.get', kind: 'slow', ms: 3000 }]);
      // The stale lock: a run killed with SIGKILL as soon as it holds it.
      const killed = await run(dir, args, { killOnce: () => fs.existsSync(lockFile) });
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(fs.existsSync(lockFile), 'the killed run left its lock');
      const go = path.join(dir, 'go');
      const racers = Array.from({ length: 8 }, () => run(dir, args, { env: { NODE_OPTIONS: `--import=${pathToFileURL(barrier).href}`, HI_GO: go }, timeoutMs: 90_000 }));
      await until(() => fs.readdirSync(dir).filter((f) => f.startsWith('go.ready-')).length === 8, 60_000);
      fs.writeFileSync(go, '');
      const results = await Promise.all(racers);
      const ran = results.filter((r) => r.code === 0);
      const refused = results.filter((r) => r.code === 2);
      assert.equal(ran.length, 1, `round ${round}: exactly one run took the lock: ${results.map((r) => `${r.code} ${r.stderr.slice(0, 200)}`).join(' | ')}`);
      assert.equal(refused.length, 7, `round ${round}: the other seven were refused`);
      for (const r of refused) {
        assert.match(r.stderr, new RegExp(`journal j\\.ndjson is in use by process \\d+ on host .*its lock is ${literally(lockFile)}`));
        assert.equal(r.stdout, '', 'a refused run sends nothing');
      }
      const imports = await allImports(emu.api, 'dromo');
      for (const n of names) assert.equal(imports.filter((i) => i.original_filename === n).length, 1, `round ${round}: ${n} imported once`);
    }
  } finally {
    await emu.stop();
  }
});

test('the lock alone, raced by eight processes over 120 stale locks (holders SIGKILLed, half in another PID namespace, a third with a stale breaker too): exactly one takes each', { timeout: 120_000 }, async () => {
  const lockModule = pathToFileURL(path.join(installPackage(), 'node_modules/headless-imports/lock.js')).href;
  const dir = fs.mkdtempSync(path.join(work, 'locks-'));
  const files = Array.from({ length: 120 }, (_, i) => path.join(dir, `j${i}.journal.lock`));
  // A holder of every lock it is given, a third of them mid-takeover (their breaker held too),
  // killed once it has them all.
  const planter = `import fs from 'node:fs';
import { lock, breakerOf } from ${JSON.stringify(lockModule)};
for (const [i, f] of JSON.parse(process.env.HI_FILES).entries()) {
  if (!('held' in (await lock(f)))) throw new Error('taken twice: ' + f);
  if (i % 3 === 0 && !('held' in (await lock(breakerOf(f, fs.readFileSync(f, 'utf8').trim()))))) throw new Error('breaker');
}
console.log('{"event":"planted"}');
setInterval(() => {}, 1000);
`;
  const local = files.filter((_, i) => i % 2 === 0 || !unshareWorks);
  const foreign = files.filter((f) => !local.includes(f));
  for (const [list, prefix] of /** @type {const} */ ([[local, []], [foreign, UNSHARE]])) {
    if (!list.length) continue;
    const planted = await run(dir, [], {
      prefix: [...prefix],
      program: [process.execPath, '--input-type=module', '-e', planter],
      env: { HI_FILES: JSON.stringify(list) },
      killWhen: (events) => events.some((e) => e.event === 'planted'),
    });
    assert.equal(planted.signal, 'SIGKILL', planted.stderr);
  }
  // Holders in another namespace cannot be checked from here: 30 s after their last refresh.
  const old = new Date(Date.now() - 31_000);
  for (const f of fs.readdirSync(dir)) if (foreign.some((g) => f.startsWith(path.basename(g)))) fs.utimesSync(path.join(dir, f), old, old);

  const worker = `import readline from 'node:readline';
import { lock } from ${JSON.stringify(lockModule)};
for await (const file of readline.createInterface({ input: process.stdin })) {
  const got = await lock(file);
  process.stdout.write(('held' in got ? 'got' : 'busy') + '\\n');
}
`;
  const workers = Array.from({ length: 8 }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', worker], { stdio: ['pipe', 'pipe', 'inherit'] });
    /** @type {((line: string) => void)[]} */
    const waiting = [];
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) waiting.shift()?.(buf.slice(0, i));
    });
    return { child, ask: (/** @type {string} */ file) => new Promise((res) => (waiting.push(res), child.stdin.write(`${file}\n`))) };
  });
  try {
    const winners = new Map();
    for (const file of files) {
      const answers = await Promise.all(workers.map((w) => w.ask(file)));
      assert.equal(answers.filter((a) => a === 'got').length, 1, `${file}: ${answers}`);
      assert.equal(answers.filter((a) => a === 'busy').length, 7, `${file}: ${answers}`);
      winners.set(answers.indexOf('got'), (winners.get(answers.indexOf('got')) ?? 0) + 1);
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(`${path.basename(file)}.`)), [], `${file}: no breaker or temporary file left`);
    }
    console.log(`lock race: ${files.length} stale locks (${foreign.length} from another PID namespace), 8 racers each; wins per racer: ${[...winners.values()]}`);
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
  }
});

test('two names for one journal share one lock: a symbolic link is followed to the real file; a hard link is refused', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.02', '--no-rate-limit']));
  try {
    const dir = folder({ 's1.csv': CONTACT_ROWS, 's2.csv': CONTACT_ROWS.replace('Ada', 'Bea') });
    // Both name a journal that does not exist yet.
    fs.symlinkSync('real.journal', path.join(dir, 'link1.journal'));
    fs.symlinkSync('real.journal', path.join(dir, 'link2.journal'));
    const args = (/** @type {string} */ j) => ['dromo', 'import', 's1.csv', 's2.csv', '--journal', j, '--base-url', emu.api, '--schema-id', CONTACTS, '--no-wait'];
    const realLock = path.join(fs.realpathSync(dir), 'real.journal.lock');
    await faults(emu, [{ route: 'dromo.get', kind: 'slow', ms: 3000 }]);
    const first = run(dir, args('link1.journal'));
    await until(() => fs.existsSync(realLock));
    const second = await run(dir, args('link2.journal'));
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`journal link2\\.journal is in use by process \\d+ .*its lock is ${literally(realLock)}`));
    assert.equal((await first).code, 0);
    await faults(emu, []);
    assert.ok(fs.lstatSync(path.join(dir, 'link1.journal')).isSymbolicLink(), 'the link is still a link');
    assert.ok(fs.statSync(path.join(dir, 'real.journal')).isFile());
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.lock')), []);
    const imports = await allImports(emu.api, 'dromo');
    for (const n of ['s1.csv', 's2.csv']) assert.equal(imports.filter((i) => i.original_filename === n).length, 1, n);

    // A hard link: another name that no lock beside the first can see. Refused, by either name.
    fs.linkSync(path.join(dir, 'real.journal'), path.join(dir, 'hard.journal'));
    const before = await requests(emu);
    for (const name of ['hard.journal', 'link1.journal']) {
      const linked = await run(dir, args(name));
      assert.equal(linked.code, 2, linked.stderr);
      assert.match(linked.stderr, new RegExp(`the journal ${literally(name)} has 2 names \\(hard links\\): each name would get a lock of its own`));
    }
    assert.deepEqual(await requests(emu), before, 'nothing sent');
    const hi = await loadPackage();
    await assert.rejects(
      hi.importFiles(new hi.Dromo({ apiKey: KEY, baseUrl: emu.api }), [path.join(dir, 's1.csv')], { schema_id: CONTACTS, journal: path.join(dir, 'hard.journal') }),
      (e) => e instanceof hi.HeadlessImportsError && /** @type {any} */ (e).code === 'journal_linked',
    );
  } finally {
    await emu.stop();
  }
});

// ---------------------------------------------------------------------------------------------
// The journal's permissions, and imports given up
// ---------------------------------------------------------------------------------------------

test('an existing journal is made 0600 before an upload URL goes in it; an abandoned import that cannot be deleted is reported, and the run goes on', async () => {
  const emu = /** @type {any} */ (await startEmulator(['--time-scale', '0.05', '--no-rate-limit', '--upload-ttl', '2']));
  try {
    // Made beforehand by a wrapper script (touch: 0644); Exa's journal holds the signed URL.
    const dir = folder({ 'c.csv': COMPANY_ROWS });
    const journal = path.join(dir, 'j.ndjson');
    fs.writeFileSync(journal, '');
    fs.chmodSync(journal, 0o644);
    const r = await run(dir, ['exa', 'import', 'c.csv', '--journal', 'j.ndjson', '--base-url', emu.exa, '--entity', 'company']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((fs.statSync(journal).mode & 0o777).toString(8), '600');
    assert.ok(journalLines(journal).some((l) => l.uploadUrl), 'the upload URL is in it');
    // And one whose mode was changed after it was written is made private again.
    fs.chmodSync(journal, 0o644);
    assert.equal((await run(dir, ['exa', 'import', 'c.csv', '--journal', 'j.ndjson', '--base-url', emu.exa, '--entity', 'company'])).code, 0);
    assert.equal((fs.statSync(journal).mode & 0o777).toString(8), '600');

    // Dromo: the process dies while its import waits for the file; by the next run the URL has
    // expired, and the delete of the abandoned import fails.
    const dir2 = folder({ 'slow.csv': CONTACT_ROWS });
    const args = ['dromo', 'import', 'slow.csv', '--journal', 'j.ndjson', '--base-url', emu.api, '--schema-id', CONTACTS];
    await faults(emu, [{ route: 'storage.put', kind: 'reset_mid_upload' }]);
    const killed = await run(dir2, args, { killWhen: (events) => events.some((e) => e.event === 'created') });
    const first = killed.events.find((e) => e.event === 'created').importId;
    await faults(emu, [{ route: 'dromo.delete', kind: 'status', status: 500 }]);
    const resumed = await run(dir2, args);
    assert.equal(resumed.code, 0, resumed.stderr);
    const abandoned = resumed.events.find((e) => e.event === 'abandoned');
    assert.deepEqual([abandoned.importId, abandoned.reason, abandoned.deleted], [first, 'upload_url_expired', false]);
    assert.equal(abandoned.deleteError.code, 'internal_server_error');
    assert.match(abandoned.deleteError.message, /^500 .*\(DELETE \/headless\/imports\/[0-9a-f-]+\/\)$/);
    assert.match(abandoned.message, /could not be deleted .*left on the account/);
    const summary = resumed.events.at(-1);
    assert.deepEqual(summary.files.map((/** @type {any} */ f) => [f.outcome, f.leftBehind]), [['succeeded', [first]]]);
    assert.ok(journalLines(path.join(dir2, 'j.ndjson')).some((l) => l.type === 'abandoned' && l.id === first && l.deleted === false && l.deleteError));
    assert.equal((await control(`${emu.control}/dromo/imports/${first}`)).import.status, 'AWAITING_UPLOAD', 'still there, as reported');
  } finally {
    await emu.stop();
  }
});
