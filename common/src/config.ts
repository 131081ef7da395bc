import { z } from 'zod';
import { DB_TIMEOUT_DEFAULTS } from './db.js';

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

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration as `30m`, `24h`, `14d` (units ms, s, m, h, d) or plain milliseconds; parsed to ms. */
export const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'a duration such as 30m, 24h, 14d or milliseconds')
  .transform((s) => {
    const [, n, unit] = /^(\d+)(ms|s|m|h|d)?$/.exec(s)!;
    return Number(n) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS];
  })
  .pipe(z.number().int().positive());

/** The settings every service reads, with local defaults (DESIGN.md §8). */
export const commonEnv = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MYSQL_URL: urlWithProtocol(['mysql:']).default('mysql://root@127.0.0.1:3306'),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** Longest wait for a pooled connection, a new connection's handshake included. */
  DB_ACQUIRE_TIMEOUT: duration.default(DB_TIMEOUT_DEFAULTS.acquireMs),
  /** Longest any one statement may take: a database that stops answering fails it (503, retried). */
  DB_STATEMENT_TIMEOUT: duration.default(DB_TIMEOUT_DEFAULTS.statementMs),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  /** Namespace for topics and consumer groups: tests set one so they never touch `make up`'s. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[\w.-]*$/)
    .default(''),
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(64).default(6),
  /** Replicas of every topic a service creates; start-up refuses a cluster with fewer brokers. */
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(16).default(1),
  /** min.insync.replicas of those topics: the replicas an acks=all send waits for (≤ the factor). */
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(16).default(1),
  /** api: HTTP only; worker: consumer and outbox relay only; all: both (default). */
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  /** retention.ms of the topics a service creates; topics that exist keep theirs (checked at start-up). */
  KAFKA_TOPIC_RETENTION: duration.default(7 * UNIT_MS.d),
  /** Published outbox rows are deleted after this long; unpublished ones never. */
  OUTBOX_RETENTION: duration.default(UNIT_MS.d),
  /** Mean time between two runs of a worker's retention job (each wait jittered ±20 %). */
  RETENTION_INTERVAL: duration.default(5 * UNIT_MS.m),
  /** How often a worker measures the depth of the DLQs it feeds (metric dlq_messages); default 30 s. */
  DLQ_DEPTH_INTERVAL: duration.optional(),
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
