import { AppError, isDuplicateKeyError, type ServiceRuntime } from '@delivery/common';
import type { CreateProductInput, UpdateProductInput } from './product-schemas.js';
import {
  findProductById,
  insertProduct,
  listProducts,
  updateProduct,
  type Product,
} from './products-repository.js';

export type ProductsDeps = Pick<ServiceRuntime, 'db' | 'logger'>;

export async function createProduct(
  { db, logger }: ProductsDeps,
  input: CreateProductInput,
): Promise<Product> {
  const product = await db.transaction(async (trx) => {
    try {
      const id = await insertProduct(trx, input);
      return await findProductById(trx, id);
    } catch (err) {
      if (isDuplicateKeyError(err))
        throw new AppError('product_exists', `Product ${input.id} already exists`, 409);
      throw err;
    }
  });
  if (!product) throw new Error('product vanished inside its own transaction');
  logger.info({ productId: product.id, stock: product.stock }, `Product ${product.id} created`);
  return product;
}

export async function getProduct({ db }: ProductsDeps, id: number): Promise<Product> {
  const product = await findProductById(db, id);
  if (!product) throw new AppError('product_not_found', `Product ${id} not found`, 404);
  return product;
}

export function findProducts({ db }: ProductsDeps): Promise<Product[]> {
  return listProducts(db);
}

export async function changeProduct(
  { db, logger }: ProductsDeps,
  id: number,
  changes: UpdateProductInput,
): Promise<Product> {
  const product = await db.transaction(async (trx) => {
    if (!(await updateProduct(trx, id, changes)))
      throw new AppError('product_not_found', `Product ${id} not found`, 404);
    return findProductById(trx, id);
  });
  if (!product) throw new Error('product vanished inside its own transaction');
  logger.info({ productId: id, ...changes }, `Product ${id} updated`);
  return product;
}
