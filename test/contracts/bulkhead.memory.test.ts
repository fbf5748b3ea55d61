import { MemoryBulkheadState, type BulkheadState, type BulkheadStateConfig } from '@hyx/local';

import { describeBulkheadContract } from './bulkhead-contract.js';

describeBulkheadContract('memory', (config) => new MemoryBulkheadState(config));

/**
 * The memory state answering through promises, as a Redis state does: it runs the same suite, so
 * the bulkhead's asynchronous paths keep the same rules.
 */
function memoryBehindPromises(config: BulkheadStateConfig): BulkheadState {
  const memory = new MemoryBulkheadState(config);
  return {
    acquire: async (key, nowMs) => memory.acquire(key, nowMs),
    release: async (lease) => {
      memory.release(lease);
    },
  };
}

describeBulkheadContract('memory behind promises', memoryBehindPromises);
