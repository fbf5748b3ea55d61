import { memoryCircuitBreakerState } from '@hyx/local';

import { describeCircuitBreakerContract } from './circuit-breaker-contract.js';

describeCircuitBreakerContract('memory', ({ clock }) => memoryCircuitBreakerState({ clock }));
