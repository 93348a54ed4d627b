import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql, SqliteDialect } from 'kysely';
import { reusingStatements } from './sqlite-statements';

interface Tables {
  t: { id: number; name: string };
}

describe('reusingStatements', () => {
  let connection: BetterSqlite3.Database;
  let prepare: jest.SpyInstance;

  beforeEach(() => {
    connection = new BetterSqlite3(':memory:');
    connection.exec('create table t (id integer primary key, name text not null unique)');
    prepare = jest.spyOn(connection, 'prepare');
  });

  afterEach(() => {
    if (connection.open) connection.close();
  });

  it('prepares each SQL text once and hands back the same statement after', () => {
    const database = reusingStatements(connection);
    const first = database.prepare('select * from t where id = ?');
    const again = database.prepare('select * from t where id = ?');
    const other = database.prepare('select name from t');
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    expect(prepare.mock.calls).toEqual([['select * from t where id = ?'], ['select name from t']]);
  });

  it('keeps the texts used most recently, up to its capacity', () => {
    const database = reusingStatements(connection, 2);
    const a = database.prepare('select 1');
    database.prepare('select 2');
    database.prepare('select 1'); // now the most recent: 'select 2' goes first
    database.prepare('select 3');
    expect(database.prepare('select 1')).toBe(a);
    database.prepare('select 2');
    expect(prepare.mock.calls.map(([text]) => text)).toEqual([
      'select 1',
      'select 2',
      'select 3',
      'select 2',
    ]);
  });

  it('does not keep a text that failed to prepare: the next query tries again', () => {
    const database = reusingStatements(connection);
    expect(() => database.prepare('select * from missing')).toThrow(/no such table/);
    connection.exec('create table missing (x)');
    expect(database.prepare('select * from missing').all([])).toEqual([]);
    expect(prepare).toHaveBeenCalledTimes(2);
  });

  it("serves Kysely's queries: a reused statement answers with each call's own parameters, and after a failed run", async () => {
    const db = new Kysely<Tables>({
      dialect: new SqliteDialect({ database: reusingStatements(connection) }),
    });
    const insert = (id: number, name: string) => db.insertInto('t').values({ id, name }).execute();
    const nameOf = async (id: number) =>
      (await db.selectFrom('t').select('name').where('id', '=', id).executeTakeFirst())?.name;
    await insert(1, 'one');
    await insert(2, 'two');
    // By message: better-sqlite3's native part keeps the error class of the first test file that
    // loaded it in this Jest worker, which is no Error of this file's realm for `rejects.toThrow`.
    await expect(insert(3, 'one')).rejects.toHaveProperty(
      'message',
      expect.stringMatching(/UNIQUE/),
    );
    await insert(3, 'three');
    expect([await nameOf(1), await nameOf(2), await nameOf(3), await nameOf(4)]).toEqual([
      'one',
      'two',
      'three',
      undefined,
    ]);
    // A stream (better-sqlite3's iterate) left early releases its statement for the next query.
    for await (const row of db.selectFrom('t').select('name').orderBy('id').stream()) {
      expect(row.name).toBe('one');
      break;
    }
    expect(
      (await db.selectFrom('t').select('name').orderBy('id').execute()).map((r) => r.name),
    ).toEqual(['one', 'two', 'three']);
    expect(await sql<{ n: number }>`select count(*) as n from t`.execute(db)).toMatchObject({
      rows: [{ n: 3 }],
    });
    // One statement per distinct text: two inserts' worth of SQL is one text, and so on.
    const texts = new Set(prepare.mock.calls.map(([text]) => text));
    expect(prepare).toHaveBeenCalledTimes(texts.size);
    await db.destroy();
    expect(connection.open).toBe(false);
  });
});
