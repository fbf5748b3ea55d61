/** The recovery leader's terms, rebuilt from the gateways' leader records and the kills. */
import type { GatewayRecord, KillRecord } from '../records.js';

/** One term of the recovery leadership, as recorded (it lies within the real term). */
export interface Term {
  readonly instance: string;
  readonly fencingToken: string;
  readonly startMs: number;
  /** When the holder stopped leading (lost the term, or was killed); `endOfRunMs` if it never did. */
  readonly endMs: number;
}

/** Every term, in the order they began. */
export function termsOf(
  records: readonly GatewayRecord[],
  kills: readonly KillRecord[],
  endOfRunMs: number,
): readonly Term[] {
  const open = new Map<string, { fencingToken: string; startMs: number }>();
  const terms: Term[] = [];
  const sorted = records.filter((record) => record.type === 'leader').sort((a, b) => a.atMs - b.atMs);
  for (const record of sorted) {
    const key = `${record.instance}/${record.fencingToken}`;
    if (record.event === 'elected') {
      open.set(key, { fencingToken: record.fencingToken, startMs: record.atMs });
      continue;
    }
    const started = open.get(key);
    if (started === undefined) continue;
    open.delete(key);
    terms.push({ instance: record.instance, ...started, endMs: record.atMs });
  }
  for (const [key, started] of open) {
    const instance = key.slice(0, key.lastIndexOf('/'));
    const killedAt = kills.find((kill) => kill.instance === instance && kill.atMs >= started.startMs)?.atMs;
    terms.push({ instance, ...started, endMs: killedAt ?? endOfRunMs });
  }
  return terms.sort((a, b) => a.startMs - b.startMs);
}

/** The term `instance` held at `atMs`, if any. */
export function termAt(terms: readonly Term[], instance: string, atMs: number): Term | undefined {
  return terms.find((term) => term.instance === instance && term.startMs <= atMs && atMs <= term.endMs);
}
