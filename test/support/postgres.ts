import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Throwaway PostgreSQL databases for one test run, created through a connection to the given
 * server URL and dropped (`WITH (FORCE)`, ending any connection left open) when the run ends, so
 * parallel runs against one server never see each other's tables.
 */
export class ThrowawayDatabases {
  private readonly created = new Set<string>();

  constructor(
    private readonly serverUrl: string,
    private readonly prefix = 'fpa_contract',
  ) {}

  /** Creates an empty database and returns a URL for it (same server, user and options). */
  async create(): Promise<{ name: string; url: string }> {
    const name = `${this.prefix}_${randomBytes(6).toString('hex')}`;
    await this.admin(`CREATE DATABASE ${name}`);
    this.created.add(name);
    return { name, url: databaseUrl(this.serverUrl, name) };
  }

  async drop(name: string): Promise<void> {
    await this.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    this.created.delete(name);
  }

  async dropAll(): Promise<void> {
    for (const name of [...this.created]) await this.drop(name);
  }

  private async admin(statement: string): Promise<void> {
    const client = new Client({ connectionString: this.serverUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }
}

/** The URL of another database (and optionally another host and port) on the same server. */
export function databaseUrl(
  serverUrl: string,
  database: string,
  via?: { host: string; port: number },
): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  if (via) {
    url.hostname = via.host;
    url.port = String(via.port);
  }
  return url.toString();
}

/** Host and port of a postgres:// URL. */
export function serverAddress(serverUrl: string): { host: string; port: number } {
  const url = new URL(serverUrl);
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) };
}
