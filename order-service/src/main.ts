import { createRuntime, outboxRule, runService } from '@delivery/common';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { orderEventHandlers } from './orders/order-events-consumer.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const rt = createRuntime('order-service', config);
  await runService(rt, {
    app: createApp({ ...rt, internalToken: config.INTERNAL_TOKEN }),
    handlers: orderEventHandlers(rt),
    retention: [outboxRule(config)],
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
