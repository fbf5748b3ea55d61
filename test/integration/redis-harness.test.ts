import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCluster,
  startPrimaryWithReplica,
  startRedis,
  stopAllRedis,
  type RedisClusterHandle,
  type RedisServer,
  type ReplicatedRedis,
} from '../support/redis-harness.js';
import { sendCommand } from '../support/resp-command.js';

describe('redis harness: a single server', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('binds loopback on a port of its own, keeps nothing on disk, and answers', async () => {
    expect(server.port).not.toBe(6379);
    expect(await server.command('PING')).toBe('PONG');
    expect(await server.command('CONFIG', 'GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(await server.command('CONFIG', 'GET', 'save')).toEqual(['save', '']);
    expect(await server.command('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'no']);
    const redis = server.connect();
    await redis.set('hyx:{harness:a}:value', '42');
    expect(await redis.get('hyx:{harness:a}:value')).toBe('42');
  });

  it('kills the process with SIGKILL and restarts it empty on the same port', async () => {
    await server.command('SET', 'hyx:{harness:b}:value', '1');
    const { port, pid } = server;

    await server.kill();
    expect(server.isRunning).toBe(false);
    await expect(server.command('PING')).rejects.toThrow();

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    expect(await server.command('PING')).toBe('PONG');
    expect(await server.command('GET', 'hyx:{harness:b}:value')).toBeNull();
  });

  it('pauses the process (no reply at all) and resumes it', async () => {
    server.pause();
    try {
      // A stopped process accepts nothing and answers nothing: any timeout fires.
      await expect(sendCommand({ host: server.host, port: server.port }, ['PING'], 300)).rejects.toThrow(
        /no reply within 300 ms/,
      );
    } finally {
      server.resume();
    }
    expect(await server.command('PING')).toBe('PONG');
  });

  it('flushes the script cache', async () => {
    const sha1 = String(await server.command('SCRIPT', 'LOAD', 'return 1'));
    expect(await server.command('SCRIPT', 'EXISTS', sha1)).toEqual([1]);
    await server.scriptFlush();
    expect(await server.command('SCRIPT', 'EXISTS', sha1)).toEqual([0]);
  });
});

describe('redis harness: a password', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis({ password: 'harness-secret' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('refuses clients without it and serves clients with it', async () => {
    await expect(
      sendCommand({ host: server.host, port: server.port }, ['GET', 'hyx:{harness:c}:x']),
    ).rejects.toThrow(/NOAUTH/);
    const redis = server.connect();
    expect(await redis.ping()).toBe('PONG');
  });
});

describe('redis harness: a primary with a replica', () => {
  let pair: ReplicatedRedis;

  beforeAll(async () => {
    pair = await startPrimaryWithReplica();
  });
  afterAll(async () => {
    await pair.stop();
  });

  it('replicates writes from the primary to the replica', async () => {
    const primary = pair.primary.connect();
    const replica = pair.replica.connect();
    await primary.set('hyx:{harness:d}:value', 'replicated');
    // WAIT returns once one replica acknowledged the write; 0 = no time limit.
    expect(await primary.wait(1, 0)).toBe(1);
    expect(await replica.get('hyx:{harness:d}:value')).toBe('replicated');
    expect(String(await pair.replica.command('INFO', 'replication'))).toContain('role:slave');
  });
});

describe('redis harness: a 3-master cluster', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('reports cluster_state:ok with every slot assigned over three masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const owners = await Promise.all([0, 8192, 16383].map((slot) => cluster.nodeOwning(slot)));
    expect(new Set(owners.map((node) => node.port)).size).toBe(3);
    for (const node of cluster.nodes) {
      expect(String(await node.command('CLUSTER', 'INFO'))).toContain('cluster_state:ok');
    }
  });

  it('serves a Cluster client, and a killed and restarted master rejoins', async () => {
    const client = cluster.connect();
    await client.set('hyx:{harness:e}:value', 'before');
    const owner = await cluster.nodeOwning(await cluster.keySlot('hyx:{harness:e}:value'));

    await owner.kill();
    await owner.restart();
    await cluster.waitUntilOk();

    // No persistence: the restarted master comes back empty but still owns its slots.
    const fresh = cluster.connect();
    expect(await fresh.get('hyx:{harness:e}:value')).toBeNull();
    await fresh.set('hyx:{harness:e}:value', 'after');
    expect(await owner.command('GET', 'hyx:{harness:e}:value')).toBe('after');
  });
});

describe('redis harness: without redis-server', () => {
  it('fails with a message naming how to install it', async () => {
    const path = process.env['PATH'];
    process.env['PATH'] = '';
    // startRedis looks redis-server up before its first await, so PATH is restored right after.
    const starting = startRedis();
    process.env['PATH'] = path;
    await expect(starting).rejects.toThrow(
      /redis-server was not found on PATH.*apt-get install redis-server/s,
    );
  });
});

describe('redis harness: stopAllRedis', () => {
  it('stops every server this process started and has not stopped', async () => {
    const servers = await Promise.all([startRedis(), startRedis()]);
    await stopAllRedis();
    for (const server of servers) {
      expect(server.isRunning).toBe(false);
      await expect(sendCommand({ host: server.host, port: server.port }, ['PING'])).rejects.toThrow();
    }
  });
});
