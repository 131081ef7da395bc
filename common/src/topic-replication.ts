import type { Admin, ITopicMetadata } from 'kafkajs';
import type { CommonConfig } from './config.js';
import type { Replication } from './kafka.js';
import type { Logger } from './logger.js';

/** A start-up refusal: retrying cannot help, the configuration or the cluster has to change. */
export class ReplicationRefusedError extends Error {
  override name = 'ReplicationRefusedError';
}

export function replicationOf(config: CommonConfig): Replication {
  return { factor: config.KAFKA_REPLICATION_FACTOR, minInsync: config.KAFKA_MIN_INSYNC_REPLICAS };
}

/**
 * Checked before anything starts: a topic whose min.insync.replicas exceeds its replicas refuses
 * every acks=all send, so no event could ever be published.
 */
export function checkConfiguredReplication(config: CommonConfig): void {
  const { factor, minInsync } = replicationOf(config);
  if (minInsync <= factor) return;
  throw new ReplicationRefusedError(
    `KAFKA_MIN_INSYNC_REPLICAS ${minInsync} is more than KAFKA_REPLICATION_FACTOR ${factor}: ` +
      'no send could ever be acknowledged by that many replicas',
  );
}

/** Kafka cannot place `factor` replicas of a partition on fewer brokers. */
export function refuseTooFewBrokers(brokers: number, factor: number): void {
  if (brokers >= factor) return;
  throw new ReplicationRefusedError(
    `KAFKA_REPLICATION_FACTOR ${factor} needs at least ${factor} brokers, ` +
      `but the cluster has ${brokers} broker${brokers === 1 ? '' : 's'}: ` +
      'start more brokers or lower KAFKA_REPLICATION_FACTOR',
  );
}

/**
 * Asks the cluster how many brokers it has; refuses when they cannot hold `factor` replicas. A
 * broker that is down right now still counts when it holds replicas of `topics`: a service
 * restarted while one node of three restarts too is not refused for it.
 */
export async function checkBrokerCount(admin: Admin, factor: number, topics: string[] = []): Promise<void> {
  const { brokers } = await admin.describeCluster();
  const known = new Set(brokers.map((b) => b.nodeId));
  const existing = new Set(await admin.listTopics());
  const ours = topics.filter((t) => existing.has(t));
  if (known.size < factor && ours.length > 0) {
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: ours });
    for (const t of metadata) for (const p of t.partitions) for (const id of p.replicas) known.add(id);
  }
  refuseTooFewBrokers(known.size, factor);
}

export interface UnderReplicatedTopic {
  topic: string;
  /** The fewest replicas any of its partitions has. */
  replicas: number;
}

/** The topics of a metadata answer that have a partition with fewer replicas than `factor`. */
export function underReplicatedTopics(topics: ITopicMetadata[], factor: number): UnderReplicatedTopic[] {
  return topics
    .map(({ name, partitions }) => ({
      topic: name,
      replicas: Math.min(...partitions.map((p) => p.replicas.length)),
    }))
    .filter((t) => t.replicas < factor)
    .sort((a, b) => a.topic.localeCompare(b.topic));
}

export function describeUnderReplicated(topics: UnderReplicatedTopic[], factor: number): string {
  const list = topics.map((t) => `${t.topic} (${t.replicas})`).join(', ');
  return `${topics.length} topic(s) have fewer replicas than KAFKA_REPLICATION_FACTOR ${factor}: ${list}`;
}

/**
 * Topics that existed before the factor was raised keep their replicas: Kafka does not add
 * replicas to a topic by itself (kafka-reassign-partitions does). They still work, with less
 * durability than configured, so this is reported (a warning and a /readyz detail), not refused.
 * Gives back the detail, or undefined when every topic has its replicas.
 */
export async function reportUnderReplicated(
  admin: Admin,
  topics: string[],
  factor: number,
  log: Logger,
): Promise<string | undefined> {
  if (topics.length === 0) return undefined;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  const under = underReplicatedTopics(metadata, factor);
  if (under.length === 0) return undefined;
  const detail = describeUnderReplicated(under, factor);
  log.warn({ underReplicated: under, replicationFactor: factor }, detail);
  return detail;
}
