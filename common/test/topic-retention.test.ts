import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkTopicRetention,
  createKafka,
  createLogger,
  createRuntime,
  ensureTopics,
  RetentionRefusedError,
  TOPIC_SEGMENT_MS,
  type Admin,
} from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  TEST_MYSQL_URL,
  deleteTestTopics,
  testTopicPrefix,
} from '@delivery/common/testing';

const DAY = 86_400_000;
const silent = createLogger({ service: 'test', level: 'silent' });

describe('start-up refuses a DEDUP_RETENTION that does not outlast the topics', () => {
  const prefix = testTopicPrefix();
  let admin: Admin;
  before(async () => {
    admin = createKafka({ clientId: 'test-retention', brokers: TEST_KAFKA_BROKERS, logger: silent }).admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    await deleteTestTopics(prefix);
  });

  const config = (dedupDays: number, topicDays: number) => ({
    LOG_LEVEL: 'silent' as const,
    MYSQL_URL: TEST_MYSQL_URL,
    DB_POOL_MAX: 1,
    DB_ACQUIRE_TIMEOUT: 5_000,
    DB_STATEMENT_TIMEOUT: 5_000,
    KAFKA_BROKERS: TEST_KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_PARTITIONS: 1,
    KAFKA_REPLICATION_FACTOR: 1,
    KAFKA_MIN_INSYNC_REPLICAS: 1,
    ROLE: 'all' as const,
    KAFKA_TOPIC_RETENTION: topicDays * DAY,
    OUTBOX_RETENTION: DAY,
    DEDUP_RETENTION: dedupDays * DAY,
    RETENTION_INTERVAL: 300_000,
    PORT: 0,
    MYSQL_DATABASE: 'unused_test',
  });

  it('a configured DEDUP_RETENTION not longer than KAFKA_TOPIC_RETENTION + segment.ms is refused, naming both', () => {
    // 8 days = 7 days of retention.ms + 1 day of segment.ms: equal is not enough.
    assert.throws(
      () => createRuntime('order-service', config(8, 7), silent),
      (err: Error) =>
        err instanceof RetentionRefusedError &&
        err.message.includes(`DEDUP_RETENTION ${8 * DAY} ms`) &&
        err.message.includes(`retention.ms ${7 * DAY} + segment.ms ${TOPIC_SEGMENT_MS}`),
    );
  });

  it('a configured DEDUP_RETENTION longer than the topics hold a message is accepted', async () => {
    const rt = createRuntime('order-service', config(14, 7), silent);
    await rt.db.destroy();
  });

  it('an existing topic holding messages longer than DEDUP_RETENTION is refused once read back from the broker, naming both', async () => {
    const topic = `${prefix}long-kept`;
    await ensureTopics(admin, [topic], 1, 20 * DAY);
    await assert.rejects(
      checkTopicRetention(admin, [topic], 14 * DAY),
      (err: Error) =>
        err instanceof RetentionRefusedError &&
        err.message.includes(`DEDUP_RETENTION ${14 * DAY} ms`) &&
        err.message.includes(`topic ${topic}`) &&
        err.message.includes(`retention.ms ${20 * DAY} + segment.ms ${TOPIC_SEGMENT_MS}`),
    );
  });

  it('topics created with KAFKA_TOPIC_RETENTION 7d pass a DEDUP_RETENTION of 14d', async () => {
    const topic = `${prefix}week-kept`;
    await ensureTopics(admin, [topic], 1, 7 * DAY);
    await checkTopicRetention(admin, [topic], 14 * DAY);
  });

  it('a topic kept less than a day is cut in segments of its retention: 2 minutes hold a message up to 4', async () => {
    const topic = `${prefix}minutes-kept`;
    const minute = 60_000;
    await ensureTopics(admin, [topic], 1, 2 * minute);
    await assert.rejects(checkTopicRetention(admin, [topic], 4 * minute), (err: Error) =>
      err.message.includes(`retention.ms ${2 * minute} + segment.ms ${2 * minute}`),
    );
    await checkTopicRetention(admin, [topic], 4 * minute + 1);
  });
});
