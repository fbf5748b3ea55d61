import {
  LUA_SCRIPTS,
  LuaScript,
  RedisKeyspace,
  hashSlotOf,
  integerReply,
  serverTimeMs,
  type RedisLike,
} from '@hyx/distributed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCluster,
  startRedis,
  type RedisClusterHandle,
  type RedisServer,
} from '../support/redis-harness.js';

/** INCRBY with a TTL: an effect we can count, so a second run of one call would show. */
const incrementScript = new LuaScript({
  name: 'test/increment',
  source: [
    'local value = redis.call("INCRBY", KEYS[1], ARGV[1])',
    'redis.call("PEXPIRE", KEYS[1], ARGV[2])',
    'return value',
  ].join('\n'),
  keys: { count: 1, isVariadic: false },
  args: { count: 2, isVariadic: false },
  decode: (reply) => integerReply(reply),
});

const counters = new RedisKeyspace({ pattern: 'test', name: 'lua-script', parts: ['counter'] });

const increment = (client: RedisLike, key: string) => incrementScript.run(client, [key], [1, 60_000]);

/** How many times the server ran a command, from INFO commandstats (0 when never). */
async function callsOf(server: RedisServer, command: 'eval' | 'evalsha'): Promise<number> {
  const stats = String(await server.command('INFO', 'commandstats'));
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
}

describe('LuaScript on a single Redis', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('loads every embedded script under its embedded SHA1', async () => {
    for (const script of Object.values(LUA_SCRIPTS)) {
      expect(await server.command('SCRIPT', 'LOAD', script.source)).toBe(script.sha1);
    }
  });

  it('runs a cached script with EVALSHA alone', async () => {
    const redis = server.connect();
    const key = counters.keyFor('evalsha', 'counter');
    await increment(redis, key); // caches the script, by EVAL if it was not yet
    await server.command('CONFIG', 'RESETSTAT');

    expect(await increment(redis, key)).toBe(2);
    expect(await callsOf(server, 'evalsha')).toBe(1);
    expect(await callsOf(server, 'eval')).toBe(0);
  });

  it('recovers from SCRIPT FLUSH with one EVAL and exactly one effect', async () => {
    const redis = server.connect();
    const key = counters.keyFor('flush', 'counter');
    expect(await increment(redis, key)).toBe(1);

    await server.scriptFlush();
    await server.command('CONFIG', 'RESETSTAT');
    expect(await increment(redis, key)).toBe(2);

    expect(await server.command('GET', key)).toBe('2');
    expect(await callsOf(server, 'eval')).toBe(1);
    // The next call finds the script cached again.
    expect(await increment(redis, key)).toBe(3);
    expect(await callsOf(server, 'eval')).toBe(1);
  });

  it('recovers after a restart (empty script cache) with no manual step', async () => {
    const redis = server.connect();
    const key = counters.keyFor('restart', 'counter');
    expect(await increment(redis, key)).toBe(1);

    await server.restart();
    // The same client reconnects; the restarted server has neither the data nor the script.
    expect(await increment(redis, key)).toBe(1);
    expect(await server.command('GET', key)).toBe('1');
  });

  it('reads the server clock', async () => {
    const redis = server.connect();
    const before = Date.now();
    const nowMs = await serverTimeMs(redis, counters.keyFor('time', 'counter'));
    const after = Date.now();
    // Same host, same clock: only TIME's and Date.now's granularity separate them.
    expect(nowMs).toBeGreaterThanOrEqual(before - 1);
    expect(nowMs).toBeLessThanOrEqual(after + 1);
  });
});

describe('LuaScript on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  /** One key per master, so every node runs the script. */
  let keysByNode: Map<RedisServer, string>;

  beforeAll(async () => {
    cluster = await startCluster();
    keysByNode = new Map();
    for (let index = 0; keysByNode.size < cluster.nodes.length; index++) {
      const key = counters.keyFor(`user-${index}`, 'counter');
      const owner = await cluster.nodeOwning(hashSlotOf(key));
      if (!keysByNode.has(owner)) keysByNode.set(owner, key);
    }
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('runs on the master that owns each key, and recovers from SCRIPT FLUSH on every master exactly once', async () => {
    const client = cluster.connect();
    for (const key of keysByNode.values()) expect(await increment(client, key)).toBe(1);

    await Promise.all(cluster.nodes.map((node) => node.scriptFlush()));
    await Promise.all(cluster.nodes.map((node) => node.command('CONFIG', 'RESETSTAT')));
    for (const key of keysByNode.values()) expect(await increment(client, key)).toBe(2);

    for (const [node, key] of keysByNode) {
      // The effect happened on the owner, once: its own copy of the key says 2, and it ran one EVAL.
      expect(await node.command('GET', key)).toBe('2');
      expect(await callsOf(node, 'eval')).toBe(1);
    }
  });

  it('reads the clock of the node that owns the key', async () => {
    const client = cluster.connect();
    for (const key of keysByNode.values()) {
      const before = Date.now();
      const nowMs = await serverTimeMs(client, key);
      expect(nowMs).toBeGreaterThanOrEqual(before - 1);
      expect(nowMs).toBeLessThanOrEqual(Date.now() + 1);
    }
  });
});
