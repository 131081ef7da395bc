import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createKafka, createLogger, ensureTopics, TOPIC_SEGMENT_MS, type Admin } from '@delivery/common';
import { TEST_KAFKA_BROKERS, deleteTestTopics, testTopicPrefix } from '@delivery/common/testing';

const DAY = 86_400_000;
const MINUTE = 60_000;
const silent = createLogger({ service: 'test', level: 'silent' });
/** ConfigResourceTypes.TOPIC. */
const TOPIC_RESOURCE = 2;

describe('topics are created with the configured retention, in segments of at most a day', () => {
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

  /** retention.ms and segment.ms as the broker reports them for `topic`. */
  async function retentionOf(topic: string): Promise<{ retentionMs: number; segmentMs: number }> {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['retention.ms', 'segment.ms'] }],
    });
    const value = (name: string) =>
      Number(resources[0]?.configEntries.find((e) => e.configName === name)?.configValue);
    return { retentionMs: value('retention.ms'), segmentMs: value('segment.ms') };
  }

  it('a week of retention is cut in segments of a day (Kafka would close one only every 7 days)', async () => {
    const topic = `${prefix}week-kept`;
    await ensureTopics(admin, [topic], 1, 7 * DAY);
    assert.deepEqual(await retentionOf(topic), { retentionMs: 7 * DAY, segmentMs: TOPIC_SEGMENT_MS });
    assert.equal(TOPIC_SEGMENT_MS, DAY);
  });

  it('a topic kept less than a day is cut in segments of its retention: 2 minutes hold a message up to 4', async () => {
    const topic = `${prefix}minutes-kept`;
    await ensureTopics(admin, [topic], 1, 2 * MINUTE);
    assert.deepEqual(await retentionOf(topic), { retentionMs: 2 * MINUTE, segmentMs: 2 * MINUTE });
  });

  it('a topic that exists keeps its settings', async () => {
    const topic = `${prefix}kept-as-is`;
    await ensureTopics(admin, [topic], 1, 20 * DAY);
    await ensureTopics(admin, [topic], 1, 2 * MINUTE);
    assert.deepEqual(await retentionOf(topic), { retentionMs: 20 * DAY, segmentMs: DAY });
  });
});
