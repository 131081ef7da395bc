import type { Knex } from '@delivery/common';

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
  db: Knex,
  product: { id?: number; name: string; stock: number },
): Promise<number> {
  const [id] = await db('products').insert(product);
  if (!id) throw new Error('insert into products returned no id');
  return id;
}

export async function findProductById(db: Knex, id: number): Promise<Product | undefined> {
  const row = (await db<ProductRow>('products').where({ id }).first()) as ProductRow | undefined;
  return row && toProduct(row);
}

export async function listProducts(db: Knex): Promise<Product[]> {
  const rows = (await db<ProductRow>('products').orderBy('id')) as ProductRow[];
  return rows.map(toProduct);
}

/** Returns whether the product exists. */
export async function updateProduct(
  db: Knex,
  id: number,
  changes: { name?: string; stock?: number },
): Promise<boolean> {
  const updated = await db('products')
    .where({ id })
    .update({ ...changes, updated_at: db.fn.now(3) });
  return updated > 0;
}

/**
 * Takes `quantity` from the stock only if that much is there: the check and the decrement are
 * one statement, so concurrent reservations can never take the stock below zero.
 */
export async function takeStock(db: Knex, id: number, quantity: number): Promise<boolean> {
  // Plain SQL: every order runs it, and knex's builder costs as much CPU as the round trip.
  const [result] = (await db.raw(
    'UPDATE products SET stock = stock - ?, updated_at = NOW(3) WHERE id = ? AND stock >= ?',
    [quantity, id, quantity],
  )) as [{ affectedRows: number }];
  return result.affectedRows > 0;
}

/** The current stock (a locking read sees the latest commit, not the transaction's snapshot). */
export async function readStockForUpdate(db: Knex, id: number): Promise<number | undefined> {
  const row = (await db('products').select('stock').where({ id }).forUpdate().first()) as
    { stock: number } | undefined;
  return row?.stock;
}
