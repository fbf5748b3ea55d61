import { DeadlineQueue, settleWithin, type Clock } from '@hyx/local';

/** What a watched decision settles with when it is not answered in time. */
export const DECISION_TIMED_OUT: unique symbol = Symbol('decision timed out');

/**
 * Bounds how long a middleware waits for its limiters with one timer for all requests, not one
 * per request: every wait has the same length, so waits expire in the order they started
 * ({@link DeadlineQueue}, which also keeps a wall clock that steps back from delaying them by
 * more than one wait). A wait that settles leaves the queue at once.
 *
 * @internal
 */
export class DecisionWatchdog {
  readonly #deadlines: DeadlineQueue<() => void>;

  constructor(clock: Clock, timeoutMs: number) {
    this.#deadlines = DeadlineQueue.ofCallbacks(clock, timeoutMs, { keepsIdleTimer: false });
  }

  /** Settles with `promise`, or with {@link DECISION_TIMED_OUT} after `timeoutMs`. */
  within<T>(promise: Promise<T>): Promise<T | typeof DECISION_TIMED_OUT> {
    return settleWithin(this.#deadlines, promise, () => DECISION_TIMED_OUT);
  }
}
