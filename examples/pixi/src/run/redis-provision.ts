/**
 * Where Pixi's Redis comes from: `--redis-url`/`REDIS_URL` when given; otherwise a private
 * `redis-server` from PATH on a free loopback port, stopped at the end; otherwise none, and Pixi
 * runs in-process. A private server keeps nothing on disk and is never a server someone else runs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { Redis } from 'ioredis';

import { entryPath } from './child-process.js';

/** How long a private server may take to answer PING: a bound against a hang. */
const READY_TIMEOUT_MS = 15_000;

/** The Redis Pixi runs against, or why it runs without one. */
export type RedisProvision =
  | {
      readonly mode: 'redis';
      readonly url: string;
      readonly origin: 'given' | 'private';
      stop(): Promise<void>;
    }
  | { readonly mode: 'in-process'; readonly reason: string };

/** The first `redis-server` on PATH, if any. */
function findRedisServer(pathVariable = process.env['PATH'] ?? ''): string | undefined {
  for (const directory of pathVariable.split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

async function answersPing(url: string, timeoutMs: number): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function startPrivateServer(binary: string): Promise<RedisProvision> {
  const port = await freePort();
  const directory = mkdtempSync(path.join(os.tmpdir(), 'pixi-redis-'));
  // Through a keeper process: if this process dies without a word (SIGKILL), the keeper loses
  // its channel to us and takes the server down, which redis-server alone would never notice.
  const keeper = entryPath('run/redis-keeper');
  const child: ChildProcess = fork(
    keeper.path,
    [
      binary,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      directory,
    ],
    { execArgv: keeper.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const url = `redis://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await answersPing(url, 500)) return { mode: 'redis', url, origin: 'private', stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(
    `the private redis-server (${binary}) did not answer PING on port ${port}; ` +
      `run \`${binary} --port ${port}\` to see why, or set REDIS_URL to a Redis you run`,
  );
}

/** Decides where Redis comes from; see the module comment. */
export async function provisionRedis(givenUrl: string | undefined): Promise<RedisProvision> {
  if (givenUrl !== undefined) {
    if (!(await answersPing(givenUrl, 2_000))) {
      throw new Error(
        `no Redis answers at ${givenUrl} (from --redis-url or REDIS_URL): start one there, or ` +
          'leave both unset to use a private redis-server from PATH (or, without one, local policies)',
      );
    }
    return { mode: 'redis', url: givenUrl, origin: 'given', stop: () => Promise.resolve() };
  }
  const binary = findRedisServer();
  if (binary === undefined) {
    return { mode: 'in-process', reason: 'no redis-server on PATH and no REDIS_URL' };
  }
  return startPrivateServer(binary);
}
