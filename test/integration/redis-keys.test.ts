import { LuaScript, MAX_LITERAL_KEY_BYTES, RedisKeyspace, arrayReply, hashSlotOf } from '@hyx/distributed';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RedisClusterHandle } from '../support/redis-harness.js';

const keyspace = new RedisKeyspace({
  pattern: 'test',
  name: 'keys:{test}',
  parts: ['first', 'second', 'third'],
});

/** Writes its key's name into each key and reads them all back: a multi-key operation in one call. */
const touchAll = new LuaScript({
  name: 'test/touch-all',
  source: [
    'local values = {}',
    'for index, key in ipairs(KEYS) do',
    '  redis.call("SET", key, key, "PX", 60000)',
    '  values[index] = redis.call("GET", key)',
    'end',
    'return values',
  ].join('\n'),
  keys: { count: 1, isVariadic: true },
  args: { count: 0, isVariadic: false },
  decode: (reply) => arrayReply(reply, 3).map(String),
});

const awkwardKeys: readonly [string, string][] = [
  ['an empty key', ''],
  ['a key full of braces', '{}'.repeat(2048)],
  ['a 10 KB key', 'k'.repeat(10 * 1024)],
  ['a key just at the literal limit', 'x'.repeat(MAX_LITERAL_KEY_BYTES)],
  ['a key of colons and percent signs', '::%7B%%}'],
  ['a key in other scripts', 'ключ-鍵-🔑'],
];

describe('redis keys on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('computes the slot CLUSTER KEYSLOT computes, for any well-formed key', async () => {
    const samples = fc.sample(
      fc.oneof(
        fc.string({ unit: fc.constantFrom('{', '}', 'a', 'b', ':', 'é'), maxLength: 12 }),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
      ),
      { numRuns: 300, seed: 4 },
    );
    for (const key of [...samples, ...awkwardKeys.flatMap(([, userKey]) => keyspace.keysFor(userKey))]) {
      expect({ key, slot: hashSlotOf(key) }).toEqual({ key, slot: await cluster.keySlot(key) });
    }
  });

  it('spreads the keys of different user keys over every master', async () => {
    const owners = new Set<number>();
    for (let index = 0; index < 30; index++) {
      owners.add((await cluster.nodeOwning(hashSlotOf(keyspace.keyFor(`user-${index}`, 'first')))).port);
    }
    expect(owners.size).toBe(3);
  });

  it.each(awkwardKeys)('puts every part of %s in one slot and one script call', async (_, userKey) => {
    const keys = keyspace.keysFor(userKey);
    const slots = await Promise.all(keys.map((key) => cluster.keySlot(key)));
    expect(new Set(slots).size).toBe(1);
    for (const key of keys) expect(Buffer.byteLength(key)).toBeLessThan(MAX_LITERAL_KEY_BYTES + 100);

    const client = cluster.connect();
    expect(await touchAll.run(client, keys, [])).toEqual(keys);
    // The owner of the slot holds all three.
    const owner = await cluster.nodeOwning(slots[0] ?? -1);
    for (const key of keys) expect(await owner.command('GET', key)).toBe(key);
  });
});
