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

/** The last digits of a fencing token: enough to tell terms apart in a table (the JSON has it whole). */
function shortToken(token: string): string {
  return token.length > 6 ? `…${token.slice(-4)}` : token;
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
    phase.leadersElected.map((term) => `${term.instance}#${shortToken(term.fencingToken)}`).join(' ') || '-',
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
  const mode = report.mode === 'redis' ? 'on Redis' : 'in-process (no Redis)';
  const gateways = `${report.instances.length} gateway${report.instances.length === 1 ? '' : 's'}`;
  return [
    `${gateways}, ${mode}, ${report.durationS} s. Admissions count in the phase their window began in.`,
    table([header, ...rows]),
    '',
    'What each phase showed:',
    ...checks,
    '',
    'Invariants:',
    ...invariants,
    '',
    report.passed ? 'All invariants held.' : 'AN INVARIANT FAILED.',
    ...(report.phasesShown ? [] : ['Some phase did not show its effect (see above).']),
  ].join('\n');
}
