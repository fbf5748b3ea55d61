import type { ResilienceEvent } from '../events/resilience-event.js';
import { EventHub } from '../events/event-hub.js';
import type { ExecuteOptions, Policy, PolicyKind, Work } from './policy.js';

/**
 * The members every policy shares: identity, the decorator form and event subscription.
 * Subclasses implement `execute` and emit through `events`.
 *
 * @internal
 */
export abstract class BasePolicy<TAlt = never> implements Policy<TAlt> {
  /** Emits this policy's events; check `events.hasListeners` before building an event. */
  protected readonly events = new EventHub();

  protected constructor(
    readonly kind: PolicyKind,
    readonly name: string,
  ) {}

  abstract execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | TAlt>;

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T | TAlt> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    return this.events.subscribe(listener);
  }
}
