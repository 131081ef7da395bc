import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import type { Logger } from './logger.js';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error type domain code throws: a stable code, a message for people, an HTTP status. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'AppError';
  }
}

const joinPath = (path: PropertyKey[]) => path.map(String).join('.') || '(body)';

/** One detail per bad field; an unknown key is named as its own field rather than as the body. */
export function zodDetails(error: ZodError): ErrorDetail[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: joinPath([...issue.path, key]), message: 'Unknown field' }))
      : [{ path: joinPath(issue.path), message: issue.message }],
  );
}

export function validationError(error: ZodError): AppError {
  const details = zodDetails(error);
  const fields = [...new Set(details.map((d) => d.path))].join(', ');
  return new AppError('validation_failed', `Invalid request: ${fields}`, 400, details);
}

/** body-parser marks its own errors with a `type`; map them to the documented statuses. */
function fromBodyParser(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  switch ((err as { type: unknown }).type) {
    case 'entity.parse.failed':
      return new AppError('malformed_json', 'Request body is not valid JSON', 400);
    case 'entity.too.large':
      return new AppError('payload_too_large', 'Request body is larger than 100 kB', 413);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('unsupported_media_type', 'Unsupported body encoding', 415);
    default:
      return undefined;
  }
}

/**
 * Client errors raised before a route runs, which carry their 4xx status (http-errors style):
 * a path that is not valid percent-encoding (the router's URIError), a body that does not
 * inflate as its Content-Encoding says, a request aborted mid-body.
 */
function fromClientError(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { status } = err as { status?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (err instanceof URIError)
    return new AppError('malformed_path', 'The path is not valid percent-encoding', 400);
  if ((err as { expose?: unknown }).expose === true)
    return new AppError('malformed_body', 'The request body could not be read', status);
  return undefined;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  // A statement that got no answer within DB_STATEMENT_TIMEOUT (db.ts, StatementTimeoutError).
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** The database could not be reached, did not answer in time, or the pool gave up waiting for a connection. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, name, fatal } = err as { code?: unknown; name?: unknown; fatal?: unknown };
  // mysql2 marks every error that killed the connection `fatal`, including the ones without a
  // code ("Can't add new command when connection is in closed state" after the server died).
  return (
    name === 'KnexTimeoutError' || fatal === true || (typeof code === 'string' && UNAVAILABLE_CODES.has(code))
  );
}

/**
 * node-redis's connection errors. Its classes set no `name` (every one is "Error"), so they are
 * known by their constructors; TimeoutError covers a command's own timeout (commandOptions).
 */
const REDIS_CONNECTION_ERRORS = new Set([
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketTimeoutError',
  'SocketClosedUnexpectedlyError',
  'DisconnectsClientError',
  'ReconnectStrategyError',
  'RootNodesUnavailableError',
  'TimeoutError',
]);

/** The names of the classes an error was made by, its own first (Error itself left out). */
export function constructorNames(err: object): string[] {
  const names: string[] = [];
  for (
    let p = Object.getPrototypeOf(err) as object | null;
    p && p !== Error.prototype;
    p = Object.getPrototypeOf(p)
  )
    names.push((p as { constructor?: { name?: string } }).constructor?.name ?? '');
  return names;
}

/** Redis could not be reached, or did not answer a command within its timeout. */
export function isRedisUnavailable(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    constructorNames(err).some((c) => REDIS_CONNECTION_ERRORS.has(c))
  );
}

/** A dependency that cannot be reached or does not answer is a 503 the caller can retry, not a 500. */
function fromUnavailableDependency(err: unknown): AppError | undefined {
  if (isDatabaseUnavailable(err))
    return new AppError('dependency_unavailable', 'The database is unavailable; retry later', 503);
  if (isRedisUnavailable(err))
    return new AppError('dependency_unavailable', 'Redis is unavailable; retry later', 503);
  return undefined;
}

/** MySQL errno of a transaction the server rolled back for meeting another: ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT. */
const CONFLICT_ERRNOS = new Set([1213, 1205]);

/**
 * Two requests (or a request and a consumer) that locked the same rows in another order: the server
 * rolled one back whole, so nothing of it was written and the same request can simply be sent again.
 */
function fromTransactionConflict(err: unknown): AppError | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno;
  if (typeof errno !== 'number' || !CONFLICT_ERRNOS.has(errno)) return undefined;
  return new AppError(
    'transaction_conflict',
    'The request met a concurrent one and changed nothing; retry it',
    503,
  );
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return validationError(err);
  return (
    fromBodyParser(err) ??
    fromClientError(err) ??
    fromUnavailableDependency(err) ??
    fromTransactionConflict(err) ??
    new AppError('internal_error', 'Internal server error', 500)
  );
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `No route for ${req.method} ${req.path.slice(0, 200)}`, 404));
};

/** Registered last: every error becomes the JSON error body; 5xx messages are logged, not shown. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError = toAppError(err);
    const log = (req as { log?: Logger }).log ?? logger;
    if (appError.status >= 500) log.error({ err }, 'request failed');
    else log.debug({ code: appError.code }, appError.message);
    if (res.headersSent) return;
    res.status(appError.status).json({
      error: {
        code: appError.code,
        message: appError.message,
        ...(appError.details ? { details: appError.details } : {}),
      },
    });
  };
}
