import type { Db, Trx } from '@delivery/common';

/** Cities known to have their lock row, per database: rows are never deleted, so once is enough. */
const knownCities = new WeakMap<Db, Set<string>>();

/**
 * Creates the city's lock row if missing, outside any transaction. The plain read first keeps
 * the usual case (row exists) from queueing behind the current holder of the row lock, and a
 * city seen once costs no round trip at all afterwards.
 */
export async function ensureCityLock(db: Db, key: string): Promise<void> {
  const known = knownCities.get(db) ?? new Set<string>();
  knownCities.set(db, known);
  if (known.has(key)) return;
  if (!(await db('city_locks').where({ city_key: key }).first()))
    await db.raw('INSERT IGNORE INTO city_locks (city_key) VALUES (?)', [key]);
  known.add(key);
}

/**
 * Holds the cities' row locks until the transaction ends. Every allocation and every enqueue of
 * a city takes it first, so across dispatcher instances they run one at a time per city (cities
 * stay independent) and waiting orders are served strictly oldest first. One statement for all
 * the cities of a batch: it locks the rows in primary-key order whatever the order of the list,
 * so two transactions never take two cities crosswise.
 */
export async function lockCities(trx: Trx, keys: readonly string[]): Promise<void> {
  await trx.raw('SELECT city_key FROM city_locks WHERE city_key IN (?) ORDER BY city_key FOR UPDATE', [
    [...keys],
  ]);
}

/**
 * Waits until no allocation (or enqueue) of the cities is in flight. Outside a transaction the row
 * lock is let go as soon as it is granted: whatever held it has committed or rolled back by
 * then, and whatever takes it afterwards reads everything committed before this call.
 */
export async function awaitCityLocks(db: Db, keys: readonly string[]): Promise<void> {
  await db.raw('SELECT city_key FROM city_locks WHERE city_key IN (?) ORDER BY city_key FOR UPDATE', [
    [...keys],
  ]);
}

/**
 * Takes the city's row lock only if nobody holds it: false while an allocation (or an enqueue)
 * of the city is in progress.
 */
export async function tryLockCity(trx: Trx, key: string): Promise<boolean> {
  const rows = (await trx('city_locks')
    .select('city_key')
    .where({ city_key: key })
    .forUpdate()
    .skipLocked()) as unknown[];
  return rows.length > 0;
}
