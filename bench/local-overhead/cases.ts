import { compose, fallback } from '@hyx/local';
import {
  handleAll,
  retry as cockatielRetry,
  ConstantBackoff,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import pRetry from 'p-retry';

/** One measured case: `group` pairs hyx with its peer (`peer: ...` rows). */
export interface BenchCase {
  readonly group: string;
  readonly name: string;
  readonly fn: () => Promise<unknown>;
}

const work = async (): Promise<number> => 1;

const hyxFallback = fallback({ value: 0 });
const hyxFallbackPipeline = compose(fallback({ value: 0 }));

const peerRetry = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(1) });
const peerTimeout = cockatielTimeout(1000, TimeoutStrategy.Cooperative);
const peerWrap = wrap(peerRetry, peerTimeout);

export const cases: readonly BenchCase[] = [
  { group: 'baseline', name: 'bare async call', fn: () => work() },
  { group: 'retry', name: 'peer: cockatiel retry', fn: () => peerRetry.execute(work) },
  { group: 'retry', name: 'peer: p-retry', fn: () => pRetry(work, { retries: 2 }) },
  { group: 'timeout', name: 'peer: cockatiel timeout (cooperative)', fn: () => peerTimeout.execute(work) },
  { group: 'fallback', name: 'peer: cockatiel retry', fn: () => peerRetry.execute(work) },
  { group: 'fallback', name: 'hyx fallback', fn: () => hyxFallback.execute(work) },
  { group: 'pipeline', name: 'peer: cockatiel wrap(retry, timeout)', fn: () => peerWrap.execute(work) },
  { group: 'pipeline', name: 'hyx compose(fallback)', fn: () => hyxFallbackPipeline.execute(work) },
];
