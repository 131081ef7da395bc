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

/** Throws MySQL's duplicate-key error when the order already has a reservation. */
export async function insertReservation(db: Knex, reservation: NewReservation): Promise<number> {
  // Plain SQL: every order runs these, and knex's builder costs as much CPU as the round trip.
  const [{ insertId: id }] = (await db.raw(
    'INSERT INTO reservations (order_id, order_number, status, reason) VALUES (?, ?, ?, ?)',
    [
      reservation.orderId,
      reservation.orderNumber,
      reservation.status,
      reservation.reason?.slice(0, 500) ?? null,
    ],
  )) as [{ insertId: number }];
  if (!id) throw new Error('insert into reservations returned no id');
  if (reservation.items.length > 0) {
    await db.raw(
      `INSERT INTO reservation_items (reservation_id, product_id, quantity) VALUES ${reservation.items.map(() => '(?, ?, ?)').join(', ')}`,
      reservation.items.flatMap((i) => [id, i.productId, i.quantity]),
    );
  }
  return id;
}

/** Whether the order has its decision already: one indexed lookup, no items read. */
export async function hasReservation(db: Knex, orderId: number): Promise<boolean> {
  const [rows] = (await db.raw('SELECT id FROM reservations WHERE order_id = ? LIMIT 1', [orderId])) as [
    unknown[],
  ];
  return rows.length > 0;
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
