import {
  CIRCUIT_BREAKER_DEFAULTS,
  DEFAULT_CIRCUIT_KEY,
  circuitBreaker,
  type CircuitBreakerPolicy,
  type CircuitBreakerSnapshot,
  type CircuitMetrics,
  type CircuitState,
  type ExecuteOptions,
  type IsolationHandle,
  type ResilienceEvent,
  type Work,
} from '@hyx/local';

import { FACTORY_KEY, checkRedisClient, factoryLabel } from '../redis-client.js';
import type { RedisLike } from '../redis-like.js';
import { PolicyListeners } from '../policy-listeners.js';
import type { RedisCircuitBreakerOptions } from './redis-circuit-breaker-options.js';
import { RedisCircuitBreakerState, type ObservedTransition } from './redis-circuit-breaker-state.js';

type Listener = (event: ResilienceEvent) => void;

/**
 * A circuit breaker whose circuits live in Redis: the local breaker's type, plus `close()` for the
 * pub/sub connection of `subscribe: true`.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerPolicy } from '@hyx/distributed';
 * const shutdown = (breaker: RedisCircuitBreakerPolicy) => breaker.close();
 * ```
 */
export interface RedisCircuitBreakerPolicy extends CircuitBreakerPolicy {
  /** Stops listening for transitions made elsewhere (a no-op without `subscribe: true`). */
  close(): Promise<void>;
}

/**
 * The local breaker's shell over the Redis state, plus the events only the state knows of:
 * `circuit.observed` (a transition another instance made) and `backend.failed`/`backend.recovered`.
 */
class RedisCircuitBreakerShell implements RedisCircuitBreakerPolicy {
  readonly kind = 'circuit-breaker' as const;
  readonly name: string;
  readonly #inner: CircuitBreakerPolicy;
  #state: RedisCircuitBreakerState | undefined;
  readonly #listeners = new PolicyListeners();

  constructor(client: RedisLike, options: RedisCircuitBreakerOptions) {
    checkRedisClient(factoryLabel('redisCircuitBreaker', options, CIRCUIT_BREAKER_DEFAULTS.name), client);
    const {
      commandTimeoutMs,
      onBackendFailure,
      time,
      subscribe,
      subscriber,
      idleTtlMs,
      recoveryLeaseMs,
      recoveryLeader,
      ...localOptions
    } = options;
    this.#inner = circuitBreaker({
      ...localOptions,
      // The local breaker's errors then name this factory: `redisCircuitBreaker "payments": ...`.
      [FACTORY_KEY]: 'redisCircuitBreaker',
      state: (settings, context) => {
        this.#state = new RedisCircuitBreakerState(client, settings, context, {
          commandTimeoutMs,
          onBackendFailure,
          time,
          subscribe,
          subscriber,
          idleTtlMs,
          recoveryLeaseMs,
          recoveryLeader,
          onBackendTransition: (transition) => {
            this.#listeners.emitBackend(this, transition);
          },
          onObserved: (transition) => {
            this.#emitObserved(transition);
          },
        });
        return this.#state;
      },
    });
    this.name = this.#inner.name;
  }

  get state(): CircuitState {
    return this.#state?.knownState(DEFAULT_CIRCUIT_KEY) ?? this.#inner.state;
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T> {
    return this.#inner.execute(fn, options);
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  getState(key?: string): Promise<CircuitState> {
    return this.#inner.getState(key);
  }

  getMetrics(key?: string): Promise<CircuitMetrics> {
    return this.#inner.getMetrics(key);
  }

  isolate(key?: string): Promise<IsolationHandle> {
    return this.#inner.isolate(key);
  }

  reset(key?: string): Promise<void> {
    return this.#inner.reset(key);
  }

  snapshot(key?: string): Promise<CircuitBreakerSnapshot> {
    return this.#inner.snapshot(key);
  }

  restore(snapshot: CircuitBreakerSnapshot, key?: string): Promise<void> {
    return this.#inner.restore(snapshot, key);
  }

  async close(): Promise<void> {
    await this.#state?.close();
  }

  onEvent(listener: Listener): () => void {
    return this.#listeners.subscribe(listener, this.#inner.onEvent(listener));
  }

  #emitObserved(transition: ObservedTransition): void {
    this.#listeners.emit({
      type: 'circuit.observed',
      policyKind: this.kind,
      policyName: this.name,
      from: transition.from,
      to: transition.to,
      reason: transition.reason,
    });
  }
}

/**
 * A circuit breaker whose circuits live in Redis, so every instance of a service opens, probes
 * and closes together. It returns the local breaker's {@link CircuitBreakerPolicy} (plus `close()`)
 * and takes the same options (every window, threshold, half-open probes, health check,
 * isolate/reset, snapshot/restore), plus how to talk to Redis: `commandTimeoutMs`,
 * `onBackendFailure` (`'reject'`, `'allow'` or `'local'`), `subscribe`.
 *
 * Each admission and each outcome is one script call on the node that owns the circuit, reading
 * the server's clock. Transitions and half-open probe slots are decided inside the scripts and
 * stamped with a generation: `permittedHalfOpenCalls` probes in total across all instances, and
 * a late outcome of an older generation changes nothing. Every instance learns of a transition
 * on its next call (`circuit.observed`), or within milliseconds with `subscribe: true`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisCircuitBreaker } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380, autoResendUnfulfilledCommands: false });
 * const breaker = redisCircuitBreaker(redis, {
 *   name: 'payments',
 *   window: { kind: 'countWindow', size: 20 },
 *   failureRate: 0.5,
 *   halfOpenAfterMs: 10_000,
 *   subscribe: true,
 * });
 * breaker.onEvent((event) => {
 *   if (event.type === 'circuit.observed') console.log(`opened elsewhere: ${event.to}`);
 * });
 * const receipt = await breaker.execute(async () => ({ id: 'r-1' }));
 * await breaker.close();
 * ```
 */
export function redisCircuitBreaker(
  client: RedisLike,
  options: RedisCircuitBreakerOptions = {},
): RedisCircuitBreakerPolicy {
  return new RedisCircuitBreakerShell(client, options);
}
