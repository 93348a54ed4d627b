import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  Injectable,
  Module,
  Request,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import Database from 'better-sqlite3';
import type { IncomingHttpHeaders } from 'node:http';
import { childConfig, reportFailure, reportReady, serveCommands } from '../lib/child-side';

/**
 * Baseline C: better-auth, the session library a NestJS or Next.js team would weigh against this
 * one, behind a NestJS guard on the same Fastify adapter as baseline A. The guard asks
 * `auth.api.getSession` for the request's session, as better-auth's own integrations do: with
 * `cookieCache` off it reads the session and its user from SQLite (better-sqlite3, WAL, the
 * embedded setup its docs start from, and the same engine as the service's default user
 * database) on every request; with it on, a signed cookie carries both for up to five minutes and
 * the database is not asked (so a revoked session stays usable until that cookie expires).
 */
interface Config {
  port: number;
  secret: string;
  cookieCache: boolean;
}

interface SessionUser {
  id: string;
  sessionId: string;
}

const { port, secret, cookieCache } = childConfig<Config>();

/** better-auth ships as ES modules only: loaded with import(), which the CommonJS build keeps. */
async function createAuth(databaseFile: string) {
  const [{ betterAuth }, { getMigrations }, { fromNodeHeaders }] = await Promise.all([
    import('better-auth'),
    import('better-auth/db/migration'),
    import('better-auth/node'),
  ]);
  const database = new Database(databaseFile);
  database.pragma('journal_mode = WAL');
  const options = {
    secret,
    baseURL: `http://127.0.0.1:${port}`,
    database,
    emailAndPassword: { enabled: true },
    session: { cookieCache: { enabled: cookieCache, maxAge: 5 * 60 } },
    // Its default limiter counts requests in memory per IP: the load comes from one address.
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
  };
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const auth = betterAuth(options);
  return { auth, database, fromNodeHeaders };
}

type Auth = Awaited<ReturnType<typeof createAuth>>;
let ready: Auth;

@Injectable()
class BetterAuthGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: IncomingHttpHeaders; user?: SessionUser }>();
    const found = await ready.auth.api.getSession({
      headers: ready.fromNodeHeaders(request.headers),
    });
    if (!found) throw new UnauthorizedException();
    request.user = { id: found.user.id, sessionId: found.session.id };
    return true;
  }
}

@Controller('bench')
class ProfileController {
  @UseGuards(BetterAuthGuard)
  @Get('me')
  me(@Request() request: { user: SessionUser }) {
    return { id: request.user.id, sessionId: request.user.sessionId };
  }
}

@Module({ controllers: [ProfileController], providers: [BetterAuthGuard] })
class BaselineModule {}

/** Signs a user up and answers with the Cookie header its browser would send afterwards. */
async function signUp(args: unknown): Promise<{ cookie: string; id: string; sessionId: string }> {
  const { email, password } = args as { email: string; password: string };
  const response = await ready.auth.api.signUpEmail({
    body: { email, password, name: 'Bench' },
    asResponse: true,
  });
  if (!response.ok) throw new Error(`sign-up answered ${response.status}`);
  const cookie = response.headers
    .getSetCookie()
    .map((header) => header.split(';')[0])
    .join('; ');
  const session = await ready.auth.api.getSession({ headers: new Headers({ cookie }) });
  if (!session) throw new Error('the new session is not found');
  return { cookie, id: session.user.id, sessionId: session.session.id };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-better-auth-'));
  ready = await createAuth(join(dir, 'auth.sqlite'));
  const app = await NestFactory.create<NestFastifyApplication>(
    BaselineModule,
    new FastifyAdapter(),
    { logger: false },
  );
  await app.listen({ port, host: '127.0.0.1' });
  serveCommands({ signUp }, async () => {
    await app.close();
    ready.database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  reportReady(port);
}

main().catch(reportFailure);
