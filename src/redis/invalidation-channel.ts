import { Logger } from '@nestjs/common';
import Redis, { Cluster } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import { StoreUnavailableError } from '../common/errors';
import { createNodeConnection, RedisClient, redisNodes } from './redis-client';

/*
 * Why pub/sub and not RESP3 client-side caching (CLIENT TRACKING):
 *
 * - ioredis (6) parses RESP3 but drops `invalidate` push frames, so tracking in the default mode
 *   (Redis remembers the keys each connection read) would need the RESP2 redirect form: every
 *   connection that reads sessions sends CLIENT TRACKING ON REDIRECT <subscriber id>, again after
 *   each of its reconnects, and the subscriber must sit on the same server. A cluster's pool
 *   opens and reopens those connections itself, one per node, with no hook for that.
 * - Tracking is per server: in a cluster each master needs its own subscriber and tracking
 *   connection, followed through failovers and resharding by hand. The broadcast mode (BCAST
 *   PREFIX) has the same per-server rule, and sends a message for every write under the prefix,
 *   including each activity write and each rate-limit counter.
 * - A pub/sub message is sent only by the writes that end or change a session (a few per session
 *   per hour), and classic PUBLISH reaches every subscriber on every node of a cluster (the
 *   cluster bus forwards it), so one subscriber connection to any one node hears all of them.
 *   Sharded pub/sub (SPUBLISH) would keep a message on its shard, but then every instance would
 *   need a subscription per shard channel; revocations are too few for the broadcast to matter.
 *
 * What pub/sub does not give by itself, and this class adds: a message sent while a subscriber is
 * disconnected is lost, and a connection can go silent without closing. So a cache may answer
 * only while `trusted()`: the subscription is confirmed on a connection that is still open, and a
 * PING sent on it no longer than LEASE_MS ago has been answered. Redis answers a connection in
 * order, so that answer came after every message published before the PING reached Redis: a
 * revocation is seen everywhere within LEASE_MS, or the caches stop answering. When the
 * connection ends, every listener is reset (messages may be lost from then on), and again when a
 * new subscription is confirmed.
 */

/** What a message names: one session, every session of a user, or a user's account. */
export type InvalidationTopic = 'session' | 'user-sessions' | 'user';

const CODES: Record<InvalidationTopic, string> = { session: 's', 'user-sessions': 'u', user: 'a' };
const TOPICS = new Map<string, InvalidationTopic>(
  Object.entries(CODES).map(([topic, code]) => [code, topic as InvalidationTopic]),
);

/** A cache kept in step by the channel. */
export interface InvalidationListener {
  /** What `id` names under `topic` changed (here or on another instance): drop it. */
  invalidate(topic: InvalidationTopic, id: string): void;
  /** Messages may have been missed: drop everything. */
  reset(): void;
}

/** What a cache uses of the channel. */
export type Invalidations = Pick<
  InvalidationChannel,
  'listen' | 'trusted' | 'generation' | 'announce'
>;

/** How often the subscription is pinged. */
export const HEARTBEAT_MS = 25;
/**
 * How long an answered PING vouches for the subscription: the longest a revocation can go unseen
 * by an instance whose caches still answer (the revocation target, 100 ms).
 */
export const LEASE_MS = 100;

/** Reconnect quickly at first, then every second at most (as the command connection does). */
const reconnectDelay = (attempt: number): number => Math.min(50 * 2 ** attempt, 1000);

/**
 * The channel that keeps the instances' in-process caches (sessions, users) in step when
 * sessions live in Redis: a change is dropped here at once and announced to every other
 * instance (`announce`), and each instance drops what the messages name. See the comment above
 * for why pub/sub, and when a cache may answer (`trusted`).
 */
export class InvalidationChannel {
  /** The Redis pub/sub channel: per key prefix, so deployments sharing a Redis stay apart. */
  readonly name: string;
  private readonly logger = new Logger('Redis');
  private readonly listeners: InvalidationListener[] = [];
  /** The connection being opened or subscribed; null between two of them. */
  private connection: Redis | null = null;
  /** `connection` once its subscription is confirmed. */
  private subscribed: Redis | null = null;
  /** When the newest answered PING (or the confirmed SUBSCRIBE) was sent, by performance.now(). */
  private confirmedAt = -Infinity;
  /** PINGs sent and not answered yet. */
  private outstanding = 0;
  private changes = 0;
  private opened = 0;
  private failures = 0;
  private lost = false;
  private closed = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    private readonly publisher: RedisClient,
    private readonly url: string,
    keyPrefix: string,
    registry?: Registry,
  ) {
    this.name = `${keyPrefix}invalidations`;
    if (registry) {
      const up = (): number => (this.trusted() ? 1 : 0);
      new Gauge({
        name: 'fpa_invalidation_channel_up',
        help: "1 while the in-process caches may answer (the invalidation channel's subscription is confirmed and answered a PING within the last 100 ms), else 0",
        registers: [registry],
        collect() {
          this.set(up());
        },
      });
    }
  }

  /** Opens the subscription and starts the heartbeat; caches answer once it is confirmed. */
  start(): void {
    this.open();
    this.heartbeatTimer = setInterval(() => {
      if (this.outstanding === 0) void this.heartbeat();
    }, HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = null;
    this.subscribed = null;
    connection?.disconnect();
  }

  listen(listener: InvalidationListener): void {
    this.listeners.push(listener);
  }

  /** Whether a cache may answer now (see the comment at the top). */
  trusted(): boolean {
    return this.subscribed !== null && performance.now() - this.confirmedAt <= LEASE_MS;
  }

  /**
   * Changes with every message and every reset. A cache that reads through keeps what it read
   * only if this did not change meanwhile: a message may have overtaken the read's answer (they
   * come on different connections), naming what the read returned.
   */
  generation(): number {
    return this.changes;
  }

  /**
   * Tells every instance, this one first and at once, that what `id` names changed. Call it
   * after the change is stored. Rejects with `StoreUnavailableError` when the message could not
   * be sent: the caller must not answer as if the change held everywhere.
   */
  async announce(topic: InvalidationTopic, id: string): Promise<void> {
    this.deliver(topic, id);
    try {
      await this.publisher.publish(this.name, `${CODES[topic]}:${id}`);
    } catch (error) {
      throw new StoreUnavailableError('sessions', error);
    }
  }

  /**
   * Sends a PING on the subscription and, once it is answered, extends the lease; resolves true
   * then, when every message published before the call has been delivered. The timer calls it
   * every HEARTBEAT_MS unless a PING is outstanding. A PING left unanswered past the command
   * timeout closes the connection (a new one is opened).
   */
  async heartbeat(): Promise<boolean> {
    const connection = this.subscribed;
    if (connection === null) return false;
    this.outstanding++;
    const sentAt = performance.now();
    try {
      await connection.ping();
    } catch {
      if (this.subscribed === connection) connection.disconnect();
      return false;
    } finally {
      this.outstanding--;
    }
    if (this.subscribed !== connection) return false;
    this.confirmedAt = Math.max(this.confirmedAt, sentAt);
    return true;
  }

  private open(): void {
    const connection = createNodeConnection(this.url, this.nextNode(), {
      connectionName: 'fingerprint-auth-invalidations',
    });
    this.connection = connection;
    connection.on('message', (channel: string, message: string) => {
      if (channel !== this.name || this.connection !== connection) return;
      const separator = message.indexOf(':');
      const topic = TOPICS.get(message.slice(0, separator));
      if (topic !== undefined) this.deliver(topic, message.slice(separator + 1));
    });
    // What ended the connection does not matter here (the command connection logs outages).
    connection.on('error', () => undefined);
    connection.once('ready', () => void this.subscribe(connection));
    connection.once('end', () => this.ended(connection));
    connection.connect().catch(() => undefined);
  }

  private async subscribe(connection: Redis): Promise<void> {
    const sentAt = performance.now();
    try {
      await connection.subscribe(this.name);
    } catch {
      // Refused (an ACL without this channel) or unanswered: said once, then tried again.
      if (!this.lost) {
        this.lost = true;
        this.logger.warn(
          `Invalidation channel could not subscribe to ${this.name}; sessions and users are read from their stores until it does`,
        );
      }
      connection.disconnect();
      return;
    }
    if (this.connection !== connection) return;
    // Whatever was published before this subscription took effect never reached this instance.
    this.resetAll();
    this.subscribed = connection;
    this.confirmedAt = sentAt;
    this.failures = 0;
    if (this.lost) {
      this.lost = false;
      this.logger.log('Invalidation channel is back; the in-process caches answer again');
    }
  }

  private ended(connection: Redis): void {
    if (this.connection !== connection) return;
    const wasSubscribed = this.subscribed === connection;
    this.connection = null;
    this.subscribed = null;
    this.resetAll();
    if (this.closed) return;
    if (wasSubscribed && !this.lost) {
      this.lost = true;
      this.logger.warn(
        'Invalidation channel lost; sessions and users are read from their stores until it is back',
      );
    }
    this.reconnectTimer = setTimeout(() => this.open(), reconnectDelay(this.failures++));
    this.reconnectTimer.unref();
  }

  private deliver(topic: InvalidationTopic, id: string): void {
    this.changes++;
    for (const listener of this.listeners) listener.invalidate(topic, id);
  }

  private resetAll(): void {
    this.changes++;
    for (const listener of this.listeners) listener.reset();
  }

  /**
   * Where the next subscription connects: the one server, or, in a cluster, the next of the
   * nodes the cluster client knows now (the URL's nodes before it knows any), so a node that is
   * gone is not tried over and over. Any node will do: classic PUBLISH reaches all of them.
   */
  private nextNode(): { host: string; port: number } | null {
    if (!(this.publisher instanceof Cluster)) return null;
    const known = this.publisher
      .nodes('all')
      .map(({ options }) => ({ host: options.host ?? '', port: options.port ?? 6379 }))
      .filter(({ host }) => host !== '');
    const nodes =
      known.length > 0
        ? known
        : redisNodes(this.url).map((node) => ({
            host: node.hostname,
            port: Number(node.port || 6379),
          }));
    return nodes[this.opened++ % nodes.length];
  }
}
