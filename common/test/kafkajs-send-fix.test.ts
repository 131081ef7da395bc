import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { kafkaSendFixApplied } from '@delivery/common';

/**
 * KafkaJS's own send function (patched by common/src/kafkajs-send-fix.ts when @delivery/common
 * loads) driven against two brokers held in this process, so the leader move that loses messages
 * in a real cluster (test/cluster shows it there) happens here on cue: partition 1's leader,
 * broker 2, answers "not the leader", and the metadata then names broker 1, which has already
 * written partition 0. Unpatched, the retry skips broker 1 and the send resolves without
 * partition 1's message ever being sent (tulios/kafkajs#1303).
 */
const require = createRequire(import.meta.url);
type Send = (args: unknown) => Promise<{ topicName: string; partition: number }[]>;
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (deps: unknown) => Send;
const createRetry = require('kafkajs/src/retry/index.js') as (opts: unknown) => unknown;
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error;
};
const NOT_LEADER_FOR_PARTITION = 6;

interface Produced {
  broker: number;
  partitions: { partition: number; messages: { value: string }[] }[];
}

function twoBrokers() {
  const produced: Produced[] = [];
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  let failNext = true;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: { topicData: { topic: string; partitions: Produced['partitions'] }[] }) {
      if (nodeId === 2 && failNext) {
        failNext = false;
        throw createErrorFromCode(NOT_LEADER_FOR_PARTITION);
      }
      produced.push({ broker: nodeId, partitions: topicData[0]!.partitions });
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    refreshMetadataIfNecessary: async () => undefined,
    // The new metadata: broker 2 gave up partition 1 to broker 1.
    refreshMetadata: async () => {
      leaders[1] = 1;
    },
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () =>
      [0, 1].map((partitionId) => ({ partitionId, leader: leaders[partitionId] })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const byLeader: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) (byLeader[leaders[p]!] ??= []).push(p);
      return byLeader;
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers.get(Number(nodeId))!,
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getTransactionalId: () => undefined,
  };
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const send = createSendMessages({
    logger: silent,
    cluster,
    eosManager,
    retrier: createRetry({ initialRetryTime: 1, retries: 3 }),
    // Each message names its partition.
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
  });
  return { send, produced };
}

describe('KafkaJS send after a leader move (common/src/kafkajs-send-fix.ts)', () => {
  it('is patched before any producer exists', () => {
    assert.equal(kafkaSendFixApplied(), true);
  });

  it('a retry sends every message again, also to a broker that had already answered', async () => {
    const { send, produced } = twoBrokers();
    await send({
      acks: -1,
      timeout: 1_000,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: 'a', value: 'to partition 0', partition: 0 },
            { key: 'b', value: 'to partition 1', partition: 1 },
          ],
        },
      ],
    });
    const sent = produced.flatMap((p) => p.partitions.flatMap((x) => x.messages.map((m) => m.value)));
    assert.ok(sent.includes('to partition 1'), `partition 1's message was sent (sent: ${sent.join(', ')})`);
    assert.ok(sent.includes('to partition 0'));
  });
});
