/**
 * Gathers every gateway's records while the run goes on, by polling `GET /pixi/records` (so it
 * works the same for processes, in-process servers and containers).
 */
import type { GatewayRecord, RecordPage } from '../records.js';
import type { GatewayInstance } from './services.js';

/** How often each gateway is asked for its new records. */
const POLL_INTERVAL_MS = 250;

/** Polls the gateways and keeps all their records. */
export class Collector {
  readonly records: GatewayRecord[] = [];
  readonly #gateways: readonly GatewayInstance[];
  readonly #next = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> = Promise.resolve();

  constructor(gateways: readonly GatewayInstance[]) {
    this.#gateways = gateways;
  }

  /** Starts polling every `POLL_INTERVAL_MS`. */
  start(): void {
    this.#timer = setInterval(() => {
      this.#polling = this.#polling.then(() => this.pollAll());
    }, POLL_INTERVAL_MS);
  }

  /** Stops polling, after one last round. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
    await this.pollAll();
  }

  /** Fetches the new records of every live gateway now. */
  async pollAll(): Promise<void> {
    await Promise.all(
      this.#gateways.filter((gateway) => gateway.isAlive).map((gateway) => this.poll(gateway)),
    );
  }

  /** Fetches the new records of one gateway (before crashing it, say). */
  async poll(gateway: GatewayInstance): Promise<void> {
    const after = this.#next.get(gateway.name) ?? 0;
    try {
      const response = await fetch(`${gateway.url}/pixi/records?after=${after}`, {
        signal: AbortSignal.timeout(5_000),
      });
      const page = (await response.json()) as RecordPage;
      // Pages of one gateway may race (a poll before a crash, and the timer's): keep each record once.
      if ((this.#next.get(gateway.name) ?? 0) !== after) return;
      this.#next.set(gateway.name, page.next);
      this.records.push(...page.records);
    } catch {
      // A gateway that just died or is busy: its records come with the next poll, if any.
    }
  }
}
