import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { CommonConfig } from './config.js';
import { createConsumerLoop, type ConsumerLoop, type EventHandler } from './consumer.js';
import { createDb, type Db } from './db.js';
import { TOPICS, dlqTopic, topicName } from './events.js';
import { createKafka, createProducer, ensureTopics } from './kafka.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createOutboxRelay, type OutboxRelay } from './outbox.js';
import { onShutdown, type ShutdownStep } from './shutdown.js';

export interface ServiceConfig extends CommonConfig {
  PORT: number;
  MYSQL_DATABASE: string;
}

/** What main.ts of every service builds first: the process's connections, none opened on import. */
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
}

export function createRuntime(name: string, config: ServiceConfig): ServiceRuntime {
  const logger = createLogger({ service: name, level: config.LOG_LEVEL });
  const metrics = createMetrics(name);
  const db = createDb({ url: config.MYSQL_URL, database: config.MYSQL_DATABASE, poolMax: config.DB_POOL_MAX });
  const kafka = createKafka({ clientId: name, brokers: config.KAFKA_BROKERS, logger });
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  const relay = createOutboxRelay({ db, producer, logger, metrics, topicPrefix: config.KAFKA_TOPIC_PREFIX });
  return { name, config, logger, metrics, db, kafka, producer, admin, relay };
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
      if (attempt === 1 || attempt % 10 === 0) log.warn({ err, attempt }, `${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
}

export interface RunOptions {
  app: Express;
  handlers: EventHandler[];
  /** Extra background work of the worker role (e.g. the dispatcher's lock reconciler). */
  workers?: { start(): void; stop(): Promise<void> }[];
  /** Extra connections to close last (e.g. Redis). */
  close?: ShutdownStep[];
}

/** Start HTTP and/or the worker side per ROLE, wire graceful shutdown, return when listening. */
export async function runService(rt: ServiceRuntime, options: RunOptions): Promise<void> {
  const { config, logger } = rt;
  const serveHttp = config.ROLE !== 'worker';
  const runWorker = config.ROLE !== 'api';
  let stopping = false;
  let consumer: ConsumerLoop | undefined;
  let server: Server | undefined;

  if (serveHttp) {
    server = options.app.listen(config.PORT, '0.0.0.0');
    await new Promise<void>((resolve, reject) => server!.once('listening', resolve).once('error', reject));
    logger.info({ port: config.PORT }, `${rt.name} listening on http://127.0.0.1:${config.PORT}`);
  }

  const kafkaReady = untilDone(
    logger,
    'kafka start-up',
    async () => {
      await rt.admin.connect();
      await ensureTopics(rt.admin, allTopics(config.KAFKA_TOPIC_PREFIX), config.KAFKA_PARTITIONS);
      await rt.producer.connect();
    },
    () => stopping,
  );

  if (runWorker) {
    rt.relay.start();
    for (const w of options.workers ?? []) w.start();
    if (options.handlers.length > 0) {
      consumer = createConsumerLoop({
        kafka: rt.kafka,
        producer: rt.producer,
        groupId: `${config.KAFKA_TOPIC_PREFIX}${rt.name}`,
        topicPrefix: config.KAFKA_TOPIC_PREFIX,
        handlers: options.handlers,
        logger,
        metrics: rt.metrics,
      });
      const loop = consumer;
      void kafkaReady.then(() => untilDone(logger, 'consumer start', () => loop.start(), () => stopping));
    }
  }

  onShutdown(logger, [
    ['stop http intake', () => closeServer(server)],
    ['stop consumer', async () => {
      stopping = true;
      await consumer?.stop();
    }],
    ['stop workers', async () => {
      await Promise.all((options.workers ?? []).map((w) => w.stop()));
    }],
    ['stop outbox relay', () => rt.relay.stop()],
    ['disconnect kafka', async () => {
      await rt.producer.disconnect();
      await rt.admin.disconnect();
    }],
    ...(options.close ?? []),
    ['close database', () => rt.db.destroy()],
  ]);
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
    server.closeIdleConnections();
  });
}
