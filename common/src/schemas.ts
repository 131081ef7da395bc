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

/**
 * Free text that names something (a city, a product): trimmed, 1 to `max` characters, any
 * script. Control characters (NUL, newlines, escapes) and unpaired UTF-16 surrogates are refused:
 * MySQL would store a lone surrogate as U+FFFD, so the name would not come back as it was sent.
 */
export function nameText(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\p{Cs}]*$/u, 'must not contain control characters or unpaired surrogates');
}
