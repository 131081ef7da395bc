/**
 * The pool across quiet spells, against the machine's MariaDB: it keeps no idle connection past
 * its idle time, so none sits for hours to go stale unnoticed (a NAT or firewall dropping it
 * without a close would make the next statement hang until its bound), and a pooled connection
 * the server has since closed is never handed out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDb, dropDatabase, ensureDatabase, type Db } from '@delivery/common';
import { TEST_MYSQL_URL, uniqueId, waitFor } from '@delivery/common/testing';

/** The connection ids of `n` statements held open at once, so each takes its own connection. */
async function connectionsAtOnce(db: Db, n: number): Promise<number[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, () =>
      db.transaction(async (trx) => {
        const [rows] = (await trx.raw('SELECT CONNECTION_ID() AS id, SLEEP(0.05)')) as [{ id: number }[]];
        return Number(rows[0]!.id);
      }),
    ),
  );
  return ids.sort();
}

describe('the database pool over quiet spells', () => {
  const database = `pool_test_${uniqueId()}`;
  /** Idle connections past this are closed: the test waits it out. */
  const IDLE_MS = 200;
  /** The pool looks for idle connections once a second. */
  const PAST_REAPING_MS = IDLE_MS + 1_500;
  let db: Db;
  let direct: Db;

  before(async () => {
    await ensureDatabase(TEST_MYSQL_URL, database);
    db = createDb({ url: TEST_MYSQL_URL, database, poolIdleMs: IDLE_MS });
    direct = createDb({ url: TEST_MYSQL_URL, database });
  });
  /** How many of these connections the server still has. */
  const openOnServer = async (ids: number[]) => {
    const [rows] = (await direct.raw(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${ids.map(() => '?').join(', ')})`,
      ids,
    )) as [{ n: number }[]];
    return Number(rows[0]!.n);
  };
  after(async () => {
    await db?.destroy();
    await direct?.destroy();
    await dropDatabase(TEST_MYSQL_URL, database);
  });

  it('closes every connection that sat idle past its idle time', async () => {
    const busy = await connectionsAtOnce(db, 4);
    assert.equal(new Set(busy).size, 4, 'four connections while four statements ran at once');
    assert.equal(await openOnServer(busy), 4, 'all four open right after');
    await new Promise((r) => setTimeout(r, PAST_REAPING_MS));
    assert.equal(await openOnServer(busy), 0, 'none kept through the quiet spell');
    const afterQuiet = await connectionsAtOnce(db, 1);
    assert.ok(!busy.includes(afterQuiet[0]!), 'the next statement opens a new one');
  });

  it('a pooled connection the server closed is replaced, never handed out', async () => {
    const kept = await connectionsAtOnce(db, 2);
    for (const id of kept) await direct.raw('KILL CONNECTION ?', [id]);
    // Like a server restart, or its wait_timeout: the sockets close while the pool holds them.
    await waitFor(async () => (await openOnServer(kept)) === 0, {
      what: 'both connections gone on the server',
    });
    // The server's close reached this process before its answer above did; give its socket
    // events a turn of the event loop to land.
    await new Promise((r) => setTimeout(r, 20));
    const fresh = await connectionsAtOnce(db, 2);
    assert.deepEqual(
      fresh.filter((id) => kept.includes(id)),
      [],
      'new connections, the killed ones never used',
    );
  });
});
