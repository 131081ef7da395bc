/**
 * Poison on every consumed topic, on every partition, in the middle of the load: messages that
 * are not JSON, break the schema, carry an unknown version or name something that cannot exist
 * go to `<topic>.dlq` with the reason in their headers, and consumption goes on around them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createKafka, createLogger, dlqTopic, topicName, TOPICS, type EventType } from '@delivery/common';
import { envelope, readTopic, waitFor, type TopicReader } from '@delivery/common/testing';
import { startSystem, type System } from '../support.js';
import { seed } from './flow.js';
import { runScenario } from './scenario.js';

const PARTITIONS = 3;

/**
 * How many services consume each topic (DESIGN.md §1): each consumer group dead-letters the
 * poison it reads, so a message on order.cancelled reaches its DLQ twice.
 */
const CONSUMERS: Record<EventType, number> = {
  'order.created': 1,
  'order.inventory.updated': 1,
  'order.confirmed': 1,
  'order.dispatched': 1,
  'order.delivered': 1,
  'order.cancelled': 2,
};

const placed = (orderId: number, city = 'Colombo') => ({
  orderId,
  orderNumber: `ORD-${orderId}`,
  customerId: 1,
  city,
  items: [{ productId: 901, price: '1.00', quantity: 1 }],
  totalAmount: '1.00',
});

const validData: Record<EventType, () => object> = {
  'order.created': () => placed(990_001),
  'order.confirmed': () => placed(990_002),
  'order.inventory.updated': () => ({ orderId: 990_003, orderNumber: 'ORD-990003', status: 'RESERVED' }),
  'order.dispatched': () => ({
    orderId: 990_004,
    orderNumber: 'ORD-990004',
    vehicleNumber: 'X-1',
    city: 'Colombo',
  }),
  'order.delivered': () => ({ orderId: 990_006, orderNumber: 'ORD-990006', city: 'Colombo' }),
  'order.cancelled': () => ({ orderId: 990_007, orderNumber: 'ORD-990007', city: 'Colombo' }),
};

/** Poison for one topic: [reason the DLQ headers must give, message value]. */
function poisonFor(type: EventType): [string, string | null][] {
  const kinds: [string, string | null][] = [
    ['invalid_json', 'not json {'],
    ['invalid_json', null],
    [
      'invalid_envelope',
      JSON.stringify({ ...envelope(type, validData[type]() as never), data: { orderId: 'abc' } }),
    ],
    ['invalid_envelope', JSON.stringify({ ...envelope(type, validData[type]() as never), version: 2 })],
    [
      'invalid_envelope',
      JSON.stringify({ ...envelope(type, validData[type]() as never), type: 'order.unknown' }),
    ],
  ];
  // Valid envelopes whose content the handler refuses for good: retrying would block the partition.
  if (type === 'order.inventory.updated' || type === 'order.dispatched')
    kinds.push(['rejected_by_handler', JSON.stringify(envelope(type, validData[type]() as never))]);
  // A blank city: the shared envelope schema refuses it (one city definition for every service).
  if (type === 'order.confirmed')
    kinds.push(['invalid_envelope', JSON.stringify(envelope(type, placed(990_005, '   ')))]);
  return kinds;
}

describe('poison messages on every consumed topic, mid-load', () => {
  let system: System;
  const kafka = () =>
    createKafka({
      clientId: 'faults-poison',
      brokers: String(system.services['order-service'].env.KAFKA_BROKERS).split(','),
      logger: createLogger({ service: 'test', level: 'silent' }),
    });

  before(async () => {
    system = await startSystem();
    await seed(system);
  });
  after(() => system?.stop());

  it('each goes to its DLQ with the reason, and every order answered 201 still reaches its final state', async () => {
    const types = Object.values(TOPICS);
    const expected = types
      .map((t) => poisonFor(t).length * PARTITIONS * CONSUMERS[t])
      .reduce((a, b) => a + b, 0);
    const producer = kafka().producer();
    await producer.connect();
    const readers: Record<string, TopicReader> = {};
    try {
      for (const type of types) {
        const dlq = dlqTopic(topicName(system.prefix, type));
        readers[type] = await readTopic(kafka(), system.prefix, dlq);
      }
      await runScenario(system, {
        scenario: 'poison on every topic',
        count: 150,
        perSecond: 30,
        faultAfter: 40,
        holdReleases: true,
        expectedDlq: expected,
        async fault() {
          for (const type of types) {
            const messages = poisonFor(type).flatMap(([, value]) =>
              Array.from({ length: PARTITIONS }, (_, partition) => ({ key: randomUUID(), value, partition })),
            );
            await producer.send({ topic: topicName(system.prefix, type), acks: -1, messages });
          }
        },
      });
    } finally {
      await producer.disconnect();
    }
    try {
      for (const type of types) {
        const want = poisonFor(type)
          .flatMap(([reason]) => Array<string>(PARTITIONS * CONSUMERS[type]).fill(reason))
          .sort();
        const seen = await waitFor(() => readers[type]!.seen.length >= want.length && readers[type]!.seen, {
          what: `${want.length} messages in the DLQ of ${type}`,
        });
        assert.deepEqual(seen.map((m) => m.headers['x-dlq-reason']).sort(), want, type);
        for (const m of seen) {
          assert.match(m.headers['x-dlq-source'] ?? '', new RegExp(`^${system.prefix}${type}/\\d+/\\d+$`));
          assert.ok((m.headers['x-dlq-error'] ?? '').length > 0, 'the error is in the headers');
        }
      }
    } finally {
      await Promise.all(Object.values(readers).map((r) => r.stop()));
    }
  });
});
