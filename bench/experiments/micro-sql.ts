/**
 * What a statement costs the Node process, by client path: knex's pool, a knex transaction,
 * mysql2's pool, and a held mysql2 connection. 2,000 sequential statements each; CPU from
 * process.cpuUsage() (all threads of this process), wall time per statement.
 *
 *   npx tsx bench/experiments/micro-sql.ts        (uses MYSQL_URL, default mysql://root@127.0.0.1:3306)
 */
import mysql from 'mysql2/promise';
import { createDb } from '@delivery/common';

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
for (const [name, run] of cases) {
  await run();
  const n = 2_000;
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run();
  const cpu = process.cpuUsage(before);
  const wallUs = Number(process.hrtime.bigint() - started) / 1_000 / n;
  console.log(
    `${name}: ${Math.round(wallUs)} µs wall, ${Math.round((cpu.user + cpu.system) / n)} µs Node CPU each`,
  );
}
held.release();
await pool.end();
await db.destroy();
