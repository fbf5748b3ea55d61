function previewReply(reply: unknown): string {
  let text: string;
  try {
    const json: unknown = JSON.stringify(reply);
    text = typeof json === 'string' ? json : String(reply);
  } catch {
    text = String(reply);
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/**
 * A script replied with a shape it cannot produce: a bug in the script or its decoder, a different
 * script under the same SHA1, or a client option that changes replies.
 *
 * @example
 * ```ts
 * import { LuaReplyError } from '@hyx/distributed';
 * const isBadReply = (error: unknown) => error instanceof LuaReplyError;
 * ```
 */
export class LuaReplyError extends Error {
  /** The script's name. */
  readonly scriptName: string;
  /** The raw reply as the client returned it. */
  readonly reply: unknown;

  constructor(scriptName: string, reply: unknown, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`Lua script "${scriptName}" gave an unexpected reply (${why}): ${previewReply(reply)}`, { cause });
    this.scriptName = scriptName;
    this.reply = reply;
  }

  override get name(): string {
    return 'LuaReplyError';
  }
}

/**
 * Checks that a reply is an integer and returns it. Accepts the number ioredis returns by default
 * and the decimal string it returns with `stringNumbers: true`; rejects anything beyond 2^53.
 *
 * @example
 * ```ts
 * import { integerReply } from '@hyx/distributed';
 * integerReply(42); // 42
 * integerReply('42'); // 42
 * ```
 */
export function integerReply(reply: unknown): number {
  const value = typeof reply === 'string' && /^-?\d+$/.test(reply) ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`expected an integer, got ${typeof reply}`);
  }
  return value;
}

/**
 * Checks that a reply is an array of exactly `length` elements and returns it.
 *
 * @example
 * ```ts
 * import { arrayReply, integerReply } from '@hyx/distributed';
 * const [allowed, remaining] = arrayReply([1, 9], 2).map(integerReply);
 * ```
 */
export function arrayReply(reply: unknown, length: number): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError(`expected an array of ${length}, got ${typeof reply}`);
  if (reply.length !== length)
    throw new TypeError(`expected an array of ${length}, got ${reply.length} elements`);
  return reply;
}
