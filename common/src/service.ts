import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { CommonConfig } from './config.js';
import { createConsumerLoop, type ConsumerLoop } from './consumer-loop.js';
import { createDb, type Db } from './db.js';
import { createHttpServer } from './http.js';
import { TOPICS, dlqTopic, topicName } from './events.js';
import type { EventHandler } from './event-handlers.js';
import { createKafka, createProducer, ensureTopics } from './kafka.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createOutboxRelay, type OutboxRelay } from './outbox-relay.js';
import { dlqDepthGauge } from './dlq-depth.js';
import { replayGroupId } from './dlq-ledger.js';
import { kafkaSendFixApplied } from './kafkajs-send-fix.js';
import { createRetentionJob, type RetentionRule } from './retention.js';
import { onShutdown, type ShutdownStep } from './shutdown.js';
import {
  ReplicationRefusedError,
  checkBrokerCount,
  checkConfiguredReplication,
  replicationOf,
  reportUnderReplicated,
} from './topic-replication.js';

export interface ServiceConfig extends CommonConfig {
  PORT: number;
  MYSQL_DATABASE: string;
}

/** What main.ts of every service builds first: the process's clients, none connected on import. */
export interface ServiceRuntime {
  name: string;
  config: ServiceConfig;
  logger: Logger;
  metrics: Metrics;
  db: Db;
  kafka: Kafka;
  producer: Producer;
  admin: Admin;
  relay: OutboxRelay;
  /** /readyz details: facts worth a look that do not make the service unready (http.ts). */
  readinessDetails: Map<string, string>;
}

export function createRuntime(name: string, config: ServiceConfig, logger?: Logger): ServiceRuntime {
  checkConfiguredReplication(config);
  if (!kafkaSendFixApplied())
    throw new Error(
      'kafkajs was loaded before common/src/kafkajs-send-fix.ts: a retried send could lose events',
    );
  const log = logger ?? createLogger({ service: name, level: config.LOG_LEVEL });
  const metrics = createMetrics(name);
  const db = createDb({
    url: config.MYSQL_URL,
    database: config.MYSQL_DATABASE,
    poolMax: config.DB_POOL_MAX,
    acquireTimeoutMs: config.DB_ACQUIRE_TIMEOUT,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT,
  });
  const kafka = createKafka({ clientId: name, brokers: config.KAFKA_BROKERS, logger: log });
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  const relay = createOutboxRelay({
    db,
    producer,
    logger: log,
    metrics,
    topicPrefix: config.KAFKA_TOPIC_PREFIX,
  });
  return {
    name,
    config,
    logger: log,
    metrics,
    db,
    kafka,
    producer,
    admin,
    relay,
    readinessDetails: new Map(),
  };
}

/** Every topic of the flow and its DLQ, under the configured namespace. */
export function allTopics(prefix: string): string[] {
  return Object.values(TOPICS).flatMap((t) => [topicName(prefix, t), dlqTopic(topicName(prefix, t))]);
}

/** Retry `fn` until it succeeds or `isStopping()`: a broker that is down at boot is waited for, not fatal. */
async function untilDone(log: Logger, what: string, fn: () => Promise<void>, isStopping: () => boolean) {
  for (let attempt = 1; !isStopping(); attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (err instanceof ReplicationRefusedError) throw err;
      if (attempt === 1 || attempt % 10 === 0) log.warn({ err, attempt }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
}

export interface WorkerOptions {
  handlers: EventHandler[];
  /** Extra background work of the worker role (e.g. the dispatcher's lock reconciler). */
  workers?: { start(): void; stop(): Promise<void> }[];
  /** The service's tables that the retention job keeps bounded (common/src/retention.ts). */
  retention?: RetentionRule[];
}

export interface Worker {
  /** Resolves once Kafka answered and the consumer joined its group. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The worker side of a service: topics ensured, outbox relay, consumer loop, extra workers.
 * Kafka being down at boot is waited for in the background, never fatal.
 */
export function startWorker(
  rt: ServiceRuntime,
  { handlers, workers = [], retention = [] }: WorkerOptions,
): Worker {
  const { config, logger } = rt;
  let stopping = false;
  const isStopping = () => stopping;
  let consumer: ConsumerLoop | undefined;
  if (handlers.length > 0) {
    consumer = createConsumerLoop({
      kafka: rt.kafka,
      producer: rt.producer,
      groupId: `${config.KAFKA_TOPIC_PREFIX}${rt.name}`,
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      handlers,
      logger,
      metrics: rt.metrics,
    });
  }
  const pruner = createRetentionJob({ db: rt.db, logger, registry: rt.metrics.registry }, retention, {
    intervalMs: config.RETENTION_INTERVAL,
  });
  rt.relay.start();
  for (const w of [...workers, pruner]) w.start();
  const consumed = [...new Set(handlers.map((h) => topicName(config.KAFKA_TOPIC_PREFIX, h.type)))];
  const ready = untilDone(logger, 'kafka start-up', () => connectKafka(rt), isStopping).then(() =>
    consumer ? untilDone(logger, 'consumer start', () => consumer.start(), isStopping) : undefined,
  );
  const dlqDepth = dlqDepthGauge({
    admin: rt.admin,
    registry: rt.metrics.registry,
    replayGroup: replayGroupId(config.KAFKA_TOPIC_PREFIX),
    dlqTopics: consumed.map(dlqTopic),
    intervalMs: config.DLQ_DEPTH_INTERVAL,
    logger,
  });
  // Measured once the admin client is connected; a rejected `ready` is the caller's to report.
  void ready.then(
    () => consumed.length > 0 && !stopping && dlqDepth.start(),
    () => undefined,
  );
  return {
    ready,
    async stop() {
      stopping = true;
      await dlqDepth.stop();
      await consumer?.stop();
      await Promise.all([...workers, pruner].map((w) => w.stop()));
      await rt.relay.stop();
    },
  };
}

/**
 * Enough brokers for the replication factor, topics ensured, those that exist with fewer replicas
 * reported.
 */
async function connectKafka(rt: ServiceRuntime): Promise<void> {
  const { config } = rt;
  const replication = replicationOf(config);
  const topics = allTopics(config.KAFKA_TOPIC_PREFIX);
  await rt.admin.connect();
  await checkBrokerCount(rt.admin, replication.factor, topics);
  await ensureTopics(rt.admin, topics, config.KAFKA_PARTITIONS, config.KAFKA_TOPIC_RETENTION, replication);
  const under = await reportUnderReplicated(rt.admin, topics, replication.factor, rt.logger);
  if (under) rt.readinessDetails.set('kafka', under);
  await rt.producer.connect();
}

/** Close every client of the runtime (after the worker and HTTP have stopped). */
export async function closeRuntime(rt: ServiceRuntime): Promise<void> {
  await rt.producer.disconnect();
  await rt.admin.disconnect();
  await rt.db.destroy();
}

export interface RunOptions extends WorkerOptions {
  app: Express;
  /** Extra connections to close before the database (e.g. Redis). */
  close?: ShutdownStep[];
}

/** main.ts: start HTTP and/or the worker per ROLE and wire graceful shutdown. */
export async function runService(rt: ServiceRuntime, options: RunOptions): Promise<void> {
  const { config, logger } = rt;
  let server: Server | undefined;
  if (config.ROLE !== 'worker') {
    // No host: dual-stack, so both 127.0.0.1 and localhost (::1) reach it.
    server = createHttpServer(options.app).listen(config.PORT);
    await new Promise<void>((resolve, reject) => server!.once('listening', resolve).once('error', reject));
    const { port } = server.address() as AddressInfo;
    logger.info({ port, role: config.ROLE }, `${rt.name} listening on http://127.0.0.1:${port}`);
  }
  // An api-only process runs no consumer, but publishes what its requests commit (the relay's
  // fast path) and needs Kafka for /readyz.
  const worker = startWorker(rt, config.ROLE === 'api' ? { handlers: [] } : options);
  worker.ready.catch((err: unknown) => {
    // Only a refusal rejects: everything else is retried.
    logger.fatal({ err }, err instanceof Error ? err.message : String(err));
    logger.flush();
    setImmediate(() => process.exit(1));
  });

  onShutdown(logger, [
    ['stop http intake', () => closeServer(server)],
    ['stop worker', () => worker.stop()],
    ...(options.close ?? []),
    ['close clients', () => closeRuntime(rt)],
  ]);
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve, reject) => {
    // close() only stops new connections: a client keeping its keep-alive connections busy
    // would go on sending requests on them until the grace period ran out (exit 1, offsets not
    // committed). Requests still arriving are answered with `Connection: close`, and every
    // connection is closed as soon as it is idle; in-flight requests finish.
    server.prependListener('request', (_req, res: ServerResponse) => res.setHeader('connection', 'close'));
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    server.close((err) => {
      clearInterval(idle);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
