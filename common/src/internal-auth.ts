import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from './errors.js';

/**
 * INTERNAL_TOKEN, the shared secret of service-to-service calls. Unset (or empty) by default, so
 * the assignment's curl examples work as they are; when set it must look like a secret.
 */
export const internalTokenEnv = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .min(16, 'must be at least 16 characters')
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces (it travels in a header)')
    .optional(),
);

/** `authorization: Bearer <token>`, or `x-internal-token: <token>`. */
function presentedToken(req: Request): string | undefined {
  const bearer = /^Bearer +(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  return bearer ?? req.get('x-internal-token');
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Guards an endpoint meant for the other services (PATCH /orders/:id, the vehicle releases)
 * when a token is configured; with none it lets everything through. Both sides are hashed
 * first, so the comparison takes the same time whatever the length or content of a guess.
 */
export function requireInternalToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, res, next) => {
    const given = presentedToken(req);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return next();
    res.setHeader('www-authenticate', 'Bearer realm="internal"');
    next(
      new AppError(
        'unauthorized',
        'This endpoint needs the internal token: authorization: Bearer <token>',
        401,
      ),
    );
  };
}

/** What a client of such an endpoint sends: nothing when no token is configured. */
export function internalAuthHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
