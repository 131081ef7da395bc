import { cityKey, type Db, type Knex } from '@delivery/common';
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
  cancellationReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface OrderRow {
  id: number;
  customer_id: number;
  city: string;
  status: OrderStatus;
  total_amount: string;
  vehicle_number: string | null;
  rejection_reason: string | null;
  cancellation_reason: string | null;
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

async function write(db: Db, sql: string, bindings: readonly unknown[]): Promise<Written> {
  const [result] = (await db.raw(sql, bindings as Knex.RawBinding[])) as [Written];
  return result;
}

/**
 * Inserts the orders and their items, all stamped `at` (written explicitly so the caller can
 * answer with it); returns the ids in input order. One multi-row INSERT gets consecutive
 * auto-increment ids from the insertId mysql2 returns, in steps of @@auto_increment_increment:
 * InnoDB allocates a "simple insert" (row count known) its ids at once in every
 * innodb_autoinc_lock_mode. Two statements for any number of orders; the order number is the
 * id's (orderNumberFor), not stored.
 */
export async function insertOrders(db: Db, orders: readonly NewOrder[], at: Date): Promise<number[]> {
  const { insertId: first } = await write(
    db,
    `INSERT INTO orders (customer_id, city, city_key, total_amount, created_at, updated_at) VALUES ${orders.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
    orders.flatMap((o) => [o.customerId, o.city, cityKey(o.city), o.totalAmount, at, at]),
  );
  if (!first) throw new Error('insert into orders returned no id');
  const step = await autoIncrementStep(db);
  const ids = orders.map((_, k) => first + k * step);
  const items = orders.flatMap((o, k) =>
    o.items.map((item) => [ids[k], item.productId, item.price, item.quantity]),
  );
  await write(
    db,
    `INSERT INTO order_items (order_id, product_id, price, quantity) VALUES ${items.map(() => '(?, ?, ?, ?)').join(', ')}`,
    items.flat(),
  );
  return ids;
}

/** ORD-000123: readable, and unique because the id is. */
export function orderNumberFor(id: number): string {
  return `ORD-${String(id).padStart(6, '0')}`;
}

let step: number | undefined;

/** The server's auto-increment step (1 unless set for multi-primary replication); read once. */
async function autoIncrementStep(db: Db): Promise<number> {
  if (step === undefined) {
    const [[row]] = (await db.raw('SELECT @@auto_increment_increment AS step')) as [{ step: number }[]];
    step = Number(row?.step ?? 1);
  }
  return step;
}

/** The order and its items in one round trip; `forUpdate` locks the order row (and its item rows). */
export async function findOrderById(
  db: Db,
  id: number,
  { forUpdate = false } = {},
): Promise<Order | undefined> {
  return (await findOrdersByIds(db, [id], { itemsOf: [id], forUpdate })).get(id);
}

/**
 * Several orders by id in one statement, keyed by id; missing ids are absent. Items are read
 * only for the orders in `itemsOf` (the others get an empty list); `forUpdate` locks the rows read.
 */
export async function findOrdersByIds(
  db: Db,
  ids: readonly number[],
  { itemsOf = [], forUpdate = false }: { itemsOf?: readonly number[]; forUpdate?: boolean } = {},
): Promise<Map<number, Order>> {
  const withItems = itemsOf.length > 0;
  const [rows] = (await db.raw(
    withItems
      ? `SELECT o.*, i.id AS item_id, i.product_id, i.price AS item_price, i.quantity
         FROM orders o LEFT JOIN order_items i ON i.order_id = o.id AND o.id IN (?)
         WHERE o.id IN (?) ORDER BY o.id, i.id${forUpdate ? ' FOR UPDATE' : ''}`
      : `SELECT o.* FROM orders o WHERE o.id IN (?) ORDER BY o.id${forUpdate ? ' FOR UPDATE' : ''}`,
    withItems ? [[...itemsOf], [...ids]] : [[...ids]],
  )) as [(OrderRow & Partial<JoinedItem>)[]];
  const byId = new Map<number, { row: OrderRow; items: ItemRow[] }>();
  for (const r of rows) {
    const entry = byId.get(r.id) ?? { row: r, items: [] };
    byId.set(r.id, entry);
    if (r.item_id != null)
      entry.items.push({
        order_id: r.id,
        product_id: r.product_id!,
        price: r.item_price!,
        quantity: r.quantity!,
      });
  }
  return new Map([...byId].map(([id, { row, items }]) => [id, toOrder(row, items)]));
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

/** Newest first; a city matches by its key, as the dispatcher matches it (cities.ts in common). */
export async function listOrders(db: Db, { status, city, limit }: OrderFilter): Promise<Order[]> {
  const rows = (await db<OrderRow>('orders')
    .where({ ...(status ? { status } : {}), ...(city ? { city_key: cityKey(city) } : {}) })
    .orderBy('id', 'desc')
    .limit(limit)) as OrderRow[];
  return withItems(db, rows);
}

/** What one order of a batched move gets besides its status. */
export interface OrderChange {
  id: number;
  vehicleNumber?: string;
  rejectionReason?: string;
  cancellationReason?: string;
}

const PER_ORDER_COLUMNS = {
  vehicleNumber: 'vehicle_number',
  rejectionReason: 'rejection_reason',
  cancellationReason: 'cancellation_reason',
} as const;

/** SET clauses giving each order its own value (a CASE on the id) for the fields the changes carry. */
function perOrderValues(changes: readonly OrderChange[]): { set: string[]; values: unknown[] } {
  const set: string[] = [];
  const values: unknown[] = [];
  for (const [field, column] of Object.entries(PER_ORDER_COLUMNS) as [
    keyof typeof PER_ORDER_COLUMNS,
    string,
  ][]) {
    const given = changes.filter((c) => c[field] !== undefined);
    if (given.length === 0) continue;
    set.push(`${column} = CASE id ${given.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ${column} END`);
    values.push(...given.flatMap((c) => [c.id, c[field]]));
  }
  return { set, values };
}

/**
 * Moves the orders to `to` in one statement, each only if its status is still one of `from`:
 * the guard that keeps status forward-only even without a lock. Returns how many rows changed.
 * `at` stamps updated_at instead of NOW(3): the caller can then tell the rows it moved.
 */
export async function moveOrders(
  db: Db,
  changes: readonly OrderChange[],
  from: readonly OrderStatus[],
  to: OrderStatus,
  at?: Date,
): Promise<number> {
  if (changes.length === 0) return 0;
  const { set, values } = perOrderValues(changes);
  const { affectedRows } = await write(
    db,
    `UPDATE orders SET ${['status = ?', ...set].join(', ')}, updated_at = ${at ? '?' : 'NOW(3)'} WHERE id IN (?) AND status IN (?)`,
    [to, ...values, ...(at ? [at] : []), changes.map((c) => c.id), [...from]],
  );
  return affectedRows;
}

/** Records each order's vehicle without touching the status (orders delivered before their dispatch event). */
export async function setVehiclesIfMissing(
  db: Db,
  changes: readonly (OrderChange & { vehicleNumber: string })[],
): Promise<number> {
  if (changes.length === 0) return 0;
  const { set, values } = perOrderValues(changes);
  const { affectedRows } = await write(
    db,
    `UPDATE orders SET ${set.join(', ')}, updated_at = NOW(3) WHERE id IN (?) AND vehicle_number IS NULL`,
    [...values, changes.map((c) => c.id)],
  );
  return affectedRows;
}

async function withItems(db: Db, rows: OrderRow[]): Promise<Order[]> {
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
    orderNumber: orderNumberFor(row.id),
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
    cancellationReason: row.cancellation_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
