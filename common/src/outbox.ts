import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { currentCorrelationId } from './context.js';
import { envelopeSchema, type Envelope, type EventData, type EventType } from './events.js';

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
