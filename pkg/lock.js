// @ts-check
// The lock of a journal (`importFiles({ journal })`, the CLI's `--journal`): one run at a time per
// journal, also when runs race to take over a lock whose holder died, and when the journal is
// shared between PID namespaces (containers) or machines.
//
// Node has no flock (and flock means little on network filesystems), so the lock is a file,
// `<journal>.lock`, created whole by link(2) from a temporary file: link fails with EEXIST if the
// lock exists, atomically, NFS included, and nobody ever reads a half-written lock. It names its
// holder uniquely: pid, a random nonce, host, kernel boot id, PID namespace and the process's
// start time (clock ticks since boot, /proc/<pid>/stat), so a PID that a new process (or a new
// container) reuses is not taken for the holder. While held, its mtime is refreshed every
// HEARTBEAT_MS.
//
// Whether the holder lives: in this kernel and PID namespace, /proc tells for sure (the pid runs,
// with the same start time). Elsewhere (another container, another machine, no /proc) only the
// heartbeat can: a lock not refreshed for STALE_MS is its dead holder's.
//
// Taking over a stale lock is where runs race: two runs that both judged it stale must not both
// replace it. Only the run that creates `<lock>.break-<digest of the stale lock's contents>` (by the
// same link(2), so exactly one) may replace that lock, and it does so with rename(2), atomically,
// after checking the lock still holds those contents. Any other run waits and looks again, and then
// finds the new holder alive. A breaker left by a run killed mid-takeover is itself stale, and is
// taken over the same way, one level down. Releasing goes through the same breaker, so a run never
// removes a lock that is no longer its own.

import fs from 'node:fs';
import os from 'node:os';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a holder refreshes its lock's mtime. */
export const HEARTBEAT_MS = 5_000;
/** A lock whose holder cannot be checked from here is stale once not refreshed for this long. */
export const STALE_MS = 30_000;
/** Breakers of breakers: each level needs a run killed in the middle of a takeover. */
const MAX_DEPTH = 4;
/** Looks at a lock before giving up (each after a short wait while another run takes it over). */
const MAX_ROUNDS = 200;

/**
 * @typedef {{ v?: number, pid: number, nonce?: string, host?: string, boot?: string | null, pidns?: string | null, start?: string | null, since?: string, legacy?: true }} Holder
 * @typedef {{ alive: boolean, checked: boolean, self?: boolean }} Verdict
 * @typedef {{ content: string, mtimeMs: number }} Seen
 * @typedef {{ fd: number, file: string, timer: NodeJS.Timeout, body: string }} Held
 * @typedef {{ held: Held } | { holder: Holder | undefined, verdict: Verdict, seen: Seen }} Outcome (`holder` undefined: the lock's contents are unreadable)
 */

/** @param {string} file @returns {string | null} */
function readOr(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** `/proc/<pid>/stat`'s state and start time (field 22), or null. @param {number | string} pid */
function procStat(pid) {
  const text = readOr(`/proc/${pid}/stat`);
  if (!text) return null;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], start: rest[19] };
}

/** The identity of this process, as a lock records it. */
function self() {
  let pidns = null;
  try {
    pidns = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    // not Linux
  }
  return {
    v: 1,
    pid: process.pid,
    host: os.hostname(),
    boot: readOr('/proc/sys/kernel/random/boot_id'),
    pidns,
    start: procStat('self')?.start ?? null,
    since: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
}
/** @type {ReturnType<typeof self> | undefined} */
let me;

/** @param {string} content @returns {Holder | undefined} */
function parse(content) {
  // Written by headless-imports before the lock named its holder this way: the pid alone.
  if (/^\d+$/.test(content)) return { pid: Number(content), legacy: true };
  try {
    const h = JSON.parse(content);
    if (h && typeof h === 'object' && Number.isInteger(h.pid)) return h;
  } catch {
    // said below
  }
  return undefined;
}

/** Whether `pid` is a live process here (one of another user's counts as live). @param {number} pid */
function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return /** @type {any} */ (e).code === 'EPERM';
  }
}

/**
 * Whether the holder of a lock lives. `checked`: known for sure (this kernel and PID namespace);
 * else judged by the heartbeat.
 * @param {Holder | undefined} h @param {number} mtimeMs @param {number} now @returns {Verdict}
 */
export function judge(h, mtimeMs, now) {
  me ??= self();
  const fresh = now - mtimeMs < STALE_MS;
  // Not a lock we can read (another program's, or one written without link(2)): its age decides.
  if (!h) return { alive: fresh, checked: false };
  if (h.legacy) {
    // This code never writes a bare pid: one naming this process is a dead run's whose PID we got.
    if (h.pid === process.pid) return { alive: false, checked: true };
    return { alive: running(h.pid), checked: false };
  }
  if (me.boot && h.boot === me.boot && h.pidns === me.pidns && me.start) {
    const st = procStat(h.pid);
    if (st) {
      const alive = st.start === h.start && st.state !== 'Z';
      return { alive, checked: true, self: alive && h.pid === process.pid };
    }
    // No /proc entry: gone, unless /proc hides other users' processes (hidepid) and it runs.
    if (!running(h.pid)) return { alive: false, checked: true };
    return { alive: fresh, checked: false };
  }
  // Same host without /proc (macOS, BSD): a dead pid is conclusive, a live one may be reused.
  if (!me.boot && h.host === me.host && !running(h.pid)) return { alive: false, checked: true };
  return { alive: fresh, checked: false };
}

/** @param {string} file @returns {Seen | null} */
function look(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if (/** @type {any} */ (e).code === 'ENOENT') return null;
    throw e;
  }
  try {
    // Contents and mtime from one open file: a lock replaced meanwhile cannot mix the two.
    const { mtimeMs } = fs.fstatSync(fd);
    return { content: fs.readFileSync(fd, 'utf8').trim(), mtimeMs };
  } finally {
    fs.closeSync(fd);
  }
}

let serial = 0;
/** A new file beside `file` holding `body`, written and flushed: its fd and its name. @param {string} file @param {string} body */
function staged(file, body) {
  const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}-${serial++}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { fd, tmp };
}

/**
 * Creates `file` holding `body` if it does not exist, as one atomic step. Returns its fd (open on
 * the lock's own inode), or undefined when it exists.
 * @param {string} file @param {string} body
 */
function create(file, body) {
  const { fd, tmp } = staged(file, body);
  try {
    fs.linkSync(tmp, file);
    return fd;
  } catch (e) {
    const code = /** @type {any} */ (e).code;
    if (code === 'EEXIST') {
      fs.closeSync(fd);
      return undefined;
    }
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code)) {
      fs.closeSync(fd);
      throw e;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // A filesystem without hard links: O_EXCL instead. A reader may then find it empty for a
  // moment, which `judge` takes for a live holder (its mtime is fresh).
  fs.closeSync(fd);
  let own;
  try {
    own = fs.openSync(file, 'wx', 0o600);
  } catch (e) {
    if (/** @type {any} */ (e).code === 'EEXIST') return undefined;
    throw e;
  }
  fs.writeSync(own, body);
  fs.fsyncSync(own);
  return own;
}

/** The name of the breaker that guards the replacement of a lock holding `content` (exported for the tests). @param {string} file @param {string} content */
export const breakerOf = (file, content) => `${file}.break-${crypto.createHash('sha256').update(content).digest('hex').slice(0, 16)}`;

/**
 * Takes `file` for this process with `body` (a breaker for a takeover at `depth` > 0): either
 * `{ held }`, or the live holder that has it.
 * @param {string} file @param {string} body @param {number} depth @returns {Promise<Outcome>}
 */
async function take(file, body, depth) {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const fd = create(file, body);
    if (fd !== undefined) return { held: hold(fd, file, body) };
    const seen = look(file);
    if (!seen) continue; // released meanwhile: try again
    const holder = parse(seen.content);
    const verdict = judge(holder, seen.mtimeMs, Date.now());
    if (verdict.alive) return { holder, verdict, seen };
    if (depth >= MAX_DEPTH) throw new Error(`too many stale breakers at ${file}`);
    // Stale. Only the one run that holds its breaker may replace it.
    const breaker = breakerOf(file, seen.content);
    const got = await take(breaker, body, depth + 1);
    if (!('held' in got)) {
      // Another run is replacing it this instant: look again in a moment.
      await sleep(5 + Math.random() * 20);
      continue;
    }
    try {
      const now = look(file);
      // Still the stale lock (nobody else may replace it while we hold its breaker): replace it.
      if (now?.content === seen.content) {
        const { fd: own, tmp } = staged(file, body);
        try {
          fs.renameSync(tmp, file);
        } catch (e) {
          fs.closeSync(own);
          fs.rmSync(tmp, { force: true });
          throw e;
        }
        return { held: hold(own, file, body) };
      }
    } finally {
      // A breaker is only needed during the takeover; a run that judged the old lock stale later
      // may take it again, and then finds the lock changed.
      release(got.held);
    }
  }
  throw new Error(`the lock ${file} changed hands ${MAX_ROUNDS} times while this run tried to take it`);
}

/** @param {number} fd @param {string} file @param {string} body @returns {Held} */
function hold(fd, file, body) {
  // The heartbeat touches the lock's own inode (through its fd): a run that cannot check this
  // process sees it alive while the mtime moves. A lock taken over meanwhile (this process was
  // stopped or stalled past STALE_MS: another run judged it dead) is no longer refreshed.
  const timer = setInterval(() => {
    if (!stillHeld(held)) return clearInterval(timer);
    const t = new Date();
    try {
      fs.futimesSync(fd, t, t);
    } catch {
      // the next beat tries again; a lock left unrefreshed for STALE_MS is taken over
    }
  }, HEARTBEAT_MS);
  timer.unref();
  /** @type {Held} */
  const held = { fd, file, timer, body };
  return held;
}

/**
 * Whether the lock file is still the one this process holds: a run that judged this one dead
 * (it was stopped or stalled past STALE_MS, as a paused VM or container is) replaces the lock
 * with a file of its own, and the journal is that run's from then on. Two stats; checked before
 * every journal line, so that a run that wakes to find its lock taken writes and creates nothing
 * more.
 * @param {Held} held
 */
export function stillHeld(held) {
  try {
    const mine = fs.fstatSync(held.fd);
    const there = fs.statSync(held.file);
    return mine.ino === there.ino && mine.dev === there.dev;
  } catch {
    return false;
  }
}

/**
 * Removes a lock this process holds, unless it is no longer its own (taken over by a run that
 * judged this one dead: then it is that run's now).
 * @param {Held} held
 */
function release(held) {
  clearInterval(held.timer);
  try {
    if (stillHeld(held)) fs.rmSync(held.file, { force: true });
  } catch {
    // gone already
  } finally {
    try {
      fs.closeSync(held.fd);
    } catch {
      // closed already
    }
  }
}

/**
 * Takes the lock `file` for this process: `{ held }` (give it to `unlock`), or the holder that has
 * it and whether it is known to live (`verdict.checked`) or only seen refreshing its lock.
 * @param {string} file @returns {Promise<Outcome>}
 */
export async function lock(file) {
  me ??= self();
  const body = `${JSON.stringify({ ...me, nonce: crypto.randomBytes(12).toString('hex') })}\n`;
  return take(file, body, 0);
}

/**
 * Releases a lock `lock` gave: through its breaker, so that no run replaces it meanwhile, and
 * only while it is still this process's.
 * @param {Held} held
 */
export async function unlock(held) {
  clearInterval(held.timer);
  const breaker = breakerOf(held.file, held.body.trim());
  /** @type {Outcome | undefined} */
  let got;
  try {
    got = await take(breaker, held.body, 1);
  } catch {
    // leave it: its heartbeat has stopped, so it goes stale by itself
  }
  try {
    if (got && 'held' in got) release(held);
    else fs.closeSync(held.fd);
  } finally {
    if (got && 'held' in got) release(got.held);
  }
}

/**
 * What to tell a run that found the journal `journal` locked by `holder`.
 * @param {string} journal @param {string} file the lock @param {Holder | undefined} holder (undefined: unreadable) @param {Verdict} verdict @param {Seen} seen
 */
export function inUseMessage(journal, file, holder, verdict, seen) {
  if (!holder) {
    const ago = Math.max(0, Math.round((Date.now() - seen.mtimeMs) / 1000));
    const left = Math.max(1, Math.ceil((STALE_MS - (Date.now() - seen.mtimeMs)) / 1000));
    return (
      `the journal ${journal} is locked, but its lock file ${file} is unreadable (${seen.content ? 'damaged: not a lock headless-imports writes' : 'empty'}), so its holder is unknown. ` +
      `It may be a run's lock caught while being written, or one damaged since (a disk full, a copy, another program). It was modified ${ago} s ago; ` +
      `a lock left ${STALE_MS / 1000} s without a refresh is taken over by the next run, so run again in about ${left} s, or, if you know no run of this journal is going on, delete ${file} and run again.`
    );
  }
  if (verdict.self) return `the journal ${journal} is already in use by another run in this process (its lock is ${file}): one run at a time`;
  const who = `process ${holder.pid}${holder.host ? ` on host ${holder.host}` : ''}${holder.since ? ` (running since ${holder.since})` : ''}`;
  if (holder.legacy) {
    return `the journal ${journal} is locked by ${who}, by its lock ${file} as an older headless-imports writes it (a pid alone, never refreshed): one run at a time. If that process is no run of this journal (its PID was reused), delete ${file} and run again.`;
  }
  if (verdict.checked) {
    return `the journal ${journal} is in use by ${who}; its lock is ${file}. One run at a time: wait for that run to end, or stop it.`;
  }
  const ago = Math.max(0, Math.round((Date.now() - seen.mtimeMs) / 1000));
  return (
    `the journal ${journal} is locked by ${who}, which this process cannot check (another PID namespace or container, ` +
    `another machine, or an older headless-imports); its lock ${file} was refreshed ${ago} s ago. A run refreshes its lock every ` +
    `${HEARTBEAT_MS / 1000} s, and a lock left ${STALE_MS / 1000} s without a refresh is taken over by the next run. ` +
    `If you know that run is over, delete ${file} and run again.`
  );
}
