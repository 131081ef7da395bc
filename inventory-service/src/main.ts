import { createRuntime, outboxRule, runService } from '@delivery/common';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { inventoryEventHandlers } from './reservations/order-events-consumer.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const rt = createRuntime('inventory-service', config);
  await runService(rt, {
    app: createApp(rt),
    handlers: inventoryEventHandlers(rt),
    retention: [outboxRule(config)],
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
