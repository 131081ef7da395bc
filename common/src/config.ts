import { z } from 'zod';

const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[\w.-]+:\d+$/, 'host:port')).min(1));

/** A URL whose scheme is one of `protocols` (e.g. `['redis:', 'rediss:']`). */
export const urlWithProtocol = (protocols: string[]) =>
  z.url().refine((u) => protocols.includes(new URL(u).protocol), `must start with ${protocols.join(' or ')}`);

/** The settings every service reads, with local defaults (DESIGN.md §8). */
export const commonEnv = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MYSQL_URL: urlWithProtocol(['mysql:']).default('mysql://root@127.0.0.1:3306'),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  /** Namespace for topics and consumer groups: tests set one so they never touch `make up`'s. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[\w.-]*$/)
    .default(''),
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(64).default(6),
  /** api: HTTP only; worker: consumer and outbox relay only; all: both (default). */
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
});

export type CommonConfig = z.infer<typeof commonEnv>;

/** The common settings plus the two every service defaults differently: its port and its database. */
export function serviceEnv(defaults: { port: number; database: string }) {
  return commonEnv.extend({
    PORT: z.coerce.number().int().min(0).max(65535).default(defaults.port),
    MYSQL_DATABASE: z
      .string()
      .regex(/^\w{1,64}$/)
      .default(defaults.database),
  });
}

/** Parse env with a service's schema; a bad value stops the process with every problem listed. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
  throw new Error(`Invalid configuration:\n${problems}`);
}
