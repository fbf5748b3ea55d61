import { systemClock, type Clock } from '@hyx/local';

/** What one call to the simulated service does. */
export type Behaviour =
  | { readonly kind: 'ok'; readonly latencyMs: number }
  | { readonly kind: 'fail'; readonly latencyMs: number; readonly status: number }
  | { readonly kind: 'hang' };

/** The error the service answers with, carrying an HTTP-like status. */
class ServiceError extends Error {
  constructor(readonly status: number) {
    super(`inventory answered ${status}`);
    this.name = 'ServiceError';
  }
}

/**
 * A stand-in for a remote `inventory` service: each call plays the next scripted behaviour, and
 * honours its abort signal the way `fetch` does.
 */
export class FlakyService {
  readonly #script: Behaviour[];
  #calls = 0;

  constructor(
    script: readonly Behaviour[],
    private readonly clock: Clock = systemClock,
  ) {
    this.#script = [...script];
  }

  /** How many calls reached the service. */
  get calls(): number {
    return this.#calls;
  }

  stock(item: string, signal: AbortSignal): Promise<{ item: string; inStock: number }> {
    this.#calls++;
    const behaviour = this.#script.shift() ?? { kind: 'ok', latencyMs: 5 };
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const timer =
        behaviour.kind === 'hang'
          ? undefined
          : this.clock.setTimeout(() => {
              signal.removeEventListener('abort', onAbort);
              if (behaviour.kind === 'ok') resolve({ item, inStock: 7 });
              else reject(new ServiceError(behaviour.status));
            }, behaviour.latencyMs);
    });
  }
}
