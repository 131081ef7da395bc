import { z } from 'zod';
import { duration, internalTokenEnv, parseEnv, serviceEnv, urlWithProtocol } from '@delivery/common';

const schema = serviceEnv({ port: 3003, database: 'dispatch' })
  .extend({
    REDIS_URL: urlWithProtocol(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
    /** Longest any one Redis command may wait for its answer; a Redis that stops answering fails it. */
    REDIS_COMMAND_TIMEOUT: duration.default(2_000),
    /**
     * Namespace of the lock keys, so tests never touch the locks of a running `make up`. Unset,
     * it follows KAFKA_TOPIC_PREFIX: a system under a topic namespace keeps its locks under it too.
     */
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[\w.:-]*$/)
      .optional(),
    ORDER_SERVICE_URL: urlWithProtocol(['http:', 'https:']).default('http://127.0.0.1:3001'),
    /** A safety net against a lock outliving a crash, not the delivery time: the reconciler renews it. */
    VEHICLE_LOCK_TTL_MS: z.coerce.number().int().min(1_000).default(3_600_000),
    LOCK_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
    /** When set, the release endpoints require it, and calls to order-service carry it. */
    INTERNAL_TOKEN: internalTokenEnv,
  })
  .transform((c) => ({ ...c, REDIS_KEY_PREFIX: c.REDIS_KEY_PREFIX ?? c.KAFKA_TOPIC_PREFIX }));

export type Config = z.infer<typeof schema>;

/** The settings the dispatcher adds to the common ones (what tests pass next to a test runtime). */
export type DispatcherSettings = Pick<
  Config,
  | 'REDIS_KEY_PREFIX'
  | 'ORDER_SERVICE_URL'
  | 'VEHICLE_LOCK_TTL_MS'
  | 'LOCK_RECONCILE_INTERVAL_MS'
  | 'INTERNAL_TOKEN'
>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
