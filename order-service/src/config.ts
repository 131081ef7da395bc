import type { z } from 'zod';
import { internalTokenEnv, parseEnv, serviceEnv } from '@delivery/common';

const schema = serviceEnv({ port: 3001, database: 'orders' }).extend({
  /** When set, PATCH /orders/:id and POST /orders/deliveries (service-to-service moves) require it. */
  INTERNAL_TOKEN: internalTokenEnv,
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
