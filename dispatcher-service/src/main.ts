import { createRuntime, runService } from '@delivery/common';
import { loadConfig } from './config.js';
import { createDispatcher } from './dispatcher.js';
import { closeRedis, connectRedis, createRedis } from './redis.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const rt = createRuntime('dispatcher-service', config);
  const redis = createRedis(config.REDIS_URL, rt.logger, config.REDIS_COMMAND_TIMEOUT);
  connectRedis(redis, rt.logger);
  const { app, handlers, workers, retention, orders } = createDispatcher(rt, redis, config);
  await runService(rt, {
    app,
    handlers,
    workers,
    retention,
    close: [
      ['close order-service client', () => orders.close()],
      ['close redis', () => closeRedis(redis)],
    ],
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
