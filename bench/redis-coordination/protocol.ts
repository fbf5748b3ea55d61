/**
 * The messages between the orchestrator (`run.ts`) and its worker processes (`worker.ts`), over
 * the `fork` IPC channel. A worker runs one job at a time and answers each with one message.
 */

/** What a throughput job drives: one acquire+release, or one breaker-wrapped or bare Redis call. */
export type ThroughputCase =
  'peer-semaphore' | 'hyx-bulkhead' | 'hyx-bulkhead-reuse' | 'bare-get' | 'hyx-breaker';

/** Who holds permits in a crash-recovery trial. */
export type HolderCase = 'peer-semaphore' | 'hyx-bulkhead';

/**
 * Runs `inFlight` loops of one operation from the moment the job arrives (the warm-up, while every
 * worker connects and starts) until `endAtMs`, and counts the operations that ended in
 * [`startAtMs`, `endAtMs`]. Times are wall-clock ms (`Date.now()`), shared by every process.
 */
export interface ThroughputJob {
  readonly type: 'throughput';
  readonly operation: ThroughputCase;
  readonly port: number;
  /** The bulkhead's or semaphore's limit (unused by the breaker cases). */
  readonly limit: number;
  readonly inFlight: number;
  /** The Redis key (or bulkhead/breaker name) every worker of this job shares. */
  readonly key: string;
  readonly startAtMs: number;
  readonly endAtMs: number;
}

/**
 * Takes `limit` permits and holds them (renewing them) until the process is killed; answers
 * `holding` once every permit is granted.
 */
export interface HoldJob {
  readonly type: 'hold';
  readonly holder: HolderCase;
  readonly port: number;
  readonly limit: number;
  readonly key: string;
  readonly leaseMs: number;
  readonly renewMs: number;
}

interface ExitJob {
  readonly type: 'exit';
}

export type Job = ThroughputJob | HoldJob | ExitJob;

export interface ThroughputResult {
  readonly type: 'throughput-result';
  /** Operations that ended inside the measured window. */
  readonly inWindow: number;
  /** Operations that ended from the job's arrival to its end (warm-up included). */
  readonly total: number;
  readonly errors: number;
  /** Commands this worker's ioredis clients sent (its script connection; not the subscriber). */
  readonly commandsSent: number;
  /** Pub/sub messages this worker's subscriber connections received. */
  readonly messagesReceived: number;
  /** CPU time (user + system) this worker process spent on the job, µs. */
  readonly cpuUs: number;
  readonly firstError: string | undefined;
}

interface HoldingReply {
  readonly type: 'holding';
}

/** Sent once, when the worker has loaded and listens for jobs. */
interface ReadyReply {
  readonly type: 'ready';
}

export type Reply = ThroughputResult | HoldingReply | ReadyReply;

/** The argument that makes `run.ts` act as a worker. */
export const WORKER_ARGUMENT = '--worker';
