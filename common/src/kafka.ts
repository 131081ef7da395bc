// Before kafkajs itself: the producer binds its send function when it loads.
import './kafkajs-send-fix.js';
import { Kafka, Partitioners, logLevel, type Admin, type LogEntry, type Producer } from 'kafkajs';
import './kafkajs-idle-fix.js';
import type { Logger } from './logger.js';
import { withTimeout } from './timeout.js';
import { topicSegmentMs } from './topic-retention.js';

export type { Kafka, Producer, Admin } from 'kafkajs';

export interface KafkaOptions {
  clientId: string;
  brokers: string[];
  logger: Logger;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** KafkaJS logs through the service's pino logger, from WARN up (its INFO is chatty about rebalances). */
export function createKafka({ clientId, brokers, logger }: KafkaOptions): Kafka {
  const log = logger.child({ module: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: { message, correlationId, ...extra } }: LogEntry) => {
        // KafkaJS's correlationId is a protocol request number, not the flow's id: keep them apart.
        log[LEVELS[level] ?? 'info']({ ...extra, kafkaRequestId: correlationId }, message);
      },
  });
}

/**
 * Every send of the services passes `acks: -1` (all in-sync replicas, KafkaJS's default made
 * explicit): with KAFKA_MIN_INSYNC_REPLICAS > 1 an acknowledged event survives the loss of a broker.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Keep the outbox order of one key: one request in flight per broker connection.
    maxInFlightRequests: 1,
  });
}

/** Replicas of a topic, and how many must have a message before an acks=all send succeeds. */
export interface Replication {
  factor: number;
  minInsync: number;
}

/**
 * Creates the topics (and their DLQs) that do not exist yet, keeping messages `retentionMs`
 * (in segments of topicSegmentMs), with `replication`. Safe to race with another service.
 * Topics that exist keep their settings (topic-replication.ts reports those below the factor).
 */
export async function ensureTopics(
  admin: Admin,
  topics: string[],
  numPartitions: number,
  retentionMs = 7 * 24 * 60 * 60 * 1_000,
  replication: Replication = { factor: 1, minInsync: 1 },
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions,
        replicationFactor: replication.factor,
        configEntries: [
          { name: 'min.insync.replicas', value: String(replication.minInsync) },
          { name: 'retention.ms', value: String(retentionMs) },
          { name: 'segment.ms', value: String(topicSegmentMs(retentionMs)) },
        ],
      })),
    });
  } catch (err) {
    // Another service created some of them at the same moment, or a broker that just started is
    // still spreading the new topics' metadata ("does not host this topic-partition"): fine, as
    // long as every one of them answers a metadata request shortly.
    if (!(await topicsAnswer(admin, missing))) throw err;
  }
}

async function topicsAnswer(admin: Admin, topics: string[], timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin.fetchTopicMetadata({ topics });
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** /readyz check: the broker answers a metadata request within the probe's time. */
export function kafkaReadiness(admin: Admin): () => Promise<void> {
  return () => withTimeout(admin.describeCluster(), 2_000, 'kafka did not answer within 2 s');
}
