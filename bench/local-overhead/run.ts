/**
 * ns per call of hyx's local policies, side by side with the peers users would pick instead,
 * measured in one process run with mitata. Never a pass/fail test: the figures go to
 * docs/benchmarks.md.
 *
 * Run: npm run bench (builds first; @hyx/local is loaded from dist).
 */
import { measure } from 'mitata';

import { cases, type BenchCase } from './cases.js';

interface Row {
  readonly group: string;
  readonly name: string;
  readonly avgNs: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
}

function formatNs(ns: number): string {
  return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}

/** "3.2× faster" or "1.4× slower", from the average ns per call of the peer and the row. */
function compareWithPeer(peer: Row, row: Row): string {
  const speedup = peer.avgNs / row.avgNs;
  return speedup >= 1 ? `${speedup.toFixed(1)}× faster` : `${(1 / speedup).toFixed(1)}× slower`;
}

async function measureCase(benchCase: BenchCase): Promise<Row> {
  // One warm-up round outside the measurement so lazy setup (first timer, JIT) is not counted.
  await benchCase.fn();
  const stats = await measure(benchCase.fn, { min_cpu_time: 300 * 1e6 });
  return {
    group: benchCase.group,
    name: benchCase.name,
    avgNs: stats.avg,
    p50Ns: stats.p50,
    p99Ns: stats.p99,
  };
}

const filter = process.argv[2];
const rows: Row[] = [];
for (const benchCase of cases) {
  if (filter !== undefined && !`${benchCase.group} ${benchCase.name}`.includes(filter)) continue;
  const row = await measureCase(benchCase);
  rows.push(row);
  process.stdout.write(
    `${row.group.padEnd(22)} ${row.name.padEnd(46)} ${formatNs(row.avgNs).padStart(10)}\n`,
  );
}

// A markdown table with each hyx row's ratio to the peer named in its group (`peer:` rows).
const lines = ['| group | case | avg / call | p50 | p99 | vs peer |', '|---|---|---:|---:|---:|---:|'];
for (const row of rows) {
  const peer = rows.find((candidate) => candidate.group === row.group && candidate.name.startsWith('peer:'));
  const ratio =
    peer !== undefined && peer !== row && !row.name.startsWith('peer:') ? compareWithPeer(peer, row) : '';
  lines.push(
    `| ${row.group} | ${row.name} | ${formatNs(row.avgNs)} | ${formatNs(row.p50Ns)} | ${formatNs(row.p99Ns)} | ${ratio} |`,
  );
}
process.stdout.write(
  `\n${lines.join('\n')}\n\nnode ${process.version}, ${process.platform}/${process.arch}\n`,
);
