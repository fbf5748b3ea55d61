import { SpanKind, SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { ExecuteOptions, ExecutionContext, Policy, PolicyKind, ResilienceEvent, Work } from '@hyx/local';

import { errorTypeOf } from '../measurements/measurements-of.js';

/**
 * The name of every attempt span (`spans: 'attempts'`); the policy and the attempt number are
 * attributes (`hyx.policy.kind`, `hyx.policy.name`, `hyx.attempt`).
 *
 * @example
 * ```ts
 * import { ATTEMPT_SPAN_NAME } from '@hyx/telemetry/opentelemetry';
 * const isAttempt = (span: { name: string }) => span.name === ATTEMPT_SPAN_NAME; // 'hyx.attempt'
 * ```
 */
export const ATTEMPT_SPAN_NAME = 'hyx.attempt';

/**
 * A policy that runs each invocation of the work (every attempt a retry or hedge makes) inside its
 * own span, a child of the span active when the attempt starts, with the attempt number. The span is
 * active while the work runs, so the work's own spans (an HTTP client's) nest under it.
 *
 * Wrapping the work, rather than opening spans from events, ties each span to exactly one attempt
 * with no bookkeeping: no event marks an attempt's start, and events of concurrent calls interleave.
 * A tracer that throws never changes the call: the work then runs without a span, and still once.
 *
 * @internal
 */
export class AttemptSpanPolicy<TAlt> implements Policy<TAlt> {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly #inner: Policy<TAlt>;
  readonly #tracer: Tracer;
  readonly #reportError: (error: unknown) => void;
  #isDetached = false;

  constructor(inner: Policy<TAlt>, tracer: Tracer, reportError: (error: unknown) => void) {
    this.kind = inner.kind;
    this.name = inner.name;
    this.#inner = inner;
    this.#tracer = tracer;
    this.#reportError = reportError;
  }

  /** Stops opening spans; the policy keeps working. */
  detach(): void {
    this.#isDetached = true;
  }

  execute<T>(fn: Work<T>, options?: ExecuteOptions): Promise<T | TAlt> {
    // Not a function: the inner policy refuses it at once, with an error naming it, before any span.
    if (typeof fn !== 'function') return this.#inner.execute(fn, options);
    return this.#inner.execute((executionContext) => this.#runAttempt(fn, executionContext), options);
  }

  wrap<TArgs extends unknown[], T>(
    fn: (...args: TArgs) => T | PromiseLike<T>,
  ): (...args: TArgs) => Promise<T | TAlt> {
    return (...args: TArgs) => this.execute(() => fn(...args));
  }

  onEvent(listener: (event: ResilienceEvent) => void): () => void {
    return this.#inner.onEvent(listener);
  }

  #runAttempt<T>(fn: Work<T>, executionContext: ExecutionContext): T | PromiseLike<T> {
    if (this.#isDetached) return fn(executionContext);
    let span: Span | undefined;
    try {
      span = this.#tracer.startSpan(ATTEMPT_SPAN_NAME, {
        kind: SpanKind.INTERNAL,
        attributes: {
          'hyx.policy.kind': this.kind,
          'hyx.policy.name': this.name,
          'hyx.attempt': executionContext.attempt,
        },
      });
    } catch (error) {
      this.#reportError(error);
    }
    if (span === undefined) return fn(executionContext);
    const attemptSpan = span;
    let outcome: Promise<T> | undefined;
    try {
      context.with(trace.setSpan(context.active(), attemptSpan), () => {
        outcome = callSafely(fn, executionContext);
      });
    } catch (error) {
      // Only the context manager can land here (callSafely never throws); the work runs at most once.
      this.#reportError(error);
    }
    outcome ??= callSafely(fn, executionContext);
    return outcome.then(
      (value) => {
        this.#end(attemptSpan, undefined, false);
        return value;
      },
      (error: unknown) => {
        this.#end(attemptSpan, error, true);
        throw error;
      },
    );
  }

  #end(span: Span, error: unknown, isFailure: boolean): void {
    try {
      if (isFailure) {
        span.setAttribute('error.type', errorTypeOf(error));
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    } catch (backendError) {
      this.#reportError(backendError);
    }
  }
}

function callSafely<T>(fn: Work<T>, executionContext: ExecutionContext): Promise<T> {
  try {
    return Promise.resolve(fn(executionContext));
  } catch (error) {
    return Promise.reject(error);
  }
}
