import type { Knex } from '@delivery/common';
import { centsToNumber, toCents } from './money.js';
import type { OrderStatus } from './order-status.js';

/**
 * Orders in MySQL. Every function takes the knex to run on: the service's db, or the caller's
 * transaction. They return plain objects in the API's shape (see money.ts for amounts).
 */
export interface OrderItem {
  productId: number;
  price: number;
  quantity: number;
}

export interface Order {
  id: number;
  orderNumber: string;
  customerId: number;
  city: string;
  status: OrderStatus;
  items: OrderItem[];
  totalAmount: number;
  vehicleNumber: string | null;
  rejectionReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface OrderRow {
  id: number;
  order_number: string;
  customer_id: number;
  city: string;
  status: OrderStatus;
  total_amount: string;
  vehicle_number: string | null;
  rejection_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

interface ItemRow {
  order_id: number;
  product_id: number;
  price: string;
  quantity: number;
}

export interface NewOrder {
  customerId: number;
  city: string;
  totalAmount: string;
  items: { productId: number; price: string; quantity: number }[];
}

/*
 * The statements every order runs (insert, find, status moves) are plain SQL: on this path knex's
 * query builder costs about as much CPU as the round trip itself (docs/performance.md).
 */
interface Written {
  insertId: number;
  affectedRows: number;
}

async function write(db: Knex, sql: string, bindings: readonly unknown[]): Promise<Written> {
  const [result] = (await db.raw(sql, bindings as Knex.RawBinding[])) as [Written];
  return result;
}

/** Inserts the order and its items; returns the new id. */
export async function insertOrder(db: Knex, order: NewOrder): Promise<number> {
  const { insertId: id } = await write(
    db,
    'INSERT INTO orders (customer_id, city, total_amount) VALUES (?, ?, ?)',
    [order.customerId, order.city, order.totalAmount],
  );
  if (!id) throw new Error('insert into orders returned no id');
  await write(
    db,
    `INSERT INTO order_items (order_id, product_id, price, quantity) VALUES ${order.items.map(() => '(?, ?, ?, ?)').join(', ')}`,
    order.items.flatMap((item) => [id, item.productId, item.price, item.quantity]),
  );
  return id;
}

export async function setOrderNumber(db: Knex, id: number, orderNumber: string): Promise<void> {
  await write(db, 'UPDATE orders SET order_number = ? WHERE id = ?', [orderNumber, id]);
}

/** The order and its items in one round trip; `forUpdate` locks the order row (and its item rows). */
export async function findOrderById(
  db: Knex,
  id: number,
  { forUpdate = false } = {},
): Promise<Order | undefined> {
  const [rows] = (await db.raw(
    `SELECT o.*, i.id AS item_id, i.product_id, i.price AS item_price, i.quantity
     FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
     WHERE o.id = ? ORDER BY i.id${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  )) as [(OrderRow & JoinedItem)[]];
  const [row] = rows;
  if (!row) return undefined;
  const items = rows
    .filter((r) => r.item_id !== null)
    .map((r) => ({ order_id: r.id, product_id: r.product_id!, price: r.item_price!, quantity: r.quantity! }));
  return toOrder(row, items);
}

interface JoinedItem {
  item_id: number | null;
  product_id: number | null;
  item_price: string | null;
  quantity: number | null;
}

export interface OrderFilter {
  status?: OrderStatus;
  city?: string;
  limit: number;
}

/** Newest first; the city column's collation makes the match case-insensitive. */
export async function listOrders(db: Knex, { status, city, limit }: OrderFilter): Promise<Order[]> {
  const rows = (await db<OrderRow>('orders')
    .where({ ...(status ? { status } : {}), ...(city ? { city } : {}) })
    .orderBy('id', 'desc')
    .limit(limit)) as OrderRow[];
  return withItems(db, rows);
}

/**
 * Moves the order to `to` only if its status is still one of `from`: the guard that keeps status
 * forward-only even without a lock. Returns whether the row changed.
 */
export async function updateOrderStatus(
  db: Knex,
  id: number,
  from: readonly OrderStatus[],
  changes: { status: OrderStatus; vehicleNumber?: string; rejectionReason?: string },
): Promise<boolean> {
  const set = ['status = ?'];
  const values: unknown[] = [changes.status];
  if (changes.vehicleNumber !== undefined) {
    set.push('vehicle_number = ?');
    values.push(changes.vehicleNumber);
  }
  if (changes.rejectionReason !== undefined) {
    set.push('rejection_reason = ?');
    values.push(changes.rejectionReason);
  }
  const { affectedRows } = await write(
    db,
    `UPDATE orders SET ${set.join(', ')}, updated_at = NOW(3) WHERE id = ? AND status IN (?)`,
    [...values, id, [...from]],
  );
  return affectedRows > 0;
}

/** Records the vehicle without touching the status (an order delivered before its dispatch event). */
export async function setVehicleIfMissing(db: Knex, id: number, vehicleNumber: string): Promise<boolean> {
  const updated = await db('orders')
    .where({ id })
    .whereNull('vehicle_number')
    .update({ vehicle_number: vehicleNumber, updated_at: db.fn.now(3) });
  return updated > 0;
}

async function withItems(db: Knex, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const items = (await db<ItemRow>('order_items')
    .whereIn(
      'order_id',
      rows.map((r) => r.id),
    )
    .orderBy('id')) as ItemRow[];
  const byOrder = new Map<number, ItemRow[]>();
  for (const item of items) {
    const list = byOrder.get(item.order_id) ?? [];
    list.push(item);
    byOrder.set(item.order_id, list);
  }
  return rows.map((row) => toOrder(row, byOrder.get(row.id) ?? []));
}

function toOrder(row: OrderRow, items: ItemRow[]): Order {
  return {
    id: row.id,
    orderNumber: row.order_number,
    customerId: row.customer_id,
    city: row.city,
    status: row.status,
    items: items.map((i) => ({
      productId: i.product_id,
      price: centsToNumber(toCents(i.price)),
      quantity: i.quantity,
    })),
    totalAmount: centsToNumber(toCents(row.total_amount)),
    vehicleNumber: row.vehicle_number,
    rejectionReason: row.rejection_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
