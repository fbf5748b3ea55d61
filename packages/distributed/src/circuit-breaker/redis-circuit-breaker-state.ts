import {
  BackendUnavailableError,
  DEFAULT_CIRCUIT_KEY,
  memoryCircuitBreakerState,
  type Admission,
  type AdmissionPurpose,
  type CallOutcome,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitBreakerState,
  type CircuitBreakerStateContext,
  type CircuitBreakerStateProvider,
  type CircuitInspection,
  type CircuitState,
  type CircuitWindowSnapshot,
  type Clock,
  type IsolationGrant,
  type Transition,
  type TransitionReason,
} from '@hyx/local';

import {
  BackendDisconnectedError,
  OutageTracker,
  isDisconnected,
  CommandTimeouts,
  type BackendTransition,
} from '../backend-guard.js';
import type { DuplicableRedis, RedisSubscriberLike } from '../bulkhead/redis-bulkhead-options.js';
import type { Lock, LockHandle } from '../lock/lock.js';
import { redisLock } from '../lock/redis-lock.js';
import { LUA_SCRIPTS } from '../lua.generated.js';
import { integerReply } from '../lua-reply.js';
import { LuaScript } from '../lua-script.js';
import { RedisKeyspace } from '../redis-keys.js';
import type { LuaArgument, RedisLike } from '../redis-like.js';
import type { BackendFailureMode } from '../rate-limiter/redis-rate-limiter-options.js';
import {
  REDIS_CIRCUIT_BREAKER_DEFAULTS,
  checkRedisCircuitBreakerOptions,
  type RecoveryLeader,
  type RedisCircuitBreakerStateOptions,
} from './redis-circuit-breaker-options.js';

/** Tells a script to read the server's clock (`TIME`). */
const SERVER_TIME = -1;
/** Values per transition in a reply. */
const TRANSITION_FIELDS = 6;
/** Keys whose last known state is remembered (for `circuit.observed`); the oldest is dropped beyond. */
const MAX_KNOWN_KEYS = 10_000;
/** Added to the idle TTL: a circuit outlives its longest meaningful period by this much. */
const TTL_MARGIN_MS = 60_000;

const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];
const REASONS: readonly TransitionReason[] = [
  'failure-rate',
  'failure-count',
  'slow-call-rate',
  'probe-failed',
  'probes-succeeded',
  'open-elapsed',
  'half-open-timeout',
  'isolate',
  'isolation-released',
  'reset',
  'restore',
];

function stateReply(value: unknown): CircuitState {
  const state = STATES.find((candidate) => candidate === value);
  if (state === undefined) throw new TypeError(`expected a circuit state, got ${String(value)}`);
  return state;
}

function reasonReply(value: unknown): TransitionReason {
  const reason = REASONS.find((candidate) => candidate === value);
  if (reason === undefined) throw new TypeError(`expected a transition reason, got ${String(value)}`);
  return reason;
}

/** The transitions at the end of a reply, from index `first` on. */
function transitionsReply(reply: readonly unknown[], first: number): readonly Transition[] {
  if ((reply.length - first) % TRANSITION_FIELDS !== 0) {
    throw new TypeError(`expected ${TRANSITION_FIELDS} values per transition`);
  }
  const transitions: Transition[] = [];
  for (let at = first; at < reply.length; at += TRANSITION_FIELDS) {
    const openUntilMs = integerReply(reply[at + 5]);
    transitions.push({
      from: stateReply(reply[at]),
      to: stateReply(reply[at + 1]),
      reason: reasonReply(reply[at + 2]),
      atMs: integerReply(reply[at + 3]),
      generation: integerReply(reply[at + 4]),
      openUntilMs: openUntilMs < 0 ? undefined : openUntilMs,
    });
  }
  return transitions;
}

function arrayOf(reply: unknown, minimum: number): readonly unknown[] {
  if (!Array.isArray(reply) || reply.length < minimum) {
    throw new TypeError(`expected an array of at least ${minimum} values`);
  }
  return reply as readonly unknown[];
}

function optionalMs(value: number): number | undefined {
  return value < 0 ? undefined : value;
}

interface AdmitReply {
  readonly admission: Admission;
}

const admitScript = new LuaScript<AdmitReply>({
  ...LUA_SCRIPTS['circuit-breaker/admit'],
  decode: (reply) => {
    const values = arrayOf(reply, 5);
    return {
      admission: {
        isAllowed: integerReply(values[0]) === 1,
        isProbe: integerReply(values[1]) === 1,
        generation: integerReply(values[2]),
        state: stateReply(values[3]),
        retryAfterMs: optionalMs(integerReply(values[4])),
        transitions: transitionsReply(values, 5),
      },
    };
  },
});

/** A reply that ends with the circuit's generation and state, then the transitions. */
interface StepReply {
  readonly generation: number;
  readonly state: CircuitState;
  readonly transitions: readonly Transition[];
}

function stepReply(reply: unknown): StepReply {
  const values = arrayOf(reply, 2);
  return {
    generation: integerReply(values[0]),
    state: stateReply(values[1]),
    transitions: transitionsReply(values, 2),
  };
}

const recordScript = new LuaScript<StepReply>({
  ...LUA_SCRIPTS['circuit-breaker/record'],
  decode: stepReply,
});

/** The control script's reply, decoded by the caller that knows the operation. */
const controlScript = new LuaScript<readonly unknown[]>({
  ...LUA_SCRIPTS['circuit-breaker/control'],
  decode: (reply) => arrayOf(reply, 2),
});

type ControlOperation = 'inspect' | 'isolate' | 'release-isolation' | 'reset' | 'snapshot' | 'restore';

/**
 * A transition another instance made, as a {@link RedisCircuitBreakerState} learns of it.
 *
 * @example
 * ```ts
 * import type { ObservedTransition } from '@hyx/distributed';
 * const log = (seen: ObservedTransition) => console.log(`${seen.key}: ${seen.from} -> ${seen.to}`);
 * ```
 */
export interface ObservedTransition {
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** The other instance's reason, or `'unknown'` when learned from a reply (several may have happened). */
  readonly reason: TransitionReason | 'unknown';
  readonly generation: number;
}

/**
 * Options of {@link redisCircuitBreakerState}: the Redis options, and who hears about outages and
 * transitions made elsewhere.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerStateFactoryOptions } from '@hyx/distributed';
 * const options: RedisCircuitBreakerStateFactoryOptions = { onObserved: (seen) => console.log(seen.to) };
 * ```
 */
export interface RedisCircuitBreakerStateFactoryOptions extends RedisCircuitBreakerStateOptions {
  /** Called once when an outage starts and once when it ends; a throw is ignored. */
  readonly onBackendTransition?: ((transition: BackendTransition) => void) | undefined;
  /** Called for each transition learned of that another instance made; a throw is ignored. */
  readonly onObserved?: ((transition: ObservedTransition) => void) | undefined;
}

/** An error that means "the call is wrong", not "Redis is down": never hidden by a fallback. */
function isCallerError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError;
}

const NO_TRANSITIONS: readonly Transition[] = Object.freeze([]);

function windowSnapshot(settings: CircuitBreakerSettings, values: readonly number[]): CircuitWindowSnapshot {
  const [calls = 0, failures = 0, slowCalls = 0, next = 0, headEpoch = 0] = values;
  const slots = values.slice(5);
  const window = settings.window;
  switch (window.kind) {
    case 'consecutive':
      return { kind: 'consecutive', calls, failures, slowCalls };
    case 'countWindow':
      return {
        kind: 'countWindow',
        outcomes: slots.map((code) => Math.min(3, Math.max(0, code)) as 0 | 1 | 2 | 3),
        next,
        calls,
        failures,
        slowCalls,
      };
    case 'timeWindow': {
      const buckets = window.buckets;
      return {
        kind: 'timeWindow',
        headEpoch,
        bucketCalls: slots.slice(0, buckets),
        bucketFailures: slots.slice(buckets, 2 * buckets),
        bucketSlowCalls: slots.slice(2 * buckets, 3 * buckets),
        calls,
        failures,
        slowCalls,
      };
    }
  }
}

/**
 * The Redis {@link CircuitBreakerState} of one breaker: each operation is one script call
 * (`scripts/lua/circuit-breaker/*.lua`) on the node that owns the circuit, with the algorithm of
 * `docs/algorithms.md` written in Lua, so the memory and Redis states decide identically; the
 * circuit (state, generation, window) is shared by every instance with the same name.
 *
 * Transitions are decided in the scripts and published on the breaker's channel
 * (`hyx:{<name>:}:circuit-breaker:transitions`); every reply carries the circuit's generation, so
 * an instance learns of a transition made elsewhere on its next call, or at once with
 * `subscribe: true`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { circuitBreaker } from '@hyx/local';
 * import { redisCircuitBreakerState } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const breaker = circuitBreaker({ name: 'payments', state: redisCircuitBreakerState(redis) });
 * ```
 */
export class RedisCircuitBreakerState implements CircuitBreakerState {
  readonly #client: RedisLike;
  readonly #settings: CircuitBreakerSettings;
  readonly #clock: Clock;
  readonly #keyspace: RedisKeyspace<'circuit' | 'window'>;
  /** The pub/sub channel of the whole breaker (every key). */
  readonly channel: string;
  /** Names this instance in the messages it causes, so it does not "observe" its own transitions. */
  readonly #instanceId = Math.random().toString(36).slice(2, 12);
  readonly #settingsArgs: readonly LuaArgument[];
  readonly #ttlMs: number;
  /** Every command's `commandTimeoutMs`, on one timer. */
  readonly #commandTimeouts: CommandTimeouts;
  readonly #onBackendFailure: BackendFailureMode;
  readonly #isServerTime: boolean;
  readonly #local: CircuitBreakerState | undefined;
  readonly #outage: OutageTracker;
  readonly #onObserved: ((transition: ObservedTransition) => void) | undefined;
  /** Admissions that did not come from Redis: their outcome never goes there. */
  readonly #fallbackAdmissions = new WeakSet<Admission>();
  /** The newest generation and state seen per key. */
  readonly #known = new Map<string, { generation: number; state: CircuitState }>();
  /** Coordinated recovery: the lease length, when on. */
  readonly #recoveryLeaseMs: number | undefined;
  /** Coordinated recovery by the caller's election, when given. */
  readonly #recoveryLeader: RecoveryLeader | undefined;
  readonly #recoveryLocks = new Map<string, Lock>();
  readonly #recoveryHandles = new Map<string, LockHandle>();
  #subscriber: RedisSubscriberLike | undefined;
  #ownsSubscriber = false;
  #isProbing = false;

  constructor(
    client: RedisLike,
    settings: CircuitBreakerSettings,
    context: CircuitBreakerStateContext,
    options: RedisCircuitBreakerStateFactoryOptions = {},
  ) {
    checkRedisCircuitBreakerOptions(settings.name, options);
    this.#client = client;
    this.#settings = settings;
    this.#clock = context.clock;
    this.#keyspace = new RedisKeyspace({
      pattern: 'circuit-breaker',
      name: settings.name,
      parts: ['circuit', 'window'],
    });
    this.channel = new RedisKeyspace({
      pattern: 'circuit-breaker',
      name: settings.name,
      parts: ['transitions'],
    }).keyFor(DEFAULT_CIRCUIT_KEY, 'transitions');
    const window = settings.window;
    const windowMs = window.kind === 'timeWindow' ? window.durationMs : 0;
    this.#settingsArgs = [
      window.kind,
      window.kind === 'countWindow' ? window.size : window.kind === 'timeWindow' ? window.buckets : 0,
      window.kind === 'timeWindow' ? window.durationMs / window.buckets : 1,
      settings.failureRate ?? '',
      settings.failureCount ?? '',
      settings.slowCallRate ?? '',
      settings.slowCallDurationMs,
      settings.minimumCalls,
      settings.permittedHalfOpenCalls,
      settings.maxHalfOpenWaitMs,
      settings.usesHealthCheck ? 1 : 0,
      settings.isMetricsOnly ? 1 : 0,
      ...settings.openDurationsMs,
    ];
    this.#ttlMs =
      Math.max(
        options.idleTtlMs ?? REDIS_CIRCUIT_BREAKER_DEFAULTS.idleTtlMs,
        windowMs,
        settings.maxHalfOpenWaitMs,
      ) + TTL_MARGIN_MS;
    this.#commandTimeouts = new CommandTimeouts(
      this.#clock,
      options.commandTimeoutMs ?? REDIS_CIRCUIT_BREAKER_DEFAULTS.commandTimeoutMs,
    );
    this.#onBackendFailure = options.onBackendFailure ?? REDIS_CIRCUIT_BREAKER_DEFAULTS.onBackendFailure;
    this.#isServerTime = (options.time ?? REDIS_CIRCUIT_BREAKER_DEFAULTS.time) === 'server';
    this.#outage = new OutageTracker(this.#clock, this.#onBackendFailure, options.onBackendTransition);
    this.#onObserved = options.onObserved;
    this.#recoveryLeaseMs = settings.usesHealthCheck ? options.recoveryLeaseMs : undefined;
    this.#recoveryLeader = settings.usesHealthCheck ? options.recoveryLeader : undefined;
    if (this.#onBackendFailure === 'local') {
      this.#local = memoryCircuitBreakerState()(settings, context);
    }
    if (options.subscribe ?? REDIS_CIRCUIT_BREAKER_DEFAULTS.subscribe) this.#subscribe(options.subscriber);
  }

  /** Whether the state currently treats Redis as down. */
  get isBackendDown(): boolean {
    return this.#outage.isDown;
  }

  /** The newest state this instance has seen of a circuit (replies and messages), if any. */
  knownState(key: string = DEFAULT_CIRCUIT_KEY): CircuitState | undefined {
    return this.#known.get(key)?.state;
  }

  async admit(key: string, nowMs?: number, purpose: AdmissionPurpose = 'call'): Promise<Admission> {
    if (purpose === 'health-check') {
      const refusal = await this.#unlessRecoveryLeader(key, nowMs);
      if (refusal !== undefined) return refusal;
    }
    let reply: AdmitReply;
    try {
      reply = await this.#run(admitScript, key, nowMs, [purpose]);
    } catch (error) {
      return this.#admitWithoutRedis(key, nowMs, purpose, error);
    }
    const { admission } = reply;
    this.#learn(key, admission.generation, admission.state, admission.transitions);
    return admission;
  }

  async record(
    key: string,
    outcome: CallOutcome,
    admission: Admission,
    nowMs?: number,
  ): Promise<readonly Transition[]> {
    if (this.#fallbackAdmissions.has(admission)) {
      return this.#local === undefined ? NO_TRANSITIONS : this.#local.record(key, outcome, admission, nowMs);
    }
    let reply: StepReply;
    try {
      reply = await this.#run(recordScript, key, nowMs, [
        outcome.kind,
        outcome.kind === 'ignored' ? 0 : outcome.durationMs,
        admission.isAllowed ? 1 : 0,
        admission.isProbe ? 1 : 0,
        admission.generation,
      ]);
    } catch (error) {
      if (isCallerError(error)) throw error;
      // An outcome that cannot reach Redis is lost rather than failing a call that ran: a probe's
      // slot comes back at the half-open deadline.
      this.#outage.failed(error);
      return NO_TRANSITIONS;
    }
    this.#learn(key, reply.generation, reply.state, reply.transitions);
    return reply.transitions;
  }

  async inspect(key: string, nowMs?: number): Promise<CircuitInspection> {
    const values = await this.#control(key, nowMs, 'inspect', undefined);
    if (values === undefined) return (this.#local as CircuitBreakerState).inspect(key, nowMs);
    const [state, generation, calls, failures, slowCalls, opens, retryAfter] = [
      stateReply(values[0]),
      ...values.slice(1, 7).map(integerReply),
    ] as [CircuitState, number, number, number, number, number, number];
    const transitions = transitionsReply(values, 7);
    this.#learn(key, generation, state, transitions);
    return {
      state,
      calls,
      failures,
      slowCalls,
      failureRate: calls === 0 ? 0 : failures / calls,
      slowCallRate: calls === 0 ? 0 : slowCalls / calls,
      retryAfterMs: optionalMs(retryAfter),
      consecutiveOpens: opens,
      transitions,
    };
  }

  async isolate(key: string, nowMs?: number): Promise<IsolationGrant> {
    const values = await this.#control(key, nowMs, 'isolate', undefined);
    if (values === undefined) return (this.#local as CircuitBreakerState).isolate(key, nowMs);
    const step = this.#step(key, values);
    return { generation: step.generation, transitions: step.transitions };
  }

  async releaseIsolation(key: string, generation: number, nowMs?: number): Promise<readonly Transition[]> {
    const values = await this.#control(key, nowMs, 'release-isolation', generation);
    if (values === undefined)
      return (this.#local as CircuitBreakerState).releaseIsolation(key, generation, nowMs);
    return this.#step(key, values).transitions;
  }

  async reset(key: string, nowMs?: number): Promise<readonly Transition[]> {
    const values = await this.#control(key, nowMs, 'reset', undefined);
    if (values === undefined) return (this.#local as CircuitBreakerState).reset(key, nowMs);
    return this.#step(key, values).transitions;
  }

  async snapshot(key: string, nowMs?: number): Promise<CircuitBreakerSnapshot> {
    const values = await this.#control(key, nowMs, 'snapshot', undefined);
    if (values === undefined) return (this.#local as CircuitBreakerState).snapshot(key, nowMs);
    const numbers = values.slice(1).map(integerReply);
    const [generation = 0, sinceMs = 0, openUntilMs = 0, consecutiveOpens = 0, isolations = 0] = numbers;
    return {
      version: 1,
      state: stateReply(values[0]),
      generation,
      sinceMs,
      openUntilMs,
      consecutiveOpens,
      isolations,
      window: windowSnapshot(this.#settings, numbers.slice(5)),
    };
  }

  async restore(
    key: string,
    snapshot: CircuitBreakerSnapshot,
    nowMs?: number,
  ): Promise<readonly Transition[]> {
    const values = await this.#control(key, nowMs, 'restore', undefined, JSON.stringify(snapshot));
    if (values === undefined) return (this.#local as CircuitBreakerState).restore(key, snapshot, nowMs);
    return this.#step(key, values).transitions;
  }

  /** Stops listening to the breaker's channel (and closes the connection hyx opened for it), gives up recovery leases. */
  async close(): Promise<void> {
    const handles = [...this.#recoveryHandles.values()];
    this.#recoveryHandles.clear();
    await Promise.all(handles.map((handle) => handle.release().catch(() => false)));
    const subscriber = this.#subscriber;
    if (subscriber === undefined) return;
    this.#subscriber = undefined;
    if (this.#ownsSubscriber) subscriber.disconnect();
    else await subscriber.unsubscribe(this.channel).catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Coordinated recovery: `undefined` when this process may run the health check (no coordination,
   * or it leads the caller's election, or it holds or has just taken the circuit's recovery lease);
   * otherwise a refusal that brings the health check back once a dead leader can have been replaced.
   */
  async #unlessRecoveryLeader(key: string, nowMs: number | undefined): Promise<Admission | undefined> {
    const leader = this.#recoveryLeader;
    if (leader !== undefined) {
      if (leader.isLeader) return undefined;
      return this.#refuseHealthCheck(key, nowMs, Math.max(1, Math.ceil(leader.leaseMs / 3)));
    }
    const leaseMs = this.#recoveryLeaseMs;
    if (leaseMs === undefined) return undefined;
    const held = this.#recoveryHandles.get(key);
    if (held?.isHeld === true) return undefined;
    let lock = this.#recoveryLocks.get(key);
    if (lock === undefined) {
      lock = redisLock(this.#client, {
        name: `${this.#settings.name}:recovery:${key}`,
        leaseMs,
        clock: this.#clock,
      });
      this.#recoveryLocks.set(key, lock);
    }
    const handle = await lock.tryAcquire().catch(() => undefined);
    if (handle !== undefined) {
      this.#recoveryHandles.set(key, handle);
      return undefined;
    }
    return this.#refuseHealthCheck(key, nowMs, leaseMs);
  }

  /** A health check this process may not run now: it asks again after `retryAfterMs`. */
  async #refuseHealthCheck(key: string, nowMs: number | undefined, retryAfterMs: number): Promise<Admission> {
    const inspection = await this.inspect(key, nowMs);
    return {
      isAllowed: false,
      isProbe: false,
      generation: this.#known.get(key)?.generation ?? 0,
      state: inspection.state,
      retryAfterMs,
      transitions: inspection.transitions,
    };
  }

  /** The recovery lease of a circuit that closed is given back: the next open elects afresh. */
  #releaseRecovery(key: string): void {
    const handle = this.#recoveryHandles.get(key);
    if (handle === undefined) return;
    this.#recoveryHandles.delete(key);
    handle.release().catch(() => undefined);
  }

  #step(key: string, values: readonly unknown[]): StepReply {
    const step = stepReply(values);
    this.#learn(key, step.generation, step.state, step.transitions);
    return step;
  }

  /** Runs the control script; `undefined` means "ask the local twin" (Redis down, mode `'local'`). */
  async #control(
    key: string,
    nowMs: number | undefined,
    operation: ControlOperation,
    generation: number | undefined,
    snapshotJson = '',
  ): Promise<readonly unknown[] | undefined> {
    try {
      return await this.#run(controlScript, key, nowMs, [operation, generation ?? 0, snapshotJson]);
    } catch (error) {
      if (isCallerError(error)) throw error;
      this.#outage.failed(error);
      if (this.#local !== undefined) return undefined;
      throw this.#unavailable(error);
    }
  }

  async #run<TReply>(
    script: LuaScript<TReply>,
    key: string,
    nowMs: number | undefined,
    operationArgs: readonly LuaArgument[],
  ): Promise<TReply> {
    if (this.#outage.isDown && this.#isProbing) throw new BackendDisconnectedError();
    // The breaker does not track a first answer: only a reconnecting or closed client is refused.
    if (isDisconnected(this.#client, false)) throw new BackendDisconnectedError();
    const args: LuaArgument[] = [
      this.#nowArg(nowMs),
      this.#ttlMs,
      this.channel,
      `${this.#instanceId}|${key}`,
      ...operationArgs,
      ...this.#settingsArgs,
    ];
    const isProbe = this.#outage.isDown;
    if (isProbe) this.#isProbing = true;
    const call = script.run(this.#client, this.#keyspace.keysFor(key), args);
    if (isProbe) {
      // During an outage one command at a time goes to Redis: the flag falls when it settles.
      call.then(
        () => (this.#isProbing = false),
        () => (this.#isProbing = false),
      );
    }
    const reply = await this.#commandTimeouts.within(call);
    this.#outage.succeeded();
    return reply;
  }

  #admitWithoutRedis(
    key: string,
    nowMs: number | undefined,
    purpose: AdmissionPurpose,
    error: unknown,
  ): Admission | Promise<Admission> {
    if (isCallerError(error)) throw error as Error;
    this.#outage.failed(error);
    switch (this.#onBackendFailure) {
      case 'reject':
        throw this.#unavailable(error);
      case 'allow': {
        const admission: Admission = {
          isAllowed: purpose === 'call',
          isProbe: false,
          generation: -1,
          state: 'closed',
          retryAfterMs: undefined,
          transitions: NO_TRANSITIONS,
        };
        this.#fallbackAdmissions.add(admission);
        return admission;
      }
      case 'local':
        return Promise.resolve((this.#local as CircuitBreakerState).admit(key, nowMs, purpose)).then(
          (admission) => {
            this.#fallbackAdmissions.add(admission);
            return admission;
          },
        );
    }
  }

  #nowArg(nowMs: number | undefined): number {
    if (nowMs !== undefined) return nowMs;
    return this.#isServerTime ? SERVER_TIME : Math.floor(this.#clock.now());
  }

  /**
   * Takes in what a reply says of a circuit. A generation beyond the newest this instance knew,
   * not explained by the reply's own transitions, means another instance changed the circuit.
   */
  #learn(key: string, generation: number, state: CircuitState, transitions: readonly Transition[]): void {
    const known = this.#known.get(key);
    const first = transitions[0];
    const baseGeneration = first === undefined ? generation : first.generation - 1;
    const baseState = first === undefined ? state : first.from;
    if (known !== undefined && baseGeneration > known.generation && baseState !== known.state) {
      this.#observed({
        key,
        from: known.state,
        to: baseState,
        reason: 'unknown',
        generation: baseGeneration,
      });
    }
    if (known === undefined || generation >= known.generation) this.#remember(key, generation, state);
    if (state === 'closed' && this.#recoveryHandles.size > 0) this.#releaseRecovery(key);
  }

  #remember(key: string, generation: number, state: CircuitState): void {
    const known = this.#known.get(key);
    if (known !== undefined) {
      known.generation = generation;
      known.state = state;
      return;
    }
    if (this.#known.size >= MAX_KNOWN_KEYS) {
      const oldest = this.#known.keys().next();
      if (oldest.done !== true) this.#known.delete(oldest.value);
    }
    this.#known.set(key, { generation, state });
  }

  #observed(transition: ObservedTransition): void {
    try {
      this.#onObserved?.(transition);
    } catch {
      // A listener never changes a decision.
    }
  }

  #subscribe(given: RedisSubscriberLike | undefined): void {
    const duplicable = this.#client as Partial<DuplicableRedis>;
    const subscriber =
      given ?? (typeof duplicable.duplicate === 'function' ? duplicable.duplicate() : undefined);
    if (subscriber === undefined) {
      throw new TypeError(
        `redisCircuitBreaker "${this.#settings.name}": subscribe needs a client with duplicate() or a subscriber`,
      );
    }
    this.#subscriber = subscriber;
    this.#ownsSubscriber = given === undefined;
    subscriber.on('message', this.#onMessage);
    // A failed SUBSCRIBE leaves the replies of later calls as the way to learn of transitions.
    subscriber.subscribe(this.channel).catch(() => undefined);
  }

  /** "<generation>|<from>|<to>|<reason>|<atMs>|<openUntilMs>|<instance id>|<key>" (the key may hold '|'). */
  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const parts = message.split('|');
    if (parts.length < 8 || parts[6] === this.#instanceId) return;
    const key = parts.slice(7).join('|');
    const generation = Number(parts[0]);
    const from = STATES.find((candidate) => candidate === parts[1]);
    const to = STATES.find((candidate) => candidate === parts[2]);
    const reason = REASONS.find((candidate) => candidate === parts[3]);
    if (!Number.isSafeInteger(generation) || from === undefined || to === undefined || reason === undefined)
      return;
    const known = this.#known.get(key);
    if (known !== undefined && generation <= known.generation) return;
    this.#remember(key, generation, to);
    this.#observed({ key, from, to, reason, generation });
  };

  #unavailable(cause: unknown): BackendUnavailableError {
    return new BackendUnavailableError(
      { policyKind: 'circuit-breaker', policyName: this.#settings.name },
      cause,
    );
  }
}

/**
 * The `state` option of `circuitBreaker` that keeps the breaker's circuits in Redis, shared by
 * every instance with the same name. Most users want {@link redisCircuitBreaker}, which also
 * reports outages and transitions made elsewhere as events.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { circuitBreaker } from '@hyx/local';
 * import { redisCircuitBreakerState } from '@hyx/distributed';
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const breaker = circuitBreaker({ name: 'payments', state: redisCircuitBreakerState(redis, { commandTimeoutMs: 50 }) });
 * ```
 */
export function redisCircuitBreakerState(
  client: RedisLike,
  options: RedisCircuitBreakerStateFactoryOptions = {},
): CircuitBreakerStateProvider {
  return (settings, context) => new RedisCircuitBreakerState(client, settings, context, options);
}
