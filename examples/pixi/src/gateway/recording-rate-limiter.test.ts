import { describe, expect, it } from 'vitest';

import { rateLimiter } from '@hyx/local';
import { FakeClock } from '@hyx/local/testing';

import type { DecisionRecord } from '../records.js';
import { RecordingRateLimiter, windowIndexOf } from './recording-rate-limiter.js';

describe('RecordingRateLimiter', () => {
  it('records each decision with its key and the fixed window it counted in, and decides nothing itself', async () => {
    // The fake clock alone sets the time: real time may cross a window edge between the calls.
    const clock = new FakeClock(10_300);
    const limiter = rateLimiter({ name: 'api', algorithm: 'fixed-window', limit: 2, windowMs: 1_000, clock });
    const records: DecisionRecord[] = [];
    const recording = new RecordingRateLimiter(
      limiter,
      'gw-1',
      1_000,
      (record) => records.push(record),
      () => clock.now(),
    );
    const decisions = [
      await recording.tryAcquire({ key: 'k' }),
      await recording.tryAcquire({ key: 'k' }),
      await recording.tryAcquire({ key: 'k' }),
    ];
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, false]);
    expect(records.map((record) => [record.instance, record.apiKey, record.allowed])).toEqual([
      ['gw-1', 'k', true],
      ['gw-1', 'k', true],
      ['gw-1', 'k', false],
    ]);
    expect(records.map((record) => record.window)).toEqual([11, 11, 11]);
    expect(recording.name).toBe('api');
    expect(recording.algorithm).toBe('fixed-window');
  });

  it('windowIndexOf names a window by its end, or null when a stall leaves two candidates', () => {
    // Sent at 10.3 s, answered at 10.31 s with 695 ms left: decided at ~10.305 s, window ends at 11 s.
    expect(windowIndexOf(10_300, 10_310, 695, 1_000)).toBe(11);
    expect(windowIndexOf(10_999, 10_999, 1, 1_000)).toBe(11);
    expect(windowIndexOf(11_000, 11_001, 1_000, 1_000)).toBe(12);
    // A 1.1 s stall between send and reply: decided at 10.3 s (window ends at 11 s) or at
    // 11.4 s (ends at 12 s), both with 700 ms left: it cannot be told.
    expect(windowIndexOf(10_300, 11_400, 700, 1_000)).toBeNull();
    // The same stall with 200 ms left: the end lies in [10.5 s, 11.6 s], only 11 s fits.
    expect(windowIndexOf(10_300, 11_400, 200, 1_000)).toBe(11);
  });
});
