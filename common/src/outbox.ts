import { randomUUID } from 'node:crypto';
import { Gauge } from 'prom-client';
import type { Producer } from 'kafkajs';
import type { Knex } from 'knex';
import { currentCorrelationId } from './context.js';
import { envelopeSchema, topicName, type Envelope, type EventData, type EventType } from './events.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface NewEvent<T extends EventType> {
  type: T;
  /** The order id: Kafka's message key, so one order's events keep their order. */
  key: string | number;
  data: EventData<T>;
}

/** Writes the event inside the caller's transaction: it is published if and only if that commits. */
export async function enqueueEvent<T extends EventType>(
  trx: Knex.Transaction,
  event: NewEvent<T>,
): Promise<Envelope<T>> {
  const envelope = envelopeSchema(event.type).parse({
    eventId: randomUUID(),
    type: event.type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: currentCorrelationId() ?? randomUUID(),
    data: event.data,
  }) as Envelope<T>;
  // Plain SQL on the hot path: knex's builder costs about as much CPU as the round trip itself.
  await trx.raw('INSERT INTO outbox (event_id, topic, message_key, payload) VALUES (?, ?, ?, ?)', [
    envelope.eventId,
    event.type,
    String(event.key),
    JSON.stringify(envelope),
  ]);
  return envelope;
}

interface OutboxRow {
  id: number;
  topic: string;
  message_key: string;
  payload: string;
}

export interface OutboxRelayOptions {
  db: Knex;
  producer: Producer;
  logger: Logger;
  metrics: Metrics;
  topicPrefix: string;
  batchSize?: number;
  /** Fallback poll for rows written by another process; in-process commits call notify(). */
  pollIntervalMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /** Wake the relay now (call after committing a transaction that enqueued events). */
  notify(): void;
  /** Publish what is pending, once; returns how many rows were published. */
  publishPending(): Promise<number>;
  stop(): Promise<void>;
}

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, producer, metrics, topicPrefix, batchSize = 200, pollIntervalMs = 500 } = options;
  const log = options.logger.child({ module: 'outbox-relay' });
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let pendingWake = false;
  let failures = 0;

  new Gauge({
    name: 'outbox_backlog',
    help: 'Outbox rows not yet published',
    registers: [metrics.registry],
    async collect() {
      // A database that is down must not take /metrics down with it (/readyz says why): the
      // gauge keeps its last value until the count works again.
      const row = (await db('outbox')
        .whereNull('published_at')
        .count({ n: '*' })
        .first()
        .catch(() => 'unavailable' as const)) as { n: number } | undefined | 'unavailable';
      if (row !== 'unavailable') this.set(Number(row?.n ?? 0));
    },
  });

  async function publishBatch(): Promise<number> {
    // READ COMMITTED (every connection's level, see db.ts): no gap locks, so writers adding
    // outbox rows are never blocked by the relay.
    return db.transaction(async (trx) => {
      const [rows] = (await trx.raw(
        `SELECT id, topic, message_key, payload FROM outbox WHERE published_at IS NULL
         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [batchSize],
      )) as [OutboxRow[]];
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const row of rows) {
        const topic = topicName(topicPrefix, row.topic);
        const list = byTopic.get(topic) ?? [];
        list.push({ key: row.message_key, value: row.payload });
        byTopic.set(topic, list);
      }
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      await trx.raw('UPDATE outbox SET published_at = NOW(3) WHERE id IN (?)', [rows.map((r) => r.id)]);
      for (const [topic, messages] of byTopic) metrics.eventsPublished.inc({ topic }, messages.length);
      return rows.length;
    });
  }

  async function publishPending(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await publishBatch();
      total += n;
      if (n < batchSize) return total;
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function run(): Promise<void> {
    while (running) {
      pendingWake = false;
      try {
        await publishPending();
        if (failures > 0) log.info({ failures }, 'outbox relay recovered');
        failures = 0;
      } catch (err) {
        failures += 1;
        // Kafka or the database is down: keep the rows, back off, try again.
        if (failures === 1 || failures % 20 === 0)
          log.warn({ err, failures }, 'outbox publish failed; will retry');
      }
      if (!running) break;
      if (pendingWake && failures === 0) continue;
      await sleep(failures > 0 ? Math.min(5_000, 250 * 2 ** Math.min(failures, 5)) : pollIntervalMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    notify() {
      pendingWake = true;
      if (failures === 0) wake?.();
    },
    publishPending,
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
