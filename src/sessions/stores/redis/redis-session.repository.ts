import { Cluster } from 'ioredis';
import { Clock } from '../../../common/clock';
import { StoreUnavailableError } from '../../../common/errors';
import {
  commandTimeoutOf,
  duplicateClient,
  RedisClient,
  waitUntilReady,
} from '../../../redis/redis-client';
import type { GeoLocation } from '../../../geoip/geo-location';
import {
  isLive,
  NewSession,
  Session,
  SessionPolicy,
  startedSession,
  toSeconds,
} from '../../session';
import { SessionLimitReachedError } from '../../session.errors';
import { sessionShard, userShard } from '../../session-id';
import {
  CreateSessionResult,
  ImportOutcome,
  RefreshOutcome,
  RefreshRotation,
  SessionRepository,
  SessionStoreStats,
  SweepResult,
} from '../../session.repository';

/*
 * Key layout (`{tag}` is the user's shard, see session-id.ts, so one user's keys share a slot):
 *
 *   <prefix>{tag}:s:<sessionId>  hash, the session; expires by itself at its idle/absolute expiry
 *   <prefix>{tag}:u:<userId>     sorted set of the user's session ids scored by last activity;
 *                                expires no earlier than its longest-living member
 *
 * Hash fields are short (a million sessions are a million copies of each name):
 *   u userId, f fingerprintHash, r refreshHash, pr previousRefreshHash, rt refreshRotatedAt,
 *   ip ipAddress, ua userAgent, lo location, li loginIpAddress, lu loginUserAgent,
 *   ca createdAt, la lastActivity, ie idleExpiresAt, ae absoluteExpiresAt.
 * Null values are absent fields; `rt` is absent until the first rotation.
 *
 * Every change touching more than one key or deciding on what it reads runs as one Lua script,
 * so concurrent logins from any number of instances never break the per-user limit. The scripts
 * get `now` from the injected clock: expiry is decided by the service's clock, not Redis's,
 * and key TTLs are relative (EXPIRE seconds), so clock skew never deletes a live session early.
 */

/** Helpers every script starts with. */
const PRELUDE = `
-- True when Redis runs this after the caller gave up on it (see LATE_ALLOWANCE_MS); 0 = no limit.
local function tooLate(deadline)
  if deadline == 0 then return false end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline
end

local function alive(ie, ae, now)
  return ie and ae and now < tonumber(ie) and now < tonumber(ae)
end

-- An index lives at least as long as the longest-living session in it.
local function extendIndex(index, ttl)
  if redis.call('TTL', index) < ttl then redis.call('EXPIRE', index, ttl) end
end

-- Records activity now on a live session: slides the idle expiry (never past the absolute one),
-- keeps the login IP address and user agent the first time a request differs from them.
-- Activity only moves forward: a write carrying an earlier time than the stored one (resent after
-- a reconnect, or from an instance whose clock is behind) changes the addresses only.
local function recordActivity(key, id, now, idle, ip, ua, indexPrefix)
  local t = redis.call('HMGET', key, 'u', 'ip', 'ua', 'li', 'lu', 'ae', 'la', 'ie')
  local la, ie = tonumber(t[7]) or 0, math.min(now + idle, tonumber(t[6]))
  local moved = now > la or ie > tonumber(t[8])
  local fields = {}
  if moved then
    la, ie = math.max(now, la), math.max(ie, tonumber(t[8]))
    fields = { 'la', la, 'ie', ie }
  end
  if ip ~= t[2] then
    if not t[4] then fields[#fields + 1] = 'li'; fields[#fields + 1] = t[2] end
    fields[#fields + 1] = 'ip'; fields[#fields + 1] = ip
  end
  if ua ~= t[3] then
    if not t[5] then fields[#fields + 1] = 'lu'; fields[#fields + 1] = t[3] end
    fields[#fields + 1] = 'ua'; fields[#fields + 1] = ua
  end
  if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
  if not moved then return end
  redis.call('EXPIRE', key, ie - now)
  local index = indexPrefix .. t[1]
  redis.call('ZADD', index, la, id)
  extendIndex(index, ie - now)
end
`;

const SCRIPTS = {
  /**
   * KEYS: session, user index. ARGV: now, idleTtl, absoluteTtl, maxPerUser, reject (1/0),
   * session key prefix, id, deadline (ms), then the stored fields as name/value pairs.
   * Drops index members that are gone or expired, evicts (or refuses) at the limit, stores.
   */
  fpaSessionCreate: {
    keys: 2,
    lua: `
if tooLate(tonumber(ARGV[8])) then return { 'late' } end
local now, idle, absolute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max, reject, sp = tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6]
local live = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local t = redis.call('HMGET', sp .. id, 'la', 'ca', 'ie', 'ae')
  if alive(t[3], t[4], now) then
    live[#live + 1] = { id, tonumber(t[1]), tonumber(t[2]) }
  else
    redis.call('DEL', sp .. id)
    redis.call('ZREM', KEYS[2], id)
  end
end
local evicted = {}
if #live >= max then
  if reject then return { 'limit' } end
  table.sort(live, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    if x[3] ~= y[3] then return x[3] < y[3] end
    return x[1] < y[1]
  end)
  for n = 1, #live - max + 1 do
    local id = live[n][1]
    evicted[#evicted + 1] = { id, redis.call('HGETALL', sp .. id) }
    redis.call('DEL', sp .. id)
    redis.call('ZREM', KEYS[2], id)
  end
end
local ae = now + absolute
local ie = math.min(now + idle, ae)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ca', now, 'la', now, 'ie', ie, 'ae', ae, unpack(ARGV, 9))
redis.call('EXPIRE', KEYS[1], ie - now)
redis.call('ZADD', KEYS[2], now, ARGV[7])
extendIndex(KEYS[2], ie - now)
return { 'ok', evicted }
`,
  },
  /** KEYS: session. ARGV: now, idleTtl, ip, userAgent, index key prefix, id. */
  fpaSessionTouch: {
    keys: 1,
    lua: `
local now = tonumber(ARGV[1])
local t = redis.call('HMGET', KEYS[1], 'ie', 'ae')
if not alive(t[1], t[2], now) then return 0 end
recordActivity(KEYS[1], ARGV[6], now, tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
return 1
`,
  },
  /**
   * KEYS: session. ARGV: now, idleTtl, grace, presented hash, next refresh hash, next fingerprint
   * hash, ip, userAgent, location mode (keep/set/clear), location, index key prefix, id,
   * deadline (ms).
   */
  fpaSessionRotate: {
    keys: 1,
    lua: `
if tooLate(tonumber(ARGV[13])) then return { 'late' } end
local now = tonumber(ARGV[1])
local t = redis.call('HMGET', KEYS[1], 'ie', 'ae', 'r', 'pr', 'rt', 'u', 'f')
if not alive(t[1], t[2], now) then return { 'invalid' } end
if t[3] == ARGV[4] then
  redis.call('HSET', KEYS[1], 'pr', t[3], 'rt', now, 'r', ARGV[5], 'f', ARGV[6])
  if ARGV[9] == 'set' then redis.call('HSET', KEYS[1], 'lo', ARGV[10])
  elseif ARGV[9] == 'clear' then redis.call('HDEL', KEYS[1], 'lo') end
  recordActivity(KEYS[1], ARGV[12], now, tonumber(ARGV[2]), ARGV[7], ARGV[8], ARGV[11])
  -- What the rotation replaced, for fpaSessionUnrotate.
  return { 'rotated', redis.call('HGETALL', KEYS[1]), { t[7], t[4] or '', t[5] or '' } }
end
if t[3] == ARGV[5] and t[4] == ARGV[4] and t[7] == ARGV[6] then
  -- This very rotation again: the client resends a script whose answer a dropped connection
  -- lost. ARGV[5] hashes a secret drawn for this one request, so nobody else can send it.
  return { 'again', redis.call('HGETALL', KEYS[1]) }
end
if t[4] and t[4] == ARGV[4] then
  if now - tonumber(t[5] or '0') <= tonumber(ARGV[3]) then
    return { 'grace', redis.call('HGETALL', KEYS[1]) }
  end
  local session = redis.call('HGETALL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', ARGV[11] .. t[6], ARGV[12])
  return { 'reused', session }
end
return { 'invalid' }
`,
  },
  /**
   * KEYS: session. ARGV: the refresh hash rotated to, then the fingerprint hash, previous refresh
   * hash and rotation time it replaced ('' for none). Takes back a rotation whose credential
   * nobody was given, unless the session has moved on since; the presented credential (now the
   * previous one) becomes the current one again.
   */
  fpaSessionUnrotate: {
    keys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'r') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'r', redis.call('HGET', KEYS[1], 'pr'), 'f', ARGV[2])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'pr') else redis.call('HSET', KEYS[1], 'pr', ARGV[3]) end
if ARGV[4] == '' then redis.call('HDEL', KEYS[1], 'rt') else redis.call('HSET', KEYS[1], 'rt', ARGV[4]) end
return 1
`,
  },
  /** KEYS: session, owner's index. ARGV: owner's user id, id. Returns the removed hash or empty. */
  fpaSessionRevoke: {
    keys: 2,
    lua: `
if redis.call('HGET', KEYS[1], 'u') ~= ARGV[1] then return {} end
local session = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return session
`,
  },
  /** KEYS: user index. ARGV: now, session key prefix, id to keep ('' for none). Returns live removed. */
  fpaSessionRevokeAll: {
    keys: 1,
    lua: `
local now, sp, removed = tonumber(ARGV[1]), ARGV[2], 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[3] then
    local t = redis.call('HMGET', sp .. id, 'ie', 'ae')
    if alive(t[1], t[2], now) then removed = removed + 1 end
    redis.call('DEL', sp .. id)
    redis.call('ZREM', KEYS[1], id)
  end
end
return removed
`,
  },
  /** KEYS: user index. ARGV: now, session key prefix. Returns [id, hash] pairs; prunes the rest. */
  fpaSessionList: {
    keys: 1,
    lua: `
local now, sp, out = tonumber(ARGV[1]), ARGV[2], {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local t = redis.call('HMGET', sp .. id, 'ie', 'ae')
  if alive(t[1], t[2], now) then
    out[#out + 1] = { id, redis.call('HGETALL', sp .. id) }
  else
    redis.call('DEL', sp .. id)
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`,
  },
  /**
   * KEYS: session, user index. ARGV: now, id, last activity, expiry (min of idle and absolute),
   * then every stored field as name/value pairs. Puts back a session saved elsewhere as it was;
   * a session already present is left alone.
   */
  fpaSessionImport: {
    keys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
local ttl = tonumber(ARGV[4]) - tonumber(ARGV[1])
if ttl <= 0 then return 'expired' end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[2])
extendIndex(KEYS[2], ttl)
return 'imported'
`,
  },
} as const;

/**
 * A command that timed out has been answered 503, yet it stays queued in Redis and runs when Redis
 * answers again. A login or refresh applied then would store a session nobody holds a token for
 * (evicting a real one) or rotate to a credential nobody holds (so the next refresh looks like
 * theft). So these two scripts carry a deadline, the command timeout later by the wall clock, and
 * do nothing past it, by Redis's clock. The allowance absorbs clock skew between the hosts: a
 * command run between the timeout and the deadline still applies.
 */
const LATE_ALLOWANCE_MS = 1000;

type ScriptName = keyof typeof SCRIPTS;

/**
 * What a login, refresh or revocation must reach before it is answered (REDIS_WAIT_REPLICAS).
 * Redis replicates asynchronously: a master that fails before its replica has a write takes the
 * write with it, and the replica that replaces it never had it.
 */
export interface RedisDurability {
  /** Replicas that must acknowledge the write (`WAIT`); 0 answers once the master has it. */
  readonly replicas: number;
  /** Longest the write waits for them (ms); fewer by then is a 503. */
  readonly timeoutMs: number;
}

const MASTER_ONLY: RedisDurability = { replicas: 0, timeoutMs: 0 };

/** Each client's second connection, for the writes that wait for replicas (see `writerFor`). */
const writers = new WeakMap<RedisClient, RedisClient>();

/**
 * A second connection of `client`'s, closed with it. `WAIT` holds its connection until the
 * replicas answer and Redis reads nothing else from it meanwhile, so on the shared connection
 * every guarded request's read would queue behind the writes that wait, for the whole timeout
 * while a replica is down. Its errors surface as the failing writes (503); the client's own
 * listeners log the outage.
 */
function writerFor(client: RedisClient): RedisClient {
  const known = writers.get(client);
  if (known !== undefined) return known;
  const writer = duplicateClient(client);
  writer.on('error', () => undefined);
  client.once('end', () => writer.disconnect());
  writers.set(client, writer);
  return writer;
}

/** Keys asked for per SCAN step (and hashes read at once) when exporting. */
const EXPORT_BATCH = 500;
type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;
/** A script's reply for one session: its id and its hash as a flat field/value list. */
type SessionReply = [string, string[]];

/**
 * Sessions in Redis or Redis Cluster, shared by every instance of the service.
 * Any Redis error or timeout becomes `StoreUnavailableError('sessions')`: a 503, never a pass.
 */
export class RedisSessionRepository extends SessionRepository {
  readonly durable = true;
  /** How long the client waits for a command (ms); 0 when it waits forever. */
  private readonly commandTimeoutMs: number;
  /** Where the writes that wait for replicas go; null when none waits. */
  private readonly writer: RedisClient | null;

  constructor(
    private readonly client: RedisClient,
    private readonly policy: SessionPolicy,
    private readonly clock: Clock,
    private readonly keyPrefix: string,
    private readonly durability: RedisDurability = MASTER_ONLY,
  ) {
    super();
    this.commandTimeoutMs = commandTimeoutOf(client);
    this.writer = durability.replicas > 0 ? writerFor(client) : null;
    // EVALSHA with the script cached per connection; ioredis loads it again where needed.
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: keys, lua: PRELUDE + lua });
    }
  }

  async create(input: NewSession): Promise<CreateSessionResult> {
    const tag = userShard(input.userId);
    if (sessionShard(input.id) !== tag) {
      throw new Error('the session id was not made for this user (use newSessionId(userId))');
    }
    const now = this.now();
    const { idleTtl, absoluteTtl, maxPerUser, limitPolicy } = this.policy;
    const { reply, replicated } = (await this.write(
      'fpaSessionCreate',
      this.sessionKey(input.id),
      this.indexKey(input.userId),
      now,
      idleTtl,
      absoluteTtl,
      maxPerUser,
      limitPolicy === 'reject' ? 1 : 0,
      this.sessionKeyPrefix(tag),
      input.id,
      this.deadline(),
      ...encodeFields({
        ...input,
        previousRefreshHash: null,
        refreshRotatedAt: 0,
        loginIpAddress: null,
        loginUserAgent: null,
      }),
    )) as Written<['late'] | ['limit'] | ['ok', SessionReply[]]>;
    if (reply[0] === 'late') throw new StoreUnavailableError('sessions', new Error('ran too late'));
    if (reply[0] === 'limit') throw new SessionLimitReachedError(maxPerUser);
    if (!replicated) {
      // No token is issued for it, so it goes again rather than count against the user's limit
      // until it expires. Best effort: a session nobody holds the secrets of lets nobody in.
      await this.call(
        'fpaSessionRevoke',
        this.sessionKey(input.id),
        this.indexKey(input.userId),
        input.userId,
        input.id,
      ).catch(() => undefined);
      throw notReplicated(this.durability);
    }

    return { session: startedSession(input, now, this.policy), evicted: decodeAll(reply[1]) };
  }

  async findById(id: string): Promise<Session | null> {
    const hash = await this.guard(() => this.client.hgetall(this.sessionKey(id)));
    const session = decode(id, hash);
    return session !== null && isLive(session, this.now()) ? session : null;
  }

  async listByUser(userId: string): Promise<Session[]> {
    const tag = userShard(userId);
    const reply = (await this.call(
      'fpaSessionList',
      this.indexKey(userId),
      this.now(),
      this.sessionKeyPrefix(tag),
    )) as SessionReply[];
    return decodeAll(reply);
  }

  async touch(id: string, ipAddress: string, userAgent: string): Promise<void> {
    await this.call(
      'fpaSessionTouch',
      this.sessionKey(id),
      this.now(),
      this.policy.idleTtl,
      ipAddress,
      userAgent,
      this.indexKeyPrefix(sessionShard(id)),
      id,
    );
  }

  async rotateRefresh(id: string, rotation: RefreshRotation): Promise<RefreshOutcome> {
    const { location } = rotation;
    const { reply, replicated } = (await this.write(
      'fpaSessionRotate',
      this.sessionKey(id),
      this.now(),
      this.policy.idleTtl,
      this.policy.refreshGracePeriod,
      rotation.presentedHash,
      rotation.nextRefreshHash,
      rotation.nextFingerprintHash,
      rotation.ipAddress,
      rotation.userAgent,
      location === undefined ? 'keep' : location === null ? 'clear' : 'set',
      location ? encodeLocation(location) : '',
      this.indexKeyPrefix(sessionShard(id)),
      id,
      this.deadline(),
    )) as Written<
      | ['late']
      | ['invalid']
      | ['rotated', string[], [string, string, string]]
      | ['grace' | 'reused' | 'again', string[]]
    >;
    if (reply[0] === 'late') throw new StoreUnavailableError('sessions', new Error('ran too late'));
    if (reply[0] === 'invalid') return { kind: 'invalid' };
    // A resend whose first run was not replicated either: what it replaced is gone, so it stays.
    if (reply[0] === 'again' && !replicated) throw notReplicated(this.durability);
    if (reply[0] === 'rotated' && !replicated) {
      // The client keeps the credential it presented, so that one must stay the current one: a
      // rotation left in place would make its next refresh look like a replayed credential.
      await this.call(
        'fpaSessionUnrotate',
        this.sessionKey(id),
        rotation.nextRefreshHash,
        ...reply[2],
      ).catch(() => undefined);
      throw notReplicated(this.durability);
    }
    const session = decode(id, toHash(reply[1]));
    if (session === null) return { kind: 'invalid' };
    return { kind: reply[0] === 'again' ? 'rotated' : reply[0], session };
  }

  async revoke(id: string, userId: string): Promise<Session | null> {
    // A session of this user carries the user's shard; anything else is not theirs, and asking
    // would be a cross-slot call in a cluster.
    if (sessionShard(id) !== userShard(userId)) return null;
    const { reply, replicated } = (await this.write(
      'fpaSessionRevoke',
      this.sessionKey(id),
      this.indexKey(userId),
      userId,
      id,
    )) as Written<string[]>;
    const session = decode(id, toHash(reply));
    if (session === null) return null;
    // Gone from the master, but a failover now could bring it back: not confirmed, a 503.
    if (!replicated) throw notReplicated(this.durability);
    return isLive(session, this.now()) ? session : null;
  }

  async revokeAllForUser(userId: string, exceptId?: string): Promise<number> {
    const { reply, replicated } = (await this.write(
      'fpaSessionRevokeAll',
      this.indexKey(userId),
      this.now(),
      this.sessionKeyPrefix(userShard(userId)),
      exceptId ?? '',
    )) as Written<number>;
    if (reply > 0 && !replicated) throw notReplicated(this.durability);
    return reply;
  }

  /**
   * Puts back a session saved by another store (a snapshot), keeping its times, so it expires when
   * it would have there. A session whose id does not carry its user's shard (see session-id.ts)
   * could not be found by its id in a cluster, so it is refused as `foreign`.
   */
  async importSession(session: Session): Promise<ImportOutcome> {
    if (sessionShard(session.id) !== userShard(session.userId)) return 'foreign';
    const now = this.now();
    if (!isLive(session, now)) return 'expired';
    return (await this.call(
      'fpaSessionImport',
      this.sessionKey(session.id),
      this.indexKey(session.userId),
      now,
      session.id,
      session.lastActivity,
      Math.min(session.idleExpiresAt, session.absoluteExpiresAt),
      ...encodeFields(session),
      'ca',
      session.createdAt,
      'la',
      session.lastActivity,
      'ie',
      session.idleExpiresAt,
      'ae',
      session.absoluteExpiresAt,
    )) as 'imported' | 'exists' | 'expired';
  }

  /**
   * Every session under this store's prefix: a SCAN of each master's keyspace (other data may
   * share it; only `<prefix>{shard}:s:<id>` keys are read), a batch of hashes at a time. For
   * moving sessions out of Redis; a scan sees keys written while it runs or not.
   */
  async *exportAll(): AsyncIterableIterator<Session> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    const pattern = `${this.keyPrefix}{*}:s:*`;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.guard(() =>
          node.scan(cursor, 'MATCH', pattern, 'COUNT', EXPORT_BATCH),
        );
        cursor = next;
        const hashes = await this.guard(() => Promise.all(keys.map((key) => node.hgetall(key))));
        for (let i = 0; i < keys.length; i++) {
          const id = keys[i].slice(keys[i].lastIndexOf(':s:') + 3);
          const session = decode(id, hashes[i]);
          if (session !== null) yield session;
        }
      } while (cursor !== '0');
    }
  }

  /**
   * Nothing to sweep: every session key expires by itself at its idle or absolute expiry, and a
   * user's index drops members that are gone on the user's next login or listing (and expires
   * after its longest-living member). A scan here would cost more than the keys it could find.
   */
  async deleteExpired(_max: number): Promise<SweepResult> {
    return { removed: 0, more: false };
  }

  /**
   * Pings Redis, so readiness reports down while it does not answer. Counting sessions would
   * need a scan of the keyspace (other data may share it), so the counts are unknown (null).
   */
  async stats(): Promise<SessionStoreStats> {
    await this.guard(() => this.client.ping());
    return { stored: null, expired: null, capacity: null, estimatedBytes: null };
  }

  private now(): number {
    return toSeconds(this.clock.now());
  }

  /** Wall-clock ms after which a write must not apply (real time: it is about Redis, not sessions). */
  private deadline(): number {
    return this.commandTimeoutMs > 0 ? Date.now() + this.commandTimeoutMs + LATE_ALLOWANCE_MS : 0;
  }

  private sessionKeyPrefix(tag: string): string {
    return `${this.keyPrefix}{${tag}}:s:`;
  }

  private indexKeyPrefix(tag: string): string {
    return `${this.keyPrefix}{${tag}}:u:`;
  }

  private sessionKey(id: string): string {
    return this.sessionKeyPrefix(sessionShard(id)) + id;
  }

  private indexKey(userId: string): string {
    return this.indexKeyPrefix(userShard(userId)) + userId;
  }

  private call(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    const script = (this.client as unknown as Record<ScriptName, ScriptCall>)[name];
    return this.guard(() => script.apply(this.client, args));
  }

  /**
   * Runs a script whose change must survive a failover (a login, a rotation, a revocation) and
   * says whether `durability.replicas` replicas hold it. The script and `WAIT` go as one
   * pipeline, on the writer's connection to the master that owns the keys: WAIT counts the
   * replicas that have everything its own connection wrote before it. The script goes as EVAL,
   * not EVALSHA: ioredis would resend a script the server did not know outside the pipeline,
   * after the WAIT.
   */
  private async write(name: ScriptName, ...args: (string | number)[]): Promise<Written<unknown>> {
    const { replicas, timeoutMs } = this.durability;
    const writer = this.writer;
    if (writer === null) return { reply: await this.call(name, ...args), replicated: true };
    // Connecting (just made, or after an outage): bounded like any command, then its error.
    if (writer.status !== 'ready') await waitUntilReady(writer, this.commandTimeoutMs || 1000);
    const { keys, lua } = SCRIPTS[name];
    const results = await this.guard(() =>
      writer
        .pipeline()
        .eval(PRELUDE + lua, keys, ...args)
        .wait(replicas, timeoutMs)
        .exec(),
    );
    // Null only for a transaction that was discarded; there is none here.
    if (results === null) throw new StoreUnavailableError('sessions', new Error('no reply'));
    const [[scriptError, reply], [waitError, acknowledged]] = results;
    if (scriptError !== null) {
      // A slot that moved (a failover): ioredis retries a pipeline only when all of it failed
      // alike, and WAIT, which has no key, did not; learn the new owner for the next write.
      if (writer instanceof Cluster && /^(MOVED|ASK) /.test(scriptError.message)) {
        writer.refreshSlotsCache();
      }
      throw new StoreUnavailableError('sessions', scriptError);
    }
    return { reply, replicated: waitError === null && Number(acknowledged) >= replicas };
  }

  /** Fails closed: whatever goes wrong talking to Redis is a store outage for the caller. */
  private async guard<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new StoreUnavailableError('sessions', error);
    }
  }
}

/** A script's reply, and whether as many replicas as asked hold its change. */
interface Written<T> {
  readonly reply: T;
  readonly replicated: boolean;
}

/** A write the master has and too few replicas acknowledged in time: answered 503. */
function notReplicated({ replicas, timeoutMs }: RedisDurability): StoreUnavailableError {
  return new StoreUnavailableError(
    'sessions',
    new Error(`fewer than ${replicas} replica(s) acknowledged the write within ${timeoutMs} ms`),
  );
}

/** The stored hash fields of a session, times aside (each script sets those itself). */
function encodeFields(
  session: Omit<
    Session,
    'id' | 'createdAt' | 'lastActivity' | 'idleExpiresAt' | 'absoluteExpiresAt'
  >,
): string[] {
  const fields: string[] = [
    'u',
    session.userId,
    'f',
    session.fingerprintHash,
    'r',
    session.refreshHash,
    'ip',
    session.ipAddress,
    'ua',
    session.userAgent,
  ];
  if (session.previousRefreshHash !== null) fields.push('pr', session.previousRefreshHash);
  if (session.refreshRotatedAt !== 0) fields.push('rt', String(session.refreshRotatedAt));
  if (session.location !== null) fields.push('lo', encodeLocation(session.location));
  if (session.loginIpAddress !== null) fields.push('li', session.loginIpAddress);
  if (session.loginUserAgent !== null) fields.push('lu', session.loginUserAgent);
  return fields;
}

/** `GB` for a country alone (the common case); `["US","California",null]` when there is more. */
export function encodeLocation(location: GeoLocation): string {
  if (location.region === undefined && location.city === undefined) return location.country;
  return JSON.stringify([location.country, location.region ?? null, location.city ?? null]);
}

export function decodeLocation(value: string | undefined): GeoLocation | null {
  if (value === undefined) return null;
  if (!value.startsWith('[')) return { country: value };
  const [country, region, city] = JSON.parse(value) as [string, string | null, string | null];
  return {
    country,
    ...(region !== null ? { region } : {}),
    ...(city !== null ? { city } : {}),
  };
}

function toHash(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
  return hash;
}

function decodeAll(replies: readonly SessionReply[]): Session[] {
  const sessions: Session[] = [];
  for (const [id, flat] of replies) {
    const session = decode(id, toHash(flat));
    if (session !== null) sessions.push(session);
  }
  return sessions;
}

/** A stored hash as a `Session`; null when the key is missing (an empty hash). */
function decode(id: string, hash: Record<string, string>): Session | null {
  if (hash.u === undefined || hash.ie === undefined || hash.ae === undefined) return null;
  return {
    id,
    userId: hash.u,
    fingerprintHash: hash.f,
    refreshHash: hash.r,
    previousRefreshHash: hash.pr ?? null,
    refreshRotatedAt: Number(hash.rt ?? 0),
    ipAddress: hash.ip,
    userAgent: hash.ua,
    location: decodeLocation(hash.lo),
    loginIpAddress: hash.li ?? null,
    loginUserAgent: hash.lu ?? null,
    createdAt: Number(hash.ca),
    lastActivity: Number(hash.la),
    idleExpiresAt: Number(hash.ie),
    absoluteExpiresAt: Number(hash.ae),
  };
}
