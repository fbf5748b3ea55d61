import { readFileSync } from 'node:fs';
import {
  LUA_COMMANDS,
  LuaScript,
  RedisKeyspace,
  hashSlotOf,
  integerReply,
  serverTimeMs,
} from '@hyx/distributed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCluster,
  startRedis,
  type AclUser,
  type RedisClusterHandle,
  type RedisServer,
} from '../support/redis-harness.js';
import { sendCommand } from '../support/resp-command.js';

/**
 * The ACL that docs/distributed.md tells users to create, read from the page itself, so the page
 * and the tests cannot drift apart.
 */
function documentedAcl(): { readonly name: string; readonly rules: readonly string[] } {
  const page = readFileSync(new URL('../../docs/distributed.md', import.meta.url), 'utf8');
  const match = /^ACL SETUSER (\S+) on >\S+ (.+)$/m.exec(page);
  if (!match?.[1] || !match[2])
    throw new Error('docs/distributed.md has no "ACL SETUSER <name> on ><password> ..." line');
  return { name: match[1], rules: match[2].trim().split(/\s+/) };
}

const acl = documentedAcl();
const hyxUser: AclUser = { name: acl.name, password: 'hyx-user-secret', rules: acl.rules };
/** The documented rules plus GET, to show that the key pattern alone keeps other keys out. */
const readerUser: AclUser = { name: 'hyx-reader', password: 'reader-secret', rules: [...acl.rules, '+get'] };
const adminPassword = 'admin-secret';

const keyspace = new RedisKeyspace({ pattern: 'test', name: 'acl', parts: ['state'] });

/** A script calling a command that no hyx script needs, so the documented ACL does not allow it. */
const dbSizeScript = new LuaScript({
  name: 'test/dbsize',
  source: "return redis.call('DBSIZE')",
  decode: integerReply,
});

describe('the documented ACL', () => {
  it('allows every command a hyx script calls, and nothing dangerous', () => {
    for (const command of LUA_COMMANDS) expect(acl.rules).toContain(`+${command.toLowerCase()}`);
    expect(acl.rules).toEqual(expect.arrayContaining(['~hyx:*', '-@all', '+evalsha', '+eval']));
    expect(acl.rules.filter((rule) => /^\+@|allkeys|allcommands|^~\*$/.test(rule))).toEqual([]);
  });
});

describe('Redis AUTH and the documented ACL user on a single Redis', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis({ password: adminPassword, users: [hyxUser, readerUser] });
  });
  afterAll(async () => {
    await server.stop();
  });

  const connectAs = (user: AclUser) =>
    // The documented user may not run INFO, ioredis's ready check: docs/distributed.md says to turn it off.
    server.connect({ username: user.name, password: user.password, enableReadyCheck: false });

  it('refuses a wrong password and an unauthenticated client', async () => {
    await expect(
      sendCommand({ host: server.host, port: server.port, username: hyxUser.name, password: 'wrong' }, [
        'PING',
      ]),
    ).rejects.toThrow(/WRONGPASS/);
    await expect(sendCommand({ host: server.host, port: server.port }, ['PING'])).rejects.toThrow(/NOAUTH/);
  });

  it('runs the hyx scripts, including the first run after a flush (EVAL)', async () => {
    const redis = connectAs(hyxUser);
    const key = keyspace.keyFor('user-1', 'state');
    await server.scriptFlush();
    expect(await serverTimeMs(redis, key)).toBeGreaterThan(0);
    expect(await serverTimeMs(redis, key)).toBeGreaterThan(0);
  });

  it('cannot touch a key outside hyx:*, directly or through a script', async () => {
    const redis = connectAs(hyxUser);
    await expect(redis.set('other:key', '1')).rejects.toThrow(/NOPERM/);
    await expect(serverTimeMs(redis, 'other:key')).rejects.toThrow(/NOPERM/);

    const reader = connectAs(readerUser);
    await server.command('SET', 'other:key', 'secret');
    await server.command('SET', keyspace.keyFor('user-2', 'state'), 'visible');
    expect(await reader.get(keyspace.keyFor('user-2', 'state'))).toBe('visible');
    await expect(reader.get('other:key')).rejects.toThrow(/NOPERM/);
  });

  it('cannot run a command outside the list, not even from a script', async () => {
    const redis = connectAs(hyxUser);
    await expect(redis.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
    await expect(redis.call('KEYS', '*')).rejects.toThrow(/NOPERM/);
    await expect(dbSizeScript.run(redis, [keyspace.keyFor('user-3', 'state')], [])).rejects.toThrow(
      /can't run this command/,
    );
  });

  it('still serves the default user with the password', async () => {
    const admin = server.connect();
    expect(await admin.ping()).toBe('PONG');
  });
});

describe('the documented ACL user on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;

  beforeAll(async () => {
    cluster = await startCluster({ password: adminPassword, users: [hyxUser] });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('runs a script on every master through a Cluster client', async () => {
    const client = cluster.connect({
      redisOptions: { username: hyxUser.name, password: hyxUser.password, enableReadyCheck: false },
    });
    const owners = new Set<number>();
    for (let index = 0; owners.size < 3; index++) {
      const key = keyspace.keyFor(`user-${index}`, 'state');
      expect(await serverTimeMs(client, key)).toBeGreaterThan(0);
      owners.add((await cluster.nodeOwning(hashSlotOf(key))).port);
    }
    await expect(dbSizeScript.run(client, [keyspace.keyFor('user-0', 'state')], [])).rejects.toThrow(
      /can't run this command/,
    );
  });
});
