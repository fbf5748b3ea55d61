import type { z } from 'zod';

/**
 * Where a factory that builds on a local one (a Redis factory over the local shell) puts its own
 * name in the options it passes on, so that errors name the factory the user called:
 * `redisBulkhead "db": maxConcurrent must be >= 1, got 0`. A registered symbol, so that it is no
 * option (zod never sees it: only string keys are validated) and `@hyx/distributed` can use it
 * without a public export.
 */
const FACTORY_KEY = Symbol.for('hyx.factory');

/**
 * The factory name errors give for a policy built from `input`: the one a building factory put
 * under {@link FACTORY_KEY}, or `defaultFactory`.
 *
 * @internal
 */
export function factoryOf(input: unknown, defaultFactory: string): string {
  if (typeof input !== 'object' || input === null) return defaultFactory;
  const factory = (input as Record<symbol, unknown>)[FACTORY_KEY];
  return typeof factory === 'string' ? factory : defaultFactory;
}

/**
 * Formats an offending value for an error message: short, unambiguous, never throwing.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'symbol') return value.toString();
  return `${value as number | boolean | undefined}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'number') return 'must be a finite number';
      // zod reports `.int()` on a fractional number as a type problem with expected 'int'.
      if (issue.expected === 'int') return 'must be an integer';
      return `must be of type ${issue.expected}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return Number(issue.minimum) <= 1
          ? 'must be a non-empty string'
          : `must be at least ${String(issue.minimum)} characters long`;
      }
      return `must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters long`;
      return `must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    default:
      return issue.message;
  }
}

/**
 * Drops the keys whose value is `undefined`, so that `{ maxAttempts: undefined }` means "not set"
 * and never overrides a default.
 */
function withoutUndefined(input: object): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/**
 * Validates a policy's options once, at construction. The error names the policy, the option and
 * the offending value: `circuitBreaker "payments": failureRate must be <= 1, got 1.5`. Wrong types,
 * empty names, missing required options (`timeoutMs is required`) and unknown options throw
 * `TypeError`; values of the right type out of range throw `RangeError`.
 *
 * @internal
 */
export function parseOptions<TSchema extends z.ZodType>(
  factory: string,
  schema: TSchema,
  input: unknown,
  defaultName: string,
): z.output<TSchema> {
  const name =
    typeof input === 'object' && input !== null && typeof (input as { name?: unknown }).name === 'string'
      ? (input as { name: string }).name
      : defaultName;
  return parseLabelledOptions(`${factoryOf(input, factory)} "${name}"`, schema, input);
}

/**
 * {@link parseOptions} for option objects that are not a named policy's (a backoff, a retry
 * budget): the error starts with `label` alone, `backoff.exponential: factor must be >= 1, got 0.5`.
 *
 * @internal
 */
export function parseLabelledOptions<TSchema extends z.ZodType>(
  label: string,
  schema: TSchema,
  input: unknown,
): z.output<TSchema> {
  const given = input === undefined ? {} : input;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new TypeError(`${label}: options must be an object, got ${describeValue(given)}`);
  }
  const cleaned = withoutUndefined(given);
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;

  const issue = parsed.error.issues[0];
  if (issue === undefined) throw new TypeError(`${label}: invalid options`);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    throw new TypeError(`${label}: ${[...issue.path, key].join('.')} is not a known option`);
  }
  const option = issue.path.map(String).join('.') || 'options';
  const value = valueAt(cleaned, issue.path);
  // A required option left out (zod says "expected nonoptional", or the type it wanted).
  if (value === undefined) throw new TypeError(`${label}: ${option} is required`);
  const message = `${label}: ${option} ${describeIssue(issue)}, got ${describeValue(value)}`;
  // Wrong type: TypeError (`name: 42`, `name: ''`, `shouldHandle: 5`); right type out of range:
  // RangeError (`maxAttempts: 0`, `failureRate: NaN`, `name` too long).
  const isRangeProblem =
    (issue.code === 'too_small' && !(issue.origin === 'string' && Number(issue.minimum) <= 1)) ||
    issue.code === 'too_big' ||
    issue.code === 'not_multiple_of' ||
    (issue.code === 'custom' && typeof value === 'number' && issue.params?.['isTypeCheck'] !== true) ||
    (issue.code === 'invalid_type' &&
      typeof value === 'number' &&
      (issue.expected === 'number' || issue.expected === 'int'));
  throw isRangeProblem ? new RangeError(message) : new TypeError(message);
}
