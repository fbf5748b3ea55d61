import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

import type { Clock } from '../clock/clock.js';

/**
 * What hyx carries along one logical request, across `await`, timers and event listeners: the
 * correlation id put on every event, and the deadline that later hops may honour.
 *
 * @example
 * ```ts
 * import { currentContext, type HyxContext } from '@hyx/local';
 * const context: HyxContext | undefined = currentContext();
 * console.log(context?.correlationId);
 * ```
 */
export interface HyxContext {
  /** Identifies one logical request across policies, services and telemetry. */
  readonly correlationId: string;
  /** When the whole request must be done, in ms since the Unix epoch (the clock's `now()` scale). */
  readonly deadlineMs?: number | undefined;
}

/**
 * What {@link withContext} starts from. Every field is optional: a missing correlation id is inherited
 * from the enclosing context or generated, and a deadline can only move earlier than the enclosing one.
 *
 * @example
 * ```ts
 * import { withContext, type HyxContextInit } from '@hyx/local';
 * const init: HyxContextInit = { correlationId: 'req-42', deadlineMs: Date.now() + 2_000 };
 * withContext(init, () => 'work');
 * ```
 */
export interface HyxContextInit {
  /** The id to carry; defaults to the enclosing context's id, or a new random UUID. */
  readonly correlationId?: string | undefined;
  /** The request's deadline in ms since the epoch; the earlier of this and the enclosing deadline wins. */
  readonly deadlineMs?: number | undefined;
}

// One store for the process. Node propagates it through promises, timers, `process.nextTick` and the
// listeners an EventEmitter calls synchronously, so nothing in hyx has to pass it by hand.
const storage = new AsyncLocalStorage<HyxContext>();

/**
 * Runs `fn` inside a hyx context: everything `fn` starts, awaited or scheduled (timers, promise
 * callbacks, event listeners), sees it through {@link currentContext}, and every event a policy emits
 * on its way carries its `correlationId`.
 *
 * Nesting refines rather than replaces: an inner context keeps the outer correlation id unless it
 * names one, and its deadline is never later than the outer one (a callee cannot extend its caller's
 * budget).
 *
 * @returns what `fn` returns (a promise stays a promise).
 *
 * @example
 * ```ts
 * import { currentContext, retry, withContext } from '@hyx/local';
 * const policy = retry({ maxAttempts: 3 });
 * policy.onEvent((event) => console.log(event.correlationId, event.type));
 * await withContext({ correlationId: 'req-42' }, () =>
 *   policy.execute(async () => currentContext()?.correlationId),
 * );
 * ```
 */
export function withContext<T>(init: HyxContextInit, fn: () => T): T {
  // Checked at run time as `unknown`: JavaScript callers and request headers pass anything.
  const givenId: unknown = init.correlationId;
  if (givenId !== undefined && (typeof givenId !== 'string' || givenId === '')) {
    throw new TypeError(
      `withContext: correlationId must be a non-empty string, got ${JSON.stringify(givenId)}`,
    );
  }
  if (init.deadlineMs !== undefined && !Number.isFinite(init.deadlineMs)) {
    throw new RangeError(`withContext: deadlineMs must be a finite number, got ${String(init.deadlineMs)}`);
  }
  const outer = storage.getStore();
  const correlationId = init.correlationId ?? outer?.correlationId ?? randomUUID();
  const deadlineMs = earlierOf(outer?.deadlineMs, init.deadlineMs);
  const context: HyxContext = deadlineMs === undefined ? { correlationId } : { correlationId, deadlineMs };
  return storage.run(Object.freeze(context), fn);
}

/**
 * The hyx context of the code running now, or `undefined` outside every {@link withContext}.
 *
 * @example
 * ```ts
 * import { currentContext, withContext } from '@hyx/local';
 * withContext({ correlationId: 'req-42' }, () => {
 *   setTimeout(() => console.log(currentContext()?.correlationId), 10); // 'req-42'
 * });
 * ```
 */
export function currentContext(): HyxContext | undefined {
  return storage.getStore();
}

/**
 * The milliseconds left before the current context's deadline on `clock` (0 once it has passed), or
 * `undefined` when there is no deadline. Policies and clients use it to shorten their own waits so that
 * work never outlives the request it belongs to.
 *
 * @param clock - the clock the deadline is compared with; pass the policy's clock (a `FakeClock` in tests)
 *
 * @example
 * ```ts
 * import { remainingBudgetMs, systemClock, withContext } from '@hyx/local';
 * withContext({ deadlineMs: systemClock.now() + 500 }, () => {
 *   const budgetMs = remainingBudgetMs(systemClock); // about 500
 *   return budgetMs;
 * });
 * ```
 */
export function remainingBudgetMs(clock: Clock): number | undefined {
  const deadlineMs = storage.getStore()?.deadlineMs;
  if (deadlineMs === undefined) return undefined;
  return Math.max(0, deadlineMs - clock.now());
}

function earlierOf(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
