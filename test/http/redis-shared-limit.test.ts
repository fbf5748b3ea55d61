import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startRedis, type RedisServer } from '../support/redis-harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(ROOT, 'test/http/fixtures/limited-server.ts');
const LIMIT = 4;

let redis: RedisServer;
const children: ChildProcess[] = [];
const urls: string[] = [];

async function startServer(kind: 'express' | 'fastify'): Promise<string> {
  const child = fork(FIXTURE, [], {
    cwd: ROOT,
    execArgv: ['--conditions=source', '--import', 'tsx'],
    env: { ...process.env, SERVER_KIND: kind, REDIS_PORT: String(redis.port), LIMIT: String(LIMIT) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const [message] = (await once(child, 'message')) as [{ type: string; url: string }];
  return message.url;
}

beforeAll(async () => {
  redis = await startRedis();
  urls.push(...(await Promise.all([startServer('express'), startServer('fastify')])));
});

afterAll(async () => {
  for (const child of children) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  await redis.stop();
});

describe('a Redis rate limiter shared by an Express and a Fastify process', () => {
  it('admits exactly the limit across both servers, with the shared remaining in RateLimit', async () => {
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    for (let index = 0; index < 2 * LIMIT; index++) {
      const response = await fetch(urls[index % 2]!);
      statuses.push(response.status);
      remaining.push(response.headers.get('ratelimit')?.replace(/;t=\d+$/, '') ?? null);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    expect(remaining).toEqual([
      '"shared";r=3',
      '"shared";r=2',
      '"shared";r=1',
      '"shared";r=0',
      '"shared";r=0',
      '"shared";r=0',
      '"shared";r=0',
      '"shared";r=0',
    ]);
  });

  it('answers 503 on both servers once Redis is gone (the limiter rejects on backend failure)', async () => {
    await redis.kill();
    const responses = await Promise.all(urls.map((url) => fetch(url)));
    expect(responses.map((response) => response.status)).toEqual([503, 503]);
    expect(responses.map((response) => response.headers.get('ratelimit'))).toEqual([null, null]);
  });
});
