import type { Clock, TimerHandle } from '../clock/clock.js';

const INITIAL_CAPACITY = 16;

/** A value as an error message shows it: strings quoted, so `"100"` does not read as the number. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isClock(value: unknown): value is Clock {
  const clock = value as Partial<Clock> | null | undefined;
  return (
    typeof clock?.now === 'function' &&
    typeof clock.setTimeout === 'function' &&
    typeof clock.clearTimeout === 'function'
  );
}

/**
 * The deadlines of one policy whose entries all expire the same `delayMs` after they enter, served
 * by ONE clock timer instead of a timer per entry (`setTimeout` + `clearTimeout` cost ~570 ns, more
 * than a whole timeout call may). Entries enter in time order with the same delay, so their
 * deadlines are in FIFO order: a ring buffer holds them, the timer is armed for the oldest live one,
 * and when it fires every expired entry is handed to `onExpired` and the timer is re-armed for the
 * next live one. An entry that leaves early is only marked (lazy removal); the head is popped as
 * soon as it is settled, so a steady stream of fast calls keeps the buffer at a few slots.
 *
 * Process lifetime: while any entry is in flight the timer keeps the process alive (so a deadline
 * fires even for a script with nothing else pending); when none is, the timer is released with
 * `clock.keepAlive(handle, false)`, or cleared if the clock has no `keepAlive` or the queue was
 * made with `keepsIdleTimer: false`. A released timer may
 * stay armed for up to `delayMs` and then fires on an empty queue without re-arming.
 *
 * Time: the clock's `now()` is a wall clock that NTP may step. Two readings decide expiry, and an
 * entry expires as soon as either says so:
 * - wall time made monotonic: only forward steps of `now()` advance it, so a backward step freezes
 *   it rather than moving deadlines away (it never makes an entry expire early);
 * - timer time: the sum of the delays of the timers that fired. A timer armed for `d` ms fires
 *   after at least `d` ms of real (monotonic) time whatever the wall clock does. An entry that
 *   entered while a timer armed for `d` was pending is at least `T` old once timer time passes that
 *   timer's due time plus `T`.
 *
 * Bound: a backward step of the wall clock makes a deadline late by at most the delay of the timer
 * pending when the entry entered, which is at most `delayMs` (and zero for an entry that armed the
 * timer itself). A forward step may end in-flight entries early, as with any wall-clock deadline.
 * Both readings only grow and every entry gets the same `delayMs`, so deadlines can never be out of
 * order; the scan still stops at the first unexpired live entry, which would bound any disorder by
 * that entry's own deadline.
 *
 * Exported for states outside this package that wait on a backend with one fixed timeout per call
 * (the Redis states of `@hyx/distributed` bound every command with it).
 *
 * @example
 * ```ts
 * import { DeadlineQueue, systemClock } from '@hyx/local';
 * const deadlines = new DeadlineQueue<string>(systemClock, 100, (name) => console.log(`${name} timed out`));
 * const ticket = deadlines.enter('GET user:42');
 * // ... the answer came in time:
 * deadlines.leave(ticket);
 * ```
 */
export class DeadlineQueue<TEntry> {
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #onExpired: (entry: TEntry) => void;
  readonly #keepsIdleTimer: boolean;
  readonly #onTimer = (): void => {
    this.#fire();
  };

  // Ring buffer of the entries from #headSeq (inclusive) to #tailSeq (exclusive), slot = seq % capacity.
  // Sequence numbers restart at 0 whenever nothing is in flight (no ticket is outstanding then), and
  // stay exact integers far beyond any process lifetime otherwise.
  #entries: (TEntry | undefined)[] = new Array<TEntry | undefined>(INITIAL_CAPACITY).fill(undefined);
  #wallDeadlines = new Float64Array(INITIAL_CAPACITY);
  #timerDeadlines = new Float64Array(INITIAL_CAPACITY);
  #capacity = INITIAL_CAPACITY;
  #headSeq = 0;
  #tailSeq = 0;
  /** Entries that entered and have not left, expired or not. */
  #inFlightCount = 0;

  #timer: TimerHandle | undefined;
  #isTimerKeepingAlive = false;
  /** Timer time when the pending timer fires. */
  #timerDueMs = 0;
  /** Timer time: the sum of the delays of the timers that fired. */
  #timerTimeMs = 0;
  /** Wall time made monotonic (only forward steps count). */
  #wallTimeMs = 0;
  #lastWallReadingMs: number;

  /**
   * @param clock - reads the time and runs the one timer
   * @param delayMs - how long every entry may stay, in ms (finite, >= 0)
   * @param onExpired - called with each entry that is still in when its time is up
   * @param options - `keepsIdleTimer: false` clears the timer whenever nothing is in flight
   *   (default `true`: released, and re-used by the next entry, which saves a `setTimeout` and a
   *   `clearTimeout` per call of a caller that waits for each call before the next)
   */
  constructor(
    clock: Clock,
    delayMs: number,
    onExpired: (entry: TEntry) => void,
    options?: { readonly keepsIdleTimer?: boolean | undefined },
  ) {
    if (!isClock(clock)) {
      throw new TypeError(
        `DeadlineQueue: clock must be a Clock (now, setTimeout, clearTimeout), got ${shown(clock)}`,
      );
    }
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`DeadlineQueue: delayMs must be a finite number >= 0, got ${shown(delayMs)}`);
    }
    if (typeof onExpired !== 'function') {
      throw new TypeError(`DeadlineQueue: onExpired must be a function, got ${shown(onExpired)}`);
    }
    const keepsIdleTimer = options?.keepsIdleTimer ?? true;
    if (typeof keepsIdleTimer !== 'boolean') {
      throw new TypeError(`DeadlineQueue: keepsIdleTimer must be a boolean, got ${shown(keepsIdleTimer)}`);
    }
    this.#keepsIdleTimer = keepsIdleTimer;
    this.#clock = clock;
    this.#delayMs = delayMs;
    this.#onExpired = onExpired;
    this.#lastWallReadingMs = clock.now();
  }

  /**
   * A queue whose entries are callbacks, each called when its time is up: what
   * {@link settleWithin} takes.
   */
  static ofCallbacks(
    clock: Clock,
    delayMs: number,
    options?: { readonly keepsIdleTimer?: boolean | undefined },
  ): DeadlineQueue<() => void> {
    return new DeadlineQueue<() => void>(
      clock,
      delayMs,
      (expire) => {
        expire();
      },
      options,
    );
  }

  /** How many entries are in flight (entered, not yet left). */
  get inFlightCount(): number {
    return this.#inFlightCount;
  }

  /**
   * Adds an entry due `delayMs` from now; returns the ticket to pass to {@link leave}. `nowMs` is a
   * reading of the clock the caller just took, so that it need not read the clock twice.
   */
  enter(entry: TEntry, nowMs: number = this.#clock.now()): number {
    const wallNowMs = this.#toWallTime(nowMs);
    if (this.#tailSeq - this.#headSeq === this.#capacity) this.#grow();
    const seq = this.#tailSeq++;
    const slot = seq % this.#capacity;
    this.#entries[slot] = entry;
    this.#wallDeadlines[slot] = wallNowMs + this.#delayMs;
    this.#inFlightCount++;
    if (this.#timer === undefined) {
      // This entry arms the timer, so it is exactly `delayMs` old when the timer fires.
      this.#timerDeadlines[slot] = this.#timerTimeMs + this.#delayMs;
      this.#arm(this.#delayMs);
    } else {
      // It entered somewhere before the pending timer's due time: count from that due time.
      this.#timerDeadlines[slot] = this.#timerDueMs + this.#delayMs;
      if (!this.#isTimerKeepingAlive) this.#keepAlive(true);
    }
    return seq;
  }

  /**
   * Removes the entry of `ticket`, expired or not. Call exactly once per {@link enter}; a ticket
   * this queue did not give, or a leave with nothing in flight, throws a `RangeError`.
   */
  leave(ticket: number): void {
    if (!Number.isSafeInteger(ticket) || ticket < 0 || ticket >= this.#tailSeq || this.#inFlightCount === 0) {
      throw new RangeError(`DeadlineQueue.leave: ticket ${shown(ticket)} is not in flight`);
    }
    if (ticket >= this.#headSeq) {
      this.#entries[ticket % this.#capacity] = undefined;
      if (ticket === this.#headSeq) this.#dropSettledHead();
    }
    if (--this.#inFlightCount !== 0) return;
    // Nothing in flight: every slot is empty and no ticket is outstanding.
    this.#headSeq = 0;
    this.#tailSeq = 0;
    if (this.#timer !== undefined) {
      if (!this.#keepsIdleTimer || this.#clock.keepAlive === undefined) {
        this.#clock.clearTimeout(this.#timer);
        this.#timer = undefined;
      } else {
        this.#keepAlive(false);
      }
    }
  }

  #dropSettledHead(): void {
    let headSeq = this.#headSeq;
    while (headSeq < this.#tailSeq && this.#entries[headSeq % this.#capacity] === undefined) headSeq++;
    this.#headSeq = headSeq;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerTimeMs = this.#timerDueMs;
    const wallNowMs = this.#readWallTime();
    const timerNowMs = this.#timerTimeMs;
    let expired: TEntry[] | undefined;
    let headSeq = this.#headSeq;
    for (; headSeq < this.#tailSeq; headSeq++) {
      const slot = headSeq % this.#capacity;
      const entry = this.#entries[slot];
      if (entry === undefined) continue;
      const wallLeftMs = (this.#wallDeadlines[slot] ?? 0) - wallNowMs;
      const timerLeftMs = (this.#timerDeadlines[slot] ?? 0) - timerNowMs;
      if (wallLeftMs > 0 && timerLeftMs > 0) {
        this.#arm(Math.min(wallLeftMs, timerLeftMs));
        break;
      }
      (expired ??= []).push(entry);
      this.#entries[slot] = undefined;
    }
    this.#headSeq = headSeq;
    // Re-armed before the callbacks run: an abort listener may start a new call synchronously.
    if (expired === undefined) return;
    // Every expired entry is told, even when a callback before it throws; the first error is then
    // thrown from the timer, as an uncaught error would be.
    let failure: { readonly error: unknown } | undefined;
    for (const entry of expired) {
      try {
        this.#onExpired(entry);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  #arm(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(this.#onTimer, delayMs);
    this.#timerDueMs = this.#timerTimeMs + delayMs;
    // New timers keep the process alive; one is armed only while some entry is in flight.
    this.#isTimerKeepingAlive = true;
  }

  #keepAlive(keepsProcessAlive: boolean): void {
    this.#isTimerKeepingAlive = keepsProcessAlive;
    if (this.#timer !== undefined) this.#clock.keepAlive?.(this.#timer, keepsProcessAlive);
  }

  #readWallTime(): number {
    return this.#toWallTime(this.#clock.now());
  }

  /** Wall time made monotonic, from a fresh reading of the clock. */
  #toWallTime(readingMs: number): number {
    const stepMs = readingMs - this.#lastWallReadingMs;
    this.#lastWallReadingMs = readingMs;
    if (stepMs > 0) this.#wallTimeMs += stepMs;
    return this.#wallTimeMs;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const entries = new Array<TEntry | undefined>(capacity).fill(undefined);
    const wallDeadlines = new Float64Array(capacity);
    const timerDeadlines = new Float64Array(capacity);
    for (let seq = this.#headSeq; seq < this.#tailSeq; seq++) {
      const from = seq % this.#capacity;
      const to = seq % capacity;
      entries[to] = this.#entries[from];
      wallDeadlines[to] = this.#wallDeadlines[from] ?? 0;
      timerDeadlines[to] = this.#timerDeadlines[from] ?? 0;
    }
    this.#entries = entries;
    this.#wallDeadlines = wallDeadlines;
    this.#timerDeadlines = timerDeadlines;
    this.#capacity = capacity;
  }
}

/**
 * Settles as `work` does, or, once `deadlines`' delay has passed first, with what `onExpired`
 * returns (or rejects with what it throws). It does not cancel `work`: a late result is ignored.
 *
 * @example
 * ```ts
 * import { DeadlineQueue, settleWithin, systemClock } from '@hyx/local';
 * const deadlines = DeadlineQueue.ofCallbacks(systemClock, 100);
 * const reply = await settleWithin(deadlines, fetch('http://127.0.0.1:8080/'), () => 'too slow' as const);
 * ```
 */
export function settleWithin<T, TExpired>(
  deadlines: DeadlineQueue<() => void>,
  work: Promise<T>,
  onExpired: () => TExpired,
): Promise<T | TExpired> {
  if (!(deadlines instanceof DeadlineQueue)) {
    return Promise.reject(
      new TypeError(`settleWithin: deadlines must be a DeadlineQueue, got ${shown(deadlines)}`),
    );
  }
  if (typeof (work as { then?: unknown } | null | undefined)?.then !== 'function') {
    return Promise.reject(new TypeError(`settleWithin: work must be a promise, got ${shown(work)}`));
  }
  if (typeof onExpired !== 'function') {
    return Promise.reject(
      new TypeError(`settleWithin: onExpired must be a function, got ${shown(onExpired)}`),
    );
  }
  return new Promise<T | TExpired>((resolve, reject) => {
    const ticket = deadlines.enter(() => {
      try {
        resolve(onExpired());
      } catch (error) {
        reject(error);
      }
    });
    work.then(
      (value) => {
        deadlines.leave(ticket);
        resolve(value);
      },
      (error: unknown) => {
        deadlines.leave(ticket);
        reject(error);
      },
    );
  });
}
