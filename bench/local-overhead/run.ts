/**
 * ns per call of hyx's local policies, side by side with the peers users would pick instead,
 * measured with mitata. Never a pass/fail test: the figures go to docs/benchmarks.md.
 *
 * Each group (a hyx policy and its peers) runs in a fresh child process, so the cases measured
 * before it (other policies, other shapes of promise) cannot change how V8 compiles its call
 * sites or how much garbage it inherits; within a group the peer and hyx share one process and
 * alternate. Every group runs `ROUNDS` times and each case keeps its median round.
 *
 * Run: npm run bench (builds first; @hyx/local is loaded from dist).
 *   tsx bench/local-overhead/run.ts [filter]   only the cases whose "group name" contains filter
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measure } from 'mitata';

import { cases, type BenchCase } from './cases.js';

const ROUNDS = 3;
/** Set in a child: the one group it measures, and which round this is. */
const GROUP_ENV = 'HYX_BENCH_GROUP';
const ROUND_ENV = 'HYX_BENCH_ROUND';

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

function selected(filter: string | undefined): readonly BenchCase[] {
  return cases.filter(
    (benchCase) => filter === undefined || `${benchCase.group} ${benchCase.name}`.includes(filter),
  );
}

/**
 * In a child: measures the selected cases of one group once and prints them as JSON. Odd rounds
 * go in the listed order, even rounds in reverse, so neither side always runs on a fresh heap.
 */
async function measureGroupInChild(group: string, filter: string | undefined, round: number): Promise<void> {
  const inGroup = selected(filter).filter((benchCase) => benchCase.group === group);
  const rows: Row[] = [];
  for (const benchCase of round % 2 === 1 ? inGroup : [...inGroup].reverse()) {
    rows.push(await measureCase(benchCase));
  }
  process.stdout.write(JSON.stringify(rows));
}

/** The row with the median average of its rounds. */
function medianRow(rounds: readonly Row[]): Row {
  const sorted = [...rounds].sort((a, b) => a.avgNs - b.avgNs);
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('bench: a case has no rounds');
  return median;
}

function table(rows: readonly Row[]): string {
  // A markdown table with each hyx row's ratio to the peer named in its group (`peer:` rows).
  const lines = ['| group | case | avg / call | p50 | p99 | vs peer |', '|---|---|---:|---:|---:|---:|'];
  for (const row of rows) {
    const peer = rows.find(
      (candidate) => candidate.group === row.group && candidate.name.startsWith('peer:'),
    );
    const ratio =
      peer !== undefined && peer !== row && !row.name.startsWith('peer:') ? compareWithPeer(peer, row) : '';
    lines.push(
      `| ${row.group} | ${row.name} | ${formatNs(row.avgNs)} | ${formatNs(row.p50Ns)} | ${formatNs(row.p99Ns)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

const filter = process.argv[2];
const childGroup = process.env[GROUP_ENV];
if (childGroup !== undefined) {
  await measureGroupInChild(childGroup, filter, Number(process.env[ROUND_ENV] ?? '1'));
} else {
  const groups = [...new Set(selected(filter).map((benchCase) => benchCase.group))];
  const roundsByCase = new Map<string, Row[]>();
  const script = fileURLToPath(import.meta.url);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const group of groups) {
      const output = execFileSync(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
        env: { ...process.env, [GROUP_ENV]: group, [ROUND_ENV]: String(round) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      for (const row of JSON.parse(output) as Row[]) {
        const key = `${row.group}\u0000${row.name}`;
        roundsByCase.set(key, [...(roundsByCase.get(key) ?? []), row]);
        process.stdout.write(
          `round ${round}  ${row.group.padEnd(22)} ${row.name.padEnd(46)} ${formatNs(row.avgNs).padStart(10)}\n`,
        );
      }
    }
  }
  // Rows in the order of `cases`, whatever order the rounds measured them in.
  const rows = selected(filter)
    .map((benchCase) => roundsByCase.get(`${benchCase.group}\u0000${benchCase.name}`))
    .filter((rounds): rounds is Row[] => rounds !== undefined)
    .map(medianRow);
  process.stdout.write(
    `\nmedian of ${ROUNDS} rounds, each group in its own process\n\n${table(rows)}\n\nnode ${process.version}, ${process.platform}/${process.arch}\n`,
  );
}
