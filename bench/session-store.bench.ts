import { randomUUID } from 'node:crypto';
import { getHeapSnapshot } from 'node:v8';
import { safeEqual } from '../src/common/hashes';
import { SystemClock } from '../src/common/clock';
import {
  ESTIMATED_BYTES_PER_SESSION,
  InMemorySessionRepository,
} from '../src/sessions/stores/memory/in-memory-session.repository';
import { NewSession, SessionPolicy } from '../src/sessions/session';
import { SessionFixtures } from './lib/session-fixtures';
import { blackhole, median } from './lib/stats';

/**
 * Part 2: the in-memory store at scale. Run in its own process with --expose-gc (the parent does
 * that; standalone: `node --expose-gc -r ts-node/register/transpile-only bench/session-store.bench.ts
 * '{"sessions":1000000}'`). Heap bytes per session from heapUsed before and after, create and
 * lookup+validate cost, the same for a naive record, and a heap-snapshot profile of what each
 * part of a session costs.
 */
export interface StoreResult {
  readonly sessions: number;
  readonly perUser: number;
  readonly bytesPerSession: number;
  readonly createNs: number;
  readonly lookupNs: number;
  readonly estimatedBytesConstant: number;
  readonly naive: { readonly sessions: number; readonly bytesPerSession: number };
  /** Sessions that have been refreshed once (previous refresh hash and rotation time kept). */
  readonly refreshed: { readonly sessions: number; readonly bytesPerSession: number };
  readonly profile: { readonly sessions: number; readonly parts: ProfilePart[] };
}

export interface ProfilePart {
  readonly part: string;
  readonly bytesPerSession: number;
}

const PER_USER = 10;
const POLICY: SessionPolicy = {
  idleTtl: 1800,
  absoluteTtl: 28800,
  maxPerUser: PER_USER,
  limitPolicy: 'evict-oldest',
  refreshGracePeriod: 10,
};

const collect = (globalThis as { gc?: () => void }).gc;
function heapAfterGc(): number {
  if (!collect) throw new Error('run with --expose-gc');
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/** Fills a repository; fixtures are made outside the timed part, in chunks, then dropped. */
async function fill(
  repository: InMemorySessionRepository,
  count: number,
  sample = true,
): Promise<{ ids: string[]; fgps: string[]; ns: number }> {
  const fixtures = new SessionFixtures(PER_USER);
  const ids: string[] = [];
  const fgps: string[] = [];
  let ns = 0;
  for (let done = 0; done < count; done += 10_000) {
    const chunk: NewSession[] = [];
    for (let i = 0; i < Math.min(10_000, count - done); i++) chunk.push(fixtures.next());
    const started = process.hrtime.bigint();
    for (const input of chunk) await repository.create(input);
    ns += Number(process.hrtime.bigint() - started);
    // A sample to look up later (every 7th), copied so the claim is not the stored string itself.
    for (let i = 0; sample && i < chunk.length; i += 7) {
      ids.push(chunk[i].id);
      fgps.push(Buffer.from(chunk[i].fingerprintHash, 'latin1').toString('latin1'));
    }
  }
  return { ids, fgps, ns };
}

async function measureRepository(count: number) {
  const repository = new InMemorySessionRepository(POLICY, count * 2, new SystemClock());
  // Sampled ids are kept in arrays allocated before the baseline: their growth is subtracted below.
  const before = heapAfterGc();
  const { ids, fgps, ns } = await fill(repository, count);
  const after = heapAfterGc();
  const sampleBytes = ids.length * 2 * 8 + ids.length * 2 * 64; // pointers + the copied claims
  const bytesPerSession = (after - before - sampleBytes) / count;

  // Lookup + validate as the guard does it: find, same owner, same fingerprint hash.
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    let ok = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < ids.length; i++) {
      const j = (i * 7919) % ids.length;
      const session = await repository.findById(ids[j]);
      if (
        session !== null &&
        session.userId.length > 0 &&
        safeEqual(session.fingerprintHash, fgps[j])
      )
        ok++;
    }
    rounds.push(Number(process.hrtime.bigint() - started) / ids.length);
    if (ok !== ids.length) throw new Error(`lookup: ${ids.length - ok} sessions failed validation`);
  }
  const stored = (await repository.stats()).stored;
  if (stored !== count) throw new Error(`expected ${count} sessions, the store holds ${stored}`);
  return { bytesPerSession, createNs: ns / count, lookupNs: median(rounds) };
}

/** Bytes per session once every session has rotated its refresh credential (the common state of
 *  a session older than one access-token lifetime). */
async function measureRefreshed(count: number): Promise<number> {
  const repository = new InMemorySessionRepository(POLICY, count * 2, new SystemClock());
  const fixtures = new SessionFixtures(PER_USER);
  const before = heapAfterGc();
  for (let i = 0; i < count; i++) {
    const input = fixtures.next();
    await repository.create(input);
    const next = fixtures.next();
    const outcome = await repository.rotateRefresh(input.id, {
      presentedHash: input.refreshHash,
      nextRefreshHash: next.refreshHash,
      nextFingerprintHash: next.fingerprintHash,
      ipAddress: input.ipAddress,
      userAgent: input.userAgent,
    });
    if (outcome.kind !== 'rotated') throw new Error(`refresh: ${outcome.kind}`);
  }
  const after = heapAfterGc();
  blackhole(repository);
  return (after - before) / count;
}

/** A naive record: `randomUUID()` ids, Date objects, a Set per user, no sharing. */
function measureNaive(count: number): number {
  const before = heapAfterGc();
  const sessions = new Map<string, Record<string, unknown>>();
  const byUser = new Map<string, Set<string>>();
  const fixtures = new SessionFixtures(PER_USER);
  let userId = randomUUID();
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % PER_USER === 0) userId = randomUUID();
    const input = fixtures.next();
    const id = randomUUID();
    const now = Date.now();
    sessions.set(id, {
      id,
      userId,
      fingerprintHash: input.fingerprintHash,
      refreshHash: input.refreshHash,
      ipAddress: `${input.ipAddress}`,
      userAgent: input.userAgent.slice(0),
      location: input.location ? { ...input.location } : null,
      createdAt: new Date(now),
      lastActivity: new Date(now),
      expiresAt: new Date(now + 1_800_000),
    });
    let ids = byUser.get(userId);
    if (!ids) byUser.set(userId, (ids = new Set()));
    ids.add(id);
  }
  const after = heapAfterGc();
  blackhole([sessions, byUser]);
  return (after - before) / count;
}

/** What each part of a stored session costs: heap-snapshot self sizes grouped, per session. */
async function profile(count: number): Promise<ProfilePart[]> {
  const repository = new InMemorySessionRepository(POLICY, count * 2, new SystemClock());
  // A first snapshot only warms up (the code and strings of the snapshot walk itself stay around).
  await snapshotSizes();
  const before = await snapshotSizes();
  await fill(repository, count, false);
  const after = await snapshotSizes();
  blackhole(repository);
  const parts: ProfilePart[] = [];
  for (const [part, size] of after) {
    const delta = (size - (before.get(part) ?? 0)) / count;
    if (delta >= 1) parts.push({ part, bytesPerSession: delta });
  }
  return parts.sort((a, b) => b.bytesPerSession - a.bytesPerSession);
}

/** Names heap-snapshot nodes after the part of a session they are. */
function partOf(type: string, name: string, length: number): string {
  if (type === 'object' && name === 'SessionRecord') return 'record object (SessionRecord)';
  if (type === 'object' && name === 'Array') return 'array objects (per-user ids, expiry buckets)';
  if (type === 'string' || type === 'sliced string' || type === 'concatenated string') {
    if (length === 22) return 'strings: session id (22 chars)';
    if (length === 43) return 'strings: SHA-256 hash, base64url (43 chars)';
    if (length === 64) return 'strings: both hashes, packed binary (64 bytes)';
    if (length === 36) return "strings: user id (36 chars, shared by the user's sessions)";
    return `strings: other (${type})`;
  }
  if (type === 'array' && name === '(object elements)')
    return 'array backing stores (per-user ids, expiry buckets)';
  if (type === 'array') return 'hash tables (Map: id → session, user → ids, buckets)';
  return `other: ${type} ${name}`.slice(0, 60);
}

async function snapshotSizes(): Promise<Map<string, number>> {
  heapAfterGc();
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snapshot = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const sizes = new Map<string, number>();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]];
    // A string node's name is its content; a cons string's is a placeholder, its size says enough.
    const part = partOf(type, name, type === 'concatenated string' ? -1 : name.length);
    sizes.set(part, (sizes.get(part) ?? 0) + nodes[i + sizeAt]);
  }
  return sizes;
}

export async function measureStore(
  sessions: number,
  profileSessions: number,
): Promise<StoreResult> {
  const repository = await measureRepository(sessions);
  const naiveSessions = Math.max(10_000, Math.round(sessions / 5));
  const naive = measureNaive(naiveSessions);
  const refreshed = await measureRefreshed(naiveSessions);
  const parts = await profile(profileSessions);
  return {
    sessions,
    perUser: PER_USER,
    ...repository,
    estimatedBytesConstant: ESTIMATED_BYTES_PER_SESSION,
    naive: { sessions: naiveSessions, bytesPerSession: naive },
    refreshed: { sessions: naiveSessions, bytesPerSession: refreshed },
    profile: { sessions: profileSessions, parts },
  };
}

if (require.main === module) {
  const args = JSON.parse(process.argv[2] ?? '{}') as {
    sessions?: number;
    profileSessions?: number;
  };
  const sessions = args.sessions ?? 1_000_000;
  measureStore(sessions, args.profileSessions ?? Math.min(sessions, 100_000))
    .then((result) => {
      if (process.send) process.send({ type: 'result', result }, () => process.exit(0));
      else console.log(JSON.stringify(result, null, 2));
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
