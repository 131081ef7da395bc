import { TimeoutError, createClient } from 'redis';
import { READINESS_TIMEOUT_MS, withTimeout, type Logger, type ReadinessCheck } from '@delivery/common';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A node-redis client that never opens a connection by itself (main.ts connects it). Commands
 * fail fast while Redis is unreachable instead of queueing: a handler retries, a request fails.
 * A Redis that stops answering with its connection open fails each command after
 * `commandTimeoutMs` (REDIS_COMMAND_TIMEOUT, see boundReplies): it must not hold a city's
 * allocation lock in MySQL, or a release, for long.
 */
export function createRedis(url: string, logger: Logger, commandTimeoutMs = 2_000): RedisClient {
  const log = logger.child({ module: 'redis' });
  const client = createClient({
    url,
    disableOfflineQueue: true,
    // Bounds only the wait to be written to the socket; boundReplies bounds the wait for the reply.
    commandOptions: { timeout: commandTimeoutMs },
    socket: { connectTimeout: 3_000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 3_000) },
  });
  boundReplies(client, commandTimeoutMs);
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

type SendCommand = (args: unknown, options?: unknown) => Promise<unknown>;

/**
 * node-redis's own command timeout ends once the command is written, and a stopped Redis takes
 * every write (the kernel buffers it): its replies would be waited for without end. Every command
 * (PING, scripts and SCAN included: all go through sendCommand) fails after `timeoutMs` with
 * node-redis's TimeoutError, which callers already treat as "Redis unavailable" (503, retried).
 * The command stays in node-redis's reply queue, so its late reply is matched to it and dropped,
 * and every later reply still reaches its own command. A timed-out SET NX may still be applied
 * when Redis wakes: VehicleLocks.acquire takes a lock that holds its own order, and the reconciler
 * removes one without an assignment.
 */
function boundReplies(client: RedisClient, timeoutMs: number): void {
  // Commands run on the client's `_self` (what createClient returns may be a view of it).
  const target = (client as unknown as { _self: { sendCommand: SendCommand } })._self;
  const send = target.sendCommand.bind(target);
  target.sendCommand = (args, options) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            Object.assign(new TimeoutError(), { message: `Redis did not answer within ${timeoutMs} ms` }),
          ),
        timeoutMs,
      );
    });
    return Promise.race([send(args, options), late]).finally(() => clearTimeout(timer));
  };
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
    // Connected is not answering: a stopped Redis keeps its connections open.
    await withTimeout(
      client.ping(),
      READINESS_TIMEOUT_MS,
      `redis did not answer within ${READINESS_TIMEOUT_MS / 1_000} s`,
    );
  };
}
