import { z } from 'zod';
import { commonEnv, parseEnv } from '@delivery/common';

const schema = commonEnv.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  MYSQL_DATABASE: z
    .string()
    .regex(/^\w{1,64}$/)
    .default('orders'),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
