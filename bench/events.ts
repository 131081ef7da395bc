import { TOPICS, createKafka, topicName, createLogger, type Db, type EventType } from '@delivery/common';
import type { Consumer } from 'kafkajs';
import { KAFKA_BROKERS, TOPIC_PREFIX } from './system.js';
import { nowMs } from './stats.js';

/** An event of an order as its service wrote it (occurredAt, set inside the transaction). */
export interface Written {
  eventId: string;
  occurredAt: number;
}

/** One event of an order as the bench saw it: when the service wrote it and when it reached us. */
export interface Seen extends Written {
  receivedAt: number;
}

export interface OrderEvents {
  /** Read from order-service's outbox after the run (readWritten), not consumed. */
  created?: Written;
  inventory?: Seen & { status: 'RESERVED' | 'REJECTED' };
  /** Read from order-service's outbox after the run (readWritten), not consumed. */
  confirmed?: Written;
  dispatched?: Seen & { vehicleNumber: string };
  /** Deliveries of order.dispatched: more than one is an at-least-once duplicate. */
  dispatchedCount: number;
}

export interface EventTap {
  /** Resolves once the bench's consumer group has joined: POSTs may start. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Adds order.created and order.confirmed of the orders from order-service's outbox, where they
   * were written: the two events nothing waits for live are read once, after the run.
   */
  readWritten(orders: Db, orderIds: readonly number[]): Promise<void>;
  /** Resolves once the order's order.dispatched has reached the bench (at once if it has). */
  waitDispatched(orderId: number): Promise<Seen & { vehicleNumber: string }>;
  readonly byOrder: Map<number, OrderEvents>;
}

interface Envelope {
  eventId: string;
  type: EventType;
  occurredAt: string;
  data: { orderId: number; status?: 'RESERVED' | 'REJECTED'; vehicleNumber?: string };
}

/**
 * Consumes the two topics whose arrival the bench acts on — order.dispatched (the outcome, and
 * the release's cue) and order.inventory.updated (a rejection is an outcome too) — in a consumer
 * group of the bench's own, from the offsets the topics had when the run began, and records when
 * each order's events were written (occurredAt) and received. Latency is measured from these
 * events and from the times the services recorded, never by polling. Consuming all four topics
 * cost the bench (and the broker) a fetch per event at low rates, on the machine it measures.
 */
export function createEventTap(
  run: string,
  onEvent: (orderId: number, type: EventType, event: OrderEvents) => void,
): EventTap {
  const logger = createLogger({ service: 'bench', level: 'warn' });
  const kafka = createKafka({ clientId: `bench-${run}`, brokers: KAFKA_BROKERS, logger });
  const groupId = `bench-${run}`;
  const topics = [TOPICS.orderInventoryUpdated, TOPICS.orderDispatched].map((t) =>
    topicName(TOPIC_PREFIX, t),
  );
  const byOrder = new Map<number, OrderEvents>();
  const waiters = new Map<number, (e: NonNullable<OrderEvents['dispatched']>) => void>();
  let consumer: Consumer | undefined;

  function record(value: Buffer | null, receivedAt: number) {
    if (!value) return;
    const env = JSON.parse(value.toString('utf8')) as Envelope;
    const orderId = env.data.orderId;
    const seen: Seen = { eventId: env.eventId, occurredAt: Date.parse(env.occurredAt), receivedAt };
    const o = byOrder.get(orderId) ?? { dispatchedCount: 0 };
    byOrder.set(orderId, o);
    if (env.type === 'order.inventory.updated') o.inventory ??= { ...seen, status: env.data.status! };
    else if (env.type === 'order.dispatched') {
      o.dispatchedCount += 1;
      o.dispatched ??= { ...seen, vehicleNumber: env.data.vehicleNumber! };
      waiters.get(orderId)?.(o.dispatched);
      waiters.delete(orderId);
    }
    onEvent(orderId, env.type, o);
  }

  return {
    byOrder,
    waitDispatched: (orderId) =>
      new Promise((resolve) => {
        const seen = byOrder.get(orderId)?.dispatched;
        if (seen) resolve(seen);
        else waiters.set(orderId, resolve);
      }),
    async readWritten(orders, orderIds) {
      for (let i = 0; i < orderIds.length; i += 1_000) {
        const keys = orderIds.slice(i, i + 1_000).map(String);
        const rows = (await orders('outbox')
          .whereIn('topic', [TOPICS.orderCreated, TOPICS.orderConfirmed])
          .whereIn('message_key', keys)
          .select('topic', 'message_key', 'payload')) as {
          topic: string;
          message_key: string;
          payload: string;
        }[];
        for (const row of rows) {
          const env = JSON.parse(row.payload) as Envelope;
          const o = byOrder.get(Number(row.message_key)) ?? { dispatchedCount: 0 };
          byOrder.set(Number(row.message_key), o);
          const written = { eventId: env.eventId, occurredAt: Date.parse(env.occurredAt) };
          if (row.topic === TOPICS.orderCreated) o.created ??= written;
          else o.confirmed ??= written;
        }
      }
    },
    async start() {
      // Start at the current end of each topic: history of earlier runs is not read.
      const admin = kafka.admin();
      await admin.connect();
      for (const topic of topics) {
        const offsets = await admin.fetchTopicOffsets(topic);
        await admin.setOffsets({
          groupId,
          topic,
          partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })),
        });
      }
      await admin.disconnect();
      consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30_000 });
      const joined = new Promise<void>((resolve) =>
        consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()),
      );
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: false });
      await consumer.run({
        // The bench never resumes from the group's offsets: committing them would only load the broker.
        autoCommit: false,
        partitionsConsumedConcurrently: 8,
        eachBatch: async ({ batch }) => {
          const receivedAt = nowMs();
          for (const m of batch.messages) record(m.value, receivedAt);
        },
      });
      await joined;
    },
    async stop() {
      await consumer?.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
