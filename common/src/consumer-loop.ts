import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { batchPath } from './consumer-batches.js';
import { fetchHandler } from './consumer-fetches.js';
import { offsetCommits } from './consumer-offsets.js';
import { dlqSender, messagePath } from './consumer-retries.js';
import type { EventHandler } from './event-handlers.js';
import { topicName } from './events.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { slots } from './slots.js';

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
    /** Attempts failing the same way, not transiently, after which a message goes to the DLQ (default 5; 1 for a replay). */
    sameFailureLimit?: number;
  };
}

export interface ConsumerLoop {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly consumer: Consumer;
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
 * A replay from the DLQ (dead-letters.ts) is logged as one, and goes back to the DLQ at its first
 * failure that is not transient: replays are an operator's deliberate act, never automatic.
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
  const partitionsConsumedConcurrently = options.partitionsConsumedConcurrently ?? 6;
  const log = options.logger.child({ module: 'consumer', groupId });
  const byTopic = new Map(options.handlers.map((h) => [topicName(topicPrefix, h.type), h]));
  const consumer = groupConsumer(kafka, groupId);
  let stopping = false;
  const inFlight = slots(options.maxInFlight ?? 8);
  const offsets = offsetCommits(consumer, log);
  const shared = {
    toDlq: dlqSender(producer, metrics, log, groupId),
    metrics,
    log,
    isStopping: () => stopping,
  };
  const handleMessage = messagePath({ ...shared, byTopic, retry: { initialMs, maxMs, sameFailureLimit } });
  const handleAsBatch = batchPath({
    ...shared,
    inFlight,
    partitionsConsumedConcurrently,
    maxBatchSize: options.maxBatchSize ?? 100,
  });
  const handleFetched = fetchHandler({ byTopic, inFlight, handleAsBatch, handleMessage, offsets, log });
  let active = 0;

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

  return {
    consumer,
    async start() {
      stopping = false;
      await consumer.connect();
      // A new group starts at the beginning: events written before the first start are not skipped.
      await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently,
        eachBatchAutoResolve: false,
        autoCommit: false,
        eachBatch,
      });
      offsets.commitEvery(options.commitIntervalMs ?? 1_000);
      log.info({ topics: [...byTopic.keys()] }, 'consumer started');
    },
    async stop() {
      stopping = true;
      offsets.stopTimer();
      // Let the batches being handled finish (bounded: a handler retrying forever is left
      // behind), commit what they handled while still a member of the group, then leave.
      const deadline = Date.now() + (options.stopGraceMs ?? 10_000);
      while (active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await offsets.commit();
      await consumer.disconnect();
      log.info('consumer stopped');
    },
  };
}

function groupConsumer(kafka: Kafka, groupId: string): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    // Fetches return as soon as data arrives, so this only sets how often an idle consumer asks
    // again: at 500 ms the broker spent 0.025 of a core answering empty fetches. The price is
    // stop(): KafkaJS waits for the fetch in flight, so a shutdown takes up to this long.
    maxWaitTimeInMs: 2_000,
    retry: { retries: 8, restartOnFailure: async () => true },
  });
}
