import type { ResilienceEvent } from '../events/resilience-event.js';
import { EventHub } from '../events/event-hub.js';
import { describeValue } from '../options/parse-options.js';
import type { ExecuteOptions, Policy, PolicyKind, Work } from './policy.js';

/**
 * The members every policy shares: identity, the check of the work, the decorator form and event
 * subscription. Subclasses implement `run` (their `execute`) and emit through `events`.
 *
 * @internal
 */
export abstract class BasePolicy<TAlt = never> implements Policy<TAlt> {
  /** Emits this policy's events; check `events.hasListeners` before building an event. */
  protected readonly events = new EventHub();
  /** How errors name this policy: the factory the user called and the name, `retry "api"`. */
  protected readonly label: string;

  protected constructor(
    readonly kind: PolicyKind,
    readonly name: string,
    factory: string,
  ) {
    this.label = `${factory} "${name}"`;
  }

  // The one place every policy checks its work: a non-function would otherwise fail deep inside
  // (after taking a permit, counted as a breaker failure, retried), with "fn is not a function".
  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | TAlt> {
    if (typeof fn !== 'function') return Promise.reject(this.#notAFunction('execute', fn));
    return this.run(fn, options);
  }

  /** `execute` once `fn` is known to be a function. */
  protected abstract run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T | TAlt>;

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T | TAlt> {
    if (typeof fn !== 'function') throw this.#notAFunction('wrap', fn);
    return (...args: TArgs) => this.run(() => fn(...args), undefined);
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  #notAFunction(method: string, value: unknown): TypeError {
    return new TypeError(`${this.label}: ${method} expects a function, got ${describeValue(value)}`);
  }
}
