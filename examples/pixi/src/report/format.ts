/** The report as text for the terminal: a table of the phases, then the verdicts. */
import type { PixiReport } from './analyze.js';

function table(rows: readonly (readonly string[])[]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

/** The report, formatted. */
export function formatReport(report: PixiReport): string {
  const header = [
    'phase',
    'requests',
    'fresh',
    'stale',
    '429',
    '5xx',
    'admitted/allowed',
    'max/window',
    'probes',
    'max conc.',
    'leaders',
    'p50 ms',
    'p99 ms',
  ];
  const rows = report.phases.map((phase) => [
    phase.name,
    String(phase.requests),
    String(phase.answers.fresh),
    String(phase.answers.stale),
    String(phase.answers.rateLimited),
    String(phase.answers.unavailable + phase.answers.noAnswer),
    `${phase.admitted}/${phase.limitInPhase}`,
    `${phase.maxAdmittedInWindow}/${phase.limitPerKeyPerWindow}`,
    String(phase.probes),
    `${phase.maxConcurrent}/${phase.bulkheadCap}`,
    phase.leadersElected.map((term) => `${term.instance}#${term.fencingToken}`).join(' ') || '-',
    String(phase.latencyMs.p50),
    String(phase.latencyMs.p99),
  ]);
  const mark = (holds: boolean): string => (holds ? 'PASS' : 'FAIL');
  const checks = report.phases.flatMap((phase) =>
    phase.checks.map((check) => `  ${mark(check.holds)}  ${phase.name}: ${check.name} (${check.detail})`),
  );
  const invariants = report.invariants.map(
    (invariant) => `  ${mark(invariant.holds)}  ${invariant.name}: ${invariant.detail}`,
  );
  return [
    table([header, ...rows]),
    '',
    'What each phase showed:',
    ...checks,
    '',
    'Invariants:',
    ...invariants,
    '',
    report.passed ? 'All invariants held.' : 'AN INVARIANT FAILED.',
  ].join('\n');
}
