import { DeadlineQueue, settleWithin, type Clock } from '@hyx/local';

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
 * Bounds a Redis state's commands by its `commandTimeoutMs`, on one clock timer for all of them
 * ({@link DeadlineQueue}: every command waits the same time, so they time out in the order they
 * were sent; a timer per command, set and cleared, cost about as much as the rest of the client's
 * work on a call).
 *
 * @internal
 */
export class CommandTimeouts {
  readonly #timeoutMs: number;
  readonly #deadlines: DeadlineQueue<() => void>;

  /**
   * @param clock - the state's clock: its time and its timer
   * @param timeoutMs - the state's `commandTimeoutMs`
   */
  constructor(clock: Clock, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    // Cleared when no command is in flight: next to a round-trip a timer costs little, and an idle
    // state then holds no timer at all.
    this.#deadlines = DeadlineQueue.ofCallbacks(clock, timeoutMs, { keepsIdleTimer: false });
  }

  /**
   * Resolves or rejects as `work` does, or rejects with a {@link CommandTimeoutError} once
   * `timeoutMs` passed. It does not cancel `work`: a command Redis answers late still settles
   * `work`, unheard.
   */
  within<T>(work: Promise<T>): Promise<T> {
    return settleWithin(this.#deadlines, work, (): never => {
      throw new CommandTimeoutError(this.#timeoutMs);
    });
  }
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
