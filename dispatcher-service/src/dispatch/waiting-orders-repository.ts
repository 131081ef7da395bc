import type { Db } from '@delivery/common';

export interface WaitingOrder {
  id: number;
  order_id: number;
  order_number: string;
  city: string;
  city_key: string;
  correlation_id: string;
}

export type NewWaitingOrder = Omit<WaitingOrder, 'id'>;

/**
 * An order in its city's queue: a waiting_orders row, or an order that arrived in the open
 * transaction and has no row (no id), see allocateVehicles.
 */
export type QueuedOrder = NewWaitingOrder & { id?: number };

/**
 * What the dispatcher already knows of an order: it has a vehicle, it waits for one, or it was
 * delivered or cancelled (it must never queue or take a vehicle again).
 */
export type KnownOrder = 'assigned' | 'waiting' | 'finished';

const COLUMNS = 'id, order_id, order_number, city, city_key, correlation_id';

// The statements below run for every batch of orders: plain SQL, as knex's builder costs about
// as much CPU as the round trip.

/** Which of these orders are known already (an assignment wins over the rest). */
export async function findKnownOrders(db: Db, orderIds: readonly number[]): Promise<Map<number, KnownOrder>> {
  if (orderIds.length === 0) return new Map();
  const ids = [...orderIds];
  const [rows] = (await db.raw(
    `SELECT order_id, 'waiting' AS state FROM waiting_orders WHERE order_id IN (?)
     UNION ALL SELECT order_id, 'finished' FROM finished_orders WHERE order_id IN (?)
     UNION ALL SELECT order_id, 'assigned' FROM assignments WHERE order_id IN (?)`,
    [ids, ids, ids],
  )) as [{ order_id: number; state: KnownOrder }[]];
  const rank: Record<KnownOrder, number> = { waiting: 0, finished: 1, assigned: 2 };
  const known = new Map<number, KnownOrder>();
  for (const { order_id, state } of rows) {
    const before = known.get(Number(order_id));
    if (before === undefined || rank[state] > rank[before]) known.set(Number(order_id), state);
  }
  return known;
}

/**
 * Appends the orders to their cities' queues, in list order: one multi-row INSERT numbers its
 * rows in order, and the id is the arrival order.
 */
export async function insertWaitingOrders(db: Db, rows: readonly NewWaitingOrder[]): Promise<void> {
  if (rows.length === 0) return;
  await db.raw(
    `INSERT INTO waiting_orders (order_id, order_number, city, city_key, correlation_id)
     VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
    rows.flatMap((r) => [r.order_id, r.order_number, r.city, r.city_key, r.correlation_id]),
  );
}

/** The `limit` oldest waiting orders of each city, in one statement, oldest first. */
export async function findOldestWaiting(
  db: Db,
  cities: readonly { key: string; limit: number }[],
): Promise<WaitingOrder[]> {
  if (cities.length === 0) return [];
  const part = `(SELECT ${COLUMNS} FROM waiting_orders WHERE city_key = ? ORDER BY id LIMIT ?)`;
  const [rows] = (await db.raw(
    `${cities.map(() => part).join(' UNION ALL ')} ORDER BY id`,
    cities.flatMap((c) => [c.key, c.limit]),
  )) as [WaitingOrder[]];
  return rows;
}

export async function deleteWaitingOrders(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.raw('DELETE FROM waiting_orders WHERE id IN (?)', [[...ids]]);
}

/** Which of the cities have an order waiting: a plain read (see allocateWaitingOrders for when it is enough). */
export async function citiesWhereSomeoneWaits(db: Db, keys: readonly string[]): Promise<string[]> {
  const [rows] = (await db.raw('SELECT DISTINCT city_key FROM waiting_orders WHERE city_key IN (?)', [
    [...keys],
  ])) as [{ city_key: string }[]];
  return rows.map((r) => r.city_key);
}

export async function countWaitingByCity(db: Db): Promise<{ city_key: string; n: number }[]> {
  const rows = (await db('waiting_orders').select('city_key').count({ n: '*' }).groupBy('city_key')) as {
    city_key: string;
    n: number;
  }[];
  return rows.map((r) => ({ city_key: r.city_key, n: Number(r.n) }));
}

/** Cities where an order waits although a vehicle is free: what a crash after a release leaves behind. */
export async function citiesWithWaitingAndFree(db: Db): Promise<string[]> {
  const rows = (await db('waiting_orders as w')
    .distinct('w.city_key')
    .whereExists(
      db('vehicles as v')
        .select(db.raw('1'))
        .whereRaw('v.city_key = w.city_key')
        .whereNotExists(db('assignments as a').select(db.raw('1')).whereRaw('a.active_vehicle_id = v.id')),
    )) as { city_key: string }[];
  return rows.map((r) => r.city_key);
}
