/** Interval arithmetic the report needs: the most intervals overlapping at any instant. */

/** A half-open interval `[startMs, endMs)`. */
export interface Interval {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The most intervals that overlap at one instant. Intervals that only touch (one ends where the
 * next begins) do not overlap: a permit given back and taken again in the same millisecond is one
 * permit in use, not two.
 */
export function maxOverlap(intervals: readonly Interval[]): number {
  const edges: [number, number][] = [];
  for (const { startMs, endMs } of intervals) {
    if (endMs <= startMs) continue;
    edges.push([startMs, 1], [endMs, -1]);
  }
  // At equal times, ends come first.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, change] of edges) {
    open += change;
    most = Math.max(most, open);
  }
  return most;
}

/** The value at the given quantile (0..1) of `values`, by nearest rank; 0 when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}
