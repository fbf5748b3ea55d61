import { describe, expect, it } from 'vitest';

import { RedisBulkheadState } from './bulkhead/redis-bulkhead-state.js';
import { redisBulkhead } from './bulkhead/redis-bulkhead.js';
import { redisCircuitBreaker } from './circuit-breaker/redis-circuit-breaker.js';
import { leaderElection } from './leader-election/leader-election.js';
import { redisLock } from './lock/redis-lock.js';
import { redlockLock } from './lock/redlock-lock.js';
import { redisRateLimiter } from './rate-limiter/redis-rate-limiter.js';
import type { RedisLike } from './redis-like.js';
import { redisRetryBudget } from './retry/redis-retry-budget.js';

/** A client that is never called: every check happens at construction. */
const unusedClient: RedisLike = {
  evalsha: () => Promise.reject(new Error('not called')),
  eval: () => Promise.reject(new Error('not called')),
};

/**
 * Found by a newcomer: a Redis factory given `undefined` (a client not created yet, a wrong import)
 * was built fine and failed at the first call with "Cannot read properties of undefined".
 */
const FACTORIES: readonly (readonly [string, (client: unknown) => unknown])[] = [
  ['redisRateLimiter "api"', (client) => redisRateLimiter(client as never, { name: 'api', limit: 1 })],
  ['redisRateLimiter "rate-limiter"', (client) => redisRateLimiter(client as never, { limit: 1 })],
  ['redisBulkhead "db"', (client) => redisBulkhead(client as never, { name: 'db', maxConcurrent: 1 })],
  [
    'RedisBulkheadState "db"',
    (client) => new RedisBulkheadState(client as never, { name: 'db', maxConcurrent: 1 }),
  ],
  ['redisCircuitBreaker "payments"', (client) => redisCircuitBreaker(client as never, { name: 'payments' })],
  ['redisCircuitBreaker "circuit-breaker"', (client) => redisCircuitBreaker(client as never)],
  ['redisRetryBudget "payments"', (client) => redisRetryBudget(client as never, { name: 'payments' })],
  ['redisLock "jobs"', (client) => redisLock(client as never, { name: 'jobs', leaseMs: 1_000 })],
  [
    'leaderElection "cron"',
    (client) => leaderElection({ redis: client as never, name: 'cron', leaseMs: 1_000 }),
  ],
];

describe.each(FACTORIES)('%s checks its Redis client at construction', (label, build) => {
  it.each([
    [undefined, 'undefined'],
    [null, 'null'],
    [{}, 'an object without evalsha() and eval()'],
    ['redis://127.0.0.1:6379', '"redis://127.0.0.1:6379"'],
    [6379, '6379'],
  ])('refuses %o with a TypeError naming the factory', (client, shown) => {
    expect(() => build(client)).toThrow(TypeError);
    expect(() => build(client)).toThrow(
      `${label}: redis must be an ioredis client (Redis or Cluster), got ${shown}`,
    );
  });

  it('accepts anything that answers EVALSHA and EVAL', () => {
    expect(() => build(unusedClient)).not.toThrow();
  });
});

describe('redlockLock checks its clients at construction', () => {
  it('names the client that is not one', () => {
    expect(() =>
      redlockLock([unusedClient, undefined, unusedClient] as never, { name: 'ledger', leaseMs: 1_000 }),
    ).toThrow('redlockLock "ledger": clients[1] must be an ioredis client (Redis or Cluster), got undefined');
  });

  it('refuses a single client given where the array goes', () => {
    expect(() => redlockLock(unusedClient as never, { name: 'ledger', leaseMs: 1_000 })).toThrow(
      'redlockLock "ledger": clients must be an array of ioredis clients',
    );
  });
});
