import { z } from 'zod';

/** Request schemas of the products API. Unknown fields are refused, as in order-service. */
const MAX_INT = 2_147_483_647;
const id = z.number().int().positive().max(MAX_INT);
const name = z.string().trim().min(1).max(200);
/** Stock on hand, after what reservations already took. */
const stock = z.number().int().min(0).max(MAX_INT);

export const createProductBody = z.strictObject({ id: id.optional(), name, stock });
export type CreateProductInput = z.infer<typeof createProductBody>;

export const updateProductBody = z
  .strictObject({ name: name.optional(), stock: stock.optional() })
  .refine((body) => body.name !== undefined || body.stock !== undefined, 'give name, stock or both');
export type UpdateProductInput = z.infer<typeof updateProductBody>;

export const productIdParam = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,10}$/, 'must be a positive integer')
    .transform(Number)
    .pipe(id),
});
