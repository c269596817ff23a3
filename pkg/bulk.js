// @ts-check
// `importFiles(client, files, options)`: many files through the library's own one-call flow
// (`importFile` and its hooks), `concurrency` at a time; with `journal`, every step is recorded in
// an append-only file so that a run killed at any point (kill -9 included) can be started again
// and resume: no second import for a create the journal recorded, an upload only to an import
// that still waits for it, the rest waited on, and a summary of every file. Node-only: it reads
// the files and writes the journal. What to do next for a file is decided in Rust
// (src/journal.rs, through OP_JOURNAL_NEXT); this file does the file I/O and the requests that
// decision asks for.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { HANDLES, run, OP_JOURNAL_NEXT, OP_FILES_CHECK } from './clients.js';
import { HeadlessImportsError, ValidationError, ImportFailedError, NeedsReviewError } from './errors.js';
import { fileFromPath } from './node-upload.js';
import { lock, unlock, inUseMessage, stillHeld } from './lock.js';

/** Exa metadata key of each create's marker, in step with `journal::MARKER_KEY`. */
const MARKER_KEY = 'headlessImportsJournal';
/** The journal format this code writes and reads. */
const VERSION = 1;
/** How every journal begins (its header line, as `append` writes it). */
const HEADER_START = '{"type":"journal"';
/** Options of `importFiles` itself; the rest are `importFile`'s, checked by the provider. */
const OWN_KEYS = ['journal', 'concurrency', 'onEvent', 'adoptUnmarkedOrphans'];
/** Flow options passed on to each file's `importFile` (and to a resumed file's wait). */
const FLOW_KEYS = ['wait', 'rows', 'intervalMs', 'backoff', 'maxIntervalMs', 'timeoutMs', 'signal', 'waitForReview', 'webhooks'];
/** What a wait takes of them. */
const WAIT_KEYS = ['intervalMs', 'backoff', 'maxIntervalMs', 'timeoutMs', 'signal', 'waitForReview', 'webhooks'];
/** Imports read, newest first, when looking for an orphan: enough for a busy hour of creates. */
const MAX_SCAN = 2000;
/** Decisions per file before giving up: a resume takes at most about six (find, adopt, look, upload, wait). */
const MAX_STEPS = 16;
/** How old a journaled create may be to tell this run how the API's clock stands to ours. */
const CLOCK_MEASURE_MAX_AGE_MS = 3_600_000;
/** Record kinds and the fields each needs besides the file's `path`, `size`, `mtimeMs`. */
const RECORDS = /** @type {Record<string, Record<string, string>>} */ ({
  intent: { marker: 'string', t: 'number' },
  created: { id: 'string' },
  uploaded: { id: 'string' },
  done: { id: 'string', status: 'string' },
  abandoned: { id: 'string' },
  // A possible orphan of this file's left alone (Dromo): reported in every later summary.
  left: { id: 'string' },
});

/**
 * @typedef {{ path: string, abs: string, known: string, given: string, name: string, size: number, mtimeMs: number, inode: string, index: number, formerly?: string[] }} Entry
 *   (`abs`: the file's real path, which is read; `known`: the path the journal knows it by, its
 *   real path unless the journal knew it by another (see `Journal.spell`); `given`: the path as
 *   given, made absolute; `name`: its last part, the import's file name; `inode`: `device:inode`;
 *   `formerly`: other paths the journal has this inode's records under, none of them named in
 *   this run: where the file was before it was moved and changed)
 * @typedef {{ file: string, importId?: string, status?: string, outcome: string, earlier?: boolean, error?: unknown, leftBehind?: string[] }} FileOutcome
 * @typedef {{ importId?: string, leftBehind: string[] }} State
 * @typedef {Record<string, any>} JournalRecord
 */

/** @param {string} path @param {string} message */
const invalid = (path, message) => new ValidationError(`${path}: ${message}`, { path });

/**
 * A journal problem found before any request: `code` `journal_mismatch` (written for other
 * options), `journal_damaged`, `journal_in_use`, `journal_linked` (hard links) or
 * `journal_unusable`. `path` is the journal as
 * given; `lockPath` (for `journal_in_use`) the lock file.
 * @param {string} code @param {string} message @param {string} file @param {unknown} [cause]
 */
const journalError = (code, message, file, cause) => new HeadlessImportsError(message, { code, path: file, cause });

/** JSON with object keys sorted, so two option sets compare by content. @param {unknown} v @returns {string} */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(/** @type {any} */ (v)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * The journal's real path: symbolic links followed (the last one may name a file not made yet),
 * so that every name of one journal gets the same lock beside it.
 * @param {string} file
 */
function realJournalPath(file) {
  let p = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let st;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if (/** @type {any} */ (e).code !== 'ENOENT') throw e;
      try {
        return path.join(fs.realpathSync(path.dirname(p)), path.basename(p));
      } catch (up) {
        // Named in the message: the directory the path leads to, past any symbolic link.
        throw Object.assign(/** @type {Error} */ (up), { dir: path.dirname(p) });
      }
    }
    if (!st.isSymbolicLink()) return fs.realpathSync(p);
    p = path.resolve(path.dirname(p), fs.readlinkSync(p));
  }
  throw Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' });
}

/**
 * Why the journal's path cannot be followed, in words: a missing file is created, so what is
 * missing is a directory on the way; a loop of symbolic links never ends.
 * @param {string} file as given @param {unknown} e what the filesystem threw
 */
function whyUnreachable(file, e) {
  const code = /** @type {any} */ (e)?.code;
  if (code === 'ENOENT') return `its directory ${/** @type {any} */ (e).dir ?? path.dirname(path.resolve(file))} does not exist (ENOENT): create it first`;
  if (code === 'ELOOP') return 'its path loops through symbolic links (ELOOP)';
  if (code === 'ENOTDIR') return 'a part of its path is a file, not a directory (ENOTDIR)';
  if (code === 'EACCES') return 'permission denied on its path (EACCES)';
  return String(code ?? e);
}

/**
 * The message for a journal this run may not write (read-only file or filesystem), else undefined.
 * A read-only journal is the owner's choice: it is refused, never made writable behind their back.
 * @param {string} file as given @param {unknown} e
 */
function unwritable(file, e) {
  const code = /** @type {any} */ (e)?.code;
  if (!['EACCES', 'EPERM', 'EROFS'].includes(code)) return undefined;
  return `the journal ${file} cannot be written (${code}): a run appends to it as its files progress; make it writable (chmod 600) or give another file`;
}

/**
 * Refuses a journal with more than one name in the filesystem: a lock sits beside a name, and
 * another hard link (perhaps in another directory) would get a lock of its own.
 * @param {string} file as given @param {number} links
 */
function refuseHardLinks(file, links) {
  if (links > 1) {
    throw journalError(
      'journal_linked',
      `the journal ${file} has ${links} names (hard links): each name would get a lock of its own, so two runs could write it at once. Give it one name (remove the other links; \`find / -samefile ${file}\` lists them) or use a copy.`,
      file,
    );
  }
}

/**
 * The append-only journal of one run: read (a torn last line, from a crash mid-write, is cut off),
 * checked against this run's options, locked against a second run at once, then appended to with
 * one `write` and one `fsync` per batch of lines (each awaited before the step it guards).
 */
class Journal {
  /** Whether another run took the journal over (see `append`): this run starts no more files. */
  lost = false;
  /** @type {fs.promises.FileHandle | undefined} */
  #fh;
  /** @type {import('./lock.js').Held | undefined} */
  #held;
  /** @type {{ line: string, resolve: () => void, reject: (e: unknown) => void }[]} */
  #queue = [];
  #writing = false;
  /** @type {Map<string, JournalRecord[]>} records by file key */
  #byFile = new Map();
  /** @type {Set<string>} every import id the journal names */
  #known = new Set();
  /** @type {Set<string>} absolute paths the journal has records of (any size or mtime) */
  #paths = new Set();
  /** @type {Set<string>} the `device:inode` of every file of this run (see `spell`) */
  #claimed = new Set();
  /** @type {Map<string, Set<string>>} path -> the file keys (sizes and mtimes) it has records under */
  #keysOf = new Map();
  /** @type {Map<string, Set<string>>} `device:inode` -> the paths it has records under (any size or mtime) */
  #pathsOf = new Map();
  /** Markers handed out: each create's is new, also when its intent is journaled later. */
  #markers = 0;
  /**
   * How far the API's clock is at least ahead of ours (ms; negative: behind), from the creates
   * seen answered: the largest `created time (API) - journaled time (ours)`. Each intent carries
   * it, so that its orphan is looked for only among imports stamped after the intent.
   * @type {number | undefined}
   */
  #apiAhead;
  /** @param {string} file as given @param {string} real its real path @param {string} id */
  constructor(file, real, id) {
    this.file = file;
    this.real = real;
    this.id = id;
  }

  /**
   * Opens (or starts) the journal at `file` for a run with `identity` ({ provider, baseUrl, params }).
   * @param {string} file @param {{ provider: string, baseUrl: string, params: unknown }} identity
   */
  static async open(file, identity) {
    // Resolving would drop the slash (or the `.`) and make a file of what was meant as a directory.
    if (/(^|[\\/])\.{0,2}$/.test(file)) {
      throw journalError('journal_unusable', `the journal ${file} names a directory (it ends with a slash, . or ..): a journal is a file (give the path of a file; it is created if missing)`, file);
    }
    let real = '';
    try {
      real = realJournalPath(file);
      const st = fs.statSync(real);
      // A directory (nlink 2 and up) or a device is no journal: said as such, not as hard links.
      if (!st.isFile()) {
        throw journalError(
          'journal_unusable',
          `the journal ${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}: a journal must be a regular file (give the path of a file; it is created if missing)`,
          file,
        );
      }
      refuseHardLinks(file, st.nlink);
    } catch (e) {
      if (e instanceof HeadlessImportsError) throw e;
      if (/** @type {any} */ (e).code !== 'ENOENT' || !real) {
        throw journalError('journal_unusable', `cannot find the journal ${file}: ${whyUnreachable(file, e)}`, file, e);
      }
    }
    const lockFile = `${real}.lock`;
    /** @type {import('./lock.js').Outcome} */
    let got;
    try {
      got = await lock(lockFile);
    } catch (e) {
      throw journalError('journal_unusable', `cannot lock the journal ${file} (${lockFile}): ${/** @type {any} */ (e).code ?? /** @type {any} */ (e).message ?? e}`, file, e);
    }
    if (!('held' in got)) {
      const err = journalError('journal_in_use', inUseMessage(file, lockFile, got.holder, got.verdict, got.seen), file);
      Object.assign(err, { lockPath: lockFile });
      throw err;
    }
    try {
      const journal = await Journal.#load(file, real, identity);
      journal.#held = got.held;
      return journal;
    } catch (e) {
      await unlock(got.held);
      throw e;
    }
  }

  /** @param {string} file as given @param {string} real @param {{ provider: string, baseUrl: string, params: unknown }} identity */
  static async #load(file, real, identity) {
    /** @type {string} */
    let text = '';
    try {
      text = fs.readFileSync(real, 'utf8');
    } catch (e) {
      if (/** @type {any} */ (e).code !== 'ENOENT') throw journalError('journal_unusable', `cannot read the journal ${file}: ${/** @type {any} */ (e).code ?? e}`, file, e);
    }
    // A line is complete once its newline is written: anything after the last one is a write
    // the crash cut short, which never happened as far as the journal is concerned.
    const end = text.lastIndexOf('\n') + 1;
    const lines = text.slice(0, end).split('\n').slice(0, -1);
    const torn = text.length > end;
    // Only what this code writes is ever cut: a file of something else is refused untouched.
    const notOurs = () => journalError('journal_damaged', `${file} is not a headless-imports journal (its first line is not one): give another file`, file);
    if (!lines.length && !(HEADER_START.startsWith(text) || text.startsWith(HEADER_START))) throw notOurs();
    const header = lines.length ? parseLine(lines[0], 1, file, notOurs) : undefined;
    /** @type {Journal} */
    let journal;
    if (header) {
      if (header.type !== 'journal') throw notOurs();
      if (header.version !== VERSION) throw journalError('journal_damaged', `the journal ${file} has format version ${header.version}; this headless-imports reads version ${VERSION}`, file);
      const differs = [];
      if (header.provider !== identity.provider) differs.push(`provider ${header.provider} (this run: ${identity.provider})`);
      if (header.baseUrl !== identity.baseUrl) differs.push(`base URL ${header.baseUrl} (this run: ${identity.baseUrl})`);
      const was = header.params && typeof header.params === 'object' ? header.params : {};
      const now = /** @type {Record<string, unknown>} */ (identity.params);
      const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => canonical(was[k]) !== canonical(now[k])).sort();
      if (keys.length) differs.push(`other import options (${keys.join(', ')})`);
      if (differs.length) {
        throw journalError(
          'journal_mismatch',
          `the journal ${file} was written for ${differs.join(', ')}: refusing to mix another run's imports into it. Use another journal file, or remove this one to start over.`,
          file,
        );
      }
      journal = new Journal(file, real, String(header.id));
      const loadedAt = Date.now();
      for (let i = 1; i < lines.length; i++) {
        const r = checkRecord(parseLine(lines[i], i + 1, file), i + 1, file);
        journal.#remember(r);
        if (r.type === 'intent') journal.#markers++;
        // A recent create tells how the API's clock stands to ours (an old one, less surely).
        if (r.type === 'created' && typeof r.apiMs === 'number' && Math.abs(loadedAt - r.t) < CLOCK_MEASURE_MAX_AGE_MS) journal.#measured(r.apiMs, r.t);
      }
    } else {
      journal = new Journal(file, real, crypto.randomBytes(6).toString('hex'));
    }
    try {
      if (torn || !header) fs.truncateSync(real, header ? end : 0);
    } catch (e) {
      if (/** @type {any} */ (e).code !== 'ENOENT') throw journalError('journal_unusable', unwritable(file, e) ?? `cannot repair the journal ${file}: ${/** @type {any} */ (e).code ?? e}`, file, e);
    }
    try {
      // O_APPEND: every write lands at the end, whatever else happened to the file.
      journal.#fh = await fs.promises.open(real, 'a', 0o600);
    } catch (e) {
      throw journalError('journal_unusable', unwritable(file, e) ?? `cannot open the journal ${file}: ${/** @type {any} */ (e).code ?? e}`, file, e);
    }
    try {
      // 0600 whatever it was made with (touch, a wrapper script: 0644): an Exa import's upload URL
      // goes in it (valid for an hour, for that import's file only).
      await journal.#fh.chmod(0o600);
      refuseHardLinks(file, (await journal.#fh.stat()).nlink);
    } catch (e) {
      await journal.#fh.close().catch(() => {});
      if (e instanceof HeadlessImportsError) throw e;
      throw journalError('journal_unusable', `cannot make the journal ${file} private (chmod 600): ${/** @type {any} */ (e).code ?? e}`, file, e);
    }
    if (!header) {
      await journal.append({ type: 'journal', version: VERSION, id: journal.id, provider: identity.provider, baseUrl: identity.baseUrl, params: identity.params, t: Date.now() });
      // The new file's name must survive a power cut too, not only its contents.
      try {
        const dir = fs.openSync(path.dirname(real), 'r');
        try {
          fs.fsyncSync(dir);
        } finally {
          fs.closeSync(dir);
        }
      } catch {
        // Some filesystems cannot fsync a directory; the file's own fsync stands.
      }
    }
    return journal;
  }

  /** @param {JournalRecord} r */
  #remember(r) {
    if (r.type === 'journal') return;
    const key = fileKey(/** @type {{ path: string, size: number, mtimeMs: number }} */ (r));
    const list = this.#byFile.get(key);
    if (list) list.push(r);
    else this.#byFile.set(key, [r]);
    this.#paths.add(r.path);
    const keys = this.#keysOf.get(r.path);
    if (keys) keys.add(key);
    else this.#keysOf.set(r.path, new Set([key]));
    if (typeof r.inode === 'string') {
      const paths = this.#pathsOf.get(r.inode);
      if (paths) paths.add(r.path);
      else this.#pathsOf.set(r.inode, new Set([r.path]));
    }
    if (typeof r.id === 'string') this.#known.add(r.id);
  }

  /** @param {number} apiMs the API's creation time of an import @param {number} t our time of its `created` line */
  #measured(apiMs, t) {
    if (Number.isFinite(apiMs) && Number.isFinite(t)) this.#apiAhead = Math.max(this.#apiAhead ?? -Infinity, apiMs - t);
  }

  /**
   * Sets the path the journal knows each of this run's files by (`known`), so that its records and
   * the new ones stay together. A file is known by its real path, size and mtime, unless the
   * records there are of another file of this run (by device and inode: the file at this path was
   * moved there, and another put in its place). Otherwise, with no records of its own path: by
   * another name of the same file, unchanged (device, inode, size and mtime): a hard link to a
   * journaled file, or one moved since; or by the path as given, which an earlier version of this
   * package journaled files by. The file is always read from its own real path.
   * @param {Entry[]} entries
   */
  spell(entries) {
    this.#claimed = new Set(entries.map((e) => e.inode));
    const named = new Set(entries.map((e) => e.abs));
    for (const entry of entries) {
      if (this.recordsOf(entry).length > 0) continue;
      const moved = this.#sameFile(entry);
      if (moved !== undefined) entry.known = moved;
      else if (entry.given !== entry.abs && !this.#paths.has(entry.abs) && this.#paths.has(entry.given)) entry.known = entry.given;
      else {
        // Moved (or linked) and changed since: its inode's records under names this run does not
        // give are its earlier versions (see `changed`). An inode reused by a new file after the
        // old one was deleted would match too: then the old file's unfinished import, which can
        // never get its file, goes with it.
        entry.formerly = [...(this.#pathsOf.get(entry.inode) ?? [])].filter((p) => p !== entry.known && !named.has(p));
      }
    }
  }

  /**
   * The first path the journal knows `entry`'s file by, unchanged: the same device, inode, size
   * and mtime (a hard link to it, or its name before it was moved).
   * @param {Entry} entry
   */
  #sameFile(entry) {
    for (const p of this.#pathsOf.get(entry.inode) ?? []) {
      const records = this.#byFile.get(`${p}\0${entry.size}\0${entry.mtimeMs}`) ?? [];
      if (records.some((r) => r.inode === entry.inode)) return p;
    }
    return undefined;
  }

  /**
   * The records of `entry` (its known path, size and mtime), in order, but for those of another
   * file of this run (by device and inode). Records of a device and inode no file of this run has
   * are its own: a remount may renumber inodes, and a file taken for new would be imported twice.
   * @param {Entry} entry
   */
  recordsOf(entry) {
    return this.#mine(entry, this.#byFile.get(fileKey(entry)) ?? []);
  }

  /** Those of `records` that are not another file's of this run. @param {Entry} entry @param {JournalRecord[]} records */
  #mine(entry, records) {
    return records.filter((r) => r.inode === undefined || r.inode === entry.inode || !this.#claimed.has(r.inode));
  }

  /**
   * Whether the journal holds records of `entry`'s path for another size or mtime (and none for
   * this one): records of its own, not of another file of this run that was there before.
   * @param {Entry} entry
   */
  changed(entry) {
    return this.recordsOf(entry).length === 0 && this.#earlier(entry).some((list) => list.length > 0);
  }

  /** The records of `entry`'s path under other sizes and mtimes, by version. @param {Entry} entry */
  #earlier(entry) {
    const now = fileKey(entry);
    const keys = [entry.known, ...(entry.formerly ?? [])].flatMap((p) => [...(this.#keysOf.get(p) ?? [])]);
    return keys.filter((k) => k !== now).map((k) => {
      const mine = this.#mine(entry, this.#byFile.get(k) ?? []);
      // Under another name, only this file's own records (its inode) are its earlier versions.
      return k.startsWith(`${entry.known}\0`) ? mine : mine.filter((r) => r.inode === entry.inode);
    });
  }

  /**
   * The imports created for earlier versions of `entry`'s file (its path at another size or
   * mtime) that the journal never saw end: each with whether its file went up, and the version's
   * size and mtime.
   * @param {Entry} entry @returns {{ id: string, uploaded: boolean, path: string, size: number, mtimeMs: number, inode?: string }[]}
   */
  unfinishedEarlier(entry) {
    const out = [];
    for (const list of this.#earlier(entry)) {
      const ended = new Set(list.filter((r) => r.type === 'done' || r.type === 'abandoned').map((r) => r.id));
      const uploaded = new Set(list.filter((r) => r.type === 'uploaded').map((r) => r.id));
      for (const r of list) {
        if (r.type === 'created' && !ended.has(r.id)) out.push({ id: String(r.id), uploaded: uploaded.has(r.id), path: r.path, size: r.size, mtimeMs: r.mtimeMs, inode: r.inode });
      }
    }
    return out;
  }

  /**
   * The imports the journal says were left on the account for `entry`: possible orphans left
   * alone, and abandoned ones that could not be deleted.
   * @param {Entry} entry @returns {string[]}
   */
  leftOf(entry) {
    const ids = this.recordsOf(entry)
      .filter((r) => r.type === 'left' || (r.type === 'abandoned' && r.deleted === false))
      .map((r) => String(r.id));
    return [...new Set(ids)];
  }

  /** Whether the journal names import `id` (any file's). @param {string} id */
  knows(id) {
    return this.#known.has(id);
  }

  /** A marker for a new create, unique to this journal (handed out before its intent is written). */
  marker() {
    // Random as well as numbered: a journal cut back or restored from a copy counts again from
    // where it was cut, and the same marker on another file's create would make that file's
    // import look like this one's.
    return `${this.id}.${++this.#markers}.${crypto.randomBytes(4).toString('hex')}`;
  }

  /** How far the API's clock is at least ahead of ours, if this run can tell. */
  apiAhead() {
    return this.#apiAhead;
  }

  /**
   * Appends `record` for `entry` and resolves once it is on disk (written and fsynced).
   * @param {JournalRecord} record @param {Entry} [entry]
   */
  append(record, entry) {
    // Every line, the intent before each create among them, only while the journal is still this
    // run's: one stopped or stalled long enough that another run took its lock over stops here.
    if (this.#taken()) return Promise.reject(this.#lostError());
    const r = entry ? { type: record.type, path: entry.known, size: entry.size, mtimeMs: entry.mtimeMs, inode: entry.inode, ...record, t: record.t ?? Date.now() } : record;
    this.#remember(r);
    if (r.type === 'created' && typeof r.apiMs === 'number') this.#measured(r.apiMs, r.t);
    return new Promise((resolve, reject) => {
      this.#queue.push({ line: JSON.stringify(r) + '\n', resolve: () => resolve(undefined), reject });
      void this.#drain();
    });
  }

  /** Whether another run has taken the journal over (then for good). */
  #taken() {
    if (!this.lost && this.#held && !stillHeld(this.#held)) this.lost = true;
    return this.lost;
  }

  #lostError() {
    return journalError(
      'journal_lock_lost',
      `the journal ${this.file} was taken over by another run while this one was stopped or stalled (its lock is no longer this run's): this run stops here, writing and creating nothing more, and leaves the journal to that run`,
      this.file,
    );
  }

  /** Writes what is queued, many lines in one write and one fsync. */
  async #drain() {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#queue.length) {
        const batch = this.#queue.splice(0);
        // Checked again as the lines go: they may have waited for an earlier batch's fsync
        // while this process was stopped.
        if (this.#taken()) {
          const err = this.#lostError();
          for (const b of batch) b.reject(err);
          continue;
        }
        try {
          const fh = /** @type {fs.promises.FileHandle} */ (this.#fh);
          let bytes = Buffer.from(batch.map((b) => b.line).join(''));
          while (bytes.length) {
            const { bytesWritten } = await fh.write(bytes);
            bytes = bytes.subarray(bytesWritten);
          }
          await fh.sync();
          for (const b of batch) b.resolve();
        } catch (e) {
          const err = journalError('journal_unusable', `cannot write the journal ${this.file}: ${/** @type {any} */ (e).code ?? e}`, this.file, e);
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  async close() {
    await this.#fh?.close().catch(() => {});
    if (this.#held) await unlock(this.#held);
  }
}

/** @param {{ path: string, size: number, mtimeMs: number }} r */
const fileKey = (r) => `${'known' in r ? r.known : r.path}\0${r.size}\0${r.mtimeMs}`;

/**
 * @param {string} line @param {number} n @param {string} file
 * @param {() => Error} [otherwise] the error when the line is no JSON object
 */
function parseLine(line, n, file, otherwise) {
  try {
    const v = JSON.parse(line);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    // said below
  }
  if (otherwise) throw otherwise();
  throw journalError('journal_damaged', `the journal ${file} is damaged at line ${n} (not a JSON object). Only a last line cut short by a crash is repaired; fix or remove the file.`, file);
}

/** @param {JournalRecord} r @param {number} n @param {string} file */
function checkRecord(r, n, file) {
  const fields = RECORDS[r.type];
  const bad = !fields || typeof r.path !== 'string' || typeof r.size !== 'number' || typeof r.mtimeMs !== 'number' || Object.entries(fields).some(([k, t]) => typeof r[k] !== t);
  if (bad) throw journalError('journal_damaged', `the journal ${file} is damaged at line ${n} (not a record this version writes). Fix or remove the file.`, file);
  return r;
}

/**
 * Reads `importFiles`' arguments before any request: the client, the files (each a readable,
 * non-empty regular file, none twice) and the options.
 * @param {unknown} client @param {unknown} files @param {unknown} options
 */
function readArguments(client, files, options) {
  /** @type {any} */
  let imports;
  try {
    imports = /** @type {any} */ (client)?.imports;
  } catch {
    // a Proxy whose trap throws: not a client
  }
  if (!imports || !HANDLES.has(imports)) throw invalid('client', 'must be a Dromo or Exa client (new Dromo(...) or new Exa(...))');
  /** @type {unknown[]} */
  let list;
  try {
    if (!Array.isArray(files)) throw invalid('files', 'must be an array of file paths');
    list = [...files];
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw invalid('files', 'cannot be read (a revoked Proxy?)');
  }
  if (list.length === 0) throw invalid('files', 'is empty: give at least one file path');
  /** @type {Entry[]} */
  const entries = [];
  /** @type {Map<string, string>} real path -> the path first given for it */
  const seen = new Map();
  list.forEach((f, i) => {
    const at = `files[${i}]`;
    if (typeof f !== 'string' || f === '' || f.includes('\0')) throw invalid(at, 'must be a non-empty string naming a file');
    const given = path.resolve(f);
    /** @type {fs.Stats} */
    let st;
    /** @type {string} */
    let abs;
    try {
      // Known by its real path: the same file through a symbolic link, or a linked directory, is
      // the same file (to this check, and to the journal on the next run).
      abs = fs.realpathSync(given);
      st = fs.statSync(abs);
      fs.accessSync(abs, fs.constants.R_OK);
    } catch (e) {
      throw invalid(at, `cannot read ${f}: ${/** @type {any} */ (e).code ?? e}`);
    }
    // A hard link is another real path to the same file: the device and inode tell.
    const before = seen.get(abs) ?? seen.get(`${st.dev}:${st.ino}`);
    if (before !== undefined) throw invalid(at, `names ${f}, the same file as ${before}, a second time`);
    seen.set(abs, f);
    seen.set(`${st.dev}:${st.ino}`, f);
    if (!st.isFile()) throw invalid(at, `${f} is not a regular file`);
    if (st.size === 0) throw invalid(at, `${f} is empty (0 bytes): nothing to import`);
    entries.push({ path: f, abs, known: abs, given, name: path.basename(given), size: st.size, mtimeMs: st.mtimeMs, inode: `${st.dev}:${st.ino}`, index: i });
  });
  /** @type {Record<string, any>} */
  let o;
  try {
    if (options === undefined) o = {};
    else if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalid('options', 'must be an object');
    else o = { ...options };
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw invalid('options', 'cannot be read (a revoked Proxy or a throwing getter?)');
  }
  if (o.journal !== undefined && (typeof o.journal !== 'string' || o.journal === '' || o.journal.includes('\0'))) {
    throw invalid('options.journal', 'must be the path of the journal file (created if missing)');
  }
  const concurrency = o.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw invalid('options.concurrency', 'must be an integer from 1 to 64');
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') throw invalid('options.onEvent', 'must be a function');
  if (o.adoptUnmarkedOrphans !== undefined && typeof o.adoptUnmarkedOrphans !== 'boolean') throw invalid('options.adoptUnmarkedOrphans', 'must be true or false');
  /** @type {Record<string, any>} */
  const rest = {};
  for (const [k, v] of Object.entries(o)) if (!OWN_KEYS.includes(k)) rest[k] = v;
  const adoptUnmarked = o.adoptUnmarkedOrphans === true;
  return { imports, entries, journal: /** @type {string | undefined} */ (o.journal), concurrency, onEvent: /** @type {Function | undefined} */ (o.onEvent), adoptUnmarked, rest };
}

/**
 * `importFiles(client, files, options)`: see index.d.ts.
 * @param {unknown} client @param {unknown} files @param {unknown} [options]
 */
export async function importFiles(client, files, options) {
  const { imports, entries, journal: journalFile, concurrency, onEvent, adoptUnmarked, rest } = readArguments(client, files, options);
  // The provider checks its options (and each file's name or size) as importFile would, before
  // anything is sent, and says what the journal is for.
  const identity = await run(imports, OP_FILES_CHECK, rest, entries.map((e) => ({ name: e.name, size: e.size })));
  const exa = identity.provider === 'exa';
  /** @type {Record<string, any>} */
  const flow = {};
  for (const k of FLOW_KEYS) if (rest[k] !== undefined) flow[k] = rest[k];
  const wait = flow.wait !== false;
  const rows = !exa && flow.rows === true;
  /** @type {AbortSignal | undefined} */
  const signal = flow.signal;
  const journal = journalFile ? await Journal.open(journalFile, identity) : undefined;
  journal?.spell(entries);
  /** @type {FileOutcome[]} */
  const outcomes = entries.map((e) => ({ file: e.path, outcome: 'not_started' }));
  try {
    // The files an earlier run may have left an orphan for (an intent with no id after it) share
    // one scan of the newest imports, made before this run creates anything: an import of this
    // run's can then never be taken for an earlier run's orphan (Dromo's are matched by name).
    // Dromo: an orphan must carry the saved schema the run creates with, when it names one.
    const schemaId = typeof identity.params?.schema_id === 'string' ? identity.params.schema_id : undefined;
    // Dromo's orphans carry nothing of ours: adopted only on the user's word (adoptUnmarkedOrphans).
    const context = () => ({ now: Date.now(), ...(schemaId ? { schemaId } : {}), ...(adoptUnmarked ? { adoptUnmarked: true } : {}) });
    let since = Infinity;
    for (const entry of journal ? entries : []) {
      const next = await run(imports, OP_JOURNAL_NEXT, /** @type {Journal} */ (journal).recordsOf(entry), {}, context());
      if (next.action === 'find') since = Math.min(since, next.since);
    }
    /** @type {Promise<{ listed: any[], complete: boolean }> | undefined} */
    let scan;
    if (since < Infinity) {
      scan = listSince(imports, since, signal);
      // Each file that needs it awaits it again: a failed scan fails those files only.
      await scan.catch(() => {});
    }
    const findOrphans = () => scan ?? Promise.resolve({ listed: [], complete: true });

    const ctx = { client: /** @type {any} */ (client), imports, exa, params: identity.params, flow, wait, rows, signal, journal, onEvent, findOrphans, context, adoptUnmarked };
    let next = 0;
    const worker = async () => {
      while (next < entries.length && !signal?.aborted && !journal?.lost) {
        const entry = entries[next++];
        outcomes[entry.index] = await importOne(ctx, entry);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
  } finally {
    await journal?.close();
  }
  return { files: outcomes };
}

/**
 * Imports created since `since` (ms, the API's clock), newest first, as the decision reads them;
 * `complete` unless the scan stopped at MAX_SCAN before reaching that time.
 * @param {any} imports @param {number} since @param {AbortSignal | undefined} signal
 */
async function listSince(imports, since, signal) {
  const listed = [];
  for await (const imp of imports.list({ limit: 100, ...(signal ? { signal } : {}) })) {
    const createdMs = Date.parse(imp.created_date ?? imp.createdAt);
    if (createdMs < since) return { listed, complete: true };
    if (listed.length >= MAX_SCAN) return { listed, complete: false };
    listed.push({ id: imp.id, status: imp.status, marker: imp.metadata?.[MARKER_KEY], name: imp.original_filename, schemaId: imp.schema_id, createdMs });
  }
  return { listed, complete: true };
}

/**
 * @typedef {{
 *   client: any, imports: any, exa: boolean, params: Record<string, any>, flow: Record<string, any>,
 *   wait: boolean, rows: boolean, signal: AbortSignal | undefined, journal: Journal | undefined,
 *   onEvent: Function | undefined, findOrphans: () => Promise<{ listed: any[], complete: boolean }>,
 *   context: () => Record<string, unknown>, adoptUnmarked: boolean,
 * }} Ctx
 */

/** What `onEvent` threw (objects only): told apart from the flow's own errors. */
const fromOnEvent = new WeakSet();

/**
 * One file, to its outcome: resumed from the journal where it has a say, else imported afresh.
 * Never throws: what went wrong is the outcome's `error`.
 * @param {Ctx} ctx @param {Entry} entry
 * @returns {Promise<FileOutcome>}
 */
async function importOne(ctx, entry) {
  /** @type {State} */
  const state = { leftBehind: ctx.journal ? ctx.journal.leftOf(entry) : [] };
  /** @param {Record<string, unknown>} e */
  const emit = async (e) => {
    if (!ctx.onEvent) return;
    try {
      await ctx.onEvent({ event: e.event, file: entry.path, ...(state.importId ? { importId: state.importId } : {}), ...e });
    } catch (thrown) {
      if (thrown !== null && (typeof thrown === 'object' || typeof thrown === 'function')) fromOnEvent.add(thrown);
      throw thrown;
    }
  };
  /** @param {FileOutcome} outcome */
  const withLeft = (outcome) => (state.leftBehind.length ? { ...outcome, leftBehind: state.leftBehind } : outcome);
  try {
    return withLeft(await steps(ctx, entry, state, emit));
  } catch (caught) {
    // A flow's hook (onCreating, onCreated, ...) of this module's that failed because onEvent or
    // the journal did: that failure is the error, not the flow's "onCreated threw" around it.
    const cause = /** @type {any} */ (caught)?.code === 'callback_error' ? /** @type {any} */ (caught).cause : undefined;
    const error = cause !== undefined && (fromOnEvent.has(cause) || (cause instanceof HeadlessImportsError && cause.code.startsWith('journal_'))) ? cause : caught;
    const e = /** @type {any} */ (error);
    if (!state.importId && e?.import?.id) state.importId = e.import.id;
    try {
      const outcome = await concluded(ctx, entry, state, emit, e);
      if (outcome) return withLeft(outcome);
      await emit({ event: 'error', error });
    } catch (also) {
      // The journal or onEvent failed while the end was recorded or told: that is the outcome.
      return withLeft({ file: entry.path, importId: state.importId, outcome: 'error', error: also });
    }
    return withLeft({ file: entry.path, importId: state.importId, outcome: 'error', error });
  }
}

/**
 * Deletes import `id`, given up by this run, as well as it can: true when it is gone (deleted
 * now, or before), else the error (the run goes on; the id is reported as left behind). An
 * abort is the run's own end, and passes.
 * @param {Ctx} ctx @param {string} id @returns {Promise<true | { error: unknown }>}
 */
async function deleteAbandoned(ctx, id) {
  try {
    await ctx.imports.delete(id, ctx.signal ? { signal: ctx.signal } : {});
    return true;
  } catch (e) {
    const code = /** @type {any} */ (e)?.code;
    if (code === 'not_found') return true;
    if (ctx.signal?.aborted) throw e;
    return { error: e };
  }
}

/**
 * Gives import `id` up: deletes it (unless it is `gone` already), journals that, and tells.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit
 * @param {string} id @param {string} reason @param {string} message
 */
async function abandon(ctx, entry, state, emit, id, reason, message) {
  const deleted = reason === 'gone' ? true : await deleteAbandoned(ctx, id);
  const error = deleted === true ? undefined : deleted.error;
  const why = error ? String(/** @type {any} */ (error)?.message ?? error) : undefined;
  await /** @type {Journal} */ (ctx.journal).append({ type: 'abandoned', id, reason, deleted: !error, ...(why ? { deleteError: why } : {}) }, entry);
  if (error && !state.leftBehind.includes(id)) state.leftBehind.push(id);
  const tail = error ? ` It could not be deleted (${why}): it is left on the account.` : reason === 'gone' ? '' : ' It was deleted.';
  await emit({ event: 'abandoned', importId: id, reason, deleted: !error, ...(error ? { deleteError: error } : {}), message: `${message}${tail}` });
}

/**
 * A flow's error that is a final answer about the import (NEEDS_REVIEW, FAILED), journaled as
 * its `done`; or a failed upload after which Exa's flow deleted the import (journaled abandoned).
 * Returns the outcome when the error was such an answer.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit @param {any} e
 * @returns {Promise<FileOutcome | undefined>}
 */
async function concluded(ctx, entry, state, emit, e) {
  const id = state.importId;
  if (e?.code === 'needs_review' && id) {
    await ctx.journal?.append({ type: 'done', id, status: 'NEEDS_REVIEW', reviewUrl: e.reviewUrl }, entry);
    await emit({ event: 'done', status: 'NEEDS_REVIEW', reviewUrl: e.reviewUrl, import: e.import, waited: true });
    return { file: entry.path, importId: id, status: 'NEEDS_REVIEW', outcome: 'needs_review' };
  }
  if (e?.code === 'import_failed' && id) {
    const status = String(e.import?.status ?? 'FAILED');
    await ctx.journal?.append({ type: 'done', id, status, message: e.message, ...(e.failedReason ? { failedReason: e.failedReason } : {}) }, entry);
    await emit({ event: 'error', error: e });
    return { file: entry.path, importId: id, status, outcome: 'failed', error: e };
  }
  if (e?.deleted === true && id) await ctx.journal?.append({ type: 'abandoned', id, reason: 'deleted' }, entry);
  return undefined;
}

/**
 * `entry`'s file changed since the journal recorded it: it is imported as a new file, and what an
 * earlier run made for it as it was and did not finish is dealt with. An import still waiting
 * for the old bytes would wait for ever: it goes (Dromo: once the API confirms it is waiting). One
 * that has them is a real import of them: left as it is, and named in `leftBehind`.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit
 */
async function earlierVersions(ctx, entry, state, emit) {
  const { journal, imports } = ctx;
  await emit({ event: 'note', message: `${entry.path} changed since the journal recorded it (size or modification time): imported as a new file` });
  const call = ctx.signal ? { signal: ctx.signal } : {};
  for (const old of /** @type {Journal} */ (journal).unfinishedEarlier(entry)) {
    const before = { ...entry, known: old.path, size: old.size, mtimeMs: old.mtimeMs, inode: old.inode ?? entry.inode };
    // Under another name: where it was (moved and changed since, or a new file on its inode).
    const was = old.path === entry.known ? `${entry.path} as it was before it changed` : `${old.path} (this file's device and inode, before it was moved and changed)`;
    let uploaded = old.uploaded;
    if (!uploaded && !ctx.exa) {
      try {
        uploaded = (await imports.retrieve(old.id, call))?.status !== 'AWAITING_UPLOAD';
      } catch (e) {
        if (/** @type {any} */ (e)?.code !== 'not_found') throw e;
        await abandon(ctx, before, state, emit, old.id, 'gone', `import ${old.id}, created for ${was}, no longer exists.`);
        continue;
      }
    }
    if (uploaded) {
      if (!state.leftBehind.includes(old.id)) state.leftBehind.push(old.id);
      await emit({ event: 'note', message: `import ${old.id}, of ${was}, has its file and is left as it is` });
    } else {
      await abandon(ctx, before, state, emit, old.id, 'file_changed', `import ${old.id} was created for ${was}, and never got its file.`);
    }
  }
}

/**
 * The decisions and their steps for one file.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit
 * @returns {Promise<FileOutcome>}
 */
async function steps(ctx, entry, state, emit) {
  const { journal, imports } = ctx;
  if (!journal) return create(ctx, entry, state, emit);
  /** @type {Record<string, unknown>} */
  let seen = {};
  /** @type {{ listed: any[], complete: boolean } | undefined} */
  let scan;
  // Whether the journal names each listed import (then it is nobody's orphan) is looked up here,
  // in a Set, at each decision, rather than handing the decision every id the journal holds.
  const marked = () => (scan ? { listed: scan.listed.map((c) => ({ ...c, journaled: journal.knows(c.id) })), complete: scan.complete } : {});
  const call = ctx.signal ? { signal: ctx.signal } : {};
  if (journal.changed(entry)) await earlierVersions(ctx, entry, state, emit);
  for (let step = 0; step < MAX_STEPS; step++) {
    const next = await run(imports, OP_JOURNAL_NEXT, journal.recordsOf(entry), seen, ctx.context());
    seen = {};
    const id = next.id;
    switch (next.action) {
      case 'create': {
        // Dromo: imports of this name and schema made since the intent. Waiting for a file: maybe
        // the earlier run's orphan, maybe another client's. Past that (uploaded, or final): maybe
        // this file imported already by a run whose journal lost it (restored from an older
        // copy), maybe another client's. Nothing proves which: each is left alone and named.
        const listed = new Map((scan?.listed ?? []).map((c) => [c.id, c]));
        const why = ctx.adoptUnmarked ? `${next.ambiguous?.length} imports look alike` : 'nothing proves it is this run\'s (Dromo keeps no marker; adoptUnmarkedOrphans / --adopt-orphans would use it)';
        for (const [reason, ids] of /** @type {const} */ ([['possible_orphan', next.ambiguous], ['possible_duplicate', next.lookalikes]])) {
          for (const other of ids ?? []) {
            const c = listed.get(other);
            const createdAt = Number.isFinite(c?.createdMs) ? new Date(c.createdMs).toISOString() : undefined;
            const what = `import ${other} (${c?.name ?? entry.name}, created ${createdAt ?? 'recently'}${reason === 'possible_duplicate' && c?.status ? `, ${c.status}` : ''})`;
            await leave(ctx, entry, state, emit, other, reason, {
              ...(c?.name ? { name: c.name } : {}),
              ...(createdAt ? { createdAt } : {}),
              ...(reason === 'possible_duplicate' && c?.status ? { status: c.status } : {}),
              message:
                reason === 'possible_orphan'
                  ? `${what} may be one an earlier run created for ${entry.path} before it died (it would be waiting for a file), ` +
                    `or another client's: ${why}, so it is left alone and a new import is created. Check it, and delete it if it is yours.`
                  : `${what} may be ${entry.path} imported already by an earlier run whose journal no longer says so (restored from an older copy?), ` +
                    `or another client's: nothing proves which, so it is left alone and a new import is created. Check for a duplicate.`,
            });
          }
        }
        if (next.incomplete) await emit({ event: 'note', message: `looked for an import an earlier run may have created for ${entry.name} among the newest ${MAX_SCAN} only: creating a new one` });
        return create(ctx, entry, state, emit);
      }
      case 'find':
        scan = await ctx.findOrphans();
        seen = marked();
        break;
      case 'adopt':
        await journal.append({ type: 'created', id, recovered: true }, entry);
        state.importId = id;
        await emit({
          event: 'recovered',
          message: ctx.exa
            ? `found import ${id}, created by an earlier run for this file (it carries this file's marker) but missing from the journal (the run stopped before it could record it, or the journal lost its end): using it`
            : `found import ${id}, which matches this file (same name and schema, waiting for its file, made since the run's intent) and is taken as the one an earlier run created but did not record, as adoptUnmarkedOrphans (--adopt-orphans) asks: using it`,
        });
        break;
      case 'delete':
        // Exa shows an upload URL only when it creates: an orphan nobody can upload to goes.
        await abandon(ctx, entry, state, emit, id, 'orphan', `import ${id} was created by an earlier run that stopped before it could record it, and its upload URL is unknown: creating a new one.`);
        seen = marked();
        break;
      case 'retrieve':
        state.importId = id;
        try {
          seen = { import: await imports.retrieve(id, call) };
        } catch (e) {
          if (/** @type {any} */ (e)?.code !== 'not_found') throw e;
          seen = { gone: id };
        }
        break;
      case 'upload': {
        state.importId = id;
        await emit({ event: 'resumed', action: 'upload' });
        const file = await fileFromPath(entry.abs);
        try {
          await imports.upload(next.url, file, { ...call, onProgress: (/** @type {any} */ p) => emit({ event: 'progress', loaded: p.loaded, total: p.total }) });
        } catch (e) {
          if (/** @type {any} */ (e)?.expired !== true) throw e;
          seen = { uploadExpired: id };
          break;
        }
        await journal.append({ type: 'uploaded', id }, entry);
        await emit({ event: 'uploaded' });
        return finish(ctx, entry, state, emit, id);
      }
      case 'wait':
        state.importId = id;
        await emit({ event: 'resumed', action: 'wait' });
        return finish(ctx, entry, state, emit, id);
      case 'report': {
        state.importId = id;
        const last = /** @type {JournalRecord} */ ([...journal.recordsOf(entry)].reverse().find((r) => r.type === 'done' && r.id === id));
        if (next.failed) {
          const error = new ImportFailedError(String(last.message ?? `Import ${id} failed.`), { import: { id, status: next.status }, ...(last.failedReason ? { failedReason: last.failedReason } : {}) });
          await emit({ event: 'error', error, earlier: true });
          return { file: entry.path, importId: id, status: next.status, outcome: 'failed', earlier: true, error };
        }
        await emit({ event: 'done', status: next.status, waited: true, earlier: true });
        return { file: entry.path, importId: id, status: next.status, outcome: 'succeeded', earlier: true };
      }
      case 'abandon': {
        const why = /** @type {Record<string, string>} */ ({
          upload_url_expired: `its upload URL has expired, or expires within a minute, too soon to upload the file to it`,
          gone: `it no longer exists (deleted)`,
          no_upload_url: `no upload URL for it is known`,
        })[next.why];
        await abandon(ctx, entry, state, emit, id, next.why, `import ${id} was not finished and cannot be: ${why ?? next.why}. Creating a new import.`);
        state.importId = undefined;
        break;
      }
      default:
        throw new HeadlessImportsError(`importFiles: unknown step ${next.action}`, { code: 'invalid_state' });
    }
  }
  throw new HeadlessImportsError(`importFiles: ${entry.path} did not settle in ${MAX_STEPS} steps`, { code: 'invalid_state' });
}

/**
 * A fresh import of `entry` through `importFile`, its hooks journaling each step before the flow
 * goes on (an awaited hook holds the flow).
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit
 * @returns {Promise<FileOutcome>}
 */
async function create(ctx, entry, state, emit) {
  const { journal } = ctx;
  state.importId = undefined;
  await emit({ event: 'start', phase: ctx.exa ? 'counting' : 'creating' });
  const file = await fileFromPath(entry.abs);
  /** @type {Record<string, any>} */
  const params = { ...ctx.params };
  const marker = journal?.marker();
  /** Whether the rate limit held this file's create back (the display then says so). */
  let held = false;
  if (journal && ctx.exa) params.metadata = { ...params.metadata, [MARKER_KEY]: marker };
  const options = {
    ...params,
    ...ctx.flow,
    ...(ctx.exa ? {} : { rows: ctx.rows }),
    onQueued: (/** @type {{ kind: string, waitMs: number }} */ q) => {
      held ||= q.kind === 'create';
      return emit({ event: 'queued', for: q.kind, waitMs: q.waitMs });
    },
    // Journaled once the create's rate-limit slot is granted, right before the request leaves:
    // if the process dies before the import's id is journaled, the next run knows a create may
    // have happened, when, and looks for it (Exa: by this marker); a create still queued when it
    // died was never sent, and leaves nothing to look for. Retries send the same create: the
    // first attempt's time is the earliest the import can date from.
    onCreating: async (/** @type {{ attempt: number }} */ c) => {
      // The create goes out now: no longer counting records (Exa) or held by the rate limit.
      if (c.attempt === 0 && (ctx.exa || held)) await emit({ event: 'start', phase: 'creating' });
      if (!journal || c.attempt > 0) return;
      const ahead = journal.apiAhead();
      await journal.append({ type: 'intent', marker, name: entry.name, ...(ahead !== undefined ? { apiAheadMs: ahead } : {}) }, entry);
    },
    onCreated: async (/** @type {any} */ imp) => {
      state.importId = imp.id;
      // The API's time of the import beside ours: how far its clock is ahead (see `apiAhead`).
      const apiMs = Date.parse(imp.created_date ?? imp.createdAt);
      await journal?.append({ type: 'created', id: imp.id, ...(Number.isFinite(apiMs) ? { apiMs } : {}), ...(ctx.exa ? { uploadUrl: imp.uploadUrl, validUntil: Date.parse(imp.uploadValidUntil) } : {}) }, entry);
      await emit({ event: 'created', status: imp.status, size: entry.size, ...(imp.count !== undefined ? { count: imp.count } : {}) });
    },
    onProgress: (/** @type {any} */ p) => emit({ event: 'progress', loaded: p.loaded, total: p.total }),
    onUploaded: async () => {
      await journal?.append({ type: 'uploaded', id: state.importId }, entry);
      await emit({ event: 'uploaded' });
    },
    onStatus: (/** @type {any} */ imp) => statusEvent(ctx, emit, imp),
  };
  /** @type {any} */
  let result;
  try {
    result = await ctx.client.importFile(file, options);
  } catch (e) {
    await lostAnswers(ctx, entry, state, emit, /** @type {any} */ (e)?.leftBehind);
    throw e;
  }
  await lostAnswers(ctx, entry, state, emit, result.leftBehind);
  return done(ctx, entry, state, emit, result.import, result.rows);
}

/**
 * Imports a Dromo create whose answer was lost may have made before it was sent again (the
 * flow's `leftBehind`): told, journaled (every later summary lists them), never touched.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit @param {unknown} ids
 */
async function lostAnswers(ctx, entry, state, emit, ids) {
  for (const id of Array.isArray(ids) ? ids : []) {
    if (typeof id !== 'string' || state.leftBehind.includes(id)) continue;
    await leave(ctx, entry, state, emit, id, 'possible_orphan', {
      name: entry.name,
      message:
        `import ${id} (${entry.name}) may have been made by a create of ${entry.path} whose answer was lost before it was sent again (${state.importId ?? 'the import in use'} is this file's), ` +
        `or be another client's: nothing proves which, so it is left alone. It waits for a file for ever: check it, and delete it if it is yours.`,
    });
  }
}

/**
 * An import on the account that may be this file's but is left alone: journaled (every later
 * summary lists it, and no later search takes it for an orphan), in the file's `leftBehind`, and
 * told in a `left` event with `told` (its message, and what is known of it).
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit @param {string} id
 * @param {'possible_orphan' | 'possible_duplicate'} reason @param {Record<string, unknown>} told
 */
async function leave(ctx, entry, state, emit, id, reason, told) {
  await ctx.journal?.append({ type: 'left', id, reason }, entry);
  if (!state.leftBehind.includes(id)) state.leftBehind.push(id);
  await emit({ event: 'left', importId: id, reason, ...told });
}

/** @param {Ctx} ctx @param {(e: Record<string, unknown>) => Promise<void>} emit @param {any} imp */
async function statusEvent(ctx, emit, imp) {
  await emit({ event: 'status', status: imp.status });
  if (ctx.rows && ctx.wait && imp.status === 'SUCCESSFUL') await emit({ event: 'results' });
}

/**
 * Waits for a resumed import (`wait: false`: only looks) and fetches its rows when asked.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit @param {string} id
 * @returns {Promise<FileOutcome>}
 */
async function finish(ctx, entry, state, emit, id) {
  const call = ctx.signal ? { signal: ctx.signal } : {};
  if (!ctx.wait) return done(ctx, entry, state, emit, await ctx.imports.retrieve(id, call));
  /** @type {Record<string, any>} */
  const waitOptions = { onStatus: (/** @type {any} */ imp) => statusEvent(ctx, emit, imp) };
  for (const k of WAIT_KEYS) if (ctx.flow[k] !== undefined && !(ctx.exa && k === 'waitForReview')) waitOptions[k] = ctx.flow[k];
  const imp = await ctx.imports.waitForCompletion(id, waitOptions);
  // The wait resolves at NEEDS_REVIEW (unless waitForReview): the flows' NeedsReviewError instead.
  if (!ctx.exa && imp.status === 'NEEDS_REVIEW') {
    throw new NeedsReviewError(`Import ${id} needs a review: a person must finish it at its review_url.`, { import: imp, reviewUrl: imp.review_url });
  }
  const rows = ctx.rows ? await ctx.imports.results(id, call) : undefined;
  return done(ctx, entry, state, emit, imp, rows);
}

/**
 * Reports a file's end (its rows with it when they were fetched), then journals it: a `done`
 * whose listener writes the rows somewhere is finished before the journal says so.
 * @param {Ctx} ctx @param {Entry} entry @param {State} state
 * @param {(e: Record<string, unknown>) => Promise<void>} emit @param {any} imp @param {unknown[]} [rows]
 * @returns {Promise<FileOutcome>}
 */
async function done(ctx, entry, state, emit, imp, rows) {
  state.importId = imp.id;
  if (!ctx.wait) {
    await emit({ event: 'done', status: imp.status, import: imp, waited: false });
    return { file: entry.path, importId: imp.id, status: imp.status, outcome: 'uploaded' };
  }
  await emit({ event: 'done', status: imp.status, import: imp, ...(rows ? { rows } : {}), waited: true });
  await ctx.journal?.append({ type: 'done', id: imp.id, status: imp.status }, entry);
  return { file: entry.path, importId: imp.id, status: imp.status, outcome: 'succeeded' };
}
