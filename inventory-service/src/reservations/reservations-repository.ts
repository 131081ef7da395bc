import type { Db, Trx } from '@delivery/common';

/**
 * Reservations in MySQL. Every function takes the knex to run on: the service's db or the caller's transaction.
 * RESERVED holds stock; REJECTED never took any; CANCELLED holds none any more (its items, if any,
 * were given back), or is a cancel that came before order.created and keeps the order from ever
 * being reserved.
 */
export type ReservationStatus = 'RESERVED' | 'REJECTED' | 'CANCELLED';

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
  /** What the order took (and, once CANCELLED, gave back), in product id order. */
  items: ReservationLine[];
}

export interface NewReservation {
  orderId: number;
  orderNumber: string;
  status: 'RESERVED' | 'REJECTED';
  reason?: string;
  /** The stock actually taken: empty for a rejection. */
  items: ReservationLine[];
}

/**
 * Inserts the reservations and their items: two statements however many. Throws MySQL's
 * duplicate-key error when an order already has a reservation (the unique order_id).
 */
export async function insertReservations(db: Db, reservations: readonly NewReservation[]): Promise<void> {
  if (reservations.length === 0) return;
  // In order id order, as insertCancellations does: two batches racing for the same orders wait
  // on each other in one direction only, never crosswise (a deadlock).
  const rows = [...reservations].sort((a, b) => a.orderId - b.orderId);
  // Plain SQL: every batch of orders runs these, and knex's builder costs as much CPU as the round trip.
  await db.raw(
    `INSERT INTO reservations (order_id, order_number, status, reason) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
    rows.flatMap((r) => [r.orderId, r.orderNumber, r.status, r.reason?.slice(0, 500) ?? null]),
  );
  const items = rows.flatMap((r) => r.items.map((i) => [r.orderId, i.productId, i.quantity]));
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

/**
 * Records orders cancelled before any reservation: CANCELLED rows without items, in one
 * statement. Throws MySQL's duplicate-key error when one of them got a reservation meanwhile.
 */
export async function insertCancellations(
  db: Db,
  orders: readonly { orderId: number; orderNumber: string }[],
): Promise<void> {
  if (orders.length === 0) return;
  const rows = [...orders].sort((a, b) => a.orderId - b.orderId);
  await db.raw(
    `INSERT INTO reservations (order_id, order_number, status, cancelled_at) VALUES ${rows.map(() => "(?, ?, 'CANCELLED', NOW(3))").join(', ')}`,
    rows.flatMap((r) => [r.orderId, r.orderNumber]),
  );
}

/** Marks the cancel applied: a RESERVED reservation becomes CANCELLED, a REJECTED one stays REJECTED. */
export async function markCancelled(db: Db, orderIds: readonly number[]): Promise<void> {
  if (orderIds.length === 0) return;
  await db.raw(
    `UPDATE reservations SET status = CASE status WHEN 'RESERVED' THEN 'CANCELLED' ELSE status END,
     cancelled_at = NOW(3) WHERE order_id IN (?)`,
    [[...orderIds]],
  );
}

/** The decision of each of `orderIds` that has one: one indexed lookup, no items read. */
export async function findDecisions(
  db: Db,
  orderIds: readonly number[],
): Promise<Map<number, ReservationStatus>> {
  if (orderIds.length === 0) return new Map();
  const [rows] = (await db.raw('SELECT order_id, status FROM reservations WHERE order_id IN (?)', [
    [...orderIds],
  ])) as [{ order_id: number; status: ReservationStatus }[]];
  return new Map(rows.map((r) => [Number(r.order_id), r.status]));
}

/**
 * Locks the reservations of `orderIds` (those that exist) until the transaction ends and gives
 * their latest status, and whether a cancel was applied to them already. Rows in order id order.
 */
export async function lockReservations(
  trx: Trx,
  orderIds: readonly number[],
): Promise<Map<number, { status: ReservationStatus; cancelled: boolean }>> {
  if (orderIds.length === 0) return new Map();
  const [rows] = (await trx.raw(
    `SELECT order_id, status, cancelled_at IS NOT NULL AS cancelled FROM reservations
     WHERE order_id IN (?) ORDER BY order_id FOR UPDATE`,
    [[...orderIds]],
  )) as [{ order_id: number; status: ReservationStatus; cancelled: number }[]];
  return new Map(
    rows.map((r) => [Number(r.order_id), { status: r.status, cancelled: Boolean(r.cancelled) }]),
  );
}

/** The reservations of `orderIds` with their items, by order id: one statement. */
export async function findReservations(
  db: Db,
  orderIds: readonly number[],
): Promise<Map<number, Reservation>> {
  if (orderIds.length === 0) return new Map();
  const [rows] = (await db.raw(
    `SELECT r.id, r.order_id, r.order_number, r.status, r.reason, i.product_id, i.quantity
     FROM reservations r LEFT JOIN reservation_items i ON i.reservation_id = r.id
     WHERE r.order_id IN (?) ORDER BY r.order_id, i.product_id`,
    [[...orderIds]],
  )) as [ReservationItemRow[]];
  const found = new Map<number, Reservation>();
  for (const row of rows) {
    const orderId = Number(row.order_id);
    let reservation = found.get(orderId);
    if (!reservation) {
      const { order_number: orderNumber, status, reason } = row;
      reservation = { id: Number(row.id), orderId, orderNumber, status, reason, items: [] };
      found.set(orderId, reservation);
    }
    if (row.product_id !== null)
      reservation.items.push({ productId: row.product_id, quantity: row.quantity! });
  }
  return found;
}

interface ReservationItemRow {
  id: number;
  order_id: number;
  order_number: string;
  status: ReservationStatus;
  reason: string | null;
  product_id: number | null;
  quantity: number | null;
}

export async function findReservationByOrderId(db: Db, orderId: number): Promise<Reservation | undefined> {
  return (await findReservations(db, [orderId])).get(orderId);
}
