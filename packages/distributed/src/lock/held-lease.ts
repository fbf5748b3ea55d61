import type { TimerHandle } from '@hyx/local';
import type { LockHandle } from './lock.js';
import { LockLostError, type LockLossReason } from './lock-errors.js';
import type { LeaseSettings } from './redis-lock-options.js';

/**
 * What a {@link HeldLease} asks of the store that granted it.
 *
 * @internal
 */
export interface LeaseStore {
  /** Extends the lease by `leaseMs` from now: `true` when extended, `false` when lost. Rejects on a backend error. */
  renew(): Promise<boolean>;
  /** Deletes the lease if still owned: `true` when it did, `false` when not the owner. */
  release(): Promise<boolean>;
}

/**
 * A held lease: renews it every `renewMs` (from the send time of the last successful renewal) and
 * steps down by itself when no renewal succeeded before `validUntilMs`, the lease's conservative
 * expiry on the local clock. Its timers never keep the process alive and are all cleared once the
 * lease is released or lost.
 *
 * @internal
 */
export class HeldLease implements LockHandle {
  readonly fencingToken: bigint;
  readonly #settings: LeaseSettings;
  readonly #store: LeaseStore;
  readonly #onLost: ((reason: LockLossReason, cause: unknown, endedAtMs: number) => void) | undefined;
  readonly #controller = new AbortController();
  #state: 'held' | 'lost' | 'released' = 'held';
  #validUntilMs: number;
  #renewTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #lastRenewError: unknown;
  #released: Promise<boolean> | undefined;

  constructor(init: {
    readonly settings: LeaseSettings;
    readonly store: LeaseStore;
    readonly fencingToken: bigint;
    /** When the successful acquire was sent, on the local clock. */
    readonly sentAtMs: number;
    /** `endedAtMs`: when the lease stopped being valid by the clock (see `LeaderLostEvent.endedAtMs`). */
    readonly onLost?: ((reason: LockLossReason, cause: unknown, endedAtMs: number) => void) | undefined;
  }) {
    this.#settings = init.settings;
    this.#store = init.store;
    this.fencingToken = init.fencingToken;
    this.#onLost = init.onLost;
    this.#validUntilMs = init.sentAtMs + init.settings.leaseMs - init.settings.safetyMs;
    this.#armDeadline();
    this.#scheduleRenewal(init.sentAtMs + init.settings.renewMs - init.settings.clock.now());
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get validUntilMs(): number {
    return this.#validUntilMs;
  }

  get isHeld(): boolean {
    return this.#checkHeld();
  }

  /** Whether the lease is held now; steps down at once when its validity has passed. */
  #checkHeld(): boolean {
    if (this.#state !== 'held') return false;
    // Read the clock rather than trust the deadline timer: after a stall the timer runs late.
    if (this.#settings.clock.now() >= this.#validUntilMs) {
      this.#lose('renewal-deadline', this.#lastRenewError);
      return false;
    }
    return true;
  }

  release(): Promise<boolean> {
    if (this.#released !== undefined) return this.#released;
    if (this.#state === 'held') {
      this.#state = 'released';
      this.#clearTimers();
      this.#controller.abort(new LockLostError(this.#settings.name, 'released'));
    }
    // Always ask Redis: the script deletes the lease only if it is still ours, in one round-trip.
    this.#released = this.#store.release();
    return this.#released;
  }

  #setTimer(callback: () => void, delayMs: number): TimerHandle {
    const { clock } = this.#settings;
    const timer = clock.setTimeout(callback, Math.max(0, delayMs));
    // A lease left held when the app is done expires by itself: never keep the process alive for it.
    clock.keepAlive?.(timer, false);
    return timer;
  }

  #armDeadline(): void {
    const { clock } = this.#settings;
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = this.#setTimer(() => {
      this.#deadlineTimer = undefined;
      if (this.#state !== 'held') return;
      if (clock.now() >= this.#validUntilMs) this.#lose('renewal-deadline', this.#lastRenewError);
      else this.#armDeadline();
    }, this.#validUntilMs - clock.now());
  }

  #scheduleRenewal(delayMs: number): void {
    this.#renewTimer = this.#setTimer(() => {
      this.#renewTimer = undefined;
      void this.#renew();
    }, delayMs);
  }

  /** Read after an await: `release()` or the deadline may have ended the lease meanwhile. */
  #isActive(): boolean {
    return this.#state === 'held';
  }

  async #renew(): Promise<void> {
    if (!this.#checkHeld()) return;
    const { clock, leaseMs, safetyMs, renewMs } = this.#settings;
    const sentAtMs = clock.now();
    let isExtended: boolean;
    try {
      isExtended = await this.#store.renew();
    } catch (error) {
      this.#lastRenewError = error;
      if (!this.#isActive()) return;
      // Try again soon, but leave the deadline to the deadline timer.
      const remainingMs = this.#validUntilMs - clock.now();
      this.#scheduleRenewal(Math.min(renewMs, Math.max(1, Math.floor(remainingMs / 3))));
      return;
    }
    if (!this.#isActive()) return;
    if (!isExtended) {
      this.#lose('not-owner', undefined);
      return;
    }
    this.#lastRenewError = undefined;
    this.#validUntilMs = Math.max(this.#validUntilMs, sentAtMs + leaseMs - safetyMs);
    if (!this.#checkHeld()) return;
    this.#armDeadline();
    this.#scheduleRenewal(sentAtMs + renewMs - clock.now());
  }

  #clearTimers(): void {
    const { clock } = this.#settings;
    if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#renewTimer = undefined;
    this.#deadlineTimer = undefined;
  }

  #lose(reason: LockLossReason, cause: unknown): void {
    if (this.#state !== 'held') return;
    // After a stall the loss is seen late; the lease was no longer valid from its deadline on.
    const endedAtMs = Math.min(this.#settings.clock.now(), this.#validUntilMs);
    this.#state = 'lost';
    this.#clearTimers();
    this.#controller.abort(
      new LockLostError(this.#settings.name, reason, cause === undefined ? undefined : { cause }),
    );
    if (reason === 'renewal-deadline') {
      // If Redis still has our lease (this process stalled, Redis did not), free it for the next
      // holder now rather than after it expires. Deletes nothing that is not ours.
      this.#released = this.#store.release().catch(() => false);
    }
    this.#onLost?.(reason, cause, endedAtMs);
  }
}
