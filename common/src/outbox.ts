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
  /** The flow the event belongs to; defaults to the current one (the request's or the event's). */
  correlationId?: string;
}

/** A row of the outbox as the relay sends it. */
export interface OutboxMessage {
  eventId: string;
  type: string;
  key: string;
  payload: string;
}

/**
 * What a transaction wrote to the outbox. Once that transaction has committed, the caller hands
 * it to `relay.notify(...)` and the relay sends the messages without reading the rows back.
 */
export interface Enqueued<T extends EventType = EventType> {
  /** The events as consumers will see them, in the order they were given. */
  envelopes: Envelope<T>[];
  /** The rows written, ready to send. */
  messages: OutboxMessage[];
}

/** Writes the events inside the caller's transaction, in one multi-row INSERT: they are published if and only if it commits. */
export async function enqueueEvents<T extends EventType>(
  trx: Knex.Transaction,
  events: readonly NewEvent<T>[],
): Promise<Enqueued<T>> {
  if (events.length === 0) return { envelopes: [], messages: [] };
  const occurredAt = new Date().toISOString();
  const envelopes = events.map(
    (event) =>
      envelopeSchema(event.type).parse({
        eventId: randomUUID(),
        type: event.type,
        version: 1,
        occurredAt,
        correlationId: event.correlationId ?? currentCorrelationId() ?? randomUUID(),
        data: event.data,
      }) as Envelope<T>,
  );
  const messages = envelopes.map((envelope, i) => ({
    eventId: envelope.eventId,
    type: envelope.type,
    key: String(events[i]!.key),
    payload: JSON.stringify(envelope),
  }));
  // Plain SQL on the hot path: knex's builder costs about as much CPU as the round trip itself.
  await trx.raw(
    `INSERT INTO outbox (event_id, topic, message_key, payload) VALUES ${messages.map(() => '(?, ?, ?, ?)').join(', ')}`,
    messages.flatMap((m) => [m.eventId, m.type, m.key, m.payload]),
  );
  return { envelopes, messages };
}

interface OutboxRow {
  id: number;
  event_id: string;
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
  /** How often the table is read for rows no process handed over (written by a process that died). */
  pollIntervalMs?: number;
  /** A polled row must be this old: younger ones are still on their way through a process's fast path. */
  orphanAfterMs?: number;
  /**
   * Rows sent by the fast path are marked published together, at most this long after the broker
   * acknowledged them (with the time it did): one UPDATE for many rounds. Must stay well below
   * orphanAfterMs, or the poll would send them again.
   */
  markEveryMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /**
   * Call after committing a transaction that enqueued events. Given what enqueueEvents returned,
   * the relay sends it at once from memory; without, it reads the table now.
   */
  notify(committed?: Enqueued): void;
  /** Publish every pending row of the table, once; returns how many rows were published. */
  publishPending(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Publishes the outbox. Fast path: a committing caller hands over what it wrote and the relay
 * sends it straight away, together with whatever else was handed over meanwhile (one produce
 * request per round, however many events); the rows are marked published in one UPDATE for all
 * rounds of the last `markEveryMs` (an event costs its table no statement of its own).
 * Safety net: every `pollIntervalMs` the table is read for rows older than `orphanAfterMs` that
 * are still unpublished (a crash between commit and send, a failed send, another process's rows).
 * A row can be sent twice (fast path and a poll racing); consumers are idempotent. Nothing is
 * ever marked published before the broker acknowledged it.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, producer, metrics, topicPrefix, batchSize = 500, pollIntervalMs = 500 } = options;
  const { orphanAfterMs = 2_000, markEveryMs = 100 } = options;
  const log = options.logger.child({ module: 'outbox-relay' });
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let fresh: OutboxMessage[] = [];
  let pollNow = false;
  let lastPoll = 0;
  let failures = 0;
  /** Fast-path rows the broker acknowledged and the table does not say yet, by acknowledgement. */
  let acked: { at: Date; eventIds: string[] }[] = [];
  let ackedRows = 0;

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

  async function send(messages: readonly OutboxMessage[]): Promise<void> {
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of messages) {
      const topic = topicName(topicPrefix, m.type);
      const list = byTopic.get(topic) ?? [];
      list.push({ key: m.key, value: m.payload });
      byTopic.set(topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
    for (const [topic, list] of byTopic) metrics.eventsPublished.inc({ topic }, list.length);
  }

  /** Fast path: what committing callers handed over, sent now; marked by markAcked later. */
  async function publishFresh(): Promise<void> {
    const messages = fresh.splice(0, batchSize);
    try {
      await send(messages);
    } catch (err) {
      // The rows stay unpublished in the table: the poll takes them once the broker is back.
      fresh = [];
      throw err;
    }
    acked.push({ at: new Date(), eventIds: messages.map((m) => m.eventId) });
    ackedRows += messages.length;
  }

  /**
   * Marks the acknowledged fast-path rows published, each with the time the broker acknowledged
   * it, in one statement. Until then a row is simply not yet marked: a crash here means it is
   * sent again by the next poll (consumers are idempotent), never that it is lost.
   */
  async function markAcked(): Promise<void> {
    if (acked.length === 0) return;
    const groups = acked;
    acked = [];
    ackedRows = 0;
    try {
      await db.raw(
        `UPDATE outbox SET published_at = CASE ${groups.map(() => 'WHEN event_id IN (?) THEN ?').join(' ')} END
         WHERE event_id IN (?) AND published_at IS NULL`,
        [...groups.flatMap((g) => [g.eventIds, g.at]), groups.flatMap((g) => g.eventIds)],
      );
    } catch (err) {
      acked = [...groups, ...acked];
      ackedRows = acked.reduce((n, g) => n + g.eventIds.length, 0);
      throw err;
    }
  }

  /** When the oldest acknowledged row must be marked by (Infinity: none waits). */
  const markDue = () => (acked.length === 0 ? Infinity : acked[0]!.at.getTime() + markEveryMs);

  /** Safety net: rows nobody handed over (or that failed), oldest first, locked while sent. */
  /** Unpublished rows at least `minAgeMs` old, oldest first: the poll's filter. */
  const pending = (minAgeMs: number) => ({
    where: `published_at IS NULL ${minAgeMs > 0 ? 'AND created_at < NOW(3) - INTERVAL ? MICROSECOND' : ''}`,
    bindings: minAgeMs > 0 ? [minAgeMs * 1_000] : [],
  });

  async function publishBatch(minAgeMs: number): Promise<number> {
    const { where, bindings } = pending(minAgeMs);
    // With the fast path there is almost never an orphan: one plain read says so, instead of a
    // locking transaction (three statements) every poll of every service.
    const [probe] = (await db.raw(`SELECT 1 FROM outbox WHERE ${where} LIMIT 1`, bindings)) as [unknown[]];
    if (probe.length === 0) return 0;
    // READ COMMITTED (every connection's level, see db.ts): no gap locks, so writers adding
    // outbox rows are never blocked by the relay.
    return db.transaction(async (trx) => {
      const [rows] = (await trx.raw(
        `SELECT id, event_id, topic, message_key, payload FROM outbox WHERE ${where}
         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [...bindings, batchSize],
      )) as [OutboxRow[]];
      if (rows.length === 0) return 0;
      await send(
        rows.map((r) => ({ eventId: r.event_id, type: r.topic, key: r.message_key, payload: r.payload })),
      );
      await trx.raw('UPDATE outbox SET published_at = NOW(3) WHERE id IN (?)', [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  async function poll(minAgeMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await publishBatch(minAgeMs);
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

  async function round(): Promise<void> {
    if (fresh.length > 0) await publishFresh();
    const polling = pollNow || failures > 0 || Date.now() - lastPoll >= pollIntervalMs;
    // Before any poll: a row sent but not yet marked must not look like an orphan (a send that
    // took longer than orphanAfterMs).
    if (polling || ackedRows >= batchSize || Date.now() >= markDue()) await markAcked();
    if (!polling) return;
    const explicit = pollNow;
    pollNow = false;
    lastPoll = Date.now();
    // After a failure our own fast-path rows were dropped to the table: take them at any age.
    await poll(explicit || failures > 0 ? 0 : orphanAfterMs);
  }

  async function run(): Promise<void> {
    while (running) {
      try {
        await round();
        if (failures > 0) log.info({ failures }, 'outbox relay recovered');
        failures = 0;
      } catch (err) {
        failures += 1;
        // Kafka or the database is down: keep the rows, back off, try again.
        if (failures === 1 || failures % 20 === 0)
          log.warn({ err, failures }, 'outbox publish failed; will retry');
      }
      if (!running) break;
      if (failures > 0) await sleep(Math.min(5_000, 250 * 2 ** Math.min(failures, 5)));
      else if (fresh.length === 0 && !pollNow)
        await sleep(Math.max(1, Math.min(lastPoll + pollIntervalMs, markDue()) - Date.now()));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      lastPoll = Date.now();
      loop = run();
    },
    notify(committed) {
      if (committed === undefined) pollNow = true;
      else for (const message of committed.messages) fresh.push(message);
      // While the broker is down the backoff decides; the poll will take the rows.
      if (failures > 0) {
        fresh = [];
        return;
      }
      wake?.();
    },
    publishPending: () => poll(0),
    async stop() {
      running = false;
      wake?.();
      await loop;
      // Send what was handed over; if that fails the rows wait in the table for the next poll.
      while (fresh.length > 0 && failures === 0) await publishFresh().catch(() => (failures += 1));
      await markAcked().catch((err: unknown) =>
        log.warn({ err }, 'could not mark sent outbox rows published; the next poll sends them again'),
      );
    },
  };
}
