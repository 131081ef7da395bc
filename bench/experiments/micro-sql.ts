/**
 * What a statement costs the Node process, by client path: knex's pool, a knex transaction,
 * mysql2's pool, and a held mysql2 connection. 2,000 sequential statements each; CPU of this
 * process and of MariaDB from /proc, wall time per statement. GAP_MS (default 0) waits that long
 * between two statements, as they come at low rates, with 500 of each; the idle cost of both
 * processes over the gaps, measured first, is subtracted.
 *
 *   [GAP_MS=0] npx tsx bench/experiments/micro-sql.ts   (uses MYSQL_URL, default mysql://root@127.0.0.1:3306)
 */
import mysql from 'mysql2/promise';
import { createDb } from '@delivery/common';
import { cpuMeter } from '../cpu.js';

const url = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const db = createDb({ url, database: 'mysql', poolMax: 4 });
const pool = mysql.createPool({ uri: `${url}/mysql`, connectionLimit: 4 });
const held = await pool.getConnection();

const cases: [string, () => Promise<unknown>][] = [
  ['knex pool: SELECT 1', () => db.raw('SELECT 1')],
  ['knex: empty transaction (BEGIN, COMMIT)', () => db.transaction(async () => undefined)],
  [
    'knex: transaction of 3 SELECT 1 (5 statements)',
    () =>
      db.transaction(async (trx) => {
        for (let i = 0; i < 3; i++) await trx.raw('SELECT 1');
      }),
  ],
  ['mysql2 pool: SELECT 1', () => pool.query('SELECT 1')],
  ['mysql2 held connection: SELECT 1', () => held.query('SELECT 1')],
];
const gapMs = Number(process.env.GAP_MS ?? 0);
const n = gapMs > 0 ? 500 : 2_000;
const pause = () => (gapMs > 0 ? new Promise((r) => setTimeout(r, gapMs)) : undefined);
const idleMeter = cpuMeter();
await new Promise((r) => setTimeout(r, 3_000));
const idle = idleMeter.stop();
const idleRate = (who: string) => (idle.perProcess[who] ?? 0) / idle.seconds;
for (const [name, run] of cases) {
  await run();
  const meter = cpuMeter();
  for (let i = 0; i < n; i++) {
    await run();
    await pause();
  }
  const w = meter.stop();
  const us = (who: string) => Math.round((((w.perProcess[who] ?? 0) - idleRate(who) * w.seconds) / n) * 1e6);
  console.log(
    `${name}${gapMs > 0 ? `, ${gapMs} ms apart` : ''}: ${Math.round((w.seconds / n) * 1e6)} µs wall, ` +
      `${us('bench')} µs Node CPU, ${us('mariadb')} µs MariaDB CPU each`,
  );
}
held.release();
await pool.end();
await db.destroy();
