import type { z } from 'zod';
import { parseEnv, serviceEnv } from '@delivery/common';

const schema = serviceEnv({ port: 3001, database: 'orders' });

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
