import type { Db, Knex } from '@delivery/common';

/**
 * Creates the city's lock row if missing, outside any transaction. The plain read first keeps
 * the usual case (row exists) from queueing behind the current holder of the row lock.
 */
export async function ensureCityLock(db: Db, key: string): Promise<void> {
  if (await db('city_locks').where({ city_key: key }).first()) return;
  await db.raw('INSERT IGNORE INTO city_locks (city_key) VALUES (?)', [key]);
}

/**
 * Holds the city's row lock until the transaction ends. Every allocation and every enqueue of
 * the city takes it first, so across dispatcher instances they run one at a time per city
 * (cities stay independent) and waiting orders are served strictly oldest first.
 */
export async function lockCity(trx: Knex.Transaction, key: string): Promise<void> {
  await trx('city_locks').select('city_key').where({ city_key: key }).forUpdate();
}
