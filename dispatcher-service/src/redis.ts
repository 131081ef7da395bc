import { createClient } from 'redis';
import type { Logger, ReadinessCheck } from '@delivery/common';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A node-redis client that never opens a connection by itself (main.ts connects it). Commands
 * fail fast while Redis is unreachable instead of queueing: a handler retries, a request fails.
 */
export function createRedis(url: string, logger: Logger): RedisClient {
  const log = logger.child({ module: 'redis' });
  const client = createClient({
    url,
    disableOfflineQueue: true,
    // A Redis that stops answering must not hold a city's allocation lock in MySQL for long.
    commandOptions: { timeout: 2_000 },
    socket: { connectTimeout: 3_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 3_000) },
  });
  let failures = 0;
  // An unhandled 'error' event would kill the process; an outage is logged and waited out.
  client.on('error', (err: unknown) => {
    failures += 1;
    if (failures === 1 || failures % 20 === 0) log.warn({ err, failures }, 'redis connection error');
  });
  client.on('ready', () => {
    if (failures > 0) log.info({ failures }, 'redis connection restored');
    failures = 0;
  });
  return client;
}

/** Connect in the background: Redis being down at boot is waited for, never fatal (like Kafka). */
export function connectRedis(client: RedisClient, logger: Logger): void {
  client.connect().catch((err: unknown) => logger.error({ err }, 'redis connect gave up'));
}

export async function closeRedis(client: RedisClient): Promise<void> {
  if (client.isOpen) await client.close();
}

export function redisReadiness(client: RedisClient): ReadinessCheck {
  return async () => {
    if (!client.isReady) throw new Error('redis not connected');
    await client.ping();
  };
}
