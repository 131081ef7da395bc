import { z } from 'zod';

/** An INT column's largest value: ids and counts above it would fail in MySQL, so refuse them at the door. */
export const MAX_INT = 2_147_483_647;

export const positiveId = z.number().int().positive().max(MAX_INT);

/** `/:id` route params arrive as strings; only a plain positive integer is an id. */
export const idParam = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,10}$/, 'must be a positive integer')
    .transform(Number)
    .pipe(positiveId),
});
