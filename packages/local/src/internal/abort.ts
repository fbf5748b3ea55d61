import type { Clock } from '../clock/clock.js';
import type { AbortSource } from './call-scope.js';

/**
 * Waits `delayMs` on `clock`. Rejects with the abort reason as soon as `abortSource` aborts; the timer
 * and the abort listener are removed on every way out.
 *
 * @internal
 */
export function sleep(clock: Clock, delayMs: number, abortSource: AbortSource | undefined): Promise<void> {
  if (abortSource?.aborted === true) return Promise.reject(abortSource.reason);
  return new Promise<void>((resolve, reject) => {
    // eslint-disable-next-line prefer-const -- assigned after the timer that reads it is created
    let unsubscribe: (() => void) | undefined;
    const timer = clock.setTimeout(() => {
      unsubscribe?.();
      resolve();
    }, delayMs);
    unsubscribe = abortSource?.subscribe(() => {
      clock.clearTimeout(timer);
      reject(abortSource.reason);
    });
  });
}

/**
 * Settles with `promise`, or rejects with the abort reason as soon as `abortSource` aborts, whichever
 * comes first. The listener is removed either way.
 *
 * @internal
 */
export function raceWithAbort<T>(promise: Promise<T>, abortSource: AbortSource | undefined): Promise<T> {
  if (abortSource?.canAbort !== true) return promise;
  if (abortSource.aborted) return Promise.reject(abortSource.reason);
  return new Promise<T>((resolve, reject) => {
    const unsubscribe = abortSource.subscribe(() => {
      reject(abortSource.reason);
    });
    promise.then(
      (value) => {
        unsubscribe();
        resolve(value);
      },
      (error: unknown) => {
        unsubscribe();
        reject(error);
      },
    );
  });
}

/**
 * Calls `fn` and turns a synchronous throw into a rejected promise, so every way out of the work
 * goes through one promise.
 *
 * @internal
 */
export function callSafely<TArg, T>(fn: (arg: TArg) => T | PromiseLike<T>, arg: TArg): Promise<T> {
  try {
    return Promise.resolve(fn(arg));
  } catch (error) {
    return Promise.reject(error);
  }
}
