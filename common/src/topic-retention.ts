import type { Admin, ConfigResourceTypes } from 'kafkajs';
import type { CommonConfig } from './config.js';

/**
 * segment.ms of the topics a service creates. Kafka deletes a whole segment once its newest
 * message is older than retention.ms, and a segment is closed after segment.ms: a message can
 * stay up to retention.ms + segment.ms. Kafka's default segment.ms is 7 days; a day, or the
 * retention itself when that is shorter, keeps the overhang short.
 */
export const TOPIC_SEGMENT_MS = 24 * 60 * 60 * 1_000;

export function topicSegmentMs(retentionMs: number): number {
  return retentionMs > 0 ? Math.min(TOPIC_SEGMENT_MS, retentionMs) : TOPIC_SEGMENT_MS;
}

/** ConfigResourceTypes.TOPIC: the enum is not among the names Node finds in kafkajs's CommonJS exports. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** A start-up refusal: retrying cannot help, the configuration has to change. */
export class RetentionRefusedError extends Error {
  override name = 'RetentionRefusedError';
}

interface TopicRetention {
  retentionMs: number;
  segmentMs: number;
}

/**
 * processed_events rows are how a consumer recognises a redelivered event. A message can be
 * delivered again (a rebalance before its offset was committed, a group reset to the earliest
 * offset) for as long as the topic holds it; if its row were gone by then, it would be applied
 * twice. So DEDUP_RETENTION must be longer than the topic can hold a message.
 */
export function refuseShortDedup(dedupMs: number, where: string, { retentionMs, segmentMs }: TopicRetention) {
  const held = retentionMs < 0 ? Infinity : retentionMs + segmentMs;
  if (dedupMs > held) return;
  const topic =
    retentionMs < 0
      ? 'retention.ms -1 (forever)'
      : `retention.ms ${retentionMs} + segment.ms ${segmentMs} = ${held} ms`;
  throw new RetentionRefusedError(
    `DEDUP_RETENTION ${dedupMs} ms must be longer than ${where} holds a message (${topic}): ` +
      'an event redelivered after its processed_events row is deleted would be applied twice',
  );
}

/** The configured values, checked before anything starts. */
export function checkConfiguredRetention(config: CommonConfig): void {
  refuseShortDedup(config.DEDUP_RETENTION, 'KAFKA_TOPIC_RETENTION', {
    retentionMs: config.KAFKA_TOPIC_RETENTION,
    segmentMs: topicSegmentMs(config.KAFKA_TOPIC_RETENTION),
  });
}

/** The values the broker has for the topics (which may predate this configuration), checked once Kafka answers. */
export async function checkTopicRetention(admin: Admin, topics: string[], dedupMs: number): Promise<void> {
  if (topics.length === 0) return;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: TOPIC_RESOURCE,
      name,
      configNames: ['retention.ms', 'segment.ms'],
    })),
  });
  for (const r of resources) {
    const value = (name: string) => {
      const entry = r.configEntries.find((e) => e.configName === name);
      if (!entry) throw new Error(`topic ${r.resourceName} has no ${name}`);
      return Number(entry.configValue);
    };
    refuseShortDedup(dedupMs, `topic ${r.resourceName}`, {
      retentionMs: value('retention.ms'),
      segmentMs: value('segment.ms'),
    });
  }
}
