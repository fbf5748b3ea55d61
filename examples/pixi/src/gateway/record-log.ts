/**
 * A gateway's records in the order they were written, read in pages by the run's collector
 * (`GET /pixi/records?after=N`). A run lasts about a minute, so the log simply grows.
 */
import type { GatewayRecord, RecordPage } from '../records.js';

/** An append-only log of one gateway's records. */
export class RecordLog {
  readonly #records: GatewayRecord[] = [];

  /** Appends one record. */
  add(record: GatewayRecord): void {
    this.#records.push(record);
  }

  /** The records from index `after` on, and the index to ask for next. */
  page(after: number): RecordPage {
    const from = Math.max(0, Math.min(after, this.#records.length));
    return { records: this.#records.slice(from), next: this.#records.length };
  }
}
