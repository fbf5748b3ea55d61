import { describe, expect, it } from 'vitest';

import { formatGrpcTimeout, parseGrpcTimeout, requestBudgetMs } from './request-budget.js';

describe('request budget headers', () => {
  it.each([
    ['300m', 300],
    ['2S', 2000],
    ['1M', 60_000],
    ['1H', 3_600_000],
    ['1500u', 1.5],
    ['12345678n', 12.345678],
    ['123456789m', undefined],
    ['300', undefined],
    ['-1m', undefined],
    ['3.5S', undefined],
  ])('parses grpc-timeout %s as %s ms', (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms);
  });

  it('formats whole milliseconds for grpc-timeout', () => {
    expect(formatGrpcTimeout(299.6)).toBe('299m');
    expect(formatGrpcTimeout(-5)).toBe('0m');
  });

  it('takes the smaller of hyx-timeout-ms and grpc-timeout, and ignores malformed values', () => {
    expect(requestBudgetMs({ 'hyx-timeout-ms': '300' })).toBe(300);
    expect(requestBudgetMs({ 'hyx-timeout-ms': '500', 'grpc-timeout': '2S' })).toBe(500);
    expect(requestBudgetMs({ 'hyx-timeout-ms': '500', 'grpc-timeout': '200m' })).toBe(200);
    expect(requestBudgetMs({ 'hyx-timeout-ms': 'soon', 'grpc-timeout': '200m' })).toBe(200);
    expect(requestBudgetMs({ 'hyx-timeout-ms': '-3' })).toBeUndefined();
    expect(requestBudgetMs({})).toBeUndefined();
    expect(requestBudgetMs({ 'x-budget': '40' }, 'X-Budget')).toBe(40);
  });
});
