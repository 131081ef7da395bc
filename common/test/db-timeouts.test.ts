/**
 * A database that stops answering (its process stopped, the network path dead) fails statements
 * and connection requests within their bounds, as a 503 the consumers retry, and the pool never
 * hands out a connection that still waits for a late answer. The machine's MariaDB stands behind
 * a relay that can be frozen: real sockets, a real server, no answer while frozen.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  createDb,
  dbReadiness,
  dropDatabase,
  ensureDatabase,
  isTransientError,
  toAppError,
  type Db,
} from '@delivery/common';
import {
  TEST_MYSQL_URL,
  freezableProxy,
  timedFailure,
  uniqueId,
  waitFor,
  type FreezableProxy,
} from '@delivery/common/testing';

const STATEMENT_MS = 1_000;
const ACQUIRE_MS = 1_000;
/** Timers and event-loop turns beyond the bound itself. */
const SLACK_MS = 500;

function assertUnavailable(err: unknown) {
  const answer = toAppError(err);
  assert.equal(answer.status, 503, String(err));
  assert.equal(answer.code, 'dependency_unavailable');
  assert.ok(isTransientError(err), 'a consumer retries it without limit');
}

const connectionId = async (db: Db) =>
  Number(((await db.raw('SELECT CONNECTION_ID() AS id')) as [{ id: number }[]])[0][0]!.id);

describe('a database that stops answering', () => {
  const database = `timeouts_test_${uniqueId()}`;
  let proxy: FreezableProxy;
  /** Straight to the server, for what the test itself reads. */
  let direct: Db;

  before(async () => {
    const { hostname, port } = new URL(TEST_MYSQL_URL);
    proxy = await freezableProxy({ host: hostname, port: Number(port || 3306) });
    await ensureDatabase(TEST_MYSQL_URL, database);
    direct = createDb({ url: TEST_MYSQL_URL, database });
    await direct.raw('CREATE TABLE marks (id INT PRIMARY KEY)');
  });
  after(async () => {
    proxy.thaw();
    await proxy.close();
    await direct?.destroy();
    await dropDatabase(TEST_MYSQL_URL, database);
  });

  const open = () =>
    createDb({
      url: proxy.url('mysql'),
      database,
      poolMax: 2,
      statementTimeoutMs: STATEMENT_MS,
      acquireTimeoutMs: ACQUIRE_MS,
    });

  it('a statement fails within DB_STATEMENT_TIMEOUT as a 503, and its connection is never used again', async () => {
    const db = open();
    try {
      const before = await connectionId(db);
      proxy.freeze();
      const { ms, err } = await timedFailure(() => db.raw('SELECT 1'));
      proxy.thaw();
      assert.ok(
        ms >= STATEMENT_MS - 50 && ms <= STATEMENT_MS + SLACK_MS,
        `failed after ${Math.round(ms)} ms`,
      );
      assertUnavailable(err);
      // The connection that waited is gone: the next statement runs on a new one, at once.
      assert.notEqual(await connectionId(db), before, 'the timed-out connection went back to the pool');
    } finally {
      proxy.thaw();
      await db.destroy();
    }
  });

  it('a transaction fails within the bound as a 503 and what it wrote is rolled back', async () => {
    const db = open();
    try {
      let abandoned = 0;
      const { ms, err } = await timedFailure(() =>
        db.transaction(async (trx) => {
          await trx('marks').insert({ id: 1 });
          abandoned = await connectionId(trx);
          proxy.freeze();
          await trx('marks').insert({ id: 2 });
        }),
      );
      proxy.thaw();
      assert.ok(ms <= STATEMENT_MS + SLACK_MS, `failed after ${Math.round(ms)} ms`);
      assertUnavailable(err);
      assert.match(
        String(err),
        /did not answer the statement within 1000 ms/,
        'the timeout is what it reports',
      );
      // The server rolls back once it sees the connection gone.
      await waitFor(
        async () =>
          (
            (await direct('information_schema.PROCESSLIST').where({ ID: abandoned }).count({ n: '*' })) as [
              { n: number },
            ]
          )[0].n == 0,
        { timeoutMs: 10_000, what: `connection ${abandoned} closed by the server` },
      );
      assert.deepEqual(await direct('marks').pluck('id'), [], 'nothing of the transaction committed');
    } finally {
      proxy.thaw();
      await db.destroy();
    }
  });

  it('asking for a connection to a server that never greets fails within DB_ACQUIRE_TIMEOUT as a 503', async () => {
    const db = open();
    try {
      proxy.freeze();
      const { ms, err } = await timedFailure(() => db.raw('SELECT 1'));
      proxy.thaw();
      assert.ok(ms <= ACQUIRE_MS + SLACK_MS, `failed after ${Math.round(ms)} ms`);
      assertUnavailable(err);
      // Usable once it answers again (the attempt that timed out may still fail one more caller).
      await waitFor(
        () =>
          db.raw('SELECT 1').then(
            () => true,
            () => false,
          ),
        { what: 'a connection again' },
      );
    } finally {
      proxy.thaw();
      await db.destroy();
    }
  });

  it("/readyz's database check fails within 2 s, with its own statement given up as well", async () => {
    // The services' bound (5 s) is longer than the probe's: the probe must not wait for it.
    const db = createDb({ url: proxy.url('mysql'), database, poolMax: 1 });
    try {
      await connectionId(db);
      proxy.freeze();
      const { ms, err } = await timedFailure(dbReadiness(db));
      assert.ok(ms <= 2_000 + SLACK_MS, `failed after ${Math.round(ms)} ms`);
      assert.match(String(err), /database did not answer within 2 s/);
      // Its statement gave the connection up too, instead of holding it for the 5 s of the
      // services' bound: probes of a hung server do not pile up on the pool.
      const pool = (db.client as { pool: { numUsed(): number } }).pool;
      await waitFor(() => pool.numUsed() === 0, {
        timeoutMs: 500,
        intervalMs: 20,
        what: 'the probe connection released',
      });
      proxy.thaw();
      await dbReadiness(db)();
    } finally {
      proxy.thaw();
      await db.destroy();
    }
  });
});
