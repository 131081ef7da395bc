import knex, { type Knex } from 'knex';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { withTimeout } from './timeout.js';

export type { Knex } from 'knex';
/**
 * What every repository function takes first: the pool, or the caller's transaction when the
 * statement belongs to one (a transaction is a Knex too), so one signature serves both.
 */
export type Db = Knex;
/** Taken instead of Db by a repository function that locks rows: it only means something in a transaction. */
export type Trx = Knex.Transaction;

/** The server's message when a unique index refused the row (it names the index); undefined for any other error. */
export function duplicateKeyMessage(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 'ER_DUP_ENTRY' ? String(message) : undefined;
}

/** MySQL's duplicate-key error: a unique index refused the row. */
export function isDuplicateKeyError(err: unknown): boolean {
  return duplicateKeyMessage(err) !== undefined;
}

export interface DbOptions {
  /** Server URL, e.g. mysql://root@127.0.0.1:3306; a database in its path is ignored. */
  url: string;
  database: string;
  poolMax?: number;
}

const SAFE_NAME = /^[A-Za-z0-9_]{1,64}$/;

function connectionFromUrl(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
  };
}

export function createDb({ url, database, poolMax = 10 }: DbOptions): Db {
  return knex({
    client: 'mysql2',
    connection: {
      ...connectionFromUrl(url),
      database,
      // DECIMAL columns come back as strings: money stays exact.
      supportBigNumbers: true,
      dateStrings: false,
      timezone: 'Z',
      connectTimeout: 5_000,
    },
    pool: {
      min: 0,
      max: poolMax,
      afterCreate: readCommitted,
    },
    acquireConnectionTimeout: 5_000,
  });
}

type RawConnection = { query(sql: string, done: (err: Error | null) => void): void };

/**
 * Every connection reads committed data and takes no gap locks. The services' invariants rest on
 * row locks (SELECT … FOR UPDATE), guarded updates and unique indexes, never on a snapshot; and
 * set once per connection, READ COMMITTED costs no extra round trip per transaction (a knex
 * `isolationLevel` sends a SET TRANSACTION before every BEGIN).
 */
function readCommitted(conn: RawConnection, done: (err: Error | null, conn: RawConnection) => void): void {
  conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (err) => done(err, conn));
}

export async function ensureDatabase(url: string, database: string): Promise<void> {
  if (!SAFE_NAME.test(database)) throw new Error(`Refusing database name ${JSON.stringify(database)}`);
  const conn = await createConnection(connectionFromUrl(url));
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await conn.end();
  }
}

export async function dropDatabase(url: string, database: string): Promise<void> {
  // Only test databases may be dropped by code.
  if (!SAFE_NAME.test(database) || !database.includes('_test')) {
    throw new Error(`Refusing to drop ${JSON.stringify(database)}: not a _test database`);
  }
  const conn = await createConnection(connectionFromUrl(url));
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

interface MigrationModule {
  up: (db: Knex) => Promise<void>;
  down: (db: Knex) => Promise<void>;
}

/** Reads `<dir>/*.ts` in name order; loaded through import() so TypeScript migrations need no build. */
class DirectoryMigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<string[]> {
    const files = await readdir(this.dir);
    return files.filter((f) => /^\d.*\.ts$/.test(f)).sort();
  }

  getMigrationName(file: string): string {
    return file;
  }

  async getMigration(file: string): Promise<MigrationModule> {
    return (await import(pathToFileURL(path.join(this.dir, file)).href)) as MigrationModule;
  }
}

export async function migrateLatest(db: Db, dir: string): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: new DirectoryMigrationSource(dir) })) as [
    number,
    string[],
  ];
  return applied;
}

export async function migrateRollbackAll(db: Db, dir: string): Promise<void> {
  await db.migrate.rollback({ migrationSource: new DirectoryMigrationSource(dir) }, true);
}

/** Create the database if missing, then apply every migration in `dir`. */
export async function prepareDatabase(options: DbOptions, dir: string): Promise<string[]> {
  await ensureDatabase(options.url, options.database);
  const db = createDb({ ...options, poolMax: 1 });
  try {
    return await migrateLatest(db, dir);
  } finally {
    await db.destroy();
  }
}

/** /readyz check: a round trip to the database. */
export function dbReadiness(db: Db): () => Promise<void> {
  return () => withTimeout(db.raw('select 1'), 2_000, 'database did not answer within 2 s');
}
