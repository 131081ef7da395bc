import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  allTopics,
  createKafka,
  createMetrics,
  createOutboxRelay,
  createProducer,
  ensureTopics,
  envelopeSchema,
  topicName,
  type Producer,
} from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  call,
  listen,
  readTopic,
  waitFor,
  type TestRuntime,
} from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import type { Order } from '../src/orders/orders-repository.js';
import { createOrderRuntime } from './support.js';

describe('POST /orders while Kafka is unreachable', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    // Nothing listens on port 1: every connection to "Kafka" is refused.
    rt = await createOrderRuntime({ config: { KAFKA_BROKERS: ['127.0.0.1:1'] } });
    rt.relay.start();
    server = await listen(createApp(rt));
  });
  after(async () => {
    await server?.close();
    await rt?.relay.stop();
    await rt?.close();
  });

  it('answers 201 and keeps order.created in the outbox; once Kafka is back the event is published', async () => {
    const res = await call<Order>('POST', `${server.url}/orders`, {
      customerId: 3,
      city: 'Jaffna',
      items: [{ productId: 9, price: 5, quantity: 1 }],
    });
    assert.equal(res.status, 201);
    const order = res.body;
    await waitFor(() => rt.lines.some((l) => l.msg === 'outbox publish failed; will retry'), {
      what: 'the relay to fail',
    });
    const [pending] = await rt.db('outbox').where({ message_key: String(order.id) });
    assert.equal(pending.published_at, null, 'the event waits in the outbox');

    // Kafka is back: a relay on the same database, with a producer that reaches the broker.
    const prefix = rt.config.KAFKA_TOPIC_PREFIX;
    const logger = rt.logger;
    const kafka = createKafka({ clientId: 'order-service-recovered', brokers: TEST_KAFKA_BROKERS, logger });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, allTopics(prefix), 1);
    } finally {
      await admin.disconnect();
    }
    const producer: Producer = createProducer(kafka);
    await producer.connect();
    const relay = createOutboxRelay({
      db: rt.db,
      producer,
      logger,
      metrics: createMetrics('recovered'),
      topicPrefix: prefix,
    });
    const reader = await readTopic(kafka, prefix, topicName(prefix, 'order.created'));
    try {
      relay.start();
      await waitFor(() => reader.seen.length >= 1, { what: 'order.created on the topic' });
      assert.equal(reader.seen.length, 1);
      assert.equal(reader.seen[0]?.key, String(order.id));
      const event = envelopeSchema('order.created').parse(JSON.parse(reader.seen[0]!.value));
      assert.equal(event.data.orderNumber, order.orderNumber);
      assert.equal(event.data.totalAmount, '5.00');
      // The relay marks the row after the broker acknowledged it.
      await waitFor(
        async () =>
          (
            await rt
              .db('outbox')
              .where({ message_key: String(order.id) })
              .whereNotNull('published_at')
          ).length === 1,
        { what: 'the outbox row marked published' },
      );
    } finally {
      await relay.stop();
      await reader.stop();
      await producer.disconnect();
    }
  });
});
