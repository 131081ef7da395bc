import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ITopicMetadata } from 'kafkajs';
import {
  checkBrokerCount,
  checkConfiguredReplication,
  commonEnv,
  createHttpApp,
  createKafka,
  createLogger,
  createMetrics,
  ensureTopics,
  refuseTooFewBrokers,
  reportUnderReplicated,
  ReplicationRefusedError,
  underReplicatedTopics,
  type Admin,
} from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  call,
  captureLogger,
  deleteTestTopics,
  listen,
  testTopicPrefix,
} from '@delivery/common/testing';

const silent = createLogger({ service: 'test', level: 'silent' });
const TOPIC_RESOURCE = 2;

/** A metadata answer as fetchTopicMetadata gives it: replicas per partition. */
const metadata = (name: string, replicasPerPartition: number[]): ITopicMetadata => ({
  name,
  partitions: replicasPerPartition.map((n, partitionId) => ({
    partitionId,
    partitionErrorCode: 0,
    leader: 1,
    replicas: Array.from({ length: n }, (_, i) => i + 1),
    isr: Array.from({ length: n }, (_, i) => i + 1),
    offlineReplicas: [],
  })),
});

const refusal =
  (...parts: string[]) =>
  (err: Error) =>
    err instanceof ReplicationRefusedError && parts.every((p) => err.message.includes(p));

describe('replication settings: KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS', () => {
  it('default to 1 and 1', () => {
    const config = commonEnv.parse({});
    assert.equal(config.KAFKA_REPLICATION_FACTOR, 1);
    assert.equal(config.KAFKA_MIN_INSYNC_REPLICAS, 1);
  });

  it('a min ISR above the factor is refused before anything starts, naming both', () => {
    const config = commonEnv.parse({ KAFKA_REPLICATION_FACTOR: '2', KAFKA_MIN_INSYNC_REPLICAS: '3' });
    assert.throws(
      () => checkConfiguredReplication(config),
      refusal('KAFKA_MIN_INSYNC_REPLICAS 3', 'KAFKA_REPLICATION_FACTOR 2'),
    );
    checkConfiguredReplication(
      commonEnv.parse({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }),
    );
  });

  it('a factor of 2 on a 1-broker cluster is refused, naming both numbers; 3 on 3 is accepted', () => {
    assert.throws(
      () => refuseTooFewBrokers(1, 2),
      refusal('KAFKA_REPLICATION_FACTOR 2 needs at least 2 brokers', 'the cluster has 1 broker:'),
    );
    refuseTooFewBrokers(3, 3);
  });

  it('a topic with a partition below the factor is under-replicated, with its fewest replicas', () => {
    const topics = [metadata('full', [3, 3]), metadata('one-short', [3, 2, 3]), metadata('single', [1])];
    assert.deepEqual(underReplicatedTopics(topics, 3), [
      { topic: 'one-short', replicas: 2 },
      { topic: 'single', replicas: 1 },
    ]);
    assert.deepEqual(underReplicatedTopics(topics, 1), []);
  });
});

describe('replication against the real broker', () => {
  const prefix = testTopicPrefix();
  let admin: Admin;
  let brokers: number;
  before(async () => {
    admin = createKafka({
      clientId: 'test-replication',
      brokers: TEST_KAFKA_BROKERS,
      logger: silent,
    }).admin();
    await admin.connect();
    brokers = (await admin.describeCluster()).brokers.length;
  });
  after(async () => {
    await admin?.disconnect();
    await deleteTestTopics(prefix);
  });

  it('a factor one above the brokers the cluster has is refused, naming both numbers', async () => {
    await assert.rejects(
      checkBrokerCount(admin, brokers + 1),
      refusal(
        `KAFKA_REPLICATION_FACTOR ${brokers + 1} needs at least ${brokers + 1} brokers`,
        `has ${brokers} broker`,
      ),
    );
    await checkBrokerCount(admin, brokers);
  });

  it('topics are created with the factor and min.insync.replicas as a topic setting', async () => {
    const topic = `${prefix}replicated`;
    await ensureTopics(admin, [topic], 2, undefined, { factor: brokers, minInsync: brokers });
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.deepEqual(
      topics[0]?.partitions.map((p) => p.replicas.length),
      [brokers, brokers],
    );
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['min.insync.replicas'] }],
    });
    const entry = resources[0]?.configEntries[0];
    assert.equal(entry?.configValue, String(brokers));
    assert.equal(entry?.isDefault, false, 'set on the topic, not inherited from the broker');
  });

  it('an existing topic below the configured factor is reported in a warning and a /readyz detail, and /readyz stays 200', async () => {
    const topic = `${prefix}single-replica`;
    await ensureTopics(admin, [topic], 1);
    const { logger, lines } = captureLogger();
    const factor = 2;

    const detail = await reportUnderReplicated(admin, [topic], factor, logger);

    assert.equal(detail, `1 topic(s) have fewer replicas than KAFKA_REPLICATION_FACTOR 2: ${topic} (1)`);
    const warning = lines.find((l) => l.msg === detail);
    assert.equal(warning?.level, 'warn');
    assert.deepEqual(warning?.underReplicated, [{ topic, replicas: 1 }]);
    const readinessDetails = new Map([['kafka', detail]]);
    const app = createHttpApp({
      logger: silent,
      metrics: createMetrics('test'),
      readiness: { kafka: async () => {} },
      readinessDetails,
      routes: () => {},
    });
    const server = await listen(app);
    try {
      const res = await call('GET', `${server.url}/readyz`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: 'ready', checks: { kafka: 'ok' }, details: { kafka: detail } });
    } finally {
      await server.close();
    }
  });

  it('topics with the configured replicas are not reported', async () => {
    const topic = `${prefix}single-replica`;
    const { logger, lines } = captureLogger();
    assert.equal(await reportUnderReplicated(admin, [topic], 1, logger), undefined);
    assert.equal(lines.filter((l) => l.level === 'warn').length, 0);
  });
});
