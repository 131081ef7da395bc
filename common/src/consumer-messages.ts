/** One fetched message as the parts of the consumer loop see it (not exported from the package). */
import type { KafkaMessage } from 'kafkajs';
import type { EventHandler } from './event-handlers.js';
import { envelopeSchema, type Envelope, type EventType } from './events.js';

/** One message being handled: where it came from, and how to tell the coordinator we are alive. */
export interface Delivery {
  topic: string;
  partition: number;
  message: KafkaMessage;
  heartbeat(): Promise<void>;
}

/** Thrown when the loop stops while a message is still being retried: it is left uncommitted. */
export class Stopping extends Error {}

export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

type Parsed =
  | { ok: true; event: Envelope<EventType> }
  | { ok: false; reason: 'invalid_json' | 'invalid_envelope'; error: string };

/** JSON, then the shared envelope schema of the handler's event type. */
export function parseEvent(handler: EventHandler, message: KafkaMessage): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch (err) {
    return { ok: false, reason: 'invalid_json', error: describe(err) };
  }
  const parsed = envelopeSchema(handler.type).safeParse(json);
  if (!parsed.success)
    return { ok: false, reason: 'invalid_envelope', error: JSON.stringify(parsed.error.issues) };
  return { ok: true, event: parsed.data as Envelope<EventType> };
}
