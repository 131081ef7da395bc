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
