/**
 * What the three services' databases say about the orders once a scenario has settled, read in
 * a few statements into plain maps that the checks of checks.ts compare with each other.
 */
import type { Db } from '@delivery/common';
import type { ServiceName } from '../support.js';

/** Quantities by product id: what an order asked for, or what a reservation took. */
export type Lines = Map<number, number>;

export interface OrderRow {
  id: number;
  status: string;
  vehicle_number: string | null;
}

export interface ReservationRow {
  status: string;
  /** A cancel was applied to it (cancelled_at is set). */
  cancelled: boolean;
  /** What it took and holds (RESERVED), or gave back (CANCELLED); none for a refusal or a tombstone. */
  items: Lines;
}

export interface AssignmentRow {
  order_id: number;
  vehicle_number: string;
  status: string;
  created_at: Date;
  released_at: Date | null;
}

export interface Records {
  orders: Map<number, OrderRow>;
  /** Each order's items, summed by product. */
  items: Map<number, Lines>;
  /** Each order's reservations (its unique order_id allows one). */
  reservations: Map<number, ReservationRow[]>;
  /** Every assignment, in allocation order (by id). */
  assignments: AssignmentRow[];
  /** The same by order id. */
  assignmentsOf: Map<number, AssignmentRow[]>;
}

const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => map.set(key, [...(map.get(key) ?? []), value]);
const addLine = (lines: Lines, productId: number, quantity: number) =>
  lines.set(productId, (lines.get(productId) ?? 0) + quantity);

export function sameLines(a: Lines, b: Lines): boolean {
  return a.size === b.size && [...a].every(([productId, quantity]) => b.get(productId) === quantity);
}

export function formatLines(lines: Lines): string {
  return [...lines].map(([productId, quantity]) => `${productId}×${quantity}`).join(' ');
}

/** The rows of a raw SELECT (mysql2 answers [rows, fields]). */
async function select<T>(db: Db, sql: string): Promise<T[]> {
  const [rows] = (await db.raw(sql)) as [T[]];
  return rows;
}

export async function readRecords(dbs: Record<ServiceName, Db>): Promise<Records> {
  const ordersDb = dbs['order-service'];
  const orders = new Map<number, OrderRow>();
  for (const o of await select<OrderRow>(ordersDb, 'SELECT id, status, vehicle_number FROM orders'))
    orders.set(Number(o.id), { ...o, id: Number(o.id) });
  const items = new Map<number, Lines>();
  for (const i of await select<{ order_id: number; product_id: number; quantity: number }>(
    ordersDb,
    'SELECT order_id, product_id, quantity FROM order_items',
  )) {
    const id = Number(i.order_id);
    if (!items.has(id)) items.set(id, new Map());
    addLine(items.get(id)!, i.product_id, i.quantity);
  }

  const reservations = new Map<number, ReservationRow[]>();
  const byId = new Map<number, ReservationRow>();
  for (const row of await select<{
    id: number;
    order_id: number;
    status: string;
    cancelled: number;
    product_id: number | null;
    quantity: number | null;
  }>(
    dbs['inventory-service'],
    `SELECT r.id, r.order_id, r.status, r.cancelled_at IS NOT NULL AS cancelled, i.product_id, i.quantity
     FROM reservations r LEFT JOIN reservation_items i ON i.reservation_id = r.id ORDER BY r.id`,
  )) {
    let reservation = byId.get(Number(row.id));
    if (!reservation) {
      reservation = { status: row.status, cancelled: Boolean(Number(row.cancelled)), items: new Map() };
      byId.set(Number(row.id), reservation);
      push(reservations, Number(row.order_id), reservation);
    }
    if (row.product_id !== null) addLine(reservation.items, row.product_id, row.quantity!);
  }

  const assignments = (
    await select<AssignmentRow>(
      dbs['dispatcher-service'],
      `SELECT a.order_id, v.vehicle_number, a.status, a.created_at, a.released_at
       FROM assignments a JOIN vehicles v ON v.id = a.vehicle_id ORDER BY a.id`,
    )
  ).map((a) => ({ ...a, order_id: Number(a.order_id) }));
  const assignmentsOf = new Map<number, AssignmentRow[]>();
  for (const a of assignments) push(assignmentsOf, a.order_id, a);

  return { orders, items, reservations, assignments, assignmentsOf };
}
