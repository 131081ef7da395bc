import knex, { type Knex } from 'knex';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
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
  /** How long a connection may sit idle in the pool before it is closed (default 30 s). */
  poolIdleMs?: number;
  /** Longest wait for a pooled connection, a new connection's handshake included (DB_ACQUIRE_TIMEOUT). */
  acquireTimeoutMs?: number;
  /** Longest any one statement may take, BEGIN and COMMIT included; 0 for none (DB_STATEMENT_TIMEOUT). */
  statementTimeoutMs?: number;
}

/** The defaults of DB_ACQUIRE_TIMEOUT and DB_STATEMENT_TIMEOUT, and of every createDb not told otherwise. */
export const DB_TIMEOUT_DEFAULTS = { acquireMs: 5_000, statementMs: 5_000 } as const;

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

export function createDb({
  url,
  database,
  poolMax = 10,
  poolIdleMs = 30_000,
  acquireTimeoutMs = DB_TIMEOUT_DEFAULTS.acquireMs,
  statementTimeoutMs = DB_TIMEOUT_DEFAULTS.statementMs,
}: DbOptions): Db {
  return knex({
    client: statementTimeoutMs > 0 ? boundedClient(statementTimeoutMs) : 'mysql2',
    connection: {
      ...connectionFromUrl(url),
      database,
      // DECIMAL columns come back as strings: money stays exact.
      supportBigNumbers: true,
      dateStrings: false,
      timezone: 'Z',
      // A server that accepts the connection and never greets is a connection that failed.
      connectTimeout: acquireTimeoutMs,
    },
    pool: {
      // None kept when idle: a connection left in the pool for hours can go stale unnoticed (a
      // NAT or firewall dropping it without a close), and the next statement would hang until its
      // bound. A quiet spell costs no reconnect in practice: the relay's poll keeps one warm
      // (bench/experiments/quiet-gaps.ts: no new connection for an order after 35 s of nothing).
      min: 0,
      max: poolMax,
      idleTimeoutMillis: poolIdleMs,
      afterCreate: readCommitted(statementTimeoutMs),
    },
    acquireConnectionTimeout: acquireTimeoutMs,
  });
}

interface RawConnection {
  query(options: { sql: string; timeout?: number }, done: (err: Error | null) => void): void;
  /** mysql2: marks the connection closing (the pool's validation then refuses it) and ends the socket. */
  destroy(): void;
  stream?: { destroy(): void };
}

/** What knex hands the driver for one statement: `options` go to mysql2's query() as they are. */
interface QueryObject {
  sql: string;
  options?: { timeout?: number };
}

/** The error of a statement cut short; `fatal` as mysql2 marks errors that cost the connection. */
export class StatementTimeoutError extends Error {
  readonly code = 'PROTOCOL_SEQUENCE_TIMEOUT';
  readonly fatal = true;
  constructor(readonly timeoutMs: number) {
    super(`the database did not answer the statement within ${timeoutMs} ms; its connection was closed`);
    this.name = 'StatementTimeoutError';
  }
}

/** knex's own mysql2 dialect, which boundedClient extends (knex exports no name for it). */
const MySql2Client = createRequire(import.meta.url)(
  'knex/lib/dialects/mysql2/index.js',
) as typeof Knex.Client;

/**
 * A server that stops answering (a stopped process, a dead network path) would hold a statement,
 * its connection and whoever waits for it for ever: no error comes while the TCP connection
 * stands. This dialect gives every statement knex runs, BEGIN, COMMIT and ROLLBACK included,
 * mysql2's query timeout (a statement's own `.options({ timeout })` wins, as the readiness
 * probe's does). A subclass, not a patched instance: transactions run on a client made from the
 * class's prototype.
 *
 * mysql2 only stops waiting: the connection would still expect the late answer, so it is closed
 * here, its socket destroyed, and the pool refuses it instead of handing it out again. No KILL
 * QUERY is sent: a server that does not answer would not answer that either. When it wakes up it
 * finds the connection gone and rolls back what was open on it. A COMMIT cut short may still
 * have committed: callers that care already treat a failed COMMIT as an unknown outcome.
 */
function boundedClient(timeoutMs: number): typeof Knex.Client {
  const driverQuery = (MySql2Client.prototype as unknown as { _query: QueryFn })._query;
  type QueryFn = (this: unknown, connection: RawConnection, obj: QueryObject | string) => Promise<unknown>;
  const discarded = new WeakSet<RawConnection>();
  return class BoundedMySql2Client extends MySql2Client {
    async _query(connection: RawConnection, obj: QueryObject | string): Promise<unknown> {
      const statement = typeof obj === 'string' ? { sql: obj } : obj;
      // The transaction's ROLLBACK after its statement timed out: the server rolls back when it
      // sees the connection gone. Failing here would put "connection in closed state" in the
      // transaction's place, not the timeout that explains it.
      if (discarded.has(connection) && /^ROLLBACK\b/i.test(statement.sql)) return statement;
      const limit = statement.options?.timeout ?? timeoutMs;
      statement.options = { ...statement.options, timeout: limit };
      try {
        return await driverQuery.call(this, connection, statement);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'PROTOCOL_SEQUENCE_TIMEOUT') throw err;
        discard(connection);
        discarded.add(connection);
        throw new StatementTimeoutError(limit);
      }
    }
  };
}

function discard(connection: RawConnection): void {
  connection.destroy();
  connection.stream?.destroy();
}

/**
 * Every connection reads committed data and takes no gap locks. The services' invariants rest on
 * row locks (SELECT … FOR UPDATE), guarded updates and unique indexes, never on a snapshot; and
 * set once per connection, READ COMMITTED costs no extra round trip per transaction (a knex
 * `isolationLevel` sends a SET TRANSACTION before every BEGIN). Bounded like any statement: a
 * connection whose server stopped answering after the handshake is discarded, not pooled.
 */
function readCommitted(timeoutMs: number) {
  return (conn: RawConnection, done: (err: Error | null, conn: RawConnection) => void): void => {
    const sql = 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED';
    conn.query(timeoutMs > 0 ? { sql, timeout: timeoutMs } : { sql }, (err) => {
      if (err) discard(conn);
      done(err, conn);
    });
  };
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

/**
 * Reads `<dir>/*.ts` (the sources, run through tsx) or `<dir>/*.js` (compiled by `npm run build`)
 * in name order, loaded through import(). A compiled migration is recorded under its source's
 * name, so knex_migrations reads the same whichever of the two applied it.
 */
class DirectoryMigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<string[]> {
    const files = await readdir(this.dir);
    return files.filter((f) => /^\d.*\.[jt]s$/.test(f) && !f.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file.replace(/\.js$/, '.ts');
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
  // A migration may rewrite a whole table: no statement bound here.
  const db = createDb({ ...options, poolMax: 1, statementTimeoutMs: 0 });
  try {
    return await migrateLatest(db, dir);
  } finally {
    await db.destroy();
  }
}

/** How long /readyz waits for each dependency. */
export const READINESS_TIMEOUT_MS = 2_000;

/**
 * /readyz check: a round trip to the database, answered within READINESS_TIMEOUT_MS however the
 * database fails (the wait for a connection included). The probe's own statement gives up as
 * soon as the probe does, so probes of a hung server do not pile up on the pool.
 */
export function dbReadiness(db: Db): () => Promise<void> {
  return () =>
    withTimeout(
      db.raw('select 1').options({ timeout: READINESS_TIMEOUT_MS }),
      READINESS_TIMEOUT_MS,
      `database did not answer within ${READINESS_TIMEOUT_MS / 1_000} s`,
    );
}
