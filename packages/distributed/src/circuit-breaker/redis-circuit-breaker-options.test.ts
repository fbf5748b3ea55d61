import { describe, expect, it } from 'vitest';

import type { RedisLike } from '../redis-like.js';
import { redisCircuitBreaker } from './redis-circuit-breaker.js';

/** Never called: a bad option fails at construction, before any command. */
const unusedClient: RedisLike = {
  evalsha: () => Promise.reject(new Error('not called')),
  eval: () => Promise.reject(new Error('not called')),
};

describe('redisCircuitBreaker options', () => {
  it.each([
    [{ commandTimeoutMs: 0 }, RangeError, /commandTimeoutMs must be in \(0, \d+\], got 0/],
    [{ commandTimeoutMs: '5' }, TypeError, /commandTimeoutMs must be a number, got "5"/],
    [{ onBackendFailure: 'retry' }, TypeError, /onBackendFailure must be one of/],
    [{ time: 'host' }, TypeError, /time must be "server" or "clock", got "host"/],
    [{ subscribe: 'yes' }, TypeError, /subscribe must be a boolean/],
    [{ idleTtlMs: 10 }, RangeError, /idleTtlMs must be >= 1000, got 10/],
    [{ idleTtlMs: 1.5 }, TypeError, /idleTtlMs must be an integer/],
    [{ recoveryLeaseMs: 50 }, RangeError, /recoveryLeaseMs must be in \[100, \d+\], got 50/],
    [
      { recoveryLeader: { isLeader: 'yes', leaseMs: 1000 } },
      TypeError,
      /recoveryLeader must be a leaderElection/,
    ],
    [
      { recoveryLeader: { isLeader: false, leaseMs: 1000 }, recoveryLeaseMs: 1000 },
      TypeError,
      /recoveryLeader cannot be combined with recoveryLeaseMs/,
    ],
  ])('rejects %j naming the breaker, the option and the value', (bad, errorClass, message) => {
    const build = () => redisCircuitBreaker(unusedClient, { name: 'payments', ...(bad as object) });
    expect(build).toThrow(errorClass);
    expect(build).toThrow(/^redisCircuitBreaker "payments": /);
    expect(build).toThrow(message);
  });

  it('refuses subscribe: true on a client that cannot open a second connection', () => {
    expect(() => redisCircuitBreaker(unusedClient, { name: 'payments', subscribe: true })).toThrow(
      /subscribe needs a client with duplicate\(\) or a subscriber/,
    );
  });

  it('validates the local options as the local breaker does, naming itself', () => {
    expect(() => redisCircuitBreaker(unusedClient, { name: 'payments', failureRate: 1.5 })).toThrow(
      /^redisCircuitBreaker "payments": failureRate .*1\.5/,
    );
    expect(() => redisCircuitBreaker(unusedClient, { name: 'payments', halfOpenAfterMs: () => -1 })).toThrow(
      'redisCircuitBreaker "payments": halfOpenAfterMs(1) must return a duration',
    );
  });
});
