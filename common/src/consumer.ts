import type { Consumer, EachMessagePayload, Kafka, Producer } from 'kafkajs';
import { runWithCorrelationId } from './context.js';
import { dlqTopic, envelopeSchema, topicName, type Envelope, type EventType } from './events.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Thrown by a handler for a message that can never succeed: it goes to the DLQ, not to retry. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export interface EventHandler<T extends EventType = EventType> {
  type: T;
  handle(event: Envelope<T>): Promise<void>;
}

/** Keeps the type of each handler's event tied to its topic. */
export function onEvent<T extends EventType>(
  type: T,
  handle: (event: Envelope<T>) => Promise<void>,
): EventHandler<T> {
  return { type, handle };
}

export interface ConsumerLoopOptions {
  kafka: Kafka;
  /** Used to send poison messages to `<topic>.dlq`. */
  producer: Producer;
  groupId: string;
  topicPrefix: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers of different event types
  handlers: EventHandler<any>[];
  logger: Logger;
  metrics: Metrics;
  partitionsConsumedConcurrently?: number;
  retry?: { initialMs?: number; maxMs?: number };
}

export interface ConsumerLoop {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly consumer: Consumer;
}

class Stopping extends Error {}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The standalone consumer loop of a service. Each message is parsed and validated against the
 * shared envelope schema; an invalid one goes to the DLQ with the reason in its headers and is
 * committed. A handler failure is treated as transient and retried in place with backoff (the
 * partition waits, nothing is skipped) until it succeeds or the loop stops.
 */
export function createConsumerLoop(options: ConsumerLoopOptions): ConsumerLoop {
  const { kafka, producer, groupId, topicPrefix, metrics } = options;
  const { initialMs = 200, maxMs = 5_000 } = options.retry ?? {};
  const log = options.logger.child({ module: 'consumer', groupId });
  const byTopic = new Map(options.handlers.map((h) => [topicName(topicPrefix, h.type), h]));
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    // Fetches return as soon as data arrives; a short idle wait only makes stop() quicker.
    maxWaitTimeInMs: 500,
    retry: { retries: 8, restartOnFailure: async () => true },
  });
  let stopping = false;

  async function toDlq({ topic, partition, message }: EachMessagePayload, reason: string, error: string) {
    await producer.send({
      topic: dlqTopic(topic),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            'x-dlq-reason': reason,
            'x-dlq-error': error.slice(0, 2_000),
            'x-dlq-source': `${topic}/${partition}/${message.offset}`,
          },
        },
      ],
    });
    metrics.eventsConsumed.inc({ topic, outcome: 'dlq' });
    log.warn({ topic, partition, offset: message.offset, reason, error }, 'message sent to DLQ');
  }

  async function handleWithRetry(
    payload: EachMessagePayload,
    handler: EventHandler,
    event: Envelope<EventType>,
  ) {
    for (let attempt = 1; ; attempt++) {
      try {
        await handler.handle(event);
        return;
      } catch (err) {
        if (err instanceof PoisonMessageError) throw err;
        if (stopping) throw new Stopping('consumer stopping; message left uncommitted');
        metrics.eventsConsumed.inc({ topic: payload.topic, outcome: 'retried' });
        const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 10));
        log.warn(
          { err, attempt, delay, eventId: event.eventId },
          `handler failed; retrying ${payload.topic}`,
        );
        await new Promise((r) => setTimeout(r, delay));
        // Long retries must not cost us the partition: tell the coordinator we are alive.
        await payload.heartbeat();
      }
    }
  }

  async function eachMessage(payload: EachMessagePayload): Promise<void> {
    const { topic, message } = payload;
    const handler = byTopic.get(topic);
    if (!handler) return;
    let json: unknown;
    try {
      json = JSON.parse(message.value?.toString('utf8') ?? '');
    } catch (err) {
      return toDlq(payload, 'invalid_json', describe(err));
    }
    const parsed = envelopeSchema(handler.type).safeParse(json);
    if (!parsed.success) {
      return toDlq(payload, 'invalid_envelope', JSON.stringify(parsed.error.issues));
    }
    const event = parsed.data as Envelope<EventType>;
    await runWithCorrelationId(event.correlationId, async () => {
      try {
        await handleWithRetry(payload, handler, event);
        metrics.eventsConsumed.inc({ topic, outcome: 'ok' });
      } catch (err) {
        if (err instanceof PoisonMessageError) return toDlq(payload, 'rejected_by_handler', describe(err));
        throw err;
      }
    });
  }

  return {
    consumer,
    async start() {
      stopping = false;
      await consumer.connect();
      // A new group starts at the beginning: events written before the first start are not skipped.
      await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        eachMessage,
      });
      log.info({ topics: [...byTopic.keys()] }, 'consumer started');
    },
    async stop() {
      stopping = true;
      // disconnect() waits for the in-flight handlers and commits the offsets they resolved.
      await consumer.disconnect();
      log.info('consumer stopped');
    },
  };
}
