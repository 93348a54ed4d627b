import Redis, { Cluster, Command, RedisOptions } from 'ioredis';

/** A Redis connection: one server or a Redis Cluster. Both speak the same commands. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Longest a single command may wait for an answer before it fails (ms). */
  readonly commandTimeoutMs?: number;
  /** Name shown in `CLIENT LIST`, to tell the service's connections apart. */
  readonly connectionName?: string;
}

/** Reconnect quickly at first, then every second at most: the service recovers by itself. */
const reconnectDelay = (attempt: number): number => Math.min(50 * 2 ** attempt, 1000);

/**
 * Fail fast, never queue: while Redis is unreachable a command errors at once (no offline queue)
 * or after `commandTimeoutMs` (no answer), and is retried at most once on a dropped connection.
 * Callers turn those errors into 503s; nothing waits unbounded.
 */
function commonOptions(options: RedisClientOptions): RedisOptions {
  return {
    // No `commandTimeout`: see timeCommands, which times every command itself.
    connectTimeout: 1000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    connectionName: options.connectionName ?? 'fingerprint-auth',
  };
}

const DEFAULT_COMMAND_TIMEOUT_MS = 500;
/** Each client's command timeout (ms), for callers that bound their own work by it. */
const commandTimeouts = new WeakMap<RedisClient, number>();
/** Marks a command whose timer is armed: a command resent after a reconnect keeps its first. */
const ARMED = Symbol('fingerprint-auth.commandTimer');
type TimedCommand = Command & { [ARMED]?: true };

/** The longest a command of `client` waits for its answer (ms); 0 when it was not made here. */
export function commandTimeoutOf(client: RedisClient): number {
  return commandTimeouts.get(client) ?? 0;
}

/**
 * Fails each command of `client` that has no answer `timeoutMs` after it was sent.
 *
 * ioredis's own `commandTimeout` decides in its timer. After the event loop was blocked for
 * longer than the timeout (a long GC pause, a burst of synchronous work on a busy machine), Node
 * runs expired timers before it reads its sockets, so that timer fails commands whose answers
 * arrived long ago and wait, unread, in the socket: 503s for a healthy Redis. Here the timer
 * only asks, and the verdict waits for `setImmediate`, which runs after the loop's poll phase
 * has read what arrived. A command fails only when its answer truly did not come in time.
 *
 * Every command of a client passes through its `sendCommand` (pipelines and auto-pipelining
 * included; a Cluster's before it picks the node), so the one wrapper times them all.
 */
function timeCommands<T extends RedisClient>(client: T, timeoutMs: number): T {
  commandTimeouts.set(client, timeoutMs);
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  const timed = (command: TimedCommand, ...rest: unknown[]): unknown => {
    if (command[ARMED] === undefined) {
      command[ARMED] = true;
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (!command.isSettled) command.reject(new Error('Command timed out'));
        });
      }, timeoutMs);
      // The timer must not outlive the answer, nor keep the process alive.
      command.promise.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
      timer.unref();
    }
    return send(command, ...rest);
  };
  (client as unknown as { sendCommand: typeof timed }).sendCommand = timed;
  return client;
}

/** A second connection like `client` (same servers, options and command timeout). */
export function duplicateClient(client: RedisClient): RedisClient {
  // Two calls, one per type: `duplicate` of the `Redis | Cluster` union is not callable in TypeScript.
  const copy = client instanceof Cluster ? client.duplicate() : client.duplicate();
  return timeCommands(copy, commandTimeoutOf(client));
}

/** The nodes in REDIS_URL: one URL, or several comma-separated (`redis://a:7000,b:7001`). */
export function redisNodes(url: string): URL[] {
  return url
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean)
    .map((node) => new URL(/^rediss?:\/\//.test(node) ? node : `redis://${node}`));
}

/**
 * Connects to REDIS_URL: several comma-separated nodes select Redis Cluster mode. The client
 * starts connecting at once and keeps reconnecting; see `waitUntilReady` for start-up.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  return timeCommands(
    connect(url, options),
    options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  );
}

function connect(url: string, options: RedisClientOptions): RedisClient {
  const nodes = redisNodes(url);
  const first = nodes[0];
  const auth = authOptions(first);
  if (nodes.length === 1) {
    const db = Number(first.pathname.slice(1) || 0);
    return new Redis({
      host: first.hostname,
      port: Number(first.port || 6379),
      db,
      ...auth,
      ...commonOptions(options),
      retryStrategy: reconnectDelay,
    });
  }
  const { enableOfflineQueue: _queue, ...redisOptions } = commonOptions(options);
  return new Cluster(
    nodes.map((node) => ({ host: node.hostname, port: Number(node.port || 6379) })),
    {
      redisOptions: { ...redisOptions, ...auth },
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: 1000,
    },
  );
}

/** The credentials and TLS of REDIS_URL (its first node's; every node of a cluster shares them). */
function authOptions(first: URL): RedisOptions {
  return {
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * One connection to one server of REDIS_URL (`node`, or the URL's first), with the URL's
 * credentials, that never reconnects by itself: when it ends, its owner opens the next one and
 * knows that anything sent meanwhile went past it. For a subscriber (see InvalidationChannel).
 */
export function createNodeConnection(
  url: string,
  node: { host: string; port: number } | null,
  options: RedisClientOptions = {},
): Redis {
  const first = redisNodes(url)[0];
  const connection = new Redis({
    host: node?.host ?? first.hostname,
    port: node?.port ?? Number(first.port || 6379),
    ...authOptions(first),
    ...commonOptions(options),
    retryStrategy: () => null,
    autoResubscribe: false,
    lazyConnect: true,
  });
  return timeCommands(connection, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
}

/**
 * Resolves once the client is ready, or after `timeoutMs` anyway: a Redis that is down at start
 * makes readiness report down and requests answer 503 until it returns; it does not stop start-up.
 */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.once('ready', onReady);
  });
}
