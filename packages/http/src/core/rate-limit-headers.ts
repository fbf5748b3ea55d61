import type { RateLimitDecision } from '@hyx/local';

/** One limit's decision with what its `RateLimit-Policy` entry says about it. */
export interface PolicyDecision {
  readonly policyName: string;
  readonly windowMs: number | undefined;
  readonly decision: RateLimitDecision;
}

/** True for the integers a header may carry: finite, whole, not negative. */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Whole seconds, rounded up so that a client waiting that long is never early. */
export function secondsCeil(ms: number): number {
  return Math.ceil(ms / 1000);
}

/**
 * What the headers say of one policy name, kept between requests: its quoted name, and its
 * `RateLimit-Policy` entry for the quota and window it was last built for (constant for a given
 * limiter, so most requests reuse the string instead of building it again).
 */
interface NameEntry {
  readonly quoted: string;
  policyEntry: string;
  quota: number;
  windowMs: number | undefined;
}

// Policy names come from configuration, so there are few: each gets one entry.
const nameEntries = new Map<string, NameEntry>();

function nameEntryOf(policyName: string): NameEntry {
  let entry = nameEntries.get(policyName);
  if (entry === undefined) {
    entry = { quoted: sfString(policyName), policyEntry: '', quota: Number.NaN, windowMs: undefined };
    if (nameEntries.size < 1000) nameEntries.set(policyName, entry);
  }
  return entry;
}

/** A Structured Field string (RFC 9651 §3.3.3): printable ASCII, with `"` and `\` escaped. */
function sfString(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '_');
  return `"${printable.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/**
 * True when a decision can be shown: every number a header would carry is a non-negative integer.
 * A decision taken without the backend (a fallback) or by a limiter that does not know its numbers
 * is not shown, rather than showing `NaN` or made-up values.
 */
function isShowable(decision: RateLimitDecision): boolean {
  // `source: 'fallback'`: a Redis limiter decided without Redis (`onBackendFailure` 'allow' or
  // 'local'); its numbers are not the shared limit's.
  if ((decision as { readonly source?: unknown }).source === 'fallback') return false;
  return (
    isCount(decision.limit) &&
    isCount(decision.remaining) &&
    isCount(decision.retryAfterMs) &&
    isCount(decision.resetAfterMs)
  );
}

/**
 * The rate-limit headers of one response, per draft-ietf-httpapi-ratelimit-headers (-08 to -11):
 *
 * ```text
 * RateLimit-Policy: "per-ip";q=100;w=60, "per-route";q=1000;w=60
 * RateLimit: "per-ip";r=42;t=17, "per-route";r=900;t=3
 * ```
 *
 * `q` is the decision's `limit`, `w` the configured window in seconds (left out when unknown),
 * `r` the units remaining, `t` the seconds until the quota is whole again. The legacy headers
 * describe the most exhausted limit: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, and
 * `X-RateLimit-Reset` as Unix epoch seconds (as GitHub and `express-rate-limit` send it).
 */
export function rateLimitHeaders(
  decisions: readonly PolicyDecision[],
  options: { readonly standard: boolean; readonly legacy: boolean; readonly nowMs: number },
): Record<string, string> {
  const headers: Record<string, string> = {};
  // One limit per request is the common case: no arrays to filter, map and join.
  if (decisions.length === 1) {
    const only = decisions[0];
    if (only === undefined || !isShowable(only.decision)) return headers;
    if (options.standard) {
      headers['RateLimit-Policy'] = policyEntry(only);
      headers.RateLimit = remainingEntry(only);
    }
    if (options.legacy) addLegacyHeaders(headers, only.decision, options.nowMs);
    return headers;
  }
  const shown = decisions.filter((entry) => isShowable(entry.decision));
  if (shown.length === 0) return headers;
  if (options.standard) {
    headers['RateLimit-Policy'] = shown.map(policyEntry).join(', ');
    headers.RateLimit = shown.map(remainingEntry).join(', ');
  }
  if (options.legacy) {
    const tightest = shown
      .map((entry) => entry.decision)
      .reduce((tight, decision) => (decision.remaining < tight.remaining ? decision : tight));
    addLegacyHeaders(headers, tightest, options.nowMs);
  }
  return headers;
}

/**
 * The standard and legacy headers of one limit's decisions, for a middleware with one limit (the
 * common case): the same headers as {@link rateLimitHeaders} gives for one decision, with the
 * quoted name and the `RateLimit-Policy` entry kept in the returned function rather than looked
 * up per request, and no array to build.
 */
export function singlePolicyHeaders(
  policyName: string,
  windowMs: number | undefined,
): (
  decision: RateLimitDecision,
  options: { readonly standard: boolean; readonly legacy: boolean; readonly nowMs: number },
) => Record<string, string> {
  const quoted = sfString(policyName);
  const window = windowMs !== undefined && isCount(windowMs) ? `;w=${secondsCeil(windowMs)}` : '';
  const remainingPrefix = `${quoted};r=`;
  // The quota is the limiter's, constant in practice: the entry is rebuilt only if it changes.
  let quota = Number.NaN;
  let policy = '';
  return (decision, options) => {
    if (!isShowable(decision)) return {};
    if (!options.standard) {
      const headers: Record<string, string> = {};
      if (options.legacy) addLegacyHeaders(headers, decision, options.nowMs);
      return headers;
    }
    if (quota !== decision.limit) {
      quota = decision.limit;
      policy = `${quoted};q=${quota}${window}`;
    }
    const headers: Record<string, string> = {
      'RateLimit-Policy': policy,
      RateLimit: `${remainingPrefix}${decision.remaining};t=${secondsCeil(decision.resetAfterMs)}`,
    };
    if (options.legacy) addLegacyHeaders(headers, decision, options.nowMs);
    return headers;
  };
}

/** One limit's entry of `RateLimit-Policy`: `"name";q=100;w=60`. */
function policyEntry({ policyName, windowMs, decision }: PolicyDecision): string {
  const entry = nameEntryOf(policyName);
  if (entry.quota !== decision.limit || entry.windowMs !== windowMs) {
    const window = windowMs !== undefined && isCount(windowMs) ? `;w=${secondsCeil(windowMs)}` : '';
    entry.policyEntry = `${entry.quoted};q=${decision.limit}${window}`;
    entry.quota = decision.limit;
    entry.windowMs = windowMs;
  }
  return entry.policyEntry;
}

/** One limit's entry of `RateLimit`: `"name";r=42;t=17`. */
function remainingEntry({ policyName, decision }: PolicyDecision): string {
  return `${nameEntryOf(policyName).quoted};r=${decision.remaining};t=${secondsCeil(decision.resetAfterMs)}`;
}

/** The legacy headers, describing `tightest`. */
function addLegacyHeaders(headers: Record<string, string>, tightest: RateLimitDecision, nowMs: number): void {
  headers['X-RateLimit-Limit'] = String(tightest.limit);
  headers['X-RateLimit-Remaining'] = String(tightest.remaining);
  headers['X-RateLimit-Reset'] = String(secondsCeil(nowMs + tightest.resetAfterMs));
}
