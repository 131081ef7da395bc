import type { Db, Knex } from '@delivery/common';

export interface WaitingOrder {
  id: number;
  order_id: number;
  order_number: string;
  city: string;
  city_key: string;
  correlation_id: string;
}

const COLUMNS = ['id', 'order_id', 'order_number', 'city', 'city_key', 'correlation_id'] as const;

/** False when the order is waiting already (order_id is unique). */
export async function insertWaitingOrder(
  db: Db,
  row: Omit<WaitingOrder, 'id'>,
  trx?: Knex.Transaction,
): Promise<boolean> {
  try {
    await (trx ?? db)('waiting_orders').insert(row);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ER_DUP_ENTRY') return false;
    throw err;
  }
}

export async function findOldestWaiting(
  trx: Knex.Transaction,
  key: string,
): Promise<WaitingOrder | undefined> {
  // Plain SQL on the path of every order: knex's builder costs as much CPU as the round trip.
  const [rows] = (await trx.raw(
    `SELECT ${COLUMNS.join(', ')} FROM waiting_orders WHERE city_key = ? ORDER BY id LIMIT 1`,
    [key],
  )) as [WaitingOrder[]];
  return rows[0];
}

export async function deleteWaitingOrder(trx: Knex.Transaction, id: number): Promise<void> {
  await trx('waiting_orders').where({ id }).delete();
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

export async function isWaiting(db: Db, orderId: number): Promise<boolean> {
  return (await db('waiting_orders').select('id').where({ order_id: orderId }).first()) !== undefined;
}
