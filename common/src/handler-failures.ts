/**
 * How the consumer loop tells a handler's failures apart: transient ones (retried without limit)
 * from the rest, and when two failures are the same one (counted towards the DLQ).
 */
import { AppError, constructorNames, isDatabaseUnavailable, isRedisUnavailable } from './errors.js';

/**
 * Server errors of the moment, not of the statement (MySQL/MariaDB errno): the same transaction
 * may well succeed when run again.
 */
const TRANSIENT_DB_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1317, // ER_QUERY_INTERRUPTED (a KILL QUERY, a shutdown)
  1158, // ER_NET_READ_ERROR
  1159, // ER_NET_READ_INTERRUPTED
  1160, // ER_NET_ERROR_ON_WRITE
  1161, // ER_NET_WRITE_INTERRUPTED
  1927, // MariaDB ER_CONNECTION_KILLED (server shutting down); mysql2 has no name for it
  4031, // ER_CLIENT_INTERACTION_TIMEOUT
]);

/** A peer that cannot be reached or went away: sockets, DNS, undici. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Redis replies that mean "not now": still loading its data, busy with a script, failing over. */
const REDIS_NOT_NOW = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN)\b/;

function isTransientItself(err: object): boolean {
  const { code, errno, name, message } = err as Record<string, unknown>;
  const classes = constructorNames(err);
  return (
    isDatabaseUnavailable(err) ||
    (typeof errno === 'number' && TRANSIENT_DB_ERRNOS.has(errno)) ||
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    (typeof name === 'string' && name.startsWith('KafkaJS')) ||
    isRedisUnavailable(err) ||
    (classes.includes('ErrorReply') && typeof message === 'string' && REDIS_NOT_NOW.test(message)) ||
    (err instanceof AppError && err.status === 503)
  );
}

/**
 * A failure of the moment rather than of the work: a dependency (MySQL, Redis, Kafka, a peer
 * service) unreachable, lost, timed out or shutting down, or a lock wait timeout or deadlock.
 * Trying the same work again later may succeed, so the consumer loop retries it without limit;
 * anything else counts towards its bound (see createConsumerLoop). The error's `cause` (and an
 * AggregateError's errors, as Node's connect gives for several addresses) count too.
 */
export function isTransientError(err: unknown): boolean {
  const within = (e: unknown, depth: number): boolean => {
    if (typeof e !== 'object' || e === null || depth > 3) return false;
    if (isTransientItself(e)) return true;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    return within(cause, depth + 1) || (Array.isArray(errors) && errors.some((x) => within(x, depth + 1)));
  };
  return within(err, 0);
}

/**
 * What makes two failures the same: name, code and message, the message as its source gave it.
 * For a database error that is the server's own (mysql2's `sqlMessage`): knex puts the statement
 * with its values in front of `message`, and a timestamp among them would make every attempt
 * look new.
 */
export function failureSignature(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { name, code, message, sqlMessage } = err as Record<string, unknown>;
  return JSON.stringify([name, code ?? null, typeof sqlMessage === 'string' ? sqlMessage : message]);
}
