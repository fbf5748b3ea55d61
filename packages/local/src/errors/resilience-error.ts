import type { PolicyKind } from '../policy/policy.js';

/** Marks hyx errors across duplicate installs of the package, where `instanceof` fails. */
const RESILIENCE_ERROR = Symbol.for('@hyx/resilience-error');

/** The literal code of every hyx error. */
export type ResilienceErrorCode =
  'TIMEOUT' | 'RETRY_EXHAUSTED' | 'CIRCUIT_OPEN' | 'BULKHEAD_FULL' | 'RATE_LIMITED' | 'BACKEND_UNAVAILABLE';

/** Where an error came from. */
export interface ErrorSource {
  readonly policyKind: PolicyKind;
  readonly policyName: string;
}

/**
 * The base of every error a hyx policy raises. Test with {@link isResilienceError}, which also
 * recognises errors from another copy of the package.
 *
 * @example
 * ```ts
 * import { isResilienceError, timeout } from '@hyx/local';
 * try {
 *   await timeout({ timeoutMs: 10, strategy: 'aggressive' }).execute(() => new Promise(() => {}));
 * } catch (error) {
 *   if (isResilienceError(error, 'TIMEOUT')) console.log(error.timeoutMs);
 * }
 * ```
 */
export class ResilienceError<TCode extends ResilienceErrorCode = ResilienceErrorCode> extends Error {
  /** A stable, literal code: compare it rather than the message. */
  readonly code: TCode;
  /** The kind of the policy that raised the error. */
  readonly policyKind: PolicyKind;
  /** The name of the policy that raised the error. */
  readonly policyName: string;

  constructor(code: TCode, source: ErrorSource, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.policyKind = source.policyKind;
    this.policyName = source.policyName;
    Object.defineProperty(this, RESILIENCE_ERROR, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * An error for a call that never ran: the policy refused it (circuit open, bulkhead full, rate
 * limited). Safe to retry later; `retryAfterMs` says when, if the policy knows.
 *
 * @example
 * ```ts
 * import { ExecutionRejectedError } from '@hyx/local';
 * const isRejection = (error: unknown) => error instanceof ExecutionRejectedError;
 * ```
 */
export class ExecutionRejectedError<
  TCode extends 'CIRCUIT_OPEN' | 'BULKHEAD_FULL' | 'RATE_LIMITED' =
    'CIRCUIT_OPEN' | 'BULKHEAD_FULL' | 'RATE_LIMITED',
> extends ResilienceError<TCode> {
  /** When a new call may be admitted, if the policy knows; otherwise `undefined`. */
  readonly retryAfterMs: number | undefined;

  constructor(code: TCode, source: ErrorSource, message: string, retryAfterMs?: number) {
    super(code, source, message);
    this.retryAfterMs = retryAfterMs;
  }
}
