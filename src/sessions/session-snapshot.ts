import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import type { GeoLocation } from '../geoip/geo-location';
import { ensurePrivateDirectory } from '../options/data-files';
import { FingerprintAuthMetrics } from '../observability/metrics';
import { FingerprintAuthConfig } from '../options/fingerprint-auth-config';
import { isLive, Session, toSeconds } from './session';
import { SessionStoreFullError } from './session.errors';
import { SessionRepository } from './session.repository';

/**
 * Snapshot file format, version 1: JSON lines.
 *
 *     {"format":"fingerprint-auth-sessions","version":1,"createdAt":"…","fields":["id",…]}
 *     ["<id>","<userId>",…]            one array per session, values in `fields` order
 *     {"end":true,"count":<sessions>}
 *
 * The header names the format, so a foreign file is recognised; the trailer's count proves the
 * file is whole. Only what the store keeps is written: hashes of fingerprints and refresh
 * credentials, never the secrets themselves.
 */
export const SNAPSHOT_FORMAT = 'fingerprint-auth-sessions';
export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_FIELDS = [
  'id',
  'userId',
  'fingerprintHash',
  'refreshHash',
  'previousRefreshHash',
  'refreshRotatedAt',
  'ipAddress',
  'userAgent',
  'location',
  'loginIpAddress',
  'loginUserAgent',
  'createdAt',
  'lastActivity',
  'idleExpiresAt',
  'absoluteExpiresAt',
] as const satisfies ReadonlyArray<keyof Session>;

/** Sessions serialised per write call: large enough to be quick, small enough to keep the event loop free. */
const WRITE_CHUNK = 5000;
/** A header longer than this is not ours. */
const MAX_HEADER_BYTES = 4096;

/** The file is not a session snapshot, or not a whole one. */
export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

export interface SnapshotWriteResult {
  readonly count: number;
  readonly bytes: number;
}

/**
 * Writes `sessions` to `path` atomically: a temp file in the same directory (mode 0600), fsync,
 * rename over `path`, fsync of the directory. Readers see the old file or the new one, never half
 * of one. Serialises in chunks and awaits each write, so a million sessions never block the event
 * loop for long. Sessions may be a live iterator (a store's `exportAll()`).
 */
export async function writeSnapshot(
  path: string,
  sessions: Iterable<Session> | AsyncIterable<Session>,
  options: { createdAt?: Date; chunkSize?: number } = {},
): Promise<SnapshotWriteResult> {
  const directory = dirname(path);
  const temp = join(directory, `${tempPrefix(path)}${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  let count = 0;
  let bytes = 0;
  const write = async (text: string) => {
    // Not handle.write(): on a filling disk it writes what fits and resolves without an error,
    // and the end marker cut short would be renamed over the good file. writeFile writes the rest
    // too, and that write fails (ENOSPC).
    await handle.writeFile(text);
    bytes += Buffer.byteLength(text);
  };
  try {
    // Whatever the umask, the file is the owner's alone.
    await handle.chmod(0o600);
    const header = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      createdAt: (options.createdAt ?? new Date()).toISOString(),
      fields: SNAPSHOT_FIELDS,
    };
    await write(`${JSON.stringify(header)}\n`);
    const chunkSize = options.chunkSize ?? WRITE_CHUNK;
    let chunk: string[] = [];
    for await (const session of sessions) {
      chunk.push(JSON.stringify(SNAPSHOT_FIELDS.map((field) => session[field])));
      count++;
      if (chunk.length >= chunkSize) {
        await write(`${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) await write(`${chunk.join('\n')}\n`);
    await write(`${JSON.stringify({ end: true, count })}\n`);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(directory);
  return { count, bytes };
}

/** A write of `path` goes to `<folder>/.<name>.<12 hex digits>.tmp` until its rename. */
const tempPrefix = (path: string) => `.${basename(path)}.`;
const TEMP_SUFFIX = /^[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temp files of writes of `path` that never reached their rename because the process
 * was killed during one (SIGKILL, OOM kill, power loss): nothing reads them, and each is as large
 * as a snapshot and holds what one holds. Returns their names. Only for the process that owns
 * `path`, at start, before it writes: another one writing to the same path would lose its write.
 */
export async function removeUnfinishedWrites(path: string): Promise<string[]> {
  const directory = dirname(path);
  const prefix = tempPrefix(path);
  const unfinished = (await readdir(directory)).filter(
    (name) => name.startsWith(prefix) && TEMP_SUFFIX.test(name.slice(prefix.length)),
  );
  for (const name of unfinished) await rm(join(directory, name), { force: true });
  return unfinished;
}

/** Makes the rename itself durable; not every platform can open a directory, which is fine. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort.
  }
}

/**
 * Reads a snapshot written by `writeSnapshot`, one session at a time (expired ones included; the
 * caller decides). Throws `SnapshotFormatError` on a foreign, corrupt or truncated file (possibly
 * after yielding some sessions: a caller that must be all-or-nothing undoes them), and the
 * file system's error (e.g. ENOENT) when it cannot be opened.
 */
export async function* readSnapshot(path: string): AsyncGenerator<Session, void, undefined> {
  await checkHeaderBytes(path);
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  const locations = new Map<string, GeoLocation>();
  let lineNumber = 0;
  let count = 0;
  let ended = false;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (lineNumber === 1) {
        checkHeader(parseLine(line, lineNumber));
        continue;
      }
      if (ended) {
        if (line.trim() === '') continue;
        throw new SnapshotFormatError(`line ${lineNumber}: data after the end marker`);
      }
      const value = parseLine(line, lineNumber);
      if (Array.isArray(value)) {
        count++;
        yield toSession(value, lineNumber, locations);
        continue;
      }
      const trailer = value as { end?: unknown; count?: unknown } | null;
      if (trailer?.end !== true || trailer.count !== count) {
        throw new SnapshotFormatError(
          `line ${lineNumber}: bad end marker (expected ${count} sessions)`,
        );
      }
      ended = true;
    }
  } finally {
    lines.close();
  }
  if (lineNumber === 0) throw new SnapshotFormatError('empty file');
  if (!ended) throw new SnapshotFormatError('truncated: no end marker');
}

/** Rejects binary or foreign files before reading them line by line. */
async function checkHeaderBytes(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const start = buffer.subarray(0, bytesRead).toString('utf8');
    const newline = start.indexOf('\n');
    if (bytesRead === 0) throw new SnapshotFormatError('empty file');
    if (!start.startsWith(`{"format":"${SNAPSHOT_FORMAT}"`) || newline === -1) {
      throw new SnapshotFormatError(`not a ${SNAPSHOT_FORMAT} file`);
    }
  } finally {
    await handle.close();
  }
}

function parseLine(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new SnapshotFormatError(`line ${lineNumber}: not JSON`);
  }
}

function checkHeader(value: unknown): void {
  const header = value as { format?: unknown; version?: unknown; fields?: unknown } | null;
  if (header?.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotFormatError(`not a ${SNAPSHOT_FORMAT} file`);
  }
  if (header.version !== SNAPSHOT_VERSION) {
    throw new SnapshotFormatError(`unsupported version ${String(header.version)}`);
  }
  if (JSON.stringify(header.fields) !== JSON.stringify(SNAPSHOT_FIELDS)) {
    throw new SnapshotFormatError('unexpected field list');
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const stringOrNull = (value: unknown): value is string | null => value === null || isString(value);

function toSession(
  values: unknown[],
  lineNumber: number,
  locations: Map<string, GeoLocation>,
): Session {
  const bad = (what: string) => new SnapshotFormatError(`line ${lineNumber}: ${what}`);
  if (values.length !== SNAPSHOT_FIELDS.length) throw bad('wrong number of fields');
  const [
    id,
    userId,
    fingerprintHash,
    refreshHash,
    previousRefreshHash,
    refreshRotatedAt,
    ipAddress,
    userAgent,
    location,
    loginIpAddress,
    loginUserAgent,
    createdAt,
    lastActivity,
    idleExpiresAt,
    absoluteExpiresAt,
  ] = values;
  if (![id, userId, fingerprintHash, refreshHash, ipAddress, userAgent].every(isString)) {
    throw bad('a text field is not text');
  }
  if (![previousRefreshHash, loginIpAddress, loginUserAgent].every(stringOrNull)) {
    throw bad('an optional text field is neither text nor null');
  }
  if (
    ![refreshRotatedAt, createdAt, lastActivity, idleExpiresAt, absoluteExpiresAt].every(isTime)
  ) {
    throw bad('a time is not a whole number of seconds');
  }
  return {
    id: id as string,
    userId: userId as string,
    fingerprintHash: fingerprintHash as string,
    refreshHash: refreshHash as string,
    previousRefreshHash: previousRefreshHash as string | null,
    refreshRotatedAt: refreshRotatedAt as number,
    ipAddress: ipAddress as string,
    userAgent: userAgent as string,
    location: toLocation(location, locations, bad),
    loginIpAddress: loginIpAddress as string | null,
    loginUserAgent: loginUserAgent as string | null,
    createdAt: createdAt as number,
    lastActivity: lastActivity as number,
    idleExpiresAt: idleExpiresAt as number,
    absoluteExpiresAt: absoluteExpiresAt as number,
  };
}

/** Checks a location and shares one frozen object per distinct place, as the GeoIP lookup does. */
function toLocation(
  value: unknown,
  locations: Map<string, GeoLocation>,
  bad: (what: string) => Error,
): GeoLocation | null {
  if (value === null) return null;
  const location = value as Record<string, unknown>;
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    !isString(location.country) ||
    (location.region !== undefined && !isString(location.region)) ||
    (location.city !== undefined && !isString(location.city)) ||
    Object.keys(location).some((key) => !['country', 'region', 'city'].includes(key))
  ) {
    throw bad('bad location');
  }
  const place: GeoLocation = {
    country: location.country,
    ...(location.region !== undefined ? { region: location.region as string } : {}),
    ...(location.city !== undefined ? { city: location.city as string } : {}),
  };
  const key = JSON.stringify(place);
  let shared = locations.get(key);
  if (!shared) {
    shared = Object.freeze(place);
    locations.set(key, shared);
  }
  return shared;
}

/** Sessions restored between yields to the event loop at start-up. */
const RESTORE_BATCH = 10_000;

/**
 * Keeps the sessions of a store that is not durable (memory) across restarts
 * (sessionSnapshotPath, by default in dataDir): restores the unexpired ones at start, writes the
 * live ones at shutdown (after the HTTP server has stopped taking requests) and, with
 * sessionSnapshotInterval > 0 (the default: 60 s), periodically, so a crash loses at most one
 * interval. A write that fails (a full disk) keeps the previous file and is tried again on the
 * next interval. A missing file is a first start; a foreign or corrupt one is moved aside and the
 * service starts empty; the temp files of writes a crash interrupted are removed. Does nothing for
 * durable stores (Redis keeps its own data).
 */
@Injectable()
export class SessionSnapshotService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('SessionSnapshot');
  private readonly path: string | undefined;
  private readonly pathSet: boolean;
  private readonly intervalSeconds: number;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly clock: Clock,
    config: FingerprintAuthConfig,
    private readonly metrics: FingerprintAuthMetrics,
  ) {
    this.path = config.sessionSnapshotPath;
    this.pathSet = config.sessionSnapshotPathSet;
    this.intervalSeconds = config.sessionSnapshotInterval;
  }

  /** Whether this store needs snapshots at all (a durable one keeps its own sessions). */
  private get active(): boolean {
    return this.path !== undefined && !this.sessions.durable;
  }

  async onModuleInit(): Promise<void> {
    if (!this.path) return;
    if (this.sessions.durable) {
      // The default path applies to the in-memory store only; a path someone set is a mistake.
      if (this.pathSet) {
        this.logger.warn(
          'SESSION_SNAPSHOT_PATH (sessionSnapshotPath) is ignored: the session store keeps its own sessions',
        );
      }
      return;
    }
    try {
      // Its folder (DATA_DIR by default) may not exist yet, e.g. with users in PostgreSQL.
      ensurePrivateDirectory(dirname(this.path));
    } catch (error) {
      // Never stops start-up: the writes below fail and say so (snapshot_failed).
      this.logger.warn({
        event: 'snapshot_failed',
        reason: 'directory',
        error: `cannot create the folder of ${this.path}: ${(error as Error).message}`,
      });
    }
    await this.removeUnfinished(this.path);
    await this.restore();
    if (this.intervalSeconds > 0) {
      this.timer = setInterval(() => void this.save('interval'), this.intervalSeconds * 1000);
      this.timer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.active) return;
    // A periodic write under way finishes first; then one more with the final state.
    await this.writing;
    await this.save('shutdown');
  }

  /** Writes the live sessions now; a write already under way is joined, not doubled. */
  save(reason: 'interval' | 'shutdown' = 'interval'): Promise<void> {
    this.writing ??= this.write(reason).finally(() => (this.writing = null));
    return this.writing;
  }

  private async write(reason: string): Promise<void> {
    const path = this.path;
    if (path === undefined || !this.active) return;
    const started = performance.now();
    const clock = this.clock;
    async function* live(sessions: AsyncIterable<Session>): AsyncGenerator<Session> {
      let seen = 0;
      for await (const session of sessions) {
        if (isLive(session, toSeconds(clock.now()))) yield session;
        if (++seen % WRITE_CHUNK === 0) await yieldToEventLoop();
      }
    }
    try {
      const { count, bytes } = await writeSnapshot(path, live(this.sessions.exportAll()), {
        createdAt: new Date(this.clock.now()),
      });
      this.logger.log({
        event: 'snapshot_written',
        reason,
        sessions: count,
        bytes,
        durationMs: Math.round(performance.now() - started),
      });
    } catch (error) {
      // The previous snapshot is untouched and the next interval tries again.
      this.metrics.snapshotFailures.inc();
      this.logger.error({
        event: 'snapshot_failed',
        reason,
        code: (error as NodeJS.ErrnoException).code,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private async removeUnfinished(path: string): Promise<void> {
    try {
      const removed = await removeUnfinishedWrites(path);
      if (removed.length === 0) return;
      this.logger.warn({
        event: 'snapshot_unfinished',
        files: removed,
        message: `removed ${removed.length} temp file(s) of snapshot writes that did not finish (the process was stopped during one); the snapshot itself is the last whole one`,
      });
    } catch (error) {
      // A missing folder was reported above; the restore reports one it cannot read.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.logger.warn({
        event: 'snapshot_unfinished',
        message: `could not remove the temp files of unfinished snapshot writes: ${(error as Error).message}`,
      });
    }
  }

  /** Puts back the unexpired sessions of the snapshot; all or nothing. */
  private async restore(): Promise<void> {
    const path = this.path;
    if (path === undefined || !this.active) return;
    const started = performance.now();
    const restored: Array<readonly [string, string]> = [];
    let skipped = 0;
    try {
      for await (const session of readSnapshot(path)) {
        if ((await this.sessions.importSession(session)) === 'imported') {
          restored.push([session.id, session.userId]);
        } else skipped++;
        if ((restored.length + skipped) % RESTORE_BATCH === 0) await yieldToEventLoop();
      }
    } catch (error) {
      await this.undo(restored);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.logger.log({ event: 'snapshot_missing', message: 'no snapshot yet: starting empty' });
        return;
      }
      if (error instanceof SessionStoreFullError) {
        this.logger.warn({
          event: 'snapshot_not_restored',
          message: 'the snapshot holds more sessions than the store has room for: starting empty',
        });
        return;
      }
      if (error instanceof SnapshotFormatError) {
        await this.moveAside(path, error);
        return;
      }
      this.logger.warn({
        event: 'snapshot_not_restored',
        message: `could not read the snapshot: ${(error as Error).message}; starting empty`,
      });
      return;
    }
    this.logger.log({
      event: 'snapshot_restored',
      sessions: restored.length,
      expired: skipped,
      durationMs: Math.round(performance.now() - started),
    });
  }

  private async undo(restored: ReadonlyArray<readonly [string, string]>): Promise<void> {
    for (let i = 0; i < restored.length; i++) {
      await this.sessions.revoke(restored[i][0], restored[i][1]);
    }
  }

  private async moveAside(path: string, error: SnapshotFormatError): Promise<void> {
    const stamp = new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-');
    const aside = `${path}.corrupt-${stamp}`;
    try {
      await rename(path, aside);
      this.logger.warn({
        event: 'snapshot_corrupt',
        message: `${path} is not a usable session snapshot (${error.message}); moved to ${aside}, starting empty`,
      });
    } catch (renameError) {
      this.logger.warn({
        event: 'snapshot_corrupt',
        message: `${path} is not a usable session snapshot (${error.message}) and could not be moved aside (${(renameError as Error).message}); starting empty`,
      });
    }
  }
}
