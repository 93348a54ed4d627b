import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeNeeding } from './services';

/*
 * Throwaway redis-server processes for suites that must stop, pause or cluster a Redis of their
 * own (the shared one on 6379 is never touched that way). Loopback only, no persistence, a temp
 * dir each; every process is killed when the test process exits, whatever happened.
 */

const run = promisify(execFile);
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Suites that start their own redis-server: skipped with the reason locally, failing in CI. */
export function describeWithRedisServer(name: string, body: () => void): void {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  describeNeeding('redis-server on the PATH (and redis-cli)', found.status === 0, name, body);
}

/** Sends one inline command and returns the first reply line; rejects when nothing answers. */
export function redisCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from 127.0.0.1:${port}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // A bulk reply ($<len>\r\n<data>\r\n) is complete once its data has arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk && reply.length < bulk[0].length + Number(bulk[1]) + 2) return;
      if (!reply.includes('\r\n')) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(bulk ? reply.slice(bulk[0].length, bulk[0].length + Number(bulk[1])) : reply.trim());
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the process (SIGTERM, SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void>;
  /** Kills the process at once (SIGKILL), as a crash would: nothing is flushed or handed over. */
  kill(): Promise<void>;
}

/** Starts a redis-server on a loopback port and waits until it answers PING. */
export async function startRedisServer(
  port: number,
  options: { dir?: string; args?: string[] } = {},
): Promise<RedisServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `fpa-redis-${port}-`));
  const ownDir = options.dir === undefined;
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));

  try {
    await waitFor(`redis-server on port ${port} did not answer`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
      return (await redisCommand(port, 'PING')) === '+PONG';
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }

  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    kill: async () => {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface RedisClusterServers {
  /** Comma-separated node URLs, the REDIS_URL form for a cluster. */
  readonly url: string;
  /** The node on each port, in the order given (a restarted node replaces its entry). */
  readonly servers: readonly RedisServer[];
  /** Starts the node on `port` again, on its own nodes.conf: it rejoins the cluster, as a
   *  replica of whichever node took its slots (without persistence it comes back empty). */
  restart(port: number): Promise<RedisServer>;
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Replicas per master (redis-cli decides which node serves which; see `clusterNodes`). */
  readonly replicas?: number;
  /** cluster-node-timeout (ms): how long a silent node takes to be failed over (Redis: 15 s). */
  readonly nodeTimeoutMs?: number;
}

/**
 * Starts one redis-server per port, joins them with `redis-cli --cluster create` (masters only,
 * or with `replicas` each), and waits until every node reports `cluster_state:ok` and every
 * replica is in sync with its master. The cluster bus listens on `busPortOffset` above each
 * port, to stay inside the given range.
 */
export async function startRedisCluster(
  ports: readonly number[],
  busPortOffset: number,
  options: RedisClusterOptions = {},
): Promise<RedisClusterServers> {
  const dir = mkdtempSync(join(tmpdir(), 'fpa-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    for (const server of servers) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const start = (port: number) =>
    startRedisServer(port, {
      dir,
      args: [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(port + busPortOffset),
        '--cluster-config-file',
        `nodes-${port}.conf`,
        ...(options.nodeTimeoutMs === undefined
          ? []
          : ['--cluster-node-timeout', String(options.nodeTimeoutMs)]),
      ],
    });
  try {
    for (const port of ports) servers.push(await start(port));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        String(options.replicas ?? 0),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await waitForCluster(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','),
    servers,
    restart: async (port) => {
      const index = servers.findIndex((server) => server.port === port);
      await servers[index].stop();
      servers[index] = await start(port);
      return servers[index];
    },
    stop,
  };
}

/** One line of `CLUSTER NODES`, as seen from the node asked. */
export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** The master's id, for a replica. */
  readonly masterId: string | null;
  /** Flagged `fail` (agreed down) or `fail?` (down as far as the node asked knows). */
  readonly failing: boolean;
  /** The slot ranges it serves, inclusive. */
  readonly slots: ReadonlyArray<readonly [number, number]>;
}

/** The cluster as the node on `port` sees it. */
export async function clusterNodes(port: number): Promise<ClusterNode[]> {
  const text = await redisCommand(port, 'CLUSTER NODES');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      const flagList = flags.split(',');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        role: flagList.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: master === '-' ? null : master,
        failing: flagList.includes('fail') || flagList.includes('fail?'),
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range) => {
            const [from, to = from] = range.split('-').map(Number);
            return [from, to] as const;
          }),
      };
    });
}

/** The slot of a key (`CLUSTER KEYSLOT`), asked of the node on `port`. */
export async function keySlot(port: number, key: string): Promise<number> {
  return Number((await redisCommand(port, `CLUSTER KEYSLOT ${key}`)).slice(1));
}

/** `INFO replication` of the node on `port`, as field → value. */
export async function replicationInfo(port: number): Promise<Record<string, string>> {
  const text = await redisCommand(port, 'INFO replication');
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/**
 * Waits (bounded) until every node on `ports` reports `cluster_state:ok` and sees no node
 * failing, and every replica among them has its link to its master up.
 */
export async function waitForCluster(ports: readonly number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    await waitFor(
      `cluster node ${port} did not report cluster_state:ok with every node up`,
      async () =>
        (await redisCommand(port, 'CLUSTER INFO')).includes('cluster_state:ok') &&
        (await clusterNodes(port)).every((node) => !node.failing),
      Math.max(0, deadline - Date.now()),
    );
    if ((await replicationInfo(port)).role !== 'master') {
      await waitForReplicaSync(port, Math.max(0, deadline - Date.now()));
    }
  }
}

/**
 * Waits (bounded) until the replica on `replicaPort` has taken over its failed master's slots
 * and the `survivors` report `cluster_state:ok` again.
 */
export async function waitForPromotion(
  replicaPort: number,
  survivors: readonly number[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `the replica on ${replicaPort} was not promoted`,
    async () => {
      const self = (await clusterNodes(replicaPort)).find((node) => node.port === replicaPort);
      if (self?.role !== 'master') return false;
      for (const port of survivors) {
        if (!(await redisCommand(port, 'CLUSTER INFO')).includes('cluster_state:ok')) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

/**
 * Waits (bounded) until the node on `port` is a replica in sync with its master, as both see
 * it, and acknowledges a write there (`WAIT`): the master counts a replica that has just synced
 * only once it has acknowledged an offset, and that can take a while on a busy machine.
 */
export async function waitForReplicaSync(port: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `the node on ${port} did not become a replica in sync with its master`,
    async () => {
      const info = await replicationInfo(port);
      if (info.role !== 'slave' || info.master_link_status !== 'up') return false;
      const masterPort = Number(info.master_port);
      const master = await replicationInfo(masterPort);
      const online = Object.entries(master).some(
        ([field, value]) =>
          /^slave\d+$/.test(field) &&
          value.includes(`port=${port},`) &&
          value.includes('state=online'),
      );
      return online && (await acknowledged(masterPort, await keyServedBy(masterPort)));
    },
    timeoutMs,
  );
}

/** A key the master on `port` serves: any key outside a cluster, one in its slots in one. */
async function keyServedBy(port: number): Promise<string> {
  if (!(await redisCommand(port, 'INFO cluster')).includes('cluster_enabled:1')) {
    return 'fpa-test-probe';
  }
  const self = (await clusterNodes(port)).find((node) => node.port === port);
  for (let i = 0; i < 1000; i++) {
    const key = `fpa-test-probe-{${i}}`;
    const slot = await keySlot(port, key);
    if (self?.slots.some(([from, to]) => slot >= from && slot <= to)) return key;
  }
  throw new Error(`no key found for the master on ${port}`);
}

/** Writes `key` on the master on `port`, then `WAIT 1` on the same connection: acknowledged? */
function acknowledged(port: number, key: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from 127.0.0.1:${port}`));
    }, 5000);
    socket.on('connect', () => socket.write(`SET ${key} 1\r\nWAIT 1 1000\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const lines = reply.split('\r\n');
      if (lines.length < 3) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(lines[0] === '+OK' && Number(lines[1].slice(1)) >= 1);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
