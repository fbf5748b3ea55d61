import type { Clock, TimerHandle } from '../clock/clock.js';
import { BulkheadFullError } from '../errors/errors.js';
import type { ErrorSource } from '../errors/resilience-error.js';
import {
  type AbortSource,
  CallScope,
  abortSourceOf,
  inheritedAttempt,
  rejectionOf,
  startTimeOf,
} from '../internal/call-scope.js';
import { factoryOf, parseOptions } from '../options/parse-options.js';
import { BasePolicy } from '../policy/base-policy.js';
import type { ExecuteOptions, ExecutionContext, Policy, Work } from '../policy/policy.js';
import { type BulkheadOptions, bulkheadOptionsSchema } from './bulkhead-options.js';
import type { BulkheadState, Lease } from './bulkhead-state.js';
import { MemoryBulkheadState, type PermitCounter } from './memory-bulkhead-state.js';

/**
 * A bulkhead: a {@link Policy} that lets at most `maxConcurrent` calls run at once, queues up to
 * `maxQueue` more, and tells how busy it is.
 *
 * @example
 * ```ts
 * import { bulkhead, type BulkheadPolicy } from '@hyx/local';
 * const db: BulkheadPolicy = bulkhead({ maxConcurrent: 4, maxQueue: 8 });
 * console.log(`${db.inFlight} running, ${db.queued} waiting`);
 * ```
 */
export interface BulkheadPolicy extends Policy {
  /** Calls of this bulkhead holding a permit now. */
  readonly inFlight: number;
  /** Calls of this bulkhead waiting in its queue now. */
  readonly queued: number;
}

type MaybePromise<T> = T | Promise<T>;

/** The context handed to the work: a scope forwarding the caller's abort and attempt. */
function contextFor(abortSource: AbortSource | undefined): ExecutionContext {
  return CallScope.forwarding(abortSource, inheritedAttempt(abortSource));
}

function isPromiseLike<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Partial<PromiseLike<T>> | undefined)?.then === 'function';
}

/** A caller waiting for a permit: a node of the wait queue and the promise the caller awaits. */
class Waiter {
  previous: Waiter | undefined;
  next: Waiter | undefined;
  /** Removes the caller's abort listener; set once the waiter is queued. */
  unsubscribe: (() => void) | undefined;
  resolve!: (lease: Lease) => void;
  reject!: (error: unknown) => void;
  readonly promise: Promise<Lease>;

  constructor(
    /** When the caller joined the queue; read from the clock only for a timeout or a listener. */
    readonly enqueuedMs: number | undefined,
    /** When the wait runs out; `Infinity` without a queue timeout. */
    readonly deadlineMs: number,
  ) {
    this.promise = new Promise<Lease>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * The callers waiting for a permit, oldest first. A doubly linked list, so that a caller that aborts
 * leaves from anywhere in O(1) and the rest keep their order.
 */
class WaitQueue {
  first: Waiter | undefined;
  #last: Waiter | undefined;
  size = 0;

  push(waiter: Waiter): void {
    waiter.previous = this.#last;
    if (this.#last === undefined) this.first = waiter;
    else this.#last.next = waiter;
    this.#last = waiter;
    this.size++;
  }

  remove(waiter: Waiter): void {
    if (waiter.previous === undefined) this.first = waiter.next;
    else waiter.previous.next = waiter.next;
    if (waiter.next === undefined) this.#last = waiter.previous;
    else waiter.next.previous = waiter.previous;
    waiter.previous = undefined;
    waiter.next = undefined;
    this.size--;
  }
}

class LocalBulkhead extends BasePolicy implements BulkheadPolicy {
  readonly #state: BulkheadState;
  readonly #maxConcurrent: number;
  readonly #maxQueue: number;
  readonly #queueTimeoutMs: number;
  readonly #clock: Clock;
  readonly #errorSource: ErrorSource;
  readonly #queue = new WaitQueue();
  #inFlight = 0;
  /**
   * The memory state's own count for this bulkhead's key, when the state is exactly a
   * `MemoryBulkheadState` (not a subclass, whose `acquire` may do more): an uncontended call then
   * counts a permit instead of allocating a lease and calling the state twice (1.3-1.4x slower
   * than cockatiel's bulkhead before, at parity or faster with it, docs/benchmarks.md).
   */
  readonly #counter: PermitCounter | undefined;
  /** Counts permits given back, so an admission that raced with a release can tell it missed one. */
  #releaseCount = 0;
  /** True while an asynchronous acquire for the head of the queue is in flight. */
  #isDraining = false;
  /**
   * One timer for the whole queue: every waiter waits the same `queueTimeoutMs`, so deadlines
   * grow from head to tail and only the head's can be next.
   */
  #queueTimer: TimerHandle | undefined;
  /** Stops the state's `watch` (permits freed elsewhere); set while the queue is not empty. */
  #unwatch: (() => void) | undefined;

  constructor(options: BulkheadOptions) {
    const factory = factoryOf(options, 'bulkhead');
    const parsed = parseOptions('bulkhead', bulkheadOptionsSchema, options, 'bulkhead');
    super('bulkhead', parsed.name, factory);
    this.#maxConcurrent = parsed.maxConcurrent;
    this.#maxQueue = parsed.maxQueue;
    this.#queueTimeoutMs = parsed.queueTimeoutMs;
    this.#clock = parsed.clock;
    this.#errorSource = { policyKind: 'bulkhead', policyName: parsed.name };
    this.#state = parsed.state({ maxConcurrent: parsed.maxConcurrent });
    const state = this.#state;
    this.#counter =
      state instanceof MemoryBulkheadState && Object.getPrototypeOf(state) === MemoryBulkheadState.prototype
        ? state.counterOf(parsed.name)
        : undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  // Not `async`: the uncontended path hands over to `#run`, whose only await is the work's, so a
  // call carries one suspended frame (as a hand-written bulkhead's would) instead of two.
  protected run<T>(fn: Work<T>, options: ExecuteOptions | undefined): Promise<T> {
    const abortSource = abortSourceOf(options);
    if (abortSource?.aborted === true) return Promise.reject(abortSource.reason);
    const counter = this.#counter;
    // Nobody listens and nobody waits: no event to build, no order to keep, no lease to allocate.
    // (A listener that subscribes while such a call runs hears nothing of it, acquired or released.)
    if (
      counter !== undefined &&
      counter.held < counter.max &&
      this.#queue.size === 0 &&
      !this.events.hasListeners
    ) {
      counter.held++;
      this.#inFlight++;
      return this.#runCounted(fn, counter, abortSource);
    }
    const startedMs = this.events.hasListeners ? startTimeOf(options, this.#clock) : undefined;
    // FIFO: while anyone waits, a newcomer queues behind them rather than taking a freed permit.
    const releaseCountBefore = this.#releaseCount;
    let offered: MaybePromise<Lease | undefined>;
    try {
      offered = this.#queue.size === 0 ? this.#state.acquire(this.name) : undefined;
    } catch (error) {
      return Promise.reject(error);
    }
    if (offered !== undefined && !isPromiseLike(offered)) {
      this.#onGranted(undefined);
      return this.#run(fn, offered, abortSource, startedMs);
    }
    return this.#executeQueued(fn, offered, releaseCountBefore, abortSource, startedMs);
  }

  /** `#run` for a permit taken by counting: gives it back exactly once, however the work ends. */
  async #runCounted<T>(
    fn: Work<T>,
    counter: PermitCounter,
    abortSource: AbortSource | undefined,
  ): Promise<T> {
    let result: T;
    try {
      result = await fn(contextFor(abortSource));
    } catch (error) {
      this.#giveBackCounted(counter);
      // A caller that aborted gets its reason back, whatever the work rejected with.
      throw rejectionOf(abortSource, error);
    }
    this.#giveBackCounted(counter);
    return result;
  }

  #giveBackCounted(counter: PermitCounter): void {
    counter.held--;
    this.#inFlight--;
    this.#afterRelease();
  }

  /** Runs the work on a permit and gives the permit back however the work ends. */
  async #run<T>(
    fn: Work<T>,
    lease: Lease,
    abortSource: AbortSource | undefined,
    startedMs: number | undefined,
  ): Promise<T> {
    let result: T;
    try {
      // Awaited inside the `try`, a synchronous throw of `fn` lands in the same `catch` as a
      // rejection, without the extra promise `callSafely` would allocate.
      result = await fn(contextFor(abortSource));
    } catch (error) {
      this.#release(lease);
      // A caller that aborted gets its reason back, whatever the work rejected with.
      const rejection = rejectionOf(abortSource, error);
      this.#emitOutcome(startedMs, rejection);
      throw rejection;
    }
    this.#release(lease);
    this.#emitOutcome(startedMs, undefined, true);
    return result;
  }

  /** `execute` once the permit is not there at once: waits for it, then runs as `#run` does. */
  async #executeQueued<T>(
    fn: Work<T>,
    offered: Promise<Lease | undefined> | undefined,
    releaseCountBefore: number,
    abortSource: AbortSource | undefined,
    startedMs: number | undefined,
  ): Promise<T> {
    let lease: Lease;
    try {
      lease = await this.#admitSlowly(offered, releaseCountBefore, abortSource);
    } catch (error) {
      // A refusal is reported as `call.rejected` where it happens; the call never ran.
      if (!(error instanceof BulkheadFullError)) this.#emitOutcome(startedMs, error);
      throw error;
    }
    // The same steps as `#run`, written out: awaiting `#run` here would add turns of the event loop.
    let result: T;
    try {
      result = await fn(contextFor(abortSource));
    } catch (error) {
      this.#release(lease);
      // A caller that aborted gets its reason back, whatever the work rejected with.
      const rejection = rejectionOf(abortSource, error);
      this.#emitOutcome(startedMs, rejection);
      throw rejection;
    }
    this.#release(lease);
    this.#emitOutcome(startedMs, undefined, true);
    return result;
  }

  /** The contended path: an asynchronous state, a full pool, or callers already waiting. */
  async #admitSlowly(
    offered: Promise<Lease | undefined> | undefined,
    releaseCountBefore: number,
    abortSource: AbortSource | undefined,
  ): Promise<Lease> {
    if (offered !== undefined) {
      const lease = await this.#settleAcquire(offered, abortSource);
      if (lease !== undefined) {
        this.#onGranted(undefined);
        return this.#unlessAborted(lease, abortSource);
      }
    }
    if (this.#queue.size >= this.#maxQueue) {
      this.#emitRejected('bulkhead-full');
      throw new BulkheadFullError(
        this.#errorSource,
        `all ${this.#maxConcurrent} permits are in use and the queue is full (maxQueue ${this.#maxQueue})`,
      );
    }
    const waiter = this.#enqueue(abortSource);
    // An asynchronous acquire may have been refused just before a permit came back; that release
    // found an empty queue, so nobody else will wake this waiter.
    if (offered !== undefined && this.#releaseCount !== releaseCountBefore) this.#drain();
    return this.#unlessAborted(await waiter.promise, abortSource);
  }

  /** A permit granted to a caller that aborted before its continuation ran goes straight back. */
  #unlessAborted(lease: Lease, abortSource: AbortSource | undefined): Lease {
    if (abortSource?.aborted === true) {
      this.#release(lease);
      throw abortSource.reason;
    }
    return lease;
  }

  /**
   * Waits for an asynchronous acquire, or rejects with the abort reason as soon as the caller
   * aborts; a lease that arrives after that goes straight back to the state.
   */
  #settleAcquire(
    offered: Promise<Lease | undefined>,
    abortSource: AbortSource | undefined,
  ): Promise<Lease | undefined> {
    if (abortSource === undefined) return offered;
    return new Promise<Lease | undefined>((resolve, reject) => {
      let isAbandoned = false;
      const unsubscribe = abortSource.subscribe(() => {
        isAbandoned = true;
        reject(abortSource.reason);
      });
      offered.then(
        (lease) => {
          unsubscribe();
          if (!isAbandoned) resolve(lease);
          else if (lease !== undefined) this.#returnToState(lease);
        },
        (error: unknown) => {
          unsubscribe();
          reject(error);
        },
      );
    });
  }

  #enqueue(abortSource: AbortSource | undefined): Waiter {
    const isTimed = this.#queueTimeoutMs !== Infinity;
    const enqueuedMs = isTimed || this.events.hasListeners ? this.#clock.now() : undefined;
    const deadlineMs = isTimed && enqueuedMs !== undefined ? enqueuedMs + this.#queueTimeoutMs : Infinity;
    const waiter = new Waiter(enqueuedMs, deadlineMs);
    this.#queue.push(waiter);
    // A shared state can free permits this shell never sees released: watch while anyone waits.
    if (this.#queue.size === 1 && this.#state.watch !== undefined) {
      this.#unwatch = this.#state.watch(this.name, this.#afterRelease);
    }
    if (abortSource !== undefined) {
      waiter.unsubscribe = abortSource.subscribe(() => {
        // The caller leaves at once; its place in the queue is free for the next caller.
        this.#leaveQueue(waiter);
        waiter.reject(abortSource.reason);
      });
    }
    if (isTimed && this.#queueTimer === undefined) this.#armQueueTimer(deadlineMs);
    return waiter;
  }

  #leaveQueue(waiter: Waiter): void {
    this.#queue.remove(waiter);
    waiter.unsubscribe?.();
    waiter.unsubscribe = undefined;
    // Nothing may keep the process alive once nobody waits.
    if (this.#queue.size === 0 && this.#queueTimer !== undefined) {
      this.#clock.clearTimeout(this.#queueTimer);
      this.#queueTimer = undefined;
    }
    if (this.#queue.size === 0 && this.#unwatch !== undefined) {
      this.#unwatch();
      this.#unwatch = undefined;
    }
  }

  #armQueueTimer(deadlineMs: number): void {
    this.#queueTimer = this.#clock.setTimeout(this.#onQueueTimer, deadlineMs - this.#clock.now());
  }

  /** Refuses every waiter whose wait ran out, then arms the timer for the next deadline. */
  readonly #onQueueTimer = (): void => {
    this.#queueTimer = undefined;
    const nowMs = this.#clock.now();
    for (let head = this.#queue.first; head !== undefined && head.deadlineMs <= nowMs;) {
      const next = head.next;
      this.#leaveQueue(head);
      this.#emitRejected('queue-timeout');
      head.reject(
        new BulkheadFullError(
          this.#errorSource,
          `no permit came free within queueTimeoutMs (${this.#queueTimeoutMs} ms) while queued`,
        ),
      );
      head = next;
    }
    // The head may be younger than the deadline this timer was armed for (the older one left).
    const head = this.#queue.first;
    if (head !== undefined) this.#armQueueTimer(head.deadlineMs);
  };

  /** Hands permits to waiters, oldest first, while the state grants them. */
  #drain(): void {
    while (!this.#isDraining) {
      const head = this.#queue.first;
      if (head === undefined) return;
      let offered: MaybePromise<Lease | undefined>;
      try {
        offered = this.#state.acquire(this.name);
      } catch (error) {
        this.#leaveQueue(head);
        head.reject(error);
        continue;
      }
      if (offered === undefined) return;
      if (!isPromiseLike(offered)) {
        this.#grant(head, offered);
        continue;
      }
      this.#drainAsync(offered);
      return;
    }
  }

  /** Waits for one asynchronous acquire on behalf of whoever heads the queue when it answers. */
  #drainAsync(offered: Promise<Lease | undefined>): void {
    this.#isDraining = true;
    const releaseCountBefore = this.#releaseCount;
    offered.then(
      (lease) => {
        this.#isDraining = false;
        if (lease === undefined) {
          // A permit that came back while this acquire was in flight found the drain busy.
          if (this.#releaseCount !== releaseCountBefore) this.#drain();
          return;
        }
        // The waiter the acquire was made for may have left; the next one takes the permit.
        const head = this.#queue.first;
        if (head === undefined) this.#returnToState(lease);
        else this.#grant(head, lease);
        this.#drain();
      },
      (error: unknown) => {
        this.#isDraining = false;
        const head = this.#queue.first;
        if (head !== undefined) {
          this.#leaveQueue(head);
          head.reject(error);
        }
        this.#drain();
      },
    );
  }

  #grant(waiter: Waiter, lease: Lease): void {
    this.#leaveQueue(waiter);
    this.#onGranted(waiter);
    waiter.resolve(lease);
  }

  #onGranted(waiter: Waiter | undefined): void {
    this.#inFlight++;
    if (!this.events.hasListeners) return;
    const enqueuedMs = waiter?.enqueuedMs;
    this.events.emit({
      type: 'bulkhead.acquired',
      policyKind: this.kind,
      policyName: this.name,
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      waitedMs: enqueuedMs === undefined ? 0 : this.#clock.now() - enqueuedMs,
    });
  }

  /** Gives a permit back; called exactly once per granted lease, on every way out of a call. */
  #release(lease: Lease): void {
    this.#inFlight--;
    if (this.events.hasListeners) {
      this.events.emit({
        type: 'bulkhead.released',
        policyKind: this.kind,
        policyName: this.name,
        inFlight: this.#inFlight,
        queued: this.#queue.size,
      });
    }
    this.#returnToState(lease);
  }

  #returnToState(lease: Lease): void {
    let returned: void | Promise<void>;
    try {
      returned = this.#state.release(lease);
    } catch {
      // A failed release must not change the call's outcome. A distributed lease lapses by itself
      // after its lease time; a memory release does not throw.
      returned = undefined;
    }
    if (isPromiseLike(returned)) returned.then(this.#afterRelease, this.#afterRelease);
    else this.#afterRelease();
  }

  readonly #afterRelease = (): void => {
    this.#releaseCount++;
    if (this.#queue.size !== 0) this.#drain();
  };

  #emitRejected(reason: 'bulkhead-full' | 'queue-timeout'): void {
    if (!this.events.hasListeners) return;
    this.events.emit({ type: 'call.rejected', policyKind: this.kind, policyName: this.name, reason });
  }

  #emitOutcome(startedMs: number | undefined, error: unknown, isSuccess = false): void {
    if (!this.events.hasListeners) return;
    const durationMs = startedMs === undefined ? 0 : this.#clock.now() - startedMs;
    this.events.emit(
      isSuccess
        ? { type: 'execution.succeeded', policyKind: this.kind, policyName: this.name, durationMs }
        : { type: 'execution.failed', policyKind: this.kind, policyName: this.name, durationMs, error },
    );
  }
}

/**
 * A bulkhead: lets at most `maxConcurrent` calls run at once. A call that finds every permit taken
 * waits in a FIFO queue of up to `maxQueue` callers for at most `queueTimeoutMs`, and is refused
 * with `BulkheadFullError` when the queue is full or its wait runs out. A caller that aborts leaves
 * the queue at once, rejecting with `signal.reason`. A permit is held while the work runs and is
 * given back exactly once however the work ends.
 *
 * @example
 * ```ts
 * import { bulkhead, isResilienceError } from '@hyx/local';
 * const db = bulkhead({ name: 'db', maxConcurrent: 2, maxQueue: 10, queueTimeoutMs: 1000 });
 * try {
 *   const rows = await db.execute(async ({ signal }) => (signal.aborted ? [] : ['row']));
 *   console.log(rows);
 * } catch (error) {
 *   if (isResilienceError(error, 'BULKHEAD_FULL')) console.log('busy, try later');
 * }
 * ```
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new LocalBulkhead(options);
}
