import { describe, expect, it } from 'vitest';

import { backoff } from '../backoff/backoff.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { fallback } from '../fallback/fallback.js';
import { rateLimiter } from '../rate-limiter/rate-limiter.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';

/**
 * Messages a newcomer found confusing: "must be of type nonoptional" for a missing option,
 * "name must be >= 1" for an empty name, and a RangeError for `name: 42`. A wrong type is a
 * TypeError, a value of the right type out of range a RangeError.
 */
describe('parseOptions messages', () => {
  it.each([
    [
      'a missing custom option',
      () => fallback({} as never),
      TypeError,
      'fallback "fallback": value is required',
    ],
    ['a missing number', () => timeout({} as never), TypeError, 'timeout "timeout": timeoutMs is required'],
    [
      'a missing nested option',
      () => circuitBreaker({ window: {} as never }),
      TypeError,
      'circuitBreaker "circuit-breaker": window.kind is required',
    ],
    [
      'an unlabelled factory',
      () => backoff.constant({} as never),
      TypeError,
      'backoff.constant: delayMs is required',
    ],
    [
      'an empty name',
      () => retry({ name: '' }),
      TypeError,
      'retry "": name must be a non-empty string, got ""',
    ],
    [
      'a number as name',
      () => rateLimiter({ name: 42 as never, limit: 1 }),
      TypeError,
      'rateLimiter "rate-limiter": name must be of type string, got 42',
    ],
    [
      'a name too long',
      () => retry({ name: 'x'.repeat(201) }),
      RangeError,
      'name must be at most 200 characters long',
    ],
    [
      'a string for a number',
      () => bulkhead({ maxConcurrent: '2' as never }),
      TypeError,
      'bulkhead "bulkhead": maxConcurrent must be a finite number, got "2"',
    ],
    [
      'NaN for a number',
      () => timeout({ timeoutMs: NaN }),
      RangeError,
      'timeout "timeout": timeoutMs must be a finite number, got NaN',
    ],
    [
      'a number out of range',
      () => bulkhead({ maxConcurrent: 0 }),
      RangeError,
      'maxConcurrent must be >= 1, got 0',
    ],
  ])('%s', (_, create, errorClass, message) => {
    expect(create).toThrow(errorClass);
    expect(create).toThrow(message);
    // Never zod's own words.
    expect(create).not.toThrow(/nonoptional/);
  });
});
