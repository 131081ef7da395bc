import type { Knex } from '@delivery/common';

/** Reservations in MySQL. Every function takes the knex to run on: the service's db or the caller's transaction. */
export type ReservationStatus = 'RESERVED' | 'REJECTED';

export interface ReservationLine {
  productId: number;
  quantity: number;
}

export interface Reservation {
  id: number;
  orderId: number;
  orderNumber: string;
  status: ReservationStatus;
  reason: string | null;
  items: ReservationLine[];
}

export interface NewReservation {
  orderId: number;
  orderNumber: string;
  status: ReservationStatus;
  reason?: string;
  /** The stock actually taken: empty for a rejection. */
  items: ReservationLine[];
}

/**
 * Inserts the reservations and their items: two statements however many. Throws MySQL's
 * duplicate-key error when an order already has a reservation (the unique order_id).
 */
export async function insertReservations(db: Knex, reservations: readonly NewReservation[]): Promise<void> {
  if (reservations.length === 0) return;
  // Plain SQL: every batch of orders runs these, and knex's builder costs as much CPU as the round trip.
  await db.raw(
    `INSERT INTO reservations (order_id, order_number, status, reason) VALUES ${reservations.map(() => '(?, ?, ?, ?)').join(', ')}`,
    reservations.flatMap((r) => [r.orderId, r.orderNumber, r.status, r.reason?.slice(0, 500) ?? null]),
  );
  const items = reservations.flatMap((r) => r.items.map((i) => [r.orderId, i.productId, i.quantity]));
  if (items.length === 0) return;
  // The items find their reservation's id by order_id (unique) inside the server: the ids of a
  // multi-row INSERT are consecutive only under some auto-increment lock modes, and reading them
  // back would cost a statement.
  await db.raw(
    `INSERT INTO reservation_items (reservation_id, product_id, quantity)
     SELECT r.id, i.product_id, i.quantity
     FROM (${items.map((_, n) => (n === 0 ? 'SELECT ? AS order_id, ? AS product_id, ? AS quantity' : 'SELECT ?, ?, ?')).join(' UNION ALL ')}) AS i
     JOIN reservations r ON r.order_id = i.order_id`,
    items.flat(),
  );
}

/** The orders among `orderIds` that have their decision already: one indexed lookup, no items read. */
export async function findDecidedOrderIds(db: Knex, orderIds: readonly number[]): Promise<Set<number>> {
  if (orderIds.length === 0) return new Set();
  const [rows] = (await db.raw('SELECT order_id FROM reservations WHERE order_id IN (?)', [
    [...orderIds],
  ])) as [{ order_id: number }[]];
  return new Set(rows.map((r) => Number(r.order_id)));
}

export async function findReservationByOrderId(db: Knex, orderId: number): Promise<Reservation | undefined> {
  const row = (await db('reservations').where({ order_id: orderId }).first()) as
    | { id: number; order_id: number; order_number: string; status: ReservationStatus; reason: string | null }
    | undefined;
  if (!row) return undefined;
  const items = (await db('reservation_items')
    .select('product_id', 'quantity')
    .where({ reservation_id: row.id })
    .orderBy('product_id')) as { product_id: number; quantity: number }[];
  return {
    id: row.id,
    orderId: row.order_id,
    orderNumber: row.order_number,
    status: row.status,
    reason: row.reason,
    items: items.map((i) => ({ productId: i.product_id, quantity: i.quantity })),
  };
}
