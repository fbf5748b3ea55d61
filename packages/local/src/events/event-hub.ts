import { currentContext } from '../context/hyx-context.js';
import type { ResilienceEvent } from './resilience-event.js';

type Listener = (event: ResilienceEvent) => void;

/**
 * The listeners of one policy. Emitting isolates listeners from each other and from the call:
 * a listener that throws is reported once as a process warning and never changes a call's outcome.
 *
 * @internal
 */
export class EventHub {
  #listeners: readonly Listener[] = [];
  #hasWarned = false;

  /** True when at least one listener is subscribed; policies skip building events otherwise. */
  get hasListeners(): boolean {
    return this.#listeners.length > 0;
  }

  subscribe(listener: Listener): () => void {
    // Copy on write: an emit in progress keeps iterating the array it started with.
    this.#listeners = [...this.#listeners, listener];
    let isSubscribed = true;
    return () => {
      if (!isSubscribed) return;
      isSubscribed = false;
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  /**
   * Hands `event` to every listener. Inside a hyx context (`withContext`) the event is stamped with
   * the context's `correlationId` first; the context is read only when someone listens.
   *
   * `event` must be a new object that nobody else holds (the policies emit object literals): the
   * hub stamps it in place, because a copy per event cost more than the rest of the emit.
   */
  emit(event: ResilienceEvent): void {
    const listeners = this.#listeners;
    if (listeners.length === 0) return;
    const context = currentContext();
    if (context !== undefined && event.correlationId === undefined) {
      (event as { correlationId?: string }).correlationId = context.correlationId;
    }
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#warn(error);
      }
    }
  }

  #warn(error: unknown): void {
    if (this.#hasWarned) return;
    this.#hasWarned = true;
    const detail = error instanceof Error ? error.message : String(error);
    process.emitWarning(`a hyx event listener threw and was ignored: ${detail}`, 'HyxListenerWarning');
  }
}
