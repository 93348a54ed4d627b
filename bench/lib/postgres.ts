import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A database the bench creates on a PostgreSQL server for one run, and drops afterwards. */
export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** The server the PostgreSQL parts use: BENCH_DATABASE_URL, DATABASE_URL_TEST or the local one. */
export const benchPostgresServer = (): string =>
  process.env.BENCH_DATABASE_URL ??
  process.env.DATABASE_URL_TEST ??
  'postgres://postgres@127.0.0.1:5432/test';

/** Creates a throwaway database on `serverUrl`; null (with the reason) when the server does not answer. */
export async function createBenchDatabase(
  serverUrl: string,
): Promise<{ database: BenchDatabase } | { database: null; reason: string }> {
  const name = `fpa_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
    await admin.query(`create database ${name}`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    const code = (error as { code?: string }).code ?? (error as Error).message;
    return {
      database: null,
      reason: `no PostgreSQL at BENCH_DATABASE_URL/DATABASE_URL_TEST (${code})`,
    };
  }
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    database: {
      url: url.toString(),
      drop: async () => {
        const client = new Client({ connectionString: serverUrl });
        await client.connect();
        try {
          await client.query(`drop database if exists ${name} with (force)`);
        } finally {
          await client.end();
        }
      },
    },
  };
}
