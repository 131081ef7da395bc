/** Test helpers of inventory-service (the same as order-service's: see the note there). */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import {
  topicName,
  type Db,
  type Envelope,
  type EventData,
  type EventType,
  type Producer,
} from '@delivery/common';

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('../../migrations/inventory', import.meta.url));

export function envelope<T extends EventType>(
  type: T,
  data: EventData<T>,
  correlationId = randomUUID(),
): Envelope<T> {
  return {
    eventId: randomUUID(),
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId,
    data,
  } as Envelope<T>;
}

/** Publishes raw values (strings are sent as they are) keyed like the services key them. */
export async function publish(
  producer: Producer,
  prefix: string,
  type: EventType,
  key: string | number,
  values: unknown[],
) {
  await producer.send({
    topic: topicName(prefix, type),
    messages: values.map((v) => ({ key: String(key), value: typeof v === 'string' ? v : JSON.stringify(v) })),
  });
}

export interface SeenMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** Reads every message of `topic` from the beginning with a throwaway consumer group. */
export async function readTopic(kafka: Kafka, prefix: string, topic: string) {
  const seen: SeenMessage[] = [];
  const consumer = kafka.consumer({ groupId: `${prefix}reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
      );
      seen.push({ key: String(message.key), value: String(message.value), headers });
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export interface ErrorBody {
  error: { code: string; message: string; details?: { path: string; message: string }[] };
}

export async function countRows(db: Db, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = (await db(table).count({ n: '*' }).first()) as { n: number | string };
    counts[table] = Number(row.n);
  }
  return counts;
}
