import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { coalesce } from './coalesce.js';
import { runWithCorrelationId } from './context.js';
import { dlqTopic, envelopeSchema, topicName, type Envelope, type EventType } from './events.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { failureSignature, isTransientError } from './handler-failures.js';

/** Thrown by a handler for a message that can never succeed: it goes to the DLQ, not to retry. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export interface EventHandler<T extends EventType = EventType> {
  type: T;
  handle(event: Envelope<T>): Promise<void>;
  /**
   * Optional: the valid events of what was fetched (one or more partitions, each in offset
   * order; one order's events are always in one partition) at once, so a handler can apply
   * them in one transaction. It must be all or nothing: when it throws, the loop calls it again
   * on halves of those events (down to the one that fails, which then goes through `handle`),
   * or after a transient failure handles them one at a time through `handle`.
   */
  handleBatch?(events: Envelope<T>[]): Promise<void>;
}

/** Keeps the type of each handler's event tied to its topic. */
export function onEvent<T extends EventType>(
  type: T,
  handle: (event: Envelope<T>) => Promise<void>,
): EventHandler<T> {
  return { type, handle };
}

/** A handler that takes a batch; a single event is a batch of one (see EventHandler.handleBatch). */
export function onEvents<T extends EventType>(
  type: T,
  handleBatch: (events: Envelope<T>[]) => Promise<void>,
): EventHandler<T> {
  return { type, handle: (event) => handleBatch([event]), handleBatch };
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
  /** Partitions whose batches are handled side by side (default 6, the topics' partition count). */
  partitionsConsumedConcurrently?: number;
  /** Messages handled at once across all partitions; keep it below the database pool size (default 8). */
  maxInFlight?: number;
  /** How often the offsets of handled messages are committed (default 1 s; and on stop). */
  commitIntervalMs?: number;
  /** How long stop() waits for batches being handled before it commits and leaves (default 10 s). */
  stopGraceMs?: number;
  /** Most events of one partition's batch given to one handleBatch call (default 100); partitions handled side by side are combined. */
  maxBatchSize?: number;
  retry?: {
    /** Backoff between attempts at one message: doubles from initialMs up to maxMs (200 ms, 5 s). */
    initialMs?: number;
    maxMs?: number;
    /** Attempts failing the same way, not transiently, after which a message goes to the DLQ (default 5). */
    sameFailureLimit?: number;
  };
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

/** Why a message is given up on: the reason and error its DLQ copy carries in its headers. */
interface GiveUp {
  reason: 'rejected_by_handler' | 'handler_failed';
  error: string;
  attempts: number;
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

type Parsed =
  | { ok: true; event: Envelope<EventType> }
  | { ok: false; reason: 'invalid_json' | 'invalid_envelope'; error: string };

/** JSON, then the shared envelope schema of the handler's event type. */
function parseEvent(handler: EventHandler, message: KafkaMessage): Parsed {
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

/** One message being handled: where it came from, and how to tell the coordinator we are alive. */
interface Delivery {
  topic: string;
  partition: number;
  message: KafkaMessage;
  heartbeat(): Promise<void>;
}

type BatchHandler = EventHandler & Pick<Required<EventHandler>, 'handleBatch'>;

/** A valid event of a fetched batch: its index among the fetched messages, and its key. */
interface BatchItem {
  index: number;
  key: string;
  event: Envelope<EventType>;
}

/** A counting semaphore: at most `size` holders at once. */
function slots(size: number) {
  let free = size;
  const queue: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free -= 1;
        return;
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    },
    release(): void {
      const next = queue.shift();
      if (next) next();
      else free += 1;
    },
  };
}

/**
 * The standalone consumer loop of a service. Each message is parsed and validated against the
 * shared envelope schema; an invalid one goes to the DLQ with the reason in its headers and is
 * committed. A failing handler is retried in place with backoff (its key waits, nothing is
 * skipped). Only a transient failure (a dependency down or lost, a lock wait timeout or
 * deadlock: isTransientError) is retried until it succeeds or the loop stops. A message whose
 * handler throws PoisonMessageError, or fails the same way (same name, code and message:
 * failureSignature) on `retry.sameFailureLimit` attempts in a row, goes to the DLQ
 * (`rejected_by_handler`, `handler_failed`) with the error in its headers and is committed; its
 * key goes on after it. A failure that changes between attempts is retried like a transient one.
 *
 * A batch handler that fails for reasons of its events is given halves of the batch, each in
 * offset order, recursively, until the failing event is alone: the rest is applied in a few
 * transactions, and only that event (and the later events of its key, after it) is handled on
 * its own as above. A batch failing transiently is not split: its events are handled one at a
 * time, each retried until the dependency is back.
 *
 * Messages are taken a batch at a time. Within a batch, the messages of one key (one order) are
 * handled one after another in offset order, and different keys side by side, up to
 * `maxInFlight` at once: the order of one order's events is kept, and a partition no longer
 * waits for each message's transaction before starting the next. Only the offset up to which
 * every message is done is committed, so a stop or a crash never skips one.
 */
export function createConsumerLoop(options: ConsumerLoopOptions): ConsumerLoop {
  const { kafka, producer, groupId, topicPrefix, metrics } = options;
  const { initialMs = 200, maxMs = 5_000, sameFailureLimit = 5 } = options.retry ?? {};
  const inFlight = slots(options.maxInFlight ?? 8);
  const maxBatchSize = options.maxBatchSize ?? 100;
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

  async function toDlq(
    { topic, partition, message }: Delivery,
    reason: string,
    error: string,
    attempts?: number,
  ) {
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
            ...(attempts === undefined ? {} : { 'x-dlq-attempts': String(attempts) }),
          },
        },
      ],
    });
    metrics.eventsConsumed.inc({ topic, outcome: 'dlq' });
    log.warn({ topic, partition, offset: message.offset, reason, error, attempts }, 'message sent to DLQ');
  }

  /**
   * Handles one event until it succeeds or is given up on (see createConsumerLoop): gives back
   * why it gave up, for the DLQ. Throws only when the loop is stopping.
   */
  async function handleWithRetry(
    payload: Delivery,
    handler: EventHandler,
    event: Envelope<EventType>,
  ): Promise<GiveUp | undefined> {
    const sameFailures = sameFailureCounter();
    for (let attempt = 1; ; attempt++) {
      try {
        await handler.handle(event);
        return undefined;
      } catch (err) {
        if (err instanceof PoisonMessageError)
          return { reason: 'rejected_by_handler', error: describe(err), attempts: attempt };
        if (stopping) throw new Stopping('consumer stopping; message left uncommitted');
        const same = sameFailures(err);
        if (same >= sameFailureLimit)
          return { reason: 'handler_failed', error: describe(err), attempts: same };
        metrics.eventsConsumed.inc({ topic: payload.topic, outcome: 'retried' });
        const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 10));
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

  async function handleMessage(payload: Delivery): Promise<void> {
    const { topic, message } = payload;
    const handler = byTopic.get(topic);
    if (!handler) return;
    const parsed = parseEvent(handler, message);
    if (!parsed.ok) return toDlq(payload, parsed.reason, parsed.error);
    const { event } = parsed;
    await runWithCorrelationId(event.correlationId, async () => {
      const gaveUp = await handleWithRetry(payload, handler, event);
      if (gaveUp) return toDlq(payload, gaveUp.reason, gaveUp.error, gaveUp.attempts);
      metrics.eventsConsumed.inc({ topic, outcome: 'ok' });
    });
  }

  /**
   * One writer per batch handler: the partitions of one fetch are handed over side by side
   * (partitionsConsumedConcurrently), and those arriving while a batch is being applied are
   * applied together in the next one. Each partition's events stay in offset order, and one
   * order's events are all in one partition, so per-order order holds.
   */
  const writers = new Map<EventHandler, (events: Envelope<EventType>[]) => Promise<void>>();
  function writerFor(handler: BatchHandler) {
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
          maxBatch: options.partitionsConsumedConcurrently ?? 6,
          // Partitions failing together because of one of them: each is tried alone. A dependency
          // that is down fails them all at once instead.
          retryAlone: (err) => !isTransientError(err),
        },
      );
      writer = (events) => combined(events);
      writers.set(handler, writer);
    }
    return writer;
  }

  /**
   * The batch path: parse every message (invalid ones to the DLQ), hand the valid events to
   * the handler's writer in chunks (applyInHalves). Marks in `done` what it finished; the
   * caller handles the rest one message at a time.
   */
  async function handleAsBatch(
    handler: BatchHandler,
    delivery: Omit<Delivery, 'message'>,
    messages: KafkaMessage[],
    done: boolean[],
  ): Promise<void> {
    const valid: BatchItem[] = [];
    for (const [index, message] of messages.entries()) {
      const event = parseEvent(handler, message);
      if (event.ok) valid.push({ index, key: message.key?.toString('utf8') ?? '', event: event.event });
      else {
        await toDlq({ ...delivery, message }, event.reason, event.error);
        done[index] = true;
      }
    }
    const held = new Set<string>();
    for (let start = 0; start < valid.length; start += maxBatchSize) {
      const chunk = valid.slice(start, start + maxBatchSize);
      if (!(await applyInHalves(handler, delivery, chunk, done, held))) return;
    }
  }

  /**
   * Applies the items in one handleBatch call, leaving out the keys in `held`. When that fails
   * for reasons of its events, applies each half the same way, the first half first: a failing
   * event ends up alone and is left to the per-message path, its key held so that its later
   * events wait for it there. Returns false after a transient failure: the rest is left to the
   * per-message path too, where it waits for the dependency without being split.
   */
  async function applyInHalves(
    handler: BatchHandler,
    delivery: Omit<Delivery, 'message'>,
    items: BatchItem[],
    done: boolean[],
    held: Set<string>,
  ): Promise<boolean> {
    const batch = items.filter((item) => !held.has(item.key));
    if (batch.length === 0) return true;
    try {
      await writerFor(handler)(batch.map((item) => item.event));
    } catch (err) {
      if (stopping) throw new Stopping('consumer stopping; batch left uncommitted');
      const transient = isTransientError(err);
      const next = transient
        ? 'handling its events one at a time'
        : batch.length > 1
          ? 'trying halves'
          : 'handling it alone';
      log.warn(
        { err, topic: delivery.topic, events: batch.length, transient },
        `batch handler failed; ${next}`,
      );
      if (transient) return false;
      if (batch.length === 1) {
        held.add(batch[0]!.key);
        return true;
      }
      await delivery.heartbeat();
      const half = Math.ceil(batch.length / 2);
      return (
        (await applyInHalves(handler, delivery, batch.slice(0, half), done, held)) &&
        applyInHalves(handler, delivery, batch.slice(half), done, held)
      );
    }
    for (const item of batch) done[item.index] = true;
    metrics.eventsConsumed.inc({ topic: delivery.topic, outcome: 'ok' }, batch.length);
    return true;
  }

  /**
   * Offsets are committed by us, at most every `commitIntervalMs` and once more on stop, not by
   * KafkaJS after every partition's batch (a broker round trip each, most of them redundant
   * under load). Only offsets of handled messages are ever recorded here, so a crash loses
   * nothing: at worst the last interval's events are delivered again, and every handler is
   * idempotent.
   */
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  let active = 0;
  let commitTimer: NodeJS.Timeout | undefined;

  async function commitHandled(): Promise<void> {
    if (toCommit.size === 0) return;
    const offsets = [...toCommit.values()];
    toCommit.clear();
    try {
      await consumer.commitOffsets(offsets);
    } catch (err) {
      // Kept for the next round unless a later offset of the partition arrived meanwhile.
      for (const o of offsets) {
        const key = `${o.topic}/${o.partition}`;
        if (!toCommit.has(key)) toCommit.set(key, o);
      }
      log.warn({ err }, 'offset commit failed; will retry');
    }
  }

  async function eachBatch(payload: EachBatchPayload) {
    // Stopping: leave what was fetched uncommitted; the next owner reads it again.
    if (stopping) return;
    active += 1;
    try {
      await handleFetched(payload);
    } finally {
      active -= 1;
    }
  }

  async function handleFetched({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const { topic, partition, messages } = batch;
    const done = new Array<boolean>(messages.length).fill(false);
    const handler = byTopic.get(topic);
    if (handler?.handleBatch && isRunning() && !isStale()) {
      await handleAsBatch(handler as BatchHandler, { topic, partition, heartbeat }, messages, done);
    }
    const chains = new Map<string, number[]>();
    messages.forEach((message, i) => {
      if (done[i]) return;
      const key = message.key?.toString('utf8') ?? '';
      const chain = chains.get(key);
      if (chain) chain.push(i);
      else chains.set(key, [i]);
    });
    let failure: { err: unknown } | undefined;
    async function runChain(indices: number[]) {
      for (const i of indices) {
        if (failure || !isRunning() || isStale()) return;
        await inFlight.acquire();
        try {
          await handleMessage({ topic, partition, message: messages[i]!, heartbeat });
          done[i] = true;
        } catch (err) {
          failure ??= { err };
          return;
        } finally {
          inFlight.release();
        }
      }
    }
    await Promise.all([...chains.values()].map(runChain));
    // Commit up to the first message not done: everything before it is handled, nothing after it is lost.
    let last = -1;
    while (last + 1 < messages.length && done[last + 1]) last += 1;
    if (last >= 0) {
      const offset = messages[last]!.offset;
      resolveOffset(offset);
      // Kafka's committed offset is the next one to read.
      toCommit.set(`${topic}/${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    }
    if (failure) throw failure.err;
    await heartbeat();
  }

  return {
    consumer,
    async start() {
      stopping = false;
      await consumer.connect();
      // A new group starts at the beginning: events written before the first start are not skipped.
      await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
        eachBatchAutoResolve: false,
        autoCommit: false,
        eachBatch,
      });
      commitTimer = setInterval(() => void commitHandled(), options.commitIntervalMs ?? 1_000);
      log.info({ topics: [...byTopic.keys()] }, 'consumer started');
    },
    async stop() {
      stopping = true;
      clearInterval(commitTimer);
      // Let the batches being handled finish (bounded: a handler retrying forever is left
      // behind), commit what they handled while still a member of the group, then leave.
      const deadline = Date.now() + (options.stopGraceMs ?? 10_000);
      while (active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await commitHandled();
      await consumer.disconnect();
      log.info('consumer stopped');
    },
  };
}
