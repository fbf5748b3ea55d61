import { z } from 'zod';

import { positiveIntSchema } from '../options/option-schemas.js';
import { parseLabelledOptions } from '../options/parse-options.js';
import type { BulkheadState, BulkheadStateConfig, Lease } from './bulkhead-state.js';

const memoryBulkheadStateConfigSchema = z.strictObject({ maxConcurrent: positiveIntSchema });

/** A permit of a {@link MemoryBulkheadState}; knows its owner so a lease is released at most once. */
class MemoryLease implements Lease {
  /** Set on release; a second release of the same lease finds it set and does nothing. */
  isReleased = false;

  constructor(
    readonly owner: MemoryBulkheadState,
    readonly key: string,
    readonly fencingToken: number,
  ) {}

  // Built on read: an uncontended call never needs the string, so it never pays for it.
  get id(): string {
    return `${this.key}#${this.fencingToken}`;
  }

  get expiresAtMs(): undefined {
    return undefined;
  }
}

/**
 * The in-process {@link BulkheadState}: a count of held permits per key. Answers synchronously,
 * allocates one lease per grant and nothing else. Leases never expire: their holder lives in this
 * process and always releases (the bulkhead guarantees it on every way out of a call).
 *
 * @example
 * ```ts
 * import { MemoryBulkheadState } from '@hyx/local';
 * const state = new MemoryBulkheadState({ maxConcurrent: 2 });
 * const first = state.acquire('db');
 * const second = state.acquire('db');
 * const third = state.acquire('db'); // undefined: both permits are held
 * if (first !== undefined) state.release(first);
 * ```
 */
export class MemoryBulkheadState implements BulkheadState {
  readonly #maxConcurrent: number;
  /** Held permits per key; a key is removed when its count drops to 0, so idle keys cost nothing. */
  readonly #heldByKey = new Map<string, number>();
  /** One counter for every key: tokens grow per key because they grow across all keys. */
  #lastFencingToken = 0;

  constructor(config: BulkheadStateConfig) {
    this.#maxConcurrent = parseLabelledOptions(
      'MemoryBulkheadState',
      memoryBulkheadStateConfigSchema,
      config,
    ).maxConcurrent;
  }

  /** How many permits of `key` are held now. */
  heldCount(key: string): number {
    return this.#heldByKey.get(key) ?? 0;
  }

  /** Takes a permit of `key` if one is free; `nowMs` is ignored, memory leases never expire. */
  acquire(key: string, _nowMs?: number): Lease | undefined {
    const held = this.#heldByKey.get(key) ?? 0;
    if (held >= this.#maxConcurrent) return undefined;
    this.#heldByKey.set(key, held + 1);
    return new MemoryLease(this, key, ++this.#lastFencingToken);
  }

  release(lease: Lease): void {
    // A lease of another state, or one already released, frees nothing.
    if (!(lease instanceof MemoryLease) || lease.owner !== this || lease.isReleased) return;
    lease.isReleased = true;
    const held = this.#heldByKey.get(lease.key) ?? 0;
    if (held <= 1) this.#heldByKey.delete(lease.key);
    else this.#heldByKey.set(lease.key, held - 1);
  }
}
