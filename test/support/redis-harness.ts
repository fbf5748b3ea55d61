/**
 * Starts and controls real `redis-server` processes for the integration and fault tests: a single
 * node, a primary with a replica, a 3-master Cluster. Every server binds 127.0.0.1 on a free port,
 * keeps nothing on disk (`save ""`, `appendonly no`) and lives in its own temp directory.
 *
 * Tests only ever touch servers started here: a server on 6379 (or any other) is never contacted.
 * Cleanup is explicit (`stop()`, {@link stopAllRedis}) and also automatic: the process's `exit`,
 * SIGTERM (how Vitest stops its workers), SIGINT and SIGHUP kill every server it started, and each
 * harness reaps servers left by an earlier test process that died by SIGKILL.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { sendCommand, type RespReply } from './resp-command.js';
import { waitUntil } from './wait-until.js';

const HOST = '127.0.0.1';
/** How long a server may take to answer PING after it starts: a bound against a hang, not a speed test. */
const READY_TIMEOUT_MS = 30_000;
const REGISTRY_DIR = path.join(os.tmpdir(), 'hyx-redis-harness');

/**
 * An ACL user the server starts with (`user <name> on ><password> <rules...>`).
 *
 * @example
 * ```ts
 * const user: AclUser = { name: 'hyx', password: 'secret', rules: ['~hyx:*', '-@all', '+evalsha'] };
 * ```
 */
export interface AclUser {
  readonly name: string;
  readonly password: string;
  /** ACL rules, e.g. `['~hyx:*', 'resetchannels', '-@all', '+evalsha']`. */
  readonly rules: readonly string[];
}

/**
 * How to start a server.
 *
 * @example
 * ```ts
 * const server = await startRedis({ password: 'admin', config: { maxmemory: '64mb' } });
 * ```
 */
export interface RedisServerOptions {
  /** `requirepass`: the password of the `default` user, which the harness itself connects as. */
  readonly password?: string | undefined;
  /** ACL users besides `default`. */
  readonly users?: readonly AclUser[] | undefined;
  /** More `redis.conf` directives, e.g. `{ 'maxmemory': '64mb' }`. */
  readonly config?: Readonly<Record<string, string>> | undefined;
}

/**
 * How to start a Cluster: its nodes' options, and the node timeout.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ password: 'admin', nodeTimeoutMs: 1000 });
 * ```
 */
export interface RedisClusterOptions extends RedisServerOptions {
  /** `cluster-node-timeout`; default 3000 ms. */
  readonly nodeTimeoutMs?: number | undefined;
  /**
   * Replicas per master (`--cluster-replicas`); default 0. With 1, each master has a replica that
   * the Cluster promotes by itself when the master fails (about `nodeTimeoutMs` + 1 s later).
   */
  readonly replicasPerMaster?: 0 | 1 | undefined;
}

interface ServerRecord {
  readonly ownerPid: number;
  readonly pid: number;
  readonly configFile: string;
  readonly dir: string;
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

function requireCommand(command: 'redis-server' | 'redis-cli'): string {
  const found = findOnPath(command);
  if (found === undefined) {
    throw new Error(
      `${command} was not found on PATH. The Redis integration tests start their own servers on free ` +
        'loopback ports and need it installed: `apt-get install redis-server` (Debian/Ubuntu; it brings ' +
        'redis-cli) or `brew install redis` (macOS). `.ci/run` installs it when missing.',
    );
  }
  return found;
}

/** Quotes one `redis.conf` argument (the config parser understands C-style double quotes). */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/** Reserves `count` distinct free loopback ports (held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, HOST, () => {
            resolve(server);
          });
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(
    servers.map(
      (server) =>
        new Promise((resolve) => {
          server.close(resolve);
        }),
    ),
  );
  return ports;
}

const liveServers = new Set<RedisServer>();
let isExitHookInstalled = false;

function killAllNow(): void {
  for (const server of liveServers) {
    server.killNow();
    rmSync(server.dir, { recursive: true, force: true });
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  process.removeListener(signal, onSignal);
  // Re-raise so the process ends as it would have without us.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (isExitHookInstalled) return;
  isExitHookInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
  reapOrphans();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills servers that an earlier harness started and whose test process died without cleaning up
 * (SIGKILL). A server is only killed when its record names a dead owner and the process with
 * that pid runs in the record's temp directory, so a recycled pid is never touched.
 */
function reapOrphans(): void {
  let files: string[];
  try {
    files = readdirSync(REGISTRY_DIR);
  } catch {
    return;
  }
  for (const file of files) {
    const recordFile = path.join(REGISTRY_DIR, file);
    let record: ServerRecord;
    try {
      record = JSON.parse(readFileSync(recordFile, 'utf8')) as ServerRecord;
    } catch {
      continue; // Being written by a live harness right now, or unreadable: not ours to judge.
    }
    if (isAlive(record.ownerPid)) continue;
    try {
      // redis-server rewrites its command line and environment (its process title), but it runs in
      // the `dir` of its config: the harness's own temp directory.
      const workingDir = readlinkSync(`/proc/${record.pid}/cwd`).replace(/ \(deleted\)$/, '');
      if (workingDir === record.dir) process.kill(record.pid, 'SIGKILL');
    } catch {
      // The server is gone already.
    }
    removeServerDir(record.dir);
    rmSync(recordFile, { force: true });
  }
}

/** Removes the temp directory of a dead test process's server, but only a harness directory. */
function removeServerDir(dir: string): void {
  if (path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith('hyx-redis-')) {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One `redis-server` process the harness started. Its port and config survive {@link restart},
 * so clients reconnect to the same address.
 *
 * @example
 * ```ts
 * const server = await startRedis();
 * const redis = server.connect();
 * await redis.set('hyx:{t:a}:x', '1');
 * await server.stop();
 * ```
 */
export class RedisServer {
  readonly host = HOST;
  readonly port: number;
  /** The cluster bus port, when the server is a Cluster node. */
  readonly busPort: number | undefined;
  /** The temp directory holding its config, log and (Cluster) nodes.conf. */
  readonly dir: string;
  /** The `default` user's password, if any. */
  readonly password: string | undefined;
  readonly #configFile: string;
  readonly #recordFile: string;
  readonly #clients = new Set<Redis>();
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  /** @internal Use {@link startRedis}, {@link startPrimaryWithReplica} or {@link startCluster}. */
  constructor(port: number, busPort: number | undefined, dir: string, password: string | undefined) {
    this.port = port;
    this.busPort = busPort;
    this.dir = dir;
    this.password = password;
    this.#configFile = path.join(dir, 'redis.conf');
    this.#recordFile = path.join(REGISTRY_DIR, `${path.basename(dir)}.json`);
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Whether the process is running (a paused one is running). */
  get isRunning(): boolean {
    return this.#process !== undefined;
  }

  /** `host:port`, as redis-cli takes it. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** @internal Writes the config file; called once before the first start. */
  writeConfig(lines: readonly string[]): void {
    writeFileSync(this.#configFile, `${lines.join('\n')}\n`);
  }

  /** @internal Spawns the process and waits until it answers PING. */
  async launch(): Promise<void> {
    const child = spawn(requireCommand('redis-server'), [this.#configFile], { stdio: 'ignore' });
    // A server never keeps the test process alive; the exit hooks and stop() end it.
    child.unref();
    this.#process = child;
    liveServers.add(this);
    installExitHooks();
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.#process === child) this.#process = undefined;
        resolve();
      });
    });
    child.once('error', () => undefined);
    if (child.pid !== undefined) {
      mkdirSync(REGISTRY_DIR, { recursive: true });
      const record: ServerRecord = {
        ownerPid: process.pid,
        pid: child.pid,
        configFile: this.#configFile,
        dir: this.dir,
      };
      writeFileSync(this.#recordFile, JSON.stringify(record));
    }
    const outcome = await waitUntil(
      `redis-server on ${this.address} answers PING`,
      async () => {
        if (this.#process !== child) return 'exited';
        return (await this.command('PING')) === 'PONG' ? 'ready' : undefined;
      },
      { timeoutMs: READY_TIMEOUT_MS },
    ).catch((error: unknown) => {
      this.killNow();
      throw error;
    });
    if (outcome === 'exited') {
      throw new Error(`redis-server on ${this.address} exited while starting:\n${this.logTail()}`);
    }
  }

  /** The last lines of the server's log, for error messages. */
  logTail(lineCount = 20): string {
    try {
      return readFileSync(path.join(this.dir, 'redis.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lineCount)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Sends one command as the `default` user on a fresh connection (the harness's admin channel,
   * independent of any client under test). Rejects after `timeoutMs`, e.g. on a paused server.
   */
  async command(...args: string[]): Promise<RespReply> {
    return sendCommand({ host: this.host, port: this.port, password: this.password }, args);
  }

  /**
   * An ioredis client to this server, as the `default` user unless `options` say otherwise;
   * disconnected by {@link stop}.
   */
  connect(options: Omit<RedisOptions, 'replyMapping'> = {}): Redis {
    const client = new Redis({ host: this.host, port: this.port, password: this.password, ...options });
    this.#clients.add(client);
    return client;
  }

  /** SIGKILL: the process dies at once, as in a crash; resolves once it has exited. */
  async kill(): Promise<void> {
    this.killNow();
    await this.#exited;
  }

  /** @internal Synchronous kill for exit hooks. */
  killNow(): void {
    const child = this.#process;
    if (child?.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.#recordFile, { force: true });
  }

  /** SIGSTOP: the process stays alive and its sockets open, but it answers nothing until {@link resume}. */
  pause(): void {
    this.#signal('SIGSTOP');
  }

  /** SIGCONT after {@link pause}. */
  resume(): void {
    this.#signal('SIGCONT');
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#process?.pid;
    if (pid === undefined) throw new Error(`redis-server on ${this.address} is not running`);
    process.kill(pid, signal);
  }

  /**
   * Starts the server again on the same port with the same config (killing it first if it runs).
   * Data and the script cache are gone, as after a real restart without persistence.
   */
  async restart(): Promise<void> {
    if (this.isRunning) await this.kill();
    await this.launch();
  }

  /** `SCRIPT FLUSH`: the next EVALSHA of any script answers NOSCRIPT. */
  async scriptFlush(): Promise<void> {
    await this.command('SCRIPT', 'FLUSH');
  }

  /** Disconnects the clients made by {@link connect}, kills the server and removes its directory. */
  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await this.kill();
    liveServers.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function baseConfig(server: RedisServer, options: RedisServerOptions): string[] {
  const lines = [
    `bind ${HOST}`,
    `port ${server.port}`,
    'protected-mode yes',
    'daemonize no',
    'save ""',
    'appendonly no',
    `dir ${quote(server.dir)}`,
    `logfile ${quote(path.join(server.dir, 'redis.log'))}`,
    // Fault tests may need DEBUG SLEEP; only from loopback connections.
    'enable-debug-command local',
  ];
  if (options.password !== undefined) lines.push(`requirepass ${quote(options.password)}`);
  for (const user of options.users ?? []) {
    lines.push(['user', user.name, 'on', `>${user.password}`, ...user.rules].map(quote).join(' '));
  }
  for (const [name, value] of Object.entries(options.config ?? {})) lines.push(`${name} ${quote(value)}`);
  return lines;
}

function isAddressInUse(server: RedisServer): boolean {
  return /address already in use/i.test(server.logTail());
}

/**
 * Creates and starts one server on a fresh free port, retrying on another port when the chosen one
 * was taken between reserving and binding.
 */
async function createServer(
  options: RedisServerOptions,
  extraConfig: (server: RedisServer) => string[] = () => [],
  hasBusPort = false,
): Promise<RedisServer> {
  requireCommand('redis-server');
  for (let attempt = 1; ; attempt++) {
    const [port, busPort] = await freePorts(hasBusPort ? 2 : 1);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hyx-redis-'));
    const server = new RedisServer(port ?? 0, busPort, dir, options.password);
    server.writeConfig([...baseConfig(server, options), ...extraConfig(server)]);
    try {
      await server.launch();
      return server;
    } catch (error) {
      const shouldRetry = attempt < 5 && isAddressInUse(server);
      await server.stop();
      if (!shouldRetry) throw error;
    }
  }
}

/**
 * Starts a single `redis-server`.
 *
 * @example
 * ```ts
 * const server = await startRedis({ password: 'secret' });
 * ```
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  return createServer(options);
}

/**
 * A primary and its replica.
 *
 * @example
 * ```ts
 * const pair: ReplicatedRedis = await startPrimaryWithReplica();
 * await pair.primary.kill();
 * ```
 */
export interface ReplicatedRedis {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  /** Resolves once the replica's link to the primary is up. */
  waitUntilInSync(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a primary and a replica of it (`replicaof`), and waits until the replica is in sync.
 *
 * @example
 * ```ts
 * const { primary, replica, stop } = await startPrimaryWithReplica();
 * ```
 */
export async function startPrimaryWithReplica(options: RedisServerOptions = {}): Promise<ReplicatedRedis> {
  const primary = await createServer(options);
  let replica: RedisServer;
  try {
    replica = await createServer(options, () => [
      `replicaof ${HOST} ${primary.port}`,
      ...(options.password === undefined ? [] : [`masterauth ${quote(options.password)}`]),
    ]);
  } catch (error) {
    await primary.stop();
    throw error;
  }
  const replicated: ReplicatedRedis = {
    primary,
    replica,
    waitUntilInSync: async () => {
      await waitUntil(`the replica on ${replica.address} is in sync`, async () =>
        String(await replica.command('INFO', 'replication')).includes('master_link_status:up'),
      );
    },
    stop: async () => {
      await Promise.all([primary.stop(), replica.stop()]);
    },
  };
  try {
    await replicated.waitUntilInSync();
  } catch (error) {
    await replicated.stop();
    throw error;
  }
  return replicated;
}

function clusterInfoField(info: RespReply, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(String(info))?.[1]?.trim();
}

/**
 * A running 3-master Redis Cluster: 16384 slots spread over three masters, each with a replica
 * when started with `replicasPerMaster: 1`.
 *
 * @example
 * ```ts
 * const cluster = await startCluster();
 * const client = cluster.connect();
 * ```
 */
export class RedisClusterHandle {
  /** The masters as started, in the order their slot ranges go (node 0 owns slot 0). */
  readonly nodes: readonly RedisServer[];
  /** Their replicas (none unless started with `replicasPerMaster: 1`). */
  readonly replicas: readonly RedisServer[];
  readonly password: string | undefined;
  readonly #clients = new Set<Cluster>();

  /** @internal Use {@link startCluster}. */
  constructor(nodes: readonly RedisServer[], replicas: readonly RedisServer[], password: string | undefined) {
    this.nodes = nodes;
    this.replicas = replicas;
    this.password = password;
  }

  /** An ioredis `Cluster` client seeded with every node; disconnected by {@link stop}. */
  connect(
    options: Omit<ClusterOptions, 'redisOptions'> & {
      readonly redisOptions?: Omit<RedisOptions, 'replyMapping'>;
    } = {},
  ): Cluster {
    const client = new Cluster(
      this.nodes.map((node) => ({ host: node.host, port: node.port })),
      { ...options, redisOptions: { password: this.password, ...options.redisOptions } },
    );
    this.#clients.add(client);
    return client;
  }

  /** Resolves once every running node reports `cluster_state:ok` with all 16384 slots assigned. */
  async waitUntilOk(): Promise<void> {
    await waitUntil('every Cluster node reports cluster_state:ok', async () => {
      for (const node of [...this.nodes, ...this.replicas]) {
        if (!node.isRunning) continue;
        const info = await node.command('CLUSTER', 'INFO');
        if (clusterInfoField(info, 'cluster_state') !== 'ok') return false;
        if (clusterInfoField(info, 'cluster_slots_ok') !== '16384') return false;
      }
      return true;
    });
  }

  /** Resolves once every master has a replica whose link to it is up (`master_link_status:up`). */
  async waitUntilReplicated(): Promise<void> {
    await waitUntil('every Cluster replica is linked to its master', async () => {
      for (const replica of this.replicas) {
        if (!replica.isRunning) continue;
        const info = String(await replica.command('INFO', 'replication'));
        if (clusterInfoField(info, 'role') !== 'slave') return false;
        if (clusterInfoField(info, 'master_link_status') !== 'up') return false;
      }
      return true;
    });
  }

  /** `CLUSTER KEYSLOT key`, asked of a node: the server's own answer, to check ours against. */
  async keySlot(key: string): Promise<number> {
    return Number(await this.nodes[0]?.command('CLUSTER', 'KEYSLOT', key));
  }

  /** The node that serves `slot` now (a promoted replica after a failover), from `CLUSTER SLOTS`. */
  async nodeOwning(slot: number): Promise<RedisServer> {
    const all = [...this.nodes, ...this.replicas];
    const asked = all.find((node) => node.isRunning);
    const ranges = (await asked?.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    for (const [first, last, [, port]] of ranges) {
      const node = all.find((candidate) => candidate.port === port);
      if (node !== undefined && slot >= first && slot <= last) return node;
    }
    throw new Error(`no node owns slot ${slot}`);
  }

  /** Disconnects its clients and stops every node. */
  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await Promise.all([...this.nodes, ...this.replicas].map((node) => node.stop()));
  }
}

const execFileAsync = promisify(execFile);

/**
 * Starts a 3-master Redis Cluster: three `cluster-enabled` servers (each with its own bus port),
 * joined by `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ password: 'secret' });
 * ```
 */
export async function startCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const redisCli = requireCommand('redis-cli');
  const nodes: RedisServer[] = [];
  const clusterConfig = (server: RedisServer) => [
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-port ${server.busPort ?? 0}`,
    `cluster-node-timeout ${options.nodeTimeoutMs ?? 3000}`,
    ...(options.password === undefined ? [] : [`masterauth ${quote(options.password)}`]),
  ];
  const replicas: RedisServer[] = [];
  try {
    for (let index = 0; index < 3; index++) nodes.push(await createServer(options, clusterConfig, true));
    for (let index = 0; index < 3 * (options.replicasPerMaster ?? 0); index++) {
      replicas.push(await createServer(options, clusterConfig, true));
    }
    const auth = options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning'];
    await execFileAsync(
      redisCli,
      [
        ...auth,
        '--cluster',
        'create',
        // redis-cli makes the first three masters and the rest their replicas.
        ...[...nodes, ...replicas].map((node) => node.address),
        '--cluster-replicas',
        String(options.replicasPerMaster ?? 0),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
    const cluster = new RedisClusterHandle(nodes, replicas, options.password);
    await cluster.waitUntilOk();
    if (replicas.length > 0) await cluster.waitUntilReplicated();
    return cluster;
  } catch (error) {
    await Promise.all([...nodes, ...replicas].map((node) => node.stop()));
    throw error;
  }
}

/**
 * Stops every server this process started and has not stopped yet.
 *
 * @example
 * ```ts
 * afterAll(stopAllRedis);
 * ```
 */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...liveServers].map((server) => server.stop()));
}
