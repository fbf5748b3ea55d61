import type { PolicyKind, ResilienceEvent } from '@hyx/local';

import type { BackendTransition } from './backend-guard.js';

type Listener = (event: ResilienceEvent) => void;

/**
 * The listeners of a Redis policy that wraps a local shell: each also listens to the shell (which
 * emits its own events), and hears here the events only the Redis state knows of
 * (`backend.failed`, `backend.recovered`, `circuit.observed`). A listener that throws is ignored.
 *
 * @internal
 */
export class PolicyListeners {
  // Copy on write: an emit in progress keeps iterating the array it started with.
  #listeners: readonly Listener[] = [];

  /**
   * Adds `listener`. The function returned removes it and calls `unsubscribeShell` (what the
   * shell's `onEvent` returned for the same listener), once however often it is called.
   */
  subscribe(listener: Listener, unsubscribeShell: () => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    let isSubscribed = true;
    return () => {
      if (!isSubscribed) return;
      isSubscribed = false;
      unsubscribeShell();
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  /** Hands `event` to every listener. */
  emit(event: ResilienceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A throwing listener never changes a call's result.
      }
    }
  }

  /**
   * Emits what the Redis state of `policy` reported as `backend.failed` or `backend.recovered`;
   * builds no event when nobody listens.
   */
  emitBackend(
    policy: { readonly kind: PolicyKind; readonly name: string },
    transition: BackendTransition,
  ): void {
    if (this.#listeners.length === 0) return;
    const source = { policyKind: policy.kind, policyName: policy.name };
    this.emit(
      transition.type === 'failed'
        ? { ...source, type: 'backend.failed', error: transition.error, fallback: transition.fallback }
        : { ...source, type: 'backend.recovered', outageMs: transition.outageMs },
    );
  }
}
