// `headless-imports/redis` with the real clients' own types (tests/node_modules): a node-redis and
// an ioredis client are both accepted as they come, the store fits `rateLimit.store`, and wrong
// clients or options do not compile. `tsc -p types/tsconfig.server.json` only type-checks this.
import { createClient } from 'redis';
import { Redis } from 'ioredis';
import { redisRateLimitStore, type RateLimitStore, type RedisRateLimitStoreOptions } from '../../pkg/redis.js';
import type { DromoOptions, ExaOptions } from '../../pkg/index.js';

export function stores(): [DromoOptions, ExaOptions] {
  const options: RedisRateLimitStoreOptions = { prefix: 'jobs:rl', onError: 'memory', timeoutMs: 1000 };
  const nodeRedis: RateLimitStore = redisRateLimitStore(createClient({ url: 'redis://127.0.0.1:6379' }), options);
  const ioredis = redisRateLimitStore(new Redis({ lazyConnect: true }));
  // @ts-expect-error a client of neither flavour
  redisRateLimitStore({ get: async (key: string) => key });
  // @ts-expect-error onError is 'fail' or 'memory'
  redisRateLimitStore(createClient(), { onError: 'retry' });
  const mode: 'fail' | 'memory' | undefined = nodeRedis.onError;
  void mode;
  return [
    { apiKey: 'key', rateLimit: { store: nodeRedis } },
    { apiKey: 'key', rateLimit: { store: ioredis, creates: 10, windowMs: 1000 } },
  ];
}
