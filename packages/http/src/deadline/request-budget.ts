import type { IncomingHttpHeaders } from 'node:http';

/** The header hyx uses for a relative budget in whole milliseconds. */
export const HYX_TIMEOUT_HEADER = 'hyx-timeout-ms';
/** The header hyx uses for the correlation id. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

const GRPC_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * Parses a `grpc-timeout` value (`300m`, `2S`, `1H`: at most 8 digits and a unit) into
 * milliseconds, or `undefined` when it is malformed.
 *
 * @example
 * ```ts
 * import { parseGrpcTimeout } from '@hyx/http';
 * parseGrpcTimeout('300m'); // 300
 * parseGrpcTimeout('2S'); // 2000
 * ```
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  if (match === null) return undefined;
  const unitMs = GRPC_UNIT_MS[match[2] ?? ''];
  if (unitMs === undefined) return undefined;
  return Number(match[1]) * unitMs;
}

/**
 * Formats milliseconds as a `grpc-timeout` value, in whole milliseconds (`300m`).
 *
 * @example
 * ```ts
 * import { formatGrpcTimeout } from '@hyx/http';
 * formatGrpcTimeout(299.6); // '299m'
 * ```
 */
export function formatGrpcTimeout(ms: number): string {
  return `${Math.min(99_999_999, Math.max(0, Math.floor(ms)))}m`;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The budget a request arrived with, in ms: the smaller of `hyx-timeout-ms` (a whole number of
 * milliseconds) and `grpc-timeout`; `undefined` when neither is there or both are malformed (a bad
 * header is ignored rather than failing the request).
 *
 * @param budgetHeader - the header with the relative budget in ms
 *
 * @example
 * ```ts
 * import { requestBudgetMs } from '@hyx/http';
 * requestBudgetMs({ 'hyx-timeout-ms': '300' }); // 300
 * requestBudgetMs({ 'grpc-timeout': '2S', 'hyx-timeout-ms': '500' }); // 500
 * ```
 */
export function requestBudgetMs(
  headers: IncomingHttpHeaders,
  budgetHeader: string = HYX_TIMEOUT_HEADER,
): number | undefined {
  const relative = first(headers[budgetHeader.toLowerCase()]);
  const relativeMs =
    relative !== undefined && /^\d{1,12}$/.test(relative.trim()) ? Number(relative) : undefined;
  const grpc = first(headers['grpc-timeout']);
  const grpcMs = grpc === undefined ? undefined : parseGrpcTimeout(grpc);
  if (relativeMs === undefined) return grpcMs;
  if (grpcMs === undefined) return relativeMs;
  return Math.min(relativeMs, grpcMs);
}
