import { describe, expect, it } from 'vitest';

import { rateLimitHeaders, singlePolicyHeaders } from './rate-limit-headers.js';

const decision = (remaining: number, resetAfterMs: number) => ({
  allowed: remaining > 0,
  limit: 10,
  remaining,
  retryAfterMs: 0,
  resetAfterMs,
});

describe('rateLimitHeaders', () => {
  it('lists every policy in RateLimit-Policy and RateLimit, as structured-field strings', () => {
    const headers = rateLimitHeaders(
      [
        { policyName: 'per-ip', windowMs: 60_000, decision: decision(7, 18_001) },
        { policyName: 'say "hi"', windowMs: undefined, decision: decision(3, 500) },
      ],
      { standard: true, legacy: true, nowMs: 1_000_000 },
    );
    expect(headers).toEqual({
      'RateLimit-Policy': '"per-ip";q=10;w=60, "say \\"hi\\"";q=10',
      RateLimit: '"per-ip";r=7;t=19, "say \\"hi\\"";r=3;t=1',
      'X-RateLimit-Limit': '10',
      'X-RateLimit-Remaining': '3',
      'X-RateLimit-Reset': '1001',
    });
  });

  it('shows nothing for decisions with numbers a header cannot carry, or taken without the backend', () => {
    const headers = rateLimitHeaders(
      [
        { policyName: 'a', windowMs: 1000, decision: { ...decision(1, 1), limit: Number.NaN } },
        { policyName: 'b', windowMs: 1000, decision: { ...decision(1, 1), remaining: Infinity } },
        { policyName: 'c', windowMs: 1000, decision: { ...decision(1, 1), source: 'fallback' } },
      ],
      { standard: true, legacy: true, nowMs: 0 },
    );
    expect(headers).toEqual({});
  });
});

describe('singlePolicyHeaders', () => {
  const cases = [
    { policyName: 'per-ip', windowMs: 60_000, decision: decision(7, 18_001), standard: true, legacy: false },
    { policyName: 'say "hi"', windowMs: undefined, decision: decision(0, 500), standard: true, legacy: true },
    { policyName: 'per-ip', windowMs: 1500, decision: decision(3, 999), standard: false, legacy: true },
    { policyName: 'per-ip', windowMs: 1000, decision: decision(3, 999), standard: false, legacy: false },
    {
      policyName: 'per-ip',
      windowMs: 1000,
      decision: { ...decision(1, 1), remaining: -1 },
      standard: true,
      legacy: true,
    },
    {
      policyName: 'per-ip',
      windowMs: 1000,
      decision: { ...decision(1, 1), source: 'fallback' as const },
      standard: true,
      legacy: false,
    },
  ];

  it.each(cases)(
    'gives what rateLimitHeaders gives for one decision ($policyName, standard $standard, legacy $legacy)',
    ({ policyName, windowMs, decision: shown, standard, legacy }) => {
      const options = { standard, legacy, nowMs: 1_000_000 };
      expect(singlePolicyHeaders(policyName, windowMs)(shown, options)).toEqual(
        rateLimitHeaders([{ policyName, windowMs, decision: shown }], options),
      );
    },
  );

  it('builds the RateLimit-Policy entry again when the quota changes', () => {
    const headersOf = singlePolicyHeaders('per-ip', 60_000);
    const options = { standard: true, legacy: false, nowMs: 0 };
    expect(headersOf(decision(7, 1000), options)['RateLimit-Policy']).toBe('"per-ip";q=10;w=60');
    expect(headersOf({ ...decision(7, 1000), limit: 20 }, options)['RateLimit-Policy']).toBe(
      '"per-ip";q=20;w=60',
    );
  });
});
