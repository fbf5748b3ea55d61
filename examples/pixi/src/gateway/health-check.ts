/**
 * The breaker's health check: one `GET /health` to the inventory, sent by the recovery leader with
 * its instance name and fencing token (the inventory logs both, so the report can tell who probed
 * under which term). Every probe is also written to the leader's own record log.
 */
import type { ExecutionContext } from '@hyx/local';

import { FENCING_TOKEN_HEADER, INSTANCE_HEADER } from '../inventory/inventory-app.js';
import type { ProbeRecord } from '../records.js';
import { InventoryError, type HealthCheck } from './policies.js';

/** Who runs a probe now: the instance leading the election, and its term's token. */
export interface Prober {
  readonly instance: string;
  readonly fencingToken: bigint | undefined;
  readonly record: (record: ProbeRecord) => void;
}

/** A health check of `inventoryUrl` on behalf of whoever `prober()` names. */
export function inventoryHealthCheck(inventoryUrl: string, prober: () => Prober | undefined): HealthCheck {
  return async ({ signal }: ExecutionContext) => {
    const by = prober();
    // In-process, one breaker serves every instance: with nobody leading (after the leader died,
    // before the next is elected) nobody may probe, and the circuit stays open.
    if (by?.fencingToken === undefined) throw new Error('no recovery leader: the health check waits for one');
    const token = String(by.fencingToken);
    const startMs = Date.now();
    let healthy = false;
    try {
      const response = await fetch(`${inventoryUrl}/health`, {
        signal,
        headers: { [INSTANCE_HEADER]: by.instance, [FENCING_TOKEN_HEADER]: token },
      });
      await response.arrayBuffer();
      healthy = response.ok;
      if (!healthy) throw new InventoryError(response.status);
    } finally {
      by.record({
        type: 'probe',
        instance: by.instance,
        startMs,
        endMs: Date.now(),
        healthy,
        fencingToken: token,
      });
    }
  };
}
