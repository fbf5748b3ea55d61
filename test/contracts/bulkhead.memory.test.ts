import { MemoryBulkheadState, type BulkheadState, type BulkheadSettings } from '@hyx/local';

import { describeBulkheadContract } from './bulkhead-contract.js';

describeBulkheadContract('memory', (settings) => new MemoryBulkheadState(settings));

/**
 * The memory state answering through promises, as a Redis state does: it runs the same suite, so
 * the bulkhead's asynchronous paths keep the same rules.
 */
function memoryBehindPromises(settings: BulkheadSettings): BulkheadState {
  const memory = new MemoryBulkheadState(settings);
  return {
    acquire: async (key, nowMs) => memory.acquire(key, nowMs),
    release: async (lease) => {
      memory.release(lease);
    },
  };
}

describeBulkheadContract('memory behind promises', memoryBehindPromises);
