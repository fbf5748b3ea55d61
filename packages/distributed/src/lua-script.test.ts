import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { LUA_SCRIPTS } from './lua.generated.js';
import { LuaReplyError, arrayReply, integerReply } from './lua-reply.js';
import { LuaScript, isNoScriptError } from './lua-script.js';
import type { LuaArgument, RedisLike } from './redis-like.js';

type Call = readonly ['evalsha' | 'eval', string, number, ...LuaArgument[]];

/** A client that records every call and answers from a queue (an Error rejects). */
function scriptedClient(...answers: unknown[]): RedisLike & { readonly calls: Call[] } {
  const calls: Call[] = [];
  const answer = async (call: Call) => {
    calls.push(call);
    const next: unknown = answers.shift();
    if (next instanceof Error) throw next;
    return next;
  };
  return {
    calls,
    evalsha: (sha1, numkeys, ...rest) => answer(['evalsha', sha1, numkeys, ...rest]),
    eval: (source, numkeys, ...rest) => answer(['eval', source, numkeys, ...rest]),
  };
}

const noScript = () => new Error('NOSCRIPT No matching script. Please use EVAL.');

const incrSource = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
const incr = new LuaScript({
  name: 'test/incr',
  source: incrSource,
  keys: { count: 1, isVariadic: false },
  args: { count: 1, isVariadic: false },
  decode: (reply) => integerReply(reply),
});
const incrSha1 = createHash('sha1').update(incrSource).digest('hex');
const key = 'hyx:{test:a}:counter';

describe('LuaScript.run', () => {
  it('sends one EVALSHA with the SHA1, the key count, the keys and the args', async () => {
    const client = scriptedClient(3);
    expect(await incr.run(client, [key], [2])).toBe(3);
    expect(client.calls).toEqual([['evalsha', incrSha1, 1, key, 2]]);
  });

  it('after NOSCRIPT sends exactly one EVAL of the source with the same keys and args', async () => {
    const client = scriptedClient(noScript(), 1);
    expect(await incr.run(client, [key], [1])).toBe(1);
    expect(client.calls).toEqual([
      ['evalsha', incrSha1, 1, key, 1],
      ['eval', incrSource, 1, key, 1],
    ]);
  });

  it('rethrows any other error without an EVAL: the script may have run', async () => {
    const client = scriptedClient(new Error('Command timed out'));
    await expect(incr.run(client, [key], [1])).rejects.toThrow('Command timed out');
    expect(client.calls).toHaveLength(1);
  });

  it('rethrows an error of the EVAL without a third call', async () => {
    const client = scriptedClient(noScript(), new Error('NOSCRIPT again'));
    await expect(incr.run(client, [key], [1])).rejects.toThrow('NOSCRIPT again');
    expect(client.calls).toHaveLength(2);
  });

  it('wraps a reply of the wrong shape in a LuaReplyError naming the script and the reply', async () => {
    const error: unknown = await incr
      .run(scriptedClient('not a number'), [key], [1])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LuaReplyError);
    expect((error as LuaReplyError).message).toBe(
      'Lua script "test/incr" gave an unexpected reply (expected an integer, got string): "not a number"',
    );
    expect((error as LuaReplyError).reply).toBe('not a number');
  });

  it.each([
    ['too many keys', [key, key], [1], /expected 1 KEYS, got 2/],
    ['too few args', [key], [], /expected 1 ARGV, got 0/],
    ['a NaN argument', [key], [Number.NaN], /ARGV\[1\] must be a finite number, got NaN/],
  ])('sends nothing for %s', async (_, keys, args, message) => {
    const client = scriptedClient();
    await expect(incr.run(client, keys, args)).rejects.toThrow(message);
    expect(client.calls).toHaveLength(0);
  });

  it('sends nothing for keys in two Cluster slots', async () => {
    const pair = new LuaScript({ name: 'test/pair', source: 'return 1', decode: integerReply });
    const client = scriptedClient();
    await expect(pair.run(client, ['hyx:{t:a}:x', 'hyx:{t:b}:x'], [])).rejects.toThrow(/one Cluster slot/);
    expect(client.calls).toHaveLength(0);
  });

  it('accepts variadic KEYS from the declared minimum on', async () => {
    const many = new LuaScript({
      name: 'test/many',
      source: 'return #KEYS',
      keys: { count: 1, isVariadic: true },
      decode: integerReply,
    });
    expect(await many.run(scriptedClient(2), ['hyx:{t:a}:x', 'hyx:{t:a}:y'], [])).toBe(2);
    await expect(many.run(scriptedClient(), [], [])).rejects.toThrow(/expected at least 1 KEYS, got 0/);
  });
});

describe('LuaScript', () => {
  it('refuses a SHA1 that does not match the source', () => {
    expect(
      () => new LuaScript({ name: 'test/x', source: 'return 1', sha1: 'f'.repeat(40), decode: integerReply }),
    ).toThrow(/hashes to e0e1f9fabfc9d4800c877a703b823ac0578ff8db, not the given f{40}/);
  });

  it('accepts every embedded script: its SHA1 is the SHA1 of its source', () => {
    for (const script of Object.values(LUA_SCRIPTS)) {
      expect(new LuaScript({ ...script, decode: (reply) => reply }).sha1).toBe(script.sha1);
    }
  });
});

describe('RedisLike', () => {
  it('is satisfied by ioredis Redis and Cluster as they are', () => {
    expectTypeOf<Redis>().toExtend<RedisLike>();
    expectTypeOf<Cluster>().toExtend<RedisLike>();
  });
});

describe('isNoScriptError', () => {
  it('recognises only the NOSCRIPT reply', () => {
    expect(isNoScriptError(noScript())).toBe(true);
    expect(isNoScriptError(new Error('ERR Error running script'))).toBe(false);
    expect(isNoScriptError('NOSCRIPT')).toBe(false);
  });
});

describe('reply decoders', () => {
  it('integerReply takes numbers and decimal strings (stringNumbers), nothing else', () => {
    expect(integerReply(7)).toBe(7);
    expect(integerReply('-7')).toBe(-7);
    expect(() => integerReply(1.5)).toThrow(/expected an integer, got number/);
    expect(() => integerReply('9007199254740993')).toThrow(/expected an integer/);
    expect(() => integerReply(null)).toThrow(/expected an integer, got object/);
  });

  it('arrayReply checks the length', () => {
    expect(arrayReply([1, 2], 2)).toEqual([1, 2]);
    expect(() => arrayReply([1], 2)).toThrow(/expected an array of 2, got 1 elements/);
    expect(() => arrayReply('x', 2)).toThrow(/expected an array of 2, got string/);
  });
});
