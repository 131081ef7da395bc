/**
 * What a dead letter carries: the headers the consumer loop writes when it gives a message up
 * (consumer-retries.ts), the headers a replay adds (dlq-replay.ts), and a DLQ message read back
 * as one record for `make dlq`.
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';

export const DLQ_HEADERS = {
  /** invalid_json, invalid_envelope, rejected_by_handler or handler_failed. */
  reason: 'x-dlq-reason',
  /** The last error, `Name: message`, at most 2,000 characters. */
  error: 'x-dlq-error',
  /** Where the message was read: `<topic>/<partition>/<offset>`. */
  source: 'x-dlq-source',
  /** Attempts made (handler failures only). */
  attempts: 'x-dlq-attempts',
  /** The consumer group that gave up: which service failed (a topic may have several consumers). */
  group: 'x-dlq-group',
} as const;

export const REPLAY_HEADERS = {
  /** The dead letter this message is a replay of: `<dlq topic>/<partition>/<offset>`. */
  from: 'x-replayed-from',
  /** How many times this message has been replayed from a DLQ (1 on the first replay). */
  count: 'x-replay-count',
} as const;

export interface Replay {
  from: string;
  count: number;
}

export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** The replay a consumed message is, or undefined for an ordinary message. */
export function replayOf(message: Pick<KafkaMessage, 'headers'>): Replay | undefined {
  const from = headerText(message.headers, REPLAY_HEADERS.from);
  if (from === undefined) return undefined;
  return { from, count: Number(headerText(message.headers, REPLAY_HEADERS.count) ?? 1) || 1 };
}

/** The replay headers of a message, to keep on its DLQ copy when a replay fails again. */
export function replayHeaders(message: Pick<KafkaMessage, 'headers'>): Record<string, string> {
  const replay = replayOf(message);
  return replay ? { [REPLAY_HEADERS.from]: replay.from, [REPLAY_HEADERS.count]: String(replay.count) } : {};
}

/** One message of a DLQ topic, as `make dlq` shows it. */
export interface DeadLetter {
  dlqTopic: string;
  partition: number;
  offset: string;
  /** When it was dead-lettered (the DLQ message's timestamp). */
  at: Date;
  reason: string;
  error: string;
  attempts?: number;
  group?: string;
  source?: string;
  /** Times it was replayed before it came back (0: never). */
  replays: number;
  /** The envelope's, when the value is one. */
  eventId?: string;
  correlationId?: string;
  /** The envelope's data.orderId, else the message key (the services key by order id). */
  orderId?: string;
  key: Buffer | null;
  value: Buffer | null;
}

export function toDeadLetter(dlqTopic: string, partition: number, message: KafkaMessage): DeadLetter {
  const h = message.headers;
  const attempts = headerText(h, DLQ_HEADERS.attempts);
  const envelope = envelopeFields(message.value);
  return {
    dlqTopic,
    partition,
    offset: message.offset,
    at: new Date(Number(message.timestamp)),
    reason: headerText(h, DLQ_HEADERS.reason) ?? 'unknown',
    error: headerText(h, DLQ_HEADERS.error) ?? '',
    attempts: attempts === undefined ? undefined : Number(attempts),
    group: headerText(h, DLQ_HEADERS.group),
    source: headerText(h, DLQ_HEADERS.source),
    replays: replayOf(message)?.count ?? 0,
    ...envelope,
    orderId: envelope.orderId ?? message.key?.toString('utf8'),
    key: message.key,
    value: message.value,
  };
}

/** The fields of an envelope a dead letter is found by; whatever of them the value holds. */
export function envelopeFields(
  value: Buffer | null,
): Pick<DeadLetter, 'eventId' | 'correlationId' | 'orderId'> {
  try {
    const json = JSON.parse(value?.toString('utf8') ?? '') as Record<string, unknown>;
    const data = (json.data ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
    return {
      eventId: text(json.eventId),
      correlationId: text(json.correlationId),
      orderId: text(data.orderId),
    };
  } catch {
    return {};
  }
}
