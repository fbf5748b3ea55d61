/**
 * The checks every Redis factory makes on what it is given before it builds anything, so that a
 * missing or wrong client fails at construction with a named error, not at the first call with
 * `Cannot read properties of undefined (reading 'evalsha')`.
 */

/**
 * Where a factory that builds on a local one puts its own name, so that the local factory's
 * errors name the factory the user called (`redisBulkhead "db": maxConcurrent must be >= 1, got 0`).
 * The same registered symbol `@hyx/local` reads in `parseOptions`; it is no option.
 *
 * @internal
 */
export const FACTORY_KEY: symbol = Symbol.for('hyx.factory');

/** Formats what was given instead of a client: short, and never throwing. */
function describeClient(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object without evalsha() and eval()';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return `${value}n`;
  return `${value as number | boolean | undefined}`;
}

/** True for an ioredis `Redis` or `Cluster`, or anything else that answers EVALSHA and EVAL. */
function isRedisClient(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const client = value as { evalsha?: unknown; eval?: unknown };
  return typeof client.evalsha === 'function' && typeof client.eval === 'function';
}

/**
 * The start of a Redis factory's errors: `redisRateLimiter "api"`, with `defaultName` when the
 * options give no usable name (the factory alone when there is no default either).
 *
 * @internal
 */
export function factoryLabel(factory: string, options: unknown, defaultName?: string): string {
  const given =
    typeof options === 'object' && options !== null ? (options as { name?: unknown }).name : undefined;
  const name = typeof given === 'string' && given !== '' ? given : defaultName;
  return name === undefined ? factory : `${factory} ${JSON.stringify(name)}`;
}

/**
 * Throws a `TypeError` unless `client` is a Redis client:
 * `redisRateLimiter "api": redis must be an ioredis client (Redis or Cluster), got undefined`.
 *
 * @param label - the start of the message, see {@link factoryLabel}
 * @param what - how the factory calls the client (`redis`, `clients[1]`)
 * @internal
 */
export function checkRedisClient(label: string, client: unknown, what = 'redis'): void {
  if (isRedisClient(client)) return;
  throw new TypeError(
    `${label}: ${what} must be an ioredis client (Redis or Cluster), got ${describeClient(client)}`,
  );
}

/**
 * The factory a building factory named under {@link FACTORY_KEY} in `options`, or `defaultFactory`.
 *
 * @internal
 */
export function factoryIn(options: unknown, defaultFactory: string): string {
  if (typeof options !== 'object' || options === null) return defaultFactory;
  const factory = (options as Record<symbol, unknown>)[FACTORY_KEY];
  return typeof factory === 'string' ? factory : defaultFactory;
}

/**
 * Throws a `TypeError` unless `clients` is an array of Redis clients, naming the first that is not
 * one: `redlockLock "ledger": clients[1] must be an ioredis client (Redis or Cluster), got undefined`.
 *
 * @internal
 */
export function checkRedisClients(label: string, clients: unknown): void {
  if (!Array.isArray(clients)) {
    throw new TypeError(
      `${label}: clients must be an array of ioredis clients, got ${describeClient(clients)}`,
    );
  }
  clients.forEach((client: unknown, index) => {
    checkRedisClient(label, client, `clients[${index}]`);
  });
}
