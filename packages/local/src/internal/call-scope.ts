import type { Clock } from '../clock/clock.js';
import type { ExecuteOptions, ExecutionContext } from '../policy/policy.js';

/**
 * The signal handed to work that nothing can cancel: one for the whole process, since creating a
 * signal costs microseconds. It never aborts, so an abort listener on it could never run; yet work
 * that adds one per call and never removes it (a common pattern) would pile up listeners on this
 * shared object forever: a leak, and Node's MaxListenersExceededWarning after ten. So it drops
 * abort listeners (and `onabort`) instead of keeping them: observably the same, since they would
 * never fire. Other event types behave as on any signal.
 */
const NEVER_ABORTED_SIGNAL: AbortSignal = createNeverAbortedSignal();

function createNeverAbortedSignal(): AbortSignal {
  const signal = new AbortController().signal;
  const addEventListener = signal.addEventListener.bind(signal);
  Object.defineProperties(signal, {
    addEventListener: {
      value: (...args: Parameters<AbortSignal['addEventListener']>): void => {
        if (args[0] !== 'abort') addEventListener(...args);
      },
    },
    onabort: { get: () => null, set: () => {} },
  });
  return signal;
}

/**
 * Where a call's cancellation comes from: a caller's `AbortSignal` or an enclosing {@link CallScope}.
 * Policies read `aborted`/`reason` and `subscribe` without ever materialising an `AbortSignal`,
 * because creating one costs microseconds (measured: ~5 µs for `new AbortController().signal` on
 * Node 20) and most work never reads it.
 *
 * @internal
 */
export interface AbortSource {
  /**
   * False when nothing can ever abort this source (a pipeline with no caller signal and no
   * timeout above): policies then skip racing and subscribing altogether.
   */
  readonly canAbort: boolean;
  readonly aborted: boolean;
  readonly reason: unknown;
  /** The signal form, created on first read. */
  readonly signal: AbortSignal;
  /** Calls `onAbort` once when the source aborts; returns an unsubscribe function. */
  subscribe(onAbort: () => void): () => void;
}

/** A caller's own `AbortSignal` seen as an {@link AbortSource}. */
class SignalSource implements AbortSource {
  readonly canAbort = true;

  constructor(readonly signal: AbortSignal) {}

  get aborted(): boolean {
    return this.signal.aborted;
  }

  get reason(): unknown {
    return this.signal.reason as unknown;
  }

  subscribe(onAbort: () => void): () => void {
    this.signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      this.signal.removeEventListener('abort', onAbort);
    };
  }
}

/** Carries an enclosing scope from one hyx policy to the next inside a pipeline. */
const PARENT_SCOPE = Symbol('hyx.parentScope');

interface ScopedExecuteOptions extends ExecuteOptions {
  readonly [PARENT_SCOPE]?: CallScope;
}

/**
 * The cancellation a call arrives with: the enclosing scope when a hyx pipeline passes one, the
 * caller's signal otherwise, or `undefined` when nothing can cancel the call.
 *
 * @internal
 */
export function abortSourceOf(options: ExecuteOptions | undefined): AbortSource | undefined {
  if (options === undefined) return undefined;
  const scope = (options as ScopedExecuteOptions)[PARENT_SCOPE];
  if (scope !== undefined) return scope;
  return options.signal === undefined ? undefined : new SignalSource(options.signal);
}

/**
 * When a policy starts: its caller's start time when a pipeline runs it as the next layer of a
 * policy on the same clock that read the clock just before, synchronously (see
 * {@link CallScope.stamp}); otherwise a fresh reading. A listened 4-policy pipeline read the clock
 * 8 times per call, about 45 ns each; the layers' starts now share one reading, which is exact:
 * no other code runs in between.
 *
 * @internal
 */
export function startTimeOf(options: ExecuteOptions | undefined, clock: Clock): number {
  const parent = (options as ScopedExecuteOptions | undefined)?.[PARENT_SCOPE];
  return parent?.stampedStartOf(clock) ?? clock.now();
}

/**
 * Options for a nested policy call that hand down `context` without materialising its signal.
 *
 * @internal
 */
export function nestedExecuteOptions(context: ExecutionContext, key: string | undefined): ExecuteOptions {
  if (context instanceof CallScope) {
    const options: ScopedExecuteOptions =
      key === undefined ? { [PARENT_SCOPE]: context } : { [PARENT_SCOPE]: context, key };
    return options;
  }
  return key === undefined ? { signal: context.signal } : { signal: context.signal, key };
}

/**
 * The {@link ExecutionContext} of one call, and a node in a cancellation tree: it is aborted when
 * its parent aborts or when its own `abort` is called (a timeout elapsed, a hedge won). Its
 * `AbortSignal` is created only when the work reads `signal`.
 *
 * @internal
 */
export class CallScope implements ExecutionContext, AbortSource {
  readonly attempt: number;
  readonly canAbort: boolean;
  readonly #parent: AbortSource | undefined;
  readonly #isAbortable: boolean;
  #isSelfAborted = false;
  #selfReason: unknown;
  #controller: AbortController | undefined;
  #subscribers: (() => void)[] | undefined;
  #unsubscribeParent: (() => void) | undefined;
  /** While the policy that made this scope calls its work synchronously: the clock it read. */
  #stampClock: Clock | undefined;
  #stampMs = 0;

  private constructor(parent: AbortSource | undefined, attempt: number, isAbortable: boolean) {
    this.#parent = parent;
    this.attempt = attempt;
    this.#isAbortable = isAbortable;
    this.canAbort = isAbortable || (parent?.canAbort ?? false);
  }

  /** A scope that can be aborted on its own (by a timeout, a hedge) as well as by its parent. */
  static abortable(parent: AbortSource | undefined, attempt: number): CallScope {
    return new CallScope(parent, attempt, true);
  }

  /**
   * The context of a first attempt made without a signal or an enclosing pipeline: a forwarding
   * scope with no parent holds no state (it cannot abort, and its subscribers are never kept), so
   * every such call shares this one rather than allocating its own. Frozen, so that work cannot
   * leave marks on it (private fields are not properties: freezing leaves them writable).
   */
  static readonly #root: CallScope = Object.freeze(new CallScope(undefined, 1, false)) as CallScope;

  /**
   * A scope that only follows its parent: its signal is the parent's, no new controller. Without
   * a parent, the first attempt gets the shared root scope (no allocation on the hot path).
   */
  static forwarding(parent: AbortSource | undefined, attempt: number): CallScope {
    if (parent === undefined && attempt === 1) return CallScope.#root;
    return new CallScope(parent, attempt, false);
  }

  /**
   * Marks `startedMs` (read on `clock`) as the start of the call being made with this scope, until
   * {@link CallScope.unstamp}. A policy stamps its scope only around calling its work
   * synchronously right after reading the clock, so a pipeline's next layer, which starts inside
   * that call, can take the same reading ({@link startTimeOf}). Private fields: the shared root
   * scope is frozen, and its stamps nest (every stamp is undone before its caller continues).
   */
  stamp(clock: Clock, startedMs: number): void {
    this.#stampClock = clock;
    this.#stampMs = startedMs;
  }

  unstamp(): void {
    this.#stampClock = undefined;
  }

  /** The stamped start time, when one is set for `clock`. */
  stampedStartOf(clock: Clock): number | undefined {
    return this.#stampClock === clock ? this.#stampMs : undefined;
  }

  get aborted(): boolean {
    return this.#isSelfAborted || (this.#parent?.aborted ?? false);
  }

  get reason(): unknown {
    return this.#isSelfAborted ? this.#selfReason : this.#parent?.reason;
  }

  /** True when this scope was aborted by its own `abort` rather than by its parent. */
  get isSelfAborted(): boolean {
    return this.#isSelfAborted;
  }

  get signal(): AbortSignal {
    if (!this.#isAbortable) return this.#parent?.signal ?? NEVER_ABORTED_SIGNAL;
    if (this.#controller !== undefined) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.aborted) controller.abort(this.reason);
    else {
      this.subscribe(() => {
        controller.abort(this.reason);
      });
    }
    return controller.signal;
  }

  subscribe(onAbort: () => void): () => void {
    if (!this.canAbort) return noop;
    if (this.aborted) {
      onAbort();
      return noop;
    }
    if (this.#subscribers === undefined) {
      this.#subscribers = [];
      this.#unsubscribeParent = this.#parent?.subscribe(() => {
        this.#notify();
      });
    }
    const subscribers = this.#subscribers;
    subscribers.push(onAbort);
    return () => {
      // Once notified, the array is being iterated: splicing it would skip the next subscriber (a
      // child scope detaches itself from its parent while the parent notifies).
      if (this.#subscribers !== subscribers) return;
      const index = subscribers.indexOf(onAbort);
      if (index >= 0) subscribers.splice(index, 1);
      // The last subscriber left: stop listening to the parent too. A forwarding scope is never
      // disposed by its policy, so without this a long-lived caller signal would keep one
      // listener per call (found by a newcomer: 20,000 calls, 20,000 listeners).
      if (subscribers.length === 0) {
        this.#subscribers = undefined;
        this.dispose();
      }
    };
  }

  /** Aborts this scope (and everything below it) with `reason`; later calls do nothing. */
  abort(reason: unknown): void {
    if (!this.#isAbortable) throw new Error('hyx internal error: abort() on a forwarding scope');
    if (this.aborted) return;
    this.#isSelfAborted = true;
    this.#selfReason = reason;
    this.#notify();
  }

  /** Detaches from the parent; call when the work this scope covers has settled. */
  dispose(): void {
    this.#unsubscribeParent?.();
    this.#unsubscribeParent = undefined;
  }

  #notify(): void {
    const subscribers = this.#subscribers;
    this.#subscribers = undefined;
    this.dispose();
    if (subscribers === undefined) return;
    for (const onAbort of subscribers) onAbort();
  }
}

function noop(): void {}

/**
 * The attempt number a nested policy reports to its work: the enclosing retry's attempt when the
 * call came through a hyx pipeline, otherwise 1.
 *
 * @internal
 */
export function inheritedAttempt(source: AbortSource | undefined): number {
  return source instanceof CallScope ? source.attempt : 1;
}

/**
 * True when `source` has aborted: the caller (or an enclosing policy) asked to stop. From then on,
 * whatever the work rejects with is the abort's doing (work stopped through its signal often
 * rejects with an `AbortError` of its own, or fails in some other way), so no policy may retry,
 * replace, count or re-label it: the call rejects with `source.reason` (see {@link rejectionOf}).
 *
 * @internal
 */
export function hasAborted(source: AbortSource | undefined): source is AbortSource {
  return source?.aborted === true;
}

/**
 * What a call rejects with when its work rejected with `error`: the abort reason once `source` has
 * aborted (as `fetch` does), `error` otherwise.
 *
 * @internal
 */
export function rejectionOf(source: AbortSource | undefined, error: unknown): unknown {
  return source?.aborted === true ? source.reason : error;
}
