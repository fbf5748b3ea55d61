import { z } from 'zod';

import type { Clock } from '../clock/clock.js';
import { MAX_TIMER_DELAY_MS } from '../clock/clock.js';

/** A policy name: non-empty, printable, bounded so that it is safe as a metric label. */
export const policyNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\s{}]([^{}]*[^\s{}])?$/, { error: 'must not have surrounding spaces or braces' });

/** A duration in ms: finite, >= 0, and at most what one timer can wait. */
export const durationMsSchema = z.number().min(0).max(MAX_TIMER_DELAY_MS);

/** A duration in ms that must be positive. */
export const positiveDurationMsSchema = z.number().gt(0).max(MAX_TIMER_DELAY_MS);

/** A whole number >= 1. */
export const positiveIntSchema = z.number().int({ error: 'must be an integer' }).min(1);

/** A whole number >= 0. */
export const nonNegativeIntSchema = z.number().int({ error: 'must be an integer' }).min(0);

/** A whole number >= 1, or `Infinity` for "no limit". */
export const countOrInfinitySchema = z.custom<number>(
  (value) => value === Infinity || (typeof value === 'number' && Number.isInteger(value) && value >= 1),
  { error: 'must be an integer >= 1 or Infinity' },
);

/**
 * Marks a custom schema that checks a value's type rather than its range, so that `parseOptions`
 * throws a `TypeError` (not a `RangeError`) when it rejects a number: `shouldHandle: 5`.
 */
export const TYPE_CHECK_PARAMS = { isTypeCheck: true } as const;

/** Any function; its signature is enforced by the TypeScript types. */
export function functionSchema<T>(): z.ZodType<T> {
  return z.custom<T>((value) => typeof value === 'function', {
    error: 'must be a function',
    params: TYPE_CHECK_PARAMS,
  });
}

/** An object with the {@link Clock} methods. */
export const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<Clock>).now === 'function' &&
    typeof (value as Partial<Clock>).setTimeout === 'function' &&
    typeof (value as Partial<Clock>).clearTimeout === 'function',
  { error: 'must be a Clock (now, setTimeout, clearTimeout)', params: TYPE_CHECK_PARAMS },
);
