import {
  bulkhead,
  cache,
  circuitBreaker,
  compose,
  fallback,
  hedge,
  rateLimiter,
  retry,
  timeout,
  type RateLimitAlgorithmName,
} from '@hyx/local';
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  ConstantBackoff,
  CountBreaker,
  fallback as cockatielFallback,
  handleAll,
  retry as cockatielRetry,
  SamplingBreaker,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';

/** One measured case: `group` pairs hyx with its peer (`peer: ...` rows). */
export interface BenchCase {
  readonly group: string;
  readonly name: string;
  readonly fn: () => Promise<unknown>;
}

const work = async (): Promise<number> => 1;

// Peers, configured as a user would for the same job.
const peerRetry = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(1) });
const peerTimeout = cockatielTimeout(1000, TimeoutStrategy.Cooperative);
const peerFallback = cockatielFallback(handleAll, 0);
const peerConsecutive = cockatielBreaker(handleAll, {
  halfOpenAfter: 1000,
  breaker: new ConsecutiveBreaker(5),
});
const peerCount = cockatielBreaker(handleAll, {
  halfOpenAfter: 1000,
  breaker: new CountBreaker({ threshold: 0.5, size: 100 }),
});
const peerSampling = cockatielBreaker(handleAll, {
  halfOpenAfter: 1000,
  breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }),
});
const peerBulkhead = cockatielBulkhead(10, 100);
const peerWrap4 = wrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(1) }),
  cockatielBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(5) }),
  cockatielBulkhead(10, 100),
  cockatielTimeout(1000, TimeoutStrategy.Cooperative),
);
const peerWrap3 = wrap(peerFallback, cockatielRetry(handleAll, { maxAttempts: 2 }), peerTimeout);
const opossum = new CircuitBreaker(work, {
  timeout: false,
  errorThresholdPercentage: 50,
  resetTimeout: 1000,
});

// hyx, configured the same way.
const hyxRetry = retry({ maxAttempts: 2 });
const hyxTimeout = timeout({ timeoutMs: 1000 });
const hyxAggressiveTimeout = timeout({ timeoutMs: 1000, strategy: 'aggressive' });
const hyxFallback = fallback({ value: 0 });
const hyxHedge = hedge({ delayMs: 1000 });
const hyxCache = cache({ ttlMs: 60_000, maxEntries: 1000 });
const hyxConsecutive = circuitBreaker({
  window: { kind: 'consecutive' },
  failureCount: 5,
  halfOpenAfterMs: 1000,
});
const hyxCount = circuitBreaker({
  window: { kind: 'countWindow', size: 100 },
  failureRate: 0.5,
  halfOpenAfterMs: 1000,
});
const hyxTime = circuitBreaker({
  window: { kind: 'timeWindow', durationMs: 10_000, buckets: 10 },
  failureRate: 0.5,
  halfOpenAfterMs: 1000,
});
const hyxBulkhead = bulkhead({ maxConcurrent: 10, maxQueue: 100 });
const hyxPipeline3 = compose(timeout({ timeoutMs: 1000 }), retry({ maxAttempts: 2 }), fallback({ value: 0 }));
const hyxPipeline4 = compose(
  retry({ maxAttempts: 2 }),
  circuitBreaker({ window: { kind: 'consecutive' }, failureCount: 5, halfOpenAfterMs: 1000 }),
  bulkhead({ maxConcurrent: 10, maxQueue: 100 }),
  timeout({ timeoutMs: 1000 }),
);

const ALGORITHMS: readonly RateLimitAlgorithmName[] = [
  'token-bucket',
  'gcra',
  'sliding-window-log',
  'sliding-window-counter',
  'fixed-window',
  'leaky-bucket',
];
// A limit no benchmark loop reaches within its window, so every decision is a real "allowed" path.
const limiters = ALGORITHMS.map((algorithm) => ({
  algorithm,
  limiter: rateLimiter({ algorithm, limit: 1_000_000_000, intervalMs: 1000 }),
}));

let keyCounter = 0;

export const cases: readonly BenchCase[] = [
  { group: 'baseline', name: 'bare async call', fn: () => work() },

  { group: 'retry', name: 'peer: cockatiel retry', fn: () => peerRetry.execute(work) },
  { group: 'retry', name: 'p-retry', fn: () => pRetry(work, { retries: 2 }) },
  { group: 'retry', name: 'hyx retry', fn: () => hyxRetry.execute(work) },

  { group: 'timeout', name: 'peer: cockatiel timeout (cooperative)', fn: () => peerTimeout.execute(work) },
  { group: 'timeout', name: 'hyx timeout (cooperative)', fn: () => hyxTimeout.execute(work) },
  { group: 'timeout', name: 'hyx timeout (aggressive)', fn: () => hyxAggressiveTimeout.execute(work) },

  { group: 'fallback', name: 'peer: cockatiel fallback', fn: () => peerFallback.execute(work) },
  { group: 'fallback', name: 'hyx fallback', fn: () => hyxFallback.execute(work) },

  { group: 'hedge', name: 'hyx hedge (first attempt wins)', fn: () => hyxHedge.execute(work) },
  { group: 'cache', name: 'hyx cache (hit)', fn: () => hyxCache.execute(work, { key: 'k' }) },

  {
    group: 'breaker consecutive',
    name: 'peer: cockatiel ConsecutiveBreaker',
    fn: () => peerConsecutive.execute(work),
  },
  { group: 'breaker consecutive', name: 'opossum', fn: () => opossum.fire() },
  { group: 'breaker consecutive', name: 'hyx consecutive', fn: () => hyxConsecutive.execute(work) },
  { group: 'breaker count', name: 'peer: cockatiel CountBreaker', fn: () => peerCount.execute(work) },
  { group: 'breaker count', name: 'hyx countWindow', fn: () => hyxCount.execute(work) },
  { group: 'breaker time', name: 'peer: cockatiel SamplingBreaker', fn: () => peerSampling.execute(work) },
  { group: 'breaker time', name: 'hyx timeWindow', fn: () => hyxTime.execute(work) },

  { group: 'bulkhead', name: 'peer: cockatiel bulkhead', fn: () => peerBulkhead.execute(work) },
  { group: 'bulkhead', name: 'hyx bulkhead', fn: () => hyxBulkhead.execute(work) },

  ...limiters.map(({ algorithm, limiter }) => ({
    group: 'rate limiter',
    name: `hyx ${algorithm} tryAcquire (one key)`,
    fn: () => limiter.tryAcquire({ key: 'k' }),
  })),
  {
    group: 'rate limiter',
    name: 'hyx token-bucket tryAcquire (10,000 keys)',
    fn: () => {
      keyCounter = (keyCounter + 1) % 10_000;
      return limiters[0]!.limiter.tryAcquire({ key: `user-${keyCounter}` });
    },
  },

  {
    group: 'pipeline 3',
    name: 'peer: cockatiel wrap(fallback, retry, timeout)',
    fn: () => peerWrap3.execute(work),
  },
  {
    group: 'pipeline 3',
    name: 'hyx compose(timeout, retry, fallback)',
    fn: () => hyxPipeline3.execute(work),
  },
  {
    group: 'pipeline 4',
    name: 'peer: cockatiel wrap(retry, breaker, bulkhead, timeout)',
    fn: () => peerWrap4.execute(work),
  },
  {
    group: 'pipeline 4',
    name: 'hyx compose(retry, breaker, bulkhead, timeout)',
    fn: () => hyxPipeline4.execute(work),
  },
];
