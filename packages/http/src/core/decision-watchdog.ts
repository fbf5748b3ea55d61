import type { Clock, TimerHandle } from '@hyx/local';

/** What a watched decision settles with when it is not answered in time. */
export const DECISION_TIMED_OUT: unique symbol = Symbol('decision timed out');

interface Watched {
  readonly deadlineMs: number;
  readonly expire: () => void;
}

/**
 * Bounds how long a middleware waits for its limiters with one timer for all requests, not one
 * per request: every wait has the same length, so waits expire in the order they started, and the
 * timer only ever needs the oldest one's deadline. A wait that settles leaves the queue at once;
 * the timer may then fire for nothing, and re-arms for the oldest wait left.
 *
 * @internal
 */
export class DecisionWatchdog {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #waiting = new Set<Watched>();
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Settles with `promise`, or with {@link DECISION_TIMED_OUT} after `timeoutMs`. */
  within<T>(promise: Promise<T>): Promise<T | typeof DECISION_TIMED_OUT> {
    return new Promise((resolve, reject) => {
      const watched: Watched = {
        deadlineMs: this.#clock.now() + this.#timeoutMs,
        expire: () => {
          resolve(DECISION_TIMED_OUT);
        },
      };
      this.#waiting.add(watched);
      if (this.#timer === undefined) this.#arm(this.#timeoutMs);
      promise.then(
        (value) => {
          this.#waiting.delete(watched);
          resolve(value);
        },
        (error: unknown) => {
          this.#waiting.delete(watched);
          reject(error);
        },
      );
    });
  }

  #arm(delayMs: number): void {
    const timer = this.#clock.setTimeout(() => {
      this.#fire();
    }, delayMs);
    // Waiting for a limiter must not keep the process alive on its own.
    this.#clock.keepAlive?.(timer, false);
    this.#timer = timer;
  }

  #fire(): void {
    this.#timer = undefined;
    const nowMs = this.#clock.now();
    // A Set iterates in insertion order, which is deadline order.
    for (const watched of this.#waiting) {
      if (watched.deadlineMs > nowMs) {
        this.#arm(watched.deadlineMs - nowMs);
        return;
      }
      this.#waiting.delete(watched);
      watched.expire();
    }
  }
}
