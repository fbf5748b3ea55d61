/**
 * The traffic of the scenario: an open-loop generator (requests arrive at the set rate whatever
 * the answers do, as real users' would), spread round-robin over the live gateways and the API
 * keys, each request with a deadline budget in `hyx-timeout-ms`.
 */
import { CATALOGUE } from '../gateway/catalogue.js';
import type { CallRecord } from '../records.js';
import type { PixiSettings } from '../settings.js';
import type { GatewayInstance } from './services.js';

const TICK_MS = 20;
/**
 * The most arrivals owed after a stall of this process, in seconds of traffic: arrivals missed
 * beyond that are dropped (and counted), never sent in one burst, so a load of 0.6x the limit
 * cannot exceed it in any window because this process paused.
 */
const MAX_CATCH_UP_S = 0.1;
/** Requests in flight at most; beyond, arrivals are dropped (and counted) rather than piling up. */
const MAX_IN_FLIGHT = 400;

/** Sends requests at a settable rate and writes down every answer. */
export class LoadGenerator {
  readonly calls: CallRecord[] = [];
  dropped = 0;
  readonly #gateways: readonly GatewayInstance[];
  readonly #settings: PixiSettings;
  readonly #inFlight = new Set<Promise<void>>();
  #ratePerSecond = 0;
  #owed = 0;
  #turn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(gateways: readonly GatewayInstance[], settings: PixiSettings) {
    this.#gateways = gateways;
    this.#settings = settings;
  }

  /** Requests per second from now on, all gateways together. */
  setRate(ratePerSecond: number): void {
    this.#ratePerSecond = ratePerSecond;
  }

  start(): void {
    let last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#owed += (this.#ratePerSecond * (now - last)) / 1000;
      last = now;
      const mostOwed = Math.max(1, this.#ratePerSecond * MAX_CATCH_UP_S);
      if (this.#owed > mostOwed) {
        this.dropped += Math.floor(this.#owed - mostOwed);
        this.#owed = mostOwed;
      }
      while (this.#owed >= 1) {
        this.#owed -= 1;
        this.#send();
      }
    }, TICK_MS);
  }

  /** Stops sending and waits for the answers still due. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#inFlight);
  }

  #send(): void {
    const alive = this.#gateways.filter((gateway) => gateway.isAlive);
    if (alive.length === 0) return;
    if (this.#inFlight.size >= MAX_IN_FLIGHT) {
      this.dropped++;
      return;
    }
    const turn = this.#turn++;
    const gateway = alive[turn % alive.length] as GatewayInstance;
    const { apiKeys } = this.#settings;
    const apiKey = apiKeys[Math.floor(turn / alive.length) % apiKeys.length] as string;
    const item = CATALOGUE[turn % CATALOGUE.length] as string;
    const call = this.#call(gateway, apiKey, item).finally(() => this.#inFlight.delete(call));
    this.#inFlight.add(call);
  }

  async #call(gateway: GatewayInstance, apiKey: string, item: string): Promise<void> {
    const startMs = Date.now();
    const started = performance.now();
    let status = 0;
    let stale = false;
    try {
      const response = await fetch(`${gateway.url}/stock/${item}`, {
        headers: { 'x-api-key': apiKey, 'hyx-timeout-ms': String(this.#settings.requestBudgetMs) },
        // The gateway must answer within the budget; this only ends a call that hangs.
        signal: AbortSignal.timeout(this.#settings.requestBudgetMs * 5),
      });
      status = response.status;
      const body = (await response.json().catch(() => undefined)) as { stale?: unknown } | undefined;
      stale = body?.stale === true;
    } catch {
      // No answer: status stays 0.
    }
    this.calls.push({
      instance: gateway.name,
      apiKey,
      startMs,
      latencyMs: performance.now() - started,
      status,
      stale,
    });
  }
}
