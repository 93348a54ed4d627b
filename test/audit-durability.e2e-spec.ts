import { Controller, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FingerprintAuthModule } from '../src';
import { AuditTrail } from '../src/audit/audit-trail';
import { openDatabase } from '../src/database/database';
import { migrateToLatest } from '../src/users/database/migrations';
import { KyselyUserRepository } from '../src/users/kysely-user.repository';
import { RELAXED_RATE_LIMITS, TEST_DATA_DIR, TEST_SECRET } from './support/app';
import { databaseUrl, serverAddress, ThrowawayDatabases } from './support/postgres';
import { startService } from './support/process';
import { describeWithPostgres } from './support/services';
import { TcpProxy } from './support/tcp-proxy';
import { HostClient, PASSWORD } from './library/host-client';

const uniqueEmail = () => `audit-${Math.random().toString(36).slice(2)}@example.com`;

interface EventsPage {
  events: Array<{ type: string; sessionId: string | null }>;
  nextCursor: string | null;
}

async function eventsOf(client: HostClient, credentials: Record<string, string>, prefix = '') {
  const response = await client.get(`${prefix}/account/events?limit=100`, credentials);
  expect(response.status).toBe(200);
  return ((await response.json()) as EventsPage).events;
}

describe('audit events survive a restart (e2e, service processes)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-audit-restart-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the events of before the restart after it: the queue is written at shutdown', async () => {
    const env = {
      JWT_SECRET: TEST_SECRET,
      DATA_DIR: dir,
      COOKIE_SECURE: 'false',
      GEOIP: 'off',
    };
    const email = uniqueEmail();
    const first = await startService(env, 7980);
    let before: Array<{ type: string; sessionId: string | null }>;
    try {
      const client = new HostClient(first.url);
      expect((await client.post('/auth/register', { email, password: PASSWORD })).status).toBe(201);
      const login = await client.login('', email);
      const refreshed = await client.post('/auth/refresh', undefined, {
        cookie: login.cookie('fpa_refresh'),
      });
      expect(refreshed.status).toBe(200);
      before = [
        { type: 'refresh', sessionId: login.sessionId },
        { type: 'login', sessionId: login.sessionId },
      ];
    } finally {
      // SIGTERM at once, well within the queue's half-second delay: shutdown must write it.
      expect(await first.stop('SIGTERM')).toBe(0);
    }

    const second = await startService(env, 7981);
    try {
      const client = new HostClient(second.url);
      const again = await client.login('', email);
      // This login's own event is written within half a second: wait for it (bounded).
      let events = await eventsOf(client, again.credentials);
      for (let tries = 0; events.length < 3 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        events = await eventsOf(client, again.credentials);
      }
      expect(events.map(({ type, sessionId }) => ({ type, sessionId }))).toEqual([
        { type: 'login', sessionId: again.sessionId },
        ...before,
      ]);
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
  });
});

@Controller('host')
class HostController {}

describeWithPostgres('an outage of the audit database (e2e)', (serverUrl) => {
  const databases = new ThrowawayDatabases(serverUrl);
  let proxy: TcpProxy;
  let app: INestApplication;
  let client: HostClient;
  const users = openDatabase('sqlite::memory:');

  beforeAll(async () => {
    const { name } = await databases.create();
    proxy = await TcpProxy.start(serverAddress(serverUrl));
    await migrateToLatest(users.db, users.kind);

    // The host's own users (here in SQLite), the audit trail in PostgreSQL behind a link the
    // test can cut: logins depend on the users alone, never on the audit write.
    @Module({
      imports: [
        FingerprintAuthModule.forRoot({
          jwtSecret: TEST_SECRET,
          dataDir: TEST_DATA_DIR,
          sessionSnapshotPath: 'off',
          geoip: false,
          cookieSecure: false,
          cleanupCron: '0 0 0 1 1 *',
          rateLimitLoginPerAccount: Number(
            RELAXED_RATE_LIMITS.RATE_LIMIT_LOGIN_PER_ACCOUNT ?? 1000,
          ),
          users: new KyselyUserRepository(users),
          databaseUrl: databaseUrl(serverUrl, name, { host: '127.0.0.1', port: proxy.port }),
        }),
      ],
      controllers: [HostController],
    })
    class HostModule {}

    app = await NestFactory.create(HostModule, new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    client = new HostClient(await app.getUrl());
  });

  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await users.db.destroy();
    await databases.dropAll();
  });

  it('loses no login: logins succeed while it is down, and their events are written once it is back', async () => {
    const email = uniqueEmail();
    expect((await client.post('/auth/register', { email, password: PASSWORD })).status).toBe(201);
    const trail = app.get(AuditTrail);

    await proxy.cut();
    const logins = [];
    for (let i = 0; i < 5; i++) logins.push(await client.login('', email));
    await trail.flush(); // refused: the events stay queued
    const listed = await client.get('/account/events', logins[0].credentials);
    expect(listed.status).toBe(503);

    await proxy.restore();
    await trail.flush();
    const events = await eventsOf(client, logins[4].credentials);
    expect(events.map((e) => [e.type, e.sessionId])).toEqual(
      logins.map((login) => ['login', login.sessionId]).reverse(),
    );
  });
});
