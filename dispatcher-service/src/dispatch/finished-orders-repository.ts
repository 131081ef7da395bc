import type { Db, Trx } from '@delivery/common';

export type Outcome = 'DELIVERED' | 'CANCELLED';

/** Records that the orders are delivered or cancelled (the first outcome recorded stays). */
export async function recordFinishedOrders(
  db: Db,
  orders: readonly { orderId: number; outcome: Outcome }[],
): Promise<void> {
  if (orders.length === 0) return;
  await db.raw(
    `INSERT IGNORE INTO finished_orders (order_id, outcome) VALUES ${orders.map(() => '(?, ?)').join(', ')}`,
    orders.flatMap((o) => [o.orderId, o.outcome]),
  );
}

/** An active assignment of a finished order, with what freeing its vehicle needs. */
export interface CarriedOrder {
  id: number;
  order_id: number;
  order_number: string;
  vehicle_key: string;
  vehicle_number: string;
  city: string;
  city_key: string;
}

/** The active assignments of these orders, locked until the transaction ends. */
export async function lockActiveAssignmentsOf(
  trx: Trx,
  orderIds: readonly number[],
): Promise<CarriedOrder[]> {
  if (orderIds.length === 0) return [];
  const [rows] = (await trx.raw(
    `SELECT a.id, a.order_id, a.order_number, v.vehicle_key, v.vehicle_number, v.city, v.city_key
     FROM assignments a JOIN vehicles v ON v.id = a.vehicle_id
     WHERE a.order_id IN (?) AND a.status = 'ACTIVE' ORDER BY a.id FOR UPDATE`,
    [[...orderIds]],
  )) as [CarriedOrder[]];
  return rows.map((r) => ({ ...r, id: Number(r.id), order_id: Number(r.order_id) }));
}

/** Takes the orders off their cities' queues; returns the ids of those that waited. */
export async function removeWaitingOrders(trx: Trx, orderIds: readonly number[]): Promise<number[]> {
  if (orderIds.length === 0) return [];
  const [rows] = (await trx.raw('SELECT order_id FROM waiting_orders WHERE order_id IN (?) FOR UPDATE', [
    [...orderIds],
  ])) as [{ order_id: number }[]];
  if (rows.length === 0) return [];
  await trx.raw('DELETE FROM waiting_orders WHERE order_id IN (?)', [[...orderIds]]);
  return rows.map((r) => Number(r.order_id));
}

/**
 * Which of these orders' vehicles were released already (the usual delivery: the release closed
 * the assignment before order.delivered arrived). Such an order needs nothing more: it is off
 * every queue, and its assignment keeps it from ever queueing or taking a vehicle again.
 */
export async function ordersReleasedAlready(db: Db, orderIds: readonly number[]): Promise<Set<number>> {
  if (orderIds.length === 0) return new Set();
  const [rows] = (await db.raw(
    "SELECT order_id FROM assignments WHERE order_id IN (?) AND status = 'RELEASED'",
    [[...orderIds]],
  )) as [{ order_id: number }[]];
  return new Set(rows.map((r) => Number(r.order_id)));
}
