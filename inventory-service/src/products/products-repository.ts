import type { Db, Trx } from '@delivery/common';

/** Products in MySQL. Every function takes the knex to run on: the service's db or the caller's transaction. */
export interface Product {
  id: number;
  name: string;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

interface ProductRow {
  id: number;
  name: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
}

const toProduct = (row: ProductRow): Product => ({
  id: row.id,
  name: row.name,
  stock: row.stock,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Throws MySQL's duplicate-key error when the given id is taken. */
export async function insertProduct(
  db: Db,
  product: { id?: number; name: string; stock: number },
): Promise<number> {
  const [id] = await db('products').insert(product);
  if (!id) throw new Error('insert into products returned no id');
  return id;
}

export async function findProductById(db: Db, id: number): Promise<Product | undefined> {
  const row = (await db<ProductRow>('products').where({ id }).first()) as ProductRow | undefined;
  return row && toProduct(row);
}

export async function listProducts(db: Db): Promise<Product[]> {
  const rows = (await db<ProductRow>('products').orderBy('id')) as ProductRow[];
  return rows.map(toProduct);
}

/** Returns whether the product exists. */
export async function updateProduct(
  db: Db,
  id: number,
  changes: { name?: string; stock?: number },
): Promise<boolean> {
  const updated = await db('products')
    .where({ id })
    .update({ ...changes, updated_at: db.fn.now(3) });
  return updated > 0;
}

/**
 * The stock of each of `ids` that exists, its row locked until the transaction ends (a locking
 * read sees the latest commit). One statement, rows locked in id order: every reservation batch
 * locks in the same order, so two batches never wait on each other's rows crosswise.
 */
export async function lockStocks(trx: Trx, ids: readonly number[]): Promise<Map<number, number>> {
  if (ids.length === 0) return new Map();
  // Plain SQL: every batch of orders runs it, and knex's builder costs as much CPU as the round trip.
  const [rows] = (await trx.raw('SELECT id, stock FROM products WHERE id IN (?) ORDER BY id FOR UPDATE', [
    [...ids],
  ])) as [{ id: number; stock: number }[]];
  return new Map(rows.map((r) => [r.id, r.stock]));
}

/**
 * Takes the given quantity (by product id) from every product in one statement. Each row is
 * guarded by `stock >= quantity`, so even a caller that had not locked the rows could never take
 * the stock below zero; returns false when a guard refused a row (the caller must roll back).
 */
export async function takeStocks(db: Db, quantities: ReadonlyMap<number, number>): Promise<boolean> {
  if (quantities.size === 0) return true;
  const byId = `CASE id ${[...quantities.keys()].map(() => 'WHEN ? THEN ?').join(' ')} END`;
  const pairs = [...quantities].flat();
  // Plain SQL: one statement for a whole batch, which knex's builder cannot express anyway.
  const [result] = (await db.raw(
    `UPDATE products SET stock = stock - ${byId}, updated_at = NOW(3) WHERE id IN (?) AND stock >= ${byId}`,
    [...pairs, [...quantities.keys()], ...pairs],
  )) as [{ affectedRows: number }];
  return result.affectedRows === quantities.size;
}

/**
 * Gives the given quantity (by product id) back to every product in one statement. The caller
 * holds the rows' locks (lockStocks) and the reservation the stock came from; a product deleted
 * by hand since has no row to take it back.
 */
export async function giveBackStocks(db: Db, quantities: ReadonlyMap<number, number>): Promise<void> {
  if (quantities.size === 0) return;
  const byId = `CASE id ${[...quantities.keys()].map(() => 'WHEN ? THEN ?').join(' ')} END`;
  await db.raw(`UPDATE products SET stock = stock + ${byId}, updated_at = NOW(3) WHERE id IN (?)`, [
    ...[...quantities].flat(),
    [...quantities.keys()],
  ]);
}
