import { setImmediate as nextTurn } from 'node:timers/promises';

import { memoryRateLimiterState, type RateLimiterConfig, type RateLimiterState } from '@hyx/local';

import { describeRateLimiterContract } from './rate-limiter-contract.js';

/**
 * The memory state behind promises that settle a turn of the event loop later, as a networked
 * state's would: every path of the shell that awaits the state runs, with the same rules.
 */
function behindPromises(config: RateLimiterConfig): RateLimiterState {
  const inner = memoryRateLimiterState(config);
  return {
    tryAcquire: async (request) => {
      await nextTurn();
      return inner.tryAcquire(request);
    },
    refund: async (request) => {
      await nextTurn();
      inner.refund(request);
    },
  };
}

describeRateLimiterContract('memory', (config) => memoryRateLimiterState(config));

describeRateLimiterContract('memory behind promises', async (config) => {
  await nextTurn();
  return behindPromises(config);
});
