/**
 * The per-message path of the consumer loop: a message is parsed, handled and retried in place
 * with backoff until it succeeds or is given up on; what is given up on goes to `<topic>.dlq`.
 * The rules are those of createConsumerLoop.
 */
import type { Producer } from 'kafkajs';
import { runWithCorrelationId } from './context.js';
import { describe, parseEvent, Stopping, type Delivery } from './consumer-messages.js';
import { DLQ_HEADERS, replayHeaders, replayOf } from './dead-letters.js';
import { PoisonMessageError, type EventHandler } from './event-handlers.js';
import { dlqTopic, type Envelope, type EventType } from './events.js';
import { failureSignature, isTransientError } from './handler-failures.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** Sends a message to its topic's DLQ, why in its headers; the caller then counts it as done. */
export type SendToDlq = (
  delivery: Delivery,
  reason: string,
  error: string,
  attempts?: number,
) => Promise<void>;

export function dlqSender(producer: Producer, metrics: Metrics, log: Logger, groupId: string): SendToDlq {
  return async function toDlq({ topic, partition, message }, reason, error, attempts) {
    await producer.send({
      topic: dlqTopic(topic),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            [DLQ_HEADERS.reason]: reason,
            [DLQ_HEADERS.error]: error.slice(0, 2_000),
            [DLQ_HEADERS.source]: `${topic}/${partition}/${message.offset}`,
            [DLQ_HEADERS.group]: groupId,
            ...(attempts === undefined ? {} : { [DLQ_HEADERS.attempts]: String(attempts) }),
            // A replay that failed again says so: `make dlq` shows how often it was replayed.
            ...replayHeaders(message),
          },
        },
      ],
    });
    metrics.eventsConsumed.inc({ topic, outcome: 'dlq' });
    const replay = replayOf(message);
    log.warn(
      { topic, partition, offset: message.offset, reason, error, attempts, replay },
      'message sent to DLQ',
    );
  };
}

export interface RetryOptions {
  /** Backoff between attempts at one message: doubles from initialMs up to maxMs. */
  initialMs: number;
  maxMs: number;
  /** Attempts failing the same way, not transiently, after which a message goes to the DLQ. */
  sameFailureLimit: number;
}

export interface MessagePathParts {
  byTopic: ReadonlyMap<string, EventHandler>;
  toDlq: SendToDlq;
  retry: RetryOptions;
  metrics: Metrics;
  log: Logger;
  isStopping(): boolean;
}

/** Handles one message: invalid → DLQ; valid → handled with retry, or to the DLQ when given up on. */
export function messagePath(parts: MessagePathParts): (delivery: Delivery) => Promise<void> {
  const { byTopic, toDlq, metrics } = parts;
  return async function handleMessage(payload) {
    const { topic, message } = payload;
    const handler = byTopic.get(topic);
    if (!handler) return;
    const parsed = parseEvent(handler, message);
    if (!parsed.ok) return toDlq(payload, parsed.reason, parsed.error);
    const { event } = parsed;
    await runWithCorrelationId(event.correlationId, async () => {
      const gaveUp = await handleWithRetry(parts, payload, handler, event);
      if (gaveUp) return toDlq(payload, gaveUp.reason, gaveUp.error, gaveUp.attempts);
      metrics.eventsConsumed.inc({ topic, outcome: 'ok' });
    });
  };
}

/** Why a message is given up on: the reason and error its DLQ copy carries in its headers. */
interface GiveUp {
  reason: 'rejected_by_handler' | 'handler_failed';
  error: string;
  attempts: number;
}

/**
 * Handles one event until it succeeds or is given up on (see createConsumerLoop): gives back
 * why it gave up, for the DLQ. Throws only when the loop is stopping.
 */
async function handleWithRetry(
  { retry, metrics, log, isStopping }: MessagePathParts,
  payload: Delivery,
  handler: EventHandler,
  event: Envelope<EventType>,
): Promise<GiveUp | undefined> {
  const sameFailures = sameFailureCounter();
  // A replay was sent by an operator who thought the cause fixed: when it fails again (other than
  // transiently) it goes straight back to the DLQ for them to look at, rather than holding its
  // key through the whole retry budget once more.
  const limit = replayOf(payload.message) ? 1 : retry.sameFailureLimit;
  for (let attempt = 1; ; attempt++) {
    try {
      await handler.handle(event);
      return undefined;
    } catch (err) {
      if (err instanceof PoisonMessageError)
        return { reason: 'rejected_by_handler', error: describe(err), attempts: attempt };
      if (isStopping()) throw new Stopping('consumer stopping; message left uncommitted');
      const same = sameFailures(err);
      if (same >= limit) return { reason: 'handler_failed', error: describe(err), attempts: same };
      metrics.eventsConsumed.inc({ topic: payload.topic, outcome: 'retried' });
      const delay = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.min(attempt - 1, 10));
      log.warn(
        { err, attempt, transient: same === 0, delay, eventId: event.eventId },
        `handler failed; retrying ${payload.topic}`,
      );
      await new Promise((r) => setTimeout(r, delay));
      // Long retries must not cost us the partition: tell the coordinator we are alive.
      await payload.heartbeat();
    }
  }
}

/**
 * Counts the attempts at one message that failed the same way in a row (failureSignature). A
 * transient failure (isTransientError) counts 0 and breaks the run.
 */
function sameFailureCounter(): (err: unknown) => number {
  let last: string | undefined;
  let run = 0;
  return (err) => {
    if (isTransientError(err)) {
      last = undefined;
      run = 0;
      return 0;
    }
    const signature = failureSignature(err);
    run = signature === last ? run + 1 : 1;
    last = signature;
    return run;
  };
}
