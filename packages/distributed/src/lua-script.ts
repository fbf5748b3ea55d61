import { createHash } from 'node:crypto';
import { assertOneSlot } from './redis-keys.js';
import type { LuaArgument, RedisLike } from './redis-like.js';
import { LuaReplyError } from './lua-reply.js';

/**
 * How many `KEYS` or `ARGV` a script takes: exactly `count`, or at least `count` when `isVariadic`.
 *
 * @example
 * ```ts
 * import type { LuaArity } from '@hyx/distributed';
 * const oneKey: LuaArity = { count: 1, isVariadic: false };
 * ```
 */
export interface LuaArity {
  /** The exact number, or the minimum when `isVariadic`. */
  readonly count: number;
  /** Whether more than `count` may follow (a script over several limits or keys). */
  readonly isVariadic: boolean;
}

/**
 * A script as `tools/embed-lua.js` embeds it in `lua.generated.ts`.
 *
 * @example
 * ```ts
 * import { LUA_SCRIPTS, type EmbeddedLuaScript } from '@hyx/distributed';
 * const serverTime: EmbeddedLuaScript = LUA_SCRIPTS['clock/server-time'];
 * ```
 */
export interface EmbeddedLuaScript {
  /** The path under `scripts/lua/` without `.lua`: `'<pattern>/<operation>'`. */
  readonly name: string;
  /** The exact file content, what EVAL sends. */
  readonly source: string;
  /** SHA1 of `source` in hex, what EVALSHA sends and SCRIPT LOAD answers. */
  readonly sha1: string;
  /** The `KEYS` the header declares. */
  readonly keys: LuaArity;
  /** The `ARGV` the header declares. */
  readonly args: LuaArity;
  /** The Redis commands the script calls, uppercase: an ACL user must be allowed all of them. */
  readonly commands: readonly string[];
}

/**
 * What a {@link LuaScript} is built from: a script (embedded or inline) and the one function that
 * checks and decodes its reply.
 *
 * @example
 * ```ts
 * import { integerReply, type LuaScriptDefinition } from '@hyx/distributed';
 * const definition: LuaScriptDefinition<number> = {
 *   name: 'example/incr',
 *   source: "return redis.call('INCR', KEYS[1])",
 *   keys: { count: 1, isVariadic: false },
 *   decode: (reply) => integerReply(reply),
 * };
 * ```
 */
export interface LuaScriptDefinition<TReply> {
  /** Names the script in errors. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** The expected SHA1 of `source`; when given, a mismatch throws at construction. */
  readonly sha1?: string | undefined;
  /** The `KEYS` the script takes; when given, every call is checked against it. */
  readonly keys?: LuaArity | undefined;
  /** The `ARGV` the script takes; when given, every call is checked against it. */
  readonly args?: LuaArity | undefined;
  /**
   * Checks the raw reply and turns it into the result: throw (any error) on a shape the script
   * cannot produce; {@link LuaScript.run} wraps it in a {@link LuaReplyError}.
   */
  readonly decode: (reply: unknown) => TReply;
}

/**
 * Whether an error is Redis's NOSCRIPT answer: the server does not have the script cached (it was
 * restarted, failed over, or its cache was flushed), so the script **did not run**.
 *
 * @example
 * ```ts
 * import { isNoScriptError } from '@hyx/distributed';
 * isNoScriptError(new Error('NOSCRIPT No matching script. Please use EVAL.')); // true
 * ```
 */
export function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

function checkArity(
  script: string,
  table: 'KEYS' | 'ARGV',
  arity: LuaArity | undefined,
  actual: number,
): void {
  if (arity === undefined) return;
  const isValid = arity.isVariadic ? actual >= arity.count : actual === arity.count;
  if (!isValid) {
    const expected = arity.isVariadic ? `at least ${arity.count}` : String(arity.count);
    throw new TypeError(`Lua script "${script}": expected ${expected} ${table}, got ${actual}`);
  }
}

/**
 * One atomic Redis operation. {@link LuaScript.run} sends EVALSHA and, only when the server
 * answers NOSCRIPT (the script did not run), sends EVAL once with the same keys: so a call has at
 * most one effect, and on a Cluster the EVAL goes where the keys live, like the EVALSHA did.
 *
 * It never calls `defineCommand` or changes the client. Keys must share one Cluster slot (checked on
 * every call, on every deployment); numbers in `ARGV` must be finite.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { LuaScript, integerReply } from '@hyx/distributed';
 * const incr = new LuaScript({
 *   name: 'example/incr',
 *   source: "return redis.call('INCR', KEYS[1])",
 *   decode: (reply) => integerReply(reply),
 * });
 * const redis = new Redis({ host: '127.0.0.1', port: 6380 });
 * const count: number = await incr.run(redis, ['hyx:{example:a}:counter'], []);
 * ```
 */
export class LuaScript<TReply> {
  /** Names the script in errors. */
  readonly name: string;
  /** The Lua source, sent by EVAL after a NOSCRIPT. */
  readonly source: string;
  /** SHA1 of the source in hex, sent by EVALSHA. */
  readonly sha1: string;
  readonly #keys: LuaArity | undefined;
  readonly #args: LuaArity | undefined;
  readonly #decode: (reply: unknown) => TReply;

  constructor(definition: LuaScriptDefinition<TReply>) {
    const sha1 = createHash('sha1').update(definition.source, 'utf8').digest('hex');
    if (definition.sha1 !== undefined && definition.sha1 !== sha1) {
      throw new Error(
        `Lua script "${definition.name}": its source hashes to ${sha1}, not the given ${definition.sha1}; run \`npm run lua:embed\``,
      );
    }
    this.name = definition.name;
    this.source = definition.source;
    this.sha1 = sha1;
    this.#keys = definition.keys;
    this.#args = definition.args;
    this.#decode = definition.decode;
  }

  /**
   * Runs the script on the node that owns `keys` and decodes its reply. Rejects with the client's
   * error when Redis fails (after at most one EVALSHA and one EVAL), with a `TypeError`/`RangeError`
   * for a call that breaks the script's contract (nothing is sent), and with a
   * {@link LuaReplyError} when the reply has an unexpected shape.
   */
  run(client: RedisLike, keys: readonly string[], args: readonly LuaArgument[]): Promise<TReply> {
    let sent: Promise<unknown>;
    try {
      sent = this.send(client, keys, args);
    } catch (error) {
      return Promise.reject(error);
    }
    return sent.then((reply) => this.decode(reply));
  }

  /**
   * What {@link LuaScript.run} does before decoding: checks the call (throwing at once, nothing
   * sent, on a call that breaks the script's contract) and returns the raw reply of EVALSHA, or of
   * one EVAL after NOSCRIPT. For a caller on every decision that settles the reply itself: no
   * decoding step of its own, so one promise reaction less per call; pass the reply to
   * {@link LuaScript.decode}.
   */
  send(client: RedisLike, keys: readonly string[], args: readonly LuaArgument[]): Promise<unknown> {
    checkArity(this.name, 'KEYS', this.#keys, keys.length);
    checkArity(this.name, 'ARGV', this.#args, args.length);
    assertOneSlot(keys);
    // One array, built by index: this runs on every decision, so no iterator or spread copies.
    const keyCount = keys.length;
    const keysAndArgs: LuaArgument[] = new Array<LuaArgument>(keyCount + args.length);
    for (let index = 0; index < keyCount; index++) keysAndArgs[index] = keys[index] as string;
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] as LuaArgument;
      if (typeof arg === 'number' && !Number.isFinite(arg)) {
        throw new RangeError(
          `Lua script "${this.name}": ARGV[${index + 1}] must be a finite number, got ${arg}`,
        );
      }
      keysAndArgs[keyCount + index] = arg;
    }
    return client.evalsha(this.sha1, keyCount, ...keysAndArgs).catch((error: unknown) => {
      // NOSCRIPT is the only error after which the script certainly did not run: send it once in
      // full. Any other error (including a timeout, after which it may have run) is the caller's.
      if (!isNoScriptError(error)) throw error;
      return client.eval(this.source, keyCount, ...keysAndArgs);
    });
  }

  /** Checks and decodes a raw reply of this script; throws a {@link LuaReplyError} on a shape it cannot produce. */
  decode(reply: unknown): TReply {
    try {
      return this.#decode(reply);
    } catch (error) {
      throw new LuaReplyError(this.name, reply, error);
    }
  }
}
