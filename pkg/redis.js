// @ts-check
// `headless-imports/redis` (Node only): rate limits shared by every process on one account, kept
// in the user's own Redis. Dromo's limits (20 creates a minute per key, 12 polls a minute per
// import) belong to the account, so workers that each kept their own limiter would each spend the
// whole budget and draw 429s. Pass the store as `rateLimit: { store }` to every client.
//
// The limiter's rule is Rust's (src/limit_rule.rs); redis.lua applies it atomically inside Redis,
// one script call per decision, on Redis's clock. This file only adapts the user's client: it
// duck-types node-redis (`evalSha(sha, { keys, arguments })`) and ioredis (`evalsha(sha, numKeys,
// ...args)`), so the package depends on neither.

import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { ValidationError } from './errors.js';

const SCRIPT = fs.readFileSync(new URL('./redis.lua', import.meta.url), 'utf8');
/** setTimeout's longest delay (a signed 32-bit number of ms): a longer one fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/**
 * While a process holds slots, it tells Redis so every BEAT_MS; one not heard from for STALE_MS
 * counts as gone (it died): its queued slots free at once, and what it may have sent counts as
 * answered when it fell silent, instead of holding the window for a whole lease (the request
 * timeout, up to ten minutes). A slot is sent only while its holder is sure not to have been
 * taken for gone: its last word to Redis went less than SURE_MS ago (else it asks again first).
 */
const BEAT_MS = 1000;
const STALE_MS = 3000;
const SURE_MS = STALE_MS - BEAT_MS;
/**
 * A store asks for new slots of one window at most LANES at a time. Processes then take turns in
 * the queue: a fleet started together has each window's sends (and the uploads and polls that
 * follow them) spread over its processes, instead of the first window going to whichever process
 * asked first, which then did all of its work on one thread while the others idled, and every
 * later window inherited that lateness (benchmark 8: 1.13x the minimum before, see BENCHMARKS.md).
 * Asking again about a slot one holds never waits here.
 */
const LANES = 3;
/** A timer this much past due means the process itself was stopped or stalled meanwhile. */
const STALLED_MS = 1000;
const now = () => performance.now();
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/**
 * Runs the script over one key: `(key, args) => Promise<reply>`.
 * @typedef {(key: string, args: string[]) => Promise<unknown>} Eval
 */

/**
 * The client's two ways of running the script, by its flavour, or `undefined` for neither:
 * by its SHA1 (what every call sends), and with its text (what loads it into Redis).
 * @param {any} client
 * @returns {{ bySha: Eval, withText: Eval } | undefined}
 */
function flavourOf(client) {
  if (typeof client?.evalSha === 'function' && typeof client.eval === 'function') {
    // node-redis v4 and later.
    return {
      bySha: (key, args) => client.evalSha(SHA, { keys: [key], arguments: args }),
      withText: (key, args) => client.eval(SCRIPT, { keys: [key], arguments: args }),
    };
  }
  if (typeof client?.evalsha === 'function' && typeof client.eval === 'function') {
    // ioredis.
    return {
      bySha: (key, args) => client.evalsha(SHA, 1, key, ...args),
      withText: (key, args) => client.eval(SCRIPT, 1, key, ...args),
    };
  }
  return undefined;
}

/** @param {unknown} e */
const noScript = (e) => String(/** @type {any} */ (e)?.message ?? e).includes('NOSCRIPT');

/**
 * EVALSHA, so that Redis runs its cached copy of the script. Only the first call (and the first
 * after Redis lost its scripts: a restart, a SCRIPT FLUSH) sends the text, rather than each call
 * of a burst sending 4 KB of script (a fleet's first burst is hundreds). The calls made while
 * the text is on its way do not wait for its answer: their EVALSHA follows it on the connection,
 * and Redis runs a connection's commands in order. Should one still find no script (a client
 * with several connections), it waits for the text to land and tries once more.
 * @param {{ bySha: Eval, withText: Eval }} f
 * @returns {Eval}
 */
function evaluator(f) {
  /** @type {Promise<unknown> | undefined} the call with the text, while it runs */
  let loading;
  let loaded = false;
  /** @type {Eval} */
  const withText = (key, args) => {
    const p = f.withText(key, args);
    const landed = p.then(
      () => void (loaded = true),
      () => {},
    );
    loading = landed.finally(() => {
      if (loading === pending) loading = undefined;
    });
    const pending = loading;
    return p;
  };
  return async (key, args) => {
    if (!loaded && !loading) return withText(key, args);
    try {
      return await f.bySha(key, args);
    } catch (e) {
      if (!noScript(e)) throw e;
      if (loading) {
        await loading;
        if (loaded) return f.bySha(key, args);
      }
      loaded = false;
      return withText(key, args);
    }
  };
}

/**
 * @typedef {object} RedisStoreOptions
 * @property {string} [prefix] prepended (with `:`) to every key; default `headless-imports:rl`
 * @property {'fail' | 'memory'} [onError] when Redis fails or does not answer in time: `'fail'`
 *   (default) rejects the call with a `HeadlessImportsError` whose `code` is `rate_limit_store`,
 *   before anything is sent; `'memory'` goes on within this process's own limits
 * @property {number} [timeoutMs] how long a decision may take before it counts as a failure
 *   (default 5000): a client whose connection is down may queue commands instead of failing
 */

/**
 * A rate-limit store in Redis, shared by every process (and machine) that passes one over the
 * same Redis to its clients as `rateLimit: { store }`. `client` is your connected node-redis
 * (`createClient()`, v4 or later) or ioredis client; the package uses it, never closes it.
 * Keys are `<prefix>:<hash of the API key>:...` (never the key itself), and expire by themselves
 * once they no longer hold anything back.
 * @param {unknown} client
 * @param {RedisStoreOptions} [options]
 */
export function redisRateLimitStore(client, options = {}) {
  const bad = (/** @type {string} */ path, /** @type {string} */ message) =>
    new ValidationError(`redisRateLimitStore: ${path} ${message}`, { path });
  /** @type {{ bySha: Eval, withText: Eval } | undefined} */
  let flavour;
  /** @type {RedisStoreOptions} */
  let o;
  try {
    flavour = flavourOf(client);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw bad('options', 'must be an object');
    o = { ...options };
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw bad('options', 'cannot be read (a revoked Proxy or a throwing getter?)');
  }
  if (!flavour) throw bad('client', 'must be a node-redis client (createClient() from "redis") or an ioredis client');
  for (const k of Object.keys(o)) {
    if (!['prefix', 'onError', 'timeoutMs'].includes(k)) throw bad(`options.${k}`, 'is not a known key (expected one of: prefix, onError, timeoutMs)');
  }
  const prefix = o.prefix ?? 'headless-imports:rl';
  if (typeof prefix !== 'string' || prefix === '') throw bad('options.prefix', 'must be a non-empty string');
  const onError = o.onError ?? 'fail';
  if (onError !== 'fail' && onError !== 'memory') throw bad('options.onError', "must be 'fail' or 'memory'");
  const timeoutMs = o.timeoutMs ?? 5000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !(timeoutMs <= MAX_TIMEOUT_MS)) {
    throw bad('options.timeoutMs', `must be a positive number of milliseconds, at most ${MAX_TIMEOUT_MS} (about 24.8 days: what a timer can wait)`);
  }
  const evalScript = evaluator(flavour);

  /**
   * One script call, failed if Redis takes longer than `timeoutMs`. The call itself may still
   * land later: then `onLate` gets its reply (a slot taken meanwhile is released through it).
   * An argument given as a function is read as the call goes out.
   * @param {string} key @param {(string | number | (() => number))[]} args
   * @param {(reply: unknown) => void} [onLate]
   */
  const call = (key, args, onLate) => {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let gaveUp = false;
    let settled = false;
    let due = now() + timeoutMs;
    const late = new Promise((_, reject) => {
      const expire = () => {
        if (settled) return;
        // Due long ago: this process was stopped or stalled (SIGSTOP, a paused VM), perhaps before
        // the call even left, not kept waiting by Redis. Redis gets its whole time again, once.
        if (now() - due > STALLED_MS && due !== Infinity) {
          due = Infinity;
          timer = setTimeout(expire, timeoutMs);
          return;
        }
        // Given up only after the event loop has read what has arrived meanwhile: a woken process
        // runs its due timers before it reads its sockets.
        setImmediate(() => {
          if (settled) return;
          gaveUp = true;
          reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
        });
      };
      timer = setTimeout(expire, timeoutMs);
    });
    const done = Promise.resolve()
      .then(() => evalScript(`${prefix}:${key}`, args.map((a) => String(typeof a === 'function' ? a() : a))))
      .finally(() => {
        settled = true;
        clearTimeout(timer);
      });
    // The losing side of the race must not surface as an unhandled rejection.
    done.then((reply) => gaveUp && onLate?.(reply), () => {});
    return Promise.race([done, late]);
  };

  /**
   * The slots this store holds, by window key and then by `incarnation/slot` (see redis.lua: a
   * slot number from before Redis lost the window is another slot): when their holder's last
   * word to Redis about each went out (local ms), when its final wait ends, and whether Redis no
   * longer keeps it.
   * @typedef {{ slot: number, inc: string, said: number, due?: number, lost?: boolean }} Held
   * @type {Map<string, Map<string, Held>>}
   */
  const held = new Map();
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let beating;
  /** @type {Map<string, { busy: number, waiting: (() => void)[] }>} new-slot takes per window */
  const lanes = new Map();
  /** Waits for a free lane of window `key`; returns its release. @param {string} key */
  const lane = async (key) => {
    let l = lanes.get(key);
    if (!l) lanes.set(key, (l = { busy: 0, waiting: [] }));
    const mine = l;
    if (mine.busy >= LANES) await new Promise((resolve) => mine.waiting.push(() => resolve(undefined)));
    mine.busy++;
    return () => {
      mine.busy--;
      const next = mine.waiting.shift();
      if (next) next();
      else if (mine.busy === 0) lanes.delete(key);
    };
  };
  /** Tells Redis this process still holds its slots: a call per window (and incarnation). */
  const beat = () => {
    for (const [key, slots] of held) {
      /** @type {Map<string, Held[]>} */
      const byInc = new Map();
      for (const h of slots.values()) byInc.set(h.inc, [...(byInc.get(h.inc) ?? []), h]);
      for (const [inc, list] of byInc) {
        const said = now();
        call(key, ['beat', '', inc, STALE_MS, ...list.map((h) => h.slot)]).then(
          (/** @type {any} */ lost) => {
            const gone = new Set((Array.isArray(lost) ? lost : []).map(Number));
            for (const h of list) {
              if (gone.has(h.slot)) h.lost = true;
              else h.said = Math.max(h.said, said);
            }
          },
          () => {},
        );
      }
    }
  };
  /** @param {string} key @param {Held} h */
  const hold = (key, h) => {
    let slots = held.get(key);
    if (!slots) held.set(key, (slots = new Map()));
    slots.set(`${h.inc}/${h.slot}`, h);
    // Unref'd: a process with nothing else to do may exit while it waits for a slot.
    if (!beating) (beating = setInterval(beat, BEAT_MS)).unref?.();
  };
  /** @param {string} key @param {unknown} inc @param {number | undefined} slot */
  const forget = (key, inc, slot) => {
    const slots = held.get(key);
    if (!slots || slot === undefined) return;
    slots.delete(`${inc}/${slot}`);
    if (slots.size === 0) held.delete(key);
    if (held.size === 0 && beating) {
      clearInterval(beating);
      beating = undefined;
    }
  };

  // What the Rust core calls (src/limit_store.rs): plain own functions, so the copy it makes of
  // the client options keeps them. The client passes the same request object back when it asks
  // about its slot again or releases it, so the slot's incarnation travels on it (`req.inc`).
  return Object.freeze({
    onError,
    /**
     * Takes a slot (or re-decides `req.slot`): `{ slot, waitMs, firm }`.
     * @param {{ key: string, max: number, windowMs: number, marginMs: number, leaseMs: number, slot?: number, inc?: string }} req
     */
    async acquire(req) {
      // Asked once more when its final wait is over: no need to ask Redis while this process is
      // sure to have been heard from lately (Redis cannot have taken it for gone).
      const mine = req.slot === undefined ? undefined : held.get(req.key)?.get(`${req.inc}/${req.slot}`);
      if (mine && !mine.lost && mine.due !== undefined && now() >= mine.due && now() - mine.said < SURE_MS) {
        return { slot: mine.slot, waitMs: 0, firm: true };
      }
      // Answered after the caller was told Redis failed: a slot other than the one it holds was
      // taken for nobody, and goes at once (rather than hold the window until its lease ends).
      const late = (/** @type {any} */ reply) => {
        const slot = Number(reply?.[0]);
        const inc = String(reply?.[3]);
        if (Number.isFinite(slot) && (slot !== req.slot || inc !== req.inc)) call(req.key, ['drop', slot, inc]).catch(() => {});
      };
      let asked = req.slot;
      let askedInc = req.inc ?? '';
      const leave = asked === undefined ? await lane(req.key) : undefined;
      try {
        for (let tries = 0; ; tries++) {
          const said = now();
          const reply = /** @type {unknown[]} */ (
            await call(req.key, ['take', req.max, req.windowMs, req.marginMs, req.leaseMs, STALE_MS, asked ?? '', askedInc], late)
          );
          const slot = Number(reply[0]);
          const waitMs = Number(reply[1]);
          const firm = Number(reply[2]) === 1;
          const inc = String(reply[3]);
          // Given up for lost meanwhile (or lost with the hash), it was queued again as another.
          if (asked !== undefined && (slot !== asked || inc !== askedInc)) forget(req.key, askedInc, asked);
          hold(req.key, { slot, inc, said, due: firm ? now() + waitMs : undefined });
          req.inc = inc;
          // A go-ahead that took so long to come that Redis may have taken us for gone since:
          // ask again (a few times at most: a process that slow will be told to wait anyway).
          if (firm && waitMs === 0 && now() - said >= SURE_MS && tries < 3) {
            asked = slot;
            askedInc = inc;
            continue;
          }
          return { slot, waitMs, firm };
        }
      } finally {
        leave?.();
      }
    },
    /**
     * Records that the send in slot `req.slot` was answered, or (`sent: false`) that it never
     * went: then the slot after it need not wait for it.
     * @param {{ key: string, slot: number, windowMs: number, marginMs: number, sent?: boolean, inc?: string }} req
     */
    async release(req) {
      const seen = now();
      const inc = req.inc ?? '';
      forget(req.key, inc, req.slot);
      if (req.sent === false) await call(req.key, ['drop', req.slot, inc]);
      // With how long ago the answer came, as the call leaves: a process busy with its other
      // imports may send it some ms later, and every process's next slot would wait that much.
      else await call(req.key, ['answer', req.slot, req.windowMs, req.marginMs, inc, '', () => now() - seen]);
    },
    /**
     * Holds every process's next slots of a window for `req.ms` (a 429's Retry-After).
     * @param {{ key: string, ms: number }} req
     */
    async pause(req) {
      await call(req.key, ['pause', req.ms]);
    },
  });
}
