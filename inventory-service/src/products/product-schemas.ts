import { z } from 'zod';
import { MAX_INT, idParam, nameText, positiveId } from '@delivery/common';

/**
 * Request schemas of the products API, and the product JSON its document describes. Unknown
 * fields are refused, as in order-service.
 */
const id = positiveId;
const name = nameText(200);
/** Stock on hand, after what reservations already took. */
const stock = z.number().int().min(0).max(MAX_INT);

export const createProductBody = z.strictObject({ id: id.optional(), name, stock });
export type CreateProductInput = z.infer<typeof createProductBody>;

export const updateProductBody = z
  .strictObject({ name: name.optional(), stock: stock.optional() })
  .refine((body) => body.name !== undefined || body.stock !== undefined, 'give name, stock or both')
  .meta({ description: 'name, stock or both' });
export type UpdateProductInput = z.infer<typeof updateProductBody>;

export const productIdParam = idParam;

/** The product JSON every route answers with: for the API document, never parsed. */
export const productResponse = z.object({
  id,
  name,
  stock,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
