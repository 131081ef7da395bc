import { randomUUID } from 'node:crypto';
import {
  createConsumerLoop,
  createKafka,
  createLogger,
  createMetrics,
  createProducer,
  ensureTopics,
  onEvent,
  type Envelope,
} from '@delivery/common';
import { KAFKA_BROKERS } from './system.js';

/** An order.created envelope as order-service writes it, for message i of a scratch run. */
export function scratchEnvelope(i: number): { eventId: string; value: string } {
  const eventId = randomUUID();
  const value = JSON.stringify({
    eventId,
    type: 'order.created',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: randomUUID(),
    data: {
      orderId: i + 1,
      orderNumber: `ORD-${String(i + 1).padStart(6, '0')}`,
      customerId: 1,
      city: 'Bench-limits',
      items: [{ productId: 1, price: '9.99', quantity: 1 }],
      totalAmount: '9.99',
    },
  });
  return { eventId, value };
}

/**
 * A scratch order.created topic (`partitions`, default 6, as the services' topics) under `prefix`, the project's own producer, and
 * the project's own consumer loop on it calling `handle` — the services' handler minus its
 * database work. Resolves once the loop's group has joined; close() removes topic and group.
 */
export async function scratchKafka(
  clientId: string,
  prefix: string,
  handle: (event: Envelope<'order.created'>) => void,
  partitions = 6,
) {
  const logger = createLogger({ service: clientId, level: 'warn' });
  const topic = `${prefix}order.created`;
  const groupId = `${prefix}scratch`;
  const kafka = createKafka({ clientId, brokers: KAFKA_BROKERS, logger });
  const admin = kafka.admin();
  const producer = createProducer(kafka);
  await admin.connect();
  await ensureTopics(admin, [topic], partitions);
  await producer.connect();
  const loop = createConsumerLoop({
    kafka,
    producer,
    groupId,
    topicPrefix: prefix,
    logger,
    metrics: createMetrics(clientId),
    handlers: [onEvent('order.created', async (event) => handle(event))],
  });
  const joined = new Promise<void>((resolve) =>
    loop.consumer.on(loop.consumer.events.GROUP_JOIN, () => resolve()),
  );
  const close = async () => {
    await loop.stop();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  };
  try {
    await loop.start();
    await joined;
  } catch (err) {
    await close();
    throw err;
  }
  return { producer, topic, close };
}
