/**
 * The recovery-leader election of the in-process mode, where every gateway instance lives in one
 * process: the same contract as `leaderElection` from `@hyx/distributed` (one leader at a time, a
 * fencing token greater than every earlier term's, a dead leader replaced once its term lapses),
 * kept in memory. A leader that is killed holds its term until `leaseMs` after its death, as a
 * crashed process holds its Redis lease; one that steps down hands over at once.
 */
import type { LeaderElection, LeadershipContext } from '@hyx/distributed';
import { systemClock, type Clock, type ResilienceEvent } from '@hyx/local';

/** The shared state of one in-memory election: who leads, and the last token handed out. */
export class InProcessElectionGroup {
  readonly name: string;
  readonly leaseMs: number;
  readonly #clock: Clock;
  #leader: InProcessCandidate | undefined;
  #lastToken = 0n;
  #waiters: (() => void)[] = [];

  constructor(name: string, leaseMs: number, clock: Clock = systemClock) {
    this.name = name;
    this.leaseMs = leaseMs;
    this.#clock = clock;
  }

  /** A new candidate of this election. */
  candidate(): LeaderElection {
    return new InProcessCandidate(this);
  }

  /** @internal */
  leads(candidate: InProcessCandidate): boolean {
    return this.#leader === candidate;
  }

  /** @internal Takes the leadership if free; the new term's token, or `undefined`. */
  tryTake(candidate: InProcessCandidate): bigint | undefined {
    if (this.#leader !== undefined) return undefined;
    this.#leader = candidate;
    this.#lastToken += 1n;
    return this.#lastToken;
  }

  /** @internal Gives the leadership back, at once or, for a dead leader, after its lease. */
  giveBack(candidate: InProcessCandidate, afterMs: number): void {
    const free = (): void => {
      if (this.#leader !== candidate) return;
      this.#leader = undefined;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    };
    if (afterMs <= 0) free();
    else {
      // A dead leader's lapse must not keep the process alive by itself.
      const timer = this.#clock.setTimeout(free, afterMs);
      this.#clock.keepAlive?.(timer, false);
    }
  }

  /** @internal Resolves when the leadership may be free. */
  whenFree(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

class InProcessCandidate implements LeaderElection {
  readonly #group: InProcessElectionGroup;
  #listeners: readonly ((event: ResilienceEvent) => void)[] = [];
  #token: bigint | undefined;

  constructor(group: InProcessElectionGroup) {
    this.#group = group;
  }

  get name(): string {
    return this.#group.name;
  }

  get leaseMs(): number {
    return this.#group.leaseMs;
  }

  get isLeader(): boolean {
    return this.#token !== undefined && this.#group.leads(this);
  }

  get fencingToken(): bigint | undefined {
    return this.isLeader ? this.#token : undefined;
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  /**
   * Waits to lead, then runs `work` for the term. The caller's `signal` aborting is this
   * candidate's death: its term lapses only `leaseMs` later, as a crashed process's lease would.
   */
  async runWhileLeader<T>(
    work: (context: LeadershipContext) => T | PromiseLike<T>,
    options: { readonly signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const { signal } = options;
    for (;;) {
      signal?.throwIfAborted();
      const token = this.#group.tryTake(this);
      if (token === undefined) {
        // One listener per wait, removed after it: a long campaign must not pile them up.
        let onAbort: (() => void) | undefined;
        await Promise.race([
          this.#group.whenFree(),
          new Promise<void>((resolve) => {
            onAbort = resolve;
            signal?.addEventListener('abort', onAbort, { once: true });
          }),
        ]);
        if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
        continue;
      }
      this.#token = token;
      this.#emit('leader.elected', token);
      const term = new AbortController();
      const onDeath = (): void => {
        term.abort(signal?.reason);
      };
      signal?.addEventListener('abort', onDeath, { once: true });
      try {
        return await work({ signal: term.signal, fencingToken: token });
      } finally {
        signal?.removeEventListener('abort', onDeath);
        this.#token = undefined;
        const died = signal?.aborted === true;
        this.#emit('leader.lost', token);
        this.#group.giveBack(this, died ? this.#group.leaseMs : 0);
      }
    }
  }

  #emit(type: 'leader.elected' | 'leader.lost', token: bigint): void {
    const base = {
      policyKind: 'leader-election',
      policyName: this.#group.name,
      fencingToken: String(token),
    } as const;
    const event: ResilienceEvent =
      type === 'leader.elected'
        ? { ...base, type }
        : { ...base, type, reason: 'released', endedAtMs: Date.now() };
    for (const listener of this.#listeners) listener(event);
  }
}
