/**
 * The batch path of the consumer loop: the valid events of a fetch go to the handler's
 * handleBatch, split in halves around an event that fails. What it leaves undone is handled one
 * message at a time by the caller (consumer-retries.ts).
 */
import type { KafkaMessage } from 'kafkajs';
import { coalesce } from './coalesce.js';
import { parseEvent, Stopping, type Delivery } from './consumer-messages.js';
import type { SendToDlq } from './consumer-retries.js';
import type { EventHandler } from './event-handlers.js';
import type { Envelope, EventType } from './events.js';
import { isTransientError } from './handler-failures.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Slots } from './slots.js';

export type BatchHandler = EventHandler & Pick<Required<EventHandler>, 'handleBatch'>;

/**
 * Parses every message (invalid ones to the DLQ) and hands the valid events to the handler's
 * writer in chunks (applyInHalves). Marks in `done` what it finished.
 */
export type BatchPath = (
  handler: BatchHandler,
  delivery: Omit<Delivery, 'message'>,
  messages: KafkaMessage[],
  done: boolean[],
) => Promise<void>;

export interface BatchPathParts {
  inFlight: Slots;
  /** Most events of one partition's batch given to one handleBatch call. */
  maxBatchSize: number;
  /** Partitions handled side by side: the most one writer combines. */
  partitionsConsumedConcurrently: number;
  toDlq: SendToDlq;
  metrics: Metrics;
  log: Logger;
  isStopping(): boolean;
}

/** A valid event of a fetched batch: its index among the fetched messages, and its key. */
interface BatchItem {
  index: number;
  key: string;
  event: Envelope<EventType>;
}

/** One fetched batch on its way through a batch handler: what is done, and which keys wait. */
interface BatchRun {
  write(events: Envelope<EventType>[]): Promise<void>;
  delivery: Omit<Delivery, 'message'>;
  done: boolean[];
  held: Set<string>;
}

export function batchPath(parts: BatchPathParts): BatchPath {
  const writerFor = batchWriters(parts.inFlight, parts.partitionsConsumedConcurrently);
  return async function handleAsBatch(handler, delivery, messages, done) {
    const valid: BatchItem[] = [];
    for (const [index, message] of messages.entries()) {
      const event = parseEvent(handler, message);
      if (event.ok) valid.push({ index, key: message.key?.toString('utf8') ?? '', event: event.event });
      else {
        await parts.toDlq({ ...delivery, message }, event.reason, event.error);
        done[index] = true;
      }
    }
    const run: BatchRun = { write: writerFor(handler), delivery, done, held: new Set() };
    for (let start = 0; start < valid.length; start += parts.maxBatchSize) {
      const chunk = valid.slice(start, start + parts.maxBatchSize);
      if (!(await applyInHalves(parts, run, chunk))) return;
    }
  };
}

/**
 * One writer per batch handler: the partitions of one fetch are handed over side by side
 * (partitionsConsumedConcurrently), and those arriving while a batch is being applied are
 * applied together in the next one. Each partition's events stay in offset order, and one
 * order's events are all in one partition, so per-order order holds.
 */
function batchWriters(inFlight: Slots, maxBatch: number) {
  const writers = new Map<EventHandler, (events: Envelope<EventType>[]) => Promise<void>>();
  return function writerFor(handler: BatchHandler) {
    let writer = writers.get(handler);
    if (!writer) {
      const combined = coalesce(
        async (parts: Envelope<EventType>[][]) => {
          await inFlight.acquire();
          try {
            await handler.handleBatch(parts.flat());
          } finally {
            inFlight.release();
          }
          return parts.map(() => undefined);
        },
        {
          concurrency: 1,
          maxBatch,
          // Partitions failing together because of one of them: each is tried alone. A dependency
          // that is down fails them all at once instead.
          retryAlone: (err) => !isTransientError(err),
        },
      );
      writer = (events) => combined(events);
      writers.set(handler, writer);
    }
    return writer;
  };
}

/**
 * Applies the items in one handleBatch call, leaving out the keys in `held`. When that fails
 * for reasons of its events, applies each half the same way, the first half first: a failing
 * event ends up alone and is left to the per-message path, its key held so that its later
 * events wait for it there. Returns false after a transient failure: the rest is left to the
 * per-message path too, where it waits for the dependency without being split.
 */
async function applyInHalves(parts: BatchPathParts, run: BatchRun, items: BatchItem[]): Promise<boolean> {
  const batch = items.filter((item) => !run.held.has(item.key));
  if (batch.length === 0) return true;
  try {
    await run.write(batch.map((item) => item.event));
  } catch (err) {
    if (parts.isStopping()) throw new Stopping('consumer stopping; batch left uncommitted');
    return splitAfterFailure(parts, run, batch, err);
  }
  for (const item of batch) run.done[item.index] = true;
  parts.metrics.eventsConsumed.inc({ topic: run.delivery.topic, outcome: 'ok' }, batch.length);
  return true;
}

/** After a failed handleBatch call: halves, the event alone held back, or (transient) false. */
async function splitAfterFailure(
  parts: BatchPathParts,
  run: BatchRun,
  batch: BatchItem[],
  err: unknown,
): Promise<boolean> {
  const transient = isTransientError(err);
  const next = transient
    ? 'handling its events one at a time'
    : batch.length > 1
      ? 'trying halves'
      : 'handling it alone';
  parts.log.warn(
    { err, topic: run.delivery.topic, events: batch.length, transient },
    `batch handler failed; ${next}`,
  );
  if (transient) return false;
  if (batch.length === 1) {
    run.held.add(batch[0]!.key);
    return true;
  }
  await run.delivery.heartbeat();
  const half = Math.ceil(batch.length / 2);
  return (
    (await applyInHalves(parts, run, batch.slice(0, half))) && applyInHalves(parts, run, batch.slice(half))
  );
}
