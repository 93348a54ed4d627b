import { connect, Socket } from 'node:net';
import { USER_AGENT } from './context';
import { PASSWORD } from './http-client';
import { parseResponse } from './load';

/** The soak's kinds of request and their share of the traffic, per 100 requests. */
export const MIX = { guarded: 90, refresh: 5, list: 2, login: 2, revoke: 1 } as const;
export type Kind = keyof typeof MIX;
export const KINDS = Object.keys(MIX) as Kind[];

/** How the service times sessions out: what the client must know to use only live ones. */
export interface SessionTimes {
  readonly idleTtlSec: number;
  readonly absoluteTtlSec: number;
  readonly activityIntervalSec: number;
}

/**
 * How one request ended: its status, `timeout`, `error` (the connection failed), or `skipped`
 * (no session could take it: every one busy with a refresh or revocation).
 */
export type Outcome = number | 'timeout' | 'error' | 'skipped';

export interface Completed {
  readonly kind: Kind;
  /** When it was due, ms from the start of the run. */
  readonly dueMs: number;
  /** From when it was due until its answer was complete (ms): no coordinated omission. */
  readonly latencyMs: number;
  /** How late it went out (ms): all connections busy, or the generator short of CPU. */
  readonly lateMs: number;
  readonly outcome: Outcome;
  /** The status and body were the ones expected. */
  readonly ok: boolean;
}

export interface User {
  readonly email: string;
}

/** Past this, a request counts as timed out and its connection is dropped. */
const TIMEOUT_MS: Record<Kind, number> = {
  guarded: 10_000,
  refresh: 10_000,
  list: 10_000,
  revoke: 10_000,
  // Logins queue for the hashing threads.
  login: 30_000,
};
/** A session stops being used this long before the service would expire it (answers in flight). */
const MARGIN_MS = 2000;

interface Reply {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** One keep-alive HTTP/1.1 connection, one request at a time. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve(reply: Reply): void; reject(error: Error): void } | null = null;
  sentAt = 0;
  timeoutMs = 0;
  dead = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true }, () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  get busy(): boolean {
    return this.waiter !== null;
  }

  send(request: Buffer, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.sentAt = performance.now();
      this.timeoutMs = timeoutMs;
      this.socket.write(request);
    });
  }

  /** Gives up on the request in flight (it took too long). */
  timeOut(): void {
    this.fail(new TimeoutError());
    this.socket.destroy();
  }

  close(): void {
    this.dead = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const parsed = parseResponse(this.buffer);
    if (parsed === null) return;
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    const head = this.buffer.toString('latin1', 0, headEnd);
    const body = this.buffer.toString('utf8', headEnd + 4, parsed.length);
    this.buffer = this.buffer.subarray(parsed.length);
    // The service closes after some answers (a 408, a shutdown): this connection is done then.
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve({ status: parsed.status, head, body });
  }

  private fail(error: Error): void {
    this.dead = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(error);
  }
}

class TimeoutError extends Error {}

/**
 * What held sessions are timed by: the system clock, as the service and Redis time them, so a
 * clock set forward (a virtual machine resumed after a pause) ages them here as much as there.
 * Latencies and due times stay on the monotonic clock.
 */
const sessionClock = (): number => Date.now();

/** A session the client holds, as a browser tab would. */
interface HeldSession {
  readonly id: string;
  /** When the client stops using it; the service then expires it (idle or absolute). */
  readonly leaveAt: number;
  lastUsedAt: number;
  /** Guarded requests and listings in flight. */
  inFlight: number;
  /** A refresh or a revocation in flight: nothing else uses it meanwhile. */
  exclusive: boolean;
  /** Its place in `SoakTraffic.sessions`. */
  slot: number;
  fingerprint: string;
  refresh: string;
  guarded: Buffer;
  list: Buffer;
  refreshRequest: Buffer;
  revoke: Buffer;
  readonly expectedBody: string;
}

/** The kinds in MIX's proportions, shuffled anew every 100 requests. */
class Deck {
  private cards: Kind[] = [];

  next(): Kind {
    if (this.cards.length === 0) {
      this.cards = KINDS.flatMap((kind) => Array<Kind>(MIX[kind]).fill(kind));
      for (let i = this.cards.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [this.cards[i], this.cards[j]] = [this.cards[j], this.cards[i]];
      }
    }
    return this.cards.pop() as Kind;
  }
}

export interface SessionCounts {
  readonly loggedIn: number;
  readonly revoked: number;
  /** Left to expire on the service: past their planned use, or their absolute expiry near. */
  readonly abandoned: number;
}

/**
 * The soak's clients: mixed traffic on a pool of keep-alive connections (raw HTTP/1.1, as
 * bench/lib/load.ts does, so the generator costs little next to the service), with the sessions
 * a population of browsers would hold. Each login adds a session that is used for a random while
 * and then left to expire on the service (by idle time or, for the longest, by absolute time), so
 * sessions expire and are swept all through the run; refreshes rotate a session's token and
 * cookies; revocations end one. A request never races its own session's rotation or revocation
 * (that would be a 401 no real client sees twice), so each answer must be exactly the one expected.
 */
export class SoakTraffic {
  private readonly host: string;
  private readonly port: number;
  private readonly sessions: HeldSession[] = [];
  private readonly deck = new Deck();
  private nextUser = 0;
  private readonly counts = { loggedIn: 0, revoked: 0, abandoned: 0 };

  constructor(
    url: string,
    private readonly users: readonly User[],
    private readonly times: SessionTimes,
  ) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
  }

  sessionCounts(): SessionCounts {
    return { ...this.counts };
  }

  /** Logs in `count` sessions, eight at a time; throws unless every login succeeds. */
  async seed(count: number): Promise<void> {
    const connections = await Promise.all(
      Array.from({ length: Math.min(8, count) }, () => Connection.open(this.host, this.port)),
    );
    let left = count;
    await Promise.all(
      connections.map(async (connection) => {
        while (left > 0) {
          left--;
          const result = await this.perform('login', connection);
          if (!result.ok) throw new Error(`a seed login got ${result.outcome}`);
        }
        connection.close();
      }),
    );
  }

  /** Closed loop: `workers` clients each send the mix's next request once their last is answered. */
  async closedLoop(durationMs: number, workers: number): Promise<{ rps: number; failed: number }> {
    const started = performance.now();
    let completed = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        let connection = await Connection.open(this.host, this.port);
        while (performance.now() - started < durationMs) {
          if (connection.dead) connection = await Connection.open(this.host, this.port);
          const result = await this.perform(this.deck.next(), connection);
          if (result.outcome === 'skipped') {
            // Nothing was sent: let the answers that free a session arrive.
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          completed++;
          if (!result.ok) failed++;
        }
        connection.close();
      }),
    );
    return { rps: completed / ((performance.now() - started) / 1000), failed };
  }

  /**
   * Open loop: request i is due at i / rate ms whatever happened to the ones before it, and is
   * reported to `record` once answered. A run that falls more than `maxBacklogSec` behind (the
   * service stalled, or the rate is beyond it) stops with an error rather than queue without end.
   */
  async openLoop(options: {
    rate: number;
    durationMs: number;
    connections: number;
    /** Connections kept for logins alone (default 8); see below. */
    loginConnections?: number;
    record: (request: Completed) => void;
    maxBacklogSec?: number;
  }): Promise<{ sent: number }> {
    const total = Math.round((options.rate * options.durationMs) / 1000);
    const intervalMs = 1000 / options.rate;
    const maxBacklog = options.rate * (options.maxBacklogSec ?? 10);
    // Logins wait for a hashing thread; on shared connections a burst of them holds every one
    // and the session traffic behind them queues in the generator, not in the service. Browsers
    // do not share connections across users either: logins get a lane of their own.
    const open = (count: number) =>
      Promise.all(Array.from({ length: count }, () => Connection.open(this.host, this.port)));
    const lanes = {
      sessions: {
        slots: (await open(options.connections)) as Array<Connection | null>,
        waiting: [] as Array<{ kind: Kind; dueMs: number }>,
      },
      logins: {
        slots: (await open(options.loginConnections ?? 8)) as Array<Connection | null>,
        waiting: [] as Array<{ kind: Kind; dueMs: number }>,
      },
    };
    type Lane = (typeof lanes)['sessions'];
    const laneOf = (kind: Kind): Lane => (kind === 'login' ? lanes.logins : lanes.sessions);
    const allLanes = [lanes.sessions, lanes.logins];
    const start = performance.now();
    let inFlight = 0;
    let failure: Error | null = null;
    let allAnswered: () => void = () => undefined;

    const free = (lane: Lane): Connection | undefined => {
      const { slots } = lane;
      for (let i = 0; i < slots.length; i++) {
        const connection = slots[i];
        if (connection === null) continue;
        if (connection.dead) {
          slots[i] = null;
          void Connection.open(this.host, this.port).then(
            (fresh) => {
              slots[i] = fresh;
              drain(lane);
            },
            (error: Error) => (failure ??= error),
          );
          continue;
        }
        if (!connection.busy) return connection;
      }
      return undefined;
    };
    const dispatch = (lane: Lane, connection: Connection, kind: Kind, dueMs: number) => {
      const now = performance.now();
      const lateMs = now - start - dueMs;
      inFlight++;
      void this.perform(kind, connection).then((result) => {
        inFlight--;
        options.record({
          kind,
          dueMs,
          latencyMs: performance.now() - start - dueMs,
          lateMs,
          ...result,
        });
        drain(lane);
        if (inFlight === 0) allAnswered();
      });
    };
    const drain = (lane: Lane) => {
      while (lane.waiting.length > 0) {
        const connection = free(lane);
        if (connection === undefined) return;
        const next = lane.waiting.shift() as { kind: Kind; dueMs: number };
        dispatch(lane, connection, next.kind, next.dueMs);
      }
    };
    const backlog = () => lanes.sessions.waiting.length + lanes.logins.waiting.length;
    // Requests past their time limit: dropped with their connection (checked twice a second).
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const lane of allLanes) {
        for (const connection of lane.slots) {
          if (connection?.busy && now - connection.sentAt > connection.timeoutMs)
            connection.timeOut();
        }
      }
    }, 500);

    let next = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const tick = () => {
          const now = performance.now() - start;
          while (next < total && next * intervalMs <= now) {
            const kind = this.deck.next();
            const dueMs = next * intervalMs;
            const lane = laneOf(kind);
            const connection = lane.waiting.length === 0 ? free(lane) : undefined;
            if (connection) dispatch(lane, connection, kind, dueMs);
            else lane.waiting.push({ kind, dueMs });
            next++;
          }
          if (failure) return reject(failure);
          if (backlog() > maxBacklog) {
            return reject(
              new Error(
                `the service fell ${(backlog() / options.rate).toFixed(0)} s behind the rate of ${options.rate}/s`,
              ),
            );
          }
          // A timer, not a spin on setImmediate: the hashing threads (lowest priority) need the idle CPU.
          if (next < total) setTimeout(tick, 1);
          else resolve();
        };
        tick();
      });
      while (backlog() > 0) {
        for (const lane of allLanes) drain(lane);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (inFlight > 0) await new Promise<void>((resolve) => (allAnswered = resolve));
    } finally {
      clearInterval(watchdog);
      for (const lane of allLanes) for (const connection of lane.slots) connection?.close();
    }
    return { sent: next };
  }

  private async perform(
    kind: Kind,
    connection: Connection,
  ): Promise<{ outcome: Outcome; ok: boolean }> {
    if (kind === 'login') return this.login(connection);
    const now = sessionClock();
    const shared = kind === 'guarded' || kind === 'list';
    const session = this.pick(now, !shared);
    if (session === null) return { outcome: 'skipped', ok: false };
    if (kind === 'revoke') {
      // Gone from the client at once, as a tab that signs a device out stops using it.
      this.release(session);
      this.counts.revoked++;
      return this.exchange(connection, kind, session.revoke, (reply) => reply.status === 204);
    }
    if (kind === 'refresh') {
      session.exclusive = true;
      const result = await this.exchange(connection, kind, session.refreshRequest, (reply) =>
        reply.status === 200 ? this.rotate(session, reply) : false,
      );
      session.exclusive = false;
      session.lastUsedAt = now;
      // A refresh that failed leaves its session in an unknown state: not used again.
      if (!result.ok) this.release(session);
      return result;
    }
    session.inFlight++;
    session.lastUsedAt = now;
    const request = kind === 'guarded' ? session.guarded : session.list;
    const result = await this.exchange(connection, kind, request, (reply) =>
      kind === 'guarded'
        ? reply.status === 200 && reply.body === session.expectedBody
        : reply.status === 200,
    );
    session.inFlight--;
    // A session refused once is not used again (each such answer is one error, not a run of them).
    if (!result.ok) this.release(session);
    return result;
  }

  private async exchange(
    connection: Connection,
    kind: Kind,
    request: Buffer,
    expected: (reply: Reply) => boolean,
  ): Promise<{ outcome: Outcome; ok: boolean }> {
    try {
      const reply = await connection.send(request, TIMEOUT_MS[kind]);
      return { outcome: reply.status, ok: expected(reply) };
    } catch (error) {
      return { outcome: error instanceof TimeoutError ? 'timeout' : 'error', ok: false };
    }
  }

  private async login(connection: Connection): Promise<{ outcome: Outcome; ok: boolean }> {
    const user = this.users[this.nextUser++ % this.users.length];
    const body = JSON.stringify({ email: user.email, password: PASSWORD });
    const request = this.request(
      'POST',
      '/auth/login',
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`,
      body,
    );
    const loginAt = sessionClock();
    return this.exchange(
      connection,
      'login',
      request,
      (reply) => reply.status === 200 && this.hold(reply, loginAt),
    );
  }

  /** Keeps the session a login answered with; false when the answer lacks a part of it. */
  private hold(reply: Reply, loginAt: number): boolean {
    const { accessToken, sessionId } = JSON.parse(reply.body) as {
      accessToken?: string;
      sessionId?: string;
    };
    const cookies = setCookies(reply.head);
    if (!accessToken || !sessionId || !cookies.fingerprint || !cookies.refresh) return false;
    // Used for a random while (a tab closed early or late), never up to its absolute expiry.
    const plannedMs = (5 + Math.random() * (this.times.absoluteTtlSec + 10)) * 1000;
    const session: HeldSession = {
      id: sessionId,
      leaveAt: loginAt + Math.min(plannedMs, this.times.absoluteTtlSec * 1000 - MARGIN_MS),
      lastUsedAt: loginAt,
      inFlight: 0,
      exclusive: false,
      slot: this.sessions.length,
      fingerprint: cookies.fingerprint,
      refresh: cookies.refresh,
      guarded: Buffer.alloc(0),
      list: Buffer.alloc(0),
      refreshRequest: Buffer.alloc(0),
      revoke: Buffer.alloc(0),
      expectedBody: JSON.stringify({ id: subjectOf(accessToken), sessionId }),
    };
    this.authorize(session, accessToken);
    this.sessions.push(session);
    this.counts.loggedIn++;
    return true;
  }

  /** Takes a refresh's new token and cookies (the old ones are refused from now on). */
  private rotate(session: HeldSession, reply: Reply): boolean {
    const { accessToken } = JSON.parse(reply.body) as { accessToken?: string };
    const cookies = setCookies(reply.head);
    if (!accessToken || !cookies.fingerprint || !cookies.refresh) return false;
    session.fingerprint = cookies.fingerprint;
    session.refresh = cookies.refresh;
    this.authorize(session, accessToken);
    return true;
  }

  /** The session's requests, with its current token and cookies. */
  private authorize(session: HeldSession, accessToken: string): void {
    const headers = `authorization: Bearer ${accessToken}\r\ncookie: ${session.fingerprint}\r\n`;
    session.guarded = this.request('GET', '/bench/me', headers);
    session.list = this.request('GET', '/sessions', headers);
    session.revoke = this.request('DELETE', `/sessions/${session.id}`, headers);
    session.refreshRequest = this.request(
      'POST',
      '/auth/refresh',
      `cookie: ${session.fingerprint}; ${session.refresh}\r\ncontent-length: 0\r\n`,
    );
  }

  private request(method: string, path: string, headers: string, body = ''): Buffer {
    return Buffer.from(
      `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\nuser-agent: ${USER_AGENT}\r\n${headers}\r\n${body}`,
    );
  }

  /**
   * A random held session that is still live and free (`exclusive`: nothing in flight on it
   * either); sessions found past their use are let go on the way. Null after a few tries.
   */
  private pick(now: number, exclusive: boolean): HeldSession | null {
    const idleLimitMs = (this.times.idleTtlSec - this.times.activityIntervalSec) * 1000 - MARGIN_MS;
    for (let attempt = 0; attempt < 8 && this.sessions.length > 0; attempt++) {
      const session = this.sessions[Math.floor(Math.random() * this.sessions.length)];
      if (session.exclusive) continue;
      if (now >= session.leaveAt || now - session.lastUsedAt >= idleLimitMs) {
        if (session.inFlight === 0) {
          this.release(session);
          this.counts.abandoned++;
        }
        continue;
      }
      if (exclusive && session.inFlight > 0) continue;
      return session;
    }
    return null;
  }

  private release(session: HeldSession): void {
    if (session.slot === -1) return;
    const last = this.sessions.pop() as HeldSession;
    if (last !== session) {
      this.sessions[session.slot] = last;
      last.slot = session.slot;
    }
    session.slot = -1;
  }
}

/** The fingerprint cookie (Path=/) and the refresh cookie (the refresh route's path) a reply set. */
function setCookies(head: string): { fingerprint?: string; refresh?: string } {
  const found: { fingerprint?: string; refresh?: string } = {};
  for (const match of head.matchAll(/\r\nset-cookie:\s*([^;\r]+)([^\r]*)/gi)) {
    const path = /;\s*path=([^;]*)/i.exec(match[2])?.[1]?.trim();
    if (path === '/') found.fingerprint = match[1];
    else if (path?.endsWith('/auth/refresh')) found.refresh = match[1];
  }
  return found;
}

/** The user id (`sub`) of an access token. */
function subjectOf(accessToken: string): string {
  const payload = accessToken.split('.')[1];
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string }).sub;
}
