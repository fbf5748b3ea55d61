import type { ExecuteOptions, Policy, PolicyKind, ResilienceEvent, Work } from '@hyx/local';

/**
 * A policy for tests that emits the events it is told to, for event types whose policy is not the
 * subject of the test (a distributed limiter's `source`, say). Each `execute` runs the work once.
 */
export class ScriptedPolicy implements Policy {
  readonly #listeners = new Set<(event: ResilienceEvent) => void>();

  constructor(
    readonly kind: PolicyKind,
    readonly name: string,
  ) {}

  /** Hands `event` to every listener, as a policy's event hub would (minus error isolation). */
  emit(event: ResilienceEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  async execute<T>(fn: Work<T>, _options?: ExecuteOptions): Promise<T> {
    return fn({ signal: new AbortController().signal, attempt: 1 });
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
