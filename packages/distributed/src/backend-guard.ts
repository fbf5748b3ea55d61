import type { Clock } from '@hyx/local';

import type { BackendFailureMode } from './rate-limiter/redis-rate-limiter-options.js';
import type { RedisLike } from './redis-like.js';

/**
 * What a Redis state (rate limiter, circuit breaker, bulkhead) reports about its backend:
 * `'failed'` once when an outage starts, `'recovered'` once when Redis answers again.
 *
 * @example
 * ```ts
 * import type { BackendTransition } from '@hyx/distributed';
 * const log = (transition: BackendTransition) => console.log(transition.type);
 * ```
 */
export type BackendTransition =
  | { readonly type: 'failed'; readonly error: unknown; readonly fallback: BackendFailureMode }
  | { readonly type: 'recovered'; readonly outageMs: number };

/**
 * Redis did not answer a command within `commandTimeoutMs`: a backend failure, like an error
 * reply or a dropped connection.
 *
 * @internal
 */
export class CommandTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within commandTimeoutMs (${timeoutMs} ms)`);
  }

  override get name(): string {
    return 'CommandTimeoutError';
  }
}

/**
 * A command was not sent because the client is not connected (see {@link isDisconnected}), or
 * because Redis is down and another command already probes it.
 *
 * @internal
 */
export class BackendDisconnectedError extends Error {
  constructor() {
    super('the Redis client is not connected');
  }

  override get name(): string {
    return 'BackendDisconnectedError';
  }
}

/**
 * Whether the client says (ioredis `status`) that a command sent now would not reach Redis at once
 * but wait in its offline queue, and run later, after we decided without it. A client that tells
 * no status is taken as connected.
 *
 * Once Redis has answered (`hasConnected`), only a `ready` connection counts; before that a
 * starting client is `wait` or `connecting` and queues the first calls on purpose, so only
 * `reconnecting`, `close` and `end` count as disconnected.
 *
 * @internal
 */
export function isDisconnected(client: RedisLike, hasConnected: boolean): boolean {
  const status = (client as { readonly status?: unknown }).status;
  if (typeof status !== 'string') return false;
  if (hasConnected) return status !== 'ready';
  return status === 'reconnecting' || status === 'close' || status === 'end';
}

/**
 * Resolves or rejects as `work` does, or rejects with a {@link CommandTimeoutError} after
 * `timeoutMs` on `clock`; the timer is cleared as soon as `work` settles. It does not cancel
 * `work`: a command Redis answers late still settles `work`, unheard.
 *
 * @internal
 */
export function withCommandTimeout<T>(clock: Clock, timeoutMs: number, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      reject(new CommandTimeoutError(timeoutMs));
    }, timeoutMs);
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Whether a Redis state's backend is down, from the first failure to the next success: reports a
 * {@link BackendTransition} `'failed'` once when an outage starts and `'recovered'` (with how long
 * it lasted on `clock`) once when it ends. A listener that throws is ignored.
 *
 * @internal
 */
export class OutageTracker {
  readonly #clock: Clock;
  readonly #fallback: BackendFailureMode;
  readonly #onTransition: ((transition: BackendTransition) => void) | undefined;
  /** Set while Redis is considered down: from the first failure to the next success. */
  #startedMs: number | undefined;

  /**
   * @param clock - times the outage
   * @param fallback - what the state does while Redis is down, told in `'failed'`
   * @param onTransition - who hears of outages
   */
  constructor(
    clock: Clock,
    fallback: BackendFailureMode,
    onTransition: ((transition: BackendTransition) => void) | undefined,
  ) {
    this.#clock = clock;
    this.#fallback = fallback;
    this.#onTransition = onTransition;
  }

  /** Whether Redis is considered down now. */
  get isDown(): boolean {
    return this.#startedMs !== undefined;
  }

  /** A command failed: starts an outage (and reports it) unless one is on. */
  failed(error: unknown): void {
    if (this.#startedMs !== undefined) return;
    this.#startedMs = this.#clock.now();
    this.#report({ type: 'failed', error, fallback: this.#fallback });
  }

  /** Redis answered: ends the outage (and reports it) if one is on. */
  succeeded(): void {
    const startedMs = this.#startedMs;
    if (startedMs === undefined) return;
    this.#startedMs = undefined;
    this.#report({ type: 'recovered', outageMs: Math.max(0, this.#clock.now() - startedMs) });
  }

  #report(transition: BackendTransition): void {
    try {
      this.#onTransition?.(transition);
    } catch {
      // A listener never changes a decision.
    }
  }
}
