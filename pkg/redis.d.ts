// Types of `headless-imports/redis` (Node only): a rate-limit store in your Redis, so that every
// process on one account shares the account's limits. See `RateLimitOptions.store`.
import type { RateLimitStore } from './index.js';

export type { RateLimitStore } from './index.js';

/** Options of `redisRateLimitStore`. */
export interface RedisRateLimitStoreOptions {
  /** Prepended (with `:`) to every key this store writes. Default `headless-imports:rl`. */
  prefix?: string;
  /**
   * When Redis fails or does not answer within `timeoutMs`: `'fail'` (default) rejects the call
   * with a `HeadlessImportsError` whose `code` is `rate_limit_store` before anything is sent;
   * `'memory'` goes on within this process's own limits until Redis answers again (several
   * processes together may then exceed the account's limits), and what it sent meanwhile holds
   * every process once Redis is back, until those sends are a window old.
   */
  onError?: 'fail' | 'memory';
  /**
   * How long one decision may take before it counts as a failure. Default 5000; at most
   * 2147483647 (what a timer can wait: a larger value is refused with a `ValidationError`). (A
   * client whose connection is down may queue commands rather than fail them.)
   */
  timeoutMs?: number;
}

/**
 * What `redisRateLimitStore` needs of a client: node-redis's `evalSha`/`eval` with
 * `{ keys, arguments }`, or ioredis's `evalsha`/`eval` with a key count.
 */
export type RedisScriptClient =
  | {
      evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
      eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
    }
  | {
      evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
      eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
    };

/**
 * A rate-limit store in Redis for `rateLimit: { store }`: pass your connected node-redis
 * (`createClient()`, v4 or later) or ioredis client; the package uses it and never closes it.
 * Every decision is one Lua script call, atomic inside Redis and timed by Redis's clock (the
 * workers' clocks never matter). While it holds slots, a store tells Redis so every second; a
 * process silent for 3 s (it died) counts as gone, and its slots free at once (its queued ones)
 * or as answered when it fell silent (what it may have sent). Keys are `<prefix>:<hash of the API key>:...` (never the key
 * itself) and expire by themselves once they hold nothing back.
 * @throws {ValidationError} `client` is neither flavour, or an option is wrong.
 */
export declare function redisRateLimitStore(client: RedisScriptClient, options?: RedisRateLimitStoreOptions): RateLimitStore;
