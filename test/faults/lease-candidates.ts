/**
 * Spawns and watches the candidate processes of the lease fault tests (fixtures/lease-candidate.ts):
 * each is `node --conditions=source --import tsx` with an IPC channel, and reports what it did.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../support/wait-until.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/lease-candidate.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How a group of candidates is configured. */
export interface LeaseCandidateConfig {
  readonly mode: 'leader' | 'lock';
  readonly topology: 'single' | 'cluster';
  readonly redisPorts: readonly number[];
  readonly resourcePort: number;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly writeEveryMs: number;
}

/** One report of a candidate, stamped with the candidate's `Date.now()` (same host clock). */
export interface CandidateReport {
  readonly type: 'elected' | 'lost' | 'write';
  readonly id: string;
  readonly atMs: number;
  readonly token: string;
  readonly reason?: string;
  readonly accepted?: boolean;
}

/** The candidates of one test, and everything they reported. */
export class LeaseCandidates {
  readonly reports: CandidateReport[] = [];
  readonly #children = new Map<string, ChildProcess>();

  constructor(config: LeaseCandidateConfig, count: number) {
    for (let index = 0; index < count; index++) {
      const id = `candidate-${index}`;
      const child = fork(FIXTURE, [], {
        cwd: ROOT,
        execArgv: ['--conditions=source', '--import', 'tsx'],
        env: {
          ...process.env,
          CANDIDATE_ID: id,
          CANDIDATE_MODE: config.mode,
          CANDIDATE_TOPOLOGY: config.topology,
          REDIS_PORTS: config.redisPorts.join(','),
          RESOURCE_PORT: String(config.resourcePort),
          LEASE_MS: String(config.leaseMs),
          RENEW_MS: String(config.renewMs),
          WRITE_EVERY_MS: String(config.writeEveryMs),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message) => {
        this.reports.push(message as CandidateReport);
      });
      this.#children.set(id, child);
    }
  }

  /** The candidate that was elected last, once one has been elected after `sinceMs`. */
  async electedAfter(sinceMs: number, excluding?: string): Promise<CandidateReport> {
    return waitUntil('a candidate is elected', () =>
      this.reports.find(
        (report) => report.type === 'elected' && report.atMs >= sinceMs && report.id !== excluding,
      ),
    );
  }

  /** Waits until the leader `id` has written at least once with `token`. */
  async wroteWith(id: string, token: string): Promise<void> {
    await waitUntil(`${id} writes with token ${token}`, () =>
      this.reports.some((report) => report.type === 'write' && report.id === id && report.token === token),
    );
  }

  signal(id: string, signal: NodeJS.Signals): void {
    const pid = this.#children.get(id)?.pid;
    if (pid === undefined) throw new Error(`no candidate ${id}`);
    process.kill(pid, signal);
  }

  /** Tells every live candidate to use other Redis nodes. */
  redirect(ports: readonly number[]): void {
    for (const child of this.#children.values()) {
      if (child.connected) child.send({ type: 'redis', ports });
    }
  }

  /** SIGKILLs every candidate (SIGCONT first, so a stopped one dies too). */
  stop(): void {
    for (const child of this.#children.values()) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
      try {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/** Checks the resource's log: accepted tokens never go down, and each token belongs to one candidate. */
export function checkFencing(accepted: readonly string[]): void {
  let highest = 0n;
  const ownerOf = new Map<string, string>();
  for (const entry of accepted) {
    const [token = '', id = ''] = entry.split(':');
    const value = BigInt(token);
    if (value < highest) throw new Error(`write with token ${token} accepted after token ${highest}`);
    highest = value;
    const owner = ownerOf.get(token);
    if (owner !== undefined && owner !== id) throw new Error(`token ${token} used by ${owner} and ${id}`);
    ownerOf.set(token, id);
  }
}
