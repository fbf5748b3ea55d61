/**
 * A gateway's part in the recovery election: it campaigns for as long as it lives, and a term's
 * work is only to hold the term (the breaker's health check asks `isLeader` for itself).
 */
import type { LeaderElection } from '@hyx/distributed';

/** Campaigns until `life` aborts; never rejects. */
export function campaignWhileAlive(election: LeaderElection, life: AbortSignal): void {
  election
    .runWhileLeader(
      ({ signal }) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            resolve();
          });
        }),
      { signal: life },
    )
    .catch(() => undefined);
}
